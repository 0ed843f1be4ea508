"""The scored cohort kept current by reading again only the studies that changed.

Reading the whole cohort with its stored scores takes seconds at 100,000 studies (one
join of every study with its patient, values and score, then typed). After a case is
saved, edited, deleted or given a prediction, only that study's patient changed, and
the audit log, written in the transaction of every change, names the study
(``study <id>``). :func:`read_snapshot` reads the whole cohort together with the audit
position it reflects; :func:`refresh` brings a snapshot up to date by reading again the
studies of every patient named by the data entries after that position, and returns
``None`` (read everything) whenever it cannot be sure the patch is complete:

* an entry that names no single study: an import, a rescore (``scores <version>``), the
  demo build, a draft's level corrections;
* more than :data:`MAX_ENTRIES` new entries (a full read is as cheap by then);
* a store built again at the same address (its first audit entry is not the same);
* an entry committed late below the snapshot's position: PostgreSQL takes an id when a
  row is inserted, not when it commits, so a transaction can commit an id lower than one
  already read. A snapshot keeps how many data entries it saw up to its position; a
  different count now means one arrived late.

The position is read before the rows, so a change committed in between is in the rows
and read again on the next refresh (reading a study again is idempotent). The patched
frame equals a full read: same rows, order, values and dtypes. The named patients' rows
are replaced (an edit can change a patient's sex or primary tumour, which every study of
the patient shows; a deleted study's patient is found by its patient id), the rows are
put back in study-id order, and a cohort column that is of object dtype after joining
the kept and the fresh rows (a yes/no column with a missing value in either part: it is
boolean only while no value is missing) is typed again by the one typing
(:func:`core.clinical.bulk.typed_cohort_frame`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from core.clinical import COHORT_COLUMNS
from core.clinical.bulk import typed_cohort_frame
from core.store.audit import data_position
from core.store.bulk import IN_CHUNK, chunks
from core.store.page_reads import scored_rows, scored_select
from core.store.schema import DATA_ACTIONS, AuditEntry, Patient, Study

#: Most new data entries a refresh reads again study by study; beyond, read everything.
MAX_ENTRIES = 2_000
#: Refreshes a snapshot remembers (see :meth:`CohortSnapshot.replaced_since`).
HISTORY_STEPS = 64
#: Audited actions whose entry names the one study it changed (``study <id>``).
STUDY_ACTIONS: tuple[str, ...] = ("save", "edit", "delete", "predict", "correct-levels")
_STUDY_TARGET = re.compile(r"study (\d+)")


#: :attr:`CohortSnapshot.mark`: the store's origin, the position and the entries seen.
Mark = tuple[tuple[object, ...], int, int]


@dataclass(frozen=True, eq=False)
class CohortSnapshot:
    """The scored cohort of one model version as of an audit position.

    Attributes
    ----------
    frame : pandas.DataFrame
        What :func:`core.store.page_reads.scored_cohort` gives (shared, read-only).
    model_version : str or None
    position : int
        The highest data-entry id (:data:`~core.store.schema.DATA_ACTIONS`) when the rows
        were read (0: none).
    seen : int
        How many data entries had an id up to ``position`` then.
    origin : tuple
        The id and time of the store's first audit entry (a store built again at the
        same address has another).
    patched : int
        Rows read again by the :func:`refresh` that made this snapshot (``-1``: a full
        read).
    history : tuple of (mark, frozenset of str)
        The :attr:`mark` of the snapshot each refresh since the last full read started
        from and the patients it replaced, oldest first (at most :data:`HISTORY_STEPS`;
        the last is the refresh that made this one).
    """

    frame: pd.DataFrame
    model_version: str | None
    position: int
    seen: int
    origin: tuple[object, ...]
    patched: int = -1
    history: tuple[tuple[Mark, frozenset[str]], ...] = ()

    @property
    def base(self) -> int:
        """The ``position`` of the snapshot it was refreshed from (``-1``: a full read)."""
        return self.history[-1][0][1] if self.history else -1

    @property
    def replaced(self) -> frozenset[str]:
        """The patients whose rows the refresh that made it replaced (every row of theirs;
        views per patient, such as surveillance, need computing again only for them)."""
        return self.history[-1][1] if self.history else frozenset()

    @property
    def mark(self) -> Mark:
        """What tells this snapshot's data apart: ``(origin, position, seen)``."""
        return self.origin, self.position, self.seen

    def replaced_since(self, mark: Mark) -> frozenset[str] | None:
        """The patients whose rows changed between the snapshot of this one's line with
        ``mark`` (one it was refreshed from, directly or through others, or itself) and
        this one; ``None`` when no snapshot of its remembered line has that mark (a view
        made from that snapshot must be made again in full)."""
        if mark == self.mark:
            return frozenset()
        patients: set[str] = set()
        for base, replaced in reversed(self.history):
            patients |= replaced
            if base == mark:
                return frozenset(patients)
        return None


def _step(snapshot: CohortSnapshot, replaced: frozenset[str]
          ) -> tuple[tuple[Mark, frozenset[str]], ...]:
    """``snapshot``'s history with one more refresh from it (the oldest dropped)."""
    return (*snapshot.history, (snapshot.mark, replaced))[-HISTORY_STEPS:]


def _origin(session: Session) -> tuple[object, ...]:
    first = session.execute(select(AuditEntry.id, AuditEntry.at)
                            .order_by(AuditEntry.id).limit(1)).first()
    return () if first is None else tuple(first)


def read_snapshot(session: Session, model_version: str | None) -> CohortSnapshot:
    """The whole scored cohort and the audit position it reflects."""
    position, seen = data_position(session)
    frame = scored_rows(session, scored_select(model_version))
    return CohortSnapshot(frame, model_version, position, seen, _origin(session))


def _changed_studies(session: Session, snapshot: CohortSnapshot, top: int) -> set[int] | None:
    """Ids of the studies the data entries after the snapshot name (``None``: an entry
    that names none, a late entry, or too many)."""
    below = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action.in_(DATA_ACTIONS), AuditEntry.id <= snapshot.position))
    if int(below or 0) != snapshot.seen:
        return None
    entries = session.execute(
        select(AuditEntry.action, AuditEntry.target)
        .where(AuditEntry.action.in_(DATA_ACTIONS), AuditEntry.id > snapshot.position,
               AuditEntry.id <= top)
        .order_by(AuditEntry.id).limit(MAX_ENTRIES + 1)).all()
    if len(entries) > MAX_ENTRIES:
        return None
    ids: set[int] = set()
    for action, target in entries:
        match = _STUDY_TARGET.fullmatch(target or "")
        if action not in STUDY_ACTIONS or match is None:
            return None
        ids.add(int(match[1]))
    return ids


def _fresh_rows(session: Session, model_version: str | None, study_ids: set[int],
                patient_ids: Sequence[str]) -> pd.DataFrame:
    """Every study, now, of the patients of ``study_ids`` (those still stored) and of the
    patients ``patient_ids`` (those of the named studies before, which may be gone)."""
    patients: set[int] = set()
    for part in chunks(sorted(study_ids), IN_CHUNK):
        patients.update(session.scalars(select(Study.patient_pk).where(Study.id.in_(part))))
    for part in chunks(sorted(patient_ids), IN_CHUNK):
        patients.update(session.scalars(select(Patient.id).where(Patient.patient_id.in_(part))))
    query = scored_select(model_version)
    parts = [scored_rows(session, query.where(Study.patient_pk.in_(part)))
             for part in chunks(sorted(patients), IN_CHUNK)]
    if not parts:
        return scored_rows(session, query.where(false()))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _merged(old: pd.DataFrame, fresh: pd.DataFrame, drop: np.ndarray) -> pd.DataFrame:
    """The rows of ``old`` (in study-id order) not in ``drop`` and the rows of ``fresh``,
    in study-id order (a row of ``fresh`` after a kept row of the same id, as a stable
    sort of the two would put it): the fresh rows' places are found by binary search
    and the rows copied once, instead of sorting the whole cohort again."""
    keep = np.flatnonzero(~drop)
    if not len(fresh):
        return old.take(keep).reset_index(drop=True)
    fresh = fresh.sort_values("study_id", kind="stable", ignore_index=True)
    kept_ids = old["study_id"].to_numpy()[keep]
    slots = (np.searchsorted(kept_ids, fresh["study_id"].to_numpy(), side="right")
             + np.arange(len(fresh)))
    is_fresh = np.zeros(len(keep) + len(fresh), dtype=bool)
    is_fresh[slots] = True
    order = np.empty(len(is_fresh), dtype=np.intp)
    order[is_fresh] = len(old) + np.arange(len(fresh))
    order[~is_fresh] = keep
    both = pd.concat([old, fresh], ignore_index=True) if len(old) else fresh
    return both.take(order).reset_index(drop=True)


def _patched(old: pd.DataFrame, fresh: pd.DataFrame, named: pd.Series,
             patients: Collection[str]) -> pd.DataFrame:
    """``old`` without the ``named`` rows and every row of ``patients`` (the named
    studies' patients as ``old`` and ``fresh`` have them), with ``fresh`` instead, in
    study-id order, typed as a full read."""
    rows = _merged(old, fresh, (named | old["patient_id"].isin(list(patients))).to_numpy())
    # both parts typed alike keep their dtype (as a full read types it); an object
    # column (a yes/no column with a missing value in a part, the deficit) is typed again
    again = [c for c in COHORT_COLUMNS if rows[c].dtype == object]
    typed = typed_cohort_frame(rows, columns=again)
    return pd.concat([rows.drop(columns=again), typed], axis=1)[list(old.columns)]


def refresh(session: Session, snapshot: CohortSnapshot) -> CohortSnapshot | None:
    """``snapshot`` brought up to date by reading again only the studies of the patients
    that changed since, equal to :func:`read_snapshot` now; ``None`` when the changes
    cannot be read study by study (see the module docstring)."""
    origin = _origin(session)
    top, seen = data_position(session)
    ids = None if origin != snapshot.origin else _changed_studies(session, snapshot, top)
    if ids is None:
        return None
    if not ids:
        return CohortSnapshot(snapshot.frame, snapshot.model_version, top, seen, origin, 0,
                              _step(snapshot, frozenset()))
    old = snapshot.frame
    named = old["study_id"].isin(list(ids))
    patient_ids = sorted({str(p) for p in old.loc[named, "patient_id"]})
    fresh = _fresh_rows(session, snapshot.model_version, ids, patient_ids)
    replaced = frozenset({*patient_ids, *(str(p) for p in fresh["patient_id"])})
    frame = _patched(old, fresh, named, replaced)
    return CohortSnapshot(frame, snapshot.model_version, top, seen, origin, len(fresh),
                          _step(snapshot, replaced))


def current_snapshot(session: Session, model_version: str | None,
                     previous: CohortSnapshot | None = None) -> CohortSnapshot:
    """``previous`` refreshed when it is of ``model_version`` and can be, else a full
    read."""
    if previous is not None and previous.model_version == model_version:
        refreshed = refresh(session, previous)
        if refreshed is not None:
            return refreshed
    return read_snapshot(session, model_version)


__all__ = ["HISTORY_STEPS", "MAX_ENTRIES", "STUDY_ACTIONS", "CohortSnapshot", "Mark",
           "current_snapshot", "read_snapshot", "refresh"]
