"""Reading the store: row counts, the study list (cohort columns plus the latest
prediction), and the full record of one study."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.clinical import CLINICAL_COLUMNS, IMAGING_COLUMNS, as_cohort_frame
from core.store.checks import as_date
from core.store.records import StudyRecord
from core.store.rows import get_study, row_dict
from core.store.schema import (
    LIST_COLUMNS,
    TABLES,
    Base,
    ClinicalValues,
    Patient,
    PredictionRow,
    Study,
    StudyFeatures,
)


def count_rows(session: Session) -> dict[str, int]:
    """Row count of every table of :data:`TABLES` (``SELECT count(*)``, one per table)."""
    return {
        name: int(session.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
                  or 0)
        for name in TABLES
    }


def _study_query() -> Select:
    latest = (
        select(PredictionRow.study_id, func.max(PredictionRow.id).label("pred_id"))
        .group_by(PredictionRow.study_id)
        .subquery()
    )
    return (
        select(Study, Patient, ClinicalValues, StudyFeatures, PredictionRow)
        .join(Patient, Study.patient_pk == Patient.id)
        .outerjoin(ClinicalValues, ClinicalValues.study_id == Study.id)
        .outerjoin(StudyFeatures, StudyFeatures.study_id == Study.id)
        .outerjoin(latest, latest.c.study_id == Study.id)
        .outerjoin(PredictionRow, PredictionRow.id == latest.c.pred_id)
    )


def _filtered_query(
    *,
    patient_id: str | None,
    synthetic: bool | None,
    date_from: dt.date | str | None,
    date_to: dt.date | str | None,
    has_image: bool | None,
) -> Select:
    query = _study_query()
    if patient_id is not None:
        query = query.where(Patient.patient_id == patient_id)
    if synthetic is not None:
        query = query.where(Patient.synthetic.is_(bool(synthetic)))
    if date_from is not None:
        query = query.where(Study.study_date >= as_date(date_from, "date_from"))
    if date_to is not None:
        query = query.where(Study.study_date <= as_date(date_to, "date_to"))
    if has_image is not None:
        query = query.where(
            Study.image_ref.is_not(None) if has_image else Study.image_ref.is_(None)
        )
    return query.order_by(Patient.patient_id, Study.study_date)


def list_studies(
    session: Session,
    *,
    patient_id: str | None = None,
    synthetic: bool | None = None,
    date_from: dt.date | str | None = None,
    date_to: dt.date | str | None = None,
    has_image: bool | None = None,
) -> pd.DataFrame:
    """One row per study with :data:`LIST_COLUMNS` (see :meth:`CaseStore.list_studies`)."""
    query = _filtered_query(patient_id=patient_id, synthetic=synthetic, date_from=date_from,
                            date_to=date_to, has_image=has_image)
    records, extra = [], []
    for study, patient, clinical, features, prediction in session.execute(query):
        records.append(row_dict(study, patient, clinical, features))
        extra.append({
            "study_id": study.id,
            "has_image": study.image_ref is not None,
            "predicted_category": prediction.category if prediction else None,
            "predicted_tier": prediction.tier if prediction else None,
            "predicted_model_version": prediction.model_version if prediction else None,
            "predicted_at": prediction.created_at if prediction else None,
        })
    return _list_frame(records, extra)


def _list_frame(records: list[dict[str, Any]], extra: list[dict[str, Any]]) -> pd.DataFrame:
    frame = as_cohort_frame(records)
    frame.insert(0, "study_id", pd.Series([e["study_id"] for e in extra], dtype="int64"))
    lumbar = frame["lesion_count_lumbar"]
    frame["lumbar_involved"] = (lumbar > 0).astype("float64").where(lumbar.notna())
    frame["has_image"] = pd.Series([e["has_image"] for e in extra], dtype="bool")
    for column in ("predicted_category", "predicted_tier", "predicted_model_version"):
        frame[column] = pd.Series([e[column] for e in extra], dtype="str")
    frame["predicted_at"] = pd.to_datetime(
        pd.Series([e["predicted_at"] for e in extra], dtype="object")
    ).astype("datetime64[us]").dt.tz_localize("UTC")
    return frame[list(LIST_COLUMNS)]


def study_record(session: Session, study_id: int,
                 resolve: Callable[[str | None], Path | None]) -> StudyRecord:
    """The full record of one study; ``resolve`` turns file references into paths."""
    study = get_study(session, study_id)
    patient = study.patient
    row = row_dict(study, patient, study.clinical, study.features)
    clinical = {c: row[c] for c in CLINICAL_COLUMNS}
    imaging = {c: row[c] for c in IMAGING_COLUMNS}
    features = study.features
    metrics = (dict(features.metrics) if features is not None and features.metrics
               else dict(imaging))
    levels = tuple(
        {"level": lv.level, "region": lv.region,
         "vertebra_volume_ml": lv.vertebra_volume_ml,
         "high_intensity_volume_ml": lv.high_intensity_volume_ml,
         "high_intensity_ratio": lv.high_intensity_ratio,
         "lesion_count": lv.lesion_count}
        for lv in study.levels
    )
    predictions = tuple(
        {"id": p.id, "model_version": p.model_version, "category": p.category,
         "tier": p.tier, "probabilities": dict(p.probabilities),
         "expected_vas": p.expected_vas, "created_at": p.created_at,
         "actor": p.actor}
        for p in study.predictions
    )
    return StudyRecord(
        study_id=study.id,
        patient_id=patient.patient_id,
        study_date=study.study_date,
        synthetic=bool(patient.synthetic),
        clinical=clinical,
        imaging=imaging,
        metrics=metrics,
        levels=levels,
        image_path=resolve(study.image_ref),
        vertebrae_path=resolve(study.vertebrae_ref),
        lesion_mask_path=resolve(study.lesion_mask_ref),
        image_sha256=study.image_sha256,
        image_meta=dict(study.image_meta or {}),
        predictions=predictions,
        source=study.source,
    )
