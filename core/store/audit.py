"""The audit log: entries written inside the transaction of the audited change, and read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.store.checks import json_safe
from core.store.schema import AUDIT_ACTIONS, DATA_ACTIONS, AuditEntry


def audit(session: Session, actor: str, action: str, target: str,
          details: Mapping[str, object]) -> None:
    """Add an audit entry to ``session`` (committed with the change it records)."""
    if action not in AUDIT_ACTIONS:  # pragma: no cover - internal misuse
        raise ValueError(f"audit action {action!r} is not one of {AUDIT_ACTIONS}.")
    session.add(AuditEntry(actor=actor, action=action, target=target[:255],
                           details=json_safe(dict(details), "audit details")))


def data_position(session: Session) -> tuple[int, int]:
    """(highest id, number) of the entries of :data:`~core.store.schema.DATA_ACTIONS`, in
    one read of the ``(action, id)`` index (0 for none)."""
    n, top = session.execute(select(func.count(), func.max(AuditEntry.id)).where(
        AuditEntry.action.in_(DATA_ACTIONS))).one()
    return int(top or 0), int(n or 0)


def read_audit_log(session: Session) -> pd.DataFrame:
    """The audit log, oldest first: ``id, at`` (UTC), ``actor, action, target, details``."""
    return _frame(session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all())


def _frame(entries: Sequence[AuditEntry]) -> pd.DataFrame:
    rows = [(e.id, e.at, e.actor, e.action, e.target, e.details) for e in entries]
    frame = pd.DataFrame(rows, columns=["id", "at", "actor", "action", "target", "details"])
    frame["id"] = frame["id"].astype("int64")
    frame["at"] = pd.to_datetime(frame["at"]).astype("datetime64[us]").dt.tz_localize("UTC")
    return frame


def read_audit_page(session: Session, *, limit: int, offset: int) -> pd.DataFrame:
    """``limit`` audit entries from ``offset``, newest first (columns of
    :func:`read_audit_log`)."""
    if isinstance(limit, bool) or int(limit) < 0 or isinstance(offset, bool) or int(offset) < 0:
        raise ValueError(f"limit {limit!r} and offset {offset!r} must be counts of rows.")
    query = (select(AuditEntry).order_by(AuditEntry.id.desc())
             .limit(int(limit)).offset(int(offset)))
    return _frame(session.scalars(query).all())
