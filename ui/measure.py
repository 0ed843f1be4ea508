"""The New case page's measuring flow: read an upload or a demo image, measure it per
level (all through core, cached by :mod:`ui.cache`) and keep it for the viewer and the
store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from core.demo_imaging import IMAGING_CASES, SCT_DIR
from core.lesions import ExtractionResult
from core.levels import LABEL_CONVENTIONS, level_names
from ui.cache import (
    Source,
    extract_levels,
    list_series,
    phantom_images,
    read_input_image,
    read_labels,
)

__all__ = ["CONVENTIONS", "DemoImage", "MeasuredCase", "Source", "convention_help",
           "demo_images", "is_dicom_archive", "list_series", "measure", "measure_demo"]

#: Label conventions offered for a vertebra label map (the registry's order).
CONVENTIONS: tuple[str, ...] = tuple(LABEL_CONVENTIONS)


def convention_help() -> str:
    """Help text of the label-convention select box, one line per convention."""
    return "  \n".join(f"**{c.name}**: {c.description}" for c in LABEL_CONVENTIONS.values())


def is_dicom_archive(name: str) -> bool:
    """Zip or single DICOM file names (series can be chosen)."""
    return name.lower().endswith((".zip", ".dcm"))


@dataclass
class MeasuredCase:
    """A read (and, with a label map, measured) image ready for the viewer and the store."""

    image_id: str
    image: sitk.Image
    meta: dict[str, Any]
    volume: np.ndarray
    spacing_xyz: tuple[float, float, float]
    vertebrae: sitk.Image | None = None
    lesion_mask: sitk.Image | None = None
    vertebrae_array: np.ndarray | None = None
    lesion_array: np.ndarray | None = None
    level_names: dict[int, str] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    convention: str | None = None
    source_name: str = ""
    synthetic: bool = False

    def add_measurements(self, result: ExtractionResult, convention: str) -> str:
        """Keep an extraction result; returns the one-line summary for the status box."""
        metrics = result.metrics.to_dict()
        metrics["provenance"]["image"] = self.meta
        self.vertebrae = result.vertebrae
        self.lesion_mask = result.lesion_mask
        self.vertebrae_array = sitk.GetArrayFromImage(result.vertebrae)
        self.lesion_array = sitk.GetArrayFromImage(result.lesion_mask)
        self.level_names = level_names(self.vertebrae_array, convention)
        self.metrics = metrics
        self.convention = convention
        return (f"Measured {len(metrics['levels'])} levels: {metrics['lesion_count']} "
                f"lesion(s), HI ratio {100 * metrics['high_intensity_ratio']:.1f}%.")


def _say(status: Any, text: str) -> None:
    """One line in the ``st.status`` box (when there is one) and as its label."""
    if status is not None:
        status.write(text)
        status.update(label=text)


def _new_case(image_id: str, image: sitk.Image, meta: dict[str, Any],
              source_name: str, *, synthetic: bool = False) -> MeasuredCase:
    return MeasuredCase(image_id=image_id, image=image, meta=meta,
                        volume=sitk.GetArrayFromImage(image),
                        spacing_xyz=tuple(float(s) for s in image.GetSpacing()),
                        source_name=source_name, synthetic=synthetic)


def measure(image_src: Source, *, series_uid: str | None = None,
            vertebrae_src: Source | None = None, lesion_src: Source | None = None,
            convention: str = "verse", status: Any = None) -> MeasuredCase:
    """Read the image (and label maps) and measure lesions per level.

    ``status`` is an ``st.status`` container that receives one line per step.
    Raises ``ValueError`` (one sentence) from core.
    """
    _say(status, "Reading the image…")
    loaded = read_input_image(image_src, series_uid)
    image, meta = loaded.image, loaded.meta.to_dict()
    image_key = f"{image_src.key}:{series_uid or ''}"
    case = _new_case(image_key, image, meta, image_src.name)
    _say(status, f"Image read: {meta['size'][0]}×{meta['size'][1]}×{meta['size'][2]} voxels, "
         f"spacing {' × '.join(f'{s:.2f}' for s in meta['spacing_mm'])} mm, "
         f"input orientation {meta['orientation']}, sequence {meta['sequence']}.")
    lesions = None
    if lesion_src is not None:
        _say(status, "Reading the lesion mask…")
        lesions = read_labels(lesion_src, image_key, image)
        case.lesion_mask = lesions
        case.lesion_array = (sitk.GetArrayFromImage(lesions) > 0).astype(np.uint8)
    if vertebrae_src is None:
        _say(status, "No vertebra label map: the image is shown without measurements.")
        return case
    _say(status, "Reading the vertebra label map…")
    vertebrae = read_labels(vertebrae_src, image_key, image)
    _say(status, f"Measuring lesions per vertebral level ({convention} labels)…")
    result = extract_levels((image_key, vertebrae_src.key, lesion_src.key if lesion_src else None),
                            convention, image, vertebrae, lesions, loaded.meta.input_sha256)
    _say(status, case.add_measurements(result, convention))
    return case


# ------------------------------------------------------------------- demo images


@dataclass(frozen=True)
class DemoImage:
    """A bundled demo image: real SCT MRI under ``data/demo/images/sct`` or a seeded
    phantom, exactly as :data:`core.demo_imaging.IMAGING_CASES` describes the demo store's
    imaging cases."""

    case_id: str
    title: str
    convention: str
    real: bool
    image: Path | None = None
    vertebrae: Path | None = None
    lesions: Path | None = None
    phantom: Mapping[str, Any] | None = None


def demo_images() -> list[DemoImage]:
    """Demo images available on this machine (real SCT files present, phantoms always)."""
    out: list[DemoImage] = []
    for spec in IMAGING_CASES:
        if spec.phantom is None:
            image = SCT_DIR / str(spec.image)
            vert = SCT_DIR / str(spec.vertebrae) if spec.vertebrae else None
            les = SCT_DIR / str(spec.lesion_mask) if spec.lesion_mask else None
            if not image.is_file() or (vert is not None and not vert.is_file()):
                continue
            out.append(DemoImage(spec.patient_id, spec.description, spec.convention, True,
                                 image, vert, les if les is not None and les.is_file() else None))
        else:
            out.append(DemoImage(spec.patient_id, "SYNTHETIC " + spec.description,
                                 spec.convention, False, phantom=dict(spec.phantom)))
    return sorted(out, key=lambda d: (not d.real, d.case_id))


def _phantom_meta(image: sitk.Image) -> dict[str, Any]:
    return {"spacing_mm": [float(s) for s in image.GetSpacing()],
            "size": [int(s) for s in image.GetSize()], "orientation": "LPS",
            "modality": "MR", "sequence": "STIR (synthetic phantom)",
            "source_format": "phantom", "input_sha256": "",
            "series_description": "synthetic phantom"}


def measure_demo(demo: DemoImage, status: Any = None) -> MeasuredCase:
    """Read (or generate) a demo image and measure it like an upload."""
    name = f"{demo.case_id}: {demo.title}"
    if demo.real:
        assert demo.image is not None
        case = measure(Source.from_path(demo.image),
                       vertebrae_src=Source.from_path(demo.vertebrae) if demo.vertebrae else None,
                       lesion_src=Source.from_path(demo.lesions) if demo.lesions else None,
                       convention=demo.convention, status=status)
        case.source_name = name
        return case
    _say(status, "Generating the synthetic phantom…")
    image, vertebrae = phantom_images(demo.case_id)
    key = f"phantom:{demo.case_id}:{dict(demo.phantom or {})!r}"
    case = _new_case(key, image, _phantom_meta(image), name, synthetic=True)
    _say(status, f"Measuring lesions per vertebral level ({demo.convention} labels)…")
    result = extract_levels((key, key + ":vert", None), demo.convention, image, vertebrae,
                            None, "")
    _say(status, case.add_measurements(result, demo.convention))
    return case
