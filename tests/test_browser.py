"""Real-browser test: the Streamlit app driven by Playwright in Debian's Chromium.

One Streamlit server (``streamlit run app.py``) serves a small demo store built in a
temporary folder; each test opens a fresh browser context. Screenshots of every step
go to ``test-artifacts/browser/`` (a ``*-FAILED.png`` too when a step fails).

This test is never skipped: without ``/usr/bin/chromium`` it fails and says how to
install it (``make chromium``); ``make test`` does that first.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from pypdf import PdfReader

from core.report import DECISION_SUPPORT_NOTICE, SECTIONS, SYNTHETIC_MARK
from tests.browser_support import (
    ARTIFACTS,
    REPO,
    StreamlitServer,
    build_demo_store,
    launched_chromium,
    live_texts,
    new_tab,
    require_chromium,
    running_app,
    screenshot,
    screenshot_on_failure,
    wait_app_idle,
)
from tests.conftest import SCT

pytestmark = pytest.mark.browser

TIMEOUT_S = 60.0
NOTICE_HEAD = "Decision support, not a diagnosis"
DEMO_PATIENTS = 40
T = TypeVar("T")
PHANTOM_PATIENT = "DEMO-IMG-03"  # demo phantom with lesions at T12, L1 and L3


def _t2_pair() -> tuple[Path, Path]:
    """Real T2 MRI of the cervical spine and its level map (SCT convention, C2-C5)."""
    for folder in (REPO / "data" / "demo" / "images" / "sct" / "t2", SCT / "t2"):
        image, labels = folder / "t2.nii.gz", folder / "t2_seg-manual_labeled.nii.gz"
        if image.is_file() and labels.is_file():
            return image, labels
    pytest.fail("No real T2 MRI found in data/demo/images/sct/t2 or the shared data folder.",
                pytrace=False)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    return require_chromium()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    data_dir = tmp_path_factory.mktemp("browser-data")
    summary = build_demo_store(data_dir, patients=DEMO_PATIENTS)
    return data_dir, summary


@pytest.fixture(scope="session")
def app(chromium_path: Path, demo_store: tuple[Path, dict]) -> Iterator[StreamlitServer]:
    data_dir, _ = demo_store
    with running_app(data_dir, ARTIFACTS / "streamlit.log") as server:
        yield server


@pytest.fixture(scope="module")  # one sync Playwright at a time: other browser-test
def browser(chromium_path: Path) -> Iterator[Browser]:  # modules start their own after this
    with launched_chromium(chromium_path) as instance:
        yield instance


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    with new_tab(browser, TIMEOUT_S, accept_downloads=True) as tab:
        yield tab


# --------------------------------------------------------------------------- helpers


def wait_visible(page: Page, locator: Locator, what: str, timeout_s: float = TIMEOUT_S,
                 error_alerts: bool = False, state: str = "visible") -> Locator:
    """Wait for ``locator`` (``state`` visible, or attached for hidden inputs); fail at once
    when the app shows an exception (or an ``st.error`` when ``error_alerts``), quoting it."""
    deadline = time.monotonic() + timeout_s
    while True:
        if raised := live_texts(page, "stException"):
            pytest.fail(f"The app raised while waiting for {what}:\n{raised[0][:2000]}",
                        pytrace=False)
        if error_alerts and (shown := live_texts(page, "stAlertContentError")):
            pytest.fail(f"The app showed an error while waiting for {what}: {shown[0][:1000]}",
                        pytrace=False)
        found = True
        try:
            locator.first.wait_for(state=state, timeout=500)  # type: ignore[arg-type]
        except PlaywrightTimeout:
            found = False
        if found:
            return locator.first
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not appear within {timeout_s:.0f} s.", pytrace=False)


def wait_until(predicate: Callable[[], T], what: str, timeout_s: float = TIMEOUT_S) -> T:
    """Poll ``predicate()`` until it returns a truthy value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} (still not true after {timeout_s:.0f} s).", pytrace=False)
        time.sleep(0.2)


def key(name: str) -> str:
    """CSS selector of the container of the widget with Streamlit key ``name``."""
    return f".st-key-{name}"


def nav_labels(page: Page) -> list[str]:
    """Labels of the sidebar navigation links, without their icon ligatures."""
    return page.locator('[data-testid="stSidebarNav"] a').evaluate_all(
        """links => links.map(link => {
            const copy = link.cloneNode(true);
            copy.querySelectorAll('[data-testid="stIconMaterial"]').forEach(i => i.remove());
            return copy.textContent.trim();
        })""")


def metric_value(page: Page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(
        has=page.get_by_text(label, exact=True))
    return metric.first.locator('[data-testid="stMetricValue"]').inner_text().strip()


def probability_texts(page: Page) -> list[str]:
    """The percentages written on the first probability bars of the page."""
    bars = page.locator('[data-testid="probability-bars"]').first
    return [(t or "").strip() for t in bars.locator(".dss-prob-pct").all_text_contents()]


def overlapping_text(page: Page, title: str) -> list[str]:
    """Text marks of the chart titled ``title`` whose boxes overlap its legend."""
    chart = page.locator('[data-testid="stVegaLiteChart"]').filter(
        has=page.locator("svg text", has_text=title)).first
    legend = chart.locator("g.role-legend").first.bounding_box()
    assert legend is not None, f"the chart {title!r} has no legend"
    hits = []
    for mark in chart.locator("g.mark-text.role-mark text").all():
        box = mark.bounding_box()
        if box and box["width"] and not (
                box["x"] + box["width"] <= legend["x"] or legend["x"] + legend["width"] <= box["x"]
                or box["y"] + box["height"] <= legend["y"]
                or legend["y"] + legend["height"] <= box["y"]):
            hits.append(mark.inner_text())
    return hits


def model_version() -> str:
    card = json.loads((REPO / "models" / "demo" / "model_card.json").read_text("utf-8"))
    return str(card["version"])


# --------------------------------------------------------------------------- tests


APP_NAV = ["Home", "New case", "Tumor board", "What-if", "Surveillance", "Report",
           "Import cohort", "Cohort analytics", "Teaching", "Model"]


def test_deep_link_on_a_fresh_server_ends_with_the_app_navigation(
    page: Page, demo_store: tuple[Path, dict], chromium_path: Path
) -> None:
    """The first visitor of a fresh server opening a page URL gets app.py's navigation.

    The page scripts live in ``pages/``, so Streamlit starts in its v1 multipage mode
    (file-name navigation: ``app``, ``tumor board`` ...) until ``st.navigation`` in
    app.py has run; the sidebar must settle on the app's titles.
    """
    data_dir, _ = demo_store
    with running_app(data_dir, ARTIFACTS / "streamlit-deep-link.log") as fresh:
        page.goto(f"{fresh.url}/tumor_board")
        with screenshot_on_failure(page, "00-deep-link"):
            wait_visible(page, page.get_by_role("heading", name="Tumor board"),
                         "the Tumor board title")
            wait_until(lambda: nav_labels(page) == APP_NAV,
                       f"the sidebar navigation should become {APP_NAV} "
                       f"(it shows {nav_labels(page)})", timeout_s=30)
            wait_visible(page, page.get_by_test_id("board-card-title"), "the case card")
            screenshot(page, "00-deep-link")


def test_home_shows_the_notice_navigation_and_store_counts(
    page: Page, app: StreamlitServer, demo_store: tuple[Path, dict]
) -> None:
    _, summary = demo_store
    page.goto(app.url)
    with screenshot_on_failure(page, "01-home"):
        wait_visible(page, page.get_by_role("heading", name="Bone pain from spinal metastases"),
                     "the home page title")
        notice = wait_visible(page, page.get_by_test_id("decision-support-notice"),
                              "the decision-support notice")
        assert NOTICE_HEAD in notice.inner_text()
        wait_until(lambda: metric_value(page, "Studies") == str(summary["studies"]),
                   f"the Studies metric should show {summary['studies']}")
        assert metric_value(page, "Patients") == str(summary["patients"])
        assert nav_labels(page) == APP_NAV
        screenshot(page, "01-home")


def _upload(page: Page, image: Path, labels: Path) -> None:
    """Put an MRI and its level map in the New case uploaders (Upload files chosen), one
    after the other: each upload reruns the page."""
    for widget, path, what in (("newcase_image", image, "MRI"),
                               ("newcase_vertebrae", labels, "label map")):
        wait_visible(page, page.locator(f"{key(widget)} input[type=file]"),
                     f"the {what} uploader", state="attached").set_input_files(str(path))
        # Long names are shortened in the middle ("t2_seg-…led.nii.gz"): match the start.
        wait_visible(page, page.locator(key(widget)).get_by_text(path.name[:7]),
                     f"the uploaded {what} file name")


def _choose(page: Page, widget: str, option: str) -> None:
    """Pick ``option`` in the select box with key ``widget`` (typed, to filter the list);
    opens the list again when a rerun that was still drawing the page closed it."""
    combo = page.locator(f"{key(widget)} input[role=combobox]")

    def pick() -> bool:
        if combo.input_value() == option:
            return True
        wait_visible(page, page.locator(key(widget)), f"the {widget} select box").click()
        page.keyboard.type(option)  # long option lists are drawn a screenful at a time
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
        return combo.input_value() == option

    wait_until(pick, f"{widget} should read {option!r}")


def _measure(page: Page, done: str = "Image read and measured.") -> None:
    button = page.locator(f"{key('newcase_measure')} button")
    wait_until(button.is_enabled, "the Read and measure button should be enabled")
    wait_app_idle(page, TIMEOUT_S)  # not while the convention's rerun redraws the button
    button.click()
    wait_visible(page, page.get_by_text(done), "the end of measuring", timeout_s=90)


def _level_table(page: Page) -> Locator:
    """The per-level measurements table (the one with a vertebra volume column)."""
    return page.locator('[data-testid="stDataFrame"]').filter(
        has=page.locator('[role="columnheader"]', has_text="Vertebra volume"))


def _table_levels(page: Page) -> list[str]:
    cells = _level_table(page).first.locator('[role="gridcell"]').all_inner_texts()
    return [c.strip() for c in cells if re.fullmatch(r"[CTLS]\d{1,2}", c.strip())]


def _phantom_files(folder: Path, names: dict[str, str] | None = None, *, lesions=True
                   ) -> tuple[Path, Path, dict]:
    """A seeded phantom (T11-L3, lesions in L1 and L3 unless ``lesions`` is false) as
    NIfTI files; ``names`` relabels its bodies (true level -> written name)."""
    import SimpleITK as sitk

    from core.levels import label_for_name
    from core.phantom import LesionSpec, make_spine_phantom

    specs = (LesionSpec("L1", 6.0), LesionSpec("L3", 5.0)) if lesions else ()
    p = make_spine_phantom(seed=21, levels=("T11", "T12", "L1", "L2", "L3"),
                           spacing_mm=(1.5, 1.5, 1.5), lesions=specs, noise_sd=5.0)
    array = sitk.GetArrayFromImage(p.vertebrae)
    out = array.copy()
    for true, written in (names or {}).items():
        out[array == label_for_name(true, "verse")] = label_for_name(written, "verse")
    labels = sitk.GetImageFromArray(out)
    labels.CopyInformation(p.vertebrae)
    folder.mkdir(parents=True, exist_ok=True)
    image_path, labels_path = folder / "phantom_mri.nii.gz", folder / "phantom_levels.nii.gz"
    sitk.WriteImage(p.image, str(image_path), useCompression=True)
    sitk.WriteImage(labels, str(labels_path), useCompression=True)
    return image_path, labels_path, p.truth


def test_new_case_upload_real_mri_and_measure(page: Page, app: StreamlitServer,
                                              tmp_path: Path) -> None:
    """The real T2 MRI with its SCT cord-level labels is shown with the cord_level_map
    finding, not measured (issue 10); a body map of a lesion-free phantom is measured
    and gives a prediction."""
    image, labels = _t2_pair()
    page.goto(f"{app.url}/new_case")
    with screenshot_on_failure(page, "02-new-case"):
        source = wait_visible(page, page.locator(key("newcase_source")), "the image source radio")
        source.get_by_text("Upload files", exact=True).click()
        _upload(page, image, labels)
        _choose(page, "newcase_convention", "sct")
        _measure(page, "label QA refused the level map")
        wait_visible(page, page.get_by_text("cord_level_map").first, "the cord_level_map finding")
        wait_visible(page, page.get_by_text("Image: t2.nii.gz"), "the image viewer")
        assert not _level_table(page).count(), "a cord map was measured"
        screenshot(page, "02-new-case-cord-level-map")
        phantom_image, phantom_labels, _ = _phantom_files(tmp_path, lesions=False)
        _upload(page, phantom_image, phantom_labels)
        _choose(page, "newcase_convention", "verse")
        _measure(page)
        wait_visible(page, _level_table(page), "the per-level table", error_alerts=True)
        levels = wait_until(lambda: _table_levels(page), "the per-level table cells")
        assert levels == ["T11", "T12", "L1", "L2", "L3"], levels
        wait_visible(page, page.get_by_text("Image: phantom_mri.nii.gz"), "the image viewer")
        # Every level at 0.0%: the spine diagram's legend once sat on the % labels.
        wait_until(lambda: page.locator('[data-testid="stVegaLiteChart"] g.role-legend').count(),
                   "the spine diagram legend")
        assert overlapping_text(page, "Spine: HI ratio and lesions per level") == []
        screenshot(page, "02-new-case-measured")
        # The clinical form gives a prediction for the measured image; its SINS parts
        # open from a button inside the form and apply with it.
        page.get_by_role("button", name="SINS parts and total").click()
        _choose(page, "newcase_sins_location", "2 mobile (C3-C6, L2-L4)")
        page.keyboard.press("Escape")
        page.locator(f"{key('newcase_clinical_submit')} button").click()
        wait_visible(page, page.get_by_text("In use: SINS location: 2 mobile", exact=False),
                     "the SINS part in use")
        wait_visible(page, page.get_by_text("3 · Decision support"), "the prediction section")
        wait_visible(page, page.get_by_text(re.compile(r"Expected VAS \d+\.\d / 10")),
                     "the expected VAS")
        screenshot(page, "02-new-case-prediction")


def test_tumor_board_case_shows_its_probabilities(
    page: Page, app: StreamlitServer, demo_store: tuple[Path, dict]
) -> None:
    from core.features import features_from_case
    from core.model import load_model, predict
    from core.store import CaseStore

    data_dir, _ = demo_store
    with CaseStore(data_dir=data_dir) as store:
        studies = store.list_studies()
        row = studies[studies["patient_id"] == PHANTOM_PATIENT].iloc[0]
        record = store.get_study(int(row["study_id"]))
        expected = predict(load_model(), features_from_case(record.case()))
    page.goto(f"{app.url}/tumor_board")
    with screenshot_on_failure(page, "03-tumor-board"):
        _board_tab(page, "Case list")
        search = wait_visible(page, page.locator(f"{key('board_search')} input"),
                              "the ID search box")
        search.fill(PHANTOM_PATIENT)
        search.press("Enter")
        title = page.get_by_test_id("board-card-title")
        wait_until(lambda: title.count() and PHANTOM_PATIENT in title.first.inner_text(),
                   f"the case card should show {PHANTOM_PATIENT}")
        assert f"Study {record.study_id}" in title.first.inner_text()
        wait_visible(page, page.locator('[data-testid="stImage"]'), "the key image")
        _board_tab(page, "Explanation")
        texts = wait_until(
            lambda: [t for t in probability_texts(page) if re.fullmatch(r"\d+%", t)],
            "the probability chart should show percentages")
        shown = sorted(int(t[:-1]) for t in texts)
        wanted = sorted(round(100 * p) for p in expected.probabilities.values())
        assert shown == wanted, (texts, expected.probabilities)
        # The estimate itself is on the fold, beneath the advice (once on the page).
        pain = wait_visible(page, page.get_by_test_id("board-pain"), "the fold's pain box")
        wanted_line = f"{expected.category} pain, E[VAS] {expected.expected_vas:.1f}"
        wait_until(lambda: wanted_line in " ".join(pain.inner_text().split()),
                   f"the pain box should read {wanted_line!r}")
        assert page.get_by_test_id("predicted-category").count() == 0
        screenshot(page, "03-tumor-board")


def test_tumor_board_filters_open_from_a_button_and_stay_open_while_picking(
        page: Page, app: StreamlitServer) -> None:
    """The Filters popover draws its widgets only while open (opening it reruns the
    page); a pick applies at once and leaves it open; closed, the filter still applies."""
    page.goto(f"{app.url}/tumor_board")
    with screenshot_on_failure(page, "03b-tumor-board-filters"):
        _board_tab(page, "Case list")
        wait_visible(page, page.locator(f"{key('board_search')} input"), "the ID search box")
        wait_visible(page, page.get_by_text("No filter on: every study.", exact=True),
                     "the caption of no filter")
        toggle = page.locator(key("board_synthetic"))
        assert toggle.count() == 0  # closed: not drawn
        page.get_by_role("button", name="Filters").click()
        wait_visible(page, toggle, "the SYNTHETIC toggle in the open popover")
        toggle.get_by_text("Include SYNTHETIC", exact=True).click()
        wait_visible(page, page.get_by_text("Filters on: SYNTHETIC left out", exact=True),
                     "the caption naming the filter")
        wait_app_idle(page, TIMEOUT_S)
        assert toggle.is_visible()  # still open after the pick
        page.keyboard.press("Escape")
        wait_until(lambda: toggle.count() == 0, "the popover closed")
        wait_app_idle(page, TIMEOUT_S)
        assert page.get_by_text("Filters on: SYNTHETIC left out", exact=True).is_visible()


def test_what_if_slider_changes_the_prediction(page: Page, app: StreamlitServer) -> None:
    page.goto(f"{app.url}/what_if")
    with screenshot_on_failure(page, "04-what-if"):
        lumbar = page.locator('[data-input="whatif_lesion_count_lumbar"]')
        thumb = wait_visible(page, lumbar.get_by_role("slider", name="Lumbar lesions"),
                             "the lumbar lesions slider")
        box = lumbar.get_by_role("spinbutton", name="Lumbar lesions, number")
        wait_until(lambda: re.fullmatch(r"\d+\.\d\d", metric_value(page, "Expected VAS")),
                   "the Expected VAS metric")
        before = metric_value(page, "Expected VAS")
        assert thumb.input_value() == "0" and box.input_value() == "0"
        # The SHAP waterfall is inline SVG: drawn (not sanitised away), one bar a feature.
        waterfall = page.locator('[data-testid="shap-waterfall"] svg')
        wait_visible(page, waterfall, "the SHAP waterfall")
        assert waterfall.locator("rect").count() >= 5
        assert (waterfall.bounding_box() or {}).get("height", 0) > 150
        screenshot(page, "04-what-if-before")
        thumb.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        wait_until(lambda: thumb.input_value() == "5", "the slider should move to 5")
        assert box.input_value() == "5"  # the number box moves with it
        after = wait_until(lambda: (v := metric_value(page, "Expected VAS")) != before and v,
                           "the expected VAS should change after the slider moved")
        assert float(after) > float(before), (before, after)  # lumbar lesions: monotone +1
        changed = wait_visible(page, page.locator('[data-testid="static-table"]'),
                               "the table of changed inputs")
        wait_until(lambda: "Lumbar lesions" in changed.locator("td").all_inner_texts(),
                   "the changed-inputs table should list Lumbar lesions")
        screenshot(page, "04-what-if-after")
        # Typing a count beyond the slider's end: the slider follows it, widened.
        box.fill("55")
        box.press("Enter")
        wait_until(lambda: thumb.input_value() == "55", "the slider should follow the box")
        assert int(thumb.get_attribute("max") or 0) >= 55


def test_what_if_treatment_popover_shows_every_who_step(page: Page,
                                                        app: StreamlitServer) -> None:
    """Every WHO analgesic step is on screen inside the open popover (the last one, strong
    opioid, was once cut off at the popover's middle), and picking it applies."""
    page.goto(f"{app.url}/what_if")
    with screenshot_on_failure(page, "04b-what-if-treatment"):
        button = wait_visible(page, page.get_by_role(
            "button", name=re.compile("Treatment and context")), "the treatment button")
        button.click()
        step = wait_visible(page, page.locator(key("whatif_analgesic_step")),
                            "the WHO step control in the open popover")
        wait_app_idle(page, TIMEOUT_S)
        # the choices scroll inside their group when it is too narrow: each must lie
        # within the group's box and the popover's
        group = step.get_by_role("radiogroup").bounding_box()
        popover = page.locator('[data-testid="stPopoverBody"]').bounding_box()
        assert group is not None and popover is not None
        right = min(group["x"] + group["width"], popover["x"] + popover["width"]) + 1
        for label in ("0 none", "1 non-opioid", "2 weak opioid", "3 strong opioid"):
            box = step.get_by_role("radio", name=label).bounding_box()
            assert box is not None and box["width"] > 0, label
            assert box["x"] >= group["x"] - 1 and box["x"] + box["width"] <= right, label
        screenshot(page, "04b-what-if-treatment")
        step.get_by_role("radio", name="3 strong opioid").click()
        wait_visible(page, page.get_by_text(re.compile(r"WHO analgesic step\): 3 strong opioid")),
                     "the popover's line naming step 3")


def test_report_downloads_html_and_pdf(page: Page, app: StreamlitServer) -> None:
    version = model_version()
    page.goto(f"{app.url}/report")
    with screenshot_on_failure(page, "05-report"):
        html_button = wait_visible(page, page.locator(f"{key('report_download_html')} button"),
                                   "the HTML download button", timeout_s=90)
        wait_app_idle(page, TIMEOUT_S)
        with page.expect_download() as html_download:
            html_button.click()
        html_path = Path(html_download.value.path())
        html_text = html_path.read_text(encoding="utf-8")
        assert re.fullmatch(r"spinepain-report-\d+\.html", html_download.value.suggested_filename)
        assert html_text.startswith("<!DOCTYPE html>")
        assert DECISION_SUPPORT_NOTICE in html_text
        assert SYNTHETIC_MARK in html_text  # demo cases are synthetic
        for section_id, _ in SECTIONS:
            assert f'<section id="{section_id}">' in html_text
        assert "data:image/png;base64," in html_text  # imaging cases come first
        assert version in html_text

        pdf_button = page.locator(f"{key('report_download_pdf')} button")
        # neither download reruns the page now (on_click="ignore"); had one, a click during
        # that rerun would be lost (a 60 s wait for a download that never started, once)
        wait_app_idle(page, TIMEOUT_S)
        with page.expect_download() as pdf_download:
            pdf_button.click()
        data = Path(pdf_download.value.path()).read_bytes()
        assert re.fullmatch(r"spinepain-report-\d+\.pdf", pdf_download.value.suggested_filename)
        assert data.startswith(b"%PDF-")
        pages = [" ".join((p.extract_text() or "").split())
                 for p in PdfReader(io.BytesIO(data)).pages]
        assert pages and all(NOTICE_HEAD in p and SYNTHETIC_MARK in p for p in pages)
        assert version in " ".join(pages)
        (ARTIFACTS / "report.html").write_text(html_text, encoding="utf-8")
        (ARTIFACTS / "report.pdf").write_bytes(data)
        preview = page.frame_locator('[data-testid="stIFrame"]')
        wait_visible(page, preview.get_by_text(re.compile(r"Case report \d+")),
                     "the HTML preview")
        screenshot(page, "05-report")


def _override_study(data_dir: Path) -> tuple[int, str, str]:
    """A stored study whose advice is led by a fired override and that the board opens
    when its patient is searched: (study id, patient id, headline)."""
    from core.assess import assess_frame
    from core.model import load_model
    from core.store import CaseStore
    from ui.board import BoardFilter, default_study, filter_studies, order_for_board

    with CaseStore(data_dir=data_dir) as store:
        scored = assess_frame(load_model(), store.list_studies())
    fired = scored[scored["headline_source"] == "override"]
    assert not fired.empty, "the demo store has no study with a fired override"
    for patient in fired.sort_values("has_image", ascending=False)["patient_id"]:
        shown = order_for_board(filter_studies(scored, BoardFilter(search=patient)))
        first = default_study(shown)
        row = scored[scored["study_id"] == first].iloc[0]
        if row["headline_source"] == "override":
            return first, str(patient), str(row["headline"])
    pytest.fail("no override study opens first on the board", pytrace=False)


def _font_px(locator: Locator) -> float:
    return float(locator.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))


def _assert_banner_above_estimate(page: Page, headline: Locator,
                                  estimate_id: str = "predicted-category") -> None:
    """The override banner: an alert, the largest type, above the model's estimate (the
    element of test id ``estimate_id``)."""
    estimate = wait_visible(page, page.get_by_test_id(estimate_id).first,
                            "the model's estimate")
    # A rerun may still be replacing the elements: both boxes, measured together.
    head_box, est_box = wait_until(
        lambda: (boxes := (headline.bounding_box(), estimate.bounding_box()))[0]
        and boxes[1] and boxes, "the banner and the estimate laid out")
    assert head_box["y"] + head_box["height"] <= est_box["y"], (head_box, est_box)
    assert headline.get_attribute("role") == "alert"
    title = headline.get_by_role("heading")
    assert _font_px(title) > _font_px(estimate), "the headline is not the largest type"
    # Each fired override's action sits between the banner and the estimate.
    action = page.locator('[data-testid="stAlertContentError"], '
                          '[data-testid="stAlertContentWarning"]').first
    action_box = action.bounding_box()
    assert action_box and head_box["y"] < action_box["y"] < est_box["y"]


def test_tumor_board_override_banner_above_the_prediction(
    page: Page, app: StreamlitServer, demo_store: tuple[Path, dict]
) -> None:
    data_dir, _ = demo_store
    study_id, patient, expected = _override_study(data_dir)
    page.goto(f"{app.url}/tumor_board")
    with screenshot_on_failure(page, "06-override-banner"):
        _board_tab(page, "Case list")
        search = wait_visible(page, page.locator(f"{key('board_search')} input"),
                              "the ID search box")
        search.fill(patient)
        search.press("Enter")
        title = page.get_by_test_id("board-card-title")
        wait_until(lambda: title.count() and f"Study {study_id} " in title.first.inner_text(),
                   f"the case card should show study {study_id}")
        headline = wait_visible(
            page, page.locator('[data-testid="advice-headline"][data-source="override"]'),
            "the override banner")
        # The card's title updates before the rerun replaces the previous case's banner.
        wait_until(lambda: " ".join(headline.inner_text().split()).endswith(
            " ".join(expected.split())), f"the override banner of study {study_id}")
        assert headline.inner_text().upper().startswith("SAFETY OVERRIDE")
        _assert_banner_above_estimate(page, headline, "board-pain")
        table = page.locator('[data-testid="stDataFrame"]').first
        cells = wait_until(lambda: table.locator('[role="gridcell"]').all_inner_texts(),
                           "the case list cells")
        assert "yes" in cells and ("urgent" in cells or "soon" in cells), cells  # fired
        title.first.evaluate("e => e.scrollIntoView({block: 'start'})")
        screenshot(page, "06-override-banner")


def test_what_if_new_deficit_raises_the_mscc_banner(page: Page, app: StreamlitServer) -> None:
    page.goto(f"{app.url}/what_if")
    with screenshot_on_failure(page, "07-what-if-mscc"):
        wait_visible(page, page.locator('[data-testid="advice-headline"][data-source="no_lesion"]'),
                     "the no-lesion banner of the blank case")
        deficit = wait_visible(page, page.locator('[data-input="whatif_neurologic_deficit"]'),
                               "the neurologic deficit choices")
        choice = deficit.get_by_role("button", name="new or progressive", exact=True)
        assert choice.get_attribute("aria-pressed") == "false"  # blank case: not recorded
        choice.click()
        headline = wait_visible(
            page, page.locator('[data-testid="advice-headline"][data-source="override"]'),
            "the MSCC banner")
        text = headline.inner_text()
        assert "URGENT" in text and "dexamethasone" in text, text
        _assert_banner_above_estimate(page, headline)
        # The banner comes early in the run; the recommendations list below it is the
        # previous run's until the run has finished (read too early under load, once).
        wait_app_idle(page, TIMEOUT_S)
        codes = page.locator('[data-testid="recommendations"] li').evaluate_all(
            "items => items.map(i => i.dataset.code)")
        assert codes[:2] == ["mscc_pathway", "dexamethasone"], codes
        assert choice.get_attribute("aria-pressed") == "true"
        stable = deficit.get_by_role("button", name="stable (known, unchanged)", exact=True)
        stable.click()  # another choice replaces it: a stable deficit has no MSCC pathway
        wait_until(lambda: page.locator('[data-testid="advice-headline"][data-source='
                                        '"override"]').count() == 0, "the banner gone")
        assert choice.get_attribute("aria-pressed") == "false"
        stable.click()  # the picked choice again: cleared, not recorded
        wait_app_idle(page, TIMEOUT_S)
        assert stable.get_attribute("aria-pressed") == "false"
        choice.click()
        wait_visible(page, page.locator('[data-testid="advice-headline"][data-source='
                                        '"override"]'), "the MSCC banner again")
        wait_app_idle(page, TIMEOUT_S)
        page.get_by_role("heading", name="Advice for the what-if case").evaluate(
            "e => e.scrollIntoView({block: 'start'})")
        screenshot(page, "07-what-if-mscc-banner")


def _click_point(image: Path, labels: Path, name: str) -> tuple[float, float, int, int]:
    """Where the middle of body ``name`` (VerSe map ``labels``) is drawn in the New case
    page's clickable key sagittal slice: ``(x, y)`` and the image's natural size."""
    import numpy as np
    import SimpleITK as sitk

    from core.io import read_image, read_label_map
    from core.levels import label_for_name
    from ui import slice_render

    loaded = read_image(image).image
    volume = sitk.GetArrayFromImage(loaded)
    vert = sitk.GetArrayFromImage(read_label_map(labels, reference=loaded))
    spacing = loaded.GetSpacing()
    index = slice_render.key_slice("sagittal", volume.shape, vertebrae=vert)
    render = slice_render.render_slice(volume, spacing, "sagittal", index, 1.0, 0.0,
                                       vertebrae=vert, target_px=420, min_aspect=0.0)
    zs, ys = np.nonzero(vert[:, :, index] == label_for_name(name, "verse"))
    row_mm, col_mm = slice_render.plane_spacing(spacing, "sagittal")
    row = ((volume.shape[0] - 1 - float(np.median(zs))) + 0.5) * row_mm / render.pixel_mm - 0.5
    col = (float(np.median(ys)) + 0.5) * col_mm / render.pixel_mm - 0.5
    return col, row, render.rgb.shape[1], render.rgb.shape[0]


def test_new_case_corrects_a_mislabelled_level_map(page: Page, app: StreamlitServer,
                                                   tmp_path: Path) -> None:
    """Issue 10: a map counted one level low with two bodies swapped is refused by label QA
    (order_inconsistent); renaming one body (a swap) lets it be measured, and clicking the
    lowest body in the key slice and calling it L3 names them all right. Screenshots of
    the refused and of the corrected map."""
    written = {"T11": "T12", "T12": "L1", "L1": "L3", "L2": "L2", "L3": "L4"}
    image, labels, truth = _phantom_files(tmp_path, written)
    page.goto(f"{app.url}/new_case")
    with screenshot_on_failure(page, "10-level-correction"):
        source = wait_visible(page, page.locator(key("newcase_source")), "the image source radio")
        source.get_by_text("Upload files", exact=True).click()
        _upload(page, image, labels)
        _choose(page, "newcase_convention", "verse")
        _measure(page, "label QA refused the level map")
        wait_visible(page, page.get_by_text("order_inconsistent").first,
                     "the order_inconsistent finding")
        assert not _level_table(page).count()
        screenshot(page, "10-mislabelled-level-map")
        # 1. Rename: the body called L3 becomes L2 (the two swap names).
        page.get_by_role("tab", name="Rename one body").click()
        _choose(page, "newcase_fix_rename_body", "L3")
        _choose(page, "newcase_fix_rename_to", "L2")
        page.locator(f"{key('newcase_fix_rename_apply')} button").click()
        # (The refusal stays on screen, stale, until the rerun ends: no error_alerts here.)
        wait_visible(page, page.get_by_text("L3 and L2 swapped names."), "the rename summary")
        wait_app_idle(page, TIMEOUT_S)
        assert not (errors := live_texts(page, "stAlertContentError")), errors
        levels = wait_until(lambda: _table_levels(page), "the per-level table after renaming")
        assert levels == ["T12", "L1", "L2", "L3", "L4"], levels
        # 2. Click the lowest body (called L4, truly L3) in the key slice and name it L3.
        page.get_by_role("tab", name="Click a body").click()
        frame = page.frame_locator(f"{key('newcase_fix_click_image')} iframe")
        picture = frame.locator("img#image")
        wait_until(lambda: picture.count() and (picture.bounding_box() or {}).get("width"),
                   "the clickable key slice")
        renamed = labels.parent / "renamed_levels.nii.gz"
        _write_names(labels, renamed, {"L3": "L2", "L2": "L3"})
        x, y, natural_w, natural_h = _click_point(image, renamed, "L4")
        box = picture.bounding_box()
        assert box is not None
        picture.click(position={"x": x * box["width"] / natural_w,
                                "y": y * box["height"] / natural_h})
        wait_visible(page, page.get_by_text("Clicked body: L4"), "the clicked body's name")
        _choose(page, "newcase_fix_click_level", "L3")
        apply = page.locator(f"{key('newcase_fix_click_apply')} button")
        wait_until(apply.is_enabled, "the name-from-click button should be enabled")
        apply.click()
        wait_visible(page, page.get_by_text("set to L3"), "the click-naming summary",
                     error_alerts=True)
        levels = wait_until(
            lambda: (lv := _table_levels(page)) and lv[0] == "T11" and lv,
            "the per-level table should start at T11 after naming from the click")
        assert levels == ["T11", "T12", "L1", "L2", "L3"], levels
        wait_visible(page, page.get_by_text("Label QA: no findings").first, "the clean label QA")
        involved = [lv for lv, t in truth.items() if t["lesion_count"]]
        wait_visible(page, page.get_by_text(f"Involved levels: {', '.join(involved)}"),
                     "the involved levels of the corrected map")
        viewer_image = page.locator('[data-testid="stImage"]').first
        viewer_image.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        viewer_image.screenshot(path=str(ARTIFACTS / "10-corrected-level-map-viewer.png"))
        screenshot(page, "10-corrected-level-map")


def _write_names(labels: Path, out: Path, names: dict[str, str]) -> None:
    """Copy a VerSe map with bodies renamed (written name -> new name)."""
    import SimpleITK as sitk

    from core.levels import label_for_name
    from tests.data_io_helpers import relabel

    verse = {old: label_for_name(old, "verse") for old in names}
    mapping = {verse[old]: label_for_name(name, "verse") for old, name in names.items()}
    sitk.WriteImage(relabel(sitk.ReadImage(str(labels)), mapping), str(out))


# --------------------------------------------------------------------------- projection

PROJECTOR = {"width": 1280, "height": 720}


def _inside_viewport(page: Page, locator: Locator, what: str) -> dict:
    """``locator``'s box, asserted wholly inside the 1280 x 720 window (no scrolling)."""
    box = locator.bounding_box()
    assert box is not None, f"{what} has no box"
    assert box["x"] >= 0 and box["y"] >= 0, (what, box)
    assert box["x"] + box["width"] <= PROJECTOR["width"] + 0.5, (what, box)
    assert box["y"] + box["height"] <= PROJECTOR["height"] + 0.5, (what, box)
    return box


def _projector_page(browser: Browser) -> Page:
    context = browser.new_context(viewport=PROJECTOR)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_S * 1000)
    return tab


def _card_title(page: Page) -> str:
    title = page.get_by_test_id("board-card-title")
    return title.first.inner_text() if title.count() else ""


def _board_tab(page: Page, name: str) -> None:
    """Open one of the Tumor board's tabs below the fold (only the open one is drawn:
    opening it reruns the page) and wait for the run to end."""
    tab = wait_visible(page, page.get_by_role("tab", name=name, exact=True), f"the {name} tab")
    tab.click()
    wait_until(lambda: tab.get_attribute("aria-selected") == "true", f"the {name} tab open")
    wait_app_idle(page, TIMEOUT_S)


def _click_when_settled(page: Page, name: str, label: str) -> None:
    """Click the visible, enabled button with key ``name`` whose accessible name starts
    with ``label`` (Streamlit keeps a second, nameless button in the widget's box)."""
    button = page.locator(key(name)).get_by_role("button", name=re.compile(f"^{label}"))
    wait_until(lambda: button.count() == 1 and button.is_enabled(), f"the {label} button")
    button.click()


def _assert_fold(page: Page) -> None:
    """Headline, pain and burden of the case on screen inside the window, unscrolled (once
    the run has ended: while it runs, a box about to be replaced may already be gone when
    its position is read, as on a loaded CI machine)."""
    wait_app_idle(page, TIMEOUT_S)
    main = page.locator('[data-testid="stMain"]')
    assert main.evaluate("e => e.scrollTop") == 0
    head = wait_visible(page, page.get_by_test_id("advice-headline"), "the advice's headline")
    pain = wait_visible(page, page.get_by_test_id("board-pain"), "the pain box")
    burden = wait_visible(page, page.get_by_test_id("board-burden"), "the burden box")
    _inside_viewport(page, page.get_by_test_id("board-card-title").first, "the case title")
    _inside_viewport(page, head, "the headline")
    _inside_viewport(page, pain, "the pain box")
    _inside_viewport(page, burden, "the burden box")
    assert "Recorded VAS" in pain.inner_text() and "Predicted:" in pain.inner_text()
    text = burden.inner_text()
    assert "Involved levels:" in text and "Lumbar involvement:" in text, text
    assert re.search(r"HI ratio overall \S+%|HI ratio overall not recorded", text), text


def test_tumor_board_projection_fits_1280x720(
    browser: Browser, app: StreamlitServer, demo_store: tuple[Path, dict]
) -> None:
    """Projection at 1280 x 720: the first case of the list and the phantom with lesions
    at T12, L1, L3 show title, headline, pain and burden without scrolling."""
    page = _projector_page(browser)
    try:
        page.goto(f"{app.url}/tumor_board")
        with screenshot_on_failure(page, "08-projection-1280x720"):
            wait_until(lambda: _card_title(page), "the case card")
            _assert_fold(page)
            screenshot(page, "08-projection-1280x720-first-case")
            # The phantom (lesions at T12, L1 and L3, with its key image), found by
            # stepping with J (next) rather than through the filters below the fold.
            seen = [_card_title(page)]
            for _ in range(DEMO_PATIENTS * 3):
                if PHANTOM_PATIENT in seen[-1]:
                    break
                page.keyboard.press("j")
                wait_until(lambda: _card_title(page) not in seen[-1:] and _card_title(page),
                           "the next case after J")
                seen.append(_card_title(page))
            assert PHANTOM_PATIENT in seen[-1], seen
            wait_visible(page, page.locator('[data-testid="stImage"]'), "the key image")
            _assert_fold(page)
            _inside_viewport(page, page.locator('[data-testid="stImage"] img').first,
                             "the key image")
            burden = page.get_by_test_id("board-burden").inner_text()
            assert "Involved levels: T12, L1, L3" in burden, burden
            assert re.search(r"Lumbar involvement: yes", burden), burden
            screenshot(page, "08-projection-1280x720")
    finally:
        page.context.close()


def test_tumor_board_next_and_previous_step_through_five_cases(
    browser: Browser, app: StreamlitServer
) -> None:
    page = _projector_page(browser)
    try:
        page.goto(f"{app.url}/tumor_board")
        with screenshot_on_failure(page, "09-board-next-previous"):
            wait_until(lambda: _card_title(page), "the case card")
            titles = [_card_title(page)]
            for step in range(4):
                _click_when_settled(page, "board_next", "Next")
                wait_until(lambda: _card_title(page) not in titles[-1:] and _card_title(page),
                           f"Next (step {step + 1}) should change the case")
                titles.append(_card_title(page))
                _assert_fold(page)
                screenshot(page, f"09-board-next-{step + 1}")
            assert len(set(titles)) == 5, titles
            for step in range(2):
                _click_when_settled(page, "board_prev", "◀ Previous")
                wait_until(lambda: _card_title(page) not in titles[-1:] and _card_title(page),
                           f"Previous (step {step + 1}) should change the case")
                titles.append(_card_title(page))
            assert titles[-2:] == [titles[3], titles[2]], titles
            page.keyboard.press("k")  # K: previous
            wait_until(lambda: _card_title(page) == titles[1], "K should show the case before")
            page.keyboard.press("j")  # J: next
            wait_until(lambda: _card_title(page) == titles[2], "J should show the case after")
            screenshot(page, "09-board-next-previous")
    finally:
        page.context.close()


def _viewer_slice(caption: Locator) -> int:
    found = re.search(r"slice (\d+)/\d+", caption.inner_text())
    assert found, caption.inner_text()
    return int(found.group(1))


def test_board_viewer_wheel_keys_ruler_and_zoom(page: Page, app: StreamlitServer) -> None:
    """The board's viewer: the wheel and the arrow keys step slices, the ruler measures
    in mm, + zooms; the tool bar is served with the app (no CDN)."""
    page.goto(f"{app.url}/tumor_board")
    with screenshot_on_failure(page, "10-board-viewer"):
        _board_tab(page, "Case list")
        search = wait_visible(page, page.locator(f"{key('board_search')} input"),
                              "the ID search box")
        search.fill(PHANTOM_PATIENT)
        search.press("Enter")
        title = page.get_by_test_id("board-card-title")
        wait_until(lambda: title.count() and PHANTOM_PATIENT in title.first.inner_text(),
                   f"the case card should show {PHANTOM_PATIENT}")
        _board_tab(page, "Explanation")
        image = wait_visible(page, page.locator(f"{key('board_viewer_stage')} img"),
                             "the viewer's image")
        caption = page.locator(f"{key('board_viewer_stage')} [data-testid='stImageCaption']")
        wait_visible(page, page.get_by_test_id("viewer-tools"), "the viewer's tool bar")
        image.scroll_into_view_if_needed()
        start = _viewer_slice(caption)
        box = image.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.wheel(0, 120)
        wait_until(lambda: _viewer_slice(caption) == start + 1, "the wheel should step a slice")
        page.locator(key("board_viewer_stage")).focus()
        page.keyboard.press("ArrowUp")
        wait_until(lambda: _viewer_slice(caption) == start, "ArrowUp should step back")
        page.get_by_role("button", name="Ruler (mm)").click()
        box = image.bounding_box()
        assert box is not None
        x = box["x"] + box["width"] / 2
        page.mouse.move(x, box["y"] + 0.1 * box["height"])
        page.mouse.down()
        page.mouse.move(x, box["y"] + 0.9 * box["height"], steps=6)
        page.mouse.up()
        measured = wait_until(lambda: re.search(r"Ruler: ([\d.]+) mm", caption.inner_text()),
                              "the ruler's length in the caption")
        assert float(measured.group(1)) > 10.0, caption.inner_text()
        page.get_by_role("button", name="Zoom in").click()
        wait_until(lambda: "zoom 1.25×" in caption.inner_text(), "+ should zoom in")
        screenshot(page, "10-board-viewer")
