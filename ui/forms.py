"""Clinical input: a form generated from the clinical table's schema, or one row of an
uploaded clinical CSV / Excel file.

Both return the validated record of :func:`core.clinical.validate_clinical` (every
cohort column, typed; ``None`` = not recorded). Widget keys are ``<prefix>_<column>``
(``newcase_<column>``) so browser tests can drive them.

The form's fields are the clinical columns of the schema (:data:`ui.inputs.CLINICAL_INPUTS`,
from :data:`core.clinical.CLINICAL_COLUMNS`), never the model's features, which
:func:`core.features.features_from_case` derives from them: patient and study, the recorded
VAS, ECOG, today's analgesic step ("current regimen"), prior spine radiotherapy, a
bone-modifying agent, pathologic fracture, the neurologic deficit in three states,
neuropathic pain, the six SINS parts with the calculator's labels (or a total) and the
Bilsky grade. A column added to the schema appears on the form (in the last section
unless :data:`FORM_SECTIONS` places it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd
import streamlit as st

from core.clinical import (
    DEFAULT_PRIMARY_TUMOR,
    EARLIEST_STUDY_DATE,
    MAX_AGE,
    SINS_COMPONENTS,
    load_clinical_table,
    validate_clinical,
)
from core.vocab import NOT_RECORDED, SINS_MAX, radiosensitivity, yes_no
from ui.components import show_error, synthetic_label
from ui.inputs import (
    CLINICAL_INPUTS,
    IDENTITY_INPUTS,
    INPUTS_BY_COLUMN,
    NOT_ASSESSED,
    InputSpec,
    values_summary,
)
from ui.session import KEEP, default_widget

#: Patient ID of a case that is predicted but not saved.
UNSAVED_ID = "UNSAVED"

#: Optional choices start empty and show "not recorded" (a value of None). An explicit
#: None option showed as an empty "Choose an option" box once its value was restored
#: after a page switch; the placeholder reads the same in both cases. The clear button
#: of the box returns a choice to "not recorded".
OPTIONAL: dict[str, Any] = {"index": None, "placeholder": NOT_RECORDED}

#: The form's three columns: title and the schema columns they hold, in order.
FORM_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Patient and study", ("patient_id", "study_date", "age", "sex", "primary_tumor",
                           "ecog", "vas")),
    ("Treatment and findings", ("analgesic_step", "bone_modifying_agent",
                                "prior_radiotherapy", "pathologic_fracture",
                                "neurologic_deficit", "neuropathic_pain", "bilsky_grade")),
    ("Spinal stability: SINS (Fisher 2010)", (*SINS_COMPONENTS, "sins_total")),
)
#: Sections whose inputs open from a button inside their column (a popover: its widgets
#: are drawn in the browser only when it is opened; 0.13 s off every switch to New case,
#: measured), the values in use named below it, as on What-if: title -> button label.
POPOVER_SECTIONS: Mapping[str, str] = MappingProxyType(
    {FORM_SECTIONS[2][0]: "SINS parts and total"})


def form_sections() -> tuple[tuple[str, tuple[InputSpec, ...]], ...]:
    """The form's sections with their inputs: every identity and clinical input once (a
    schema column :data:`FORM_SECTIONS` does not place goes to the last section)."""
    placed = {c for _, columns in FORM_SECTIONS for c in columns}
    rest = tuple(s for s in (*IDENTITY_INPUTS, *CLINICAL_INPUTS) if s.column not in placed)
    sections = [(title, tuple(INPUTS_BY_COLUMN[c] for c in columns))
                for title, columns in FORM_SECTIONS]
    title, specs = sections[-1]
    sections[-1] = (title, specs + rest)
    return tuple(sections)


def _form_widget(spec: InputSpec, key: str, today: dt.date) -> Any:
    """The form input of one column (by its kind)."""
    common: dict[str, Any] = {"key": key, "persist_state": KEEP}
    if spec.help:
        common["help"] = spec.help
    kind, label = spec.kind, spec.label
    if kind == "text":
        return st.text_input(label, placeholder="e.g. SITE-0042", **common)
    if kind == "date":
        return st.date_input(label, min_value=EARLIEST_STUDY_DATE, max_value=today,
                             format="YYYY-MM-DD", **common)
    if kind == "age":
        return st.number_input(label, min_value=18, max_value=MAX_AGE, value=None, step=1,
                               **common)
    if kind == "vas":
        return st.number_input(f"{label} (optional)", min_value=0.0, max_value=10.0,
                               value=None, step=0.5, **common)
    if kind == "tumor":
        return st.text_input(label, **common)
    if kind == "sins_total":
        return st.number_input(label, min_value=0, max_value=SINS_MAX, value=None, step=1,
                               **common)
    if kind == "yes_no":
        return st.selectbox(label, (False, True), format_func=yes_no, **common, **OPTIONAL)
    if kind == "sins_part":
        return st.selectbox(label, tuple(spec.choices), format_func=spec.choices.get,
                            index=None, placeholder=NOT_ASSESSED, **common)
    if kind in ("ordinal", "deficit", "bilsky", "sex"):
        return st.selectbox(label, tuple(spec.choices), format_func=spec.choices.get,
                            **common, **OPTIONAL)
    raise ValueError(f"input {spec.column} has kind {kind!r}, which the clinical form "
                     "cannot show.")


def _section(title: str, specs: tuple[InputSpec, ...], k: str, today: dt.date
             ) -> dict[str, Any]:
    """One section of the form (in its column); returns its values by column. A section of
    :data:`POPOVER_SECTIONS` opens from a button; the values in use (the form's last
    submission: a form sends its values only then) are named below it."""
    st.markdown(f"**{title}**")
    if title not in POPOVER_SECTIONS:
        return {spec.column: _form_widget(spec, f"{k}_{spec.column}", today) for spec in specs}
    with st.popover(POPOVER_SECTIONS[title], icon=":material/edit:", width="stretch",
                    help="Open to record them; they apply with the form's button."):
        values = {spec.column: _form_widget(spec, f"{k}_{spec.column}", today)
                  for spec in specs}
    st.caption(f"In use: {values_summary(specs, values)}")
    return values


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    record["patient_id"] = (record.get("patient_id") or "").strip() or UNSAVED_ID
    record["primary_tumor"] = (record.get("primary_tumor") or "").strip().lower() or None
    return record


def clinical_form(prefix: str = "newcase") -> dict[str, Any] | None:
    """The clinical form; returns the validated record when submitted, else None.

    Keys: ``<prefix>_<column>`` for every column of :func:`form_sections` (``_patient_id``,
    ``_study_date``, ``_age``, ``_sex``, ``_primary_tumor``, ``_vas``, ``_ecog``,
    ``_analgesic_step``, the yes/no findings, ``_neurologic_deficit`` (none / stable /
    new_or_progressive), ``_sins_location`` ... ``_sins_posterolateral``, ``_sins_total``,
    ``_bilsky_grade``); submit button ``<prefix>_clinical_submit``.
    """
    k = prefix
    today = dt.date.today()
    # Initial values through the session (not ``value=``): the widgets keep their
    # values across page switches (persist_state) and a restored value must not clash.
    default_widget(f"{k}_study_date", today)
    default_widget(f"{k}_primary_tumor", DEFAULT_PRIMARY_TUMOR)
    record: dict[str, Any] = {}
    with st.form(f"{k}_clinical_form", border=True):
        sections = form_sections()
        for (title, specs), column in zip(sections, st.columns(len(sections)), strict=True):
            with column:
                record.update(_section(title, specs, k, today))
        st.caption("Only a **new or progressive** neurologic deficit takes the same-day MSCC "
                   "pathway. Today's regimen, prior radiotherapy, a bone-modifying agent, "
                   "neuropathic pain, the SINS pain part and the recorded VAS shape the "
                   "advice; the model never reads them (treatment follows pain). Primary "
                   "tumour: NOMS radiosensitivity "
                   f"({radiosensitivity(st.session_state.get(f'{k}_primary_tumor'))}).")
        submitted = st.form_submit_button("Use these clinical findings", type="primary",
                                          key=f"{k}_clinical_submit")
    if not submitted:
        return None
    try:
        return validate_clinical(_clean(record), require_vas=False, placeholder_id=UNSAVED_ID)
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
    for warning in table.warnings:  # e.g. an old yes/no neurologic deficit, with its rows
        st.warning(warning, icon=":material/info:")
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
