"""Report: export a stored case as an HTML and a PDF report."""

import base64

import streamlit as st

from ui import advice, cache, layout, pickers, reporting, session
from ui import components as c

layout.page_header("Case report", "Self-contained HTML and PDF for the record or the tumor board.")
c.decision_support_notice()
ss = st.session_state
cache.model_or_stop()
cache.store_or_stop()
search = pickers.search_box("report_search")
wanted = ss.get("board_study")
with c.core_errors("The case list could not be loaded:", stop=True):
    # Imaging cases first: their reports carry a key image.
    labels = pickers.study_labels(search, keep=[ss.get("report_study"), wanted])
if not labels:
    st.info("No study matches the search." if search else "The store has no studies yet.")
    st.stop()
if ss.get("report_study") not in labels:
    ss["report_study"] = int(wanted) if wanted in labels else next(iter(labels))
study_id = st.selectbox("Study", list(labels), key="report_study",
                        persist_state=session.KEEP, format_func=labels.get)

with st.spinner("Building the report…"):
    files = c.run_safely(reporting.report_files, int(study_id),
                         prefix="The report could not be built:")
if files is None:
    st.stop()
if files.synthetic:
    c.synthetic_badge(True, "demo case — the report is marked SYNTHETIC DATA")
result = c.run_safely(reporting.assessment, int(study_id),
                      prefix="The assessment could not be shown:")
if result is not None:
    advice.compact(result, synthetic_model=bool(cache.get_model().card.get("synthetic")))
st.caption(f"Predicted pain {files.category}, tier {files.tier} (model in use: "
           f"{session.active_model_dir().name}); the report below opens with the same "
           "headline.")
a, b = st.columns(2)
# Each file is made (the PDF built) and its export audited when its button is pressed;
# neither click reruns the page, so a click on the other button is never lost.
a.download_button("Download HTML report", reporting.html_download(int(study_id), files),
                  file_name=files.html_name, mime="text/html", key="report_download_html",
                  icon=":material/html:", type="primary", width="stretch", on_click="ignore")
b.download_button("Download PDF report", reporting.pdf_download(int(study_id), files),
                  file_name=files.pdf_name, mime="application/pdf", key="report_download_pdf",
                  icon=":material/description:", type="primary", width="stretch",
                  on_click="ignore")
with st.expander("Preview (HTML)", expanded=True):
    # A data: URL gives the preview an opaque origin: it cannot reach the app.
    encoded = base64.b64encode(files.html.encode("utf-8")).decode("ascii")
    st.iframe(f"data:text/html;base64,{encoded}", height=900)
