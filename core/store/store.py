"""The case store facade: connection, sessions and transactions, public operations.

Each public method opens at most one write transaction; the work inside it is done by
:mod:`core.store.importing`, :mod:`core.store.cases` and :mod:`core.store.queries`, and
the audit entry is written in that same transaction, so a failure part-way leaves the
store as it was (image files written for it are removed again).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from core.clinical import COHORT_COLUMNS, ValidatedCohort
from core.clinical import export_csv as _export_csv
from core.provenance import sha256_bytes
from core.store import agenda as agenda_module
from core.store import cases as cases_module
from core.store import corrections as corrections_module
from core.store import importing, queries
from core.store import scores as scores_module
from core.store import surveillance as surveillance_queries
from core.store.audit import audit, read_audit_log
from core.store.bulk import Progress
from core.store.checks import check_actor
from core.store.faults import storage_errors
from core.store.images import ImageFiles
from core.store.records import CaseInput, ImageSource, StudyRecord
from core.store.schema import (
    HISTORY_COLUMNS,
    Study,
    create_schema,
    make_engine,
    refresh_statistics,
)
from core.store.views import StoreViews

if TYPE_CHECKING:
    from core.model import TrainedModel

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO / "data" / "store"
DB_FILENAME = "cases.sqlite"


def data_dir_from_env() -> Path:
    """``SPINEPAIN_DATA_DIR`` or ``<repo>/data/store``."""
    env = os.environ.get("SPINEPAIN_DATA_DIR", "").strip()
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR


def _sqlite_folder(url: str | None) -> Path | None:
    if not url:
        return None
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # refused with a sentence when the store opens it
        return None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database).expanduser().resolve().parent
    return None


class CaseStore(StoreViews):
    """Persistent store of studies for the dashboard and for training.

    Status, the audit log by pages, scores and scored studies filtered and paginated in
    SQL come from :class:`core.store.views.StoreViews`.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; default ``SPINEPAIN_DB_URL``, else SQLite
        ``<data dir>/cases.sqlite``.
    data_dir : str or Path, optional
        Folder for the default database and image files (see :mod:`core.store`).

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
            self.data_dir = _sqlite_folder(raw_url) or DEFAULT_DATA_DIR
        if raw_url is None:
            raw_url = f"sqlite:///{(self.data_dir / DB_FILENAME).resolve()}"
        try:
            parsed = make_url(raw_url)
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            # Not echoed: a URL may carry a password.
            raise ValueError("the database URL is not a SQLAlchemy URL such as "
                             "postgresql://user@host/db or sqlite:///path/cases.sqlite."
                             ) from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.url: str = parsed.render_as_string(hide_password=True)
        self.engine = make_engine(parsed)
        create_schema(self.engine)
        agenda_module.upgrade_audit_actions(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._images = ImageFiles(self.data_dir)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with storage_errors(), self._sessions.begin() as session:
            yield session

    @property
    def images_dir(self) -> Path:
        """Folder of the de-identified image files."""
        return self._images.directory

    # ------------------------------------------------------------------ reads

    def counts(self) -> dict[str, int]:
        """Row count of every table."""
        with self._sessions() as session:
            return queries.count_rows(session)

    def audit_log(self) -> pd.DataFrame:
        """The audit log, oldest first: ``id, at`` (UTC), ``actor, action, target, details``."""
        with self._sessions() as session:
            return read_audit_log(session)

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
        with self._sessions() as session:
            return queries.list_studies(session, patient_id=patient_id, synthetic=synthetic,
                                        date_from=date_from, date_to=date_to,
                                        has_image=has_image)

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
            return queries.study_record(session, study_id, self._images.resolve)

    # ------------------------------------------------------------ surveillance

    def patient_levels(self, patient_id: str) -> pd.DataFrame:
        """Per-level rows of every study of one patient, by date then craniocaudally
        (:data:`core.store.surveillance.LEVEL_HISTORY_COLUMNS`; indexed, see there)."""
        with self._sessions() as session:
            return surveillance_queries.patient_levels(session, patient_id)

    def cohort_levels(self, *, min_studies: int = 2, synthetic: bool | None = None,
                      patient_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Per-level rows of every patient with at least ``min_studies`` studies (of
        those ``patient_ids`` when given)."""
        with self._sessions() as session:
            return surveillance_queries.cohort_levels(session, min_studies=min_studies,
                                                      synthetic=synthetic,
                                                      patient_ids=patient_ids)

    def patient_study_counts(self, *, synthetic: bool | None = None) -> pd.DataFrame:
        """Studies per patient with the first and last date
        (:data:`core.store.surveillance.STUDY_COUNT_COLUMNS`)."""
        with self._sessions() as session:
            return surveillance_queries.study_counts(session, synthetic=synthetic)

    # ------------------------------------------------------------------ import

    def import_cohort(
        self,
        frame: pd.DataFrame | ValidatedCohort,
        *,
        source: str,
        actor: str,
        on_duplicate: Literal["error", "replace"] = "error",
        progress: Progress | None = None,
        model: TrainedModel | None = None,
        score_progress: Progress | None = None,
    ) -> dict[str, object]:
        """Import a cohort table (one row per study), all or nothing.

        Rows are validated in bulk (:func:`core.clinical.bulk.validate_cells`: the rules
        and messages of :func:`core.clinical.validate_clinical`) and written with core
        ``insert()`` executemany in one transaction with the audit entry.

        Parameters
        ----------
        frame : pandas.DataFrame or ValidatedCohort
            Columns of :data:`core.clinical.COHORT_COLUMNS` (usually
            ``load_clinical_table(...).rows``); every row is validated again. Or the
            :class:`core.clinical.ValidatedCohort` of the bulk loader
            (``load_clinical_table_bulk(...).validated``), whose rows were validated
            as a whole table already and are not validated again.
        source : str
            File name recorded with the studies and in the audit log.
        actor : str
            Who imports (audit log).
        on_duplicate : {"error", "replace"}
            A row whose ``(patient_id, study_date)`` is already stored is an error
            (default: nothing is imported) or replaces that study's clinical values, and
            its imaging values when the row has any (``"replace"``; images and
            predictions are kept; the replaced studies' scores are dropped).
        progress : callable, optional
            ``progress(rows_written, rows_total)`` after each batch of studies.
        model : TrainedModel, optional
            Score the imported studies with it once the import has committed
            (:meth:`recompute_scores` on those studies; batches of their own, so a long
            scoring never holds the import's transaction open).
        score_progress : callable, optional
            ``progress(studies_scored, studies_total)`` of that scoring.

        Returns
        -------
        dict
            ``source, rows, patients_added, studies_added, studies_replaced`` and
            ``warnings`` (plain sentences naming rows, e.g. an old yes/no
            ``neurologic_deficit`` read as ``new_or_progressive``/``none``); with a
            ``model`` also ``scores`` (the :meth:`recompute_scores` summary).

        Raises
        ------
        ValueError
            For an invalid row, a duplicate within the frame or with the store, or a
            patient whose sex / primary tumour / synthetic flag contradicts the store.
            Nothing is written then.
        """
        actor = check_actor(actor)
        if on_duplicate not in ("error", "replace"):
            raise ValueError(f"on_duplicate {on_duplicate!r} must be 'error' or 'replace'.")
        rows, warnings = importing.cohort_rows(frame)
        source = str(source)[:200] or "import"
        with self._write() as session:
            summary, study_ids = importing.import_rows(
                session, rows, source=source, on_duplicate=on_duplicate, actor=actor,
                progress=progress)
        refresh_statistics(self.engine)
        result: dict[str, object] = {"source": source, **summary, "warnings": warnings}
        if model is not None:
            result["scores"] = self.recompute_scores(
                model, actor=actor, study_ids=[int(i) for i in study_ids],
                progress=score_progress)
        return result

    def import_imaging(self, frame: pd.DataFrame, *, source: str,
                       actor: str) -> dict[str, object]:
        """Import imaging-only rows (e.g. ``python -m core batch --db``), all or nothing.

        Parameters
        ----------
        frame : pandas.DataFrame
            Columns ``patient_id``, ``study_date`` and any of
            :data:`core.clinical.IMAGING_COLUMNS` (flat, as in a cohort table); every
            row is validated as in :func:`core.clinical.validate_clinical`.
        source : str
            Recorded with new studies and in the audit log (``import``, with
            ``imaging_only: true``).
        actor : str
            Who imports (audit log).

        Returns
        -------
        dict
            ``source, rows, patients_added, studies_added, studies_replaced``.

        Notes
        -----
        A stored (patient, date) gets its imaging values replaced and keeps its clinical
        values, so importing the same rows again changes nothing but the audit log. A new
        date becomes a study without clinical values; a new patient is a real patient of
        unknown sex with the schema's default primary tumour.

        Raises
        ------
        ValueError
            For an invalid or duplicated row, or a patient stored as synthetic; nothing
            is written then.
        """
        actor = check_actor(actor)
        rows = importing.validated_imaging_rows(frame)
        source = str(source)[:200] or "import"
        with self._write() as session:
            summary = importing.import_imaging_rows(session, rows, source=source,
                                                    actor=actor)
        refresh_statistics(self.engine)
        return {"source": source, **summary}

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
        actor = check_actor(actor)
        rows = importing.validated_rows(frame)
        if not all(rows.columns["synthetic"]) or any(not c.synthetic for c in cases):
            raise ValueError("replace_synthetic only accepts rows and cases marked synthetic.")
        prepared: list[cases_module.PreparedCase] = []
        try:
            for case in cases:
                prepared.append(cases_module.prepare_case(case, self._images))
            with self._write() as session:
                summary, refs = importing.replace_synthetic_rows(
                    session, rows, prepared, source=source, actor=actor, details=details)
        except Exception:
            for p in prepared:
                self._images.remove(p.new_files)
            raise
        refresh_statistics(self.engine)
        self._images.remove_unreferenced(self._sessions, refs)
        return summary

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
        model: TrainedModel | None = None,
    ) -> int:
        """Store one new study: clinical values, imaging metrics, optional image files
        (and, with a ``model``, its score under that model version, in the same
        transaction).

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
            under ``<data dir>/images/<sha256>.nii.gz``. Bytes and paths are read by
            :func:`core.io.read_image` (``image``) and :func:`core.io.read_label_map`
            with the image as reference (``vertebrae``, ``lesion_mask``): validated and
            in canonical LPS orientation; a ``sitk.Image`` (from core.io) is stored as
            given.
        image_filename : str, optional
            Format hint for ``image`` given as bytes (e.g. ``"t2.nii.gz"``); not stored.
        image_meta : mapping, optional
            ``ImageMeta.to_dict()``; ``modality``, ``sequence`` and ``spacing_mm`` are
            also stored as columns. For an ``image`` read from bytes or a path, the
            ``ImageMeta`` of that read fills the keys this leaves out.
        synthetic : bool
        actor : str
        model : TrainedModel, optional

        Returns
        -------
        int
            The new ``study_id``.

        Raises
        ------
        ValueError
            Invalid values, an existing (patient, date) study, or a patient whose stored
            sex / primary tumour / synthetic flag differs; a
            :class:`~core.store.faults.StorageFullError` (also an ``OSError``) when the
            disk or database is full. Nothing is stored then, no file is left.
        """
        actor = check_actor(actor)
        clinical = {**dict(clinical),
                    **cases_module.stored_patient_fields(self._sessions, patient_id, clinical)}
        case = CaseInput(patient_id, study_date, clinical, metrics, image, image_filename,
                         image_meta, vertebrae, lesion_mask, synthetic)
        prepared = cases_module.prepare_case(case, self._images)
        try:
            score = None if model is None else scores_module.scorer(model)
            return cases_module.save_with_retry(self._write, prepared, actor, score)
        except Exception:
            self._images.remove(prepared.new_files)
            raise

    def update_clinical(self, study_id: int, changes: Mapping[str, object],
                        actor: str, *, model: TrainedModel | None = None) -> dict[str, Any]:
        """Edit clinical values of a study (audited as ``edit`` with before/after).

        The study's stored scores are dropped (they were computed from the old values);
        with a ``model`` its score under that version is written again.

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
        actor = check_actor(actor)
        cases_module.check_clinical_keys(changes)
        score = None if model is None else scores_module.scorer(model)
        with self._write() as session:
            return cases_module.update_clinical(session, study_id, changes, actor, score)

    def delete_study(self, study_id: int, actor: str) -> None:
        """Delete a study with its values, levels and predictions (audited ``delete``).

        A patient left without studies is deleted too; image files no longer referenced
        are removed.
        """
        actor = check_actor(actor)
        with self._write() as session:
            refs = cases_module.delete_study(session, study_id, actor)
        self._images.remove_unreferenced(self._sessions, refs)

    def record_prediction(self, study_id: int, prediction: Mapping[str, object],
                          model_version: str, actor: str) -> int:
        """Store a model prediction for a study (``Prediction.to_dict()`` or the
        ``core predict`` payload) and audit it as ``predict``.

        ``prediction`` needs ``category`` (str) and ``probabilities`` (category ->
        probability in [0, 1]); ``tier`` (str, or the tier dict with key ``tier``) and
        ``expected_vas`` are optional. Returns the prediction id.
        """
        actor = check_actor(actor)
        values = cases_module.validated_prediction(prediction, model_version)
        with self._write() as session:
            return cases_module.add_prediction(session, study_id, values, actor)

    def record_level_corrections(self, corrections: Sequence[Mapping[str, object]], *,
                                 actor: str, study_id: int | None = None,
                                 draft_id: str | None = None) -> int:
        """Audit level corrections (``correct-levels``) made on a study or on an unsaved
        draft (:mod:`core.store.corrections`), in one transaction; returns the count."""
        actor = check_actor(actor)
        with self._write() as session:
            return corrections_module.record_level_corrections(
                session, corrections, actor=actor, study_id=study_id, draft_id=draft_id)

    # ------------------------------------------------------------------ exports

    def export_csv(self, actor: str, *, synthetic: bool | None = None) -> bytes:
        """The cohort table as formula-injection-safe CSV (see
        :func:`core.clinical.export_csv`), audited as ``export``. Re-importable with
        ``load_clinical_table`` (rows with a VAS)."""
        actor = check_actor(actor)
        frame = self.cohort_frame(synthetic=synthetic)
        data = _export_csv(frame)
        with self._write() as session:
            audit(session, actor, "export", "cohort", {
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
        actor = check_actor(actor)
        with self._write() as session:
            if session.get(Study, study_id) is None:
                raise ValueError(f"study {study_id} does not exist.")
            audit(session, actor, "export", f"study {study_id}", {
                "kind": str(kind)[:32], "bytes": len(content), "sha256": sha256_bytes(content),
            })

    # ------------------------------------------------------------------ board agenda

    def agenda(self, board_date: dt.date | str) -> pd.DataFrame:
        """The tumor board's agenda of ``board_date`` in order: ``position, study_id,
        patient_id, study_date, discussed, note, updated_by, updated_at``
        (:data:`core.store.agenda.AGENDA_COLUMNS`)."""
        with self._sessions() as session:
            return agenda_module.agenda_frame(session, board_date)

    def agenda_add(self, board_date: dt.date | str, study_ids: Sequence[int], *,
                   actor: str) -> list[int]:
        """Append studies to the end of a day's agenda, in the order given (one already
        on it keeps its place); audited ``board-agenda``. Returns the ids added.

        Raises
        ------
        ValueError
            For an unknown study, a bad date or an empty actor; nothing is added then.
        """
        actor = check_actor(actor)
        with self._write() as session:
            return agenda_module.add_items(session, board_date, study_ids, actor)

    def agenda_remove(self, board_date: dt.date | str, study_id: int, *, actor: str) -> None:
        """Take a study off a day's agenda (audited ``board-agenda``).

        Raises
        ------
        ValueError
            When the study is not on that agenda.
        """
        actor = check_actor(actor)
        with self._write() as session:
            agenda_module.remove_item(session, board_date, study_id, actor)

    def agenda_note(self, board_date: dt.date | str, study_id: int, *, note: str | None,
                    discussed: bool, actor: str) -> dict[str, object]:
        """Record the board's decision on a study of the agenda: ``discussed`` and a
        one-line ``note`` (at most 200 characters), in the agenda and in the audit log
        (``board-note``, with the note) in one transaction. Returns the saved values.

        Raises
        ------
        ValueError
            For a note on several lines or too long, a study not on that agenda, or an
            empty actor; nothing changes then.
        """
        actor = check_actor(actor)
        with self._write() as session:
            return agenda_module.set_note(session, board_date, study_id, note=note,
                                          discussed=discussed, actor=actor)
