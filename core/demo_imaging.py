"""Demo imaging cases: the bundled real MRI and the seeded phantoms, as the app sees them.

Two places measure these cases: :func:`core.demo.build_demo_store` (stored cases
``DEMO-IMG-01`` ...) and the New case page's demo images (:mod:`ui.measure`). Both take
their images from :func:`demo_case_images`, so a demo case is the same image (pixel
type, values, grid) and gives the same :class:`core.lesions.StudyMetrics` wherever it
is measured, including after a round trip through the case store:

* real MRI (Spinal Cord Toolbox testing data in ``data/demo/images/sct``, MIT) is read
  like any upload, through :func:`core.io.read_image` (limits, validation, canonical LPS
  float32) and :func:`core.io.read_label_map` with ``reference=image`` for the label
  maps. Their labels are SCT **spinal-cord** segments named by level, not vertebral
  bodies: label QA refuses to measure bone on them (``cord_level_map``), so these cases
  show the image, the cord labels and that QA result, never bone measurements;
* a phantom is :func:`core.phantom.make_spine_phantom` on a 1.5 mm grid (bias 0.1,
  noise SD 5) with its intensities rounded to whole numbers, as a scanner's integer
  pixels are, and kept as float32 LPS: exactly what :func:`core.io.read_image` returns
  for the stored copy. Its vertebra map uses the unsigned label type of
  :func:`core.io.read_label_map`; lesions are detected (no lesion mask). The demo's
  measured cases are these phantoms.

:func:`measure_demo_case` runs the checked measurement (:func:`core.measure.measure_study`:
label QA, then measurement when QA allows it) on a case's images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import SimpleITK as sitk

from core.io import read_image, read_label_map
from core.phantom import LesionSpec, make_spine_phantom

SCT_DIR = Path(__file__).resolve().parents[1] / "data" / "demo" / "images" / "sct"
#: Grid, bias-field amplitude and noise SD of the demo phantoms.
PHANTOM_SPACING_MM: tuple[float, float, float] = (1.5, 1.5, 1.5)
PHANTOM_BIAS = 0.1
PHANTOM_NOISE_SD = 5.0


@dataclass(frozen=True)
class ImagingCaseSpec:
    """A demo imaging case: real SCT data (paths under data/demo/images/sct) or a phantom.

    ``phantom`` holds ``seed``, ``levels``, ``lesions`` as ``(level, radius_mm,
    offset_mm)`` and ``diffuse_levels`` (see :func:`core.phantom.make_spine_phantom`).
    """

    patient_id: str
    description: str
    image: str | None = None
    vertebrae: str | None = None
    lesion_mask: str | None = None
    convention: str = "sct"
    phantom: dict | None = None


IMAGING_CASES: tuple[ImagingCaseSpec, ...] = (
    ImagingCaseSpec("DEMO-IMG-01", "Real T2 cervical MRI (SCT testing data) with spinal-cord "
                    "level labels C2-C5: image and label QA only (cord_level_map), no bone "
                    "measurement", "t2/t2.nii.gz", "t2/t2_seg-manual_labeled.nii.gz"),
    ImagingCaseSpec("DEMO-IMG-02", "Real PAM50 T2 template (SCT) with spinal-cord level "
                    "labels C1-L1: image and label QA only (cord_level_map), no bone "
                    "measurement", "template/PAM50_small_t2.nii.gz",
                    "template/PAM50_small_levels.nii.gz"),
    ImagingCaseSpec("DEMO-IMG-03", "Phantom, diffuse L1 and focal L3 and T12 metastases",
                    convention="verse",
                    phantom={"seed": 3, "levels": ("T11", "T12", "L1", "L2", "L3"),
                             "lesions": (("L3", 7.0, (4.0, 0.0, 0.0)), ("T12", 4.5, (0, 0, 0))),
                             "diffuse_levels": ("L1",)}),
    ImagingCaseSpec("DEMO-IMG-04", "Phantom, thoracic metastases T6 and T8",
                    convention="verse",
                    phantom={"seed": 4, "levels": ("T5", "T6", "T7", "T8", "T9"),
                             "lesions": (("T6", 6.0, (0, 0, 0)), ("T8", 5.0, (3.0, 0, 0))),
                             "diffuse_levels": ()}),
    ImagingCaseSpec("DEMO-IMG-05", "Phantom, one cervical metastasis C5",
                    convention="verse",
                    phantom={"seed": 5, "levels": ("C3", "C4", "C5", "C6", "C7"),
                             "lesions": (("C5", 4.5, (0, 0, 0)),), "diffuse_levels": ()}),
)


@dataclass(frozen=True)
class DemoCaseImages:
    """The images of one demo imaging case, ready for :func:`core.lesions.extract`.

    Attributes
    ----------
    image : sitk.Image
        float32 in canonical LPS orientation (as :func:`core.io.read_image` returns).
    vertebrae : sitk.Image
        Unsigned-integer vertebra label map on the image grid.
    lesion_mask : sitk.Image or None
        Lesion mask on the image grid; ``None``: lesions are detected.
    meta : dict
        Image metadata for the store: :meth:`core.io.ImageMeta.to_dict` plus ``source``
        for real data; ``modality``, ``sequence``, ``source_format`` and ``source`` for
        a phantom.
    input_sha256 : str or None
        SHA-256 of the bundled image file; ``None`` for a phantom.
    """

    image: sitk.Image
    vertebrae: sitk.Image
    lesion_mask: sitk.Image | None
    meta: dict[str, object]
    input_sha256: str | None


def demo_case_images(case_id: str) -> DemoCaseImages:
    """Read (real data) or build (phantom) the images of the demo case ``case_id``.

    Raises
    ------
    ValueError
        For an unknown case id, or a bundled file that :mod:`core.io` refuses.
    FileNotFoundError
        When a bundled file is missing.
    """
    spec = next((s for s in IMAGING_CASES if s.patient_id == case_id), None)
    if spec is None:
        raise ValueError(f"{case_id!r} is not a demo imaging case.")
    return _phantom_case(spec) if spec.phantom is not None else _bundled_case(spec)


def _bundled_path(relative: str) -> Path:
    path = SCT_DIR / relative
    if not path.is_file():
        raise FileNotFoundError(f"demo image {path} is missing (see data/demo/README.md).")
    return path


def _bundled_case(spec: ImagingCaseSpec) -> DemoCaseImages:
    """Real MRI read through :mod:`core.io`; label maps resampled onto the image grid."""
    loaded = read_image(_bundled_path(str(spec.image)))
    vertebrae = read_label_map(_bundled_path(str(spec.vertebrae)), reference=loaded.image)
    lesions = (read_label_map(_bundled_path(spec.lesion_mask), reference=loaded.image)
               if spec.lesion_mask else None)
    meta = {**loaded.meta.to_dict(), "source": f"SCT testing data: {spec.image}"}
    return DemoCaseImages(image=loaded.image, vertebrae=vertebrae, lesion_mask=lesions,
                          meta=meta, input_sha256=loaded.meta.input_sha256)


def _phantom_case(spec: ImagingCaseSpec) -> DemoCaseImages:
    """The seeded phantom, rounded to whole numbers, float32 LPS, detection."""
    p = dict(spec.phantom or {})
    phantom = make_spine_phantom(
        seed=int(p["seed"]), levels=tuple(p["levels"]), spacing_mm=PHANTOM_SPACING_MM,
        lesions=[LesionSpec(lv, float(r), offset_mm=tuple(map(float, off)))
                 for lv, r, off in p["lesions"]],
        diffuse_levels=tuple(p.get("diffuse_levels", ())), bias=PHANTOM_BIAS,
        noise_sd=PHANTOM_NOISE_SD, convention=spec.convention,
    )
    image = sitk.Cast(sitk.Round(phantom.image), sitk.sitkFloat32)
    meta = {"modality": "MR", "sequence": "STIR (synthetic phantom)",
            "source_format": "phantom", "source": f"core.phantom seed {p['seed']}"}
    return DemoCaseImages(image=image, vertebrae=sitk.Cast(phantom.vertebrae, sitk.sitkUInt16),
                          lesion_mask=None, meta=meta, input_sha256=None)


#: What the clinical generator reads for a case whose measurement label QA refused: no
#: lesion was measured (the values are not findings; the case has no imaging columns).
UNMEASURED_METRICS: dict[str, object] = {
    "levels": [], "lesion_count": 0, "lesion_count_by_region": {},
    "involved_levels": [], "high_intensity_ratio": 0.0, "max_level_high_intensity_ratio": 0.0,
}


def measure_demo_case(spec: ImagingCaseSpec, images: DemoCaseImages):
    """The checked measurement of a demo case: label QA on its image and map, then the
    measurement when QA allows it (:func:`core.measure.measure_study`). The SCT cases
    come back unmeasured with their ``cord_level_map`` finding."""
    from core.measure import measure_study

    return measure_study(images.image, images.vertebrae, images.lesion_mask,
                         convention=spec.convention, meta=images.meta,
                         input_sha256=images.input_sha256)
