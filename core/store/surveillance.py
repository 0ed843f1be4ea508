"""Indexed reads for pain surveillance: per-patient studies, per-level rows over time.

The surveillance page reads one patient's per-level measurements across all their
studies, and the cohort worklist the per-level rows of every patient with two or more
studies. Each query walks an index the tables already have (no new index is needed;
``tests/test_store_surveillance.py`` checks SQLite's query plan):

* a patient by pseudonym: ``ix_patients_patient_id`` (unique index on
  ``patients.patient_id``);
* that patient's studies in date order: ``uq_patient_date`` (the unique constraint on
  ``studies (patient_pk, study_date)``, whose index SQLite names
  ``sqlite_autoindex_studies_1``) or ``ix_studies_patient_pk``;
* each study's levels: ``ix_level_features_study_id`` or ``uq_study_level`` (unique
  ``level_features (study_id, level)``);
* patients with at least ``n`` studies: a ``GROUP BY studies.patient_pk`` read from an
  index on ``patient_pk`` alone (a covering index scan, never the table).

PostgreSQL builds the same indexes from the same metadata (unique constraints and
``index=True`` columns of :mod:`core.store.schema`), so the plans there use them too.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.store.schema import LevelFeature, Patient, Study

#: Columns of :func:`patient_levels` and :func:`cohort_levels`.
LEVEL_HISTORY_COLUMNS: tuple[str, ...] = (
    "patient_id", "study_id", "study_date", "level", "region", "order",
    "vertebra_volume_ml", "high_intensity_volume_ml", "high_intensity_ratio", "lesion_count",
)
#: Columns of :func:`study_counts`.
STUDY_COUNT_COLUMNS: tuple[str, ...] = (
    "patient_id", "synthetic", "n_studies", "first_study_date", "last_study_date",
)


def _check_min_studies(min_studies: int) -> int:
    if isinstance(min_studies, bool) or not isinstance(min_studies, int) or min_studies < 1:
        raise ValueError(f"min_studies {min_studies!r} is not a whole number >= 1.")
    return min_studies


def _levels_select() -> Select:
    return (
        select(Patient.patient_id, Study.id.label("study_id"), Study.study_date,
               LevelFeature.level, LevelFeature.region, LevelFeature.order,
               LevelFeature.vertebra_volume_ml, LevelFeature.high_intensity_volume_ml,
               LevelFeature.high_intensity_ratio, LevelFeature.lesion_count)
        .join(Study, Study.patient_pk == Patient.id)
        .join(LevelFeature, LevelFeature.study_id == Study.id)
    )


def patient_levels_query(patient_id: str) -> Select:
    """Per-level rows of every study of one patient, by date then craniocaudally."""
    return (_levels_select().where(Patient.patient_id == str(patient_id))
            .order_by(Study.study_date, LevelFeature.order))


def patients_with_studies(min_studies: int = 2) -> Select:
    """``patient_pk`` of the patients with at least ``min_studies`` studies (a grouped,
    covering read of an index on ``studies.patient_pk``)."""
    return (select(Study.patient_pk).group_by(Study.patient_pk)
            .having(func.count(Study.id) >= _check_min_studies(min_studies)))


def cohort_levels_query(min_studies: int = 2, synthetic: bool | None = None,
                        patient_ids: Sequence[str] | None = None) -> Select:
    """Per-level rows of every study of the patients with at least ``min_studies``
    studies (of those ``patient_ids`` when given), by patient, date and level."""
    query = _levels_select().where(Study.patient_pk.in_(patients_with_studies(min_studies)))
    if synthetic is not None:
        query = query.where(Patient.synthetic.is_(bool(synthetic)))
    if patient_ids is not None:
        query = query.where(Patient.patient_id.in_([str(p) for p in patient_ids]))
    return query.order_by(Patient.patient_id, Study.study_date, LevelFeature.order)


def study_counts_query(synthetic: bool | None = None) -> Select:
    """Studies per patient with the first and last study date."""
    query = (select(Patient.patient_id, Patient.synthetic,
                    func.count(Study.id).label("n_studies"),
                    func.min(Study.study_date).label("first_study_date"),
                    func.max(Study.study_date).label("last_study_date"))
             .join(Study, Study.patient_pk == Patient.id)
             .group_by(Patient.id, Patient.patient_id, Patient.synthetic))
    if synthetic is not None:
        query = query.where(Patient.synthetic.is_(bool(synthetic)))
    return query.order_by(Patient.patient_id)


def _frame(session: Session, query: Select, columns: tuple[str, ...]) -> pd.DataFrame:
    rows = session.execute(query).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns))
    for column in ("study_date", "first_study_date", "last_study_date"):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column])
    if "study_id" in frame.columns:
        frame["study_id"] = frame["study_id"].astype("int64")
    return frame


def patient_levels(session: Session, patient_id: str) -> pd.DataFrame:
    """:data:`LEVEL_HISTORY_COLUMNS` of one patient's studies (empty without per-level
    measurements; an unknown patient gives an empty frame too)."""
    return _frame(session, patient_levels_query(patient_id), LEVEL_HISTORY_COLUMNS)


def cohort_levels(session: Session, *, min_studies: int = 2, synthetic: bool | None = None,
                  patient_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """:data:`LEVEL_HISTORY_COLUMNS` of the patients with at least ``min_studies``
    studies (what the worklist compares; of those ``patient_ids`` when given)."""
    return _frame(session, cohort_levels_query(min_studies, synthetic, patient_ids),
                  LEVEL_HISTORY_COLUMNS)


def study_counts(session: Session, *, synthetic: bool | None = None) -> pd.DataFrame:
    """:data:`STUDY_COUNT_COLUMNS`, one row per patient, ordered by patient id."""
    frame = _frame(session, study_counts_query(synthetic), STUDY_COUNT_COLUMNS)
    frame["synthetic"] = frame["synthetic"].astype(bool)
    frame["n_studies"] = frame["n_studies"].astype("int64")
    return frame
