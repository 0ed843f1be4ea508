"""AppTests of the Import cohort page and the "Rescore stored studies" control.

Each test runs the app on an empty store of its own (a temporary data directory), so
what it imports is all the store holds; the model is ``models/demo``.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.clinical import COHORT_COLUMNS, RowError, load_clinical_table
from tests.conftest import app_env
from tests.test_app_pages import assert_ok, open_path
from ui import importing

REPO = Path(__file__).resolve().parents[1]
PAGE = "pages/import_cohort.py"
COHORT = REPO / "data" / "demo" / "cohort.csv"
N_ROWS = 30


@pytest.fixture()
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app on an empty store in this test's data directory."""
    with app_env(data_dir, monkeypatch) as folder:
        yield folder


def cohort(n: int = N_ROWS) -> pd.DataFrame:
    """The first ``n`` rows of the demo cohort, every cell as text."""
    return pd.read_csv(COHORT, dtype=str, keep_default_na=False).head(n)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def store():
    from core.store import CaseStore

    return CaseStore()


def open_import(path: str = PAGE) -> AppTest:
    return open_path(path)


def upload(at: AppTest, data: bytes, name: str = "site.csv") -> AppTest:
    at.file_uploader(key="import_file").set_value((name, data, "text/csv")).run()
    assert_ok(at)
    return at


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"metric {label!r} not shown; have {[m.label for m in at.metric]}")


def texts(at: AppTest, kind: str) -> list[str]:
    """The messages of one kind, as read on screen (Markdown escapes removed)."""
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in getattr(at, kind)]


def progress_texts(at: AppTest) -> list[str]:
    return [p.proto.text for p in at.get("progress")]


def rerun_until(at: AppTest, done: Callable[[], bool], timeout_s: float = 60) -> list[str]:
    """Run the page again until ``done()`` (a background job finished); the success
    messages then."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the background job did not finish in time"
        time.sleep(0.3)
        at.run()
        assert_ok(at)
    return texts(at, "success")


def problems_table(at: AppTest) -> pd.DataFrame:
    for df in at.dataframe:
        if "Problem" in df.value.columns:
            return df.value
    raise AssertionError("no problems table on the page")


def bad_cohort() -> tuple[pd.DataFrame, dict[int, set[str]]]:
    """The demo rows with bad cells (a formula, a name as ID, impossible values); the
    spreadsheet rows and columns that must be reported."""
    frame = cohort()
    frame.loc[2, "vas"] = "=HYPERLINK(\"http://x\",\"7\")"  # row 4
    frame.loc[5, "patient_id"] = "John.Smith"  # row 7
    frame.loc[9, "age"] = "abc"  # row 11
    frame.loc[9, "ecog"] = "9"
    frame.loc[12, "study_date"] = "2024-13-40"  # row 14
    return frame, {4: {"vas"}, 7: {"patient_id"}, 11: {"age", "ecog"}, 14: {"study_date"}}


# ------------------------------------------------------------------------ the page


def test_import_page_launches_with_template_and_schema(env: Path) -> None:
    at = open_import()
    assert [t.value for t in at.title] == ["Import cohort"]
    assert not at.error, texts(at, "error")
    schema = next(df.value for df in at.dataframe if "Accepted values" in df.value.columns)
    assert list(schema["Column"]) == [c for c in COHORT_COLUMNS if c in set(schema["Column"])]
    assert set(schema["Column"]) == set(COHORT_COLUMNS)
    template = importing.template_csv().decode()
    assert template.strip() == ",".join(COHORT_COLUMNS)
    assert any(c.startswith("Patient IDs: pseudonymous code") for c in texts(at, "caption"))
    # Nothing imported yet: the store is empty and the rescore control has nothing to do.
    assert "The store has no studies yet." in texts(at, "info")
    assert at.button(key="import_rescore").disabled


def test_valid_table_imports_with_progress_and_summary(env: Path) -> None:
    frame = cohort()
    at = upload(open_import(), csv_bytes(frame))
    assert metric(at, "Rows read") == str(N_ROWS)
    assert metric(at, "Valid rows") == str(N_ROWS)
    assert metric(at, "Problems") == "0"
    assert "Every row is valid." in texts(at, "success")
    assert f"Validating: {N_ROWS} of {N_ROWS} rows" in progress_texts(at)
    assert not at.checkbox(key="import_valid_only").value
    assert store().counts()["studies"] == 0  # validation writes nothing

    at.sidebar.text_input(key="sidebar_actor").input("dr-import").run()
    at.button(key="import_button").click().run()
    assert_ok(at)
    assert not at.error, texts(at, "error")
    patients = frame["patient_id"].nunique()
    assert metric(at, "Rows imported") == str(N_ROWS)
    assert metric(at, "Patients") == str(patients)
    assert metric(at, "New patients") == str(patients)
    assert metric(at, "Studies added") == str(N_ROWS)
    assert float(metric(at, "Seconds")) > 0
    assert f"Importing: {N_ROWS} of {N_ROWS} rows" in progress_texts(at)
    assert any("imported studies are scored with model" in t for t in texts(at, "info"))
    # The scores are computed in the background; a later run shows them done.
    finished = rerun_until(at, lambda: any(t.startswith("Scoring started at")
                                           for t in texts(at, "success")))
    assert any(f"scored {N_ROWS} studies with model" in t for t in finished)
    assert any(f"All {N_ROWS} stored studies have stored scores" in t for t in finished)

    with store() as s:
        studies = s.list_studies()
        assert len(studies) == N_ROWS and studies["patient_id"].nunique() == patients
        log = s.audit_log()
        entry = log[log["action"] == "import"].iloc[-1]
        assert entry["actor"] == "dr-import" and entry["target"] == "site.csv"
        from ui.cache import get_model

        status = s.score_status(get_model().version)
        assert status == {**status, "scored": N_ROWS, "unscored": 0}

    # A rerun shows the same summary and offers no second import of the file.
    at.run()
    assert_ok(at)
    assert metric(at, "Rows imported") == str(N_ROWS)
    assert not [b for b in at.button if b.key == "import_button"]
    assert any("was imported in this session" in t for t in texts(at, "info"))


def test_bad_cells_are_listed_without_values_and_nothing_is_imported(env: Path) -> None:
    frame, expected = bad_cohort()
    at = upload(open_import(), csv_bytes(frame))
    problems = problems_table(at)
    found: dict[int, set[str]] = {}
    for row, column in zip(problems["Row"], problems["Column"], strict=True):
        found.setdefault(int(row), set()).add(column)
    assert found == expected
    assert metric(at, "Rows with problems") == str(len(expected))
    assert metric(at, "Valid rows") == str(N_ROWS - len(expected))
    shown = "\n".join([*problems["Problem"], *texts(at, "error")])
    for value in ("HYPERLINK", "John", "Smith", "abc", "2024-13-40", "'9'"):
        assert value not in shown, f"{value!r} shown in a problem"
    by_cell = {(int(r), c): p for r, c, p in
               zip(problems["Row"], problems["Column"], problems["Problem"], strict=True)}
    assert by_cell[(7, "patient_id")].startswith("The code looks like a person's name")
    assert by_cell[(11, "ecog")] == "The value is not a whole number from 0 to 4."
    assert by_cell[(14, "study_date")] == "The value is not a real calendar date."
    assert any("Nothing is imported" in e for e in texts(at, "error"))
    assert at.button(key="import_button").disabled
    assert store().counts()["studies"] == 0

    # Valid rows only: the other rows go in, the bad ones stay out.
    at.checkbox(key="import_valid_only").check().run()
    assert not at.button(key="import_button").disabled
    at.button(key="import_button").click().run()
    assert_ok(at)
    assert metric(at, "Rows imported") == str(N_ROWS - len(expected))
    assert any(f"{len(expected)} invalid row(s) were left out" in c
               for c in texts(at, "caption"))
    studies = store().list_studies()
    assert len(studies) == N_ROWS - len(expected)
    assert "John.Smith" not in set(studies["patient_id"])


def test_a_study_already_stored_is_one_sentence_and_nothing_is_written(env: Path) -> None:
    frame = cohort()
    with store() as s:
        s.import_cohort(load_clinical_table(csv_bytes(frame.tail(1)), "one.csv").rows,
                        source="one.csv", actor="test")
    at = upload(open_import(), csv_bytes(frame))
    at.button(key="import_button").click().run()
    assert_ok(at)
    errors = texts(at, "error")
    assert len(errors) == 1 and errors[0].startswith("Nothing was imported:"), errors
    assert "already has a study" in errors[0]
    assert store().counts()["studies"] == 1


HEADER = ",".join(COHORT_COLUMNS).encode()


@pytest.mark.parametrize(("data", "name", "phrase"), [
    (HEADER + b'\n"P1,' + b"x" * 300_000 + b"\n", "runaway.csv", "has a line longer than"),
    (b"=cmd|' /C calc'!A0,name\nx,y\n", "formula.csv", "has unknown column(s)"),
    (b"patient_id,![x](http://e.vil/p.png)\n1,2\n", "[y](http://e.vil).csv",
     "has unknown column(s)"),
    (b"\x00\x01\x02\xff\xfe binary", "binary.csv", "contains NUL bytes"),
    (b"", "empty.csv", "is empty"),
    (b"PK\x03\x04 not really a workbook", "book.xlsx", "is not a readable .xlsx workbook"),
    (b"patient_id;study_date\n1;2\n", "semi.csv", "looks semicolon-separated"),
])
def test_hostile_file_is_one_plain_sentence(env: Path, data: bytes, name: str,
                                            phrase: str) -> None:
    at = open_import()
    at.file_uploader(key="import_file").set_value((name, data, "text/csv")).run()
    assert_ok(at)
    errors = texts(at, "error")
    assert len(errors) == 1 and errors[0].startswith("The table could not be read:"), errors
    assert phrase in errors[0], errors
    assert "\n" not in errors[0] and "Traceback" not in errors[0]
    raw = str(at.error[0].value)
    assert re.search(r"(?<!\\)[\[\]!]", raw.split(":", 1)[1]) is None, raw
    assert not [b for b in at.button if b.key == "import_button"]


def test_invalid_site_id_rule_is_one_sentence(env: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINEPAIN_ID_PATTERN", "([A-Z")
    at = upload(open_import(), csv_bytes(cohort(3)))
    errors = texts(at, "error")
    assert len(errors) == 1 and "SPINEPAIN_ID_PATTERN is not a valid regular expression" \
        in errors[0], errors
    assert store().counts()["studies"] == 0


def test_site_id_rule_refuses_other_codes(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINEPAIN_ID_PATTERN", r"SITE-\d{4}")
    at = upload(open_import(), csv_bytes(cohort(3)))
    problems = problems_table(at)
    assert set(problems["Column"]) == {"patient_id"}
    assert all("SPINEPAIN_ID_PATTERN" in p for p in problems["Problem"])
    assert any("this site's pseudonym rule" in c for c in texts(at, "caption"))


# ------------------------------------------------------------------------ rescore


@pytest.mark.parametrize("page", [PAGE, "pages/model.py"])
def test_rescore_scores_the_studies_without_scores(env: Path, page: str) -> None:
    frame = cohort()
    with store() as s:
        s.import_cohort(load_clinical_table(csv_bytes(frame), "old.csv").rows,
                        source="old.csv", actor="test")  # imported without a model
    at = open_import(page)
    key = "import_rescore" if page == PAGE else "model_rescore"
    assert any(f"{N_ROWS} of {N_ROWS} stored studies have no stored score" in w
               for w in texts(at, "warning")), texts(at, "warning")
    assert not at.button(key=key).disabled
    at.button(key=key).click().run()
    assert_ok(at)
    # The rescore runs in a thread of the server: its progress, then (a later run) done.
    finished = rerun_until(at, lambda: any(t.startswith("Scoring started at")
                                           for t in texts(at, "success")))
    assert any(f"scored {N_ROWS} studies with model" in t for t in finished)
    assert any(f"All {N_ROWS} stored studies have stored scores" in t for t in finished)
    assert at.button(key=key).disabled  # nothing left to score
    from ui.cache import get_model

    with store() as s:
        status = s.score_status(get_model().version)
        log = s.audit_log()
    assert status["unscored"] == 0 and status["scored"] == N_ROWS
    assert (log["action"] == "predict").any()


# ------------------------------------------------------------------------ wording


def test_problem_wording_never_repeats_a_value() -> None:
    """Every message shape of the validator, reworded without the cell's value."""
    secret = "Smith 1970-01-02"
    cases = [
        ("vas", f"{secret!r} is not a number from 0 to 10 with at most one decimal",
         "The value is not a number from 0 to 10 with at most one decimal."),
        ("age", "'95' is above 90; ages over 89 identify people (HIPAA Safe Harbor), enter "
                "90 for 90 or older", None),
        ("sins_total", "14 does not equal the sum of the SINS components (12)",
         "The SINS total does not equal the sum of the six SINS components."),
        ("sins_total", "17 cannot be reached with the given SINS components (possible 3-9)",
         None),
        ("lesion_count", "4 does not equal the sum of the regional lesion counts (5)", None),
        ("lesion_count", "4 is below the sum of the given regional lesion counts (5)", None),
        ("involved_levels", "6 is inconsistent with lesion_count 3 (every involved level "
                            "holds at least one lesion)", None),
        ("max_level_high_intensity_ratio", "0.12 is below high_intensity_ratio (0.3); the "
                                           "worst level cannot be below the overall ratio",
         None),
        ("study_date", "2024-01-05 for patient P1970 is duplicated (also row 6, 9)",
         "Same patient and study date as row 6, 9; every study must appear once."),
        ("sex", "'F' differs from row 3 of the same patient ('M')", None),
        ("(row)", "has 12 cells but the header has 11",
         "The row has 12 cells but the header has 11."),
        ("vas", "required value is missing", "A value is required in this column."),
        ("patient_id", "looks like a record, phone or national ID number; use a "
                       "pseudonymous code", None),
        ("ecog", f"an unexpected message about {secret}", None),
        ("primary_tumor", f"{secret!r} is a missing-value marker; write the tumour name",
         None),
    ]
    for column, reason, expected in cases:
        text = importing.problem_text(column, reason)
        if expected is not None:
            assert text == expected, (reason, text)
        for value in ("Smith", "1970", "95'", "14", "12)", "(5)", "0.3", "P1970", "'F'",
                      "'M'", "2024-01-05"):
            assert value not in text, (reason, text)
        assert text.endswith(".") and text[0].isupper(), text
    frame = importing.problem_frame([RowError(5, "(row)", "has 3 cells but the header has 4")])
    assert list(frame.columns) == ["Row", "Column", "Problem", "Accepted values"]
    assert frame.iloc[0]["Column"] == "whole row"
    csv = importing.problems_csv(importing.problem_frame(
        [RowError(2, "vas", "'=1+1' is not a number from 0 to 10 with at most one decimal")]))
    assert b"=1+1" not in csv
    assert pd.read_csv(io.BytesIO(csv)).shape == (1, 4)


def test_rescore_runs_in_the_background_and_other_sessions_follow_it(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job is held after it listed the missing studies: its progress shows, the
    button is off in every session, and an import meanwhile gets its studies scored by
    one more pass of the same job."""
    from core.store import CaseStore

    frame = cohort(N_ROWS + 10)
    with store() as s:
        s.import_cohort(load_clinical_table(csv_bytes(frame.head(N_ROWS)), "old.csv").rows,
                        source="old.csv", actor="test")
    gate = threading.Event()
    original = CaseStore.recompute_scores

    def held(self: CaseStore, model: Any, **kwargs: Any) -> dict[str, Any]:
        progress = kwargs["progress"]

        def gated(done: int, total: int) -> None:
            progress(done, total)
            if done == 0:
                assert gate.wait(60)

        return original(self, model, **{**kwargs, "progress": gated})

    monkeypatch.setattr(CaseStore, "recompute_scores", held)
    try:
        at = open_import()
        at.button(key="import_rescore").click().run()
        assert_ok(at)
        running = f"Scoring in the background: 0 of {N_ROWS} studies"
        # the thread lists the missing studies, then holds: wait for it under any load
        rerun_until(at, lambda: running in progress_texts(at))
        assert at.button(key="import_rescore").disabled  # no second job meanwhile
        other = open_import("pages/model.py")  # another session follows the same job
        assert running in progress_texts(other)
        assert other.button(key="model_rescore").disabled
        more = upload(open_import(), csv_bytes(frame.tail(10)), "more.csv")
        more.button(key="import_button").click().run()
        assert_ok(more)
        assert metric(more, "Rows imported") == "10"
        assert running in progress_texts(more)  # the same job, asked for one more pass
    finally:
        gate.set()
    finished = rerun_until(other, lambda: any(t.startswith("Scoring started at")
                                              for t in texts(other, "success")))
    assert any(f"scored {N_ROWS + 10} studies" in t for t in finished), finished
    assert any(f"All {N_ROWS + 10} stored studies have stored scores" in t for t in finished)
    log = store().audit_log()
    assert (log["action"] == "predict").sum() == 2  # one job, two passes


def test_upload_limit_is_cores_table_limit(env: Path) -> None:
    """The uploader refuses files over core's table limit (below the server's own upload
    limit); a larger file that reaches core anyway is one sentence."""
    import tomllib

    from core.clinical import MAX_TABLE_BYTES

    server_mb = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())[
        "server"]["maxUploadSize"]
    at = open_import()
    uploader = at.file_uploader(key="import_file")
    assert uploader.proto.max_upload_size_mb == MAX_TABLE_BYTES // 2**20 <= server_mb
    big = HEADER + b"\n" + b"x" * MAX_TABLE_BYTES
    uploader.set_value(("big.csv", big, "text/csv")).run()
    assert_ok(at)
    errors = texts(at, "error")
    assert errors == [f"The table could not be read: big.csv is larger than "
                      f"{MAX_TABLE_BYTES // 2**20} MB."], errors


def test_a_failed_rescore_is_one_sentence_and_can_be_started_again(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.store import CaseStore

    with store() as s:
        s.import_cohort(load_clinical_table(csv_bytes(cohort()), "old.csv").rows,
                        source="old.csv", actor="test")

    def full(self: CaseStore, model: Any, **kwargs: Any) -> dict[str, Any]:
        kwargs["progress"](0, N_ROWS)
        raise ValueError("the database refused the write for lack of space")

    original = CaseStore.recompute_scores
    monkeypatch.setattr(CaseStore, "recompute_scores", full)
    at = open_import()
    at.button(key="import_rescore").click().run()
    rerun_until(at, lambda: bool(texts(at, "error")))
    errors = texts(at, "error")
    assert len(errors) == 1 and errors[0].startswith("The scoring started at"), errors
    assert f"stopped after 0 of {N_ROWS} studies: the database refused the write for lack " \
           "of space. Rescore again to carry on." in errors[0]
    assert not at.button(key="import_rescore").disabled  # the user may try again
    monkeypatch.setattr(CaseStore, "recompute_scores", original)
    at.button(key="import_rescore").click().run()
    finished = rerun_until(at, lambda: any(t.startswith("Scoring started at")
                                           for t in texts(at, "success")))
    assert any(f"All {N_ROWS} stored studies have stored scores" in t for t in finished)


def test_store_gets_the_loaders_validated_rows_not_a_frame_to_validate_again() -> None:
    """Validate once, at the edge: the page hands the store the loader's
    ``ValidatedCohort`` (as the CLI does), or a frame it does not recognise as such."""
    from core.clinical import ValidatedCohort
    from core.clinical.bulk_tables import load_clinical_table_bulk

    table = load_clinical_table_bulk(csv_bytes(cohort()), "site.csv")
    checked = importing.CheckedUpload("0" * 64, "site.csv", table, 0.1)
    rows = importing.rows_to_import(checked, valid_rows_only=False)
    sent = importing.store_rows(checked, rows)
    assert isinstance(sent, ValidatedCohort) and sent is table.validated
    other = rows.copy()
    assert importing.store_rows(checked, other) is other
