"""Streamlit entry point: page configuration and the page router only.

Run with ``make run`` (builds the demo store first when it is missing) or
``streamlit run app.py``. Pages live in ``pages/``; shared UI code in ``ui/``.
"""

import streamlit as st

st.set_page_config(
    page_title="Spinal metastasis pain — decision support",
    page_icon=":material/healing:",
    layout="wide",
    initial_sidebar_state="expanded",
)

st.navigation(
    {
        "Overview": [
            st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        ],
        "Cases": [
            st.Page("pages/new_case.py", title="New case", icon=":material/add_circle:"),
            st.Page("pages/tumor_board.py", title="Tumor board", icon=":material/groups:"),
            st.Page("pages/what_if.py", title="What-if", icon=":material/tune:"),
            st.Page("pages/report.py", title="Report", icon=":material/description:"),
        ],
        "Cohort and model": [
            st.Page("pages/cohort.py", title="Cohort analytics", icon=":material/monitoring:"),
            st.Page("pages/model.py", title="Model", icon=":material/model_training:"),
        ],
    }
).run()
