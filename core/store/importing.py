"""Cohort tables into the store: validated rows, bulk insert, replacing the synthetic data.

The functions that take a ``Session`` run inside the caller's transaction, so an import
is all or nothing and its audit entry commits with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.clinical import (
    COHORT_COLUMNS,
    DEFICIT_COLUMN,
    IMAGING_COLUMNS,
    ValidatedCohort,
    deficit_from_yes_no,
    deficit_warning,
    validate_clinical,
)
from core.clinical.bulk import CellCheck, distinct_cells, typed_cohort_frame, validate_cells
from core.store.audit import audit
from core.store.bulk import CohortRows, Progress, chunks, insert_cohort
from core.store.cases import PreparedCase, insert_case
from core.store.rows import set_clinical, set_table_features
from core.store.schema import Patient, Study, utcnow
from core.store.scores import drop_for_studies

#: The patient-level columns whose values must agree over one patient's rows.
_PATIENT_COLUMNS = ("sex", "primary_tumor", "synthetic")


def validated_rows(frame: pd.DataFrame) -> CohortRows:
    """The rows of a cohort table, validated as :func:`core.clinical.validate_clinical`
    validates each (in bulk: :func:`core.clinical.bulk.validate_cells`).

    A ``ValueError`` for unknown columns, or naming the first row (in order) that is
    invalid, repeats an earlier (patient, date), or whose sex / primary tumour /
    synthetic flag differs from the patient's first row.
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
    check = validate_cells(typed_cohort_frame(frame), require_vas=False)
    cols = check.columns
    keys = pd.DataFrame({"pid": cols["patient_id"], "day": cols["study_date"]})
    first_row = _first_positions(cols["patient_id"])
    differs = np.zeros(len(frame), dtype=bool)
    for column in _PATIENT_COLUMNS:
        differs |= cols[column] != cols[column][first_row]
    failed = ~check.valid | keys.duplicated(keep="first").to_numpy() | differs
    if failed.any():
        i = int(np.flatnonzero(failed)[0])
        problem = _first_problem(check, keys, first_row, i, labels)
        raise ValueError(f"cohort row {labels[i]}: {problem}")
    return CohortRows(cols)


def cohort_rows(frame: pd.DataFrame | ValidatedCohort) -> tuple[CohortRows, list[str]]:
    """The rows to import and their warnings (:func:`import_warnings`): a plain frame
    validated by :func:`validated_rows`; the rows of a :class:`ValidatedCohort` (the bulk
    loader validated that whole table already) taken as they are."""
    if isinstance(frame, ValidatedCohort):
        return (CohortRows({c: frame.values[c] for c in COHORT_COLUMNS}),
                import_warnings(frame.frame))
    return validated_rows(frame), import_warnings(frame)


def _first_positions(values: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row holding the same value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    first = np.full(len(uniques), len(values), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(values), dtype=np.int64))
    return first[codes]


def _first_problem(check: CellCheck, keys: pd.DataFrame, first_row: np.ndarray, i: int,
                   labels: list[object]) -> str:
    """The message of row ``i``: its first invalid value, else the repeated (patient,
    date), else the first patient-level value that differs."""
    if not check.valid[i]:
        column, reason = check.problems[i][0]
        return f"{column} {reason}."
    cols = check.columns
    pid, day = cols["patient_id"][i], cols["study_date"][i]
    same = np.flatnonzero(((keys["pid"] == pid) & (keys["day"] == day)).to_numpy())
    if same[0] != i:
        return (f"patient {pid} on {day.isoformat()} is duplicated "
                f"(row {labels[int(same[0])]}).")
    j = int(first_row[i])
    column = next(c for c in _PATIENT_COLUMNS if cols[c][i] != cols[c][j])
    return (f"{column} {cols[column][i]!r} differs from an earlier row of patient {pid} "
            f"({cols[column][j]!r}).")


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
        codes, reps = distinct_cells(frame[DEFICIT_COLUMN])
        flags = np.array([deficit_from_yes_no(r) for r in reps], dtype=bool)[codes]
        labels = _row_labels(frame)
        warning = deficit_warning([labels[i] for i in np.flatnonzero(flags).tolist()])
        if warning and warning not in found:
            found.append(warning)
    return found


def insert_rows(session: Session, rows: CohortRows, *, source: str, on_duplicate: str,
                progress: Progress | None = None) -> tuple[dict[str, int], np.ndarray]:
    """Add validated rows as studies (``on_duplicate="replace"`` overwrites the values of
    a stored (patient, date)) with bulk inserts (:func:`core.store.bulk.insert_cohort`);
    returns ``rows, patients_added, studies_added, studies_replaced`` and each row's
    study id."""
    return insert_cohort(session, rows, source=source, on_duplicate=on_duplicate,
                         progress=progress)


def import_rows(session: Session, rows: CohortRows, *, source: str, on_duplicate: str,
                actor: str, progress: Progress | None = None
                ) -> tuple[dict[str, int], np.ndarray]:
    """:func:`insert_rows`, audited ``import`` with the summary."""
    summary, study_ids = insert_rows(session, rows, source=source, on_duplicate=on_duplicate,
                                     progress=progress)
    audit(session, actor, "import", source, summary)
    return summary, study_ids


def synthetic_refs(session: Session) -> tuple[int, set[str]]:
    """The number of synthetic studies and their file references."""
    query = (select(Study.image_ref, Study.vertebrae_ref, Study.lesion_mask_ref)
             .join(Patient, Study.patient_pk == Patient.id).where(Patient.synthetic))
    refs: set[str] = set()
    count = 0
    for row in session.execute(query):
        count += 1
        refs.update(r for r in row if r)
    return count, refs


def replace_synthetic_rows(
    session: Session,
    rows: CohortRows,
    prepared: Sequence[PreparedCase],
    *,
    source: str,
    actor: str,
    details: Mapping[str, object] | None,
) -> tuple[dict[str, object], set[str]]:
    """Delete every synthetic patient (their studies go with them: ``ON DELETE CASCADE``),
    then add ``rows`` and the ``prepared`` cases, audited ``build-demo``; returns the
    summary and the removed studies' file references (for removal after the commit)."""
    removed, refs = synthetic_refs(session)
    ids = session.scalars(select(Patient.id).where(Patient.synthetic)).all()
    for part in chunks(list(ids), 5_000):
        session.execute(delete(Patient).where(Patient.id.in_(part)))
    session.flush()
    summary, _ = insert_rows(session, rows, source=source, on_duplicate="error")
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
    keys = {(r["patient_id"], r["study_date"]) for r in rows}
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
    # The replaced studies' imaging values changed: their scores are stale.
    drop_for_studies(session, [s.id for key, s in studies.items() if key in keys])
    summary = {"rows": len(rows), "patients_added": added_patients,
               "studies_added": added_studies, "studies_replaced": replaced}
    audit(session, actor, "import", source, {**summary, "imaging_only": True})
    return summary
