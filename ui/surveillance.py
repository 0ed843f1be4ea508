"""The surveillance page: one patient's timeline, changes and alerts, and the cohort worklist.

Data: every stored study with its stored score of the active model
(:func:`ui.scores.scored_cohort`),
put side by side with each patient's previous study (:func:`core.surveillance.timeline`);
per-level rows from the store's indexed queries (:meth:`core.store.CaseStore.cohort_levels`
for the worklist, :meth:`~core.store.CaseStore.patient_levels` for one patient); alerts
from :func:`core.surveillance.study_alerts` with the thresholds of
:data:`core.surveillance.DEFAULT_THRESHOLDS`, each stated on the page. After a case is
saved or edited, only that patient's surveillance is computed again
(:func:`core.surveillance.cohort.with_patients_replaced`).
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import surveillance as sv
from core.store.cohort_refresh import Mark
from core.surveillance import cohort as sv_cohort
from core.vocab import REGIONS, URGENCY_COLOURS, display
from ui import cache, chart_export, history_svg, scores, trend_charts
from ui import components as c
from ui.session import KEEP
from ui.tables import static_table

PATIENT_KEY = "surv_patient"
VIEW_KEY = "surv_view"
VIEWS = ("Patient timeline", "Cohort worklist")
PAGE_SIZES = (10, 20, 50)
_ALERT_BOX = {"urgent": st.error, "soon": st.warning, "routine": st.info}
_ALERT_ICON = {"urgent": ":material/emergency:", "soon": ":material/warning:",
               "routine": ":material/info:"}


# ----------------------------------------------------------------------------- data


#: The latest cohort surveillance per (store URL, model version) with the mark of the
#: scored-cohort snapshot it was made from: after one or more refreshes of that
#: snapshot (the cohort page may have refreshed it in between), only the patients they
#: read again are computed again (:func:`core.surveillance.cohort`).
_LATEST: dict[tuple[str, str], tuple[Mark, sv_cohort.CohortSurveillance]] = {}
_LATEST_LOCK = threading.Lock()


def _surveillance(url: str, revision: int, model_version: str
                  ) -> sv_cohort.CohortSurveillance:
    snapshot = scores.scored_snapshot((url, revision, model_version))
    with _LATEST_LOCK:
        mark, previous = _LATEST.get((url, model_version), (None, None))
    store = cache.get_store()
    changed = None if mark is None else snapshot.replaced_since(mark)
    if previous is not None and changed is not None:
        out = previous
        patients = sorted(changed)
        if patients:
            rows = snapshot.frame[snapshot.frame["patient_id"].isin(patients)]
            part = sv_cohort.cohort_surveillance(
                rows, store.cohort_levels(min_studies=2, patient_ids=patients))
            out = sv_cohort.with_patients_replaced(previous, part, patients)
    else:
        out = sv_cohort.cohort_surveillance(snapshot.frame, store.cohort_levels(min_studies=2))
    with _LATEST_LOCK:
        _LATEST.clear()  # one store and model at a time: the latest only
        _LATEST[(url, model_version)] = (snapshot.mark, out)
    return out


@st.cache_resource(show_spinner=False, max_entries=2)
def _cohort(url: str, revision: int, model_version: str
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    out = _surveillance(url, revision, model_version)
    return out.timeline, out.changes, out.alerts


def cohort_surveillance() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(timeline, level changes, alerts)`` of every assessed study (the stored scores;
    cached per store revision and model, shared: never modified in place)."""
    return _cohort(*scores.ensure_scores())


def warm_views(model_dir: Path) -> None:
    """Make :func:`cohort_surveillance`'s timeline, level changes and alerts and the
    patient box's table into their caches (:mod:`ui.warmup`)."""
    key = scores.warm_key(model_dir)
    if key is not None:
        _patients(*key)


@dataclass(frozen=True)
class PatientView:
    """What the patient view draws of one patient, made once per store revision and
    model (cached, shared: never modified in place)."""

    surveillance: sv.PatientSurveillance
    levels: pd.DataFrame
    #: The three-panel timeline as inline SVG (:func:`ui.history_svg.timeline_svg`).
    timeline_svg: str
    timeline_csv: pd.DataFrame
    level_map: c.CachedChart | None  # None when the patient has no per-level rows

    def timeline_file(self) -> str:
        """The timeline as a standalone SVG file (the SVG and PNG downloads)."""
        return _timeline(self.surveillance, standalone=True)


def _timeline(ps: sv.PatientSurveillance, *, standalone: bool = False) -> str:
    """The patient's timeline, its alerted studies marked."""
    return history_svg.timeline_svg(ps.timeline, ps.alerts["study_date"].tolist(),
                                    standalone=standalone)


@st.cache_resource(show_spinner=False, max_entries=32)
def _patient_view(url: str, revision: int, model_version: str, patient_id: str
                  ) -> PatientView:
    tl, _, _ = _cohort(url, revision, model_version)
    levels = cache.get_store().patient_levels(patient_id)
    ps = _patient(tl, patient_id, levels)
    timeline = _timeline(ps)
    level_map = (c.prepare_chart(trend_charts.level_heatmap(levels)) if len(levels)
                 else None)
    return PatientView(ps, levels, timeline, trend_charts.timeline_csv_frame(ps.timeline),
                       level_map)


def patient_view_data(patient_id: str) -> PatientView:
    """The :class:`PatientView` of a patient (cached per store revision and model)."""
    return _patient_view(*scores.ensure_scores(), patient_id)


def _patient(tl: pd.DataFrame, patient_id: str, levels: pd.DataFrame
             ) -> sv.PatientSurveillance:
    rows = tl[tl["patient_id"] == patient_id]
    keep = [c for c in rows.columns if not c.startswith("prev_")
            and c not in ("study_number", "n_studies", "days_since_first", "hi_change_points",
                          "max_hi_change_points", "involved_change", "pain_gap")]
    return sv.patient_surveillance(rows[keep], levels)


# ------------------------------------------------------------------------ widgets


def view_choice() -> str:
    """The page's two views (a radio, kept across page switches)."""
    return st.radio("View", VIEWS, horizontal=True, key=VIEW_KEY, persist_state=KEEP,
                    label_visibility="collapsed")


def _open_patient(patient_id: str) -> None:
    st.session_state[PATIENT_KEY] = patient_id
    st.session_state[VIEW_KEY] = VIEWS[0]


#: Most patients the patient box offers; a larger store is searched by patient id first.
PICK_LIMIT = 50


def patient_table(tl: pd.DataFrame, alerts: pd.DataFrame) -> pd.DataFrame:
    """One row per patient (``patient_id``, ``n`` studies, ``synthetic``, ``alerts`` at
    its latest study), those with most studies first (ties by id); whole columns at once
    (53,000 patients at 100,000 studies). The box's words: :func:`patient_labels`."""
    counts = tl.groupby("patient_id", sort=False).agg(
        n=("study_id", "size"), synthetic=("synthetic", "first"),
        last=("study_id", "last"))
    latest = alerts[alerts["study_id"].isin(counts["last"])]
    n_alerts = latest.groupby("patient_id").size()
    counts["alerts"] = n_alerts.reindex(counts.index).fillna(0).astype(int)
    counts = counts.reset_index().sort_values(["n", "patient_id"], ascending=[False, True])
    return counts[["patient_id", "n", "synthetic", "alerts"]].reset_index(drop=True)


def patient_labels(table: pd.DataFrame) -> dict[str, str]:
    """Each patient of (some rows of) :func:`patient_table` labelled with its studies and
    the alerts at its latest study, in the table's order: made for the few patients the
    box offers, not for every patient of the store."""
    mark = table["synthetic"].astype(bool).map({True: c.synthetic_label(True),
                                                False: c.synthetic_label(False)})
    label = (
        mark + table["patient_id"].astype(str) + " · " + table["n"].map("{:,}".format)
        + np.where(table["n"] != 1, " studies · ", " study · ")
        + table["alerts"].map("{:,}".format)
        + np.where(table["alerts"] != 1, " alerts", " alert") + " at the latest study")
    return dict(zip(table["patient_id"], label, strict=True))


@st.cache_resource(show_spinner=False, max_entries=2)
def _patients(url: str, revision: int, model_version: str) -> pd.DataFrame:
    tl, _, alerts = _cohort(url, revision, model_version)
    return patient_table(tl, alerts)


def patient_picker(tl: pd.DataFrame, alerts: pd.DataFrame) -> str:
    """Select box of the patients, those with most studies first (ties by id); with more
    than :data:`PICK_LIMIT` patients, a patient id search above it and the first matches
    as its options."""
    ss = st.session_state
    table = _patients(*scores.ensure_scores())
    shown = table
    if len(table) > PICK_LIMIT:
        search = str(st.text_input("Search pseudonymous ID", key="surv_patient_search",
                                   persist_state=KEEP,
                                   help=f"The box lists at most {PICK_LIMIT} patients.")
                     or "").strip()
        if search:
            shown = table[table["patient_id"].str.contains(search, case=False, regex=False)]
        current = table[table["patient_id"] == ss.get(PATIENT_KEY)]
        shown = pd.concat([shown.head(PICK_LIMIT), current]).drop_duplicates("patient_id")
        if shown.empty:
            shown = table.head(PICK_LIMIT)
    labels = patient_labels(shown)
    if ss.get(PATIENT_KEY) not in labels:
        ss[PATIENT_KEY] = next(iter(labels))
    return str(st.selectbox("Patient", list(labels), key=PATIENT_KEY, persist_state=KEEP,
                            format_func=labels.get))


def rules_table() -> None:
    """The alert rules with their thresholds and reasons (an expander)."""
    with st.expander("Alert rules and thresholds", icon=":material/rule:"):
        # A static table: its long sentences wrap, and it costs the page switch less
        # than a data grid (the expander's content is drawn even while it is closed).
        st.table(pd.DataFrame([{"Alert": r.title, "Priority": r.priority,
                                "Fires when": r.rule, "Why": r.rationale}
                               for r in sv.alert_rules()]).set_index("Alert"))
        st.caption("None of these thresholds is a validated cut-off; they are stated so a "
                   "site can review them. Missing values never fire an alert; a value "
                   "exactly at a threshold fires.")


def alert_list(alerts: pd.DataFrame, *, empty: str) -> None:
    """Each alert as a box in its priority's colour, with its sentence."""
    if alerts.empty:
        st.success(empty, icon=":material/check_circle:")
        return
    for row in alerts.itertuples():
        box = _ALERT_BOX.get(row.priority, st.info)
        box(f"**{row.title}** ({row.priority}) — {row.sentence}",
            icon=_ALERT_ICON.get(row.priority))


# ------------------------------------------------------------------ patient view


def summary(ps: sv.PatientSurveillance) -> None:
    """Studies, period, alerts now, latest pain against the expectation."""
    tl = ps.timeline
    last = tl.iloc[-1]
    a, b, d, e = st.columns(4)
    a.metric("Studies", len(tl))
    first, latest = tl["study_date"].iloc[0], last["study_date"]
    days = int((latest - first).days)
    b.metric("Follow-up", f"{days} days" if days < 61 else f"{days / 30.44:.0f} months",
             help=f"From {first:%Y-%m-%d} to {latest:%Y-%m-%d}.")
    d.metric("Alerts at the latest study", len(ps.latest_alerts))
    expected = pd.to_numeric(pd.Series([last.get("expected_vas")]), errors="coerce").round(1)
    e.metric("Latest VAS / expected", f"{display('number', last.get('vas'))} / "
              f"{display('number', expected.iloc[0])}")
    st.caption(f"Studies from {first:%Y-%m-%d} to {latest:%Y-%m-%d}.")
    if bool(last.get("synthetic")):
        c.synthetic_badge(True, "demo patient, not a real person")


def studies_table(ps: sv.PatientSurveillance) -> None:
    """One row per study as clinicians read it."""
    tl = ps.timeline
    n_alerts = ps.alerts.groupby("study_id").size()
    shown = pd.DataFrame({
        "Study date": tl["study_date"].dt.strftime("%Y-%m-%d"),
        **{f"{r.capitalize()} lesions": pd.to_numeric(tl[f"lesion_count_{r}"], errors="coerce")
           for r in REGIONS},
        "Involved levels": pd.to_numeric(tl["involved_levels"], errors="coerce"),
        "HI ratio overall": [display("percent", v) for v in tl["high_intensity_ratio"]],
        "HI ratio worst level": [display("percent", v)
                                 for v in tl["max_level_high_intensity_ratio"]],
        "Recorded VAS": pd.to_numeric(tl["vas"], errors="coerce"),
        "Expected VAS": pd.to_numeric(tl["expected_vas"], errors="coerce").round(1),
        "Predicted pain": tl.get("category"),
        "Alerts": tl["study_id"].map(n_alerts).fillna(0).astype(int),
    })
    static_table(shown, key="surv_studies")


def timeline_chart(view: PatientView) -> None:
    """The three-panel timeline with its downloads."""
    chart_export.svg_figure(view.timeline_svg, view.timeline_csv, key="surv_timeline",
                            name=f"timeline-{view.surveillance.patient_id}",
                            testid="surveillance-timeline", file_svg=view.timeline_file)


def _study_labels(tl: pd.DataFrame) -> dict[int, str]:
    return {int(r.study_id): f"{r.study_date:%Y-%m-%d} (study {r.study_number})"
            for r in tl.itertuples() if r.study_number > 1}


def changes_view(view: PatientView) -> None:
    """Per-level changes of a chosen follow-up study against the previous one (by region
    when the studies have no per-level measurements), and the level map over studies."""
    ps = view.surveillance
    labels = _study_labels(ps.timeline)
    if not labels:
        st.info("One study only: nothing to compare yet.")
        return
    by_label = {label: study_id for study_id, label in labels.items()}
    chosen = by_label[st.selectbox("Follow-up study", list(by_label)[::-1],
                                   key="surv_change_study")]
    row = ps.timeline[ps.timeline["study_id"] == chosen].iloc[0]
    st.caption(f"Compared with the previous study of {row['prev_study_date']:%Y-%m-%d}.")
    changes = ps.changes[ps.changes["study_id"] == chosen]
    if len(changes):
        static_table(pd.DataFrame({
            "Level": changes["level"], "Region": changes["region"],
            "Change": changes["status"],
            "Lesions before → now": (changes["lesions_before"].fillna(-1).astype(int).astype(str)
                                     .replace("-1", "-") + " → "
                                     + changes["lesions_after"].fillna(-1).astype(int)
                                     .astype(str).replace("-1", "-")),
            "HI ratio before": [display("percent", v) for v in changes["hi_before"]],
            "HI ratio now": [display("percent", v) for v in changes["hi_after"]],
            "Change (points)": (100 * changes["hi_change_points"]).round(1),
            "Above the level threshold": changes["hi_rise"].map({True: "yes", False: "no"}),
        }), key="surv_level_changes")
    else:
        st.info("Per-level measurements are stored only for studies measured from images; "
                "these studies carry table values, so the change is shown by region.")
        regions = sv.region_changes(row)
        static_table(regions.rename(columns={"region": "Region", "before": "Lesions before",
                                             "after": "Lesions now", "change": "Change"}),
                     key="surv_region_changes")
    if view.level_map is not None:
        chart_export.chart(view.level_map, view.levels, key="surv_level_map",
                           name=f"levels-{ps.patient_id}")


def patient_view(tl: pd.DataFrame, alerts: pd.DataFrame) -> None:
    """The patient timeline view."""
    patient_id = patient_picker(tl, alerts)
    view = patient_view_data(patient_id)
    ps = view.surveillance
    summary(ps)
    st.subheader("Alerts at the latest study")
    alert_list(ps.latest_alerts, empty="No alert fired at the latest study.")
    earlier = ps.alerts[~ps.alerts.index.isin(ps.latest_alerts.index)]
    if len(earlier):
        with st.expander(f"Earlier alerts ({len(earlier)})"):
            static_table(pd.DataFrame({"Study date": earlier["study_date"].dt.strftime(
                "%Y-%m-%d"), "Alert": earlier["title"], "Priority": earlier["priority"],
                "What": earlier["sentence"]}), key="surv_earlier")
    st.subheader("Timeline")
    timeline_chart(view)
    studies_table(ps)
    st.subheader("Changes since the previous study")
    changes_view(view)


# ---------------------------------------------------------------------- worklist


def _worklist_filters(frame: pd.DataFrame) -> pd.DataFrame:
    f1, f2, f3 = st.columns([1.6, 1, 1])
    codes = f1.multiselect("Alerts", list(sv.ALERT_CODES), key="surv_codes",
                           format_func=lambda code: sv.RULES_BY_CODE[code].title,
                           persist_state=KEEP, placeholder="any alert")
    priorities = f2.multiselect("Priority", ["urgent", "soon", "routine"],
                                key="surv_priorities", persist_state=KEEP,
                                placeholder="any priority")
    search = f3.text_input("Patient id contains", key="surv_search", persist_state=KEEP)
    return sv.filter_worklist(frame, codes=tuple(codes), priorities=tuple(priorities),
                              search=search)


def _worklist_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Patient": [f"{c.synthetic_label(s)}{p}" for p, s in zip(rows["patient_id"],
                                                                  rows["synthetic"],
                                                                  strict=True)],
        "Priority": rows["priority"],
        "Alerts": rows["alerts"],
        "Studies": rows["n_studies"],
        "Latest study": pd.to_datetime(rows["last_study_date"]).dt.strftime("%Y-%m-%d"),
        "VAS / expected": [f"{display('number', v)} / {display('number', round(e, 1))}"
                           for v, e in zip(rows["last_vas"], rows["last_expected_vas"],
                                           strict=True)],
    })


@st.cache_resource(show_spinner=False, max_entries=4)
def _worklist(url: str, revision: int, model_version: str, scope: str) -> pd.DataFrame:
    tl, _, alerts = _cohort(url, revision, model_version)
    return sv.worklist(alerts, tl, scope=scope)


def worklist_view(tl: pd.DataFrame, alerts: pd.DataFrame) -> None:
    """Patients whose alerts fired, filterable and paginated; open one's timeline."""
    scope = st.radio("Alerts of", sv.WORKLIST_SCOPES, horizontal=True, key="surv_scope",
                     persist_state=KEEP, format_func={"latest": "the latest study",
                                                      "any": "any study"}.get)
    frame = _worklist_filters(_worklist(*scores.ensure_scores(), scope))
    if frame.empty:
        st.info("No patient matches: no alert fired, or the filters exclude them.")
        return
    a, b = st.columns([1, 3])
    size = a.selectbox("Rows per page", PAGE_SIZES, index=1, key="surv_page_size")
    n_pages = max(1, -(-len(frame) // int(size)))
    if int(st.session_state.get("surv_page", 1)) > n_pages:  # fewer rows after filtering
        st.session_state["surv_page"] = n_pages
    page = b.number_input(f"Page (of {n_pages})", min_value=1, max_value=n_pages, step=1,
                          key="surv_page")
    rows, page, n_pages = sv.page_of(frame, int(page), int(size))
    st.dataframe(_worklist_table(rows), hide_index=True, key="surv_worklist",
                 column_config={"Priority": st.column_config.TextColumn(width="small")})
    st.caption(f"Page {page:,} of {n_pages:,}: {len(frame):,} patients; most urgent first, then "
               "the most recent study. " + " · ".join(
                   f'<span style="color:{URGENCY_COLOURS[p]}">{html.escape(p)}</span>'
                   for p in ("urgent", "soon", "routine")), unsafe_allow_html=True)
    a, b = st.columns([2, 1], vertical_alignment="bottom")
    chosen = a.selectbox("Open a patient of this page", list(rows["patient_id"]),
                         key="surv_open_choice")
    b.button("Open timeline", key="surv_open", icon=":material/timeline:",
             on_click=_open_patient, args=(chosen,), type="primary")
