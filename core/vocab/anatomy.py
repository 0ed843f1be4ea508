"""Regions, vertebral levels and their craniocaudal order, regions of involvement."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a frame is handled, not with the vocabulary
    import pandas as pd

# =========================================================================== regions

#: Spinal regions in craniocaudal order (the coccyx is counted as sacral).
REGIONS: tuple[str, ...] = ("cervical", "thoracic", "lumbar", "sacral")

#: One colour per region (charts, spine diagram, report).
REGION_COLOURS: Mapping[str, str] = MappingProxyType({
    "cervical": "#1f77b4", "thoracic": "#2ca02c", "lumbar": "#d62728", "sacral": "#9467bd",
})

#: Per-region lesion-count column of flat tables (``lesion_count_lumbar`` ...).
REGION_COUNT_COLUMNS: tuple[str, ...] = tuple(f"lesion_count_{r}" for r in REGIONS)


def region_count_column(region: str) -> str:
    """Flat column name of a region's lesion count (``"lumbar"`` -> ``lesion_count_lumbar``).

    Raises
    ------
    ValueError
        For a name that is not one of :data:`REGIONS`.
    """
    if region not in REGIONS:
        raise ValueError(f"region {region!r} is not one of {', '.join(REGIONS)}.")
    return f"lesion_count_{region}"


# ============================================================================ levels


def _level_names() -> tuple[str, ...]:
    names = [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 14)]
    names += [f"L{i}" for i in range(1, 7)] + ["S1", "sacrum", "coccyx"]
    return tuple(names)


#: Every level name in craniocaudal order (T13 and L6 are transitional vertebrae).
LEVEL_NAMES: tuple[str, ...] = _level_names()

#: Transitional vertebrae: present in some people, a reason to check the counting.
TRANSITIONAL_LEVELS: frozenset[str] = frozenset({"T13", "L6"})

_PREFIX_REGION = {"C": "cervical", "T": "thoracic", "L": "lumbar"}

#: Level name -> (region, craniocaudal order): C1 = 1 ... T12 = 19, T13 = 20, L1 = 21 ...
#: L6 = 26, S1 = 27, sacrum = 28, coccyx = 29. Read-only.
ANATOMY: Mapping[str, tuple[str, int]] = MappingProxyType({
    name: (_PREFIX_REGION.get(name[0], "sacral"), order)
    for order, name in enumerate(LEVEL_NAMES, start=1)
})

#: Sort key of an unknown level name: after every known level.
UNKNOWN_LEVEL_ORDER = 1000


def is_level(name: object) -> bool:
    """Whether ``name`` is a known level name (exact spelling, e.g. ``"L3"``, ``"sacrum"``)."""
    return isinstance(name, str) and name in ANATOMY


def level_region(name: str) -> str:
    """Region of a level name.

    Raises
    ------
    ValueError
        For an unknown level name.
    """
    try:
        return ANATOMY[name][0]
    except (KeyError, TypeError):
        raise ValueError(f"level {name!r} is not a vertebral level name.") from None


def level_order(name: object) -> int:
    """Craniocaudal rank of a level name; unknown names sort last
    (:data:`UNKNOWN_LEVEL_ORDER`)."""
    entry = ANATOMY.get(name) if isinstance(name, str) else None
    return entry[1] if entry else UNKNOWN_LEVEL_ORDER


def sort_levels(names: object) -> list[str]:
    """Distinct level names in craniocaudal order (unknown names last, by name)."""
    unique = {str(n) for n in names}  # type: ignore[union-attr]
    return sorted(unique, key=lambda n: (level_order(n), n))


def check_level_names(names: object, *, field: str = "involved_levels") -> tuple[str, ...]:
    """Validate a list of level names; return them in craniocaudal order, distinct.

    Raises
    ------
    ValueError
        Naming the first unknown level.
    """
    ordered = sort_levels(names)
    unknown = [n for n in ordered if n not in ANATOMY]
    if unknown:
        raise ValueError(f"{field} contains {unknown[0]!r}, which is not a vertebral level "
                         "name (C1-C7, T1-T13, L1-L6, S1, sacrum, coccyx).")
    return tuple(ordered)


# ============================================================= region of involvement

#: Where a study's lesions are, for lists and filters: one region, several, none, or
#: unknown (regional counts not recorded).
INVOLVEMENT_VALUES: tuple[str, ...] = (*REGIONS, "multiple", "none", "unknown")

#: The paper's comparison groups (Kong 2025): any lumbar lesion; thoracic only; cervical
#: only; everything else with lesions (thoracic + cervical, sacral). Studies without a
#: lesion, or without regional counts, are ``"none"`` / ``"unknown"`` and leave the
#: comparison.
PAPER_GROUPS: tuple[str, ...] = ("cervical only", "thoracic only", "lumbar", "other")

#: Colours of involvement values and paper groups (same hue per region).
GROUP_COLOURS: Mapping[str, str] = MappingProxyType({
    "cervical only": REGION_COLOURS["cervical"], "cervical": REGION_COLOURS["cervical"],
    "thoracic only": REGION_COLOURS["thoracic"], "thoracic": REGION_COLOURS["thoracic"],
    "lumbar": REGION_COLOURS["lumbar"], "sacral": REGION_COLOURS["sacral"],
    "other": "#7f7f7f", "multiple": "#7f7f7f", "none": "#bdbdbd", "unknown": "#e0e0e0",
})


def _region_counts(frame: pd.DataFrame) -> np.ndarray:
    """``(n, 4)`` float array of the regional counts (NaN where missing or absent)."""
    import pandas as pd

    columns = [
        pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
        if c in frame.columns else np.full(len(frame), np.nan)
        for c in REGION_COUNT_COLUMNS
    ]
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def involvement(frame: pd.DataFrame) -> pd.Series:
    """Region of involvement of every row (vectorised).

    ``cervical`` / ``thoracic`` / ``lumbar`` / ``sacral`` when all lesions are in that
    region, ``multiple`` when in several, ``none`` without lesions, ``unknown`` when any
    regional count is missing.
    """
    import pandas as pd

    counts = _region_counts(frame)
    unknown = np.isnan(counts).any(axis=1)
    positive = np.nan_to_num(counts) > 0
    n_regions = positive.sum(axis=1)
    single = np.asarray(REGIONS, dtype=object)[positive.argmax(axis=1)]
    out = np.where(n_regions == 0, "none", np.where(n_regions == 1, single, "multiple"))
    out = np.where(unknown, "unknown", out).astype(object)
    return pd.Series(out, index=frame.index, name="region_of_involvement", dtype=object)


def involvement_of(counts: Mapping[str, object]) -> str:
    """:func:`involvement` of one case given as a mapping with the regional counts."""
    import pandas as pd

    row = pd.DataFrame([{c: counts.get(c) for c in REGION_COUNT_COLUMNS}])
    return str(involvement(row).iloc[0])


def paper_region_group(frame: pd.DataFrame) -> pd.Series:
    """The paper's region group of every row (vectorised, see :data:`PAPER_GROUPS`).

    ``"lumbar"``: any lumbar lesion; ``"thoracic only"``: thoracic and no other lesion;
    ``"cervical only"``: cervical only; ``"other"``: any other combination with lesions;
    ``"none"`` without lesions and ``"unknown"`` when a needed regional count is missing.
    """
    import pandas as pd

    counts = _region_counts(frame)
    c, t, lu, s = (np.nan_to_num(counts[:, i]) > 0 for i in range(4))
    out = np.where(lu, "lumbar",
                   np.where(t & ~c & ~s, "thoracic only",
                            np.where(c & ~t & ~s, "cervical only",
                                     np.where(c | t | s, "other", "none"))))
    unknown = np.isnan(counts).any(axis=1) & ~lu
    out = np.where(unknown, "unknown", out).astype(object)
    return pd.Series(out, index=frame.index, name="region_group", dtype=object)
