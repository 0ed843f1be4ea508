"""Cohort analytics: the paper's analyses on the loaded cohort, plus tiers and SHAP."""

import streamlit as st

from ui import cache, case_views, charts, cohort, layout, session
from ui import components as c
from ui.session import KEEP

layout.page_header("Cohort analytics", "Kong et al. (Int J Med Sci 2025;22(3):708-715) on "
                                       "the cohort in the store: region, number of sites, HI "
                                       "ratio and pain.")
c.decision_support_notice("Cohort figures describe associations in the loaded data, not "
                          "causes; the advice below is decision support.")
cache.model_or_stop()
cache.store_or_stop()
with c.core_errors("The cohort could not be loaded:", stop=True):
    scored = cache.scored_studies()
if scored.empty:
    st.info("The store is empty; load the demo cohort with `python -m core demo`.")
    st.stop()
case_views.unassessed_notice(scored, key="cohort_unassessed")

dates = scored["study_date"].dropna()
session.default_date_range("cohort_dates", (dates.min().date(), dates.max().date()))
with st.expander("Filters", expanded=True):
    f1, f2, f3 = st.columns([1.2, 1.4, 1.4])
    data_choice = f1.radio("Data", ("all", "synthetic", "site"), horizontal=True,
                           key="cohort_data", persist_state=KEEP,
                           format_func={"all": "All", "synthetic": "SYNTHETIC only",
                                        "site": "Site (real) only"}.get)
    period = f2.date_input("Study dates", min_value=cohort.EARLIEST_STUDY_DATE, key="cohort_dates",
                           persist_state=KEEP,
                           format="YYYY-MM-DD")
    regions = f3.multiselect("Lesions in region", cohort.REGIONS,
                             key="cohort_region", persist_state=KEEP)
period = tuple(period) if isinstance(period, (list, tuple)) else (period,)
frame = cohort.with_bins(cohort.apply_filter(scored, cohort.CohortFilter(
    data=data_choice, date_from=period[0] if period else None,
    date_to=period[1] if len(period) > 1 else None, regions=tuple(regions))))
n_synth = int(frame["synthetic"].sum())
st.caption(f"{len(frame)} studies of {frame['patient_id'].nunique()} patients "
           f"({int(frame['vas'].notna().sum())} with a recorded VAS).")
if n_synth:
    c.synthetic_badge(True, f"{n_synth} of {len(frame)} studies are synthetic — the "
                            "associations are illustrative, not evidence")
if len(frame) < 3:
    st.warning("Too few studies for the analyses; widen the filters.")
    st.stop()

st.header("Pain by region of involvement")
a, b = st.columns([1.6, 1])
with a:
    c.chart(charts.pain_by_region(cohort.region_comparison(frame), region_col="region_group",
                                  order=cohort.REGION_GROUP_ORDER),
            key="cohort_region_chart")
with b:
    table, p_kw = cohort.region_summary(frame)
    st.dataframe(table, hide_index=True, key="cohort_region_table")
    if p_kw is not None:
        p_text = "< 0.001" if p_kw < 0.001 else f"= {p_kw:.3f}"
        st.markdown(f"Kruskal-Wallis across groups: **p {p_text}**")
    st.caption("Groups as in the paper: *lumbar* = any lumbar lesion; *thoracic only* / "
               "*cervical only* = lesions in that region alone; *other* = the rest.")

st.header("Number of metastatic sites and high-intensity ratio")
a, b = st.columns([1.6, 1])
corr = cohort.spearman(frame, "lesion_count", "high_intensity_ratio")
with a:
    c.chart(charts.count_vs_hi_scatter(frame, colour="region_group"),
                    key="cohort_scatter")
with b:
    if corr is None:
        st.info("Not enough varied data for a Spearman correlation.")
    else:
        st.metric("Spearman r (lesions vs HI ratio)", f"{corr.r:.2f}",
                  help="scipy.stats.spearmanr on studies with both values.")
        st.markdown(f"**Spearman** {corr.text()}")
    for col, label in (("lesion_count", "lesions"), ("high_intensity_ratio", "HI ratio")):
        pain = cohort.spearman(frame, col, "vas")
        if pain is not None:
            st.markdown(f"Pain vs {label}: {pain.text()}")

a, b = st.columns(2)
with a:
    c.chart(charts.binned_pain(frame, bin_col="count_bin", title="Pain by number of "
                                       "lesions", bin_title="Lesions"),
                    key="cohort_count_bins")
with b:
    c.chart(charts.binned_pain(frame, bin_col="hi_bin", title="Pain by HI ratio",
                                       bin_title="HI ratio"), key="cohort_hi_bins")

st.header("Predicted pain and what leads the advice")
st.caption(f"From the model in use ({session.active_model_dir().name}). A safety override "
           "leads the advice whatever the predicted pain; a study without a measured lesion "
           "is asked to confirm the pain source first.")
a, b, d = st.columns(3)
with a:
    c.chart(charts.category_bars(frame["headline_source"].map(cohort.HEADLINE_SOURCE_LABELS),
                                 title="What leads the advice",
                                 order=list(cohort.HEADLINE_SOURCE_LABELS.values())),
            key="cohort_headline_sources")
with b:
    c.chart(charts.category_bars(frame["urgency"], title="Urgency of the advice",
                                 order=cohort.URGENCY_ORDER), key="cohort_urgency")
with d:
    c.chart(charts.category_bars(frame["category"], title="Predicted pain category",
                                 order=cohort.CATEGORIES),
            key="cohort_categories")

st.header("Global SHAP importance")
with c.core_errors("The importance could not be computed:"):
    importance = cache.global_importance_for(list(frame["study_id"]))
    c.chart(charts.importance_bars(importance), key="cohort_importance")
    st.caption("Mean |SHAP| over the filtered studies, in the model's output units. "
               "Correlated features (lesions, involved levels, HI ratios) share credit.")
