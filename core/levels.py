"""Vertebral levels: label conventions and label-map alignment.

A vertebra label map stores one integer per vertebra. What the integer means depends
on the tool that produced the map; :data:`CONVENTIONS` lists the ones supported:

``"verse"``
    VerSe challenge (Sekuboyina et al., Med Image Anal 2021; Löffler et al., Radiol AI
    2020): 1-7 = C1-C7, 8-19 = T1-T12, 20-25 = L1-L6, 26 = sacrum, 27 = coccyx,
    28 = T13 (transitional vertebra, placed between T12 and L1).
``"totalsegmentator"``
    TotalSegmentator v2 CT ``total`` task (``class_map["total"]`` in
    ``totalsegmentator/map_to_binary.py``): 25 = sacrum, 26 = vertebrae_S1,
    27 = L5 ... 31 = L1, 32 = T12 ... 43 = T1, 44 = C7 ... 50 = C1. The other ids
    (1-24, 51-117: organs, vessels, muscles, ribs, ...) are valid classes of that map
    and are ignored; ids above 117 are not TotalSegmentator classes and are an error.
``"totalsegmentator_mr"``
    TotalSegmentator's MR vertebra ids. The MR ``total_mr`` task has **no levels**: it
    labels all vertebrae as one class (19 = ``vertebrae``, 18 = ``sacrum``). Levels come
    from the MR ``vertebrae_mr`` task (``class_map["vertebrae_mr"]``): 1 = sacrum,
    2 = L5 ... 6 = L1, 7 = T12 ... 18 = T1, 19 = C7 ... 25 = C1; this convention reads
    those ids. A map with ids above 25 is a ``total_mr`` (or other) map and is rejected
    with a message saying so, rather than misread (``total_mr``'s 19 would be C7).
``"sct"``
    Spinal Cord Toolbox vertebral levels (``sct_label_vertebrae`` output, PAM50
    ``PAM50_levels``): numbered consecutively from the top, 1-7 = C1-C7,
    8-19 = T1-T12, 20-24 = L1-L5, and 25 = S1 (the sacrum). SCT numbers a disc after
    the vertebra below it (C2/C3 -> 3), so the L5/S1 disc is 25 and S1 is 25. SCT
    defines no vertebral-level value for the coccyx; 26 and above are an error.
    These labels mark **spinal-cord segments** (``structure="spinal_cord_levels"``), not
    vertebral bodies: :mod:`core.level_qc` refuses to measure bone on them
    (``cord_level_map``); they can still *name* the bodies of a plain mask
    (:mod:`core.level_naming`).
``"binary"``
    Any mask whose non-zero voxels are vertebral bodies, without level names
    (``needs_naming``): :mod:`core.level_naming` splits it into bodies, orders them
    craniocaudally and names them (lowest / highest level, a cord-level or disc map, or
    a sacrum label) into a VerSe map.
``"total_mr"``
    TotalSegmentator MR ``total_mr`` task (``class_map["total_mr"]``): 18 = sacrum,
    19 = vertebrae (all vertebrae in one class), 20 = intervertebral discs; its other
    classes are ignored. Unnamed (``needs_naming``) like ``"binary"``; the discs help
    split touching bodies and the sacrum names the body above it L5.

Each label maps to a :class:`Level` with a name (``"L3"``, ``"sacrum"``), a region
(``cervical``, ``thoracic``, ``lumbar`` or ``sacral``; the coccyx is counted as sacral)
and a craniocaudal ``order`` shared by all conventions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from core.vocab import ANATOMY


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


def _verse() -> dict[int, str]:
    table = {i: f"C{i}" for i in range(1, 8)}
    table.update({7 + i: f"T{i}" for i in range(1, 13)})
    table.update({19 + i: f"L{i}" for i in range(1, 7)})
    table.update({26: "sacrum", 27: "coccyx", 28: "T13"})
    return table


def _totalsegmentator() -> dict[int, str]:
    # class_map["total"]: 25 sacrum, 26 vertebrae_S1, 27 vertebrae_L5 ... 50 vertebrae_C1.
    descending = [f"L{i}" for i in range(5, 0, -1)] + [f"T{i}" for i in range(12, 0, -1)]
    descending += [f"C{i}" for i in range(7, 0, -1)]
    table = {25: "sacrum", 26: "S1"}
    table.update({27 + i: name for i, name in enumerate(descending)})
    return table


def _totalsegmentator_mr() -> dict[int, str]:
    # class_map["vertebrae_mr"]: 1 sacrum, 2 vertebrae_L5 ... 25 vertebrae_C1.
    descending = [f"L{i}" for i in range(5, 0, -1)] + [f"T{i}" for i in range(12, 0, -1)]
    descending += [f"C{i}" for i in range(7, 0, -1)]
    table = {1: "sacrum"}
    table.update({2 + i: name for i, name in enumerate(descending)})
    return table


def _sct() -> dict[int, str]:
    table = {i: f"C{i}" for i in range(1, 8)}
    table.update({7 + i: f"T{i}" for i in range(1, 13)})
    table.update({19 + i: f"L{i}" for i in range(1, 6)})
    table[25] = "S1"
    return table


@dataclass(frozen=True)
class LabelConvention:
    """One label convention of vertebra label maps (an entry of the registry).

    Attributes
    ----------
    name : str
        Registry key and CLI value (``--convention``).
    title : str
        What the New case page and the README call it.
    description : str
        Where the map comes from and what its ids mean, one sentence.
    labels : mapping of int to str
        Label id -> level name (:data:`core.vocab.LEVEL_NAMES`).
    ignored : frozenset of int
        Valid classes of the map that are not vertebrae (skipped, not errors).
    unknown_hint : str
        Added to the message when ids above the convention's range appear.
    structure : str
        What the labelled voxels are: ``"vertebra"`` (whole vertebrae or bodies, the
        measured structure), ``"vertebral_body"`` (bodies only) or
        ``"spinal_cord_levels"`` (spinal-cord segments named by vertebral level, which
        label QA refuses to measure bone on).
    needs_naming : bool
        The map has no level names (a plain body mask): :mod:`core.level_naming` must
        name its bodies before anything is measured; ``labels`` is empty.
    body_ids, sacrum_ids, disc_ids : frozenset of int
        For an unnamed map: the ids that are vertebral bodies (empty: every non-zero id
        not otherwise listed), the sacrum, and intervertebral discs (used to split
        touching bodies).
    """

    name: str
    title: str
    description: str
    labels: Mapping[int, str]
    ignored: frozenset[int] = frozenset()
    unknown_hint: str = ""
    structure: str = "vertebra"
    needs_naming: bool = False
    body_ids: frozenset[int] = frozenset()
    sacrum_ids: frozenset[int] = frozenset()
    disc_ids: frozenset[int] = frozenset()


def _registry(*conventions: LabelConvention) -> Mapping[str, LabelConvention]:
    return MappingProxyType({c.name: c for c in conventions})


#: The label conventions, in the order the CLI and the New case page offer them. Adding a
#: convention touches only this table (and the README table, which a test compares).
LABEL_CONVENTIONS: Mapping[str, LabelConvention] = _registry(
    LabelConvention(
        "verse", "VerSe",
        "VerSe challenge labels: 1-7 C1-C7, 8-19 T1-T12, 20-25 L1-L6, 26 sacrum, "
        "27 coccyx, 28 T13.",
        MappingProxyType(_verse())),
    LabelConvention(
        "totalsegmentator", "TotalSegmentator (CT, total task)",
        "TotalSegmentator v2 CT total task: 25 sacrum, 26 S1, 27-31 L5-L1, 32-43 T12-T1, "
        "44-50 C7-C1; its other classes are ignored.",
        MappingProxyType(_totalsegmentator()),
        ignored=frozenset(set(range(1, 118)) - set(range(25, 51)))),
    LabelConvention(
        "totalsegmentator_mr", "TotalSegmentator (MR, vertebrae_mr task)",
        "TotalSegmentator MR vertebrae_mr task: 1 sacrum, 2-6 L5-L1, 7-18 T12-T1, "
        "19-25 C7-C1.",
        MappingProxyType(_totalsegmentator_mr()),
        unknown_hint=(" (ids above 25 suggest a TotalSegmentator total_mr map, which has one "
                      "pooled 'vertebrae' class and no levels; read it with --convention total_mr, "
                      "which names its bodies, or use the vertebrae_mr task)")),
    LabelConvention(
        "sct", "Spinal Cord Toolbox",
        "Spinal Cord Toolbox vertebral levels (sct_label_vertebrae, PAM50): 1-7 C1-C7, "
        "8-19 T1-T12, 20-24 L1-L5, 25 S1.",
        MappingProxyType(_sct()), structure="spinal_cord_levels"),
    LabelConvention(
        "binary", "Vertebral-body mask without names",
        "Any mask whose non-zero voxels are vertebral bodies: the bodies are split, "
        "ordered craniocaudally and named (--lowest, --highest, --level-names-from).",
        MappingProxyType({}), structure="vertebral_body", needs_naming=True),
    LabelConvention(
        "total_mr", "TotalSegmentator (MR, total_mr task)",
        "TotalSegmentator MR total_mr task: 19 vertebrae (one class, bodies named by the "
        "app), 18 sacrum, 20 intervertebral discs; its other classes are ignored.",
        MappingProxyType({}), ignored=frozenset(set(range(1, 51)) - {18, 19, 20}),
        needs_naming=True, body_ids=frozenset({19}), sacrum_ids=frozenset({18}),
        disc_ids=frozenset({20})),
)

#: Convention name -> {label: level name} of the conventions whose labels name levels
#: (the unnamed ``binary`` / ``total_mr`` are not here). Read-only (a view of
#: :data:`LABEL_CONVENTIONS`).
CONVENTIONS: Mapping[str, Mapping[int, str]] = MappingProxyType(
    {name: c.labels for name, c in LABEL_CONVENTIONS.items() if not c.needs_naming})


def get_convention(convention: str) -> LabelConvention:
    """The registry entry of a convention name.

    Raises
    ------
    ValueError
        For a name that is not in :data:`LABEL_CONVENTIONS`.
    """
    try:
        return LABEL_CONVENTIONS[convention]
    except (KeyError, TypeError):
        raise ValueError(
            f"Label convention {convention!r} is not one of {', '.join(LABEL_CONVENTIONS)}."
        ) from None


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
