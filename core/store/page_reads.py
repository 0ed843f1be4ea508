"""Small SQL reads the pages need besides a page of scored studies
(:mod:`core.store.scored`): the span of study dates, the stored values of a score
column, the studies a model version could not assess, the scores of a few studies and
the whole cohort with its stored scores (one query, typed as ``list_studies`` types it).

Each function takes an open session; :class:`core.store.views.StoreViews` wraps them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from core.store.bulk import IN_CHUNK, chunks
from core.store.cohort_read import cohort_frame, cohort_select, raw_frame
from core.store.schema import SCORE_COLUMNS, SCORE_TEXT_COLUMNS, Patient, Study, scores

#: Score columns whose distinct values :func:`score_values` lists.
VALUE_COLUMNS: tuple[str, ...] = ("category", "tier", "urgency", "headline_source",
                                  "region_of_involvement")
#: Columns of :func:`assessment_errors`.
ERROR_COLUMNS: tuple[str, ...] = ("study_id", "patient_id", "assessment_error")


def date_range(session: Session) -> tuple[dt.date | None, dt.date | None]:
    """The first and last study date (``None`` for an empty store)."""
    low, high = session.execute(select(func.min(Study.study_date),
                                       func.max(Study.study_date))).one()
    return low, high


def score_values(session: Session, model_version: str, column: str) -> list[str]:
    """The distinct stored values of a text score column under ``model_version``, sorted."""
    if column not in VALUE_COLUMNS:
        raise ValueError(f"score column {column!r} is not one of {', '.join(VALUE_COLUMNS)}.")
    values = session.scalars(select(scores.c[column]).distinct().where(
        scores.c.model_version == model_version, scores.c[column].is_not(None))).all()
    return sorted(str(v) for v in values)


def assessment_errors(session: Session, model_version: str) -> pd.DataFrame:
    """Studies whose stored score of ``model_version`` is an assessment error, with the
    reason (:data:`ERROR_COLUMNS`, by study id)."""
    query = (select(Study.id, Patient.patient_id, scores.c.assessment_error)
             .select_from(scores)
             .join(Study, Study.id == scores.c.study_id)
             .join(Patient, Study.patient_pk == Patient.id)
             .where(scores.c.model_version == model_version,
                    scores.c.assessment_error.is_not(None))
             .order_by(Study.id))
    rows = session.execute(query).all()
    return pd.DataFrame({
        "study_id": pd.Series([int(r[0]) for r in rows], dtype="int64"),
        "patient_id": pd.Series([str(r[1]) for r in rows], dtype=object),
        "assessment_error": pd.Series([str(r[2]) for r in rows], dtype=object)})


def _typed(column: str, values: list) -> pd.Series:
    """A score column's values: text as objects (``None`` when missing), numbers as
    float64 (NaN when missing)."""
    if column in SCORE_TEXT_COLUMNS:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return pd.Series(out, dtype=object)
    return pd.Series(np.array([np.nan if v is None else float(v) for v in values],
                              dtype=np.float64))


def _typed_scores(raw: pd.DataFrame) -> dict[str, pd.Series]:
    return {c: _typed(c, raw[c].tolist()) for c in SCORE_COLUMNS}


def scores_of(session: Session, model_version: str, study_ids: Sequence[int]) -> pd.DataFrame:
    """The stored scores of ``model_version`` of these studies (``study_id`` and
    :data:`~core.store.schema.SCORE_COLUMNS`; a study without one is left out)."""
    rows: list = []
    for part in chunks(sorted({int(i) for i in study_ids}), IN_CHUNK):
        rows += session.execute(select(scores.c.study_id, *(scores.c[c] for c in SCORE_COLUMNS))
                                .where(scores.c.model_version == model_version,
                                       scores.c.study_id.in_(part))).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * (1 + len(SCORE_COLUMNS))
    data: dict[str, pd.Series] = {"study_id": pd.Series(np.array(columns[0], dtype=np.int64))}
    data.update({c: _typed(c, list(columns[k + 1])) for k, c in enumerate(SCORE_COLUMNS)})
    return pd.DataFrame(data)


def scored_select(model_version: str | None) -> Select:
    """:func:`~core.store.cohort_read.cohort_select` of every study with its stored score
    of ``model_version`` (``score_<column>``; missing for a study not yet scored), in
    ``study_id`` order (narrow it with ``.where``)."""
    on = scores.c.study_id == Study.id
    on = and_(on, scores.c.model_version == (model_version or ""))
    extra = [scores.c[c].label(f"score_{c}") for c in SCORE_COLUMNS]
    return cohort_select(*extra).outerjoin(scores, on).order_by(Study.id)


def scored_rows(session: Session, query: Select) -> pd.DataFrame:
    """The rows of a :func:`scored_select` query, typed as :func:`scored_cohort` types
    them (one query, no per-study Python)."""
    rows = session.connection().execute(query).all()  # core rows: no ORM loading
    raw = raw_frame(rows, [c.name for c in query.selected_columns])
    frame = cohort_frame(raw)
    renamed = raw[[f"score_{c}" for c in SCORE_COLUMNS]].set_axis(list(SCORE_COLUMNS), axis=1)
    typed = {c: v.set_axis(frame.index) for c, v in _typed_scores(renamed).items()}
    return pd.concat([frame, pd.DataFrame(typed)], axis=1)


def scored_cohort(session: Session, model_version: str | None) -> pd.DataFrame:
    """Every study as :meth:`CaseStore.list_studies` types it (``study_id``, the cohort
    columns, ``has_image``) with its stored score of ``model_version`` (the columns of
    :func:`core.assess.assess_frame`; missing for a study not yet scored), in
    ``study_id`` order: one query, no per-study Python."""
    return scored_rows(session, scored_select(model_version))
