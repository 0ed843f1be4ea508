"""Tumor board navigation and agenda: which case is presented, previous / next, a click
on a list row, and today's agenda with the board's decisions.

The presented study is ``st.session_state["board_study"]`` (the "Case to present" box).
The list the board steps through is the filtered case list or the day's agenda
(``board_source``); it never holds a study twice. The card opens on its first row; a
click on a row presents that row (the table is keyed by the presented study, so its
selection always marks the case on screen and a click is a change); ``Previous`` /
``Next`` (shortcuts K / J) step through it; the case list is one page of the filtered
list (:mod:`ui.board_list`), and past a page's first or last row they open the previous
page's last row or the next page's first row. Other pages ask for a study through
``board_study_id`` (presented when it is on the page shown).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.store import NOTE_MAX_CHARS, CaseStore
from ui import components as c
from ui import scores, session
from ui.session import KEEP

SOURCES: tuple[str, ...] = ("Case list", "Agenda")
TABLE_STATE = "board_table_state"


def board_date() -> dt.date:
    """The agenda's date (``board_date``; today until changed)."""
    value = st.session_state.get("board_date")
    return value if isinstance(value, dt.date) else dt.date.today()


def day_agenda(store: CaseStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The agenda of the board date and the stored scores of its studies (the active
    model's)."""
    agenda = store.agenda(board_date())
    return agenda, scores.scores_of(agenda["study_id"].astype(int).tolist())


def unique_ids(ids: Sequence[object]) -> list[int]:
    """Study ids as ints, each once, in the order given."""
    return list(dict.fromkeys(int(i) for i in ids))  # type: ignore[call-overload]


def clicked_row() -> int | None:
    """The study whose list row was clicked since the last run, if any."""
    ss = st.session_state
    state = ss.get(TABLE_STATE)
    if not state:
        return None
    key, ids, presented = state
    try:
        rows = list(ss[key]["selection"]["rows"])
    except (KeyError, TypeError):
        return None
    if rows and 0 <= rows[0] < len(ids) and ids[rows[0]] != presented:
        return int(ids[rows[0]])
    return None


def present(order: list[int], source: str = SOURCES[0]) -> int | None:
    """The study to present from ``order`` (the list of ``source``): a clicked row, else
    a study asked for by another page, else the one on screen, else the first row (also
    when the board has just switched between the case list and the agenda: the agenda
    starts at its first case)."""
    ss = st.session_state
    clicked = clicked_row()
    wanted = ss.pop("board_study_id", None)
    goto = ss.pop("board_goto", None)
    switched = ss.get("board_order_source", source) != source
    ss["board_order_source"] = source
    if clicked is not None and clicked in order:
        ss["board_study"] = clicked
    elif goto is not None and order and source == SOURCES[0]:
        ss["board_study"] = order[0] if goto == "first" else order[-1]
    elif wanted is not None and int(wanted) in order:
        ss["board_study"] = int(wanted)
    elif switched and order:
        ss["board_study"] = order[0]
    elif ss.get("board_study") not in order:
        if wanted is not None:
            st.info(f"Study {int(wanted)} is not on this page of the list or is hidden by "
                    "the filters; search its patient ID to present it.",
                    icon=":material/filter_alt:")
        ss["board_study"] = order[0] if order else None
    ss["board_order"] = order
    return ss["board_study"]


def step(delta: int) -> None:
    """``on_click`` of Previous / Next: the neighbour in the last run's list; past the
    first or last row of a page of the case list, the previous page's last row or the
    next page's first row."""
    ss = st.session_state
    order: list[int] = ss.get("board_order") or []
    if not order:
        return
    current = ss.get("board_study")
    index = order.index(current) if current in order else (-1 if delta > 0 else len(order))
    target = index + delta
    paged = ss.get("board_order_source", SOURCES[0]) == SOURCES[0]
    page, pages = int(ss.get("board_page") or 0), int(ss.get("board_pages") or 1)
    if paged and target < 0 and page > 0:
        ss["board_page"], ss["board_goto"] = page - 1, "last"
    elif paged and target >= len(order) and page < pages - 1:
        ss["board_page"], ss["board_goto"] = page + 1, "first"
    else:
        ss["board_study"] = order[min(max(target, 0), len(order) - 1)]


def nav_bar(order: list[int], labels: dict[int, str], *, offset: int = 0,
            total: int | None = None, more_before: bool = False,
            more_after: bool = False) -> int:
    """Previous / Next (K / J), the case box (position in the whole list: ``offset`` is
    the page's first position, ``total`` the list's length), the list source and the
    projection switch, on one line; returns the presented study. ``more_before`` /
    ``more_after``: pages before / after this one (Previous / Next cross to them)."""
    ss = st.session_state
    index = order.index(ss["board_study"])
    count = len(order) if total is None else total
    a, b, box, src, proj = st.columns([1.05, 0.9, 4.2, 1.9, 1.6], vertical_alignment="center")
    a.button("◀ Previous", key="board_prev", shortcut="K", on_click=step, args=(-1,),
             disabled=index <= 0 and not more_before, help="Previous case in the list (K).")
    b.button("Next ▶", key="board_next", shortcut="J", on_click=step, args=(1,),
             disabled=index >= len(order) - 1 and not more_after,
             help="Next case in the list (J).")
    position = {s: i for i, s in enumerate(order)}
    study_id = box.selectbox(
        "Case to present", order, key="board_study", persist_state=KEEP,
        label_visibility="collapsed",
        format_func=lambda s: f"{offset + position[s] + 1}/{count} · {labels.get(s, s)}")
    source_bar(src, proj)
    return int(study_id)


def source_bar(src: Any = None, proj: Any = None) -> None:
    """Which list to step through (case list or agenda) and the projection switch."""
    if src is None or proj is None:
        src, proj = st.columns([1, 1])
    src.segmented_control("Step through", SOURCES, key="board_source", persist_state=KEEP,
                          label_visibility="collapsed",
                          help="The filtered case list or the day's agenda.")
    proj.toggle("Projection", key="board_projection", persist_state=KEEP,
                help="Large type and the sidebar hidden (1280 x 720).")


def case_table(frame: pd.DataFrame, ids: list[int], presented: int, *,
               column_config: dict | None = None, height: int = 260) -> None:
    """The list as a table whose single selected row is the presented case; a click on
    another row presents it (next run, :func:`present`)."""
    ss = st.session_state
    previous = ss.get(TABLE_STATE)
    key = f"board_table_{presented}_{abs(hash(tuple(ids))) % 10**10}"
    if previous and previous[0] != key:
        ss.pop(previous[0], None)  # the old table's selection is spent
    position = ids.index(presented) if presented in ids else None
    st.dataframe(frame, hide_index=True, key=key, height=height, column_config=column_config,
                 on_select="rerun", selection_mode="single-row-required",
                 selection_default=None if position is None
                 else {"selection": {"rows": [position]}})
    ss[TABLE_STATE] = (key, ids, presented)


# --------------------------------------------------------------------------- agenda


def agenda_frame(agenda: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    """The agenda as shown: order, study, patient, urgency, the headline, discussed and
    the decision."""
    extra = scored.set_index("study_id")
    ids = agenda["study_id"].astype(int)
    return pd.DataFrame({
        "#": agenda["position"].astype(int) + 1,
        "Study": ids,
        "Patient": agenda["patient_id"],
        "Date": pd.to_datetime(agenda["study_date"]).dt.date,
        "Urgency": ids.map(extra["urgency"]) if "urgency" in extra else None,
        "Headline": ids.map(extra["headline"]) if "headline" in extra else None,
        "Discussed": agenda["discussed"].map(lambda d: "yes" if d else ""),
        "Decision": agenda["note"].fillna(""),
    })


def _write(action: Callable[[], object], done: str) -> None:
    with c.core_errors("The agenda was not changed:"):
        action()
        st.session_state["board_agenda_done"] = done
        st.rerun()


def agenda_panel(store: CaseStore, agenda: pd.DataFrame, presented: int | None,
                 listed: Sequence[int], scored: pd.DataFrame) -> None:
    """Agenda of the board date: add / remove the case on screen or every listed case, the
    decision on the case on screen (discussed and a one-line note, saved to the store
    and the audit log as ``board-note``), and the agenda in order."""
    ss = st.session_state
    day = board_date()
    st.subheader(f"Agenda of {day.isoformat()}")
    done = ss.pop("board_agenda_done", None)
    if done:
        st.success(done)
    on_agenda = presented in set(agenda["study_id"].astype(int))
    d, a1, a2, a3 = st.columns([1.3, 1, 1.2, 1], vertical_alignment="bottom")
    d.date_input("Board date", key="board_date", persist_state=KEEP, format="YYYY-MM-DD")
    actor = session.actor()
    if a1.button("Add this case", key="board_agenda_add",
                 disabled=on_agenda or presented is None):
        _write(lambda: store.agenda_add(day, [presented], actor=actor),
               f"Study {presented} added to the agenda.")
    if a2.button(f"Add the {len(listed)} listed", key="board_agenda_add_all",
                 disabled=not listed,
                 help="Every case of this page of the filtered list, in its order."):
        _write(lambda: store.agenda_add(day, list(listed), actor=actor),
               "The listed cases were added to the agenda.")
    if a3.button("Remove this case", key="board_agenda_remove", disabled=not on_agenda):
        _write(lambda: store.agenda_remove(day, presented, actor=actor),
               f"Study {presented} taken off the agenda.")
    if on_agenda and presented is not None:
        decision_form(store, day, agenda, presented)
    if agenda.empty:
        st.caption("Nothing on this date's agenda yet.")
    else:
        st.dataframe(agenda_frame(agenda, scored), hide_index=True, key="board_agenda_table")


def decision_form(store: CaseStore, day: dt.date, agenda: pd.DataFrame, presented: int) -> None:
    """Discussed and the one-line decision of the case on screen, saved with its audit
    entry (``board-note``)."""
    row = agenda[agenda["study_id"].astype(int) == presented].iloc[0]
    with st.form(f"board_note_form_{presented}", border=True):
        st.markdown(f"**Decision for study {presented}** (one line; no names or identifiers)")
        left, right = st.columns([1, 5], vertical_alignment="bottom")
        discussed = left.checkbox("Discussed", value=bool(row["discussed"]),
                                  key=f"board_note_discussed_{presented}")
        note = right.text_input("Decision", value=row["note"] or "", max_chars=NOTE_MAX_CHARS,
                                key=f"board_note_text_{presented}",
                                placeholder="e.g. SBRT to L1-L3; spine surgery review")
        if st.form_submit_button("Save decision", key="board_note_save"):
            _write(lambda: store.agenda_note(day, presented, note=note, discussed=discussed,
                                             actor=session.actor()),
                   f"Decision for study {presented} saved (audit log: board-note).")
