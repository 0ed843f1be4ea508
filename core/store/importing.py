"""Cohort tables into the store: validated rows, bulk insert, replacing the synthetic data.

The functions that take a ``Session`` run inside the caller's transaction, so an import
is all or nothing and its audit entry commits with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clinical import (
    COHORT_COLUMNS,
    DEFICIT_COLUMN,
    IMAGING_COLUMNS,
    as_cohort_frame,
    deficit_from_yes_no,
    deficit_warning,
    validate_clinical,
)
from core.store.audit import audit
from core.store.cases import PreparedCase, insert_case
from core.store.images import study_refs
from core.store.rows import get_or_add_patient, set_clinical, set_table_features
from core.store.schema import Patient, Study, utcnow


def validated_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a cohort table, each validated by :func:`core.clinical.validate_clinical`.

    A ``ValueError`` (naming the row) for unknown columns, an invalid row, a repeated
    (patient, date), or a patient whose sex / primary tumour / synthetic flag varies.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("the cohort must be a pandas DataFrame.")
    unknown = [str(c) for c in frame.columns if c not in COHORT_COLUMNS]
    if unknown:
        raise ValueError(
            f"the cohort has unknown column(s) {', '.join(map(repr, unknown))}; expected "
            "columns from core.clinical.COHORT_COLUMNS."
        )
    labels = _row_labels(frame)
    typed = as_cohort_frame(frame)
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, dt.date], object] = {}
    patients: dict[str, dict[str, object]] = {}
    for label, record in zip(labels, typed.to_dict(orient="records"), strict=True):
        try:
            row = validate_clinical(record)
        except ValueError as exc:
            raise ValueError(f"cohort row {label}: {exc}") from None
        key = (row["patient_id"], row["study_date"])
        if key in seen:
            raise ValueError(
                f"cohort row {label}: patient {key[0]} on {key[1].isoformat()} is "
                f"duplicated (row {seen[key]})."
            )
        seen[key] = label
        first = patients.setdefault(row["patient_id"], row)
        for column in ("sex", "primary_tumor", "synthetic"):
            if row[column] != first[column]:
                raise ValueError(
                    f"cohort row {label}: {column} {row[column]!r} differs from an "
                    f"earlier row of patient {row['patient_id']} ({first[column]!r})."
                )
        rows.append(row)
    return rows


def _row_labels(frame: pd.DataFrame) -> list[object]:
    """Row labels of messages: the spreadsheet row numbers of a ``load_clinical_table``
    frame (index ``"row"``), else 1, 2, ..."""
    return (list(frame.index) if frame.index.name == "row"
            else list(range(1, len(frame) + 1)))


def import_warnings(frame: pd.DataFrame) -> list[str]:
    """Warnings about a (valid) cohort frame: those :func:`core.clinical.load_clinical_table`
    attached to its rows (``frame.attrs["warnings"]``: the file's yes/no deficits, already
    read as states) and rows whose ``neurologic_deficit`` is still an old yes/no value
    (see :func:`core.clinical.deficit_warning`)."""
    found = [str(w) for w in frame.attrs.get("warnings", [])]
    if DEFICIT_COLUMN in frame.columns:
        flags = [deficit_from_yes_no(v) for v in frame[DEFICIT_COLUMN].tolist()]
        warning = deficit_warning([lb for lb, f in zip(_row_labels(frame), flags, strict=True)
                                   if f])
        if warning and warning not in found:
            found.append(warning)
    return found


def insert_rows(session: Session, rows: Sequence[Mapping[str, Any]], *,
                source: str, on_duplicate: str) -> dict[str, int]:
    """Add validated rows as studies (``on_duplicate="replace"`` overwrites the values of
    a stored (patient, date)); returns ``rows, patients_added, studies_added,
    studies_replaced``."""
    cache: dict[str, Patient] = {}
    added_patients = added_studies = replaced = 0
    for row in rows:
        patient, created = get_or_add_patient(session, row, cache)
        added_patients += created
        study = None if created else session.scalar(
            select(Study).where(Study.patient_pk == patient.id,
                                Study.study_date == row["study_date"])
        )
        if study is not None:
            if on_duplicate != "replace":
                raise ValueError(
                    f"patient {row['patient_id']} already has a study on "
                    f"{row['study_date'].isoformat()} (study {study.id}); nothing was "
                    "imported."
                )
            set_clinical(study, row)
            if any(row[c] is not None for c in IMAGING_COLUMNS):
                set_table_features(study, row)
            study.updated_at = utcnow()
            replaced += 1
            continue
        study = Study(patient=patient, study_date=row["study_date"], source=source)
        session.add(study)
        set_clinical(study, row)
        if any(row[c] is not None for c in IMAGING_COLUMNS):
            set_table_features(study, row)
        added_studies += 1
        session.flush()
    return {"rows": len(rows), "patients_added": added_patients,
            "studies_added": added_studies, "studies_replaced": replaced}


def import_rows(session: Session, rows: Sequence[Mapping[str, Any]], *, source: str,
                on_duplicate: str, actor: str) -> dict[str, int]:
    """:func:`insert_rows`, audited ``import`` with the summary."""
    summary = insert_rows(session, rows, source=source, on_duplicate=on_duplicate)
    audit(session, actor, "import", source, summary)
    return summary


def replace_synthetic_rows(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    prepared: Sequence[PreparedCase],
    *,
    source: str,
    actor: str,
    details: Mapping[str, object] | None,
) -> tuple[dict[str, object], set[str]]:
    """Delete every synthetic patient, then add ``rows`` and the ``prepared`` cases,
    audited ``build-demo``; returns the summary and the removed studies' file references
    (for removal after the commit)."""
    removed = 0
    refs: set[str] = set()
    for patient in session.scalars(select(Patient).where(Patient.synthetic)).all():
        removed += len(patient.studies)
        refs |= study_refs(patient.studies)
        session.delete(patient)
    session.flush()
    summary = insert_rows(session, rows, source=source, on_duplicate="error")
    study_ids = [insert_case(session, p, source=source).id for p in prepared]
    summary = {**summary, "studies_removed": removed,
               "imaging_studies": study_ids, **dict(details or {})}
    audit(session, actor, "build-demo", source, summary)
    return summary, refs


#: Columns of an imaging-only table (:meth:`CaseStore.import_imaging`).
IMAGING_ROW_COLUMNS: tuple[str, ...] = ("patient_id", "study_date", *IMAGING_COLUMNS)
_IN_CHUNK = 500  # ids per IN (...) query


def validated_imaging_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of an imaging-only table (:data:`IMAGING_ROW_COLUMNS`), each validated
    by :func:`core.clinical.validate_clinical`; a ``ValueError`` names the first bad row."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("the imaging rows must be a pandas DataFrame.")
    unknown = [str(c) for c in frame.columns if c not in IMAGING_ROW_COLUMNS]
    missing = [c for c in ("patient_id", "study_date") if c not in frame.columns]
    if unknown or missing:
        raise ValueError(
            f"imaging rows need the columns patient_id and study_date and may have only "
            f"{', '.join(IMAGING_ROW_COLUMNS)}; got {', '.join(map(str, frame.columns))}."
        )
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, dt.date], int] = {}
    for number, record in enumerate(frame.to_dict(orient="records"), start=1):
        try:
            row = validate_clinical(record)
        except ValueError as exc:
            raise ValueError(f"imaging row {number}: {exc}") from None
        key = (row["patient_id"], row["study_date"])
        if key in seen:
            raise ValueError(f"imaging row {number}: patient {key[0]} on "
                             f"{key[1].isoformat()} is duplicated (row {seen[key]}).")
        seen[key] = number
        rows.append(row)
    return rows


def _stored(session: Session, patient_ids: Sequence[str]
            ) -> tuple[dict[str, Patient], dict[tuple[str, dt.date], Study]]:
    """The stored patients among ``patient_ids`` and their studies by (id, date)."""
    patients: dict[str, Patient] = {}
    for start in range(0, len(patient_ids), _IN_CHUNK):
        chunk = patient_ids[start:start + _IN_CHUNK]
        for patient in session.scalars(select(Patient).where(Patient.patient_id.in_(chunk))):
            patients[patient.patient_id] = patient
    by_pk = {p.id: p.patient_id for p in patients.values()}
    studies: dict[tuple[str, dt.date], Study] = {}
    pks = list(by_pk)
    for start in range(0, len(pks), _IN_CHUNK):
        query = select(Study).where(Study.patient_pk.in_(pks[start:start + _IN_CHUNK]))
        for study in session.scalars(query):
            studies[(by_pk[study.patient_pk], study.study_date)] = study
    return patients, studies


def import_imaging_rows(session: Session, rows: Sequence[Mapping[str, Any]], *,
                        source: str, actor: str) -> dict[str, int]:
    """Store validated imaging-only rows, audited ``import`` (``imaging_only: true``).

    A stored (patient, date) gets its imaging values replaced (its clinical values are
    kept); a new one becomes a study without clinical values, of a new real patient
    when the patient is not stored (sex unknown, the schema's default primary tumour).
    A synthetic patient is an error. Returns ``rows, patients_added, studies_added,
    studies_replaced``.
    """
    patients, studies = _stored(session, list(dict.fromkeys(r["patient_id"] for r in rows)))
    added_patients = added_studies = replaced = 0
    for row in rows:
        pid = row["patient_id"]
        patient = patients.get(pid)
        if patient is None:
            patient = Patient(patient_id=pid, synthetic=False, sex=None,
                              primary_tumor=row["primary_tumor"])
            session.add(patient)
            patients[pid] = patient
            added_patients += 1
        elif patient.synthetic:
            raise ValueError(f"patient {pid} is stored as synthetic; synthetic and real "
                             "data are never mixed.")
        study = studies.get((pid, row["study_date"]))
        if study is None:
            study = Study(patient=patient, study_date=row["study_date"], source=source)
            session.add(study)
            set_clinical(study, row)
            added_studies += 1
        else:
            study.updated_at = utcnow()
            replaced += 1
        set_table_features(study, row)
    session.flush()
    summary = {"rows": len(rows), "patients_added": added_patients,
               "studies_added": added_studies, "studies_replaced": replaced}
    audit(session, actor, "import", source, {**summary, "imaging_only": True})
    return summary
