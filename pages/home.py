"""Home: what the tool does, the notice, which model is in use, store counts, links.

Kept light for a fast first screen: it reads the model card without loading the model
and fills in the store counts last (:mod:`ui.home`)."""

import streamlit as st

from ui import components as c
from ui import home, layout, registry

layout.page_header("Bone pain from spinal metastases",
                   "Decision support for tumor boards, clinicians and teaching.")
c.decision_support_notice()

st.markdown(
    "This dashboard measures **spinal metastases on MRI** per vertebral level (number of "
    "lesions, high-intensity (HI) marrow ratio, involved levels), combines them with "
    "clinical findings (SINS, Bilsky grade, ECOG, fracture, deficit, analgesics) and "
    "estimates the **bone-pain category** (VAS mild < 4 ≤ moderate < 7 ≤ severe) with an "
    "interpretable ordinal model. Every prediction comes with its SHAP explanation and a "
    "**management tier** from a transparent rule table whose safety overrides (unstable "
    "spine, epidural compression, neurologic deficit) outrank the model.\n\n"
    "Background: Kong et al. (Int J Med Sci 2025;22(3):708-715) found bone pain higher "
    "with lumbar than thoracic or cervical spinal metastases; the number of metastatic "
    "sites and the HI ratio on MRI correlate and both go with worse pain."
)

card = home.active_card()
left, right = st.columns(2)
with left:
    st.subheader("Model in use")
    if card.get("synthetic"):
        c.synthetic_badge(True, "model trained on synthetic data")
        st.warning("This is the **demo model**, trained on a synthetic cohort. Its "
                   "associations are illustrative only — train a site model on local data "
                   "(Model page) before any clinical use.", icon=":material/science:")
    else:
        st.success("Site model trained on local data — validate it locally before use.",
                   icon=":material/local_hospital:")
    st.markdown(f"**Version** `{card.get('version', '?')}`  \n"
                f"**Training data** {card.get('data', '?')}  \n"
                f"**Trained** {card.get('trained_utc', '?')}")
    registry.page_link("model", label="Model card and retraining")

with right:
    st.subheader("Case store")
    counts_box = st.container()

st.divider()
st.subheader("Where to start")
registry.start_links()

# last: the first visit imports the store stack, and everything above is already shown
with counts_box:
    counts = home.store_counts_or_error()
if counts is not None:
    with counts_box:
        m1, m2, m3 = st.columns(3)
        m1.metric("Patients", f"{counts.patients:,}")
        m2.metric("Studies", f"{counts.studies:,}")
        m3.metric("With images", f"{counts.with_images:,}")
        if counts.synthetic:
            c.synthetic_badge(True, f"{counts.synthetic:,} of {counts.studies:,} studies are "
                                    "synthetic demo data")
        if not counts.studies:
            st.info("The store is empty. Run `python -m core demo` (or `make run`) to load "
                    "the synthetic demo cohort, or add a case on the New case page.")
