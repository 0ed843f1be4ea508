"""Tables of the case store (SQLAlchemy 2 declarative), their column tuples and the engine.

* ``patients``: pseudonymous ``patient_id`` (unique), ``synthetic``, ``sex``,
  ``primary_tumor``. No names, birth dates, addresses or hospital numbers; no birth
  year either (the per-study ``age`` is enough and 90+ is capped at import).
* ``studies``: one per (patient, ``study_date``); image reference (a de-identified
  NIfTI copy under ``<data dir>/images/<sha256>.nii.gz``: pixel data and geometry
  only, no header text), its SHA-256, the vertebra / lesion mask references,
  ``modality``, ``sequence``, ``spacing_mm`` and the image metadata JSON.
* ``clinical_values``: one per study, the per-study clinical columns of
  :mod:`core.clinical` (``neurologic_deficit`` is text: ``none``, ``stable`` or
  ``new_or_progressive``; ``neuropathic_pain`` yes/no).
* ``study_features``: one per study with imaging values, the flat
  :data:`core.clinical.IMAGING_COLUMNS`, volumes, and the full ``core extract`` JSON
  when the values came from an extraction.
* ``level_features``: one per study and vertebral level (extraction output).
* ``predictions``: study, model version, category, tier, probabilities, expected VAS,
  the full prediction JSON, actor, time.
* ``scores``: the assessment of a study by one model version (unique per study and
  version; :data:`SCORE_COLUMNS` = :data:`core.assess.ASSESSMENT_COLUMNS`): written when a
  case is saved or imported with a model, and by ``CaseStore.recompute_scores``; the
  pages read them instead of scoring every study. Editing a study drops its scores.
* ``audit_log``: time (UTC), actor, action (:data:`AUDIT_ACTIONS`), target, details JSON.

:func:`upgrade_schema` brings a store written by an earlier version up to these tables
when it is opened (tables, columns and indexes added since, the yes/no
``neurologic_deficit`` column).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.pool import StaticPool

from core.clinical import COHORT_COLUMNS
from core.vocab import CATEGORIES

AUDIT_ACTIONS: tuple[str, ...] = (
    "import", "save", "edit", "delete", "export", "predict", "build-demo", "correct-levels",
    "board-agenda", "board-note",
)
#: Audited actions that change no patient, study, value, feature, prediction or score: an
#: export (a read) and the tumor board's agenda and decisions.
#: :meth:`CaseStore.data_revision` leaves them out, so recording a board decision keeps
#: the cached views of the studies. A new action counts as a data change unless listed.
NON_DATA_ACTIONS: tuple[str, ...] = ("export", "board-agenda", "board-note")
#: The audited actions that change what views of the studies read.
DATA_ACTIONS: tuple[str, ...] = tuple(a for a in AUDIT_ACTIONS if a not in NON_DATA_ACTIONS)
#: Extra columns of :meth:`CaseStore.list_studies` after the cohort columns.
LIST_EXTRA_COLUMNS: tuple[str, ...] = (
    "lumbar_involved",
    "has_image",
    "predicted_category",
    "predicted_tier",
    "predicted_model_version",
    "predicted_at",
)
#: Columns of :meth:`CaseStore.list_studies`.
LIST_COLUMNS: tuple[str, ...] = ("study_id", *COHORT_COLUMNS, *LIST_EXTRA_COLUMNS)
#: Columns of :meth:`CaseStore.patient_history`.
HISTORY_COLUMNS: tuple[str, ...] = (
    "study_id", "study_date", "vas", "lesion_count", "high_intensity_ratio",
    "max_level_high_intensity_ratio", "involved_levels", "sins_total", "analgesic_step",
    "predicted_category",
)


def utcnow() -> dt.datetime:
    """Now in UTC without time zone and microseconds, as the tables store times."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)


# --------------------------------------------------------------------------- ORM


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    sex: Mapped[str | None] = mapped_column(String(8))
    primary_tumor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    studies: Mapped[list[Study]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )


class Study(Base):
    __tablename__ = "studies"
    __table_args__ = (UniqueConstraint("patient_pk", "study_date", name="uq_patient_date"),
                      Index("ix_studies_study_date", "study_date"))

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_pk: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    study_date: Mapped[dt.date] = mapped_column(Date)
    image_ref: Mapped[str | None] = mapped_column(String(255))
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    vertebrae_ref: Mapped[str | None] = mapped_column(String(255))
    lesion_mask_ref: Mapped[str | None] = mapped_column(String(255))
    modality: Mapped[str | None] = mapped_column(String(32))
    sequence: Mapped[str | None] = mapped_column(String(64))
    spacing_mm: Mapped[list[float] | None] = mapped_column(JSON)
    image_meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="studies")
    clinical: Mapped[ClinicalValues | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )
    features: Mapped[StudyFeatures | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )
    levels: Mapped[list[LevelFeature]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="LevelFeature.order"
    )
    predictions: Mapped[list[PredictionRow]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="PredictionRow.id"
    )


class ClinicalValues(Base):
    __tablename__ = "clinical_values"

    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True
    )
    age: Mapped[int | None] = mapped_column(Integer)
    vas: Mapped[float | None] = mapped_column(Float)
    ecog: Mapped[int | None] = mapped_column(Integer)
    analgesic_step: Mapped[int | None] = mapped_column(Integer)
    bone_modifying_agent: Mapped[bool | None] = mapped_column(Boolean)
    prior_radiotherapy: Mapped[bool | None] = mapped_column(Boolean)
    pathologic_fracture: Mapped[bool | None] = mapped_column(Boolean)
    neurologic_deficit: Mapped[str | None] = mapped_column(String(24))
    neuropathic_pain: Mapped[bool | None] = mapped_column(Boolean)
    sins_location: Mapped[int | None] = mapped_column(Integer)
    sins_pain: Mapped[int | None] = mapped_column(Integer)
    sins_bone_lesion: Mapped[int | None] = mapped_column(Integer)
    sins_alignment: Mapped[int | None] = mapped_column(Integer)
    sins_collapse: Mapped[int | None] = mapped_column(Integer)
    sins_posterolateral: Mapped[int | None] = mapped_column(Integer)
    sins_total: Mapped[int | None] = mapped_column(Integer)
    bilsky_grade: Mapped[str | None] = mapped_column(String(2))


class StudyFeatures(Base):
    __tablename__ = "study_features"

    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True
    )
    lesion_count: Mapped[int | None] = mapped_column(Integer)
    lesion_count_cervical: Mapped[int | None] = mapped_column(Integer)
    lesion_count_thoracic: Mapped[int | None] = mapped_column(Integer)
    lesion_count_lumbar: Mapped[int | None] = mapped_column(Integer)
    lesion_count_sacral: Mapped[int | None] = mapped_column(Integer)
    involved_levels: Mapped[int | None] = mapped_column(Integer)
    high_intensity_ratio: Mapped[float | None] = mapped_column(Float)
    max_level_high_intensity_ratio: Mapped[float | None] = mapped_column(Float)
    vertebra_volume_ml: Mapped[float | None] = mapped_column(Float)
    high_intensity_volume_ml: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))  # "table" or "extraction"
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class LevelFeature(Base):
    __tablename__ = "level_features"
    __table_args__ = (UniqueConstraint("study_id", "level", name="uq_study_level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), index=True
    )
    order: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(16))
    vertebra_volume_ml: Mapped[float] = mapped_column(Float)
    high_intensity_volume_ml: Mapped[float] = mapped_column(Float)
    high_intensity_ratio: Mapped[float] = mapped_column(Float)
    lesion_count: Mapped[int] = mapped_column(Integer)


class PredictionRow(Base):
    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), index=True
    )
    model_version: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32))
    tier: Mapped[str | None] = mapped_column(String(16))
    probabilities: Mapped[dict[str, float]] = mapped_column(JSON)
    expected_vas: Mapped[float | None] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(
            "action IN (" + ", ".join(f"'{a}'" for a in AUDIT_ACTIONS) + ")",
            name="ck_audit_action",
        ),
        Index("ix_audit_action_id", "action", "id"),  # CaseStore.data_revision
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


#: Columns of a ``scores`` row that hold an assessment (``core.assess.ASSESSMENT_COLUMNS``:
#: ``p_<category>`` in :data:`core.vocab.CATEGORIES` order).
SCORE_COLUMNS: tuple[str, ...] = (
    "category", "tier", "urgency", "headline_source", "headline", "expected_vas",
    *(f"p_{c}" for c in CATEGORIES), "region_of_involvement", "assessment_error",
)
#: The text columns of :data:`SCORE_COLUMNS` (the others are numbers).
SCORE_TEXT_COLUMNS: tuple[str, ...] = (
    "category", "tier", "urgency", "headline_source", "headline", "region_of_involvement",
    "assessment_error",
)

scores = Table(
    "scores", Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
    Column("model_version", String(128), nullable=False),
    Column("category", String(32)),
    Column("tier", String(16)),
    Column("urgency", String(16)),
    Column("headline_source", String(16)),
    Column("headline", Text),
    Column("expected_vas", Float),
    *(Column(f"p_{c}", Float) for c in CATEGORIES),
    Column("region_of_involvement", String(16)),
    Column("assessment_error", Text),
    Column("computed_at", DateTime, nullable=False),
    UniqueConstraint("study_id", "model_version", name="uq_score_study_model"),
    Index("ix_scores_model_category", "model_version", "category"),
    Index("ix_scores_model_urgency", "model_version", "urgency", "headline_source"),
    Index("ix_scores_model_region", "model_version", "region_of_involvement"),
)

TABLES: tuple[str, ...] = (
    "patients", "studies", "clinical_values", "study_features", "level_features",
    "predictions", "scores", "audit_log",
)
#: Table name -> ORM class.
MODELS: dict[str, type[Base]] = {
    m.__tablename__: m
    for m in (Patient, Study, ClinicalValues, StudyFeatures, LevelFeature, PredictionRow,
              AuditEntry)
}


# --------------------------------------------------------------------------- engine


def make_engine(url: URL) -> Engine:
    """The engine for ``url``; SQLite gets foreign keys, a lock timeout, thread sharing and
    (for a file) write-ahead logging, so pages keep reading while an import or a score
    recompute writes."""
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    # Streamlit serves sessions from several threads; wait for a writer's lock.
    # An in-memory database exists per connection: share one connection across
    # threads (the default pool would give each thread its own empty database).
    memory = url.database in (None, "", ":memory:")
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30},
        **({"poolclass": StaticPool} if memory else {}))
    event.listen(engine, "connect", _sqlite_pragmas if memory else _sqlite_file_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_file_pragmas(dbapi_connection: Any, record: object) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


#: The tables a bulk write (an import, a score recompute) fills.
BULK_TABLES: tuple[str, ...] = ("patients", "studies", "clinical_values", "study_features",
                                "scores")


def refresh_statistics(engine: Engine, tables: Sequence[str] = BULK_TABLES) -> None:
    """``ANALYZE`` ``tables`` on PostgreSQL after a bulk write (no-op on SQLite).

    The planner reads row counts and value distributions from statistics that
    autovacuum refreshes only a while after a write. Right after a first import it
    would still guess a few hundred studies and a few dozen scores and join a page's
    studies with their scores by scanning every score per study (a tumor-board page of
    20,000 studies took 20-80 s instead of 0.2 s). Run outside a transaction (each
    table in a short one of its own; reads and writes go on meanwhile). Best effort:
    the write has committed, so a failure here (e.g. the connection dropped) is
    ignored, and a role that does not own a table gets PostgreSQL's warning, not an
    error."""
    if engine.dialect.name != "postgresql":
        return
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ValueError(f"table(s) {', '.join(map(repr, unknown))} are not store tables.")
    if not tables:
        return
    with (contextlib.suppress(DBAPIError),
          engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn):
        conn.execute(text("ANALYZE " + ", ".join(tables)))  # names checked above


# --------------------------------------------------------------------------- upgrade


def _add_missing_columns(engine: Engine) -> list[str]:
    """``ALTER TABLE ... ADD COLUMN`` for every nullable column a stored table lacks."""
    inspector = inspect(engine)
    added: list[str] = []
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            if not inspector.has_table(table.name):
                continue
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                if not column.nullable or column.primary_key:
                    raise ValueError(f"the store's table {table.name} lacks the required "
                                     f"column {column.name}; it cannot be upgraded in place.")
                kind = column.type.compile(dialect=engine.dialect)
                # names come from the ORM metadata above, never from input
                connection.execute(text(
                    f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
                added.append(f"{table.name}.{column.name}")
    return added


def _deficit_column_to_text(engine: Engine) -> bool:
    """A yes/no ``neurologic_deficit`` column (stores before the three states) becomes
    text holding ``yes``/``no``; they are read as ``new_or_progressive``/``none`` with a
    warning, like an old table. SQLite keeps its column (its BOOLEAN affinity stores text
    as given, and the 1/0 values are read the same way)."""
    if engine.dialect.name == "sqlite":
        return False
    columns = {c["name"]: c for c in inspect(engine).get_columns("clinical_values")}
    column = columns.get("neurologic_deficit")
    if column is None or not isinstance(column["type"], Boolean):
        return False
    with engine.begin() as connection:
        connection.execute(text(
            "ALTER TABLE clinical_values ALTER COLUMN neurologic_deficit TYPE VARCHAR(24) "
            "USING CASE WHEN neurologic_deficit THEN 'yes' "
            "WHEN NOT neurologic_deficit THEN 'no' END"))
    return True


def _add_missing_indexes(engine: Engine) -> list[str]:
    """``CREATE INDEX`` for every index of the tables that a stored table lacks."""
    inspector = inspect(engine)
    added: list[str] = []
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in present:
                index.create(engine)
                added.append(f"index {index.name}")
    return added


#: Key of the PostgreSQL advisory lock that serialises creating and upgrading the tables.
SCHEMA_LOCK_KEY = 0x5350_4E01


def create_schema(engine: Engine) -> list[str]:
    """Create the missing tables and :func:`upgrade_schema` the others; returns what the
    upgrade changed. On PostgreSQL one process at a time does it (an advisory lock):
    several app servers or writer processes opening a new database at once would
    otherwise race on ``CREATE TABLE``. SQLite has no such lock: a ``CREATE TABLE`` that
    finds the table made by another process meanwhile is tried again."""
    if engine.dialect.name != "postgresql":
        for attempt in range(1, 6):
            try:
                Base.metadata.create_all(engine)
                break
            except OperationalError as exc:  # another process created a table meanwhile
                if "already exists" not in str(exc) or attempt == 5:
                    raise
                time.sleep(0.05 * attempt)
        return upgrade_schema(engine)
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        lock.commit()
        try:
            Base.metadata.create_all(engine)
            return upgrade_schema(engine)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY})
            lock.commit()


def upgrade_schema(engine: Engine) -> list[str]:
    """Upgrade the tables of an existing store in place (idempotent); returns what changed.

    Adds the nullable columns and the indexes introduced since the store was created
    (e.g. ``clinical_values.neuropathic_pain``, ``ix_studies_study_date``; new tables
    such as ``scores`` come from ``create_all``) and turns a yes/no
    ``neurologic_deficit`` column into text on databases that type their columns strictly
    (PostgreSQL). Stored yes/no deficit values are kept as they are: they read as
    ``new_or_progressive``/``none`` with a warning until a clinician records the state.
    """
    changed = _add_missing_columns(engine)
    changed += _add_missing_indexes(engine)
    if _deficit_column_to_text(engine):
        changed.append("clinical_values.neurologic_deficit -> text")
    return changed
