"""Flat imaging columns and per-level rows decoded from the ``core extract`` JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.clinical import REGION_COUNT_COLUMNS
from core.features import REGIONS
from core.store.checks import finite


def flatten_metrics(metrics: Mapping[str, object] | None) -> dict[str, object]:
    """Flat imaging columns from a ``core extract`` dict or a flat feature dict.

    ``lesion_count_<region>`` come from ``lesion_count_by_region`` when present and
    ``involved_levels`` given as a list of level names becomes its length.
    """
    if not metrics:
        return {}
    flat: dict[str, object] = {}
    by_region = metrics.get("lesion_count_by_region")
    for column, region in zip(REGION_COUNT_COLUMNS, REGIONS, strict=True):
        if isinstance(by_region, Mapping):
            flat[column] = by_region.get(region, 0)
        else:
            flat[column] = metrics.get(column)
    involved = metrics.get("involved_levels")
    flat["involved_levels"] = len(involved) if isinstance(involved, list | tuple) else involved
    for column in ("lesion_count", "high_intensity_ratio", "max_level_high_intensity_ratio"):
        flat[column] = metrics.get(column)
    unknown = set(metrics) - set(flat) - {
        "levels", "lesion_count_by_region", "vertebra_volume_ml", "high_intensity_volume_ml",
        "provenance",
    }
    if unknown:
        raise ValueError(f"metrics has unknown key(s) {', '.join(sorted(map(repr, unknown)))}.")
    return flat


def level_rows(metrics: Mapping[str, object] | None) -> list[dict[str, Any]]:
    """The ``levels`` of an extraction as validated ``level_features`` rows, in order."""
    levels = (metrics or {}).get("levels") or []
    if not isinstance(levels, list | tuple):
        raise ValueError("metrics['levels'] must be a list of level dicts.")
    rows = []
    seen: set[str] = set()
    for order, level in enumerate(levels):
        if not isinstance(level, Mapping):
            raise ValueError("metrics['levels'] must be a list of level dicts.")
        name, region = level.get("level"), level.get("region")
        if not isinstance(name, str) or not name or len(name) > 8 or name in seen:
            raise ValueError(f"level name {name!r} is missing, too long or repeated.")
        if region not in REGIONS:
            raise ValueError(f"level {name} has unknown region {region!r}.")
        seen.add(name)
        count = level.get("lesion_count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"level {name} lesion_count {count!r} is not a whole number >= 0.")
        ratio = finite(level.get("high_intensity_ratio"), f"level {name} high_intensity_ratio")
        if not 0 <= ratio <= 1:
            raise ValueError(f"level {name} high_intensity_ratio {ratio!r} is not in [0, 1].")
        rows.append({
            "order": order,
            "level": name,
            "region": region,
            "vertebra_volume_ml": finite(level.get("vertebra_volume_ml"),
                                         f"level {name} vertebra_volume_ml"),
            "high_intensity_volume_ml": finite(level.get("high_intensity_volume_ml"),
                                               f"level {name} high_intensity_volume_ml"),
            "high_intensity_ratio": ratio,
            "lesion_count": count,
        })
    return rows


def optional_float(metrics: Mapping[str, object] | None, key: str) -> float | None:
    """``metrics[key]`` as a finite float, or ``None`` when missing."""
    value = (metrics or {}).get(key)
    return None if value is None else finite(value, key)

