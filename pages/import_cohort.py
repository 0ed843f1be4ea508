"""Import cohort: upload a clinical table (CSV or Excel), validate it in bulk, import it
into the case store with progress (as ``python -m core import-cohort``), and keep the
stored scores of the model in use complete."""

import streamlit as st

from ui import importing, layout, rescoring

layout.page_header("Import cohort",
                   "Add a clinical table (one row per study) to the case store.")

with st.expander("Columns, accepted values and a template"):
    st.markdown("One row per imaging study; the header names the columns below (any "
                "letter case). Any other column is refused as a whole, because names or "
                "birth dates may hide in it. Leave unknown values blank; nothing is "
                "filled in except the documented defaults.")
    st.download_button("Download the template (CSV)", importing.template_csv(),
                       file_name=importing.TEMPLATE_NAME, mime="text/csv",
                       key="import_template", icon=":material/download:")
    st.dataframe(importing.schema_frame(), hide_index=True, key="import_schema")
st.caption(importing.id_rule_text())

upload = st.file_uploader(
    "Cohort table (CSV or Excel)", type=["csv", "xlsx"], key="import_file",
    max_upload_size=importing.MAX_UPLOAD_MB,
    help=f"At most {importing.MAX_UPLOAD_MB} MB. The file itself is not stored; its rows "
         "are, once imported.")
if upload is not None:
    checked = importing.run_safely(importing.validate_upload, upload.getvalue(), upload.name,
                                   prefix="The table could not be read:")
    if checked is not None:
        importing.render_validation(checked)
        done = importing.last_result(checked)
        if done is not None:
            st.info("This file was imported in this session; upload another file to "
                    "import more rows.")
            importing.render_summary(done)
        else:
            errors = bool(checked.table.errors)
            valid_only = st.checkbox(
                "Import the valid rows only (the rows with problems are left out)",
                key="import_valid_only", disabled=not errors)
            go = st.button("Import into the case store", type="primary", key="import_button",
                           icon=":material/upload:",
                           disabled=checked.table.rows.empty or (errors and not valid_only))
            if go:
                rows = importing.run_safely(importing.rows_to_import, checked,
                                            valid_rows_only=valid_only)
                if rows is not None:
                    summary = importing.run_safely(importing.import_rows, checked, rows,
                                                   prefix="Nothing was imported:")
                    if summary is not None:
                        importing.render_summary(summary)

st.divider()
rescoring.render_rescore(key="import_rescore")
