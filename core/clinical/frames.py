"""Typed cohort frames: :func:`as_cohort_frame`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from core.clinical.cells import plain_cell
from core.clinical.schema import BOOLEAN_COLUMNS, COHORT_COLUMNS, TEXT_COLUMNS


def _typed_column(column: str, values: list[object]) -> pd.Series:
    """One column's plain cell values as the series :func:`as_cohort_frame` documents."""
    if column in TEXT_COLUMNS:
        return pd.Series(values, dtype="str")
    if column == "study_date":
        return pd.to_datetime(pd.Series(values, dtype="object")).astype("datetime64[us]")
    if column in BOOLEAN_COLUMNS:
        if column == "synthetic":
            values = [False if v is None else v for v in values]
        if any(v is None for v in values):
            return pd.Series([None if v is None else bool(v) for v in values], dtype="object")
        return pd.Series([bool(v) for v in values], dtype="bool")
    return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")


def as_cohort_frame(frame: pd.DataFrame | Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Put a cohort table into the canonical column order and dtypes.

    ``patient_id``, ``sex``, ``primary_tumor``, ``bilsky_grade``: pandas ``str``;
    ``study_date``: ``datetime64[us]`` (dates at midnight); every number (including
    whole-number columns): ``float64`` with NaN for missing, so rows map directly onto
    :func:`core.features.features_from_case`; yes/no columns: ``bool``, or ``object``
    holding ``True``/``False``/``None`` when a value is missing. Missing optional columns
    are added empty. The index is reset.
    """
    source = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(list(frame))
    out = pd.DataFrame(index=pd.RangeIndex(len(source)))
    for column in COHORT_COLUMNS:
        values = (
            source[column].tolist() if column in source.columns else [None] * len(source)
        )
        out[column] = _typed_column(column, [plain_cell(v) for v in values])
    return out
