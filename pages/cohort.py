"""Cohort analytics: the paper's analyses on the loaded cohort, plus tiers and SHAP."""

import streamlit as st

from ui import cache, case_views, cohort, cohort_views, layout, scores, session
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
    scores.ensure_scores()
    first, last = scores.date_range()
if first is None:
    st.info("The store is empty; load the demo cohort with `python -m core demo`.")
    st.stop()
case_views.errors_notice(scores.assessment_errors(), scores.study_count(),
                         key="cohort_unassessed")

session.default_date_range("cohort_dates", (first, last))
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
unit = st.radio("Unit of analysis", list(cohort.UNITS), format_func=cohort.UNITS.get,
                horizontal=True, key="cohort_unit", persist_state=KEEP,
                help="Studies of one patient are not independent: with every study the "
                     "p-values are too small. The paper compared one study per patient.")
with c.core_errors("The cohort could not be loaded:", stop=True):
    frame = scores.cohort_view(cohort.CohortFilter(
        data=data_choice, date_from=period[0] if period else None,
        date_to=period[1] if len(period) > 1 else None, regions=tuple(regions)), unit)
n_synth = int(frame["synthetic"].sum())
st.caption(f"{len(frame):,} studies of {frame['patient_id'].nunique():,} patients "
           f"({int(frame['vas'].notna().sum()):,} with a recorded VAS).")
if n_synth:
    c.synthetic_badge(True, f"{n_synth:,} of {len(frame):,} studies are synthetic — the "
                            "associations are illustrative, not evidence")
if len(frame) < cohort_views.MIN_STUDIES:
    st.warning("Too few studies for the analyses; widen the filters.")
    st.stop()

cohort_views.key_figures(frame)
section = cohort_views.section_choice()
st.header(cohort_views.SECTIONS[section])
if section == "region":
    cohort_views.region_section(frame)
elif section == "burden":
    cohort_views.burden_correlation_section(frame)
    cohort_views.burden_pain_section(frame)
elif section == "advice":
    st.caption(f"From the model in use ({session.active_model_dir().name}). A safety "
               "override leads the advice whatever the predicted pain; a study without a "
               "measured lesion is asked to confirm the pain source first. The tier follows "
               "the predicted category, so it is not drawn again.")
    cohort_views.advice_section(frame)
else:
    with c.core_errors("The importance could not be computed:"):
        cohort_views.importance_section(frame)
