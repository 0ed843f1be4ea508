"""Surveillance: a patient's studies over time, what changed, alerts, and the worklist."""

import streamlit as st

from ui import cache, layout
from ui import components as c
from ui import surveillance as surv

layout.page_header("Pain surveillance", "Kong et al. (Int J Med Sci 2025;22(3):708-715): "
                                        "burden and pain across a patient's studies — new "
                                        "involvement, HI-ratio rise, pain above expectation.")
c.decision_support_notice("An alert asks for a look, it is not a diagnosis; thresholds are "
                          "stated below and are not validated cut-offs.")
cache.model_or_stop()
cache.store_or_stop()
with c.core_errors("The studies could not be loaded:", stop=True):
    timeline, changes, alerts = surv.cohort_surveillance()
if timeline.empty:
    st.info("The store has no assessed study yet; load the demo cohort with "
            "`python -m core demo`.")
    st.stop()
surv.rules_table()
if surv.view_choice() == surv.VIEWS[0]:
    with c.core_errors("The patient's timeline could not be shown:"):
        surv.patient_view(timeline, alerts)
else:
    with c.core_errors("The worklist could not be shown:"):
        surv.worklist_view(timeline, alerts)
