"""Scores: the assessment of every study by a model version, written in bulk.

A ``scores`` row holds what :func:`core.assess.assess_frame` returns for one study
(:data:`~core.store.schema.SCORE_COLUMNS`) under one model version; writing a study's
score again for the same version replaces it (``INSERT ... ON CONFLICT DO UPDATE`` on
SQLite and PostgreSQL; there one statement per batch, the columns sent as arrays).
:func:`recompute` reads the studies in batches of their ids, assesses each batch with
array operations and writes it in a short transaction of its own (audited
``predict``), so other sessions keep writing meanwhile.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, delete, exists, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.store.audit import audit
from core.store.bulk import IN_CHUNK, chunks
from core.store.cohort_read import cohort_frame, cohort_select, raw_frame
from core.store.pg_copy import any_of
from core.store.schema import SCORE_COLUMNS, SCORE_TEXT_COLUMNS, Study, scores, utcnow

if TYPE_CHECKING:
    from core.model import TrainedModel

#: ``headline_source`` of an assessment led by a safety override
#: (``core.tiers.HEADLINE_SOURCES``; a test checks it is one of them).
OVERRIDE = "override"
#: ``progress(studies_done, studies_total)``.
Progress = Callable[[int, int], None]


def assess_studies(model: TrainedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`core.assess.assess_frame` (imported here: ``import core.store`` stays light)."""
    from core.assess import assess_frame

    return assess_frame(model, frame)


def scorer(model: TrainedModel) -> Callable[[Session, int, Mapping[str, Any]], None]:
    """``score(session, study_id, row)``: assess one validated row (a
    ``validate_clinical`` dict) with ``model`` and write its score in the session's
    transaction. Imports the assessment code now, before any transaction opens."""
    from core.assess import assess_frame
    from core.clinical import as_cohort_frame

    def score(session: Session, study_id: int, row: Mapping[str, Any]) -> None:
        assessed = assess_frame(model, as_cohort_frame([dict(row)]))
        assessed.insert(0, "study_id", [int(study_id)])
        upsert(session.connection(), score_params(assessed, model.version))

    return score


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else str(value)


def _number(value: object, column: str) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return None
    if not math.isfinite(number):
        raise ValueError(f"score column {column} holds {number!r}, not a finite number.")
    return number


def score_params(assessed: pd.DataFrame, model_version: str) -> list[dict[str, Any]]:
    """``scores`` rows of an assessed frame (``study_id`` plus the assessment columns)."""
    if not isinstance(model_version, str) or not model_version or len(model_version) > 128:
        raise ValueError(f"model_version {model_version!r} is not a short text.")
    missing = [c for c in ("study_id", *SCORE_COLUMNS) if c not in assessed.columns]
    if missing:
        raise ValueError(f"the assessed frame lacks the column(s) {', '.join(missing)}; "
                         "pass what core.assess.assess_frame returns, with study_id.")
    now = utcnow()
    cols = {c: assessed[c].tolist() for c in ("study_id", *SCORE_COLUMNS)}
    out = []
    for k, study_id in enumerate(cols["study_id"]):
        row: dict[str, Any] = {"study_id": int(study_id), "model_version": model_version,
                               "computed_at": now}
        for column in SCORE_COLUMNS:
            value = cols[column][k]
            row[column] = (_text(value) if column in SCORE_TEXT_COLUMNS
                           else _number(value, column))
        out.append(row)
    return out


def _upsert_statement(dialect: str) -> Any:
    """SQLite's ``INSERT ... ON CONFLICT DO UPDATE`` (PostgreSQL: :func:`_pg_upsert`)."""
    if dialect != "sqlite":
        return None
    from sqlalchemy.dialects.sqlite import insert as dialect_insert

    statement = dialect_insert(scores)
    return statement.on_conflict_do_update(
        index_elements=["study_id", "model_version"],
        set_={c: statement.excluded[c] for c in (*SCORE_COLUMNS, "computed_at")})


#: Columns of a ``scores`` row written by :func:`upsert`.
_WRITTEN = ("study_id", "model_version", *SCORE_COLUMNS, "computed_at")


def _pg_upsert(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """One ``INSERT ... SELECT FROM unnest(arrays) ... ON CONFLICT DO UPDATE`` for
    ``rows`` (PostgreSQL): a parameter per column instead of a statement per row, the
    rows of studies deleted meanwhile left out in the same statement."""
    dialect = conn.dialect
    arrays = ", ".join(f"CAST(:{c} AS {scores.c[c].type.compile(dialect=dialect)}[])"
                       for c in _WRITTEN)
    names = ", ".join(_WRITTEN)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*SCORE_COLUMNS, "computed_at"))
    # column names from the table's metadata, never from input
    statement = text(
        f"INSERT INTO scores ({names}) SELECT {names} FROM unnest({arrays}) AS u({names}) "
        "WHERE EXISTS (SELECT 1 FROM studies WHERE studies.id = u.study_id) "
        f"ON CONFLICT (study_id, model_version) DO UPDATE SET {updates}")
    result = conn.execute(statement, {c: [r[c] for r in rows] for c in _WRITTEN})
    return int(result.rowcount)


def upsert(conn: Connection, params: Sequence[Mapping[str, Any]]) -> int:
    """Write ``scores`` rows, replacing a stored (study, version); returns the count.
    Rows of studies deleted meanwhile are left out; of two rows for one (study,
    version) the later is written."""
    rows = list({(int(p["study_id"]), p["model_version"]): {**p, "study_id": int(p["study_id"])}
                 for p in params}.values())
    if conn.dialect.name == "postgresql":
        return sum(_pg_upsert(conn, part) for part in chunks(rows, IN_CHUNK))
    ids = sorted({p["study_id"] for p in rows})
    alive: set[int] = set()
    for part in chunks(ids, IN_CHUNK):
        alive.update(conn.scalars(select(Study.id).where(Study.id.in_(part))).all())
    rows = [p for p in rows if p["study_id"] in alive]
    statement = _upsert_statement(conn.dialect.name)
    for part in chunks(rows, IN_CHUNK):
        if statement is None:  # another database: delete, then insert
            for version in {p["model_version"] for p in part}:
                conn.execute(delete(scores).where(
                    scores.c.model_version == version,
                    scores.c.study_id.in_([p["study_id"] for p in part
                                           if p["model_version"] == version])))
            conn.execute(insert(scores), list(part))
        else:
            conn.execute(statement, list(part))
    return len(rows)


def write(session: Session, assessed: pd.DataFrame, model_version: str, actor: str,
          details: Mapping[str, object] | None = None) -> int:
    """Write an assessed frame's scores and audit them (``predict``); returns the count."""
    params = score_params(assessed, model_version)
    written = upsert(session.connection(), params)
    errors = int(pd.notna(assessed["assessment_error"]).sum()) if len(assessed) else 0
    ids = [p["study_id"] for p in params]
    audit(session, actor, "predict", f"scores {model_version}"[:255], {
        "model_version": model_version, "studies": written, "not_assessable": errors,
        "first_study": min(ids) if ids else None, "last_study": max(ids) if ids else None,
        **dict(details or {})})
    return written


def drop_for_studies(session: Session, study_ids: Sequence[int]) -> None:
    """Delete every score of these studies (their values changed)."""
    for part in chunks(list(study_ids), IN_CHUNK):
        session.execute(delete(scores).where(scores.c.study_id.in_(part)))


def _id_batches(sessions: sessionmaker[Session], model_version: str, batch: int,
                study_ids: Sequence[int] | None, missing_only: bool
                ) -> tuple[int, Iterator[list[int]]]:
    """The number of studies to score and their ids in batches (ascending)."""
    query = select(Study.id)
    if missing_only:
        query = query.where(~exists().where(scores.c.study_id == Study.id,
                                            scores.c.model_version == model_version))
    with sessions() as session:
        ids = session.scalars(query.order_by(Study.id)).all()
    if study_ids is not None:
        wanted = {int(i) for i in study_ids}
        ids = [i for i in ids if i in wanted]
    return len(ids), (list(part) for part in chunks(ids, max(1, batch)))


def recompute(sessions: sessionmaker[Session], model: TrainedModel, *, actor: str,
              progress: Progress | None = None, batch: int = 5_000,
              study_ids: Sequence[int] | None = None, missing_only: bool = False
              ) -> dict[str, Any]:
    """Score studies with ``model`` in batches (each read, assessed and written in its own
    short transaction, audited ``predict``); see :meth:`CaseStore.recompute_scores`."""
    started = time.perf_counter()
    version = model.version
    total, batches = _id_batches(sessions, version, batch, study_ids, missing_only)
    done = errors = 0
    if progress is not None:
        progress(0, total)
    names = [c.name for c in cohort_select().selected_columns]
    for ids in batches:
        with sessions() as session:
            rows = session.execute(cohort_select().where(
                any_of(Study.id, ids, session.connection())).order_by(Study.id)).all()
        frame = cohort_frame(raw_frame(rows, names))
        assessed = assess_studies(model, frame)
        with sessions.begin() as session:
            write(session, assessed, version, actor, {"recompute": True})
        errors += int(pd.notna(assessed["assessment_error"]).sum())
        done += len(ids)
        if progress is not None:
            progress(done, total)
    return {"model_version": version, "studies": done, "not_assessable": errors,
            "seconds": round(time.perf_counter() - started, 3)}


def unscored(session: Session, model_version: str, scored: Mapping[str, int]) -> int:
    """Studies without a score of ``model_version``: every study less those scored with
    it (``scored``: :func:`versions`).

    Exact because a score names an existing study (the foreign key, ``ON DELETE CASCADE``;
    SQLite connections turn foreign keys on) at most once per version (the unique
    ``(study_id, model_version)`` constraint). Two index counts instead of the anti-join
    of every study with its scores (about 0.01 s instead of 0.2 s at 100,000 studies,
    read again after every write by the pages that check for unscored studies).
    """
    studies = int(session.scalar(select(func.count()).select_from(Study)) or 0)
    return studies - int(scored.get(model_version, 0))


def versions(session: Session) -> dict[str, int]:
    """Model version -> number of studies scored with it."""
    query = (select(scores.c.model_version, func.count())
             .group_by(scores.c.model_version).order_by(scores.c.model_version))
    return {str(v): int(n) for v, n in session.execute(query)}


def empty_assessment(n: int) -> dict[str, np.ndarray]:
    """Missing assessment values for ``n`` rows (text ``None``, numbers NaN)."""
    return {c: (np.full(n, None, dtype=object) if c in SCORE_TEXT_COLUMNS
                else np.full(n, np.nan)) for c in SCORE_COLUMNS}
