"""Tumor board helpers: the filters, the case list and the case card.

The card (:func:`case_card`) is the fold (:mod:`ui.board_fold`: key image, the advice's
headline and overrides, recorded vs predicted pain, the burden) and, below it, tabs of
which only the open one is drawn: the linked explanation and imaging
(:mod:`ui.board_linked`) with the clinical findings, the case list, the agenda and the
patient's history. Navigation and the agenda: :mod:`ui.board_nav`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.report.document import clinical_value, field_label
from core.store import StudyRecord
from core.vocab import (
    CATEGORIES,
    INVOLVEMENT_VALUES,
    NOT_RECORDED,
    REGIONS,
    URGENCY_ORDER,
    region_count_column,
    yes_no,
)
from ui import board_fold, board_linked
from ui import components as c
from ui.cache import get_model, get_store
from ui.cases import Assessment, assess, record_prediction
from ui.cohort import EARLIEST_STUDY_DATE, in_date_range
from ui.history_svg import history_svg
from ui.inputs import INPUTS_BY_COLUMN
from ui.session import KEEP

#: Choices of the region filter: a region with lesions, or multiple / none / unknown.
REGION_CHOICES: tuple[str, ...] = INVOLVEMENT_VALUES


@dataclass(frozen=True)
class BoardFilter:
    """Case-list filter; empty selections mean "all"."""

    regions: Sequence[str] = ()
    tiers: Sequence[str] = ()
    categories: Sequence[str] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    search: str = ""
    include_synthetic: bool = True
    images_only: bool = False
    overrides_only: bool = False


def filter_studies(frame: pd.DataFrame, f: BoardFilter) -> pd.DataFrame:
    """Apply a :class:`BoardFilter` to a frame of scored studies (the page filters in
    SQL: :func:`ui.board_list.study_filter`; this is the same filter on a frame).

    Region filter: a study matches when any selected region carries a lesion, or when
    its region of involvement (``multiple`` / ``none`` / ``unknown``) is selected.
    """
    out = frame
    if f.regions:
        hit = out["region_of_involvement"].isin(list(f.regions))
        for region in (r for r in f.regions if r in REGIONS):
            column = region_count_column(region)
            if column in out.columns:
                hit |= out[column].fillna(0) > 0
        out = out[hit]
    if f.tiers:
        out = out[out["tier"].astype(str).isin([str(t) for t in f.tiers])]
    if f.categories:
        out = out[out["category"].isin(list(f.categories))]
    out = in_date_range(out, f.date_from, f.date_to)
    if f.search.strip():
        out = out[out["patient_id"].astype(str).str.contains(f.search.strip(), case=False,
                                                             regex=False)]
    if not f.include_synthetic:
        out = out[~out["synthetic"].astype(bool)]
    if f.images_only:
        out = out[out["has_image"].astype(bool)]
    if f.overrides_only:
        out = out[out["headline_source"] == "override"]
    return out


#: State keys of the board's popovers (``True``: open); their contents exist only while
#: open (opening one reruns the page).
FILTERS_OPEN_KEY = "board_filters_open"
CLINICAL_OPEN_KEY = "board_clinical_open"


def filter_widgets(tier_options: Sequence[str]) -> None:
    """The case list's filters besides the ID search (drawn inside the page's open
    Filters popover); their values, kept in the session state (``KEEP``), make the
    page's :class:`BoardFilter` whether they are drawn or not."""
    f1, f2, f3 = st.columns(3)
    f1.multiselect("Region of involvement", REGION_CHOICES, key="board_region",
                   persist_state=KEEP,
                   help="Lesions in a region; or multiple / none / unknown.")
    f2.multiselect("Tier", tier_options, key="board_tier", persist_state=KEEP)
    f3.multiselect("Predicted pain", CATEGORIES, key="board_category", persist_state=KEEP)
    st.date_input("Study dates", min_value=EARLIEST_STUDY_DATE, key="board_dates",
                  persist_state=KEEP, format="YYYY-MM-DD")
    t1, t2, t3 = st.columns(3)
    t1.toggle("Include SYNTHETIC", key="board_synthetic", persist_state=KEEP)
    t2.toggle("With images only", key="board_images_only", persist_state=KEEP)
    t3.toggle("Overrides only", key="board_overrides_only", persist_state=KEEP,
              help="Studies whose advice is led by a fired safety override.")


def active_filters(f: BoardFilter, full_range: tuple[object, object] = (None, None)
                   ) -> list[str]:
    """The filters that narrow the list besides the ID search, in words (``"region
    lumbar"``, ``"SYNTHETIC left out"``); study dates only when they differ from
    ``full_range`` (the store's first and last study dates)."""
    out = []
    for name, values in (("region", f.regions), ("tier", f.tiers),
                         ("predicted pain", f.categories)):
        if values:
            out.append(f"{name} {' or '.join(str(v) for v in values)}")
    first, last = full_range
    if (f.date_from is not None and f.date_from != first) or (
            f.date_to is not None and f.date_to != last):
        out.append(f"studies {f.date_from or '...'} to {f.date_to or '...'}")
    if not f.include_synthetic:
        out.append("SYNTHETIC left out")
    if f.images_only:
        out.append("with images only")
    if f.overrides_only:
        out.append("overrides only")
    return out


#: Board order of urgencies: most urgent first (unassessed studies last).
URGENCY_RANK = {u: i for i, u in enumerate(reversed(URGENCY_ORDER))}


def order_for_board(frame: pd.DataFrame) -> pd.DataFrame:
    """Most urgent first, a fired override before the others of the same urgency, then
    the most recent study."""
    rank = frame["urgency"].map(URGENCY_RANK).fillna(len(URGENCY_RANK))
    fired = (frame["headline_source"] != "override").astype(int)
    return (frame.assign(_rank=rank, _fired=fired)
            .sort_values(["_rank", "_fired", "study_date"], ascending=[True, True, False],
                         kind="stable")
            .drop(columns=["_rank", "_fired"]))


def default_study(frame: pd.DataFrame) -> int:
    """The study shown first: the list's first row (the board presents in list order)."""
    return int(frame["study_id"].iloc[0])


def regions_text(frame: pd.DataFrame) -> pd.Series:
    """The regions with lesions of every row, named (``"thoracic + lumbar"``), instead of
    "multiple"; ``none`` without lesions, ``not recorded`` when a count is missing."""
    counts = pd.DataFrame({r: pd.to_numeric(frame[region_count_column(r)], errors="coerce")
                           for r in REGIONS}, index=frame.index)
    names = pd.Series("", index=frame.index, dtype=object)
    for region in REGIONS:  # four columns, each over every row at once
        has = counts[region].gt(0)
        joiner = has & names.ne("")
        names = names + joiner.map({True: " + ", False: ""}) + has.map({True: region,
                                                                        False: ""})
    names = names.where(names != "", "none")
    return names.where(counts.notna().all(axis=1), NOT_RECORDED)


def lumbar_text(frame: pd.DataFrame) -> pd.Series:
    """Lumbar involvement of every row: ``yes`` / ``no`` / ``not recorded``."""
    lumbar = pd.to_numeric(frame[region_count_column("lumbar")], errors="coerce")
    return lumbar.gt(0).map(yes_no).where(lumbar.notna(), NOT_RECORDED)


#: Number formats of the case list (one decimal even when it is .0: "5.0", not "5").
CASE_LIST_COLUMNS = {
    "HI ratio (%)": st.column_config.NumberColumn(format="%.1f"),
    "E[VAS]": st.column_config.NumberColumn(format="%.1f", help="Predicted expected VAS"),
    "Override": st.column_config.TextColumn(help="A safety override fired: it leads the "
                                                 "advice, before the pain estimate."),
    "Headline": st.column_config.TextColumn(width="large",
                                            help="What the advice says first."),
}


def case_list_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The case list as shown: urgency and whether an override fired first, then the
    advice's headline, recorded and predicted pain, the burden (the regions with lesions
    named and lumbar involvement yes/no, never "multiple"; SYNTHETIC marked)."""
    return pd.DataFrame({
        "Study": frame["study_id"].astype(int),
        "Urgency": frame["urgency"],
        "Override": frame["headline_source"].map(
            lambda s: yes_no(True) if s == "override" else ""),
        "Headline": frame["headline"],
        "Patient": frame["patient_id"],
        "Date": pd.to_datetime(frame["study_date"]).dt.date,
        "Recorded VAS": frame["vas"],
        "Predicted pain": frame["category"],
        "E[VAS]": frame["expected_vas"].round(1),
        "Regions": regions_text(frame),
        "Lumbar": lumbar_text(frame),
        "Lesions": frame["lesion_count"],
        "HI ratio (%)": (100 * frame["high_intensity_ratio"]).round(1),
        "Tier": frame["tier"],
        "Image": frame["has_image"].map(lambda s: yes_no(True) if s else ""),
        "Synthetic": frame["synthetic"].map(lambda s: "SYNTHETIC" if s else ""),
    })


@st.cache_data(show_spinner=False, max_entries=64)
def _history(url: str, revision: int, model_version: str, patient_id: str) -> pd.DataFrame:
    store = get_store()
    history = store.patient_history(patient_id)
    preds = store.scores_of(model_version, history["study_id"].astype(int).tolist())
    return history.merge(preds[["study_id", "expected_vas"]], on="study_id", how="left")


def history_frame(patient_id: str, model_version: str) -> pd.DataFrame:
    """A patient's studies with recorded VAS, predicted E[VAS] (the stored scores of the
    model version) and burden (cached per store revision)."""
    store = get_store()
    return _history(store.url, store.data_revision(), model_version, patient_id)


def clinical_frame(record: StudyRecord) -> pd.DataFrame:
    """The recorded clinical fields as a clinician reads them (labels, grade "1b", yes/no,
    deficit states, SINS parts with the calculator's labels, the WHO step by name)."""
    recorded = {k: v for k, v in record.clinical.items() if v is not None}
    return pd.DataFrame({
        "Field": [field_label(k) for k in recorded],
        "Value": [INPUTS_BY_COLUMN[k].render(v) if k in INPUTS_BY_COLUMN
                  else clinical_value(k, v) for k, v in recorded.items()]})


#: The views below the fold, one at a time (tabs): the explanation with the images and
#: levels (open first), the list the board steps through (with its search and filters),
#: the agenda with the decisions and the history chart. Only the open tab is drawn
#: (opening one reruns the page), so a switch to the board draws the fold and one view;
#: the open tab stays open while stepping through cases and across page switches.
BOARD_TABS: tuple[str, ...] = ("Explanation", "Case list", "Agenda", "History")
TAB_KEY = "board_tab"
#: The open tab, kept across page switches (a widget's own state is not).
TAB_KEPT_KEY = "board_tab_kept"


def _keep_tab() -> None:
    st.session_state[TAB_KEPT_KEY] = st.session_state.get(TAB_KEY)


def case_card(study_id: int, *, big: bool = True, list_view: Callable[[], None] | None = None,
              agenda_view: Callable[[], None] | None = None) -> None:
    """The case card: the fold (headline first, image or burden and history, pain,
    burden), then the views below it as tabs (:data:`BOARD_TABS`: the linked
    explanation, ``list_view``, ``agenda_view``, the history); only the open one is
    drawn."""
    store = get_store()
    model = get_model()
    record = store.get_study(study_id)
    result = assess(model, record.case())
    history = history_frame(record.patient_id, model.version)
    synthetic_model = bool(model.card.get("synthetic"))
    board_fold.fold(record, result, history, big=big, synthetic_model=synthetic_model)
    views: dict[str, Callable[[], None] | None] = {
        "Explanation": lambda: details(record, result, big=big,
                                       synthetic_model=synthetic_model),
        "Case list": list_view, "Agenda": agenda_view,
        "History": lambda: history_chart(record.patient_id, history)}
    kept = st.session_state.get(TAB_KEPT_KEY)
    tabs = st.tabs(BOARD_TABS, key=TAB_KEY, on_change=_keep_tab,
                   default=kept if kept in BOARD_TABS else BOARD_TABS[0])
    for name, tab in zip(BOARD_TABS, tabs, strict=True):
        view = views[name]
        if tab.open and view is not None:
            with tab:
                view()


def history_chart(patient_id: str, history: pd.DataFrame) -> None:
    """The patient's recorded and predicted pain over time (one study: a sentence)."""
    st.subheader(f"History of {patient_id}")
    if len(history) > 1:
        st.markdown(history_svg(history), unsafe_allow_html=True)
    else:
        st.caption("Only one study for this patient.")


def details(record: StudyRecord, result: Assessment, *, big: bool,
            synthetic_model: bool) -> None:
    """Below the fold: the explanation (selectable SHAP), the images and levels linked to
    it, the clinical findings and recording the prediction."""
    link = board_linked.current_link(record.study_id, list(record.levels))
    st.subheader("Predicted pain and explanation")
    board_linked.explanation(result, record.study_id, big=big, synthetic_model=synthetic_model,
                             linked=bool(record.levels))
    if record.levels:
        st.subheader("Images and levels")
        board_linked.imaging(record, link)
    # A popover's table exists only while it is open (opening it reruns the page; a
    # collapsed expander's is drawn on every page switch).
    with st.popover("Clinical findings", icon=":material/assignment:", key=CLINICAL_OPEN_KEY,
                    on_change="rerun") as findings:
        if findings.open:
            st.dataframe(clinical_frame(record), hide_index=True, key="board_clinical")
    if st.button("Record this prediction in the store", key="board_record_prediction"):
        with c.core_errors("The prediction was not recorded:"):
            record_prediction(get_store(), record.study_id, result)
            st.success("Prediction recorded (audit log: predict).")
