"""Name the vertebral bodies of a plain mask: split, order head to foot, name.

Many sites have a vertebral-body mask without level names: manual masks, other tools'
binary output, or TotalSegmentator's MR ``total_mr`` task, which pools all vertebrae in
one class (``vertebrae`` = 19, with ``sacrum`` = 18 and ``intervertebral_discs`` = 20).
This module turns such a mask into an ordinary level map (VerSe convention):

1. **Split into bodies**: the body voxels (the convention's ``body_ids``, else every
   non-zero voxel that is not sacrum or disc) are split into 26-connected parts, and
   each part where it narrows (:func:`core.split.split_at_necks`, neck ratio
   :data:`BODY_NECK_RATIO`): neighbours that touch through a bridge across the disc
   become two bodies. Parts that lie side by side (their head-foot ranges overlap by
   more than half of the shorter one) are one body. Parts under :data:`MIN_BODY_ML`
   are dropped (segmentation specks).
2. **Order** the bodies by the head-foot (LPS ``S``) coordinate of their centres, in
   physical space: never by array index.
3. **Name** them by counting along C1-C7, T1-T12, L1-L5, sacrum (T13 / L6 only when
   asked for), from one of:

   * ``lowest`` / ``highest``: the most caudal / cranial body is this level;
   * ``names_from`` (a cord-level or disc map in a named convention, e.g. SCT): each
     body takes the level whose head-foot interval holds its centre (cord levels: the
     level's own interval; disc points: level ``k`` lies between disc ``k`` above and
     disc ``k + 1`` below, SCT numbering), then all bodies are renamed consecutively
     from the most frequent offset, so one misplaced body cannot break the sequence;
   * the sacrum label of the mask: the body directly above the sacrum is L5.

The named map then goes through label QA like any other (:mod:`core.level_qc`), with a
``levels_named`` note saying how the names were found.

The correction helpers (:func:`shift_level_names`, :func:`rename_body`,
:func:`name_body_at`) live in :mod:`core.level_correction`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from core.level_qc import Grid, QCFinding
from core.levels import align_mask, get_convention, label_array, label_for_name, map_labels
from core.split import split_at_necks
from core.vocab import TRANSITIONAL_LEVELS

#: Bodies joined only by a neck whose inscribed radius is at most this times the
#: smaller body's are two bodies (a bridge across the disc, not one vertebra).
BODY_NECK_RATIO = 0.6
#: Parts smaller than this (ml) are specks, not bodies (the smallest adult cervical
#: body is about 1.2 ml, :mod:`core.level_qc.ranges`).
MIN_BODY_ML = 0.3
#: Largest gap (mm) between the sacrum and the lowest body for that body to be L5.
MAX_SACRUM_GAP_MM = 25.0
#: The output convention of named maps.
OUTPUT_CONVENTION = "verse"


def naming_sequence(*transitional: str) -> tuple[str, ...]:
    """C1-C7, T1-T12, L1-L5, sacrum, with the transitional levels asked for (T13
    between T12 and L1, L6 between L5 and the sacrum)."""
    names = [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)]
    if "T13" in transitional:
        names.append("T13")
    names += [f"L{i}" for i in range(1, 6)]
    if "L6" in transitional:
        names.append("L6")
    return (*names, "sacrum")


@dataclass(frozen=True)
class Body:
    """One body of a split mask.

    Attributes
    ----------
    index : int
        1 = most cranial.
    volume_ml : float
    centre_mm : tuple of float
        LPS centre.
    si_range_mm : tuple of float
        (inferior, superior) head-foot coordinates of its voxel centres.
    """

    index: int
    volume_ml: float
    centre_mm: tuple[float, float, float]
    si_range_mm: tuple[float, float]


@dataclass(frozen=True)
class BodySplit:
    """A plain mask split into bodies.

    Attributes
    ----------
    labels : sitk.Image
        uint16 on the mask's grid: ``1..n`` = bodies head to foot, ``n + 1`` = the
        sacrum when the mask has one, 0 elsewhere.
    bodies : tuple of Body
        Head to foot.
    sacrum : Body or None
    specks_dropped : int
        Parts smaller than :data:`MIN_BODY_ML` left out.
    """

    labels: sitk.Image
    bodies: tuple[Body, ...]
    sacrum: Body | None = None
    specks_dropped: int = 0


def _body_of(mask: np.ndarray, grid: Grid, index: int,
             offset: np.ndarray | None = None) -> Body:
    zyx = np.argwhere(mask) + (0 if offset is None else offset)
    s = grid.physical(zyx)[:, 2]
    centre = grid.physical(zyx.mean(axis=0, keepdims=True))[0]
    return Body(index=index, volume_ml=zyx.shape[0] * grid.voxel_ml,
                centre_mm=tuple(float(c) for c in centre),
                si_range_mm=(float(s.min()), float(s.max())))


def _merge_side_by_side(parts: np.ndarray, count: int, grid: Grid) -> np.ndarray:
    """Merge parts whose head-foot ranges overlap by more than half the shorter one."""
    if count < 2:
        return parts
    ranges = []
    for box, i in zip(ndimage.find_objects(parts), range(1, count + 1), strict=True):
        zyx = np.argwhere(parts[box] == i) + np.array([b.start for b in box])
        s = grid.physical(zyx)[:, 2]
        ranges.append((float(s.min()), float(s.max()) + grid.voxel_si_mm))
    target = list(range(count + 1))
    order = sorted(range(count), key=lambda i: -ranges[i][1])
    for a, b in itertools.pairwise(order):
        (lo_a, hi_a), (lo_b, hi_b) = ranges[a], ranges[b]
        overlap = min(hi_a, hi_b) - max(lo_a, lo_b)
        if overlap > 0.5 * min(hi_a - lo_a, hi_b - lo_b):
            target[b + 1] = target[a + 1]
            ranges[b] = (min(lo_a, lo_b), max(hi_a, hi_b))
    lookup = np.asarray(target)
    return lookup[parts]


def _split_parts(body: np.ndarray, grid: Grid, min_voxels: float) -> np.ndarray:
    """Connected parts of ``body``, each split at narrow necks (in its own bounding box)
    and its side-by-side pieces merged again; labels unique over the volume."""
    components, _ = ndimage.label(body, structure=np.ones((3, 3, 3), bool))
    out = np.zeros(body.shape, np.int32)
    next_label = 1
    for i, box in enumerate(ndimage.find_objects(components), start=1):
        if box is None:
            continue
        inside = components[box] == i
        if np.count_nonzero(inside) < min_voxels:
            out[box][inside] = next_label
            next_label += 1
            continue
        parts, n = split_at_necks(inside, grid.sampling_zyx, neck_ratio=BODY_NECK_RATIO,
                                  min_part_voxels=min_voxels)
        sub = Grid(origin=grid.physical(np.array([[b.start for b in box]]))[0],
                   matrix=grid.matrix, shape=inside.shape)
        parts = _merge_side_by_side(parts, n, sub)
        ids = np.unique(parts[parts > 0])
        lookup = np.zeros(int(parts.max()) + 1, np.int32)
        lookup[ids] = np.arange(next_label, next_label + ids.size)
        out[box][inside] = lookup[parts[inside]]
        next_label += ids.size
    return out


def split_bodies(mask: sitk.Image, convention: str = "binary", *,
                 sacrum_label: int | None = None) -> BodySplit:
    """Split a plain body mask into bodies ordered head to foot (module docstring).

    Parameters
    ----------
    mask : sitk.Image
        Integer mask; which ids are bodies, sacrum and discs follows ``convention``
        (``"binary"``: every non-zero id, ``"total_mr"``: 19 bodies, 18 sacrum, 20 discs).
    convention : str
        An unnamed convention (``needs_naming``) of :data:`core.levels.LABEL_CONVENTIONS`.
    sacrum_label : int, optional
        For ``binary``: the id that marks the sacrum in the mask.

    Raises
    ------
    ValueError
        For a named convention, non-integer values, or no body in the mask.
    """
    entry = get_convention(convention)
    if not entry.needs_naming:
        raise ValueError(f"The {convention!r} convention already names its levels.")
    values = label_array(mask)
    sacrum_ids = set(entry.sacrum_ids) | ({int(sacrum_label)} if sacrum_label else set())
    if entry.body_ids:
        body = np.isin(values, list(entry.body_ids))
    else:
        body = (values != 0) & ~np.isin(values, list(sacrum_ids | set(entry.disc_ids)))
    grid = Grid.of(mask)
    min_voxels = MIN_BODY_ML / grid.voxel_ml
    parts = _split_parts(body, grid, min_voxels)
    ids, sizes = np.unique(parts[parts > 0], return_counts=True)
    keep = ids[sizes >= min_voxels]
    if keep.size == 0:
        raise ValueError("The mask has no vertebral body of at least "
                         f"{MIN_BODY_ML} ml.")
    boxes = ndimage.find_objects(parts)
    bodies = [_body_of(parts[boxes[i - 1]] == i, grid, 0,
                       np.array([b.start for b in boxes[i - 1]])) for i in keep]
    order = np.argsort([-b.centre_mm[2] for b in bodies])
    lookup = np.zeros(int(parts.max()) + 1, np.uint16)
    ordered = []
    for rank, k in enumerate(order, start=1):
        lookup[keep[k]] = rank
        b = bodies[k]
        ordered.append(Body(rank, b.volume_ml, b.centre_mm, b.si_range_mm))
    out = lookup[parts]
    sacrum = None
    sacrum_mask = np.isin(values, list(sacrum_ids)) if sacrum_ids else None
    if sacrum_mask is not None and sacrum_mask.any():
        out[sacrum_mask & (out == 0)] = len(ordered) + 1
        sacrum = _body_of(sacrum_mask, grid, len(ordered) + 1)
    labels = sitk.GetImageFromArray(out)
    labels.CopyInformation(mask)
    return BodySplit(labels=labels, bodies=tuple(ordered), sacrum=sacrum,
                     specks_dropped=int(ids.size - keep.size))


@dataclass(frozen=True)
class NamedLevels:
    """A plain mask's bodies, named.

    Attributes
    ----------
    vertebrae : sitk.Image
        uint16 level map in the VerSe convention (:data:`OUTPUT_CONVENTION`).
    names : tuple of str
        Body names head to foot (the sacrum last when present).
    method : str
        How the names were found, one phrase (``"counted up from L5 (--lowest)"``).
    findings : tuple of QCFinding
        The ``levels_named`` note (and any naming remark), for label QA.
    """

    vertebrae: sitk.Image
    names: tuple[str, ...]
    method: str
    findings: tuple[QCFinding, ...] = field(default_factory=tuple)
    convention: str = OUTPUT_CONVENTION

    def provenance(self) -> dict[str, object]:
        """``{"method", "names"}`` for the extract provenance."""
        return {"method": self.method, "names": list(self.names)}


def _check_level(name: str, what: str) -> str:
    alias = "sacrum" if name == "S1" else name
    if alias not in naming_sequence("T13", "L6"):
        raise ValueError(f"{what} {name!r} is not a vertebral level name (C1-C7, T1-T13, "
                         "L1-L6, sacrum).")
    return alias


def _count(n: int, anchor: str, anchor_index: int) -> tuple[str, ...]:
    """Names of ``n`` bodies (head to foot) when body ``anchor_index`` is ``anchor``."""
    seq = naming_sequence(*(t for t in TRANSITIONAL_LEVELS if t == anchor))
    start = seq.index(anchor) - anchor_index
    if start < 0 or start + n > len(seq):
        raise ValueError(f"{n} bodies do not fit the spine when body {anchor_index + 1} "
                         f"from the top is {anchor}: check the level given.")
    return seq[start:start + n]


def _direct_names(bodies: Sequence[Body], names_map: sitk.Image,
                  names_convention: str) -> list[str | None]:
    """Per body the level whose head-foot interval holds its centre (None: outside)."""
    values = label_array(names_map)
    grid = Grid.of(names_map)
    levels = map_labels(np.unique(values[values > 0]), names_convention)
    spans: dict[str, tuple[float, float]] = {}
    for label, level in levels.items():
        s = grid.physical(np.argwhere(values == label))[:, 2]
        spans[level.name] = (float(s.min()), float(s.max()))
    if all(hi - lo < 6.0 for lo, hi in spans.values()):
        spans = _disc_spans(spans)
    names: list[str | None] = []
    for body in bodies:
        s = body.centre_mm[2]
        inside = [n for n, (lo, hi) in spans.items() if lo - 0.5 <= s <= hi + 0.5]
        names.append(inside[0] if inside else None)
    return names


def _disc_spans(points: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Disc points (SCT numbering: disc ``k`` is the top of level ``k``) -> level spans:
    level ``k`` from disc ``k + 1`` (below) to disc ``k``; the lowest disc's level
    reaches as far below as the level above it is tall; the level above the top disc
    is left out."""
    ordered = sorted(points.items(), key=lambda kv: -kv[1][0])  # head to foot
    spans: dict[str, tuple[float, float]] = {}
    for (name, (s_top, _)), (_, (s_below, _)) in itertools.pairwise(ordered):
        spans[name] = (s_below, s_top)
    if len(ordered) >= 2:
        last_name, (s_last, _) = ordered[-1]
        height = ordered[-2][1][0] - s_last
        spans[last_name] = (s_last - height, s_last)
    return spans


def _names_from_map(bodies: Sequence[Body], names_map: sitk.Image,
                    names_convention: str) -> tuple[tuple[str, ...], list[str]]:
    direct = _direct_names(bodies, names_map, names_convention)
    seq = naming_sequence()
    offsets = Counter(seq.index(n) - i for i, n in enumerate(direct)
                      if n is not None and n in seq)
    if not offsets:
        raise ValueError("No body lies within the levels of the names map: check that "
                         "it covers the same part of the spine.")
    offset = offsets.most_common(1)[0][0]
    if offset < 0 or offset + len(bodies) > len(seq):
        raise ValueError("The names map does not fit the bodies: check the map.")
    names = seq[offset:offset + len(bodies)]
    remarks = [f"{names[i]} was named by counting from its neighbours (the names map put "
               f"its centre in {n})" for i, n in enumerate(direct)
               if n is not None and n != names[i]]
    return names, remarks


def name_bodies(split: BodySplit, *, lowest: str | None = None, highest: str | None = None,
                names_from: sitk.Image | None = None, names_convention: str = "sct",
                ) -> NamedLevels:
    """Name the bodies of ``split`` (module docstring, step 3).

    Exactly one of ``lowest``, ``highest`` and ``names_from`` may be given; with none,
    the mask's sacrum names the body above it L5.

    Raises
    ------
    ValueError
        For an unknown level, several naming sources, no source at all, a names map
        that does not reach the bodies, or more bodies than levels.
    """
    given = [x is not None for x in (lowest, highest, names_from)]
    if sum(given) > 1:
        raise ValueError("Give one of --lowest, --highest or --level-names-from, not "
                         "several.")
    n = len(split.bodies)
    remarks: list[str] = []
    if lowest is not None:
        anchor = _check_level(lowest, "--lowest")
        names, method = _count(n, anchor, n - 1), f"counted up from {anchor} (lowest body)"
    elif highest is not None:
        anchor = _check_level(highest, "--highest")
        names, method = _count(n, anchor, 0), f"counted down from {anchor} (highest body)"
    elif names_from is not None:
        aligned = align_mask(names_from, split.labels, name="names map")
        names, remarks = _names_from_map(split.bodies, aligned, names_convention)
        method = f"from the {names_convention!r} names map, by head-foot position"
    elif split.sacrum is not None:
        gap = split.sacrum.si_range_mm[1] - split.bodies[-1].si_range_mm[0]
        if abs(gap) > MAX_SACRUM_GAP_MM:
            raise ValueError(f"The lowest body lies {abs(gap):.0f} mm from the sacrum, so "
                             "a body may be missing and it cannot be named L5: give --lowest.")
        names, method = _count(n, "L5", n - 1), "counted up from the sacrum (L5 above it)"
    else:
        raise ValueError("The bodies of a plain mask need names: give --lowest or --highest "
                         "LEVEL, --level-names-from MAP, or a mask with a sacrum label.")
    if "sacrum" in names and split.sacrum is not None:
        raise ValueError("A body was named sacrum but the mask has its own sacrum label: "
                         "check the level given.")
    return _named_map(split, tuple(names), method, remarks)


def _named_map(split: BodySplit, names: tuple[str, ...], method: str,
               remarks: Sequence[str]) -> NamedLevels:
    rank = sitk.GetArrayViewFromImage(split.labels)
    all_names = names + (("sacrum",) if split.sacrum is not None else ())
    lookup = np.zeros(len(all_names) + 1, np.uint16)
    for i, name in enumerate(all_names, start=1):
        lookup[i] = label_for_name(name, OUTPUT_CONVENTION)
    out = sitk.GetImageFromArray(lookup[rank])
    out.CopyInformation(split.labels)
    what = (f"The {len(names)} bodies of the plain mask were named {names[0]}-{names[-1]}"
            if len(names) > 1 else f"The one body of the plain mask was named {names[0]}")
    message = f"{what}, {method}; check the count on the image before relying on level names"
    if remarks:
        message += f" ({'; '.join(remarks)})"
    return NamedLevels(vertebrae=out, names=all_names, method=method,
                       findings=(QCFinding.of("levels_named", message + "."),))


def name_plain_mask(mask: sitk.Image, convention: str = "binary", *,
                    lowest: str | None = None, highest: str | None = None,
                    names_from: sitk.Image | None = None, names_convention: str = "sct",
                    sacrum_label: int | None = None) -> NamedLevels:
    """:func:`split_bodies` then :func:`name_bodies`: a plain mask -> a VerSe level map.

    A TotalSegmentator ``total_mr`` map (``convention="total_mr"``) is read through its
    ``vertebrae`` class (19), and the note says so.
    """
    split = split_bodies(mask, convention, sacrum_label=sacrum_label)
    named = name_bodies(split, lowest=lowest, highest=highest, names_from=names_from,
                        names_convention=names_convention)
    if convention == "total_mr":
        note = QCFinding.of("levels_named", (
            "The TotalSegmentator total_mr map's 'vertebrae' class (id 19) was read as "
            "vertebral bodies, with its sacrum (18) and discs (20) as landmarks."))
        named = NamedLevels(vertebrae=named.vertebrae, names=named.names, method=named.method,
                            findings=(*named.findings, note))
    return named
