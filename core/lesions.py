"""High-intensity (metastatic) marrow per vertebral level, from STIR / T2 fat-sat MRI.

Bone metastases replace fatty marrow and are bright on fat-suppressed T2 / STIR
images. Kong et al. (Int J Med Sci 2025) found that bone pain rises with lumbar
involvement, with the number of metastatic sites and with the ratio of high-intensity
area; this module measures those quantities per vertebral level.

Detection (when no lesion mask is given), per labelled vertebra ``v``:

1. Marrow statistics: ``m_v`` = median intensity of the vertebra's voxels and
   ``s_v = 1.4826 * MAD_v`` (median absolute deviation, scaled to a Gaussian sigma).
2. Reference from the patient's own marrow, robust and local:
   ``r_v = median{m_u : u in N_v}`` and ``sigma_v = median{s_u : u in N_v}``, where
   ``N_v`` is ``v`` and the ``reference_window`` labelled levels above and below it
   (5 vertebrae by default). A median of neighbouring vertebrae ignores one (or two)
   diffusely involved vertebrae, and being local it follows a smooth multiplicative
   bias field (coil shading) along the spine instead of using one global value.
3. Threshold ``T_v = max(r_v + k * sigma_v, (1 + c) * r_v)`` (the floor only applies
   when ``r_v > 0``). ``k * sigma_v`` rejects noise; the floor ``c`` requires a real
   contrast with normal marrow when the noise is low.
4. Voxels of ``v`` above ``T_v`` (after optional mask-aware Gaussian smoothing) form
   candidates; 3-D connected components (26-connectivity) are computed inside ``v``
   only and those smaller than ``min_lesion_volume_mm3`` are dropped.
5. Touching lesions are separated: a component counts as several lesions where it
   narrows (:func:`core.split.count_necked_parts`, the distance-transform watershed
   rule evaluated on level sets): parts joined by a neck whose inscribed radius is at
   most ``neck_ratio`` times the smaller part's, each part holding a ball of at least
   ``min_lesion_volume_mm3`` and of radius at least :data:`MIN_SPLIT_RADIUS_MM`; on
   thick slices the count is made on an isotropic
   resampling of the intensities (:func:`core.split.count_thresholded`).
6. Components lying entirely in the outer ``edge_margin_mm`` of the vertebra label
   (no voxel whose distance to the nearest unlabelled voxel centre exceeds the margin)
   are dropped: a bright rim is partial volume with the disc or CSF (both bright on
   STIR) or an imprecise label boundary, not a metastasis.
7. HI volume with partial-volume weighting (``partial_volume_mm > 0``): each voxel of
   a lesion's edge and of a ``partial_volume_mm`` band around it counts the lesion
   fraction ``clip((I - r) / (P - r), 0, 1)`` between its marrow reference ``r`` and
   its plateau ``P`` (:mod:`core.partial_volume` gives the formula and the estimates
   of ``r`` and ``P``); voxels deep in the lesion count 1.

With a lesion mask the steps 1-3 and 5-7 are skipped: candidates are
``mask & vertebra v``, step 4 is the same and HI voxels count 1.

Counting rules:

* A lesion is a connected component inside one vertebra (in detection, touching lesions
  in one component count one each, step 5). A lesion crossing two vertebrae (through an
  endplate or along a label boundary) counts as **two** metastatic sites, one per level.
* High-intensity (HI) volume counts only counted lesions (and, with partial-volume
  weighting, their edge band), so HI volume, HI ratio and lesion counts agree (a level
  with no lesion has a ratio of 0).
* Volumes use the voxel volume ``spacing_x * spacing_y * spacing_z`` (mm^3); nothing
  assumes isotropic voxels or an orientation.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from core.levels import Level, align_mask, present_levels
from core.metrics import LevelMetrics, StudyMetrics
from core.partial_volume import fraction_sum, lesion_fractions
from core.provenance import provenance
from core.split import count_thresholded
from core.vocab import REGIONS

_STRUCTURE = np.ones((3, 3, 3), dtype=bool)  # 26-connectivity
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class DetectionParams:
    """Parameters of the high-intensity threshold and of lesion counting.

    ``T_v = max(r_v + k_mad * sigma_v, (1 + min_contrast) * r_v)`` with ``r_v`` and
    ``sigma_v`` the medians over the ``reference_window`` neighbourhood of per-vertebra
    marrow medians and ``1.4826 * MAD`` (see the module docstring).

    Attributes
    ----------
    k_mad : float
        ``k``, noise multiple. Default 3: for Gaussian noise 0.13 % of normal voxels
        exceed ``r + 3 sigma``; isolated exceedances are then removed by the minimum
        volume, so false lesions need ~100 adjacent noise voxels.
    min_contrast : float
        ``c``, the floor: HI voxels must be at least ``(1 + c)`` times the reference.
        Default 0.5 (1.5x normal marrow): metastases on STIR are typically 2x or more
        the signal of normal fatty marrow, while normal heterogeneity (red-marrow
        islands, basivertebral veins, shading) stays well below 1.5x. Without the
        floor, high-SNR images would flag voxels only a few percent brighter.
    reference_window : int
        Levels above and below used for the local reference (default 2, i.e. up to 5
        vertebrae): robust to one diffusely involved vertebra in any window, and to
        two in a full window, while following a bias field that changes over
        ~10 cm.
    smoothing_mm : float
        Sigma (mm) of a mask-aware Gaussian smoothing inside each vertebra before
        thresholding (``G(I*M)/G(M)``, so discs and CSF outside the label do not
        bleed in). Default 0 (off): thresholds and the minimum volume already reject
        noise and smoothing blurs lesion borders; use 0.5-1 mm for very noisy images.
    min_lesion_volume_mm3 : float
        Smallest component counted as a lesion. Default 100 mm^3 (a sphere of
        ~5.8 mm diameter): about the smallest metastasis reliably seen on 3-4 mm
        sagittal slices, and large enough that noise, vessels and partial-volume
        specks are not counted.
    edge_margin_mm : float
        Detection only: a component must reach deeper than this into the vertebra
        (distance from a voxel centre to the nearest unlabelled voxel centre).
        Default 2 mm: vertebra labels from segmentation models are uncertain by about
        one voxel of their 1-1.5 mm grid, and the neighbouring disc and CSF are as
        bright as metastases on STIR, so a bright shell thinner than 2 mm is most
        likely label/partial-volume error (or thin endplate oedema). A 6 mm lesion
        touching the cortex still reaches 2 mm deep. 0 disables the rule.
    neck_ratio : float
        Detection only: touching lesions are two when the neck joining them has an
        inscribed radius of at most this times the smaller one's (step 5). Default 0.75:
        two equal spheres are split up to an overlap of about a third of a diameter
        (centres >= 1.32 radii apart) and counted as one lesion when they overlap more
        (the phantom's truth uses the same definition,
        :data:`core.phantom.TOUCHING_NECK_RATIO`). 0 disables splitting.
    partial_volume_mm : float
        Detection only: width of the band around each lesion whose voxels count their
        lesion fraction (step 7, :mod:`core.partial_volume`). Default 3 mm: a blurred
        edge of Gaussian SD up to 1.5 mm holds all but ~1 % of its lesion signal within
        2 SD beyond the 50 % contour (a 2 mm band lost up to 10 % of a soft T2 lesion on
        the harder phantoms of ``bench/extract_accuracy.py``). 0 counts thresholded
        voxels only.
    """

    k_mad: float = 3.0
    min_contrast: float = 0.5
    reference_window: int = 2
    smoothing_mm: float = 0.0
    min_lesion_volume_mm3: float = 100.0
    edge_margin_mm: float = 2.0
    neck_ratio: float = 0.75
    partial_volume_mm: float = 3.0

    def __post_init__(self) -> None:
        for name in ("k_mad", "min_contrast", "smoothing_mm", "min_lesion_volume_mm3",
                     "edge_margin_mm", "neck_ratio", "partial_volume_mm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{name} {value!r} is not a number.")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} {value!r} must be a finite number >= 0.")
            object.__setattr__(self, name, float(value))  # plain float: JSON provenance
        window = self.reference_window
        if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 0:
            raise ValueError(f"reference_window {window!r} must be an integer >= 0.")
        object.__setattr__(self, "reference_window", int(window))


@dataclass(frozen=True)
class ExtractionResult:
    """Output of :func:`extract`.

    Attributes
    ----------
    metrics : StudyMetrics
    lesion_mask : sitk.Image
        uint8, 1 on counted lesion voxels (above the threshold, or the given mask), on
        the image grid (viewer overlay).
    vertebrae : sitk.Image
        The vertebra label map aligned to the image grid.
    fractions : tuple of ndarray or None
        ``(flat_index, value)`` of the voxels with a lesion fraction (step 7) when
        detection weighs partial volume (sparse: most voxels hold none); ``None``
        otherwise (then the HI volume is ``lesion_mask``'s voxels). See
        :attr:`lesion_fraction`.
    """

    metrics: StudyMetrics
    lesion_mask: sitk.Image
    vertebrae: sitk.Image
    fractions: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def lesion_fraction(self) -> sitk.Image | None:
        """float32 lesion fraction per voxel on the image grid (built on demand):
        ``sum(lesion_fraction) * voxel_mm3 / 1000`` is the HI volume. ``None`` without
        partial-volume weighting."""
        if self.fractions is None:
            return None
        index, value = self.fractions
        size = self.lesion_mask.GetSize()
        array = np.zeros(size[::-1], np.float32)
        array.flat[index] = value
        image = sitk.GetImageFromArray(array)
        image.CopyInformation(self.lesion_mask)
        return image


@dataclass
class _LevelWork:
    level: Level
    box: tuple[slice, ...]
    n_voxels: int
    median: float = 0.0
    sigma: float = 0.0
    values: np.ndarray | None = None  # (smoothed) intensities of the box, detection only


def _check_image(image: sitk.Image) -> None:
    if not isinstance(image, sitk.Image):
        raise ValueError(f"The image must be a SimpleITK image, not {type(image).__name__}.")
    if image.GetDimension() != 3:
        raise ValueError(f"The image has {image.GetDimension()} dimensions; 3 are needed.")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError("The image must be scalar (one value per voxel), not RGB/vector.")


def _check_lesion_values(array: np.ndarray) -> None:
    """A lesion mask holds 0 (background) and positive whole numbers only.

    NaN, negative values or a probability map (fractional values) would otherwise count
    as lesion, since every non-zero voxel does.
    """
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise ValueError("The lesion mask has non-finite (NaN or infinite) values.")
        fractional = array != np.round(array)
        if np.any(fractional):
            raise ValueError(
                f"The lesion mask has non-integer values (e.g. {float(array[fractional][0]):g}"
                "); give a binary mask, not a probability map."
            )
    if array.dtype.kind in "fi" and array.size and array.min() < 0:
        raise ValueError(f"The lesion mask has a negative value ({float(array.min()):g}).")


def _masked_smooth(values: np.ndarray, inside: np.ndarray, sigma_vox: tuple[float, ...]):
    """Gaussian smoothing restricted to ``inside``: ``G(I*M) / G(M)`` (float32)."""
    weights = inside.astype(np.float32)
    num = ndimage.gaussian_filter(np.where(inside, values, 0).astype(np.float32), sigma_vox,
                                  mode="constant", truncate=3.0)
    den = ndimage.gaussian_filter(weights, sigma_vox, mode="constant", truncate=3.0)
    np.divide(num, den, out=num, where=den > 1e-6)
    return num


#: Smallest inscribed radius (mm) of a part split off a touching lesion (half the radius
#: of the 100 mm^3 minimum lesion is 1.5 mm; 2 mm keeps bumps and noise from splitting).
MIN_SPLIT_RADIUS_MM = 2.0


def _sites(
    candidates: np.ndarray,
    min_voxels: float,
    sampling: tuple[float, ...],
    inside: np.ndarray | None = None,
    margin_mm: float = 0.0,
    neck_ratio: float = 0.0,
    values: np.ndarray | None = None,
    threshold: float = 0.0,
) -> tuple[np.ndarray, int, int]:
    """Lesions among ``candidates``: 26-connected components of at least ``min_voxels``
    (step 4); when ``margin_mm > 0`` a component must also contain a voxel of ``inside``
    farther than ``margin_mm`` (voxel centre to the nearest voxel centre outside
    ``inside``, step 6); with ``neck_ratio > 0`` and ``values`` each component counts
    the lesions joined in it by narrow necks (step 5).

    Returns (int32 labels ``1..k`` of the kept components, lesion count, kept voxels).
    """
    labelled, count = ndimage.label(candidates, structure=_STRUCTURE)
    if count == 0:
        return np.zeros(candidates.shape, np.int32), 0, 0
    sizes = np.bincount(labelled.ravel(), minlength=count + 1)
    sizes[0] = 0
    keep = sizes >= min_voxels
    keep[0] = False
    if margin_mm > 0 and inside is not None and keep.any():
        # Pad so that the bounding box faces count as outside the vertebra.
        depth = ndimage.distance_transform_edt(np.pad(inside, 1), sampling=sampling)
        depth = depth[(slice(1, -1),) * inside.ndim]
        deepest = ndimage.maximum(depth, labelled, index=np.arange(count + 1))
        keep &= np.asarray(deepest) > margin_mm
    lookup = np.zeros(count + 1, np.int32)
    lookup[keep] = np.arange(1, int(keep.sum()) + 1)
    kept = lookup[labelled]
    lesions = int(keep.sum())
    if neck_ratio > 0 and values is not None and lesions:
        boxes = ndimage.find_objects(kept)
        min_mm3 = min_voxels * float(np.prod(sampling))
        lesions = sum(count_thresholded(kept[box] == i, values[box], threshold, sampling,
                                        neck_ratio=neck_ratio, min_part_volume_mm3=min_mm3,
                                        min_part_radius_mm=MIN_SPLIT_RADIUS_MM)
                      for i, box in enumerate(boxes, start=1))
    return kept, lesions, int(sizes[keep].sum())


def extract(
    image: sitk.Image,
    vertebrae: sitk.Image,
    lesions: sitk.Image | None = None,
    *,
    convention: str = "verse",
    params: DetectionParams = DetectionParams(),
    input_sha256: str | None = None,
) -> ExtractionResult:
    """Measure lesions and high-intensity marrow per vertebral level.

    Parameters
    ----------
    image : sitk.Image
        3-D scalar MRI (STIR / T2 fat-sat), any orientation and spacing.
    vertebrae : sitk.Image
        Vertebra label map in ``convention``; resampled (nearest neighbour) onto the
        image grid when its grid differs but overlaps.
    lesions : sitk.Image, optional
        Lesion mask (non-zero = lesion). When given it replaces detection.
    convention : str
        ``verse``, ``totalsegmentator``, ``totalsegmentator_mr`` or ``sct``.
    params : DetectionParams
        Threshold and counting parameters.
    input_sha256 : str, optional
        Hash of the input file, recorded in the provenance.

    Returns
    -------
    ExtractionResult
        ``metrics`` (see :class:`StudyMetrics` for each formula), the uint8 lesion
        mask on the image grid and the aligned vertebra map.

    Raises
    ------
    ValueError
        Bad image, labels that are not vertebrae of ``convention``, a label map or
        mask that does not overlap the image, or no vertebra in the field of view.
    """
    vertebrae, lesion_array = _checked_inputs(image, vertebrae, lesions, params)
    labels, boxes, levels = _present_levels(vertebrae, convention)
    grid = _VoxelGrid.of(image, params)
    pixels = None if lesion_array is not None else _float_pixels(image)
    work = [_level_work(labels, boxes[label - 1], level, pixels, params, grid)
            for label, level in levels.items()]
    mask, fractions, results = _measure_levels(work, labels, lesion_array, params, grid)
    metrics = _study_metrics(
        results,
        provenance(
            input_sha256=input_sha256,
            parameters=asdict(params),
            convention=convention,
            lesion_source="detection" if lesion_array is None else "lesion_mask",
        ),
    )
    lesion_mask = sitk.GetImageFromArray(mask)
    lesion_mask.CopyInformation(image)
    return ExtractionResult(metrics=metrics, lesion_mask=lesion_mask, vertebrae=vertebrae,
                            fractions=fractions)


def _checked_inputs(
    image: sitk.Image,
    vertebrae: sitk.Image,
    lesions: sitk.Image | None,
    params: DetectionParams,
) -> tuple[sitk.Image, np.ndarray | None]:
    """Validate the inputs; return the vertebra map aligned to the image grid and the
    lesion mask's array on that grid (``None`` without a mask: detection)."""
    if not isinstance(params, DetectionParams):
        raise ValueError("params must be a DetectionParams.")
    _check_image(image)
    if not isinstance(vertebrae, sitk.Image):
        raise ValueError("The vertebrae label map must be a SimpleITK image.")
    vertebrae = align_mask(vertebrae, image, name="vertebrae label map")
    if lesions is None:
        return vertebrae, None
    if not isinstance(lesions, sitk.Image):
        raise ValueError("The lesion mask must be a SimpleITK image.")
    # A copy, not a view: the aligned mask image is freed when this function returns.
    lesion_array = sitk.GetArrayFromImage(align_mask(lesions, image, name="lesion mask"))
    _check_lesion_values(lesion_array)
    return vertebrae, lesion_array


_present_levels = present_levels


@dataclass(frozen=True)
class _VoxelGrid:
    """Voxel size of the image and the parameters converted to voxels.

    ``voxel_mm3 = spacing_x * spacing_y * spacing_z``; ``min_voxels =
    min_lesion_volume_mm3 / voxel_mm3`` (less a 1e-9 relative tolerance, so a
    component of exactly the minimum volume counts); ``sampling`` is the spacing in
    array order (z, y, x) and ``sigma_vox = smoothing_mm / sampling``.
    """

    voxel_mm3: float
    min_voxels: float
    sampling: tuple[float, ...]
    sigma_vox: tuple[float, ...]

    @staticmethod
    def of(image: sitk.Image, params: DetectionParams) -> _VoxelGrid:
        spacing = np.array(image.GetSpacing(), dtype=float)
        voxel_mm3 = float(np.prod(spacing))
        sampling = tuple(float(s) for s in spacing[::-1])  # array order z, y, x
        return _VoxelGrid(
            voxel_mm3=voxel_mm3,
            min_voxels=params.min_lesion_volume_mm3 / voxel_mm3 * (1 - 1e-9),
            sampling=sampling,
            sigma_vox=tuple(params.smoothing_mm / s for s in sampling),
        )


def _float_pixels(image: sitk.Image) -> np.ndarray:
    """The image's voxels as float32 (a view when they already are)."""
    pixels = sitk.GetArrayViewFromImage(image)
    return pixels if pixels.dtype == np.float32 else pixels.astype(np.float32)


def _level_work(labels: np.ndarray, box: tuple[slice, ...], level: Level,
                pixels: np.ndarray | None, params: DetectionParams,
                grid: _VoxelGrid) -> _LevelWork:
    """One level's box and voxel count; with ``pixels`` (detection) also step 1 of the
    module docstring: the (optionally smoothed) intensities of the box, the marrow
    median ``m_v`` and ``s_v = 1.4826 * MAD_v`` over the vertebra's voxels."""
    inside = labels[box] == level.label
    item = _LevelWork(level=level, box=box, n_voxels=int(np.count_nonzero(inside)))
    if pixels is None:
        return item
    values = pixels[box]
    if params.smoothing_mm > 0:
        values = _masked_smooth(values, inside, grid.sigma_vox)
    marrow = values[inside]
    if not np.all(np.isfinite(marrow)):
        raise ValueError(f"The image has non-finite values inside {level.name}.")
    item.median = float(np.median(marrow))
    item.sigma = MAD_TO_SIGMA * float(np.median(np.abs(marrow - item.median)))
    item.values = values
    return item


def _reference_thresholds(medians: np.ndarray, sigmas: np.ndarray,
                          params: DetectionParams) -> list[tuple[float, float]]:
    """Steps 2-3 of the module docstring: per level ``v`` (craniocaudal order),
    ``r_v = median{m_u : u in N_v}``, ``sigma_v = median{s_u : u in N_v}`` over the
    ``reference_window`` levels above and below, and
    ``T_v = max(r_v + k_mad * sigma_v, (1 + min_contrast) * r_v)`` (floor only when
    ``r_v > 0``). Returns ``(T_v, r_v)`` per level."""
    window = params.reference_window
    out = []
    for i in range(len(medians)):
        lo, hi = max(0, i - window), min(len(medians), i + window + 1)
        reference = float(np.median(medians[lo:hi]))
        scale = float(np.median(sigmas[lo:hi]))
        threshold = reference + params.k_mad * scale
        if reference > 0:
            threshold = max(threshold, (1.0 + params.min_contrast) * reference)
        out.append((threshold, reference))
    return out


def _measure_levels(
    work: list[_LevelWork],
    labels: np.ndarray,
    lesion_array: np.ndarray | None,
    params: DetectionParams,
    grid: _VoxelGrid,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None, list[LevelMetrics]]:
    """Steps 4-7 per level (or the mask's voxels inside it): the uint8 mask of counted
    lesion voxels on the image grid, the sparse lesion fractions ``(flat index, value)``
    (detection with partial-volume weighting, else ``None``) and each level's
    :class:`LevelMetrics`. Levels do not overlap, so each voxel has one fraction."""
    mask = np.zeros(labels.shape, dtype=np.uint8)
    weigh = lesion_array is None and params.partial_volume_mm > 0
    indices: list[np.ndarray] = []
    values: list[np.ndarray] = []
    if lesion_array is None:
        levels_tr: list[tuple[float, float] | None] = list(_reference_thresholds(
            np.array([w.median for w in work]), np.array([w.sigma for w in work]), params))
    else:
        levels_tr = [None] * len(work)
    results: list[LevelMetrics] = []
    for item, tr in zip(work, levels_tr, strict=True):
        inside = labels[item.box] == item.level.label
        if tr is None:
            candidates = (lesion_array[item.box] != 0) & inside
            sites, count, n_hi = _sites(candidates, grid.min_voxels, grid.sampling)
            hi: float = n_hi
        else:
            candidates = (item.values > tr[0]) & inside
            sites, count, n_hi = _sites(candidates, grid.min_voxels, grid.sampling, inside,
                                        params.edge_margin_mm, params.neck_ratio,
                                        item.values, tr[0])
            hi = n_hi
            if weigh and count:
                w = lesion_fractions(item.values, inside, sites,
                                     fallback_reference=tr[1], sampling=grid.sampling,
                                     band_mm=params.partial_volume_mm)
                local = np.nonzero(w)
                origin = [b.start for b in item.box]
                indices.append(np.ravel_multi_index(
                    tuple(i + o for i, o in zip(local, origin, strict=True)), labels.shape))
                values.append(w[local].astype(np.float32))
                hi = fraction_sum(w)
            item.values = None  # free the box's intensities as soon as they are used
        mask[item.box] |= (sites > 0).view(np.uint8)
        results.append(_level_metrics(item, hi, count, grid.voxel_mm3))
    fractions = None
    if weigh:
        fractions = (np.concatenate(indices) if indices else np.zeros(0, np.int64),
                     np.concatenate(values) if values else np.zeros(0, np.float32))
    return mask, fractions, results


def _level_metrics(item: _LevelWork, n_hi: float, count: int,
                   voxel_mm3: float) -> LevelMetrics:
    """``vertebra_volume_ml = N_vertebra * voxel_mm3 / 1000``, ``high_intensity_volume_ml
    = N_HI * voxel_mm3 / 1000``, ``high_intensity_ratio = N_HI / N_vertebra``, with
    ``N_HI`` the counted lesion voxels, or their partial-volume sum (step 7), at most
    ``N_vertebra``."""
    n_hi = min(float(n_hi), float(item.n_voxels))
    return LevelMetrics(
        level=item.level.name,
        region=item.level.region,
        vertebra_volume_ml=item.n_voxels * voxel_mm3 / 1000.0,
        high_intensity_volume_ml=n_hi * voxel_mm3 / 1000.0,
        high_intensity_ratio=n_hi / item.n_voxels,
        lesion_count=count,
    )


def _study_metrics(levels: list[LevelMetrics], record: dict[str, object]) -> StudyMetrics:
    by_region = dict.fromkeys(REGIONS, 0)
    for lv in levels:
        by_region[lv.region] += lv.lesion_count
    vertebra_ml = float(sum(lv.vertebra_volume_ml for lv in levels))
    hi_ml = float(sum(lv.high_intensity_volume_ml for lv in levels))
    return StudyMetrics(
        levels=tuple(levels),
        lesion_count=int(sum(lv.lesion_count for lv in levels)),
        lesion_count_by_region=by_region,
        involved_levels=tuple(lv.level for lv in levels if lv.lesion_count > 0),
        high_intensity_ratio=min(1.0, hi_ml / vertebra_ml) if vertebra_ml > 0 else 0.0,
        max_level_high_intensity_ratio=max((lv.high_intensity_ratio for lv in levels),
                                           default=0.0),
        vertebra_volume_ml=vertebra_ml,
        high_intensity_volume_ml=hi_ml,
        provenance=record,
    )
