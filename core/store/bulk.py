"""Validated cohort rows into the tables with SQLAlchemy core ``insert()`` executemany
(``COPY`` on PostgreSQL with psycopg: :mod:`core.store.pg_copy`).

Inside the caller's transaction: the stored patients of the rows are read in one query
per :data:`IN_CHUNK` ids, the rows are checked against them (the row-by-row messages of
:func:`core.store.rows.get_or_add_patient` and of a study already stored), then new
patients and studies (their ids read back by their unique keys after the insert, or on
PostgreSQL taken from the tables' sequences before it), clinical values and imaging
features are inserted in batches; replaced studies get their clinical values (and, when
the row has any, imaging values) rewritten and lose their levels and stale scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from core.clinical import IMAGING_COLUMNS, STUDY_CLINICAL_COLUMNS
from core.store.pg_copy import any_of, copies, copy_rows, next_ids
from core.store.schema import (
    ClinicalValues,
    LevelFeature,
    Patient,
    Study,
    StudyFeatures,
    scores,
    utcnow,
)

#: Ids per ``IN (...)`` list (well below SQLite's bound-parameter limit).
IN_CHUNK = 5_000
#: ``progress(rows_done, rows_total)``.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CohortRows:
    """Validated cohort rows in column form: every :data:`core.clinical.COHORT_COLUMNS`
    name -> object array of ``validate_clinical`` values (one per row, in order)."""

    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["patient_id"])

    def take(self, index: np.ndarray) -> CohortRows:
        """The rows at the positions ``index``."""
        return CohortRows({c: v[index] for c, v in self.columns.items()})

    def params(self, names: Sequence[str], index: np.ndarray) -> list[dict[str, Any]]:
        """``[{name: value}]`` of the rows at ``index`` (executemany parameters)."""
        cols = [self.columns[c][index].tolist() for c in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*cols, strict=True)]

    def has_imaging(self) -> np.ndarray:
        """Rows with at least one imaging value."""
        out = np.zeros(len(self), dtype=bool)
        for column in IMAGING_COLUMNS:
            out |= pd.notna(pd.Series(self.columns[column], dtype=object)).to_numpy()
        return out


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _bound(column: Any, values: Any, dialect: Any) -> list[Any]:
    """``values`` (a sequence, or one value for every row) as the driver takes them: the
    column type's bind processor applied once per distinct value."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(values, np.ndarray | list):
        if process is None:
            return list(values) if isinstance(values, list) else values.tolist()
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        table = np.empty(len(uniques) + 1, dtype=object)
        table[:-1] = [process(u) for u in uniques]
        table[-1] = process(None)
        return table[codes].tolist()
    return [process(values) if process else values]


def executemany(conn: Connection, table: Any, columns: Mapping[str, Any]) -> None:
    """Insert rows given as columns (arrays of one length, or one value for all rows) with
    one driver ``executemany`` of the compiled core ``insert()`` (``COPY`` on PostgreSQL
    with psycopg: :mod:`core.store.pg_copy`): SQLAlchemy's per-row parameter processing
    is done once per distinct value instead."""
    names = list(columns)
    dialect = conn.dialect
    n_rows = next((len(v) for v in columns.values() if isinstance(v, np.ndarray | list)), 1)
    if n_rows == 0:
        return
    if copies(conn):
        copy_rows(conn, table, columns, n_rows)
        return
    bound = {n: _bound(table.c[n], columns[n], dialect) for n in names}
    for n in names:
        if not isinstance(columns[n], np.ndarray | list):
            bound[n] = bound[n] * n_rows
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    if compiled.positional:
        order = list(compiled.positiontup or ())
        params: list[Any] = list(zip(*(bound[n] for n in order), strict=True))
    else:
        params = [dict(zip(names, values, strict=True))
                  for values in zip(*(bound[n] for n in names), strict=True)]
    conn.exec_driver_sql(str(compiled), params)


def _stored_patients(conn: Connection, pids: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    query = select(Patient.id, Patient.patient_id, Patient.synthetic, Patient.sex,
                   Patient.primary_tumor)
    for part in chunks(list(pids), IN_CHUNK):
        for row in conn.execute(query.where(any_of(Patient.patient_id, part, conn))):
            found[row.patient_id] = row
    return found


def _patient_conflict(stored: Any, row: dict[str, Any]) -> str | None:
    """The message of :func:`core.store.rows.get_or_add_patient` for a stored patient
    that contradicts a row, or ``None``."""
    pid = row["patient_id"]
    if bool(stored.synthetic) != bool(row["synthetic"]):
        return (f"patient {pid} is stored as {'synthetic' if stored.synthetic else 'real'}"
                "; synthetic and real data are never mixed.")
    if row["sex"] is not None and stored.sex not in (None, row["sex"]):
        return f"patient {pid} is stored with sex {stored.sex}, not {row['sex']}."
    if stored.primary_tumor != row["primary_tumor"]:
        return (f"patient {pid} is stored with primary tumour {stored.primary_tumor!r}, "
                f"not {row['primary_tumor']!r}.")
    return None


def _stored_studies(conn: Connection, pks: Sequence[int]) -> dict[tuple[int, Any], int]:
    found: dict[tuple[int, Any], int] = {}
    query = select(Study.id, Study.patient_pk, Study.study_date)
    for part in chunks(list(pks), IN_CHUNK):
        for row in conn.execute(query.where(any_of(Study.patient_pk, part, conn))):
            found[(row.patient_pk, row.study_date)] = row.id
    return found


@dataclass
class _Plan:
    """Where each row goes: its patient's key, its stored study (or -1)."""

    stored: dict[str, Any]
    existing: np.ndarray
    first_rows: dict[str, int]


def _plan(conn: Connection, rows: CohortRows, on_duplicate: str) -> _Plan:
    """Read the stored patients and studies of the rows; raise the first problem in row
    order (a contradicting patient, then a study already stored unless replacing)."""
    pids = rows.columns["patient_id"]
    first = pd.Series(pids).drop_duplicates()
    first_rows = dict(zip(first.tolist(), first.index.tolist(), strict=True))
    stored = _stored_patients(conn, list(first_rows))
    problems: list[tuple[int, str]] = []
    for pid, patient in stored.items():
        i = first_rows[pid]
        message = _patient_conflict(patient, rows.params(
            ("patient_id", "sex", "primary_tumor", "synthetic"), np.array([i]))[0])
        if message:
            problems.append((i, message))
    studies = _stored_studies(conn, [p.id for p in stored.values()])
    existing = np.full(len(rows), -1, dtype=np.int64)
    for i in np.flatnonzero(pd.Series(pids).isin(list(stored)).to_numpy()).tolist():
        key = (stored[pids[i]].id, rows.columns["study_date"][i])
        existing[i] = studies.get(key, -1)
    if on_duplicate != "replace":
        for i in np.flatnonzero(existing >= 0)[:1].tolist():
            problems.append((i, (
                f"patient {pids[i]} already has a study on "
                f"{rows.columns['study_date'][i].isoformat()} (study {existing[i]}); "
                "nothing was imported.")))
    if problems:
        raise ValueError(min(problems, key=lambda p: p[0])[1])
    return _Plan(stored, existing, first_rows)


def _add_patients(conn: Connection, rows: CohortRows, plan: _Plan, now: Any) -> dict[str, int]:
    """Insert the new patients (executemany, then their ids read back by the unique
    patient id), fill a stored patient's missing sex; pid -> primary key."""
    keys = {pid: p.id for pid, p in plan.stored.items()}
    new = np.array([i for pid, i in plan.first_rows.items() if pid not in plan.stored],
                   dtype=np.int64)
    table = Patient.__table__
    for part in chunks(new, IN_CHUNK):
        pids = rows.columns["patient_id"][part]
        ids = next_ids(conn, table, len(part)) if copies(conn) else None
        executemany(conn, table, {
            **({"id": ids} if ids is not None else {}),
            **{c: rows.columns[c][part] for c in ("patient_id", "synthetic", "sex",
                                                   "primary_tumor")},
            "created_at": now})
        if ids is not None:
            keys.update(zip(pids.tolist(), ids.tolist(), strict=True))
            continue
        query = select(table.c.id, table.c.patient_id).where(
            any_of(table.c.patient_id, pids.tolist(), conn))
        keys.update({pid: pk for pk, pid in conn.execute(query).all()})
    fill = [{"pk": p.id, "new_sex": rows.columns["sex"][plan.first_rows[pid]]}
            for pid, p in plan.stored.items()
            if p.sex is None and rows.columns["sex"][plan.first_rows[pid]] is not None]
    if fill:
        conn.execute(update(table).where(table.c.id == bindparam("pk"))
                     .values(sex=bindparam("new_sex")), fill)
    return keys


def _new_study_ids(conn: Connection, pks: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The ids of the studies (``pks[i]``, ``days[i]``), read back by the unique
    (patient, date) after an executemany insert."""
    table = Study.__table__
    query = select(table.c.id, table.c.patient_pk, table.c.study_date).where(
        any_of(table.c.patient_pk, np.unique(pks).tolist(), conn))
    found = conn.execute(query).all()
    ids, found_pks, found_days = (list(c) for c in zip(*found, strict=True)) if found else (
        [], [], [])
    have = pd.MultiIndex.from_arrays([np.asarray(found_pks, dtype=np.int64),
                                      pd.Index(found_days, dtype=object)])
    want = pd.MultiIndex.from_arrays([pks.astype(np.int64), pd.Index(days, dtype=object)])
    position = have.get_indexer(want)
    if (position < 0).any():
        raise AssertionError("an inserted study was not found again")  # pragma: no cover
    return np.asarray(ids, dtype=np.int64)[position]


def _insert_values(conn: Connection, rows: CohortRows, index: np.ndarray,
                   study_ids: np.ndarray, imaging: np.ndarray) -> None:
    """Clinical values of the rows at ``index`` and imaging values of those with any."""
    if not len(index):
        return
    executemany(conn, ClinicalValues.__table__, {
        "study_id": study_ids, **{c: rows.columns[c][index] for c in STUDY_CLINICAL_COLUMNS}})
    with_imaging = imaging[index]
    if with_imaging.any():
        part = index[with_imaging]
        executemany(conn, StudyFeatures.__table__, {
            "study_id": study_ids[with_imaging],
            **{c: rows.columns[c][part] for c in IMAGING_COLUMNS},
            "source": "table", "metrics": None, "vertebra_volume_ml": None,
            "high_intensity_volume_ml": None})


def _replace(conn: Connection, rows: CohortRows, index: np.ndarray, study_ids: np.ndarray,
             imaging: np.ndarray, now: Any) -> None:
    """Rewrite the values of stored studies (``on_duplicate="replace"``)."""
    ids = study_ids.tolist()
    refeatured = study_ids[imaging[index]].tolist()
    for part in chunks(ids, IN_CHUNK):
        conn.execute(delete(ClinicalValues.__table__).where(
            any_of(ClinicalValues.__table__.c.study_id, part, conn)))
        conn.execute(delete(scores).where(any_of(scores.c.study_id, part, conn)))
        conn.execute(update(Study.__table__).where(any_of(Study.__table__.c.id, part, conn))
                     .values(updated_at=now))
    for part in chunks(refeatured, IN_CHUNK):
        conn.execute(delete(LevelFeature.__table__).where(
            any_of(LevelFeature.__table__.c.study_id, part, conn)))
        conn.execute(delete(StudyFeatures.__table__).where(
            any_of(StudyFeatures.__table__.c.study_id, part, conn)))
    _insert_values(conn, rows, index, study_ids, imaging)


def insert_cohort(session: Session, rows: CohortRows, *, source: str, on_duplicate: str,
                  batch: int = 5_000, progress: Progress | None = None
                  ) -> tuple[dict[str, int], np.ndarray]:
    """Write validated rows in the session's transaction; returns the summary (``rows,
    patients_added, studies_added, studies_replaced``) and each row's study id."""
    conn = session.connection()
    now = utcnow()
    total = len(rows)
    plan = _plan(conn, rows, on_duplicate)
    keys = _add_patients(conn, rows, plan, now)
    imaging = rows.has_imaging()
    study_ids = plan.existing.copy()
    replaced = np.flatnonzero(plan.existing >= 0)
    if len(replaced):
        _replace(conn, rows, replaced, plan.existing[replaced], imaging, now)
    new = np.flatnonzero(plan.existing < 0)
    done = len(replaced)
    table = Study.__table__
    position = pd.Index(list(keys))
    pk_values = np.fromiter(keys.values(), dtype=np.int64, count=len(keys))
    for start in range(0, len(new), max(1, batch)):
        part = new[start:start + max(1, batch)]
        pks = pk_values[position.get_indexer(rows.columns["patient_id"][part])]
        days = rows.columns["study_date"][part]
        ids = next_ids(conn, table, len(part)) if copies(conn) else None
        executemany(conn, table, {**({"id": ids} if ids is not None else {}),
                                  "patient_pk": pks, "study_date": days, "source": source,
                                  "created_at": now, "updated_at": now})
        if ids is None:
            ids = _new_study_ids(conn, pks, days)
        study_ids[part] = ids
        _insert_values(conn, rows, part, ids, imaging)
        done += len(part)
        if progress is not None:
            progress(done, total)
    summary = {"rows": total, "patients_added": len(keys) - len(plan.stored),
               "studies_added": len(new), "studies_replaced": len(replaced)}
    return summary, study_ids
