"""Vertebral levels: the labels of a map as levels, and label-map alignment.

A vertebra label map stores one integer per vertebra; what the integer means depends
on the tool that produced the map (the registry of conventions is :mod:`core.conventions`,
re-exported here).

Each label maps to a :class:`Level` with a name (``"L3"``, ``"sacrum"``), a region
(``cervical``, ``thoracic``, ``lumbar`` or ``sacral``; the coccyx is counted as sacral)
and a craniocaudal ``order`` shared by all conventions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from core.conventions import CONVENTIONS, LABEL_CONVENTIONS, LabelConvention, get_convention
from core.vocab import ANATOMY

__all__ = ["CONVENTIONS", "LABEL_CONVENTIONS", "LabelConvention", "Level", "align_mask",
           "get_convention", "label_array", "label_for_name", "level_for_label",
           "level_names", "map_labels", "physical_bounds", "present_levels", "same_grid"]


@dataclass(frozen=True)
class Level:
    """One vertebral level.

    Attributes
    ----------
    label : int
        The integer in the label map.
    name : str
        ``"C1"`` ... ``"C7"``, ``"T1"`` ... ``"T13"``, ``"L1"`` ... ``"L6"``, ``"S1"``,
        ``"sacrum"`` or ``"coccyx"``.
    region : str
        ``cervical``, ``thoracic``, ``lumbar`` or ``sacral`` (sacrum, S1 and coccyx).
    order : int
        Craniocaudal rank, the same in every convention (C1 = 1, ..., T12 = 19,
        T13 = 20, L1 = 21, ..., L6 = 26, S1 = 27, sacrum = 28, coccyx = 29).
    """

    label: int
    name: str
    region: str
    order: int


def _check_convention(convention: str) -> Mapping[int, str]:
    entry = get_convention(convention)
    if entry.needs_naming:
        raise ValueError(
            f"The {convention!r} convention has no level names: name its bodies first "
            "(--lowest/--highest LEVEL or --level-names-from MAP, core.level_naming)."
        )
    return entry.labels


def _as_int(label: object) -> int:
    if isinstance(label, (bool, np.bool_)):
        raise ValueError(f"Label {label!r} is not an integer.")
    if isinstance(label, (int, np.integer)):
        return int(label)  # exact: float() would round labels above 2**53
    try:
        value = float(label)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"Label {label!r} is not an integer.") from None
    if not np.isfinite(value) or value != int(value):
        raise ValueError(f"Label {label!r} is not an integer.")
    return int(value)


def _make_level(label: int, name: str) -> Level:
    region, order = ANATOMY[name]
    return Level(label=label, name=name, region=region, order=order)


def _unknown_message(unknown: list[int], convention: str) -> str:
    shown = ", ".join(str(v) for v in unknown[:20])
    if len(unknown) > 20:
        shown += f", ... ({len(unknown)} in all)"
    message = f"Label(s) {shown} are not vertebrae in the {convention!r} convention"
    entry = get_convention(convention)
    if entry.unknown_hint and any(v > max(entry.labels) for v in unknown):
        message += entry.unknown_hint
    return message + "."


def map_labels(labels: Iterable[object], convention: str) -> dict[int, Level]:
    """Map the labels present in a label map onto vertebral levels.

    Parameters
    ----------
    labels : iterable of int
        Label values (``0``, the background, is skipped). Integral floats such as
        ``2.0`` are accepted (SCT stores labels as float64).
    convention : str
        One of :data:`CONVENTIONS`.

    Returns
    -------
    dict of int to Level
        One entry per vertebra label, sorted craniocaudally. Non-vertebra classes of a
        TotalSegmentator ``total`` map (organs, ribs, ...) are left out.

    Raises
    ------
    ValueError
        For an unknown convention, a non-integer label, or labels that are not
        vertebrae of the convention (all of them named).
    """
    table = _check_convention(convention)
    ignored = get_convention(convention).ignored
    found: dict[int, Level] = {}
    unknown: list[int] = []
    for raw in labels:
        label = _as_int(raw)
        if label == 0 or label in ignored:
            continue
        name = table.get(label)
        if name is None:
            unknown.append(label)
        else:
            found[label] = _make_level(label, name)
    if unknown:
        raise ValueError(_unknown_message(sorted(set(unknown)), convention))
    return dict(sorted(found.items(), key=lambda item: item[1].order))


def level_names(label_map: np.ndarray, convention: str | None) -> dict[int, str]:
    """Label value -> level name of every vertebra label in a label-map array, for display.

    A label is shown as its number when ``convention`` is ``None`` or the labels do not
    fit the convention (the viewer still shows the map). Background (0) is left out.
    """
    values = [int(v) for v in np.unique(np.asarray(label_map)) if v != 0]
    if not convention:
        return {v: str(v) for v in values}
    try:
        levels = map_labels(values, convention)
    except ValueError:
        return {v: str(v) for v in values}
    return {v: (levels[v].name if v in levels else str(v)) for v in values}


def level_for_label(label: object, convention: str) -> Level:
    """The :class:`Level` of one label.

    Raises
    ------
    ValueError
        When the label is not a vertebra of ``convention`` (including the non-vertebra
        classes of TotalSegmentator, which :func:`map_labels` skips silently).
    """
    table = _check_convention(convention)
    value = _as_int(label)
    name = table.get(value)
    if name is None:
        raise ValueError(_unknown_message([value], convention))
    return _make_level(value, name)


def label_for_name(name: str, convention: str) -> int:
    """Inverse lookup: the label of level ``name`` (e.g. ``"L3"``) in ``convention``.

    Raises
    ------
    ValueError
        When the convention has no label for that level.
    """
    table = _check_convention(convention)
    for label, level_name in table.items():
        if level_name == name:
            return label
    raise ValueError(f"Level {name!r} has no label in the {convention!r} convention.")


# ------------------------------------------------------------------- label arrays

#: No convention uses a label above this; larger values are reported, not indexed.
MAX_LABEL = 1024


def label_array(vertebrae: sitk.Image) -> np.ndarray:
    """The label map's voxels as an integer array (a view when already integer),
    validated: finite, whole and non-negative.

    Float maps are converted to int32 only when every label is at most
    :data:`MAX_LABEL`; otherwise the float array is returned as is, so that the caller
    names the large labels (a cast first would wrap 5e9 to a negative number).

    Raises
    ------
    ValueError
        For non-integer or negative values.
    """
    array = sitk.GetArrayViewFromImage(vertebrae)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError("The vertebrae label map has non-integer values.")
        if array.size and array.max() > MAX_LABEL:
            if array.min() < 0:
                raise ValueError(
                    f"The vertebrae label map has a negative label {int(array.min())}."
                )
            return array
        array = array.astype(np.int32)
    if array.size and int(array.min()) < 0:
        raise ValueError(f"The vertebrae label map has a negative label {int(array.min())}.")
    return array


def present_levels(
    vertebrae: sitk.Image, convention: str
) -> tuple[np.ndarray, list[tuple[slice, ...] | None], dict[int, Level]]:
    """Label array (:func:`label_array`), bounding box per label
    (``ndimage.find_objects``: ``boxes[label - 1]``) and the levels of the labels
    present, craniocaudal.

    Raises
    ------
    ValueError
        For labels that are not vertebrae of ``convention`` (named), an unnamed
        convention, or no vertebra of ``convention`` in the map.
    """
    labels = label_array(vertebrae)
    if labels.size and int(labels.max()) > MAX_LABEL:
        map_labels(np.unique(labels[labels > MAX_LABEL]), convention)  # raises, naming them
    boxes = ndimage.find_objects(labels)
    present = [i + 1 for i, box in enumerate(boxes) if box is not None]
    levels = map_labels(present, convention)
    if not levels:
        raise ValueError(
            f"The vertebrae label map has no vertebra labels of the {convention!r} "
            "convention inside the image."
        )
    return labels, boxes, levels


# --------------------------------------------------------------------------- alignment

#: Tolerances for "same grid": relative spacing, origin in units of spacing, direction.
SPACING_RTOL = 1e-4
ORIGIN_TOL_VOXELS = 1e-3
DIRECTION_ATOL = 1e-4


def same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    """True when ``a`` and ``b`` share size, spacing, origin and direction (within tolerance)."""
    if a.GetDimension() != b.GetDimension() or a.GetSize() != b.GetSize():
        return False
    sa, sb = np.array(a.GetSpacing()), np.array(b.GetSpacing())
    if not np.allclose(sa, sb, rtol=SPACING_RTOL, atol=0.0):
        return False
    origin_diff = np.abs(np.array(a.GetOrigin()) - np.array(b.GetOrigin()))
    if np.any(origin_diff > ORIGIN_TOL_VOXELS * np.minimum(sa, sb)):
        return False
    return bool(
        np.allclose(a.GetDirection(), b.GetDirection(), rtol=0.0, atol=DIRECTION_ATOL)
    )


def physical_bounds(image: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned physical bounding box (LPS mm) of the image's voxels, edges included.

    Returns
    -------
    (lo, hi) : tuple of ndarray
        Minimum and maximum corner over the 2**dim outer voxel corners.
    """
    dim = image.GetDimension()
    size = np.array(image.GetSize(), dtype=float)
    spacing = np.array(image.GetSpacing(), dtype=float)
    direction = np.array(image.GetDirection(), dtype=float).reshape(dim, dim)
    origin = np.array(image.GetOrigin(), dtype=float)
    corners = np.array(np.meshgrid(*[[-0.5, s - 0.5] for s in size], indexing="ij"))
    corners = corners.reshape(dim, -1)  # continuous indices of the outer corners
    points = origin[:, None] + direction @ (corners * spacing[:, None])
    return points.min(axis=1), points.max(axis=1)


def align_mask(mask: sitk.Image, reference: sitk.Image, *, name: str = "mask") -> sitk.Image:
    """Put a label map / mask on the reference image's grid.

    Parameters
    ----------
    mask : sitk.Image
        Integer (or integral-valued) label map.
    reference : sitk.Image
        The image whose grid the result must share.
    name : str
        What the mask is, for error messages (``"vertebrae"``, ``"lesions"``).

    Returns
    -------
    sitk.Image
        ``mask`` itself (with the reference's exact geometry copied) when the grids
        already agree within tolerance; otherwise ``mask`` resampled with nearest
        neighbour interpolation onto the reference grid (voxels outside ``mask``'s
        field of view become 0). Pixel type is kept.

    Raises
    ------
    ValueError
        When the dimensions differ or the two images' physical bounding boxes do not
        overlap (naming ``name``).
    """
    if mask.GetDimension() != reference.GetDimension():
        raise ValueError(
            f"The {name} has {mask.GetDimension()} dimensions but the image has "
            f"{reference.GetDimension()}."
        )
    if mask.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"The {name} must have one value per voxel.")
    if same_grid(mask, reference):
        if (
            mask.GetOrigin() == reference.GetOrigin()
            and mask.GetSpacing() == reference.GetSpacing()
            and mask.GetDirection() == reference.GetDirection()
        ):
            return mask
        aligned = sitk.Image(mask)
        aligned.CopyInformation(reference)
        return aligned
    lo_m, hi_m = physical_bounds(mask)
    lo_r, hi_r = physical_bounds(reference)
    overlap = np.minimum(hi_m, hi_r) - np.maximum(lo_m, lo_r)
    if np.any(overlap <= 0):
        raise ValueError(
            f"The {name} does not overlap the image in physical space "
            "(different patient position or wrong file)."
        )
    return sitk.Resample(
        mask,
        reference,
        sitk.Transform(),
        sitk.sitkNearestNeighbor,
        0,
        mask.GetPixelID(),
    )
