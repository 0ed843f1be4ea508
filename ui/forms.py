"""Clinical input: a form, or one row of an uploaded clinical CSV / Excel file.

Both return the validated record of :func:`core.clinical.validate_clinical` (every
cohort column, typed; ``None`` = not recorded). Widget keys start with the given prefix
(``newcase_...``) so browser tests can drive them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from ui.components import show_error, synthetic_label
from ui.state import KEEP

SINS_CHOICES: dict[str, dict[int, str]] = {
    "sins_location": {0: "0 rigid (S2-S5)", 1: "1 semi-rigid (T3-T10)",
                      2: "2 mobile (C3-C6, L2-L4)", 3: "3 junctional (O-C2, C7-T2, T11-L1, L5-S1)"},
    "sins_pain": {0: "0 pain-free", 1: "1 occasional, not mechanical", 3: "3 mechanical"},
    "sins_bone_lesion": {0: "0 blastic", 1: "1 mixed", 2: "2 lytic"},
    "sins_alignment": {0: "0 normal", 2: "2 de novo deformity", 4: "4 subluxation/translation"},
    "sins_collapse": {0: "0 none", 1: "1 none, >50% body involved", 2: "2 <50% collapse",
                      3: "3 >50% collapse"},
    "sins_posterolateral": {0: "0 none", 1: "1 unilateral", 3: "3 bilateral"},
}
SINS_TITLES = {"sins_location": "SINS location", "sins_pain": "SINS pain",
               "sins_bone_lesion": "SINS bone lesion", "sins_alignment": "SINS alignment",
               "sins_collapse": "SINS vertebral collapse",
               "sins_posterolateral": "SINS posterolateral involvement"}
BILSKY = (None, "0", "1a", "1b", "1c", "2", "3")
ANALGESIC = {0: "0 none", 1: "1 non-opioid", 2: "2 weak opioid", 3: "3 strong opioid"}
UNSAVED_ID = "UNSAVED"


def _yes_no(value: object) -> str:
    return "not recorded" if value is None else ("yes" if value else "no")


#: Optional choices start empty and show "not recorded" (a value of None). An explicit
#: None option showed as an empty "Choose an option" box once its value was restored
#: after a page switch; the placeholder reads the same in both cases. The clear button
#: of the box returns a choice to "not recorded".
NOT_RECORDED: dict[str, Any] = {"index": None, "placeholder": "not recorded"}


def clinical_form(prefix: str = "newcase") -> dict[str, Any] | None:
    """The clinical form; returns the validated record when submitted, else None.

    Keys: ``<prefix>_patient_id``, ``_study_date``, ``_age``, ``_sex``,
    ``_primary_tumor``, ``_vas``, ``_ecog``, ``_analgesic_step``,
    ``_bone_modifying_agent``, ``_prior_radiotherapy``, ``_pathologic_fracture``,
    ``_neurologic_deficit``, ``_sins_location`` ... ``_sins_posterolateral``,
    ``_sins_total``, ``_bilsky_grade``; submit button ``<prefix>_clinical_submit``.
    """
    k = prefix
    today = dt.date.today()
    # Initial values through the session (not ``value=``): the widgets keep their
    # values across page switches (persist_state) and a restored value must not clash.
    from ui.state import default_widget

    default_widget(f"{k}_study_date", today)
    default_widget(f"{k}_primary_tumor", "breast")
    with st.form(f"{k}_clinical_form", border=True):
        c1, c2, c3 = st.columns(3)
        with c1:
            st.markdown("**Patient and study**")
            patient_id = st.text_input(
                "Pseudonymous patient ID", key=f"{k}_patient_id",
                persist_state=KEEP, placeholder="e.g. SITE-0042",
                help="Letters, digits, '.', '_' or '-'. Never a name, record number or birth "
                     "date. Needed only to save the case.")
            study_date = st.date_input("Study date", key=f"{k}_study_date", persist_state=KEEP,
                                       min_value=dt.date(1990, 1, 1), max_value=today,
                                       format="YYYY-MM-DD")
            age = st.number_input("Age (years; 90 = 90 or older)", min_value=18, max_value=90,
                                  value=None, step=1, key=f"{k}_age", persist_state=KEEP)
            sex = st.selectbox("Sex", ("F", "M", "other", "unknown"), key=f"{k}_sex",
                               persist_state=KEEP, **NOT_RECORDED)
            primary = st.text_input("Primary tumour", key=f"{k}_primary_tumor", persist_state=KEEP)
            vas = st.number_input("Recorded pain VAS 0-10 (optional)", min_value=0.0,
                                  max_value=10.0, value=None, step=0.5, key=f"{k}_vas",
                                  persist_state=KEEP,
                                  help="Worst pain in the last 24 h. Not a model input; "
                                       "stored for follow-up and training.")
        with c2:
            st.markdown("**Clinical status**")
            ecog = st.selectbox("ECOG performance status", (0, 1, 2, 3, 4),
                                key=f"{k}_ecog", persist_state=KEEP, **NOT_RECORDED)
            step = st.selectbox("WHO analgesic step", (0, 1, 2, 3),
                                key=f"{k}_analgesic_step", persist_state=KEEP,
                                format_func=ANALGESIC.get, **NOT_RECORDED)
            bools = {}
            for name, label in (("pathologic_fracture", "Pathologic fracture"),
                                ("neurologic_deficit", "New/progressive neurologic deficit"),
                                ("prior_radiotherapy", "Prior spine radiotherapy"),
                                ("bone_modifying_agent", "Bone-modifying agent")):
                bools[name] = st.selectbox(label, (False, True), key=f"{k}_{name}",
                                           persist_state=KEEP, format_func=_yes_no,
                                           **NOT_RECORDED)
            bilsky = st.selectbox("Bilsky grade (epidural compression)", BILSKY[1:],
                                  key=f"{k}_bilsky_grade", persist_state=KEEP,
                                  **NOT_RECORDED)
        with c3:
            st.markdown("**SINS (Fisher 2010)**")
            sins = {}
            for name, choices in SINS_CHOICES.items():
                sins[name] = st.selectbox(
                    SINS_TITLES[name], tuple(choices), key=f"{k}_{name}", persist_state=KEEP,
                    format_func=choices.get, index=None, placeholder="not assessed")
            sins_total = st.number_input("SINS total (when the parts are not known)",
                                         min_value=0, max_value=18, value=None, step=1,
                                         key=f"{k}_sins_total", persist_state=KEEP,
                                         help="Computed from the six parts when all are given.")
        submitted = st.form_submit_button("Use these clinical findings", type="primary",
                                          key=f"{k}_clinical_submit")
    if not submitted:
        return None
    record: dict[str, Any] = {
        "patient_id": (patient_id or "").strip() or UNSAVED_ID,
        "study_date": study_date,
        "age": age, "sex": sex, "primary_tumor": (primary or "").strip().lower() or None,
        "vas": vas, "ecog": ecog, "analgesic_step": step, **bools, **sins,
        "sins_total": sins_total, "bilsky_grade": bilsky,
    }
    from core.clinical import validate_clinical

    try:
        return validate_clinical(record, require_vas=False)
    except ValueError as exc:
        show_error(exc, "Please check the clinical fields:")
        return None


def csv_row_picker(prefix: str = "newcase") -> dict[str, Any] | None:
    """Upload a clinical CSV/Excel (schema of :mod:`core.clinical`) and pick one row.

    Keys: uploader ``<prefix>_clinical_csv``, row select ``<prefix>_csv_row``.
    Shows every invalid cell (row, column, reason); only valid rows can be chosen.
    """
    upload = st.file_uploader("Clinical table (CSV or Excel, one row per study)",
                              type=["csv", "xlsx"], key=f"{prefix}_clinical_csv")
    if upload is None:
        st.caption("Columns as in data/demo/cohort.csv; a VAS is optional here.")
        return None
    from core.clinical import load_clinical_table

    try:
        table = load_clinical_table(upload.getvalue(), upload.name, require_vas=False)
    except ValueError as exc:
        show_error(exc)
        return None
    if table.errors:
        st.warning(f"{len(table.errors)} invalid value(s) in {len(table.invalid_rows)} row(s); "
                   "those rows cannot be used.")
        st.dataframe(table.error_frame(), hide_index=True, key=f"{prefix}_csv_errors")
    rows = table.rows
    if rows.empty:
        st.error("The table has no valid rows.")
        return None
    options = list(rows.index)

    def label(index: int) -> str:
        row = rows.loc[index]
        date = pd.Timestamp(row["study_date"]).date()
        return f"{synthetic_label(row.get('synthetic'))}row {index} · {row['patient_id']} · {date}"

    chosen = st.selectbox("Row to use", options, key=f"{prefix}_csv_row", format_func=label)
    record = {key: _plain(value) for key, value in rows.loc[chosen].to_dict().items()}
    if isinstance(record.get("study_date"), pd.Timestamp):
        record["study_date"] = record["study_date"].date()
    return record


def _plain(value: object) -> object:
    """NaN/NaT -> None, numpy scalars -> Python, whole floats stay floats."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):
        return value.item()
    return value
