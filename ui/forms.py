"""Clinical input: a form generated from the feature registry, or one row of an uploaded
clinical CSV / Excel file.

Both return the validated record of :func:`core.clinical.validate_clinical` (every
cohort column, typed; ``None`` = not recorded). Widget keys start with the given prefix
(``newcase_<column>``) so browser tests can drive them.

The model's clinical inputs come from :data:`core.features.FEATURES` (label, help and
which widget: ``age``, ``choice`` with its labelled choices, ``yes_no``, ``bilsky``,
``sins_total``): a new clinical feature appears on the form without touching this module.
The other fields are the study's identity, the recorded VAS, the yes/no findings of
:data:`core.clinical.BOOL_COLUMNS` that are not model features, and the SINS components
(:data:`core.vocab.SINS_CHOICES`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from core.clinical import (
    BOOL_COLUMNS,
    DEFAULT_PRIMARY_TUMOR,
    EARLIEST_STUDY_DATE,
    MAX_AGE,
    load_clinical_table,
    validate_clinical,
)
from core.features import FEATURES, FEATURES_BY_NAME, FeatureSpec
from core.report.document import field_label
from core.vocab import (
    BILSKY_GRADES,
    NOT_RECORDED,
    SEXES,
    SINS_CHOICES,
    SINS_MAX,
    SINS_TITLES,
    yes_no,
)
from ui.components import show_error, synthetic_label
from ui.session import KEEP, default_widget

#: Patient ID of a case that is predicted but not saved.
UNSAVED_ID = "UNSAVED"

#: Optional choices start empty and show "not recorded" (a value of None). An explicit
#: None option showed as an empty "Choose an option" box once its value was restored
#: after a page switch; the placeholder reads the same in both cases. The clear button
#: of the box returns a choice to "not recorded".
OPTIONAL: dict[str, Any] = {"index": None, "placeholder": NOT_RECORDED}

#: Form columns of the registry's clinical widgets (``sins_total`` ends the SINS column).
STATUS_WIDGETS = ("choice", "yes_no", "bilsky")


def form_features(*widgets: str) -> tuple[FeatureSpec, ...]:
    """Clinical model features edited on the form with one of ``widgets``, in registry order."""
    return tuple(f for f in FEATURES if f.group == "clinical" and not f.derived
                 and f.widget in widgets)


def _feature_widget(spec: FeatureSpec, key: str) -> Any:
    """The form input of one clinical feature (by its registry ``widget``)."""
    common: dict[str, Any] = {"key": key, "persist_state": KEEP, "help": spec.description}
    if spec.widget == "age":
        return st.number_input(f"{spec.label} (years; {MAX_AGE} = {MAX_AGE} or older)",
                               min_value=int(spec.min_value), max_value=MAX_AGE, value=None,
                               step=1, **common)
    if spec.widget == "sins_total":
        common["help"] = f"{spec.description} Computed from the six parts when all are given."
        return st.number_input(f"{spec.label} (when the parts are not known)", min_value=0,
                               max_value=SINS_MAX, value=None, step=1, **common)
    if spec.widget == "choice":
        return st.selectbox(spec.label, tuple(spec.choices), format_func=spec.choices.get,
                            **common, **OPTIONAL)
    if spec.widget == "yes_no":
        return st.selectbox(spec.label, (False, True), format_func=yes_no, **common, **OPTIONAL)
    if spec.widget == "bilsky":
        return st.selectbox(spec.label, BILSKY_GRADES, **common, **OPTIONAL)
    raise ValueError(f"feature {spec.name} has widget {spec.widget!r}, which the clinical "
                     "form cannot show.")


def _patient_column(k: str, today: dt.date) -> dict[str, Any]:
    st.markdown("**Patient and study**")
    values: dict[str, Any] = {}
    values["patient_id"] = st.text_input(
        "Pseudonymous patient ID", key=f"{k}_patient_id", persist_state=KEEP,
        placeholder="e.g. SITE-0042",
        help="Letters, digits, '.', '_' or '-'. Never a name, record number or birth "
             "date. Needed only to save the case.")
    values["study_date"] = st.date_input(
        "Study date", key=f"{k}_study_date", persist_state=KEEP,
        min_value=EARLIEST_STUDY_DATE, max_value=today, format="YYYY-MM-DD")
    for spec in form_features("age"):
        values[spec.name] = _feature_widget(spec, f"{k}_{spec.name}")
    values["sex"] = st.selectbox("Sex", SEXES, key=f"{k}_sex", persist_state=KEEP, **OPTIONAL)
    values["primary_tumor"] = st.text_input("Primary tumour", key=f"{k}_primary_tumor",
                                            persist_state=KEEP)
    values["vas"] = st.number_input(
        "Recorded pain VAS 0-10 (optional)", min_value=0.0, max_value=10.0, value=None,
        step=0.5, key=f"{k}_vas", persist_state=KEEP,
        help="Worst pain in the last 24 h. Not a model input; stored for follow-up and "
             "training.")
    return values


def _status_column(k: str) -> dict[str, Any]:
    st.markdown("**Clinical status**")
    values = {spec.name: _feature_widget(spec, f"{k}_{spec.name}")
              for spec in form_features(*STATUS_WIDGETS)}
    for name in (c for c in BOOL_COLUMNS if c not in FEATURES_BY_NAME):
        values[name] = st.selectbox(field_label(name), (False, True), key=f"{k}_{name}",
                                    persist_state=KEEP, format_func=yes_no, **OPTIONAL)
    return values


def _sins_column(k: str) -> dict[str, Any]:
    st.markdown("**SINS (Fisher 2010)**")
    values: dict[str, Any] = {}
    for name, choices in SINS_CHOICES.items():
        values[name] = st.selectbox(
            SINS_TITLES[name], tuple(choices), key=f"{k}_{name}", persist_state=KEEP,
            format_func=choices.get, index=None, placeholder="not assessed")
    for spec in form_features("sins_total"):
        values[spec.name] = _feature_widget(spec, f"{k}_{spec.name}")
    return values


def clinical_form(prefix: str = "newcase") -> dict[str, Any] | None:
    """The clinical form; returns the validated record when submitted, else None.

    Keys: ``<prefix>_<column>`` for every field (``_patient_id``, ``_study_date``,
    ``_age``, ``_sex``, ``_primary_tumor``, ``_vas``, the clinical features, the yes/no
    findings, ``_sins_location`` ... ``_sins_posterolateral``, ``_sins_total``,
    ``_bilsky_grade``); submit button ``<prefix>_clinical_submit``.
    """
    k = prefix
    today = dt.date.today()
    # Initial values through the session (not ``value=``): the widgets keep their
    # values across page switches (persist_state) and a restored value must not clash.
    default_widget(f"{k}_study_date", today)
    default_widget(f"{k}_primary_tumor", DEFAULT_PRIMARY_TUMOR)
    with st.form(f"{k}_clinical_form", border=True):
        c1, c2, c3 = st.columns(3)
        with c1:
            record = _patient_column(k, today)
        with c2:
            record.update(_status_column(k))
        with c3:
            record.update(_sins_column(k))
        submitted = st.form_submit_button("Use these clinical findings", type="primary",
                                          key=f"{k}_clinical_submit")
    if not submitted:
        return None
    record["patient_id"] = (record["patient_id"] or "").strip() or UNSAVED_ID
    record["primary_tumor"] = (record["primary_tumor"] or "").strip().lower() or None
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

    def label(index: int) -> str:
        row = rows.loc[index]
        date = pd.Timestamp(row["study_date"]).date()
        return f"{synthetic_label(row.get('synthetic'))}row {index} · {row['patient_id']} · {date}"

    chosen = st.selectbox("Row to use", list(rows.index), key=f"{prefix}_csv_row",
                          format_func=label)
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
