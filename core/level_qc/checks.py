"""The label-map checks: each takes the per-level geometry and returns findings.

Levels arrive in name order (craniocaudal by name, :func:`core.levels.map_labels`);
positions are the patient head-foot coordinate of each level's centre (LPS ``S``), so
the order check never assumes how the array is stored.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from statistics import median

from core.level_qc.findings import QCFinding
from core.level_qc.geometry import LevelGeometry
from core.level_qc.ranges import (
    CORD_MAX_CROSS_SECTION_MM2,
    CORD_MAX_INSCRIBED_RADIUS_MM,
    CORD_MAX_VOLUME_ML,
    NEIGHBOUR_RATIO,
    SMALL_FACTOR,
    VERTEBRAL_BODY_VOLUME_ML,
    WHOLE_VERTEBRA_FACTOR,
)
from core.levels import LabelConvention
from core.vocab import TRANSITIONAL_LEVELS, level_order

#: The 24 presacral levels and the sacrum (S1 or "sacrum"), the slots a map should fill
#: without gaps; T13 and L6 are optional (transitional).
_SLOTS: tuple[str, ...] = (*(f"C{i}" for i in range(1, 8)), *(f"T{i}" for i in range(1, 13)),
                           *(f"L{i}" for i in range(1, 6)), "sacrum")
#: A level must lie at least this far (mm) above the next level's centre.
ORDER_TOLERANCE_MM = 1.0
#: A level is on background when at least this share of its voxels is.
BACKGROUND_SHARE = 0.3


def is_cord_like(g: LevelGeometry) -> bool:
    """Shaped like a spinal-cord segment: thin (mean cross-section below
    ``CORD_MAX_CROSS_SECTION_MM2``), shallow (inscribed radius below
    ``CORD_MAX_INSCRIBED_RADIUS_MM``) and small (below ``CORD_MAX_VOLUME_ML``, unless
    the field of view cuts it: a long cord tube through the whole image)."""
    return (g.cross_section_mm2 < CORD_MAX_CROSS_SECTION_MM2
            and g.inscribed_radius_mm < CORD_MAX_INSCRIBED_RADIUS_MM
            and (g.volume_ml < CORD_MAX_VOLUME_ML or bool(g.cut_faces)))


def check_cord_map(geometry: Sequence[LevelGeometry], convention: LabelConvention,
                   ) -> list[QCFinding]:
    """``cord_level_map``: the convention labels cord segments by design (SCT), or most
    levels (those not cut by the field of view, else all) are shaped like cord."""
    whole = [g for g in geometry if not g.cut_faces] or list(geometry)
    cord = [g for g in whole if is_cord_like(g)]
    if convention.structure == "spinal_cord_levels":
        return [QCFinding.of("cord_level_map", (
            f"The {convention.name!r} labels mark spinal-cord segments named by level (about "
            "1 ml each, a thin tube inside the spinal canal), not vertebral bodies, so bone "
            "is not measured on them: give a vertebral-body map (VerSe, TotalSegmentator, "
            "SPINEPS) or name a body mask from this map with --convention binary "
            "--level-names-from."))]
    if whole and 2 * len(cord) >= len(whole):
        vol = median(g.volume_ml for g in cord)
        area = median(g.cross_section_mm2 for g in cord)
        return [QCFinding.of("cord_level_map", (
            f"{len(cord)} of {len(whole)} labelled levels are shaped like spinal-cord "
            f"segments (median {vol:.1f} ml, cross-section {area:.0f} mm², a thin tube), "
            "not vertebral bodies (1.2-45 ml by region), so bone is not measured on them: "
            "give a vertebral-body map or name a body mask from this map with --convention "
            "binary --level-names-from."))]
    return []


def _volume_range(region: str) -> tuple[float, float] | None:
    bounds = VERTEBRAL_BODY_VOLUME_ML.get(region)
    if bounds is None:
        return None
    return bounds[0] * SMALL_FACTOR, bounds[1] * WHOLE_VERTEBRA_FACTOR


def check_volumes(geometry: Sequence[LevelGeometry]) -> list[QCFinding]:
    """``implausible_volume``: outside the region's range (``low * SMALL_FACTOR`` to
    ``high * WHOLE_VERTEBRA_FACTOR``), or more than ``NEIGHBOUR_RATIO`` times (or less
    than 1 / that) the median of its labelled neighbours of the same region. Levels cut
    by the field of view are neither judged nor used as neighbours."""
    whole = [g for g in geometry if not g.cut_faces]
    findings = []
    for i, g in enumerate(whole):
        name, vol = g.level.name, g.volume_ml
        bounds = _volume_range(g.level.region)
        if bounds and not bounds[0] <= vol <= bounds[1]:
            findings.append(QCFinding.of("implausible_volume", (
                f"{name} measures {vol:.1f} ml, outside the {g.level.region} range "
                f"{bounds[0]:.1f}-{bounds[1]:.0f} ml: check that its label covers one "
                "whole vertebra (merged, fused or fragmentary label)."), name))
            continue
        near = [n.volume_ml for n in (whole[i - 1] if i else None,
                                      whole[i + 1] if i + 1 < len(whole) else None)
                if n is not None and n.level.region == g.level.region]
        if near:
            ref = median(near)
            if vol > NEIGHBOUR_RATIO * ref or vol * NEIGHBOUR_RATIO < ref:
                findings.append(QCFinding.of("implausible_volume", (
                    f"{name} measures {vol:.1f} ml against {ref:.1f} ml for its "
                    "neighbours: two bodies may share its label (merged or fused) or it "
                    "covers only part of one."), name))
    return findings


def check_sequence_gaps(geometry: Sequence[LevelGeometry]) -> list[QCFinding]:
    """``missing_level``: a standard level (C1-L5, the sacrum as S1 or "sacrum") absent
    between the highest and lowest labelled ones (T13 and L6 are optional)."""
    names = {g.level.name for g in geometry}
    if names & {"S1", "sacrum"}:
        names.add("sacrum")
    present = [i for i, slot in enumerate(_SLOTS) if slot in names]
    if len(present) < 2:
        return []
    findings = []
    for i in range(present[0] + 1, present[-1]):
        if _SLOTS[i] not in names:
            above = max(j for j in present if j < i)
            below = min(j for j in present if j > i)
            findings.append(QCFinding.of("missing_level", (
                f"{_SLOTS[i]} is missing between {_SLOTS[above]} and {_SLOTS[below]}: a "
                "body was not labelled or the levels are miscounted."), _SLOTS[i]))
    return findings


def check_duplicates(geometry: Sequence[LevelGeometry]) -> list[QCFinding]:
    """``duplicate_level``: one level name on two or more separate bodies stacked along
    the spine (see :data:`core.level_qc.geometry.SEPARATE_PART_SHARE`)."""
    return [QCFinding.of("duplicate_level", (
        f"{g.level.name} labels {g.separate_parts} separate bodies along the spine: rename "
        "them (New case correction, or --convention binary with --lowest/--highest)."),
        g.level.name) for g in geometry if g.separate_parts > 1]


def check_order(geometry: Sequence[LevelGeometry]) -> list[QCFinding]:
    """``order_inconsistent``: a level whose centre is not at least
    ``ORDER_TOLERANCE_MM`` above the next level's along the patient's head-foot axis."""
    ordered = sorted(geometry, key=lambda g: level_order(g.level.name))
    findings = []
    for upper, lower in itertools.pairwise(ordered):
        if float(upper.centre_mm[2] - lower.centre_mm[2]) < ORDER_TOLERANCE_MM:
            findings.append(QCFinding.of("order_inconsistent", (
                f"{upper.level.name} does not lie above {lower.level.name} along the "
                "patient's head-foot axis, so the level names are not in craniocaudal "
                "order (swapped or mislabelled bodies)."), upper.level.name))
    return findings


def check_transitional(geometry: Sequence[LevelGeometry]) -> list[QCFinding]:
    """``transitional_vertebra``: T13 or L6 labelled."""
    return [QCFinding.of("transitional_vertebra", (
        f"{g.level.name} is a transitional vertebra, present in a minority of people: "
        "check the counting from C2 or the sacrum before relying on level names."),
        g.level.name) for g in geometry if g.level.name in TRANSITIONAL_LEVELS]


def check_field_of_view(geometry: Sequence[LevelGeometry]) -> list[QCFinding]:
    """``partial_in_view``: a level cut by a face of the field of view."""
    return [QCFinding.of("partial_in_view", (
        f"{g.level.name} is cut by the {' and '.join(g.cut_faces)} "
        f"edge{'s' if len(g.cut_faces) > 1 else ''} of the field of view, so its volume "
        "and high-intensity ratio cover only the part inside the image."), g.level.name)
        for g in geometry if g.cut_faces]


def check_background(geometry: Sequence[LevelGeometry]) -> list[QCFinding]:
    """``label_on_background``: at least ``BACKGROUND_SHARE`` of a level's voxels lie on
    image background."""
    return [QCFinding.of("label_on_background", (
        f"{100 * g.background_share:.0f} % of {g.level.name}'s voxels lie where the image "
        "has no signal: the label map may be shifted or belong to another image."),
        g.level.name) for g in geometry if g.background_share >= BACKGROUND_SHARE]


def check_level_map(geometry: Sequence[LevelGeometry], convention: LabelConvention,
                    ) -> list[QCFinding]:
    """Every label-map check. A cord-level map gets only ``cord_level_map`` (and the
    field-of-view / background findings): vertebral-body checks do not apply to it."""
    cord = check_cord_map(geometry, convention)
    findings = list(cord)
    if not cord:
        findings += check_order(geometry)
        findings += check_duplicates(geometry)
        findings += check_volumes(geometry)
        findings += check_sequence_gaps(geometry)
        findings += check_transitional(geometry)
    findings += check_field_of_view(geometry)
    findings += check_background(geometry)
    return findings
