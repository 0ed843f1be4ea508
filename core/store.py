"""Case store: patients, studies, clinical values, imaging features, predictions, audit log.

SQLAlchemy 2 ORM. The embedded default is SQLite, the file ``cases.sqlite`` in the data
directory; any SQLAlchemy URL (e.g. ``postgresql+psycopg://...``) can be given through
the ``url`` argument or the ``SPINEPAIN_DB_URL`` environment variable.

Data directory (images and the default database), first match wins: the ``data_dir``
argument, ``SPINEPAIN_DATA_DIR``, the folder of a SQLite database file given as ``url``,
``<repo>/data/store``.

Tables (see the ORM classes for every column):

* ``patients``: pseudonymous ``patient_id`` (unique), ``synthetic``, ``sex``,
  ``primary_tumor``. No names, birth dates, addresses or hospital numbers; no birth
  year either (the per-study ``age`` is enough and 90+ is capped at import).
* ``studies``: one per (patient, ``study_date``); image reference (a de-identified
  NIfTI copy under ``<data dir>/images/<sha256>.nii.gz``: pixel data and geometry
  only, no header text), its SHA-256, the vertebra / lesion mask references,
  ``modality``, ``sequence``, ``spacing_mm`` and the image metadata JSON.
* ``clinical_values``: one per study, the per-study clinical columns of
  :mod:`core.clinical`.
* ``study_features``: one per study with imaging values, the flat
  :data:`core.clinical.IMAGING_COLUMNS`, volumes, and the full ``core extract`` JSON
  when the values came from an extraction.
* ``level_features``: one per study and vertebral level (extraction output).
* ``predictions``: study, model version, category, tier, probabilities, expected VAS,
  the full prediction JSON, actor, time.
* ``audit_log``: time (UTC), actor, action (:data:`AUDIT_ACTIONS`), target, details JSON.

Every write runs in one transaction: a failure part-way leaves the store as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import SimpleITK as sitk
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)
from sqlalchemy.pool import StaticPool

from core.clinical import (
    CLINICAL_COLUMNS,
    COHORT_COLUMNS,
    IMAGING_COLUMNS,
    REGION_COUNT_COLUMNS,
    SINS_COMPONENTS,
    STUDY_CLINICAL_COLUMNS,
    as_cohort_frame,
    validate_clinical,
)
from core.clinical import export_csv as _export_csv
from core.features import REGIONS
from core.provenance import sha256_bytes, sha256_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO / "data" / "store"
DB_FILENAME = "cases.sqlite"
IMAGES_DIRNAME = "images"
AUDIT_ACTIONS: tuple[str, ...] = (
    "import", "save", "edit", "delete", "export", "predict", "build-demo",
)
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
HISTORY_COLUMNS: tuple[str, ...] = (
    "study_id", "study_date", "vas", "lesion_count", "high_intensity_ratio",
    "max_level_high_intensity_ratio", "involved_levels", "sins_total", "analgesic_step",
    "predicted_category",
)

ImageSource = sitk.Image | bytes | str | Path


def _utcnow() -> dt.datetime:
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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)

    studies: Mapped[list[Study]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )


class Study(Base):
    __tablename__ = "studies"
    __table_args__ = (UniqueConstraint("patient_pk", "study_date", name="uq_patient_date"),)

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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)

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
    neurologic_deficit: Mapped[bool | None] = mapped_column(Boolean)
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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(
            "action IN (" + ", ".join(f"'{a}'" for a in AUDIT_ACTIONS) + ")",
            name="ck_audit_action",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


TABLES: tuple[str, ...] = (
    "patients", "studies", "clinical_values", "study_features", "level_features",
    "predictions", "audit_log",
)
_MODELS: dict[str, type[Base]] = {
    m.__tablename__: m
    for m in (Patient, Study, ClinicalValues, StudyFeatures, LevelFeature, PredictionRow,
              AuditEntry)
}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class CaseInput:
    """Everything :meth:`CaseStore.save_case` stores for one study (see there)."""

    patient_id: str
    study_date: dt.date | str
    clinical: Mapping[str, object]
    metrics: Mapping[str, object] | None = None
    image: ImageSource | None = None
    image_filename: str | None = None
    image_meta: Mapping[str, object] | None = None
    vertebrae: ImageSource | None = None
    lesion_mask: ImageSource | None = None
    synthetic: bool = False


@dataclass(frozen=True)
class StudyRecord:
    """One stored study.

    Attributes
    ----------
    study_id, patient_id, study_date, synthetic
    clinical : dict
        :data:`core.clinical.CLINICAL_COLUMNS` -> value (``None`` when missing).
    imaging : dict
        :data:`core.clinical.IMAGING_COLUMNS` -> value (``None`` when missing).
    metrics : dict
        What was saved: the ``core extract`` JSON for an extraction, else ``imaging``.
    levels : tuple of dict
        Per-level rows (level, region, volumes, ratio, lesion_count), craniocaudal.
    image_path, vertebrae_path, lesion_mask_path : Path or None
        De-identified NIfTI files in the data directory.
    image_sha256 : str or None
        SHA-256 of the stored image file.
    image_meta : dict
    predictions : tuple of dict
        Oldest first: id, model_version, category, tier, probabilities, expected_vas,
        created_at, actor.
    source : str
        File name of the import, ``"case"`` or ``"demo"``.
    """

    study_id: int
    patient_id: str
    study_date: dt.date
    synthetic: bool
    clinical: dict[str, Any]
    imaging: dict[str, Any]
    metrics: dict[str, Any]
    levels: tuple[dict[str, Any], ...] = ()
    image_path: Path | None = None
    vertebrae_path: Path | None = None
    lesion_mask_path: Path | None = None
    image_sha256: str | None = None
    image_meta: dict[str, Any] = field(default_factory=dict)
    predictions: tuple[dict[str, Any], ...] = ()
    source: str = ""

    def case(self) -> dict[str, Any]:
        """Imaging values merged with clinical fields: input of
        :func:`core.features.features_from_case`."""
        return {**self.imaging, **self.clinical}


# --------------------------------------------------------------------------- helpers


def data_dir_from_env() -> Path:
    """``SPINEPAIN_DATA_DIR`` or ``<repo>/data/store``."""
    env = os.environ.get("SPINEPAIN_DATA_DIR", "").strip()
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR


def _check_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip() or len(actor.strip()) > 64:
        raise ValueError(f"actor {actor!r} must be a non-empty name of at most 64 characters.")
    return actor.strip()


def _builtin(value: object) -> object:
    """``json.dumps`` fallback: numpy scalars and arrays as Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _json_safe(value: object, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=_builtin))
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not JSON-serialisable (or holds NaN/infinity).") from None


def _finite(value: object, what: str) -> float:
    if isinstance(value, np.integer | np.floating):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} {value!r} is not a number.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} {value!r} is not a finite number.")
    return number


def flatten_metrics(metrics: Mapping[str, object] | None) -> dict[str, object]:
    """Flat imaging columns from a ``core extract`` dict or a flat feature dict.

    ``lesion_count_<region>`` come from ``lesion_count_by_region`` when present and
    ``involved_levels`` given as a list of level names becomes its length.
    """
    if not metrics:
        return {}
    flat: dict[str, object] = {}
    by_region = metrics.get("lesion_count_by_region")
    for column, region in zip(REGION_COUNT_COLUMNS, REGIONS, strict=True):
        if isinstance(by_region, Mapping):
            flat[column] = by_region.get(region, 0)
        else:
            flat[column] = metrics.get(column)
    involved = metrics.get("involved_levels")
    flat["involved_levels"] = len(involved) if isinstance(involved, list | tuple) else involved
    for column in ("lesion_count", "high_intensity_ratio", "max_level_high_intensity_ratio"):
        flat[column] = metrics.get(column)
    unknown = set(metrics) - set(flat) - {
        "levels", "lesion_count_by_region", "vertebra_volume_ml", "high_intensity_volume_ml",
        "provenance",
    }
    if unknown:
        raise ValueError(f"metrics has unknown key(s) {', '.join(sorted(map(repr, unknown)))}.")
    return flat


def _level_rows(metrics: Mapping[str, object] | None) -> list[dict[str, Any]]:
    levels = (metrics or {}).get("levels") or []
    if not isinstance(levels, list | tuple):
        raise ValueError("metrics['levels'] must be a list of level dicts.")
    rows = []
    seen: set[str] = set()
    for order, level in enumerate(levels):
        if not isinstance(level, Mapping):
            raise ValueError("metrics['levels'] must be a list of level dicts.")
        name, region = level.get("level"), level.get("region")
        if not isinstance(name, str) or not name or len(name) > 8 or name in seen:
            raise ValueError(f"level name {name!r} is missing, too long or repeated.")
        if region not in REGIONS:
            raise ValueError(f"level {name} has unknown region {region!r}.")
        seen.add(name)
        count = level.get("lesion_count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"level {name} lesion_count {count!r} is not a whole number >= 0.")
        ratio = _finite(level.get("high_intensity_ratio"), f"level {name} high_intensity_ratio")
        if not 0 <= ratio <= 1:
            raise ValueError(f"level {name} high_intensity_ratio {ratio!r} is not in [0, 1].")
        rows.append({
            "order": order,
            "level": name,
            "region": region,
            "vertebra_volume_ml": _finite(level.get("vertebra_volume_ml"),
                                          f"level {name} vertebra_volume_ml"),
            "high_intensity_volume_ml": _finite(level.get("high_intensity_volume_ml"),
                                                f"level {name} high_intensity_volume_ml"),
            "high_intensity_ratio": ratio,
            "lesion_count": count,
        })
    return rows


def _optional_float(metrics: Mapping[str, object] | None, key: str) -> float | None:
    value = (metrics or {}).get(key)
    return None if value is None else _finite(value, key)


@dataclass
class _PreparedCase:
    row: dict[str, Any]
    metrics: dict[str, Any] | None
    levels: list[dict[str, Any]]
    image_ref: str | None
    image_sha256: str | None
    vertebrae_ref: str | None
    lesion_mask_ref: str | None
    image_meta: dict[str, Any] | None
    new_files: list[Path]


# --------------------------------------------------------------------------- the store


class CaseStore:
    """Persistent store of studies for the dashboard and for training.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; default ``SPINEPAIN_DB_URL``, else SQLite
        ``<data dir>/cases.sqlite``.
    data_dir : str or Path, optional
        Folder for the default database and image files (see the module docstring).

    Raises
    ------
    ValueError
        For a URL SQLAlchemy cannot parse.
    """

    def __init__(self, url: str | None = None, *, data_dir: str | Path | None = None) -> None:
        env_url = os.environ.get("SPINEPAIN_DB_URL", "").strip()
        raw_url = url or env_url or None
        if data_dir is not None:
            self.data_dir = Path(data_dir).expanduser()
        elif os.environ.get("SPINEPAIN_DATA_DIR", "").strip():
            self.data_dir = data_dir_from_env()
        else:
            self.data_dir = self._sqlite_folder(raw_url) or DEFAULT_DATA_DIR
        if raw_url is None:
            raw_url = f"sqlite:///{(self.data_dir / DB_FILENAME).resolve()}"
        try:
            parsed = make_url(raw_url)
        except ArgumentError:
            raise ValueError(f"database URL {raw_url!r} is not a SQLAlchemy URL.") from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.url: str = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite":
            # Streamlit serves sessions from several threads; wait for a writer's lock.
            # An in-memory database exists per connection: share one connection across
            # threads (the default pool would give each thread its own empty database).
            memory = parsed.database in (None, "", ":memory:")
            self.engine: Engine = create_engine(
                parsed, connect_args={"check_same_thread": False, "timeout": 30},
                **({"poolclass": StaticPool} if memory else {}))
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(parsed, pool_pre_ping=True)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @staticmethod
    def _sqlite_folder(url: str | None) -> Path | None:
        if not url:
            return None
        try:
            parsed = make_url(url)
        except ArgumentError:
            return None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            return Path(parsed.database).expanduser().resolve().parent
        return None

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    @property
    def images_dir(self) -> Path:
        """Folder of the de-identified image files."""
        return self.data_dir / IMAGES_DIRNAME

    # ------------------------------------------------------------------ counts

    def counts(self) -> dict[str, int]:
        """Row count of every table."""
        with self._sessions() as session:
            return {
                name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in _MODELS.items()
            }

    # ------------------------------------------------------------------ audit

    @staticmethod
    def _audit(session: Session, actor: str, action: str, target: str,
               details: Mapping[str, object]) -> None:
        if action not in AUDIT_ACTIONS:  # pragma: no cover - internal misuse
            raise ValueError(f"audit action {action!r} is not one of {AUDIT_ACTIONS}.")
        session.add(AuditEntry(actor=actor, action=action, target=target[:255],
                               details=_json_safe(dict(details), "audit details")))

    def audit_log(self) -> pd.DataFrame:
        """The audit log, oldest first: ``id, at`` (UTC), ``actor, action, target, details``."""
        with self._sessions() as session:
            entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
            rows = [(e.id, e.at, e.actor, e.action, e.target, e.details) for e in entries]
        frame = pd.DataFrame(rows, columns=["id", "at", "actor", "action", "target", "details"])
        frame["id"] = frame["id"].astype("int64")
        frame["at"] = pd.to_datetime(frame["at"]).astype("datetime64[us]").dt.tz_localize("UTC")
        return frame

    # ------------------------------------------------------------------ import

    def import_cohort(
        self,
        frame: pd.DataFrame,
        *,
        source: str,
        actor: str,
        on_duplicate: Literal["error", "replace"] = "error",
    ) -> dict[str, object]:
        """Import a cohort table (one row per study), all or nothing.

        Parameters
        ----------
        frame : pandas.DataFrame
            Columns of :data:`core.clinical.COHORT_COLUMNS` (usually
            ``load_clinical_table(...).rows``); every row is validated again.
        source : str
            File name recorded with the studies and in the audit log.
        actor : str
            Who imports (audit log).
        on_duplicate : {"error", "replace"}
            A row whose ``(patient_id, study_date)`` is already stored is an error
            (default: nothing is imported) or replaces that study's clinical values, and
            its imaging values when the row has any (``"replace"``; images and
            predictions are kept).

        Returns
        -------
        dict
            ``source, rows, patients_added, studies_added, studies_replaced``.

        Raises
        ------
        ValueError
            For an invalid row, a duplicate within the frame or with the store, or a
            patient whose sex / primary tumour / synthetic flag contradicts the store.
            Nothing is written then.
        """
        actor = _check_actor(actor)
        if on_duplicate not in ("error", "replace"):
            raise ValueError(f"on_duplicate {on_duplicate!r} must be 'error' or 'replace'.")
        rows = self._validated_rows(frame)
        source = str(source)[:200] or "import"
        with self._write() as session:
            summary = self._insert_rows(session, rows, source=source, on_duplicate=on_duplicate)
            self._audit(session, actor, "import", source, summary)
        return {"source": source, **summary}

    @staticmethod
    def _validated_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
        if not isinstance(frame, pd.DataFrame):
            raise ValueError("the cohort must be a pandas DataFrame.")
        unknown = [str(c) for c in frame.columns if c not in COHORT_COLUMNS]
        if unknown:
            raise ValueError(
                f"the cohort has unknown column(s) {', '.join(map(repr, unknown))}; expected "
                "columns from core.clinical.COHORT_COLUMNS."
            )
        labels = (list(frame.index) if frame.index.name == "row"
                  else list(range(1, len(frame) + 1)))
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

    def _patient(self, session: Session, row: Mapping[str, Any],
                 cache: dict[str, Patient]) -> tuple[Patient, bool]:
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

    def _insert_rows(self, session: Session, rows: Sequence[Mapping[str, Any]], *,
                     source: str, on_duplicate: str) -> dict[str, int]:
        cache: dict[str, Patient] = {}
        added_patients = added_studies = replaced = 0
        for row in rows:
            patient, created = self._patient(session, row, cache)
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
                self._set_clinical(study, row)
                if any(row[c] is not None for c in IMAGING_COLUMNS):
                    self._set_table_features(study, row)
                study.updated_at = _utcnow()
                replaced += 1
                continue
            study = Study(patient=patient, study_date=row["study_date"], source=source)
            session.add(study)
            self._set_clinical(study, row)
            if any(row[c] is not None for c in IMAGING_COLUMNS):
                self._set_table_features(study, row)
            added_studies += 1
            session.flush()
        return {"rows": len(rows), "patients_added": added_patients,
                "studies_added": added_studies, "studies_replaced": replaced}

    @staticmethod
    def _set_clinical(study: Study, row: Mapping[str, Any]) -> None:
        values = {c: row[c] for c in STUDY_CLINICAL_COLUMNS}
        if study.clinical is None:
            study.clinical = ClinicalValues(**values)
        else:
            for column, value in values.items():
                setattr(study.clinical, column, value)

    @staticmethod
    def _set_table_features(study: Study, row: Mapping[str, Any]) -> None:
        values = {c: row[c] for c in IMAGING_COLUMNS}
        study.levels = []
        study.features = StudyFeatures(**values, source="table", metrics=None)

    # ------------------------------------------------------------------ cases

    def save_case(
        self,
        patient_id: str,
        study_date: dt.date | str,
        *,
        clinical: Mapping[str, object],
        metrics: Mapping[str, object] | None = None,
        image: ImageSource | None = None,
        image_filename: str | None = None,
        image_meta: Mapping[str, object] | None = None,
        vertebrae: ImageSource | None = None,
        lesion_mask: ImageSource | None = None,
        synthetic: bool = False,
        actor: str,
    ) -> int:
        """Store one new study: clinical values, imaging metrics, optional image files.

        Parameters
        ----------
        patient_id : str
            Pseudonymous id (validated as in :mod:`core.clinical`); a new patient is
            created from ``clinical['sex']`` and ``clinical['primary_tumor']``.
        study_date : date or ISO str
        clinical : mapping
            Keys from :data:`core.clinical.CLINICAL_COLUMNS`; ``vas`` may be missing.
            ``sex`` and ``primary_tumor`` default to the stored patient's values.
        metrics : mapping, optional
            ``StudyMetrics.to_dict()`` (per-level rows are stored too) or flat imaging
            columns.
        image, vertebrae, lesion_mask : sitk.Image, bytes or path, optional
            Stored as de-identified NIfTI (pixels and geometry only, no header text)
            under ``<data dir>/images/<sha256>.nii.gz``. Bytes and paths are read with
            SimpleITK (NIfTI, NRRD, MHA, ...); for DICOM pass the ``sitk.Image`` from
            :func:`core.io.read_image`.
        image_filename : str, optional
            Format hint for ``image`` given as bytes (e.g. ``"t2.nii.gz"``); not stored.
        image_meta : mapping, optional
            ``ImageMeta.to_dict()``; ``modality``, ``sequence`` and ``spacing_mm`` are
            also stored as columns.
        synthetic : bool
        actor : str

        Returns
        -------
        int
            The new ``study_id``.

        Raises
        ------
        ValueError
            Invalid values, an existing (patient, date) study, or a patient whose stored
            sex / primary tumour / synthetic flag differs.
        """
        actor = _check_actor(actor)
        clinical = {**dict(clinical), **self._patient_fields(patient_id, clinical)}
        case = CaseInput(patient_id, study_date, clinical, metrics, image, image_filename,
                         image_meta, vertebrae, lesion_mask, synthetic)
        prepared = self._prepare_case(case)
        try:
            with self._write() as session:
                study = self._insert_case(session, prepared, source="case")
                self._audit(session, actor, "save", f"study {study.id}", {
                    "patient_id": prepared.row["patient_id"],
                    "study_date": prepared.row["study_date"].isoformat(),
                    "has_image": prepared.image_ref is not None,
                })
                study_id = study.id
        except Exception:
            self._remove_files(prepared.new_files)
            raise
        return study_id

    def _patient_fields(self, patient_id: object, clinical: Mapping[str, object]
                        ) -> dict[str, object]:
        """``sex`` / ``primary_tumor`` of a stored patient where ``clinical`` leaves them
        out or blank."""
        blank = [k for k in ("sex", "primary_tumor")
                 if clinical.get(k) is None or str(clinical.get(k)).strip() == ""]
        if not isinstance(patient_id, str) or not blank:
            return {}
        with self._sessions() as session:
            patient = session.scalar(select(Patient).where(Patient.patient_id == patient_id))
            if patient is None:
                return {}
            stored = {"sex": patient.sex, "primary_tumor": patient.primary_tumor}
            return {k: stored[k] for k in blank}

    def _prepare_case(self, case: CaseInput) -> _PreparedCase:
        clinical = dict(case.clinical)
        unknown = [k for k in clinical if k not in CLINICAL_COLUMNS]
        if unknown:
            raise ValueError(
                f"clinical has unknown field(s) {', '.join(map(repr, unknown))}; expected "
                f"keys from {', '.join(CLINICAL_COLUMNS)}."
            )
        if case.metrics is not None and not isinstance(case.metrics, Mapping):
            raise ValueError("metrics must be a dict (StudyMetrics.to_dict()).")
        metrics = _json_safe(dict(case.metrics), "metrics") if case.metrics else None
        record = {**clinical, **flatten_metrics(metrics), "patient_id": case.patient_id,
                  "study_date": case.study_date, "synthetic": bool(case.synthetic)}
        row = validate_clinical(record)
        levels = _level_rows(metrics)
        meta = (_json_safe(dict(case.image_meta), "image_meta")
                if case.image_meta is not None else None)
        new_files: list[Path] = []
        try:
            image_ref = image_sha = vert_ref = lesion_ref = None
            if case.image is not None:
                image_ref, image_sha, geometry = self._store_image(
                    case.image, case.image_filename, new_files)
                meta = {**geometry, **(meta or {})}
            if case.vertebrae is not None:
                vert_ref = self._store_image(case.vertebrae, None, new_files)[0]
            if case.lesion_mask is not None:
                lesion_ref = self._store_image(case.lesion_mask, None, new_files)[0]
        except Exception:
            self._remove_files(new_files)
            raise
        return _PreparedCase(row, metrics, levels, image_ref, image_sha, vert_ref, lesion_ref,
                             meta, new_files)

    def _insert_case(self, session: Session, prepared: _PreparedCase, *, source: str) -> Study:
        row = prepared.row
        patient, created = self._patient(session, row, {})
        if not created:
            existing = session.scalar(select(Study.id).where(
                Study.patient_pk == patient.id, Study.study_date == row["study_date"]))
            if existing is not None:
                raise ValueError(
                    f"patient {row['patient_id']} already has a study on "
                    f"{row['study_date'].isoformat()} (study {existing}); edit that study."
                )
        meta = prepared.image_meta or {}
        spacing = meta.get("spacing_mm")
        study = Study(
            patient=patient,
            study_date=row["study_date"],
            source=source,
            image_ref=prepared.image_ref,
            image_sha256=prepared.image_sha256,
            vertebrae_ref=prepared.vertebrae_ref,
            lesion_mask_ref=prepared.lesion_mask_ref,
            modality=_short(meta.get("modality"), 32),
            sequence=_short(meta.get("sequence"), 64),
            spacing_mm=list(spacing) if isinstance(spacing, list | tuple) else None,
            image_meta=prepared.image_meta,
        )
        session.add(study)
        self._set_clinical(study, row)
        if prepared.metrics is not None:
            values = {c: row[c] for c in IMAGING_COLUMNS}
            study.features = StudyFeatures(
                **values,
                vertebra_volume_ml=_optional_float(prepared.metrics, "vertebra_volume_ml"),
                high_intensity_volume_ml=_optional_float(prepared.metrics,
                                                         "high_intensity_volume_ml"),
                source="extraction" if "levels" in prepared.metrics else "table",
                metrics=prepared.metrics,
            )
            study.levels = [LevelFeature(**lv) for lv in prepared.levels]
        session.flush()
        return study

    def _store_image(self, source: ImageSource, filename: str | None,
                     new_files: list[Path]) -> tuple[str, str, dict[str, Any]]:
        image = _read_any_image(source, filename)
        array = sitk.GetArrayViewFromImage(image)
        clean = sitk.GetImageFromArray(array, isVector=image.GetNumberOfComponentsPerPixel() > 1)
        clean.SetOrigin(image.GetOrigin())
        clean.SetSpacing(image.GetSpacing())
        clean.SetDirection(image.GetDirection())
        self.images_dir.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(suffix=".nii.gz", dir=self.images_dir)
        os.close(handle)
        tmp = Path(tmp_name)
        try:
            sitk.WriteImage(clean, str(tmp), True)
            digest = sha256_file(tmp)
            final = self.images_dir / f"{digest}.nii.gz"
            if final.exists():
                tmp.unlink()
            else:
                os.replace(tmp, final)
                new_files.append(final)
        except Exception:
            with suppress(FileNotFoundError):
                tmp.unlink()
            raise
        geometry = {
            "spacing_mm": [float(s) for s in image.GetSpacing()],
            "size": [int(s) for s in image.GetSize()],
        }
        return f"{IMAGES_DIRNAME}/{final.name}", digest, geometry

    @staticmethod
    def _remove_files(paths: Sequence[Path]) -> None:
        for path in paths:
            with suppress(FileNotFoundError):
                path.unlink()

    @staticmethod
    def _refs(studies: Sequence[Study]) -> set[str]:
        return {r for s in studies for r in (s.image_ref, s.vertebrae_ref, s.lesion_mask_ref)
                if r}

    def _remove_unreferenced(self, refs: set[str]) -> int:
        """Delete the files of ``refs`` that no study refers to any more (after a delete).

        Only files of deleted studies are candidates, so a file another session has just
        written but not yet committed is never touched.
        """
        if not refs:
            return 0
        with self._sessions() as session:
            still: set[str] = set()
            for column in (Study.image_ref, Study.vertebrae_ref, Study.lesion_mask_ref):
                still.update(session.scalars(select(column).where(column.in_(refs))).all())
        removed = 0
        for ref in sorted(refs - still):
            path = self.data_dir / ref
            if path.parent == self.images_dir and path.is_file():
                with suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed

    def _resolve(self, ref: str | None) -> Path | None:
        return None if ref is None else self.data_dir / ref

    # ------------------------------------------------------------------ replace synthetic

    def replace_synthetic(
        self,
        frame: pd.DataFrame,
        cases: Sequence[CaseInput] = (),
        *,
        source: str,
        actor: str,
        details: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        """Replace every synthetic patient with a new synthetic data set, atomically.

        Real (non-synthetic) data are untouched. Used by :func:`core.demo.build_demo_store`;
        audited as ``build-demo``.

        Raises
        ------
        ValueError
            When a row or case is not marked synthetic, or is invalid.
        """
        actor = _check_actor(actor)
        rows = self._validated_rows(frame)
        if any(not r["synthetic"] for r in rows) or any(not c.synthetic for c in cases):
            raise ValueError("replace_synthetic only accepts rows and cases marked synthetic.")
        prepared: list[_PreparedCase] = []
        try:
            for case in cases:
                prepared.append(self._prepare_case(case))
            with self._write() as session:
                removed = 0
                refs: set[str] = set()
                for patient in session.scalars(select(Patient).where(Patient.synthetic)).all():
                    removed += len(patient.studies)
                    refs |= self._refs(patient.studies)
                    session.delete(patient)
                session.flush()
                summary = self._insert_rows(session, rows, source=source, on_duplicate="error")
                study_ids = [self._insert_case(session, p, source=source).id for p in prepared]
                summary = {**summary, "studies_removed": removed,
                           "imaging_studies": study_ids, **dict(details or {})}
                self._audit(session, actor, "build-demo", source, summary)
        except Exception:
            for p in prepared:
                self._remove_files(p.new_files)
            raise
        self._remove_unreferenced(refs)
        return summary

    # ------------------------------------------------------------------ reads

    def _study_query(self):
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

    @staticmethod
    def _row_dict(study: Study, patient: Patient, clinical: ClinicalValues | None,
                  features: StudyFeatures | None) -> dict[str, Any]:
        row: dict[str, Any] = {
            "patient_id": patient.patient_id,
            "study_date": study.study_date,
            "sex": patient.sex,
            "primary_tumor": patient.primary_tumor,
            "synthetic": bool(patient.synthetic),
        }
        for column in STUDY_CLINICAL_COLUMNS:
            row[column] = getattr(clinical, column) if clinical is not None else None
        for column in IMAGING_COLUMNS:
            row[column] = getattr(features, column) if features is not None else None
        return row

    def list_studies(
        self,
        *,
        patient_id: str | None = None,
        synthetic: bool | None = None,
        date_from: dt.date | str | None = None,
        date_to: dt.date | str | None = None,
        has_image: bool | None = None,
    ) -> pd.DataFrame:
        """One row per study, ordered by patient then date.

        Columns :data:`LIST_COLUMNS`: ``study_id``, the cohort columns (clinical and
        imaging, typed as :func:`core.clinical.as_cohort_frame`), ``lumbar_involved``
        (1/0/NaN), ``has_image``, and the latest prediction's ``predicted_category``,
        ``predicted_tier``, ``predicted_model_version``, ``predicted_at`` (missing when
        never predicted). Filters combine with AND; dates are inclusive.
        """
        query = self._study_query()
        if patient_id is not None:
            query = query.where(Patient.patient_id == patient_id)
        if synthetic is not None:
            query = query.where(Patient.synthetic.is_(bool(synthetic)))
        if date_from is not None:
            query = query.where(Study.study_date >= _as_date(date_from, "date_from"))
        if date_to is not None:
            query = query.where(Study.study_date <= _as_date(date_to, "date_to"))
        if has_image is not None:
            query = query.where(
                Study.image_ref.is_not(None) if has_image else Study.image_ref.is_(None)
            )
        query = query.order_by(Patient.patient_id, Study.study_date)
        records, extra = [], []
        with self._sessions() as session:
            for study, patient, clinical, features, prediction in session.execute(query):
                records.append(self._row_dict(study, patient, clinical, features))
                extra.append({
                    "study_id": study.id,
                    "has_image": study.image_ref is not None,
                    "predicted_category": prediction.category if prediction else None,
                    "predicted_tier": prediction.tier if prediction else None,
                    "predicted_model_version": prediction.model_version if prediction else None,
                    "predicted_at": prediction.created_at if prediction else None,
                })
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

    def cohort_frame(self, *, synthetic: bool | None = None) -> pd.DataFrame:
        """The stored studies as a cohort table: :data:`core.clinical.COHORT_COLUMNS`,
        typed as :func:`core.clinical.as_cohort_frame`, ordered by patient then date
        (the same shape as ``data/demo/cohort.csv`` read by ``load_clinical_table``).
        Studies without a VAS are included (training drops them)."""
        return self.list_studies(synthetic=synthetic)[list(COHORT_COLUMNS)]

    def patient_history(self, patient_id: str) -> pd.DataFrame:
        """A patient's studies over time: :data:`HISTORY_COLUMNS`, oldest first.

        Raises
        ------
        ValueError
            When the patient is not stored.
        """
        frame = self.list_studies(patient_id=patient_id)
        if frame.empty:
            raise ValueError(f"patient {patient_id!r} is not in the store.")
        return frame[list(HISTORY_COLUMNS)].reset_index(drop=True)

    def get_study(self, study_id: int) -> StudyRecord:
        """The full record of one study.

        Raises
        ------
        ValueError
            When the study does not exist.
        """
        with self._sessions() as session:
            study = self._get(session, study_id)
            patient = study.patient
            row = self._row_dict(study, patient, study.clinical, study.features)
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
                image_path=self._resolve(study.image_ref),
                vertebrae_path=self._resolve(study.vertebrae_ref),
                lesion_mask_path=self._resolve(study.lesion_mask_ref),
                image_sha256=study.image_sha256,
                image_meta=dict(study.image_meta or {}),
                predictions=predictions,
                source=study.source,
            )

    @staticmethod
    def _get(session: Session, study_id: int) -> Study:
        if isinstance(study_id, bool) or not isinstance(study_id, int):
            raise ValueError(f"study id {study_id!r} is not an integer.")
        study = session.get(Study, study_id)
        if study is None:
            raise ValueError(f"study {study_id} does not exist.")
        return study

    # ------------------------------------------------------------------ writes

    def record_prediction(self, study_id: int, prediction: Mapping[str, object],
                          model_version: str, actor: str) -> int:
        """Store a model prediction for a study (``Prediction.to_dict()`` or the
        ``core predict`` payload) and audit it as ``predict``.

        ``prediction`` needs ``category`` (str) and ``probabilities`` (category ->
        probability in [0, 1]); ``tier`` (str, or the tier dict with key ``tier``) and
        ``expected_vas`` are optional. Returns the prediction id.
        """
        actor = _check_actor(actor)
        if not isinstance(prediction, Mapping):
            raise ValueError("prediction must be a dict.")
        category = prediction.get("category")
        if not isinstance(category, str) or not category or len(category) > 32:
            raise ValueError(f"prediction category {category!r} is not a short text.")
        probabilities = prediction.get("probabilities")
        if not isinstance(probabilities, Mapping) or not probabilities:
            raise ValueError("prediction probabilities must be a non-empty dict.")
        probs = {}
        for key, value in probabilities.items():
            number = _finite(value, f"probability of {key!r}")
            if not 0 <= number <= 1:
                raise ValueError(f"probability of {key!r} = {number!r} is not in [0, 1].")
            probs[str(key)] = number
        tier = prediction.get("tier")
        if isinstance(tier, Mapping):
            tier = tier.get("tier")
        if tier is not None and (not isinstance(tier, str) or len(tier) > 16):
            raise ValueError(f"prediction tier {tier!r} is not a short text.")
        expected = prediction.get("expected_vas")
        expected = None if expected is None else _finite(expected, "expected_vas")
        if not isinstance(model_version, str) or not model_version or len(model_version) > 128:
            raise ValueError(f"model_version {model_version!r} is not a short text.")
        payload = _json_safe(dict(prediction), "prediction")
        with self._write() as session:
            study = self._get(session, study_id)
            row = PredictionRow(study_id=study.id, model_version=model_version,
                                category=category, tier=tier, probabilities=probs,
                                expected_vas=expected, payload=payload, actor=actor)
            session.add(row)
            session.flush()
            self._audit(session, actor, "predict", f"study {study.id}", {
                "prediction_id": row.id, "model_version": model_version,
                "category": category, "tier": tier,
            })
            return row.id

    def update_clinical(self, study_id: int, changes: Mapping[str, object],
                        actor: str) -> dict[str, Any]:
        """Edit clinical values of a study (audited as ``edit`` with before/after).

        Keys from :data:`core.clinical.CLINICAL_COLUMNS`. ``sex`` and ``primary_tumor``
        belong to the patient and change for all of the patient's studies. Changing a
        SINS component without giving ``sins_total`` recomputes the total (or clears it
        when a component is missing).

        Returns
        -------
        dict
            The study's clinical values after the edit.

        Raises
        ------
        ValueError
            Unknown keys, invalid values, or a missing study; nothing changes then.
        """
        actor = _check_actor(actor)
        unknown = [k for k in changes if k not in CLINICAL_COLUMNS]
        if unknown:
            raise ValueError(
                f"cannot edit {', '.join(map(repr, unknown))}; editable fields are "
                f"{', '.join(CLINICAL_COLUMNS)}."
            )
        with self._write() as session:
            study = self._get(session, study_id)
            current = self._row_dict(study, study.patient, study.clinical, study.features)
            merged = {**current, **dict(changes)}
            if any(c in changes for c in SINS_COMPONENTS) and "sins_total" not in changes:
                merged["sins_total"] = None
            row = validate_clinical(merged)
            diff = {c: [current[c], row[c]] for c in CLINICAL_COLUMNS if current[c] != row[c]}
            if not diff:
                return {c: row[c] for c in CLINICAL_COLUMNS}
            if row["sex"] != current["sex"]:
                study.patient.sex = row["sex"]
            if row["primary_tumor"] != current["primary_tumor"]:
                study.patient.primary_tumor = row["primary_tumor"]
            self._set_clinical(study, row)
            study.updated_at = _utcnow()
            self._audit(session, actor, "edit", f"study {study.id}", {
                "patient_id": study.patient.patient_id, "changes": diff,
            })
            return {c: row[c] for c in CLINICAL_COLUMNS}

    def delete_study(self, study_id: int, actor: str) -> None:
        """Delete a study with its values, levels and predictions (audited ``delete``).

        A patient left without studies is deleted too; image files no longer referenced
        are removed.
        """
        actor = _check_actor(actor)
        with self._write() as session:
            study = self._get(session, study_id)
            patient = study.patient
            details = {"patient_id": patient.patient_id,
                       "study_date": study.study_date.isoformat()}
            refs = self._refs([study])
            session.delete(study)
            session.flush()
            remaining = session.scalar(
                select(func.count()).select_from(Study).where(Study.patient_pk == patient.id)
            )
            if not remaining:
                session.delete(patient)
                details["patient_deleted"] = True
            self._audit(session, actor, "delete", f"study {study_id}", details)
        self._remove_unreferenced(refs)

    def export_csv(self, actor: str, *, synthetic: bool | None = None) -> bytes:
        """The cohort table as formula-injection-safe CSV (see
        :func:`core.clinical.export_csv`), audited as ``export``. Re-importable with
        ``load_clinical_table`` (rows with a VAS)."""
        actor = _check_actor(actor)
        frame = self.cohort_frame(synthetic=synthetic)
        data = _export_csv(frame)
        with self._write() as session:
            self._audit(session, actor, "export", "cohort", {
                "rows": len(frame), "synthetic_filter": synthetic,
                "sha256": sha256_bytes(data),
            })
        return data

    def record_export(self, study_id: int, *, actor: str, kind: str, content: bytes) -> None:
        """Audit the export of one study's report (``kind`` e.g. ``"report-html"``).

        Parameters
        ----------
        study_id : int
            The exported study; must exist.
        actor : str
            Who exported it (audit log).
        kind : str
            What was exported, a short word such as ``report-pdf``.
        content : bytes
            The exported file; only its SHA-256 and size are recorded.

        Raises
        ------
        ValueError
            For an unknown study or an empty actor.
        """
        actor = _check_actor(actor)
        with self._write() as session:
            if session.get(Study, study_id) is None:
                raise ValueError(f"study {study_id} does not exist.")
            self._audit(session, actor, "export", f"study {study_id}", {
                "kind": str(kind)[:32], "bytes": len(content), "sha256": sha256_bytes(content),
            })


# --------------------------------------------------------------------------- module helpers


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _short(value: object, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def _as_date(value: dt.date | str, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO date (YYYY-MM-DD).") from None


def _read_any_image(source: ImageSource, filename: str | None) -> sitk.Image:
    if isinstance(source, sitk.Image):
        return source
    if isinstance(source, bytes | bytearray):
        name = filename or "image.nii.gz"
        suffix = ".nii.gz" if name.lower().endswith(".nii.gz") else Path(name).suffix
        handle, tmp = tempfile.mkstemp(suffix=suffix or ".nii")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(bytes(source))
            return _read_any_image(Path(tmp), None)
        finally:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist.")
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError:
        raise ValueError(
            f"image {path.name} could not be read (NIfTI, NRRD or MHA expected; pass a "
            "sitk.Image from core.io for DICOM)."
        ) from None
