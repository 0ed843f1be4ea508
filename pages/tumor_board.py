"""Tumor board: one case per screen (projection: 1280 x 720), stepping through the
filtered case list or the day's agenda; below the case, one view at a time (tabs): the
explanation, the case list, the agenda with the board's decisions, the history."""

import functools

import streamlit as st

from ui import (
    board,
    board_fold,
    board_list,
    board_nav,
    cache,
    case_views,
    layout,
    scores,
    session,
)
from ui import components as c
from ui.session import KEEP

layout.page_header("Tumor board")
ss = st.session_state
cache.model_or_stop()
store = cache.store_or_stop()
with c.core_errors("The case list could not be loaded:", stop=True):
    view_key = scores.ensure_scores()
    first, last = scores.date_range(view_key)
if first is None:
    st.info("The store has no studies yet. Add one on the New case page or load the demo "
            "store with `python -m core demo`.")
    st.stop()
case_views.errors_notice(scores.assessment_errors(view_key), scores.study_count(view_key),
                         key="board_unassessed")

# Initial values through the session (they are kept across page switches).
session.default_date_range("board_dates", (first, last))
session.default_widget("board_synthetic", True)
session.default_widget("board_images_only", False)
session.default_widget("board_overrides_only", False)
session.default_widget("board_projection", True)
session.default_widget("board_source", board_nav.SOURCES[0])
big = bool(ss.get("board_projection"))
board_fold.style(big)
tier_options = scores.score_values("tier", view_key)
if ss.get("board_tier"):
    ss["board_tier"] = [t for t in ss["board_tier"] if t in tier_options]

# The filters' values (drawn in the Case list tab, kept while it is closed) select the
# list first: one page of it, filtered, ordered and paginated in SQL.
period = ss.get("board_dates") or ()
period = tuple(period) if isinstance(period, (list, tuple)) else (period,)
board_filter = board.BoardFilter(
    regions=ss.get("board_region") or (), tiers=ss.get("board_tier") or (),
    categories=ss.get("board_category") or (),
    date_from=period[0] if period else None,
    date_to=period[1] if len(period) > 1 else None,
    search=ss.get("board_search") or "", include_synthetic=bool(ss.get("board_synthetic")),
    images_only=bool(ss.get("board_images_only")),
    overrides_only=bool(ss.get("board_overrides_only")))
with c.core_errors("The case list could not be loaded:", stop=True):
    listing = board_list.load(board_filter, view_key)
shown = listing.rows


# The board date's agenda and its scores: read once a run, and only when shown
# (stepping through it, or its tab open).
day_agenda = functools.cache(lambda: board_nav.day_agenda(store))


on_agenda = ss.get("board_source") == board_nav.SOURCES[1]
order = board_nav.unique_ids(day_agenda()[0]["study_id"] if on_agenda else shown["study_id"])


def filters_and_list() -> None:
    """The filters and the list the board steps through (a row click presents it)."""
    # The search stays in view; the other filters open from a button (a popover whose
    # widgets exist only while it is open: opening it reruns the page; their values
    # persist, KEEP, and select the list either way), the active ones named beside it.
    g1, g2, g3 = st.columns([2, 1, 3], vertical_alignment="bottom")
    g1.text_input("Search pseudonymous ID", key="board_search", persist_state=KEEP,
                  placeholder="e.g. DEMO-IMG")
    active = board.active_filters(board_filter, (first, last))
    # One label whatever is on: a popover that tracks its state is a new one when its
    # label changes, and would close at each filter picked (the caption names them).
    with g2.popover("Filters", icon=":material/filter_alt:", width="stretch",
                    key=board.FILTERS_OPEN_KEY, on_change="rerun") as filters:
        if filters.open:
            board.filter_widgets(tier_options)
    g3.caption("Filters on: " + "; ".join(active) if active else "No filter on: every study.")
    if on_agenda:
        st.caption(f"The agenda of {board_nav.board_date().isoformat()}: {len(order)} "
                   "cases in order (filters apply to the case list only). Click a row to "
                   "present it.")
        if order:
            board_nav.case_table(board_nav.agenda_frame(*day_agenda()), order,
                                 presented)
        return
    st.caption(f"{listing.total:,} of {scores.study_count(view_key):,} studies, most urgent first "
               f"({listing.fired:,} with a fired safety override, listed first within their "
               "urgency). Click a row to present it. Predictions use the model in use "
               f"({session.active_model_dir().name}); SYNTHETIC rows are demo data.")
    if shown.empty:
        st.dataframe(listing.shown, hide_index=True, key="board_table_empty")
    else:
        board_nav.case_table(listing.shown, order, presented,
                             column_config=board.CASE_LIST_COLUMNS)
    if listing.pages > 1 or listing.total > board_list.PAGE_SIZES[0]:
        board_list.page_controls(listing)


def agenda_view() -> None:
    agenda, agenda_scores = day_agenda()
    board_nav.agenda_panel(store, agenda, presented, board_nav.unique_ids(shown["study_id"]),
                           agenda_scores)


presented = board_nav.present(order, board_nav.SOURCES[int(on_agenda)])
if presented is None:
    board_nav.source_bar()
    st.warning("The agenda of this date is empty: add cases from the case list."
               if on_agenda else "No study matches the filters.")
    filters_and_list()
    if on_agenda:
        agenda, agenda_scores = day_agenda()
        board_nav.agenda_panel(store, agenda, None, [], agenda_scores)
    st.stop()
labels = c.study_labels(day_agenda()[0]) if on_agenda else listing.labels
paged = not on_agenda
study_id = board_nav.nav_bar(order, labels, offset=listing.offset if paged else 0,
                             total=listing.total if paged else None,
                             more_before=paged and listing.page > 0,
                             more_after=paged and listing.page < listing.pages - 1)
with c.core_errors("The case could not be shown:"):
    board.case_card(study_id, big=big, list_view=filters_and_list, agenda_view=agenda_view)
