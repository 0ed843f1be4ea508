"""Studies as cohort rows straight from SQL (core ``select``, no ORM objects): the
columns and types of :meth:`CaseStore.list_studies`, for scoring and for pages.

:func:`cohort_select` joins a study with its patient, clinical values and imaging
values; :func:`cohort_frame` types the result rows exactly as ``list_studies`` does
(:func:`core.clinical.as_cohort_frame` of :func:`core.store.rows.row_dict`, through
:func:`core.clinical.bulk.typed_cohort_frame`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, select

from core.clinical import (
    BOOLEAN_COLUMNS,
    COHORT_COLUMNS,
    DEFICIT_COLUMN,
    IMAGING_COLUMNS,
    NUMERIC_COLUMNS,
    STUDY_CLINICAL_COLUMNS,
)
from core.clinical.bulk import distinct_cells, typed_cohort_frame
from core.store.rows import deficit_value
from core.store.schema import ClinicalValues, Patient, Study, StudyFeatures

#: Columns of :func:`cohort_select` besides the cohort columns.
EXTRA = ("study_id", "has_image")


def cohort_select(*extra: Any) -> Select:
    """``study_id``, the cohort columns and ``has_image`` of every study (plus ``extra``
    columns), studies joined with patients, clinical and imaging values."""
    clinical = [getattr(ClinicalValues, c).label(c) for c in STUDY_CLINICAL_COLUMNS]
    imaging = [getattr(StudyFeatures, c).label(c) for c in IMAGING_COLUMNS]
    return (
        select(Study.id.label("study_id"), Patient.patient_id.label("patient_id"),
               Study.study_date.label("study_date"), Patient.sex.label("sex"),
               Patient.primary_tumor.label("primary_tumor"), *clinical, *imaging,
               Patient.synthetic.label("synthetic"),
               Study.image_ref.is_not(None).label("has_image"), *extra)
        .select_from(Study)
        .join(Patient, Study.patient_pk == Patient.id)
        .outerjoin(ClinicalValues, ClinicalValues.study_id == Study.id)
        .outerjoin(StudyFeatures, StudyFeatures.study_id == Study.id)
    )


def raw_frame(rows: Sequence[Any], names: Sequence[str]) -> pd.DataFrame:
    """Result rows as object columns (values as the driver gave them), built in one go
    (inserting the columns one at a time costs more than reading a page's rows)."""
    index = pd.RangeIndex(len(rows))
    data: dict[str, pd.Series] = {}
    for k, name in enumerate(names):
        column = np.empty(len(rows), dtype=object)
        column[:] = [r[k] for r in rows]
        data[name] = pd.Series(column, index=index, dtype=object, copy=False)
    return pd.DataFrame(data, index=index, columns=list(names))


def _typed_from_sql(raw: pd.DataFrame, index: pd.RangeIndex) -> dict[str, pd.Series]:
    """The numeric, date and complete yes/no columns of SQL rows already in the dtypes of
    :func:`core.clinical.as_cohort_frame`, by array conversions (the database gives
    numbers, dates, booleans or ``None``), so :func:`typed_cohort_frame` takes them as
    they are instead of reading every cell; the other columns go through it."""
    out: dict[str, pd.Series] = {}
    for column in NUMERIC_COLUMNS:
        out[column] = pd.Series(raw[column].to_numpy(), index=index,
                                dtype=object).astype("float64")
    out["study_date"] = pd.to_datetime(pd.Series(
        raw["study_date"].to_numpy(), index=index, dtype=object)).astype("datetime64[us]")
    for column in BOOLEAN_COLUMNS:
        values = raw[column].to_numpy()
        if column != "synthetic" and not pd.isna(values).any():
            out[column] = pd.Series(values.astype(bool), index=index)
    return out


def cohort_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """``study_id``, the cohort columns typed as ``list_studies`` types them, and
    ``has_image``, from a :func:`raw_frame` of :func:`cohort_select` rows."""
    raw = raw.reset_index(drop=True)
    codes, reps = distinct_cells(raw[DEFICIT_COLUMN])
    table = np.empty(len(reps), dtype=object)
    table[:] = [deficit_value(r) for r in reps]
    index = pd.RangeIndex(len(raw))
    columns = {c: raw[c] for c in COHORT_COLUMNS}
    columns[DEFICIT_COLUMN] = pd.Series(table[codes], index=index, dtype=object)
    columns["synthetic"] = pd.Series(
        np.fromiter((bool(v) for v in raw["synthetic"]), dtype=bool, count=len(raw)),
        index=index)
    columns.update(_typed_from_sql(raw, index))
    typed = typed_cohort_frame(pd.DataFrame(columns, index=index))
    return pd.concat([
        pd.DataFrame({"study_id": raw["study_id"].astype("int64").to_numpy()}, index=index),
        typed,
        pd.DataFrame({"has_image": np.fromiter((bool(v) for v in raw["has_image"]),
                                               dtype=bool, count=len(raw))}, index=index),
    ], axis=1)
