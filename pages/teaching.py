"""Teaching: the paper's three findings, two cases compared, a quiz and a case library."""

import streamlit as st

from ui import cache, layout, teaching
from ui import components as c

layout.page_header("Teaching", "Kong et al. (Int J Med Sci 2025;22(3):708-715) step by step "
                               "on the loaded cohort; no login needed, nothing is saved.")
c.decision_support_notice("Teaching material on de-identified cases; the advice shown is "
                          "decision support.")
cache.model_or_stop()
cache.store_or_stop()
part = teaching.section_choice()
if part == teaching.SECTIONS[0]:  # the walk-through reads the cohort, not the library
    with c.core_errors("This part could not be shown:"):
        teaching.walkthrough()
    st.stop()
with c.core_errors("The cases could not be loaded:", stop=True):
    library = teaching.library()
if library.empty:
    st.info(teaching.EMPTY_NOTE)
    st.stop()
with c.core_errors("This part could not be shown:"):
    if part == teaching.SECTIONS[1]:
        teaching.compare(library)
    elif part == teaching.SECTIONS[2]:
        teaching.quiz(library)
    else:
        teaching.library_view(library)
