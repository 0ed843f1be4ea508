"""Which vertebral levels an imaging feature's value comes from (the linked explanation).

A SHAP bar of an imaging feature explains the prediction through a number measured on
some levels; selecting the bar highlights those levels and their lesions in the viewer
and the spine diagram. The sources follow each feature's definition
(:data:`core.features.FEATURES`, computed in :mod:`core.lesions` / :mod:`core.metrics`):

==============================  ===================================================
feature                         levels it comes from
==============================  ===================================================
``lesion_count``                every level with a lesion
``lesion_count_noncervical``    thoracic, lumbar and sacral levels with a lesion
``lesion_count_lumbosacral``    lumbar and sacral levels with a lesion
``involved_levels``             every level with a lesion (the levels it counts)
``high_intensity_ratio``        every level with high-intensity volume (the numerator)
``max_level_high_intensity_ratio``  the level(s) with the largest per-level HI ratio
==============================  ===================================================

Clinical features come from no level: :func:`feature_levels` returns ``()`` for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from core.features import FEATURES_BY_NAME
from core.vocab import REGIONS, finite_float, sort_levels

#: Imaging feature -> (what a level must carry, the regions it counts).
FEATURE_SOURCES: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType({
    "lesion_count": ("lesions", REGIONS),
    "lesion_count_noncervical": ("lesions", ("thoracic", "lumbar", "sacral")),
    "lesion_count_lumbosacral": ("lesions", ("lumbar", "sacral")),
    "involved_levels": ("lesions", REGIONS),
    "high_intensity_ratio": ("high_intensity", REGIONS),
    "max_level_high_intensity_ratio": ("worst_level", REGIONS),
})


def _number(row: Mapping[str, object], key: str) -> float:
    value = finite_float(row.get(key))
    return 0.0 if value is None else value


def feature_levels(name: str, levels: Sequence[Mapping[str, object]]) -> tuple[str, ...]:
    """Level names (craniocaudal) whose measurements make up feature ``name``.

    Parameters
    ----------
    name : str
        A model feature (:data:`core.features.FEATURE_NAMES`).
    levels : sequence of mapping
        Per-level rows (``level``, ``region``, ``lesion_count``,
        ``high_intensity_volume_ml``, ``high_intensity_ratio``) as stored with a study.

    Raises
    ------
    ValueError
        For a name that is not a model feature.
    """
    if name not in FEATURES_BY_NAME:
        raise ValueError(f"feature {name!r} is not a model feature.")
    source = FEATURE_SOURCES.get(name)
    if source is None:
        return ()
    kind, regions = source
    rows = [r for r in levels if r.get("region") in regions and r.get("level")]
    if kind == "lesions":
        chosen = [r for r in rows if _number(r, "lesion_count") > 0]
    elif kind == "high_intensity":
        chosen = [r for r in rows if _number(r, "high_intensity_volume_ml") > 0
                  or _number(r, "high_intensity_ratio") > 0]
    else:
        worst = max((_number(r, "high_intensity_ratio") for r in rows), default=0.0)
        chosen = [r for r in rows if worst > 0 and _number(r, "high_intensity_ratio") == worst]
    return tuple(sort_levels(str(r["level"]) for r in chosen))


def worst_level(levels: Sequence[Mapping[str, object]]) -> str | None:
    """The level with the largest HI ratio (the first craniocaudally on a tie), or
    ``None`` when no level has high-intensity volume."""
    names = feature_levels("max_level_high_intensity_ratio", levels)
    return names[0] if names else None
