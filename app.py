"""Streamlit entry point: page configuration and the page router only.

Run with ``make run`` (builds the demo store first when it is missing) or
``streamlit run app.py``. The pages are listed once, in :data:`ui.registry.PAGES`; their
scripts live in ``pages/``, shared UI code in ``ui/``.
"""

import streamlit as st

from ui.heap import settled_after
from ui.registry import APP_ICON, APP_TITLE, navigation
from ui.warmup import warmed_after

st.set_page_config(page_title=APP_TITLE, page_icon=APP_ICON, layout="wide",
                   initial_sidebar_state="expanded")
page = navigation()
# The first run of each page settles the heap; the server's first run starts the
# background warm-up of the other pages' modules and the model.
with warmed_after(), settled_after(page.url_path):
    page.run()
