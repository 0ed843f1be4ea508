"""Checks on the image itself: is it MRI, and a sequence the high-intensity ratio is
defined on?

The high-intensity (HI) ratio of Kong et al. is read on fluid-sensitive MRI (STIR,
T2 fat-saturated, T2), where metastases and marrow oedema are bright against fatty
marrow. On CT, "high intensity" is cortical and sclerotic bone; on T1-weighted MRI
metastases are dark and the bright voxels are fat or haemangiomas. Neither gives the
published measure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from core.level_qc.findings import QCFinding

#: Hounsfield value of air is -1000; a CT has this share of its voxels or more within
#: ``AIR_HU_WINDOW`` (air around and inside the body, or padding), an MR magnitude image
#: none (it has no negative values).
AIR_HU_WINDOW: tuple[float, float] = (-1100.0, -900.0)
AIR_HU_SHARE = 0.01
#: Sequences on which the HI ratio is defined, and those it is not.
FLUID_SENSITIVE: frozenset[str] = frozenset({"STIR", "T2", "T2-FS"})
T1_WEIGHTED: frozenset[str] = frozenset({"T1", "T1-FS"})


def meta_value(meta: object, key: str) -> str:
    """``meta.key`` or ``meta[key]`` as text (``"unknown"`` when absent)."""
    if meta is None:
        return "unknown"
    value = meta.get(key) if isinstance(meta, Mapping) else getattr(meta, key, None)
    return str(value) if value not in (None, "") else "unknown"


def hounsfield_share(pixels: np.ndarray) -> float:
    """Share of voxels within :data:`AIR_HU_WINDOW` (sampled on every 4th slice)."""
    sample = pixels[:: max(1, min(4, pixels.shape[0] // 8))]
    lo, hi = AIR_HU_WINDOW
    return float(np.count_nonzero((sample >= lo) & (sample <= hi)) / max(1, sample.size))


def check_modality(pixels: np.ndarray, meta: object) -> list[QCFinding]:
    """``not_mr_image``: DICOM Modality (or a file-name hint) CT, or a Hounsfield-like
    intensity distribution (at least :data:`AIR_HU_SHARE` of the voxels at air's -1000)
    in an image not recorded as DICOM MR."""
    modality = meta_value(meta, "modality")
    fmt = meta_value(meta, "source_format")
    if modality == "CT":
        source = "DICOM Modality CT" if fmt == "dicom" else "its file name says CT"
        return [QCFinding.of("not_mr_image", (
            f"The image is a CT ({source}), where high intensity is cortical bone rather "
            "than marrow oedema or tumour, so the high-intensity ratio, defined on STIR / "
            "T2 MRI, is not measured."))]
    if modality == "MR" and fmt == "dicom":
        return []
    share = hounsfield_share(pixels)
    if share >= AIR_HU_SHARE:
        return [QCFinding.of("not_mr_image", (
            f"The image looks like a CT ({100 * share:.0f} % of its voxels lie near "
            "-1000, the Hounsfield value of air, which an MR image never has), where high "
            "intensity is bone rather than tumour, so the high-intensity ratio is not "
            "measured."))]
    return []


def check_sequence(meta: object, sequence: str | None = None) -> list[QCFinding]:
    """``t1_sequence``: the sequence (``sequence`` when given, else the image's recorded
    or file-name hint) is T1-weighted. An unknown sequence is taken as the input
    contract says (STIR / T2 fat-saturated) and gets no finding."""
    seq = sequence or meta_value(meta, "sequence")
    if seq not in T1_WEIGHTED:
        return []
    kind = ("fat-saturated T1-weighted (usually after contrast)" if seq == "T1-FS"
            else "T1-weighted")
    return [QCFinding.of("t1_sequence", (
        f"The image is {kind}, where metastases are dark, so its "
        "high-intensity ratio is not the published STIR / T2 measure: use a STIR or T2 "
        "fat-saturated series."))]
