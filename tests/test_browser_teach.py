"""Real-browser tests of the surveillance and teaching pages (issue 13), Playwright driving
Debian's Chromium (``/usr/bin/chromium``, never ``playwright install``).

A small demo store (``python -m core demo``) is served by its own Streamlit server; the
helpers are those of ``tests/test_browser.py``. Screenshots go to
``test-artifacts/browser/`` as ``2x-*.png``: a surveillance timeline of the demo patient
with three studies, each step of the teaching walk-through, and a quiz round (answer,
reveal, score).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from core.demo import SURVEILLANCE_DEMO_PATIENT
from core.teaching import FINDINGS
from tests.browser_support import (
    ARTIFACTS,
    StreamlitServer,
    build_demo_store,
    launched_chromium,
    new_tab,
    require_chromium,
    running_app,
    screenshot,
    screenshot_on_failure,
)
from tests.test_browser import TIMEOUT_S, key, metric_value, wait_until, wait_visible

pytestmark = pytest.mark.browser

DEMO_PATIENTS = 24


@pytest.fixture(scope="module")
def teach_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-teach-data")
    build_demo_store(data_dir, patients=DEMO_PATIENTS)
    with running_app(data_dir, ARTIFACTS / "streamlit-teach.log") as server:
        yield server


@pytest.fixture(scope="module")
def teach_browser() -> Iterator[Browser]:
    with launched_chromium(require_chromium()) as instance:
        yield instance


@pytest.fixture()
def tab(teach_browser: Browser) -> Iterator[Page]:
    with new_tab(teach_browser, TIMEOUT_S) as page:
        yield page


def choose(page: Page, widget_key: str, text: str) -> None:
    """Pick the option containing ``text`` in the select box with Streamlit key
    ``widget_key``."""
    combo = wait_visible(page, page.locator(f"{key(widget_key)} input[role=combobox]"),
                         f"the select box {widget_key}")
    page.locator(key(widget_key)).click()
    combo.fill(text)
    wait_visible(page, page.get_by_role("option").filter(has_text=text),
                 f"the option {text!r}").click()


def subheaders(page: Page) -> list[str]:
    return [t.strip() for t in page.locator('[data-testid="stHeading"] h3').all_inner_texts()]


# ----------------------------------------------------------------------- surveillance


def test_surveillance_timeline_of_a_demo_patient_with_three_studies(
        tab: Page, teach_app: StreamlitServer) -> None:
    tab.goto(f"{teach_app.url}/surveillance")
    with screenshot_on_failure(tab, "20-surveillance-timeline"):
        wait_visible(tab, tab.get_by_role("heading", name="Pain surveillance"), "the title")
        choose(tab, "surv_patient", SURVEILLANCE_DEMO_PATIENT)
        wait_until(lambda: metric_value(tab, "Studies") == "3", "the Studies metric = 3")
        timeline = wait_visible(tab, tab.locator('[data-testid="surveillance-timeline"] svg'),
                                "the timeline (inline SVG)")
        texts = " ".join(t or "" for t in timeline.locator("text").all_text_contents())
        assert "Lesions by region" in texts and "Pain: recorded" in texts, texts[:400]
        box = timeline.bounding_box()
        assert box and box["width"] > 400 and box["height"] > 300, box  # drawn, not clipped
        assert timeline.locator("rect[data-series$='_lesions']").count() >= 3
        assert "Alerts at the latest study" in subheaders(tab)
        earlier = wait_visible(tab, tab.locator('[data-testid="stExpander"]',
                                                has_text="Earlier alerts"),
                               "the earlier alerts (the second study's new fracture)")
        earlier.locator("summary").click()
        wait_visible(tab, earlier.locator('[data-testid="static-table"]'),
                     "the earlier alerts table")
        assert "Changes since the previous study" in subheaders(tab)
        wait_visible(tab, tab.get_by_text("Per-level measurements are stored only",
                                          exact=False), "the by-region note")
        timeline.scroll_into_view_if_needed()
        screenshot(tab, "20-surveillance-timeline")
        timeline.screenshot(path=str(ARTIFACTS / "20-surveillance-timeline-chart.png"))


def test_surveillance_worklist_opens_a_patient(tab: Page, teach_app: StreamlitServer) -> None:
    tab.goto(f"{teach_app.url}/surveillance")
    with screenshot_on_failure(tab, "21-surveillance-worklist"):
        wait_visible(tab, tab.get_by_role("heading", name="Pain surveillance"), "the title")
        wait_visible(tab, tab.locator(key("surv_view")).get_by_text("Cohort worklist"),
                     "the worklist view").click()
        wait_visible(tab, tab.locator('[data-testid="stDataFrame"]').filter(
            has_text="VAS / expected"), "the worklist table")
        screenshot(tab, "21-surveillance-worklist")
        wait_visible(tab, tab.locator(key("surv_open")).get_by_role("button"),
                     "the Open timeline button").click()
        wait_until(lambda: metric_value(tab, "Studies"), "the patient timeline")


# --------------------------------------------------------------------------- teaching


def test_teaching_walkthrough_of_the_three_findings(tab: Page,
                                                    teach_app: StreamlitServer) -> None:
    tab.goto(f"{teach_app.url}/teaching")
    with screenshot_on_failure(tab, "22-teaching-walkthrough"):
        wait_visible(tab, tab.get_by_role("heading", name="Teaching"), "the title")
        for step, finding in enumerate(FINDINGS, start=1):
            wait_until(lambda f=finding: f.title in subheaders(tab),
                       f"the finding {finding.title!r}")
            wait_visible(tab, tab.get_by_test_id("teach-claim"), "the claim")
            assert finding.claim in tab.get_by_test_id("teach-claim").inner_text()
            caution = wait_visible(tab, tab.locator('[data-testid="stAlertContentWarning"]')
                                   .filter(has_text="45 patients"), "the caution")
            assert "synthetic" in caution.inner_text()
            wait_visible(tab, tab.get_by_text("What to look for"), "what to look for")
            # the first finding's region charts are SVG drawn on the server; the others Vega
            chart = ('[data-testid="region-box"] svg' if step == 1
                     else '[data-testid="stVegaLiteChart"] svg')
            wait_visible(tab, tab.locator(chart).first, "a chart")
            screenshot(tab, f"22-teaching-walkthrough-{step}")
            following = tab.locator(key("teach_next")).get_by_role("button")
            if step < len(FINDINGS):
                following.click()
            else:
                wait_until(following.is_disabled,  # once the last step's rerun ends
                           "Next should be disabled on the last finding")


def test_teaching_quiz_round_answer_reveal_score(tab: Page,
                                                 teach_app: StreamlitServer) -> None:
    tab.goto(f"{teach_app.url}/teaching")
    with screenshot_on_failure(tab, "23-teaching-quiz"):
        wait_visible(tab, tab.locator(key("teach_section")).get_by_text("Quiz", exact=True),
                     "the Quiz part").click()
        wait_visible(tab, tab.locator(key("teach_new_quiz")).get_by_role("button"),
                     "the New quiz button").click()
        wait_visible(tab, tab.get_by_text("Case 1 of 5"), "the first quiz case")
        reveal = tab.locator(key("teach_reveal")).get_by_role("button")
        assert reveal.is_disabled()
        tab.locator('[class*="st-key-teach_q_cat_"]').get_by_text("moderate",
                                                                   exact=True).click()
        tab.locator('[class*="st-key-teach_q_act_"]').get_by_text(
            "Escalate analgesia to the next WHO step").click()
        wait_until(lambda: reveal.is_enabled(), "Reveal enabled after both answers")
        screenshot(tab, "23-teaching-quiz-answer")
        reveal.click()
        wait_visible(tab, tab.get_by_text("you said", exact=False), "the revealed answer")
        score = wait_until(lambda: re.fullmatch(r"[0-2] / 2",
                                                metric_value(tab, "Score (this quiz)")),
                           "the quiz score")
        wait_visible(tab, tab.get_by_test_id("advice-headline"), "the advice headline")
        assert metric_value(tab, "Score (this session)") == score.group(0)
        screenshot(tab, "23-teaching-quiz-reveal")
        tab.locator(key("teach_next_case")).get_by_role("button").click()
        wait_visible(tab, tab.get_by_text("Case 2 of 5"), "the second quiz case")

