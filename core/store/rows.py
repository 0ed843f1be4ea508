"""Validated clinical rows to ORM rows and back: patients, clinical values, table features."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clinical import DEFICIT_COLUMN, IMAGING_COLUMNS, STUDY_CLINICAL_COLUMNS
from core.store.schema import ClinicalValues, Patient, Study, StudyFeatures
from core.vocab import parse_deficit


def get_study(session: Session, study_id: int) -> Study:
    """The study ``study_id``; a ``ValueError`` when it is not an integer or not stored."""
    if isinstance(study_id, bool) or not isinstance(study_id, int):
        raise ValueError(f"study id {study_id!r} is not an integer.")
    study = session.get(Study, study_id)
    if study is None:
        raise ValueError(f"study {study_id} does not exist.")
    return study


def get_or_add_patient(session: Session, row: Mapping[str, Any],
                       cache: dict[str, Patient]) -> tuple[Patient, bool]:
    """The patient of a validated row (added when new) and whether it was added.

    A stored patient must agree with the row on the synthetic flag, sex (a missing
    stored sex is filled in) and primary tumour, else ``ValueError``.
    """
    pid = row["patient_id"]
    patient = cache.get(pid) or session.scalar(
        select(Patient).where(Patient.patient_id == pid)
    )
    created = False
    if patient is None:
        patient = Patient(patient_id=pid, synthetic=bool(row["synthetic"]), sex=row["sex"],
                          primary_tumor=row["primary_tumor"])
        session.add(patient)
        created = True
    else:
        if patient.synthetic != bool(row["synthetic"]):
            raise ValueError(
                f"patient {pid} is stored as {'synthetic' if patient.synthetic else 'real'}"
                "; synthetic and real data are never mixed."
            )
        if row["sex"] is not None and patient.sex not in (None, row["sex"]):
            raise ValueError(
                f"patient {pid} is stored with sex {patient.sex}, not {row['sex']}."
            )
        if patient.primary_tumor != row["primary_tumor"]:
            raise ValueError(
                f"patient {pid} is stored with primary tumour {patient.primary_tumor!r}, "
                f"not {row['primary_tumor']!r}."
            )
        if patient.sex is None and row["sex"] is not None:
            patient.sex = row["sex"]
    cache[pid] = patient
    return patient, created


def set_clinical(study: Study, row: Mapping[str, Any]) -> None:
    """Write the per-study clinical columns of a validated row to ``study``."""
    values = {c: row[c] for c in STUDY_CLINICAL_COLUMNS}
    if study.clinical is None:
        study.clinical = ClinicalValues(**values)
    else:
        for column, value in values.items():
            setattr(study.clinical, column, value)


def set_table_features(study: Study, row: Mapping[str, Any]) -> None:
    """Replace the study's imaging values (and levels) by the row's table values."""
    values = {c: row[c] for c in IMAGING_COLUMNS}
    study.levels = []
    study.features = StudyFeatures(**values, source="table", metrics=None)


def deficit_value(value: object) -> object:
    """A stored ``neurologic_deficit``: a state, or a yes/no value kept from a store written
    before the three states (SQLite returns its 1/0 as integers), shown as ``yes``/``no``
    so it reads as ``new_or_progressive``/``none`` with a warning (never silently)."""
    try:
        reading = parse_deficit(value)
    except ValueError:
        return value
    if reading.from_yes_no:
        return "yes" if reading.state == "new_or_progressive" else "no"
    return value


def row_dict(study: Study, patient: Patient, clinical: ClinicalValues | None,
             features: StudyFeatures | None) -> dict[str, Any]:
    """A stored study as a flat cohort row (the input shape of ``validate_clinical``)."""
    row: dict[str, Any] = {
        "patient_id": patient.patient_id,
        "study_date": study.study_date,
        "sex": patient.sex,
        "primary_tumor": patient.primary_tumor,
        "synthetic": bool(patient.synthetic),
    }
    for column in STUDY_CLINICAL_COLUMNS:
        row[column] = getattr(clinical, column) if clinical is not None else None
    row[DEFICIT_COLUMN] = deficit_value(row[DEFICIT_COLUMN])
    for column in IMAGING_COLUMNS:
        row[column] = getattr(features, column) if features is not None else None
    return row
