"""Tumor board: filtered case list and a large-print case card for projection."""

import streamlit as st

from ui import board, cache, case_views, cohort, layout, session
from ui import components as c
from ui.session import KEEP

layout.page_header("Tumor board")
ss = st.session_state
cache.model_or_stop()
cache.store_or_stop()
with c.core_errors("The case list could not be loaded:", stop=True):
    scored = cache.scored_studies()
if scored.empty:
    st.info("The store has no studies yet. Add one on the New case page or load the demo "
            "store with `python -m core demo`.")
    st.stop()
case_views.unassessed_notice(scored, key="board_unassessed")

dates = scored["study_date"].dropna()
first, last = dates.min().date(), dates.max().date()
# Initial values through the session (they are kept across page switches).
session.default_date_range("board_dates", (first, last))
session.default_widget("board_synthetic", True)
session.default_widget("board_images_only", False)
session.default_widget("board_overrides_only", False)
session.default_widget("board_projection", True)
tier_options = sorted(t for t in scored["tier"].dropna().unique())
if ss.get("board_tier"):
    ss["board_tier"] = [t for t in ss["board_tier"] if t in tier_options]
with st.expander("Filters", expanded=True):
    f1, f2, f3 = st.columns(3)
    regions = f1.multiselect("Region of involvement", board.REGION_CHOICES,
                             key="board_region", persist_state=KEEP,
                             help="Lesions in a region; or multiple / none / unknown.")
    tiers = f2.multiselect("Tier", tier_options, key="board_tier", persist_state=KEEP)
    categories = f3.multiselect("Predicted pain", board.CATEGORIES,
                                key="board_category", persist_state=KEEP)
    g1, g2 = st.columns(2)
    period = g1.date_input("Study dates", min_value=cohort.EARLIEST_STUDY_DATE, key="board_dates",
                           persist_state=KEEP,
                           format="YYYY-MM-DD")
    search = g2.text_input("Search pseudonymous ID", key="board_search", persist_state=KEEP,
                           placeholder="e.g. DEMO-IMG")
    g3, g4, g5 = st.columns(3)
    include_synthetic = g3.toggle("Include SYNTHETIC", key="board_synthetic",
                                  persist_state=KEEP)
    images_only = g4.toggle("With images only", key="board_images_only", persist_state=KEEP)
    overrides_only = g5.toggle("Overrides only", key="board_overrides_only",
                               persist_state=KEEP,
                               help="Studies whose advice is led by a fired safety override.")

period = tuple(period) if isinstance(period, (list, tuple)) else (period,)
chosen_filter = board.BoardFilter(
    regions=regions, tiers=tiers, categories=categories,
    date_from=period[0] if period else None, date_to=period[1] if len(period) > 1 else None,
    search=search, include_synthetic=include_synthetic, images_only=images_only,
    overrides_only=overrides_only)
shown = board.order_for_board(board.filter_studies(scored, chosen_filter))
n_fired = int((shown["headline_source"] == "override").sum())
st.caption(f"{len(shown)} of {len(scored)} studies, most urgent first ({n_fired} with a fired "
           "safety override, listed first within their urgency). Predictions use the model "
           f"in use ({session.active_model_dir().name}); SYNTHETIC rows are demo data.")
st.dataframe(board.case_list_frame(shown), hide_index=True, key="board_table", height=260,
             column_config=board.CASE_LIST_COLUMNS)
if shown.empty:
    st.warning("No study matches the filters.")
    st.stop()

options = [int(s) for s in shown["study_id"]]
wanted = ss.pop("board_study_id", None)
if wanted is not None and int(wanted) in options:
    ss["board_study"] = int(wanted)
elif ss.get("board_study") not in options:
    if wanted is not None:
        st.info(f"Study {int(wanted)} is hidden by the filters above; clear them to present "
                "it.", icon=":material/filter_alt:")
    ss["board_study"] = board.default_study(shown)
labels = {int(r["study_id"]): c.study_label(r) for r in shown.to_dict(orient="records")}
a, b = st.columns([3, 1])
study_id = a.selectbox("Case to present", options, key="board_study", persist_state=KEEP,
                       format_func=lambda s: labels[s])
big = b.toggle("Projection (large type)", key="board_projection", persist_state=KEEP)
st.divider()
with c.core_errors("The case could not be shown:"):
    board.case_card(int(study_id), scored, big=big)
