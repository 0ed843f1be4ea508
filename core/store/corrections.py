"""Level corrections in the audit log (action :data:`core.level_correction.AUDIT_ACTION`).

The New case page corrects a level map before the case exists: each correction is
recorded at once against the page's *draft* (target ``draft <id>``), and again against
the study when the case is saved (target ``study <id>``, with the draft id), so the log
ties the saved case to every correction made before saving.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from core.level_correction import AUDIT_ACTION
from core.store.audit import audit
from core.store.schema import Study

_DRAFT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _target(session: Session, study_id: int | None, draft_id: str | None) -> str:
    if draft_id is not None and (not isinstance(draft_id, str)
                                 or not _DRAFT_ID.fullmatch(draft_id)):
        raise ValueError(f"draft id {draft_id!r} must be 1-64 letters, digits, '-' or '_'.")
    if study_id is None:
        if draft_id is None:
            raise ValueError("A level correction needs the study id or the draft id it "
                             "belongs to.")
        return f"draft {draft_id}"
    if isinstance(study_id, bool) or not isinstance(study_id, int):
        raise ValueError(f"study id {study_id!r} is not a whole number.")
    if session.get(Study, study_id) is None:
        raise ValueError(f"study {study_id} does not exist.")
    return f"study {study_id}"


def record_level_corrections(session: Session, corrections: Sequence[Mapping[str, object]],
                             *, actor: str, study_id: int | None = None,
                             draft_id: str | None = None) -> int:
    """Add one ``correct-levels`` audit entry per correction to ``session``.

    Parameters
    ----------
    corrections : sequence of mapping
        :meth:`core.level_correction.LevelCorrection.audit_details` of each correction,
        oldest first; each needs ``action`` and ``summary``.
    actor : str
        Checked by the caller.
    study_id, draft_id
        The saved study (must exist) and/or the unsaved draft the corrections were made
        on; at least one.

    Returns
    -------
    int
        The number of entries added.

    Raises
    ------
    ValueError
        For a missing study, a malformed draft id, or a correction without ``action``
        and ``summary``; nothing is added then.
    """
    target = _target(session, study_id, draft_id)
    entries = []
    for number, details in enumerate(corrections, start=1):
        if not isinstance(details, Mapping) or not {"action", "summary"} <= set(details):
            raise ValueError(f"level correction {number} has no action and summary.")
        entry = dict(details)
        if draft_id is not None:
            entry["draft_id"] = draft_id
        entries.append(entry)
    for entry in entries:
        audit(session, actor, AUDIT_ACTION, target, entry)
    return len(entries)
