"""The store's status and scores: :class:`StoreViews`, the part of the
:class:`~core.store.CaseStore` facade that pages read (counts and a revision number from
SQL, the audit log a page at a time, scores per model version, scored studies filtered
and paginated in SQL) and the score writes (:meth:`StoreViews.record_assessments`,
:meth:`StoreViews.recompute_scores`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.store import cohort_refresh, page_reads, scored
from core.store import scores as scores_module
from core.store.audit import data_position, read_audit_page
from core.store.checks import check_actor
from core.store.schema import AuditEntry, Patient, Study, refresh_statistics
from core.store.scored import StudyFilter

if TYPE_CHECKING:
    from core.model import TrainedModel

#: Actor of score writes that no person started.
SCORES_ACTOR = "scores"


class StoreViews:
    """Mixed into :class:`~core.store.CaseStore` (which provides the engine and sessions)."""

    engine: Engine
    _sessions: sessionmaker[Session]

    # ------------------------------------------------------------------ status

    @property
    def backend(self) -> str:
        """The database: ``sqlite`` or ``postgresql`` (SQLAlchemy's dialect name)."""
        return self.engine.dialect.name

    def store_revision(self) -> int:
        """A number that changes with every write (cache keys of views of the store).

        Every write commits at least one audit entry; the revision is the number of
        entries plus the highest entry id. Both only grow, so the sum changes on each
        commit even when PostgreSQL commits ids out of order. Two index lookups.
        """
        with self._sessions() as session:
            n, top = session.execute(select(func.count(), func.max(AuditEntry.id))).one()
        return int(n or 0) + int(top or 0)

    def data_revision(self) -> int:
        """A number that changes with every write that changes patients, studies, their
        values, features, predictions or scores (the cache key of views of the studies);
        :meth:`store_revision` but without the entries of
        :data:`~core.store.schema.NON_DATA_ACTIONS` (exports, the board's agenda and
        decisions), so recording a board decision keeps those views. Read from the
        ``(action, id)`` index of the audit log."""
        with self._sessions() as session:
            top, n = data_position(session)
        return n + top

    def study_counts(self) -> dict[str, int]:
        """``patients``, ``studies``, ``studies_with_image`` and ``synthetic_studies``,
        counted in SQL."""
        with self._sessions() as session:
            patients = session.scalar(select(func.count()).select_from(Patient))
            studies, with_image = session.execute(select(
                func.count(), func.count(Study.image_ref))).one()
            synthetic = session.scalar(select(func.count()).select_from(Study).join(
                Patient, Study.patient_pk == Patient.id).where(Patient.synthetic))
        return {"patients": int(patients or 0), "studies": int(studies or 0),
                "studies_with_image": int(with_image or 0),
                "synthetic_studies": int(synthetic or 0)}

    def audit_page(self, *, limit: int = 50, offset: int = 0) -> pd.DataFrame:
        """Audit entries, newest first, ``limit`` from ``offset`` (columns of
        :meth:`audit_log`)."""
        with self._sessions() as session:
            return read_audit_page(session, limit=limit, offset=offset)

    def audit_count(self) -> int:
        """The number of audit entries."""
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)

    # ------------------------------------------------------------------ scores

    def record_assessments(self, frame: pd.DataFrame, model_version: str, *,
                           actor: str = SCORES_ACTOR) -> int:
        """Store the assessments of stored studies under ``model_version``, one
        transaction, audited ``predict``; returns the number of scores written.

        ``frame`` is what :func:`core.assess.assess_frame` returns (its
        ``ASSESSMENT_COLUMNS``: category, tier, urgency, headline_source, headline,
        expected_vas, ``p_<category>``, region_of_involvement, assessment_error) with a
        ``study_id`` column. A study already scored with that version gets the new
        values; rows of studies that do not exist (any more) are left out.
        """
        actor = check_actor(actor)
        with self._sessions.begin() as session:
            return scores_module.write(session, frame, model_version, actor)

    def recompute_scores(self, model: TrainedModel, *,
                         progress: scores_module.Progress | None = None, batch: int = 5_000,
                         actor: str = SCORES_ACTOR, study_ids: Sequence[int] | None = None,
                         missing_only: bool = False) -> dict[str, Any]:
        """Score stored studies with ``model`` (every study, ``study_ids``, or those
        without a score of its version), ``batch`` studies at a time: each batch is read,
        assessed with :func:`core.assess.assess_frame` and written in a short transaction
        of its own (audited ``predict``), so other sessions keep reading and writing.

        ``progress(studies_done, studies_total)`` is called before the first batch and
        after each. Returns ``model_version, studies, not_assessable, seconds``.
        """
        actor = check_actor(actor)
        done = scores_module.recompute(self._sessions, model, actor=actor, progress=progress,
                                       batch=batch, study_ids=study_ids,
                                       missing_only=missing_only)
        refresh_statistics(self.engine, ("scores",))
        return done

    def score_status(self, model_version: str) -> dict[str, Any]:
        """``scored`` and ``unscored`` studies for ``model_version`` and ``versions``
        (every stored version -> studies scored with it)."""
        with self._sessions() as session:
            versions = scores_module.versions(session)
            missing = scores_module.unscored(session, model_version, versions)
        return {"scored": versions.get(model_version, 0), "unscored": missing,
                "versions": versions}

    def scored_studies(self, model_version: str | None, filters: StudyFilter | None = None,
                       *, order_by: str = "board", limit: int | None = 50,
                       offset: int = 0) -> pd.DataFrame:
        """A page of studies with their stored scores, filtered, ordered and paginated in
        SQL (:mod:`core.store.scored`).

        Columns: :data:`~core.store.LIST_COLUMNS` (as :meth:`list_studies`), the
        assessment columns of :func:`core.assess.assess_frame` (missing for a study not
        yet scored with ``model_version``) and ``score_computed_at`` (``NaT`` then).
        ``order_by``: ``board`` (most urgent first, a fired override first, then the
        newest study), ``patient``, ``recent`` or ``expected_vas``.
        """
        with self._sessions() as session:
            return scored.page(session, model_version, filters, order_by=order_by,
                               limit=limit, offset=offset)

    def count_studies(self, filters: StudyFilter | None = None, *,
                      model_version: str | None = None) -> int:
        """How many studies pass ``filters`` (``SELECT count(*)``); the filters that read
        scores (region, category, tier, urgency, override) need ``model_version``."""
        with self._sessions() as session:
            return scored.count(session, filters, model_version)

    # ------------------------------------------------------------ page reads

    def study_date_range(self) -> tuple[dt.date | None, dt.date | None]:
        """The first and last study date in SQL (``(None, None)`` for an empty store)."""
        with self._sessions() as session:
            return page_reads.date_range(session)

    def score_values(self, model_version: str, column: str) -> list[str]:
        """Distinct stored values of a text score column (``category``, ``tier``,
        ``urgency``, ``headline_source``, ``region_of_involvement``) under a version."""
        with self._sessions() as session:
            return page_reads.score_values(session, model_version, column)

    def assessment_errors(self, model_version: str) -> pd.DataFrame:
        """``study_id, patient_id, assessment_error`` of the studies ``model_version``
        could not assess (their stored score is the error)."""
        with self._sessions() as session:
            return page_reads.assessment_errors(session, model_version)

    def scores_of(self, model_version: str, study_ids: Sequence[int]) -> pd.DataFrame:
        """The stored scores (``study_id`` and the assessment columns) of these studies
        under ``model_version``; studies without one are left out."""
        with self._sessions() as session:
            return page_reads.scores_of(session, model_version, study_ids)

    def scored_cohort(self, model_version: str | None) -> pd.DataFrame:
        """Every study (columns of :meth:`list_studies`) with its stored score of
        ``model_version`` (the assessment columns; missing when not yet scored), in one
        query, ordered by study id: the whole-cohort view of the analytics pages."""
        with self._sessions() as session:
            return page_reads.scored_cohort(session, model_version)

    def scored_snapshot(self, model_version: str | None,
                        previous: cohort_refresh.CohortSnapshot | None = None
                        ) -> cohort_refresh.CohortSnapshot:
        """:meth:`scored_cohort` with the audit position it reflects; with ``previous``
        (an earlier snapshot of this store), only the studies of the patients changed
        since are read again when the audit log names them all
        (:func:`core.store.cohort_refresh.current_snapshot`)."""
        with self._sessions() as session:
            return cohort_refresh.current_snapshot(session, model_version, previous)
