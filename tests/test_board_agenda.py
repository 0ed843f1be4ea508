"""The tumor board's agenda in the case store: order, decision notes, audit, upgrade."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from core.store import AGENDA_COLUMNS, AUDIT_ACTIONS, NOTE_MAX_CHARS, CaseStore

DAY = dt.date(2025, 3, 4)
CLINICAL = {"age": 64, "sex": "F", "primary_tumor": "breast", "vas": 6.0}


@pytest.fixture()
def store(tmp_path: Path) -> CaseStore:
    with CaseStore(f"sqlite:///{tmp_path / 'cases.sqlite'}", data_dir=tmp_path) as s:
        yield s


def _studies(store: CaseStore, n: int) -> list[int]:
    return [store.save_case(f"P-{i:03d}", dt.date(2024, 1, 1 + i), clinical=CLINICAL,
                            actor="tester") for i in range(n)]


def test_agenda_keeps_the_order_given_and_appends(store: CaseStore) -> None:
    a, b, c, d = _studies(store, 4)
    assert store.agenda_add(DAY, [c, a], actor="chair") == [c, a]
    assert store.agenda_add(DAY.isoformat(), [a, d, b, d], actor="chair") == [d, b]
    frame = store.agenda(DAY)
    assert list(frame.columns) == list(AGENDA_COLUMNS)
    assert list(frame["study_id"]) == [c, a, d, b]
    assert list(frame["position"]) == [0, 1, 2, 3]
    assert list(frame["patient_id"]) == ["P-002", "P-000", "P-003", "P-001"]
    assert not frame["discussed"].any() and frame["note"].isna().all()
    assert store.agenda(DAY + dt.timedelta(days=1)).empty  # another day, another agenda
    store.agenda_remove(DAY, a, actor="chair")
    assert list(store.agenda(DAY)["study_id"]) == [c, d, b]
    log = store.audit_log()
    agenda_entries = log[log["action"] == "board-agenda"]
    assert [e.get("added", e.get("removed")) for e in agenda_entries["details"]] == [
        [c, a], [d, b], [a]]


def test_decision_note_is_saved_and_audited_together(store: CaseStore) -> None:
    (a, b) = _studies(store, 2)
    store.agenda_add(DAY, [a, b], actor="chair")
    saved = store.agenda_note(DAY, b, note="  SBRT 24 Gy/2 to L3; review in 6 weeks ",
                              discussed=True, actor="Dr Chair")
    assert saved["note"] == "SBRT 24 Gy/2 to L3; review in 6 weeks"
    frame = store.agenda(DAY).set_index("study_id")
    assert bool(frame.loc[b, "discussed"]) and not bool(frame.loc[a, "discussed"])
    assert frame.loc[b, "note"] == "SBRT 24 Gy/2 to L3; review in 6 weeks"
    assert frame.loc[b, "updated_by"] == "Dr Chair"
    entry = store.audit_log().iloc[-1]
    assert entry["action"] == "board-note" and entry["actor"] == "Dr Chair"
    assert entry["target"] == f"study {b}"
    assert entry["details"] == {"board_date": DAY.isoformat(), "study_id": b,
                                "discussed": True,
                                "note": "SBRT 24 Gy/2 to L3; review in 6 weeks"}
    store.agenda_note(DAY, b, note="", discussed=False, actor="Dr Chair")
    assert store.agenda(DAY).set_index("study_id").loc[b, "note"] is None


@pytest.mark.parametrize(("note", "message"), [
    ("line one\nline two", "one line"),
    ("x" * (NOTE_MAX_CHARS + 1), f"at most {NOTE_MAX_CHARS}"),
    (42, "must be text"),
])
def test_a_bad_note_changes_nothing(store: CaseStore, note: object, message: str) -> None:
    (a,) = _studies(store, 1)
    store.agenda_add(DAY, [a], actor="chair")
    before = len(store.audit_log())
    with pytest.raises(ValueError, match=message):
        store.agenda_note(DAY, a, note=note, discussed=True, actor="chair")  # type: ignore[arg-type]
    assert len(store.audit_log()) == before
    assert not store.agenda(DAY)["discussed"].any()


def test_agenda_errors_are_plain_sentences(store: CaseStore) -> None:
    (a,) = _studies(store, 1)
    with pytest.raises(ValueError, match="study 999 does not exist"):
        store.agenda_add(DAY, [a, 999], actor="chair")
    assert store.agenda(DAY).empty  # all or nothing
    with pytest.raises(ValueError, match="not on the agenda"):
        store.agenda_note(DAY, a, note="x", discussed=True, actor="chair")
    with pytest.raises(ValueError, match="not an ISO date"):
        store.agenda("tomorrow")
    with pytest.raises(ValueError, match="whole number"):
        store.agenda_add(DAY, ["a"], actor="chair")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="actor"):
        store.agenda_add(DAY, [a], actor=" ")


def test_deleting_a_study_takes_it_off_every_agenda(store: CaseStore) -> None:
    a, b = _studies(store, 2)
    store.agenda_add(DAY, [a, b], actor="chair")
    store.agenda_add(DAY + dt.timedelta(days=7), [a], actor="chair")
    store.delete_study(a, actor="chair")
    assert list(store.agenda(DAY)["study_id"]) == [b]
    assert store.agenda(DAY + dt.timedelta(days=7)).empty


def _old_audit_table(path: Path) -> None:
    """Give the store's audit log the action check of a store written before the board
    actions existed (SQLite keeps a check in the table's definition)."""
    old = [a for a in AUDIT_ACTIONS if not a.startswith("board-")]
    check = "action IN (" + ", ".join(f"'{a}'" for a in old) + ")"
    with sqlite3.connect(path) as db:
        db.executescript(f"""
            ALTER TABLE audit_log RENAME TO audit_old;
            CREATE TABLE audit_log (id INTEGER NOT NULL PRIMARY KEY, at DATETIME NOT NULL,
              actor VARCHAR(64) NOT NULL, action VARCHAR(16) NOT NULL,
              target VARCHAR(255) NOT NULL, details JSON NOT NULL,
              CONSTRAINT ck_audit_action CHECK ({check}));
            INSERT INTO audit_log SELECT * FROM audit_old;
            DROP TABLE audit_old;
        """)
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO audit_log (at, actor, action, target, details) "
                       "VALUES ('2025-01-01', 'x', 'board-note', 't', '{}')")


def test_an_older_store_accepts_board_notes_after_opening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    with CaseStore(url, data_dir=tmp_path) as store:
        (a,) = _studies(store, 1)
        before = store.audit_log()
    _old_audit_table(tmp_path / "cases.sqlite")
    with CaseStore(url, data_dir=tmp_path) as store:
        store.agenda_add(DAY, [a], actor="chair")
        store.agenda_note(DAY, a, note="RT", discussed=True, actor="chair")
        log = store.audit_log()
    assert list(log["id"][: len(before)]) == list(before["id"])  # history kept
    assert list(log["details"][: len(before)]) == list(before["details"])
    assert list(log["action"][len(before):]) == ["board-agenda", "board-note"]
    with CaseStore(url, data_dir=tmp_path) as store:  # idempotent
        assert len(store.audit_log()) == len(log)
