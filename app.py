"""Streamlit entry point: page configuration and the page router only.

Run with ``make run`` (builds the demo store first when it is missing) or
``streamlit run app.py``. The pages are listed once, in :data:`ui.registry.PAGES`; their
scripts live in ``pages/``, shared UI code in ``ui/``.
"""

import streamlit as st

from ui.heap import settled_after
from ui.registry import APP_ICON, APP_TITLE, navigation

st.set_page_config(page_title=APP_TITLE, page_icon=APP_ICON, layout="wide",
                   initial_sidebar_state="expanded")
page = navigation()
with settled_after(page.url_path):  # the first run of each page settles the heap
    page.run()
