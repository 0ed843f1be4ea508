"""Scored studies, filtered, ordered and paginated in SQL.

:class:`StudyFilter` is the tumor board's and the cohort page's filter; :func:`page`
returns one page of studies with their stored scores under a model version (the
:data:`~core.store.LIST_COLUMNS` of ``list_studies`` plus the assessment columns of
:func:`core.assess.assess_frame`), :func:`count` the number of studies that pass. Both
use the indexes on ``studies.study_date`` and ``scores (model_version, ...)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Select, Subquery, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from core.store.checks import as_date
from core.store.cohort_read import cohort_frame, cohort_select, raw_frame
from core.store.schema import (
    LIST_COLUMNS,
    SCORE_COLUMNS,
    SCORE_TEXT_COLUMNS,
    Patient,
    PredictionRow,
    Study,
    StudyFeatures,
    scores,
)
from core.store.scores import OVERRIDE
from core.vocab import REGIONS, URGENCY_ORDER, region_count_column

#: Orders of :func:`page`: ``board`` (most urgent first, a fired override first, then
#: the most recent study), ``patient`` (patient, then date: ``list_studies``' order),
#: ``recent`` (newest study first), ``expected_vas`` (highest predicted pain first).
ORDERS: tuple[str, ...] = ("board", "patient", "recent", "expected_vas")
#: The orders that read the scores.
_SCORE_ORDERS: tuple[str, ...] = ("board", "expected_vas")
#: Columns of :func:`page`: ``list_studies``' columns, the assessment and when it was
#: computed (``NaT`` for a study not yet scored with the version).
PAGE_COLUMNS: tuple[str, ...] = (*LIST_COLUMNS, *SCORE_COLUMNS, "score_computed_at")


@dataclass(frozen=True)
class StudyFilter:
    """Which studies to list; empty selections and ``None`` mean "all".

    ``regions``: the board's region filter: a study passes when its region of
    involvement is one of them, or when a selected region (cervical, thoracic, lumbar,
    sacral) holds a lesion. ``categories``, ``tiers``, ``urgencies``, ``overrides_only``
    and ``regions`` read the scores of the model version queried. ``synthetic``:
    ``False`` leaves the synthetic (demo) studies out, ``True`` keeps only them.
    ``search``: part of the pseudonymous patient id (any letter case).
    """

    date_from: dt.date | str | None = None
    date_to: dt.date | str | None = None
    regions: Sequence[str] = ()
    categories: Sequence[str] = ()
    tiers: Sequence[str] = ()
    urgencies: Sequence[str] = ()
    overrides_only: bool = False
    synthetic: bool | None = None
    has_image: bool | None = None
    search: str = ""
    patient_id: str | None = None

    @property
    def needs_scores(self) -> bool:
        return bool(self.regions or self.categories or self.tiers or self.urgencies
                    or self.overrides_only)


def _collated(column: Any, dialect: str) -> Any:
    """Text ordered by code point whatever the database's locale (``C`` on PostgreSQL)."""
    return column.collate("C") if dialect == "postgresql" else column


def _conditions(f: StudyFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.date_from is not None:
        where.append(Study.study_date >= as_date(f.date_from, "date_from"))
    if f.date_to is not None:
        where.append(Study.study_date <= as_date(f.date_to, "date_to"))
    if f.synthetic is not None:
        where.append(Patient.synthetic.is_(bool(f.synthetic)))
    if f.has_image is not None:
        where.append(Study.image_ref.is_not(None) if f.has_image else Study.image_ref.is_(None))
    if f.search.strip():
        where.append(Patient.patient_id.icontains(f.search.strip(), autoescape=True))
    if f.patient_id is not None:
        where.append(Patient.patient_id == f.patient_id)
    if f.categories:
        where.append(scores.c.category.in_([str(c) for c in f.categories]))
    if f.tiers:
        where.append(scores.c.tier.in_([str(t) for t in f.tiers]))
    if f.urgencies:
        where.append(scores.c.urgency.in_([str(u) for u in f.urgencies]))
    if f.overrides_only:
        where.append(scores.c.headline_source == OVERRIDE)
    if f.regions:
        hits: list[ColumnElement[bool]] = [
            scores.c.region_of_involvement.in_([str(r) for r in f.regions])]
        hits += [getattr(StudyFeatures, region_count_column(r)) > 0
                 for r in f.regions if r in REGIONS]
        where.append(or_(*hits))
    return where


def _score_join(query: Select, model_version: str | None) -> Select:
    on = scores.c.study_id == Study.id
    on = and_(on, scores.c.model_version == model_version) if model_version else and_(
        on, false())
    return query.outerjoin(scores, on)


@dataclass(frozen=True)
class _Key:
    """One sort key of an order: an expression, its direction, and whether it is text
    compared by code point (:func:`_collated`)."""

    expression: Any
    descending: bool = False
    text: bool = False

    def sort(self, column: Any, dialect: str) -> Any:
        column = _collated(column, dialect) if self.text else column
        return column.desc() if self.descending else column


def _keys(order_by: str) -> list[_Key]:
    """The sort keys of ``order_by``; the last is the study id, so the order is total."""
    patient = _Key(Patient.patient_id, text=True)
    if order_by == "board":
        rank = {u: i for i, u in enumerate(reversed(URGENCY_ORDER))}
        return [_Key(case(rank, value=scores.c.urgency, else_=len(rank))),
                _Key(case((scores.c.headline_source == OVERRIDE, 0), else_=1)),
                _Key(Study.study_date, descending=True), patient, _Key(Study.id)]
    if order_by == "patient":
        return [patient, _Key(Study.study_date), _Key(Study.id)]
    if order_by == "recent":
        return [_Key(Study.study_date, descending=True), patient, _Key(Study.id)]
    if order_by == "expected_vas":
        return [_Key(case((scores.c.expected_vas.is_(None), 1), else_=0)),
                _Key(scores.c.expected_vas, descending=True),
                _Key(Study.study_date, descending=True), patient, _Key(Study.id)]
    raise ValueError(f"order_by {order_by!r} is not one of {', '.join(ORDERS)}.")


def _check(model_version: str | None, filters: StudyFilter) -> None:
    if filters.needs_scores and not model_version:
        raise ValueError("filtering by region, pain category, tier, urgency or override "
                         "reads the scores: give the model version.")


def count(session: Session, filters: StudyFilter | None = None,
          model_version: str | None = None) -> int:
    """The number of studies that pass ``filters`` (``SELECT count(*)``)."""
    filters = filters or StudyFilter()
    _check(model_version, filters)
    query = select(func.count()).select_from(Study).join(Patient, Study.patient_pk == Patient.id)
    if filters.regions:
        query = query.outerjoin(StudyFeatures, StudyFeatures.study_id == Study.id)
    if filters.needs_scores:
        query = _score_join(query, model_version)
    return int(session.scalar(query.where(*_conditions(filters))) or 0)


def _page_keys(filters: StudyFilter, model_version: str | None, order_by: str,
               dialect: str, limit: int | None, offset: int) -> tuple[Subquery, list[Any]]:
    """The page's study ids and sort keys, ordered and cut in SQL over the narrow rows
    the filters and the order need (studies, patients, and the scores or imaging values
    only when read), and the ``ORDER BY`` of the outer query over them.

    Sorting ids and keys instead of whole cohort rows keeps a deep page cheap: the
    database skips ``offset`` small rows (a bounded top-N sort), then joins the clinical
    and imaging values of the ``limit`` rows left."""
    keys = _keys(order_by)
    query = (select(Study.id.label("page_study_id"),
                    *(k.expression.label(f"page_key_{i}") for i, k in enumerate(keys)))
             .select_from(Study).join(Patient, Study.patient_pk == Patient.id))
    if filters.regions:
        query = query.outerjoin(StudyFeatures, StudyFeatures.study_id == Study.id)
    if filters.needs_scores or order_by in _SCORE_ORDERS:
        query = _score_join(query, model_version)
    query = (query.where(*_conditions(filters))
             .order_by(*(k.sort(k.expression, dialect) for k in keys)).offset(int(offset)))
    if limit is not None:
        query = query.limit(int(limit))
    ids = query.subquery("page")
    return ids, [k.sort(ids.c[f"page_key_{i}"], dialect) for i, k in enumerate(keys)]


def page(session: Session, model_version: str | None, filters: StudyFilter | None = None, *,
         order_by: str = "board", limit: int | None = 50, offset: int = 0) -> pd.DataFrame:
    """One page of studies with their scores of ``model_version`` (see
    :meth:`CaseStore.scored_studies`): one statement, whose inner query orders and cuts
    the study ids (:func:`_page_keys`) and whose outer query reads the page's rows."""
    filters = filters or StudyFilter()
    _check(model_version, filters)
    if limit is not None and (isinstance(limit, bool) or int(limit) < 0):
        raise ValueError(f"limit {limit!r} is not a count of rows.")
    if isinstance(offset, bool) or int(offset) < 0:
        raise ValueError(f"offset {offset!r} is not a count of rows.")
    dialect = session.get_bind().dialect.name
    ids, ordering = _page_keys(filters, model_version, order_by, dialect, limit, offset)
    extra = [getattr(scores.c, c).label(c) for c in SCORE_COLUMNS]
    query = _score_join(
        cohort_select(*extra, scores.c.computed_at.label("score_computed_at"))
        .join(ids, ids.c.page_study_id == Study.id), model_version).order_by(*ordering)
    rows = session.execute(query).all()
    names = [c.name for c in query.selected_columns]
    return _page_frame(session, raw_frame(rows, names))


def _latest_predictions(session: Session, study_ids: list[int]) -> dict[int, Any]:
    if not study_ids:
        return {}
    latest = (select(func.max(PredictionRow.id)).where(PredictionRow.study_id.in_(study_ids))
              .group_by(PredictionRow.study_id))
    query = select(PredictionRow).where(PredictionRow.id.in_(latest))
    return {p.study_id: p for p in session.scalars(query)}


def _page_frame(session: Session, raw: pd.DataFrame) -> pd.DataFrame:
    frame = cohort_frame(raw)
    index = frame.index
    lumbar = frame["lesion_count_lumbar"]
    columns: dict[str, Any] = {c: frame[c] for c in frame.columns if c != "has_image"}
    columns["lumbar_involved"] = (lumbar > 0).astype("float64").where(lumbar.notna())
    columns["has_image"] = frame["has_image"]
    predictions = _latest_predictions(session, frame["study_id"].tolist())
    found = [predictions.get(i) for i in frame["study_id"].tolist()]
    for column, attr in (("predicted_category", "category"), ("predicted_tier", "tier"),
                         ("predicted_model_version", "model_version")):
        columns[column] = pd.Series([getattr(p, attr) if p else None for p in found],
                                    index=index, dtype="str")
    columns["predicted_at"] = pd.to_datetime(pd.Series(
        [p.created_at if p else None for p in found], index=index, dtype="object")
    ).astype("datetime64[us]").dt.tz_localize("UTC")
    for column in SCORE_COLUMNS:
        values = raw[column].to_numpy()
        columns[column] = (
            pd.Series(values, index=index, dtype=object) if column in SCORE_TEXT_COLUMNS
            else pd.Series(pd.to_numeric(pd.Series(values, index=index, dtype=object)),
                           dtype="float64"))
    columns["score_computed_at"] = pd.to_datetime(pd.Series(
        raw["score_computed_at"].to_numpy(), index=index, dtype="object")
    ).astype("datetime64[us]")
    # built in one go (inserting the columns one at a time costs more than the query)
    return pd.DataFrame({c: columns[c] for c in PAGE_COLUMNS}, index=index
                        ).reset_index(drop=True)


def unscored_ids(frame: pd.DataFrame) -> np.ndarray:
    """Study ids of a page that have no score of the version (``score_computed_at`` NaT)."""
    return frame.loc[frame["score_computed_at"].isna(), "study_id"].to_numpy()
