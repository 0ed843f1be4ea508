"""Real-browser test of the Import cohort page: upload a CSV in Debian's Chromium, watch
the validation, import and scoring progress bars complete, and find the rows in the store.

The app runs on an empty store in a temporary folder; screenshots go to
``test-artifacts/browser/import-*.png``. Never skipped (see ``tests/test_browser.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser_support import (
    ARTIFACTS,
    REPO,
    StreamlitServer,
    launched_chromium,
    live_texts,
    new_tab,
    require_chromium,
    running_app,
    screenshot,
    screenshot_on_failure,
)

pytestmark = pytest.mark.browser

TIMEOUT_S = 90.0
N_ROWS = 200


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser-import-data")


@pytest.fixture(scope="module")
def app(empty_store: Path) -> Iterator[StreamlitServer]:
    require_chromium()
    with running_app(empty_store, ARTIFACTS / "streamlit-import.log") as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium(require_chromium()) as instance:
        yield instance


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    with new_tab(browser, TIMEOUT_S) as tab:
        yield tab


def wait_text(page: Page, text: str, what: str, timeout_s: float = TIMEOUT_S) -> None:
    """Wait until ``text`` is on the page; fail at once on an app exception or error."""
    deadline = time.monotonic() + timeout_s
    target = page.get_by_text(text, exact=False)
    while True:
        for testid in ("stException", "stAlertContentError"):
            if shown := live_texts(page, testid):
                pytest.fail(f"The app showed an error while waiting for {what}: "
                            f"{shown[0][:1500]}", pytrace=False)
        try:
            target.first.wait_for(state="visible", timeout=500)
            return
        except PlaywrightTimeout:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not appear within {timeout_s:.0f} s.", pytrace=False)


def progress_texts(page: Page) -> list[str]:
    return [t.strip() for t in
            page.locator('[data-testid="stProgress"]').all_inner_texts()]


def test_upload_a_csv_and_see_validation_import_and_scoring_complete(
    page: Page, app: StreamlitServer, empty_store: Path, tmp_path: Path
) -> None:
    cohort = pd.read_csv(REPO / "data" / "demo" / "cohort.csv", dtype=str,
                         keep_default_na=False).head(N_ROWS)
    table = tmp_path / "site-cohort.csv"
    cohort.to_csv(table, index=False)
    with screenshot_on_failure(page, "import-upload"):
        page.goto(f"{app.url}/import_cohort")
        wait_text(page, "Add a clinical table", "the Import cohort page")
        page.locator(".st-key-import_file input[type=file]").set_input_files(str(table))
        wait_text(page, "Every row is valid.", "the validation report")
        assert f"Validating: {N_ROWS} of {N_ROWS} rows" in progress_texts(page)
        screenshot(page, "import-1-validated")

        page.locator(".st-key-import_button button").click()
        wait_text(page, f"Imported {N_ROWS} rows from site-cohort.csv", "the import summary")
        texts = progress_texts(page)
        assert f"Importing: {N_ROWS} of {N_ROWS} rows" in texts, texts
        # Scored in the background: the Stored scores section follows it to the end.
        wait_text(page, f"scored {N_ROWS} studies with model", "the finished scoring")
        wait_text(page, f"All {N_ROWS} stored studies have stored scores", "the score status")
        screenshot(page, "import-2-imported")

    from core.store import CaseStore

    with CaseStore(f"sqlite:///{empty_store / 'cases.sqlite'}", data_dir=empty_store) as store:
        assert len(store.list_studies()) == N_ROWS
        assert (store.audit_log()["action"] == "import").sum() == 1


def test_rescore_in_the_background_until_every_study_has_scores(
    page: Page, app: StreamlitServer, empty_store: Path
) -> None:
    from core.clinical import load_clinical_table
    from core.store import CaseStore

    rows = pd.read_csv(REPO / "data" / "demo" / "cohort.csv", dtype=str,
                       keep_default_na=False).iloc[300:]
    url = f"sqlite:///{empty_store / 'cases.sqlite'}"
    with CaseStore(url, data_dir=empty_store) as store:
        store.import_cohort(load_clinical_table(rows.to_csv(index=False).encode(),
                                                "unscored.csv").rows,
                            source="unscored.csv", actor="browser-test")  # no scores
        total = store.study_counts()["studies"]
    with screenshot_on_failure(page, "import-rescore"):
        page.goto(f"{app.url}/import_cohort")
        wait_text(page, f"{len(rows)} of {total} stored studies have no stored score",
                  "the missing scores")
        rescore = page.locator(".st-key-import_rescore").get_by_role(
            "button", name="Rescore stored studies")
        rescore.click()
        wait_text(page, "Scoring started at", "the finished rescore")
        wait_text(page, f"All {total} stored studies have stored scores", "the score status")
        assert rescore.is_disabled()
        screenshot(page, "import-3-rescored")
