"""Flat imaging columns and per-level rows of a case, read through :mod:`core.metrics`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.metrics import imaging_summary, levels_from_dicts
from core.store.checks import finite

#: Keys of the extract JSON that are not flat imaging columns (kept in their own tables).
_NESTED_ONLY = frozenset({"levels", "lesion_count_by_region", "vertebra_volume_ml",
                          "high_intensity_volume_ml", "provenance", "label_qc"})


def flatten_metrics(metrics: Mapping[str, object] | None) -> dict[str, object]:
    """Flat imaging columns from a ``core extract`` dict or a flat feature dict.

    ``lesion_count_<region>`` come from ``lesion_count_by_region`` when present (a region
    absent from it is 0 here: the extract JSON always lists all four) and
    ``involved_levels`` given as a list of level names becomes its length.
    """
    if not metrics:
        return {}
    summary = imaging_summary(metrics)
    flat = summary.flat_columns()
    if isinstance(metrics.get("lesion_count_by_region"), Mapping):
        for region, value in summary.lesion_count_by_region.items():
            flat[f"lesion_count_{region}"] = 0 if value is None else value
    unknown = set(metrics) - set(flat) - _NESTED_ONLY
    if unknown:
        raise ValueError(f"metrics has unknown key(s) {', '.join(sorted(map(repr, unknown)))}.")
    return flat


def level_rows(metrics: Mapping[str, object] | None) -> list[dict[str, Any]]:
    """The ``levels`` of an extraction as validated ``level_features`` rows, in order."""
    levels = levels_from_dicts((metrics or {}).get("levels") or [])
    return [{"order": order, **level.to_dict()} for order, level in enumerate(levels)]


def optional_float(metrics: Mapping[str, object] | None, key: str) -> float | None:
    """``metrics[key]`` as a finite float, or ``None`` when missing."""
    value = (metrics or {}).get(key)
    return None if value is None else finite(value, key)
