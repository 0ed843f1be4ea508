"""The tumor board's agenda: the studies to discuss on a board date, in order, each
marked discussed or not with a one-line decision note.

Table ``board_agenda`` (same declarative :class:`~core.store.schema.Base` as the other
tables, so ``Base.metadata.create_all`` makes it in a new or an older store): one row
per (``board_date``, study), its ``position`` on that day's agenda (0 first),
``discussed``, ``note`` (at most :data:`NOTE_MAX_CHARS` characters, one line), who
changed it last and when. A deleted study leaves every agenda (``ON DELETE CASCADE``).

Writes are audited in their own transaction by the facade
(:meth:`core.store.CaseStore.agenda_add` / ``agenda_remove``: action ``board-agenda``;
:meth:`~core.store.CaseStore.agenda_note`: action ``board-note``, with the note).

:func:`upgrade_audit_actions` widens the ``audit_log`` action check of a store created
before these actions existed (the check is part of the table's definition).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.store.audit import audit
from core.store.checks import as_date
from core.store.schema import AUDIT_ACTIONS, AuditEntry, Base, Patient, Study, utcnow

#: Longest decision note (one line, as on a board's minutes).
NOTE_MAX_CHARS = 200
#: Columns of :func:`agenda_frame` (and :meth:`core.store.CaseStore.agenda`).
AGENDA_COLUMNS: tuple[str, ...] = (
    "position", "study_id", "patient_id", "study_date", "discussed", "note",
    "updated_by", "updated_at",
)


class AgendaItem(Base):
    __tablename__ = "board_agenda"
    __table_args__ = (UniqueConstraint("board_date", "study_id", name="uq_agenda_study"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board_date: Mapped[dt.date] = mapped_column(Date, index=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    discussed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX_CHARS))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# --------------------------------------------------------------------------- checks


def check_note(note: object) -> str | None:
    """A decision note stripped (``None`` or blank -> ``None``); a ``ValueError`` for text
    over :data:`NOTE_MAX_CHARS` characters or on more than one line."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise ValueError(f"note {note!r} must be text.")
    value = note.strip()
    if "\n" in value or "\r" in value:
        raise ValueError("the decision note must be one line.")
    if len(value) > NOTE_MAX_CHARS:
        raise ValueError(f"the decision note has {len(value)} characters; at most "
                         f"{NOTE_MAX_CHARS} fit on one line.")
    return value or None


def check_study_ids(study_ids: object) -> list[int]:
    """Distinct study ids in the order given; a ``ValueError`` names a non-integer one."""
    out: list[int] = []
    for value in study_ids:  # type: ignore[union-attr]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise ValueError(f"study id {value!r} is not a whole number.")
        if int(value) not in out:
            out.append(int(value))
    return out


# --------------------------------------------------------------------------- reads


def agenda_frame(session: Session, board_date: dt.date | str) -> pd.DataFrame:
    """The agenda of ``board_date`` in order: :data:`AGENDA_COLUMNS`."""
    day = as_date(board_date, "board date")
    query = (select(AgendaItem, Study.study_date, Patient.patient_id)
             .join(Study, Study.id == AgendaItem.study_id)
             .join(Patient, Patient.id == Study.patient_pk)
             .where(AgendaItem.board_date == day)
             .order_by(AgendaItem.position, AgendaItem.id))
    rows = [(item.position, item.study_id, patient_id, study_date, bool(item.discussed),
             item.note, item.updated_by, item.updated_at)
            for item, study_date, patient_id in session.execute(query)]
    frame = pd.DataFrame(rows, columns=list(AGENDA_COLUMNS))
    for column in ("position", "study_id"):
        frame[column] = frame[column].astype("int64")
    frame["discussed"] = frame["discussed"].astype("bool")
    return frame


def _item(session: Session, day: dt.date, study_id: int) -> AgendaItem:
    item = session.scalar(select(AgendaItem).where(AgendaItem.board_date == day,
                                                   AgendaItem.study_id == int(study_id)))
    if item is None:
        raise ValueError(f"study {study_id} is not on the agenda of {day.isoformat()}.")
    return item


# --------------------------------------------------------------------------- writes


def add_items(session: Session, board_date: dt.date | str, study_ids: object,
              actor: str) -> list[int]:
    """Append studies to the end of a day's agenda (those already on it stay where they
    are), audited ``board-agenda``; returns the ids added."""
    day = as_date(board_date, "board date")
    ids = check_study_ids(study_ids)
    known = set(session.scalars(select(Study.id).where(Study.id.in_(ids))))
    missing = [i for i in ids if i not in known]
    if missing:
        raise ValueError(f"study {missing[0]} does not exist.")
    present = set(session.scalars(select(AgendaItem.study_id)
                                  .where(AgendaItem.board_date == day)))
    last = session.scalar(select(func.max(AgendaItem.position))
                          .where(AgendaItem.board_date == day))
    position = -1 if last is None else int(last)
    added = [i for i in ids if i not in present]
    for study_id in added:
        position += 1
        session.add(AgendaItem(board_date=day, study_id=study_id, position=position,
                               discussed=False, updated_by=actor))
    if added:
        audit(session, actor, "board-agenda", f"agenda {day.isoformat()}",
              {"board_date": day.isoformat(), "added": added})
    return added


def remove_item(session: Session, board_date: dt.date | str, study_id: int,
                actor: str) -> None:
    """Take a study off a day's agenda (the others keep their order), audited."""
    day = as_date(board_date, "board date")
    session.delete(_item(session, day, study_id))
    audit(session, actor, "board-agenda", f"agenda {day.isoformat()}",
          {"board_date": day.isoformat(), "removed": [int(study_id)]})


def set_note(session: Session, board_date: dt.date | str, study_id: int, *,
             note: object, discussed: bool, actor: str) -> dict[str, object]:
    """Record the board's decision for a study on the agenda: ``discussed`` and the
    one-line ``note``, audited ``board-note`` with both. Returns the saved values."""
    day = as_date(board_date, "board date")
    value = check_note(note)
    item = _item(session, day, study_id)
    item.note = value
    item.discussed = bool(discussed)
    item.updated_by = actor
    item.updated_at = utcnow()
    details = {"board_date": day.isoformat(), "study_id": int(study_id),
               "discussed": bool(discussed), "note": value}
    audit(session, actor, "board-note", f"study {int(study_id)}", details)
    return details


# --------------------------------------------------------------------------- upgrade


def _check_sql() -> str:
    return "action IN (" + ", ".join(f"'{a}'" for a in AUDIT_ACTIONS) + ")"


def _audit_check_is_current(engine: Engine) -> bool:
    checks = inspect(engine).get_check_constraints(AuditEntry.__tablename__)
    texts = [str(c.get("sqltext", "")) for c in checks if c.get("name") == "ck_audit_action"]
    return not texts or all(f"'{a}'" in t for t in texts for a in AUDIT_ACTIONS)


def upgrade_audit_actions(engine: Engine) -> bool:
    """Widen the ``audit_log`` action check of an older store to :data:`AUDIT_ACTIONS`
    (idempotent; returns whether it changed anything).

    PostgreSQL replaces the constraint; SQLite, which cannot alter a check, copies the
    log into a new table of the current definition (same ids, times and details).
    """
    if _audit_check_is_current(engine):
        return False
    table = AuditEntry.__tablename__
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            # names come from the ORM metadata, never from input
            connection.execute(text(f"ALTER TABLE {table} RENAME TO {table}_old"))
            # the renamed table keeps its indexes, whose names the new table declares
            for index in AuditEntry.__table__.indexes:
                connection.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
            AuditEntry.__table__.create(connection)
            connection.execute(text(
                f"INSERT INTO {table} (id, at, actor, action, target, details) "
                f"SELECT id, at, actor, action, target, details FROM {table}_old"))
            connection.execute(text(f"DROP TABLE {table}_old"))
        else:
            connection.execute(text(
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS ck_audit_action"))
            connection.execute(text(
                f"ALTER TABLE {table} ADD CONSTRAINT ck_audit_action CHECK ({_check_sql()})"))
    return True
