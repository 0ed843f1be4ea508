"""Correct the level names of a map: shift all, rename one, or name by one known body.

What the New case page offers when label QA (or the reader) finds the counting wrong.
Each function takes a named level map, returns a new VerSe map
(:data:`core.level_naming.OUTPUT_CONVENTION`) and a :class:`LevelCorrection` record for
the audit log; the case is then measured again with ``convention="verse"`` and label QA
runs again. Bodies are the labels of the map, ordered head to foot by the patient
head-foot coordinate of their centres (never by array index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from core.level_naming import OUTPUT_CONVENTION, naming_sequence
from core.level_qc import Grid
from core.levels import label_for_name, present_levels
from core.vocab import TRANSITIONAL_LEVELS

#: The audit-log action of a level correction.
AUDIT_ACTION = "correct-levels"


@dataclass(frozen=True)
class LevelCorrection:
    """What a correction changed, for the audit log.

    Attributes
    ----------
    action : str
        ``"shift"``, ``"rename"`` or ``"name_at"``.
    summary : str
        One sentence (``"All 5 names shifted 1 level down (caudal)."``).
    changes : tuple of (str, str)
        ``(before, after)`` name of every body, head to foot.
    convention_before : str
        Convention of the corrected map (the result is always VerSe).
    """

    action: str
    summary: str
    changes: tuple[tuple[str, str], ...]
    convention_before: str

    def audit_details(self) -> dict[str, object]:
        """JSON-safe details for the audit entry (action :data:`AUDIT_ACTION`)."""
        return {"action": self.action, "summary": self.summary,
                "changes": [list(c) for c in self.changes],
                "convention_before": self.convention_before,
                "convention_after": OUTPUT_CONVENTION}


@dataclass(frozen=True)
class CorrectedLevels:
    """A corrected level map and its record.

    Attributes
    ----------
    vertebrae : sitk.Image
        uint16 VerSe level map on the input's grid.
    correction : LevelCorrection
    convention : str
        ``"verse"``: measure the case again with it.
    """

    vertebrae: sitk.Image
    correction: LevelCorrection
    convention: str = OUTPUT_CONVENTION


@dataclass(frozen=True)
class _Bodies:
    labels: np.ndarray  # label array of the map
    order: tuple[int, ...]  # labels head to foot
    names: tuple[str, ...]  # their names


def _bodies(vertebrae: sitk.Image, convention: str) -> _Bodies:
    labels, boxes, levels = present_levels(vertebrae, convention)
    grid = Grid.of(vertebrae)
    heights = {}
    for label in levels:
        box = boxes[label - 1]
        zyx = np.argwhere(labels[box] == label) + np.array([b.start for b in box])
        heights[label] = float(grid.physical(zyx.mean(axis=0, keepdims=True))[0, 2])
    order = tuple(sorted(levels, key=lambda lab: -heights[lab]))
    return _Bodies(labels=np.asarray(labels), order=order,
                   names=tuple(levels[lab].name for lab in order))


def _sequence(*names: str) -> tuple[str, ...]:
    return naming_sequence(*(n for n in names if n in TRANSITIONAL_LEVELS))


def _write(bodies: _Bodies, new_names: tuple[str, ...], vertebrae: sitk.Image,
           action: str, summary: str, convention: str) -> CorrectedLevels:
    if len(set(new_names)) != len(new_names):
        raise ValueError("The correction would give two bodies the same name.")
    lookup = np.zeros(int(max(bodies.order)) + 1, np.uint16)
    for label, name in zip(bodies.order, new_names, strict=True):
        lookup[label] = label_for_name(name, OUTPUT_CONVENTION)
    array = bodies.labels
    out = np.where(array <= lookup.size - 1, lookup[np.clip(array, 0, lookup.size - 1)], 0)
    image = sitk.GetImageFromArray(out.astype(np.uint16))
    image.CopyInformation(vertebrae)
    record = LevelCorrection(action=action, summary=summary,
                             changes=tuple(zip(bodies.names, new_names, strict=True)),
                             convention_before=convention)
    return CorrectedLevels(vertebrae=image, correction=record)


def shift_level_names(vertebrae: sitk.Image, k: int, *, convention: str = "verse",
                      ) -> CorrectedLevels:
    """Move every name ``k`` levels along C1 ... L5, sacrum (``k > 0``: towards the
    feet, L1 -> L2; ``k < 0``: towards the head). T13 / L6 stay in the sequence only if
    the map has them.

    Raises
    ------
    ValueError
        When ``k`` is not a whole number or a name would fall outside the spine.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"shift {k!r} is not a whole number of levels.")
    bodies = _bodies(vertebrae, convention)
    seq = _sequence(*bodies.names)
    try:
        index = [seq.index(n) + int(k) for n in bodies.names]
    except ValueError:
        raise ValueError("Only maps of C1-L6 and the sacrum can be shifted.") from None
    if min(index) < 0 or max(index) >= len(seq):
        raise ValueError(f"Shifting by {k} would move a body off the spine (C1 to sacrum).")
    direction = "down (towards the feet)" if k > 0 else "up (towards the head)"
    summary = (f"All {len(index)} level names were shifted {abs(int(k))} level(s) "
               f"{direction}: {bodies.names[0]}-{bodies.names[-1]} became "
               f"{seq[index[0]]}-{seq[index[-1]]}.")
    return _write(bodies, tuple(seq[i] for i in index), vertebrae, "shift", summary,
                  convention)


def rename_body(vertebrae: sitk.Image, body: str, new_name: str, *,
                convention: str = "verse") -> CorrectedLevels:
    """Rename the body now called ``body`` to ``new_name``; when another body already
    has that name the two swap names.

    Raises
    ------
    ValueError
        When no body is called ``body`` or ``new_name`` has no VerSe label.
    """
    bodies = _bodies(vertebrae, convention)
    if body not in bodies.names:
        raise ValueError(f"No body is called {body!r} (names: {', '.join(bodies.names)}).")
    label_for_name(new_name, OUTPUT_CONVENTION)  # raises for a name VerSe cannot hold
    names = list(bodies.names)
    i = names.index(body)
    swapped = new_name in names
    if swapped:
        names[names.index(new_name)] = body
    names[i] = new_name
    summary = (f"{body} and {new_name} swapped names." if swapped
               else f"{body} was renamed {new_name}.")
    return _write(bodies, tuple(names), vertebrae, "rename", summary, convention)


def name_body_at(vertebrae: sitk.Image, point_index: tuple[int, int, int], level: str, *,
                 convention: str = "verse") -> CorrectedLevels:
    """Name the body under ``point_index`` ``level`` and every other body by counting
    from it head to foot (the viewer click: "this one is L3").

    Parameters
    ----------
    point_index : tuple of 3 int
        Array index ``(z, y, x)`` of ``sitk.GetArrayViewFromImage(vertebrae)`` (the
        viewer's array order). A click on background picks the nearest body voxel
        within 5 mm.

    Raises
    ------
    ValueError
        When the point is outside the image or no body lies within 5 mm of it, for an
        unknown level, or when the count runs off the spine.
    """
    bodies = _bodies(vertebrae, convention)
    label = _label_at(bodies.labels, Grid.of(vertebrae), point_index)
    if label not in bodies.order:
        raise ValueError("The clicked point is not on a labelled body.")
    seq = _sequence(level)
    if level not in seq:
        raise ValueError(f"{level!r} is not a vertebral level name (C1-C7, T1-T13, L1-L6, "
                         "sacrum).")
    rank = bodies.order.index(label)
    start = seq.index(level) - rank
    if start < 0 or start + len(bodies.order) > len(seq):
        raise ValueError(f"With this body as {level} the other bodies would fall off the "
                         "spine: check the level chosen.")
    names = seq[start:start + len(bodies.order)]
    summary = (f"The body named {bodies.names[rank]} was set to {level} and the others "
               f"counted from it: {names[0]}-{names[-1]}.")
    return _write(bodies, tuple(names), vertebrae, "name_at", summary, convention)


def _label_at(labels: np.ndarray, grid: Grid, point_index: tuple[int, int, int]) -> int:
    z, y, x = (int(v) for v in point_index)
    if not all(0 <= v < n for v, n in zip((z, y, x), labels.shape, strict=True)):
        raise ValueError(f"The point {point_index} lies outside the image.")
    if labels[z, y, x] > 0:
        return int(labels[z, y, x])
    radius = [int(np.ceil(5.0 / s)) for s in grid.sampling_zyx]
    box = tuple(slice(max(0, c - r), c + r + 1) for c, r in zip((z, y, x), radius, strict=True))
    sub = labels[box]
    if not np.any(sub > 0):
        raise ValueError("No body lies within 5 mm of the clicked point.")
    dist, (iz, iy, ix) = ndimage.distance_transform_edt(
        sub == 0, sampling=grid.sampling_zyx, return_indices=True)
    local = tuple(c - b.start for c, b in zip((z, y, x), box, strict=True))
    if dist[local] > 5.0:
        raise ValueError("No body lies within 5 mm of the clicked point.")
    return int(sub[iz[local], iy[local], ix[local]])
