"""The Import cohort page's steps: template, bulk validation with progress, the problems
table in value-free wording, the import with progress and its summary.

The page (``pages/import_cohort.py``) holds the widgets; this module reads and writes
through the public API of :mod:`core.clinical` and :class:`core.store.CaseStore`, as
``python -m core import-cohort FILE [--valid-rows-only]`` does: validate the whole file
first (:func:`core.clinical.bulk_tables.load_clinical_table_bulk`), import nothing
when a row is invalid unless the user asks for the valid rows only, then one
all-or-nothing :meth:`~core.store.CaseStore.import_cohort` audited ``import`` under the
session's name (:func:`ui.session.actor`), which also scores the imported studies with
the session's model.

Problems are shown without the cell's value: a file may hold identifying data in the
wrong column, so a message names the row, the column and what the column accepts
(:func:`problem_text`), never what was typed.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from core.clinical import (
    COHORT_COLUMNS,
    COLUMN_SPECS,
    ID_PATTERN_ENV,
    MAX_TABLE_BYTES,
    ROW_COLUMN,
    ClinicalImport,
    RowError,
    ValidatedCohort,
    export_csv,
    id_pattern,
)
from core.clinical.bulk_tables import load_clinical_table_bulk
from core.provenance import sha256_bytes
from ui import components, session
from ui.progress import progress_bar

#: Largest accepted upload (MB): core's table limit, below the server's upload limit.
MAX_UPLOAD_MB = MAX_TABLE_BYTES // 2**20
TEMPLATE_NAME = "cohort_template.csv"
#: Session keys of the page's state (the validated upload and the last import).
CHECKED_KEY = "import_checked"
RESULT_KEY = "import_result"

#: Characters that Streamlit's Markdown would read as markup (links, images, emphasis,
#: HTML, ``:material/...:`` icons and ``:red[...]`` colours); escaped in file names and
#: in sentences that quote a header.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+!|~$:=-])")


def plain(text: object) -> str:
    """``text`` shown literally in Markdown (every markup character escaped)."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def show_error(exc: BaseException, prefix: str = "") -> None:
    """One plain sentence (:func:`ui.components.plain_sentence`), shown literally: a
    file's name or header is never read as Markdown."""
    text = plain(components.plain_sentence(exc))
    st.error(f"{prefix} {text}" if prefix else text, icon=":material/warning:")


def run_safely(func: Any, *args: Any, prefix: str = "", **kwargs: Any) -> Any:
    """``func(*args, **kwargs)``; a user error (``ValueError``, ``FileNotFoundError``)
    becomes one literal sentence after ``prefix`` and ``None``."""
    try:
        return func(*args, **kwargs)
    except components.USER_ERRORS as exc:
        show_error(exc, prefix)
        return None


# ------------------------------------------------------------------ template and schema

_REQUIRED_TEXT = {"value": "column and a value in every row",
                  "column": "column (blank cell = not recorded)",
                  "no": "optional"}


def template_csv() -> bytes:
    """A header-only cohort table: every column of :data:`core.clinical.COHORT_COLUMNS`
    in the order of ``data/demo/cohort.csv``, no rows."""
    return export_csv(pd.DataFrame(columns=list(COHORT_COLUMNS)))


def schema_frame() -> pd.DataFrame:
    """The documented columns (:data:`core.clinical.COLUMN_SPECS`): column, what is
    required, accepted values."""
    return pd.DataFrame([{"Column": s.name, "Required": _REQUIRED_TEXT.get(s.required, s.required),
                          "Accepted values": s.accepted} for s in COLUMN_SPECS])


def accepted_values(column: str) -> str:
    """What ``column`` accepts (the schema's wording), empty for an unknown column."""
    return next((s.accepted for s in COLUMN_SPECS if s.name == column), "")


def check_id_rule() -> None:
    """Raise the one sentence of :func:`core.clinical.id_pattern` when the site's
    pseudonym rule (``SPINEPAIN_ID_PATTERN``) is not a valid regular expression."""
    id_pattern()


def id_rule_text() -> str:
    """One line on the patient codes this site accepts."""
    if os.environ.get(ID_PATTERN_ENV, "").strip():
        return (f"Patient IDs must match this site's pseudonym rule ({ID_PATTERN_ENV}); "
                "names, dates and record or phone numbers are always refused.")
    return (f"Patient IDs: {accepted_values('patient_id')}; names, dates and record or "
            "phone numbers are refused.")


# ------------------------------------------------------------------ problem wording

#: A value as :func:`core.vocab.quote_value` writes it at the start of a message: text
#: in quotes (Python ``repr``), else one token without spaces (number, date, TRUE).
_VALUE = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)"""
_NUMBER = r"[-+0-9.eE]+"
_ROWS = r"[0-9][0-9, ]*"

#: Messages of :mod:`core.clinical` that carry values, and their value-free wording.
_WORDING: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), text) for pattern, text in (
        (rf"{_NUMBER} does not equal the sum of the SINS components \({_NUMBER}\)",
         "The SINS total does not equal the sum of the six SINS components."),
        (rf"{_NUMBER} cannot be reached with the given SINS components \(possible .*\)",
         "The SINS total cannot be reached with the SINS components given in this row."),
        (rf"{_NUMBER} does not equal the sum of the regional lesion counts \({_NUMBER}\)",
         "The lesion count does not equal the sum of the regional lesion counts."),
        (rf"{_NUMBER} is below the sum of the given regional lesion counts \({_NUMBER}\)",
         "The lesion count is below the sum of the regional lesion counts given."),
        (rf"{_NUMBER} is inconsistent with lesion_count {_NUMBER} \(every involved level "
         r"holds at least one lesion\)",
         "The number of involved levels does not fit the lesion count (every involved "
         "level holds at least one lesion)."),
        (rf"{_NUMBER} is below high_intensity_ratio \({_NUMBER}\); the worst level cannot "
         r"be below the overall ratio",
         "The worst level's HI ratio is below the overall HI ratio; it cannot be."),
        (rf".* is duplicated \(also rows? (?P<rows>{_ROWS})\)",
         "Same patient and study date as row {rows}; every study must appear once."),
        (rf"{_VALUE} differs from row (?P<row>[0-9]+) of the same patient \(.*\)",
         "Differs from row {row} of the same patient; sex, primary tumour and the "
         "synthetic flag must agree over a patient's rows."),
        (r"has (?P<n>[0-9]+) cells but the header has (?P<m>[0-9]+)",
         "The row has {n} cells but the header has {m}."),
        (r"required value is missing", "A value is required in this column."),
    ))
#: A message that starts with the quoted value and then says what is wrong.
_LEADING_VALUE = re.compile(rf"{_VALUE} (?P<rest>(?:is|has) .+)", re.DOTALL)
#: Messages without a value: the patient-ID rules ("is ...", "looks ...").
_VALUE_FREE = re.compile(r"(?:is|looks) .+", re.DOTALL)


def problem_text(column: str, reason: str) -> str:
    """A :class:`core.clinical.RowError` reason in clinical wording without the cell's
    value (nor another row's values): known cross-column and cross-row messages are
    reworded, ``'<value>' is not ...`` keeps what follows the value, and anything else
    falls back to what the column accepts."""
    reason = str(reason).strip().rstrip(".")
    for pattern, text in _WORDING:
        match = pattern.fullmatch(reason)
        if match:
            return text.format(**match.groupdict())
    noun = "The code" if column == "patient_id" else "The value"
    if column == "patient_id" and _VALUE_FREE.fullmatch(reason):
        return f"{noun} {reason}."
    match = _LEADING_VALUE.fullmatch(reason)
    if match:
        return f"{noun} {match['rest']}."
    accepted = accepted_values(column)
    return f"{noun} is not accepted" + (f"; expected {accepted}." if accepted else ".")


def problem_frame(errors: Iterable[RowError]) -> pd.DataFrame:
    """The problems as a table: spreadsheet row, column, problem (value-free), what the
    column accepts."""
    rows = [{"Row": int(e.row),
             "Column": "whole row" if e.column == ROW_COLUMN else e.column,
             "Problem": problem_text(e.column, e.reason),
             "Accepted values": accepted_values(e.column)} for e in errors]
    return pd.DataFrame(rows, columns=["Row", "Column", "Problem", "Accepted values"])


def problems_csv(problems: pd.DataFrame) -> bytes:
    """The problems table as a spreadsheet-safe CSV (:func:`core.clinical.export_csv`)."""
    return export_csv(problems)


# ------------------------------------------------------------------ validation


@dataclass(frozen=True)
class CheckedUpload:
    """An uploaded table after validation: which file, what was found, how long it took."""

    sha256: str
    name: str
    table: ClinicalImport
    seconds: float

    @property
    def synthetic_rows(self) -> int:
        rows = self.table.rows
        return int(rows["synthetic"].sum()) if len(rows) and "synthetic" in rows else 0


def validate_upload(data: bytes, name: str) -> CheckedUpload:
    """Validate an uploaded table in bulk with a progress bar, once per file content
    (kept in the session; a rerun shows the same result without reading it again).

    Raises ``ValueError`` (one sentence) for a file no row of which can be trusted
    (unreadable, too large, empty, missing or unknown columns) or an invalid site
    pseudonym rule.
    """
    digest = sha256_bytes(data)
    checked = st.session_state.get(CHECKED_KEY)
    if isinstance(checked, CheckedUpload) and checked.sha256 == digest and checked.name == name:
        return checked
    st.session_state.pop(CHECKED_KEY, None)
    check_id_rule()
    started = time.perf_counter()
    table = load_clinical_table_bulk(data, name, progress=progress_bar("Validating", "rows"))
    checked = CheckedUpload(digest, name, table, round(time.perf_counter() - started, 2))
    st.session_state[CHECKED_KEY] = checked
    return checked


def rows_to_import(checked: CheckedUpload, *, valid_rows_only: bool) -> pd.DataFrame:
    """The rows to import: all of them when every row is valid, the valid ones when the
    user asked for that; otherwise ``ValueError`` (the CLI's sentence)."""
    table = checked.table
    if table.errors and not valid_rows_only:
        raise ValueError(
            f"{checked.name} has {len(table.errors)} invalid value(s) in "
            f"{len(table.invalid_rows)} row(s); nothing was imported (tick 'Import the "
            "valid rows only' to import the valid rows).")
    if table.rows.empty:
        raise ValueError(f"{checked.name} has no valid rows; nothing was imported.")
    return table.rows


def store_rows(checked: CheckedUpload, rows: pd.DataFrame) -> pd.DataFrame | ValidatedCohort:
    """What goes to the store: the loader's validated rows (not validated again, as the
    CLI does) when ``rows`` are exactly them, else the frame (validated by the store)."""
    validated = checked.table.validated
    return validated if validated is not None and validated.frame is rows else rows


def render_validation(checked: CheckedUpload) -> None:
    """The validation report: counts, the SYNTHETIC mark, the problems (value-free, with
    a CSV download) and the file's warnings."""
    table = checked.table
    st.subheader("Validation")
    m = st.columns(4)
    m[0].metric("Rows read", f"{table.n_rows:,}")
    m[1].metric("Valid rows", f"{len(table.rows):,}")
    m[2].metric("Rows with problems", f"{len(table.invalid_rows):,}")
    m[3].metric("Problems", f"{len(table.errors):,}")
    st.caption(f"{plain(checked.name)}: {table.n_rows:,} rows validated in {checked.seconds:g} s.")
    if checked.synthetic_rows:
        components.synthetic_badge(True, f"{checked.synthetic_rows:,} of {len(table.rows):,} "
                                         "valid rows are synthetic")
    if table.errors:
        st.error(f"{len(table.errors):,} invalid value(s) in {len(table.invalid_rows):,} "
                 "row(s). Nothing is imported unless you choose to import the valid rows "
                 "only; or fix the file and upload it again.", icon=":material/rule:")
        problems = problem_frame(table.errors)
        st.dataframe(problems, hide_index=True, key="import_problems")
        st.download_button("Download the problems (CSV)", problems_csv(problems),
                           file_name="import_problems.csv", mime="text/csv",
                           key="import_problems_csv")
    else:
        st.success("Every row is valid.", icon=":material/check:")
    for warning in table.warnings:
        st.warning(warning)


# ------------------------------------------------------------------ import


def import_rows(checked: CheckedUpload, rows: pd.DataFrame) -> dict[str, Any]:
    """Import ``rows`` into the store, all or nothing, with a progress bar, then start
    scoring the studies without a score of the session's model in the background
    (:func:`ui.rescoring.start_rescore`: the imported ones, and any other), so a
    scoring problem never makes a committed import look failed.

    Returns :meth:`core.store.CaseStore.import_cohort`'s summary plus ``rows_skipped``
    (invalid rows left out), ``patients`` (distinct patients in the imported rows),
    ``seconds``, ``file`` (the upload's SHA-256) and ``scoring``: the model version being
    scored, or ``scoring_error`` when the model could not be loaded (the rows are
    imported unscored then). Raises ``ValueError`` (one sentence) when the store refuses
    the rows (e.g. a study already stored); nothing is written then.
    """
    from ui.rescoring import active_model, start_rescore  # lazy: the model stack is heavy
    from ui.stores import get_store

    store = get_store()
    started = time.perf_counter()
    summary = dict(store.import_cohort(store_rows(checked, rows), source=checked.name,
                                       actor=session.actor(),
                                       progress=progress_bar("Importing", "rows")))
    summary.update(rows_skipped=len(checked.table.invalid_rows),
                   patients=int(rows["patient_id"].nunique()),
                   seconds=round(time.perf_counter() - started, 2), file=checked.sha256)
    model, model_error = active_model()
    if model is None:
        summary["scoring_error"] = model_error
    else:
        start_rescore(store, model)
        summary["scoring"] = model.version
    st.session_state[RESULT_KEY] = summary
    return summary


def last_result(checked: CheckedUpload) -> dict[str, Any] | None:
    """The summary of this session's import of this very file, if it was imported."""
    result = st.session_state.get(RESULT_KEY)
    if isinstance(result, Mapping) and result.get("file") == checked.sha256:
        return dict(result)
    return None


def render_summary(summary: Mapping[str, Any]) -> None:
    """What the import did: rows, patients, studies, seconds, warnings and scores."""
    st.success(f"Imported {summary.get('rows', 0):,} rows from {plain(summary.get('source', ''))}.",
               icon=":material/check_circle:")
    m = st.columns(5)
    m[0].metric("Rows imported", f"{summary.get('rows', 0):,}")
    m[1].metric("Patients", f"{summary.get('patients', 0):,}",
                help="Distinct patients in the imported rows.")
    m[2].metric("New patients", f"{summary.get('patients_added', 0):,}")
    m[3].metric("Studies added", f"{summary.get('studies_added', 0):,}")
    m[4].metric("Seconds", f"{summary.get('seconds', 0):g}")
    if summary.get("rows_skipped"):
        st.caption(f"{summary['rows_skipped']:,} invalid row(s) were left out.")
    for warning in summary.get("warnings") or []:
        st.warning(str(warning))
    if summary.get("scoring"):
        st.info(f"The imported studies are scored with model {summary['scoring']} in the "
                "background and their scores stored (progress under Stored scores below).",
                icon=":material/query_stats:")
    elif summary.get("scoring_error"):
        st.warning(f"The imported studies were not scored: {summary['scoring_error']}")
