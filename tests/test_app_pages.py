"""AppTests of the Streamlit app: every page launches, and a happy path per page.

The app runs on a small demo store built once per session (``core.demo``) in a
temporary data directory given through ``SPINEPAIN_DATA_DIR``; models come from
``models/`` except in the retraining test, which works on a temporary copy.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import app_env, store_env_cleared
from tests.html_tables import page_tables

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
TIMEOUT = 180
N_PATIENTS = 24
SCT_T2 = REPO / "data" / "demo" / "images" / "sct" / "t2"

PAGES = {
    "home": "pages/home.py",
    "new_case": "pages/new_case.py",
    "tumor_board": "pages/tumor_board.py",
    "what_if": "pages/what_if.py",
    "cohort": "pages/cohort.py",
    "model": "pages/model.py",
    "report": "pages/report.py",
    "surveillance": "pages/surveillance.py",
    "teaching": "pages/teaching.py",
}
NOTICE = "Decision support, not a diagnosis"
URGENT_ICON = ":material/emergency:"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def app_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo store (synthetic cohort + the five imaging cases) in a temporary folder."""
    from core.demo import build_demo_store

    folder = tmp_path_factory.mktemp("app_store")
    with store_env_cleared():
        build_demo_store(f"sqlite:///{folder / 'cases.sqlite'}", n_patients=N_PATIENTS,
                         data_dir=folder)
    return folder


@pytest.fixture()
def env(app_store: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's environment: the session store, full error details in AppTest."""
    with app_env(app_store, monkeypatch) as folder:
        yield folder


def store():
    from core.store import CaseStore

    return CaseStore()


def open_path(path: str | None = None) -> AppTest:
    """Run the app (entry point), switch to the page file ``path`` (e.g.
    ``pages/teaching.py``; none: stay on Home) and check that nothing raised."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert_ok(at)
    if path is not None:
        at.switch_page(path).run()
        assert_ok(at)
    return at


def open_page(name: str) -> AppTest:
    """:func:`open_path` by the page's short name in :data:`PAGES` (``home``: Home)."""
    return open_path(None if name == "home" else PAGES[name])


def assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def html_text(at: AppTest) -> str:
    return "\n".join(str(h.value) for h in at.get("html"))


def all_text(at: AppTest) -> str:
    parts = [str(e.value) for kind in ("markdown", "caption", "title", "header", "subheader",
                                       "error", "warning", "info", "success")
             for e in getattr(at, kind)]
    return "\n".join(parts) + "\n" + html_text(at)


def charts_of(at: AppTest) -> list[tuple[dict, list[dict]]]:
    """``(spec, data rows)`` of every altair chart; Streamlit moves the datasets out of
    the spec into Arrow tables on the element."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    out = []
    for chart in at.get("vega_lite_chart"):
        rows: list[dict] = []
        for dataset in chart.proto.datasets:
            rows += convert_arrow_bytes_to_pandas_df(dataset.data.data).to_dict("records")
        if chart.proto.data.data:
            rows += convert_arrow_bytes_to_pandas_df(chart.proto.data.data).to_dict("records")
        out.append((json.loads(chart.proto.spec), rows))
    return out


def svg_figures(at: AppTest) -> list[str]:
    """The charts drawn on the server as inline SVG (Markdown elements), in page order."""
    return [str(m.value) for m in at.markdown if "<svg" in str(m.value)]


def chart_rows(at: AppTest, marker: str) -> list[dict]:
    """Data rows of the first chart whose spec mentions ``marker`` (e.g. its title)."""
    for spec, rows in charts_of(at):
        if marker in json.dumps(spec):
            return rows
    raise AssertionError(f"no chart mentions {marker!r}")


def shown_probabilities(at: AppTest) -> dict[str, float]:
    """The predicted category probabilities of the first probability bars on the page
    (``ui.bars.probability_bars``), exact, from their ``data-probability``."""
    for markup in htmls(at):
        if 'data-testid="probability-bars"' in markup:
            return {name: float(value) for name, value in re.findall(
                r'data-category="([^"]+)" data-probability="([^"]*)"', markup)}
    raise AssertionError("no probability bars on the page")


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"metric {label!r} not shown; have {[m.label for m in at.metric]}")


def htmls(at: AppTest) -> list[str]:
    """Every ``st.html`` of the page, in page order."""
    return [str(h.value) for h in at.get("html")]


def headline_html(at: AppTest) -> str:
    found = [h for h in htmls(at) if 'data-testid="advice-headline"' in h]
    assert len(found) == 1, f"{len(found)} advice headlines on the page"
    return found[0]


def assert_headline_above_estimate(at: AppTest, source: str,
                                   estimate: str = "predicted-category") -> str:
    """The advice's headline is on the page once, from ``source``, above the model's
    estimate (the element of test id ``estimate``; overrides first); returns its HTML."""
    order = htmls(at)
    head = next(i for i, h in enumerate(order) if 'data-testid="advice-headline"' in h)
    at_index = next(i for i, h in enumerate(order) if f'data-testid="{estimate}"' in h)
    assert head < at_index, "the model's estimate is shown above the advice's headline"
    assert f'data-source="{source}"' in order[head], order[head]
    return order[head]


def recommendation_codes(at: AppTest) -> list[str]:
    """The stable codes of the recommendations on the page (``data-code``)."""
    block = next(h for h in htmls(at) if 'data-testid="recommendations"' in h)
    return re.findall(r'data-code="([a-z_]+)"', block)


def cohort_sections(at: AppTest) -> Iterator[AppTest]:
    """The cohort page with each of its sections chosen in turn (one section's charts
    are drawn per run)."""
    from ui.cohort_views import SECTION_KEY, SECTIONS

    for section in SECTIONS:
        at.segmented_control(key=SECTION_KEY).set_value(section).run()
        assert_ok(at)
        yield at


def model_sections(at: AppTest) -> Iterator[AppTest]:
    """The Model page with each of its parts (card, design, training) chosen in turn."""
    from ui.model_card import SECTION_KEY, SECTIONS

    for section in SECTIONS:
        at.segmented_control(key=SECTION_KEY).set_value(section).run()
        assert_ok(at)
        yield at


def dataframe_with(at: AppTest, column: str):
    """The first table (data grid or HTML table) with ``column``."""
    for frame in page_tables(at):
        if column in frame.columns:
            return frame
    raise AssertionError(f"no table with column {column!r}")


# --------------------------------------------------------------------------- launch


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_launches(env: Path, name: str) -> None:
    at = open_page(name)
    assert at.title, f"{name} has no title"
    failures = [e.value for e in at.error if e.icon != URGENT_ICON]  # urgent overrides are fine
    assert not failures, failures
    text = all_text(at)
    if name in ("cohort", "model"):  # one section per run: the text of every section
        sections = cohort_sections if name == "cohort" else model_sections
        text = "\n".join(all_text(a) for a in sections(at))
    expected = {
        "home": ["Model in use", "Case store", "SYNTHETIC"],
        "new_case": ["1 · Image", "2 · Clinical findings"],
        "tumor_board": ["Predicted pain and explanation", "SYNTHETIC"],
        "what_if": ["Difference from the starting case"],
        "cohort": ["Pain by region of involvement", "Spearman", "Global SHAP importance"],
        "model": ["Intended use", "Calibration", "Train a site model"],
        "report": ["Predicted pain"],
        "surveillance": ["Alerts at the latest study", "Timeline",
                         "Changes since the previous study"],
        "teaching": ["1 · Lumbar metastases hurt most", "What to look for", "45 patients"],
    }[name]
    for phrase in expected:
        assert phrase in text, f"{phrase!r} missing on {name}"
    assert NOTICE in html_text(at), f"decision-support notice missing on {name}"
    if name in ("tumor_board", "what_if", "report"):  # every screen with a prediction
        assert 'data-testid="advice-headline"' in html_text(at), name
        assert "trained on a synthetic cohort" in html_text(at), name


def test_home_counts_and_links(env: Path) -> None:
    at = open_page("home")
    studies = store().list_studies()
    assert metric(at, "Studies") == str(len(studies))
    assert metric(at, "Patients") == str(studies["patient_id"].nunique())
    assert metric(at, "With images") == str(int(studies["has_image"].sum()))
    links = {link.proto.page for link in at.get("page_link")}
    assert {"new_case", "tumor_board", "what_if", "cohort", "model", "report"} <= links
    assert "demo model" in all_text(at)


def test_sidebar_actor_is_used_for_the_audit_log(env: Path) -> None:
    at = open_page("tumor_board")
    at.text_input(key="sidebar_actor").input("Dr Test").run()
    assert_ok(at)
    at.button(key="board_record_prediction").click().run()
    assert_ok(at)
    log = store().audit_log()
    assert log.iloc[-1]["action"] == "predict"
    assert log.iloc[-1]["actor"] == "Dr Test"


# --------------------------------------------------------------------------- new case


def test_new_case_demo_images_sct_shows_its_label_qa_and_a_phantom_measures_levels(
        env: Path) -> None:
    """Demo honesty (issue 10): the real SCT case is a cord-level map, shown with its image
    and label QA result, never measured as bone; the demo's measured cases are the
    phantoms."""
    at = open_page("new_case")
    assert at.radio(key="newcase_source").value == "Demo image"
    at.selectbox(key="newcase_demo_image").set_value("DEMO-IMG-01")
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    assert [e.value.count("`cord_level_map`") for e in at.error] == [1]
    assert not [df for df in at.dataframe if "Level" in df.value.columns]
    assert at.image, "the slice viewer shows no image"
    assert at.segmented_control(key="newcase_viewer_plane").value == "sagittal"
    assert not [spec for spec, _ in charts_of(at) if "Spine: HI ratio" in json.dumps(spec)]
    at.selectbox(key="newcase_demo_image").set_value("DEMO-IMG-03")
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    levels = dataframe_with(at, "Level")
    assert list(levels["Level"]) == ["T11", "T12", "L1", "L2", "L3"]  # craniocaudal
    assert set(levels["Region"]) == {"thoracic", "lumbar"}
    spine = chart_rows(at, "Spine: HI ratio")
    assert [r["level"] for r in spine] == ["T11", "T12", "L1", "L2", "L3"]


def test_new_case_viewer_controls(env: Path) -> None:
    at = open_page("new_case")
    at.selectbox(key="newcase_demo_image").set_value("DEMO-IMG-02")  # 1 x 1 x 2 mm
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    first = at.image[0].value
    at.segmented_control(key="newcase_viewer_plane").set_value("axial").run()
    assert_ok(at)
    # The slider numbers slices from 1, as the caption does; the session keeps the index.
    slider = at.slider(key="newcase_viewer_slice_axial_number")
    assert (slider.min, slider.max) == (1, 275)  # 275 axial slices of the PAM50 crop
    assert slider.value == at.session_state["newcase_viewer_slice_axial"] + 1
    slider.set_value(101).run()
    assert at.session_state["newcase_viewer_slice_axial"] == 100
    assert_ok(at)
    at.slider(key="newcase_viewer_opacity").set_value(0.8).run()
    at.slider(key="newcase_viewer_window").set_value(50.0).run()
    assert_ok(at)
    assert at.image[0].value != first
    caption = at.image[0].captions[0] if at.image[0].captions else ""
    assert "Axial slice 101/275" in caption


def test_new_case_phantom_predict_and_save(env: Path) -> None:
    at = open_page("new_case")
    at.selectbox(key="newcase_demo_image").set_value("DEMO-IMG-03")
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    assert "SYNTHETIC" in html_text(at)
    assert int(metric(at, "Total lesions")) >= 2
    assert int(metric(at, "Lumbar lesions")) >= 1
    # No prediction before the clinical findings are given.
    assert "3 · Decision support" not in all_text(at)
    at.text_input(key="newcase_patient_id").input("SITE-APPTEST-1")
    at.number_input(key="newcase_age").set_value(63)
    at.selectbox(key="newcase_bilsky_grade").set_value("2")
    at.selectbox(key="newcase_pathologic_fracture").set_value(True)
    at.button(key="newcase_clinical_submit").click().run()
    assert_ok(at)
    text = all_text(at)
    assert "3 · Decision support" in text
    assert NOTICE in html_text(at)
    assert any("Bilsky" in e.value for e in at.error), "urgent override not shown"
    head = assert_headline_above_estimate(at, "override")
    assert "URGENT" in head and 'data-urgency="urgent"' in head
    assert "surgical_consultation" in recommendation_codes(at)
    assert "vertebral_augmentation" not in recommendation_codes(at)  # not beside ESCC
    probs = shown_probabilities(at)
    assert set(probs) == {"mild", "moderate", "severe"}
    assert abs(sum(probs.values()) - 1.0) < 1e-9
    assert at.checkbox(key="newcase_synthetic").value is True
    at.button(key="newcase_save").click().run()
    assert_ok(at)
    saved = [s.value for s in at.success if "Saved as study" in s.value]
    assert saved, [e.value for e in at.error]
    study_id = int(re.search(r"study \*\*(\d+)\*\*", saved[0]).group(1))
    record = store().get_study(study_id)
    assert record.patient_id == "SITE-APPTEST-1"
    assert record.synthetic
    assert record.image_path is not None and record.image_path.is_file()
    assert record.image_path.parent == env / "images"
    assert record.lesion_mask_path is not None and record.vertebrae_path is not None
    assert record.clinical["bilsky_grade"] == "2"
    assert [lv["level"] for lv in record.levels] == ["T11", "T12", "L1", "L2", "L3"]
    assert len(record.predictions) == 1
    assert record.predictions[0]["tier"] is not None
    assert any(link.proto.page == "tumor_board" for link in at.get("page_link"))
    # Saving the same patient and date again is refused with one sentence.
    at.button(key="newcase_save").click().run()
    assert_ok(at)
    assert any("already has a study" in e.value for e in at.error)


def test_new_case_upload_nifti_with_cord_level_labels_is_not_measured(env: Path) -> None:
    at = open_page("new_case")
    at.radio(key="newcase_source").set_value("Upload files").run()
    at.file_uploader(key="newcase_image").set_value(
        ("t2.nii.gz", (SCT_T2 / "t2.nii.gz").read_bytes(), "application/gzip"))
    at.file_uploader(key="newcase_vertebrae").set_value(
        ("levels.nii.gz", (SCT_T2 / "t2_seg-manual_labeled.nii.gz").read_bytes(),
         "application/gzip"))
    at.selectbox(key="newcase_convention").set_value("sct")
    at.run()
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "`cord_level_map`" in errors[0]
    assert not [df for df in at.dataframe if "Level" in df.value.columns]
    assert at.session_state["newcase_case"].metrics is None
    assert set(at.session_state["newcase_case"].level_names.values()) == {
        "C2", "C3", "C4", "C5"}


def test_new_case_bad_upload_is_one_sentence(env: Path) -> None:
    at = open_page("new_case")
    at.radio(key="newcase_source").set_value("Upload files").run()
    at.file_uploader(key="newcase_image").set_value(("scan.nii", b"not an image", "x/y"))
    at.run()
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    assert len(at.error) == 1
    message = at.error[0].value
    assert "Traceback" not in message and message.count("\n") == 0
    assert "newcase_case" not in at.session_state
    # The reason is shown on the page, not inside the collapsed status box.
    assert message.startswith("Could not read or measure the image:")
    assert not any(status.error for status in at.get("status")), "error hidden in status"


def test_new_case_dicom_zip_series_choice_and_no_phi(env: Path) -> None:
    from tests.data_io_helpers import PHI_STRINGS, SERIES_UID_2, dicom_series, zip_bytes

    files = dicom_series(8, 16, 12) + dicom_series(6, 10, 14, series_uid=SERIES_UID_2,
                                                    description="STIR SAG", seed=3)
    at = open_page("new_case")
    at.radio(key="newcase_source").set_value("Upload files").run()
    at.file_uploader(key="newcase_image").set_value(("study.zip", zip_bytes(files),
                                                     "application/zip"))
    at.run()
    assert_ok(at)
    series = at.selectbox(key="newcase_series")
    assert len(series.options) == 2
    assert any("STIR" in option for option in series.options)
    series.select_index(1).run()
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    assert at.image, "the DICOM series is not shown"
    assert any("without measurements" in i.value for i in at.info)
    text = all_text(at) + " ".join(str(o) for s in at.selectbox for o in s.options)
    leaked = [s for s in PHI_STRINGS if s in text]
    assert not leaked, leaked


def test_new_case_clinical_row_from_csv(env: Path) -> None:
    at = open_page("new_case")
    at.radio(key="newcase_clinical_mode").set_value("Row from a clinical table").run()
    header = ("patient_id,study_date,age,sex,vas,ecog,analgesic_step,bone_modifying_agent,"
              "prior_radiotherapy,pathologic_fracture,neurologic_deficit,sins_total,"
              "bilsky_grade,lesion_count,lesion_count_cervical,lesion_count_thoracic,"
              "lesion_count_lumbar,lesion_count_sacral,involved_levels,high_intensity_ratio,"
              "max_level_high_intensity_ratio")
    rows = ["SITE-9,2024-02-01,61,F,7,2,2,yes,no,yes,no,14,1b,5,0,1,4,0,3,0.12,0.4",
            "SITE-9,2024-05-01,61,F,,9,2,yes,no,yes,no,14,1b,5,0,1,4,0,3,0.12,0.4"]
    at.file_uploader(key="newcase_clinical_csv").set_value(
        ("clinical.csv", "\n".join([header, *rows]).encode(), "text/csv"))
    at.run()
    assert_ok(at)
    errors = dataframe_with(at, "reason")
    assert list(errors["row"]) == [3] and list(errors["column"]) == ["ecog"]
    assert at.selectbox(key="newcase_csv_row").options == ["row 2 · SITE-9 · 2024-02-01"]
    text = all_text(at)
    assert "3 · Decision support" in text
    assert any("SINS" in e.value for e in at.error), "SINS >= 13 override not shown"
    head = assert_headline_above_estimate(at, "override")
    assert "SINS total = 14" in head
    assert "Recorded VAS 7 (severe)" in html_text(at)  # beside the prediction
    assert any("yes/no" in w.value and "row(s) 2" in w.value for w in at.warning)
    assert at.checkbox(key="newcase_synthetic").value is False
    at.button(key="newcase_save").click().run()
    assert_ok(at)
    saved = [s.value for s in at.success if "Saved as study" in s.value]
    assert saved, [e.value for e in at.error]
    record = store().get_study(int(re.search(r"study \*\*(\d+)\*\*", saved[0]).group(1)))
    assert record.patient_id == "SITE-9" and not record.synthetic
    assert record.image_path is None
    assert record.imaging["lesion_count_lumbar"] == 4 and record.clinical["vas"] == 7


def test_new_case_form_three_state_deficit_and_banners(env: Path) -> None:
    """The form is the clinical schema's: the deficit in three states, today's regimen,
    SINS parts with the calculator's labels. A stable deficit takes no MSCC pathway; a
    new one is the urgent headline above the estimate."""
    at = open_page("new_case")
    deficit = at.selectbox(key="newcase_neurologic_deficit")
    assert list(deficit.options) == ["none", "stable (known, unchanged)", "new or progressive"]
    assert deficit.value is None and deficit.proto.placeholder == "not recorded"
    assert "current regimen" in at.selectbox(key="newcase_analgesic_step").label.lower()
    assert "2 mobile (C3-C6, L2-L4)" in at.selectbox(key="newcase_sins_location").options
    assert "1b" in at.selectbox(key="newcase_bilsky_grade").options[2]
    for column in ("prior_radiotherapy", "bone_modifying_agent", "neuropathic_pain",
                   "pathologic_fracture"):
        assert list(at.selectbox(key=f"newcase_{column}").options) == ["no", "yes"], column
    model_only = {"newcase_lesion_count_noncervical", "newcase_sins_without_pain"}
    assert not model_only & ({w.key for w in at.selectbox} | {w.key for w in at.number_input})
    at.text_input(key="newcase_patient_id").input("SITE-DEFICIT-1")
    deficit.set_value("stable")
    at.selectbox(key="newcase_analgesic_step").set_value(2)
    at.number_input(key="newcase_vas").set_value(9.0)
    at.button(key="newcase_clinical_submit").click().run()
    assert_ok(at)
    # No image measured and no imaging column: the no-lesion banner, not the model's.
    head = assert_headline_above_estimate(at, "no_lesion")
    assert "confirm" in head and "pain source" in head
    assert "mscc_pathway" not in recommendation_codes(at)
    assert any("Known, unchanged neurologic deficit" in i.value for i in at.info)
    assert "Recorded VAS 9 (severe)" in html_text(at)
    assert at.session_state["newcase_clinical"]["neurologic_deficit"] == "stable"
    at.selectbox(key="newcase_neurologic_deficit").set_value("new_or_progressive")
    at.button(key="newcase_clinical_submit").click().run()
    assert_ok(at)
    head = assert_headline_above_estimate(at, "override")
    assert "URGENT" in head and "dexamethasone" in head
    assert recommendation_codes(at)[:2] == ["mscc_pathway", "dexamethasone"]
    assert at.session_state["newcase_clinical"]["neurologic_deficit"] == "new_or_progressive"


def test_new_case_sins_opens_from_a_button_and_applies_with_the_form(env: Path) -> None:
    """The SINS parts sit in a popover of the form (drawn only when opened); what the
    form last applied is named below its button, and the parts reach the record."""
    at = open_page("new_case")
    popover = next(p for p in at.get("popover")
                   if p.proto.popover.label == "SINS parts and total")
    inside = {w.key for w in popover.get("selectbox")} | {
        w.key for w in popover.get("number_input")}
    assert inside == {"newcase_sins_location", "newcase_sins_pain", "newcase_sins_bone_lesion",
                      "newcase_sins_alignment", "newcase_sins_collapse",
                      "newcase_sins_posterolateral", "newcase_sins_total"}
    assert "In use: All not assessed." in [str(c.value) for c in at.caption]
    at.selectbox(key="newcase_sins_location").set_value(2)
    at.button(key="newcase_clinical_submit").click().run()
    assert_ok(at)
    assert at.session_state["newcase_clinical"]["sins_location"] == 2
    assert any(str(c.value).startswith("In use: SINS location: 2 mobile")
               and str(c.value).endswith("6 not assessed") for c in at.caption)


# --------------------------------------------------------------------------- tumor board


def test_tumor_board_list_shows_urgency_and_overrides(env: Path) -> None:
    from core.vocab import URGENCY_ORDER

    at = open_page("tumor_board")
    board_tab(at, "Case list")
    listed = dataframe_with(at, "Override")
    assert list(listed.columns[:4]) == ["Study", "Urgency", "Override", "Headline"]
    scored = _scored_without_streamlit()
    fired = set(scored[scored["headline_source"] == "override"]["study_id"].astype(int))
    assert fired, "the demo store has no override case"
    assert set(listed[listed["Override"] == "yes"]["Study"]) == fired
    headlines = dict(zip(scored["study_id"].astype(int), scored["headline"], strict=True))
    assert all(headlines[s] == h for s, h in zip(listed["Study"], listed["Headline"],
                                                 strict=True))
    ranks = [URGENCY_ORDER.index(u) for u in listed["Urgency"]]
    assert ranks == sorted(ranks, reverse=True)  # most urgent first
    for _, group in listed.groupby("Urgency", sort=False):  # then overrides first
        flags = list(group["Override"] == "yes")
        assert flags == sorted(flags, reverse=True)
    open_board_popovers(at)
    at.toggle(key="board_overrides_only").set_value(True).run()
    assert_ok(at)
    assert set(dataframe_with(at, "Override")["Study"]) == fired




def test_tumor_board_case_card(env: Path) -> None:
    at = open_page("tumor_board")
    studies = store().list_studies()
    imaging = studies[studies["patient_id"] == "DEMO-IMG-03"]
    study_id = int(imaging["study_id"].iloc[0])
    at.selectbox(key="board_study").set_value(study_id).run()
    assert_ok(at)
    assert f"Study {study_id} · DEMO-IMG-03" in html_text(at)
    assert at.image, "no key image"
    assert "most lesion voxels" in (at.image[0].captions[0] if at.image[0].captions else "")
    values = shown_probabilities(at)
    assert set(values) == {"mild", "moderate", "severe"}
    assert abs(sum(values.values()) - 1.0) < 1e-9
    rows = [r for r in chart_rows(at, "Effect on pain")
            if r.get("direction") in ("raises", "lowers")]
    assert rows, "SHAP waterfall has no feature bars"
    shap = [abs(r["shap"]) for r in rows if "other features" not in r["label"]]
    assert shap == sorted(shap, reverse=True)
    assert "Tier" in html_text(at)
    # The card opens with the advice's headline: right after its title, above the estimate.
    order = htmls(at)
    title = next(i for i, h in enumerate(order) if 'data-testid="board-card-title"' in h)
    head = next(i for i, h in enumerate(order) if 'data-testid="advice-headline"' in h)
    assert title < head
    from core.assess import assess
    from core.model import load_model

    expected = assess(load_model(), store().get_study(study_id).case())
    assert_headline_above_estimate(at, expected.tier.headline_source, estimate="board-pain")
    assert expected.tier.headline.split(":")[0] in html_text(at).replace("&#x27;", "'")
    assert recommendation_codes(at) == list(expected.tier.codes)
    assert "90 % set: " in html_text(at)
    # SHAP labels read clinical values, never model codes or column names.
    labels = [r["label"] for r in rows]
    assert not [lb for lb in labels if "_" in lb], labels


def test_tumor_board_clinical_findings_read_as_clinicians_write_them(env: Path) -> None:
    studies = store().list_studies()
    study_id = int(studies[studies["patient_id"] == "DEMO-IMG-03"]["study_id"].iloc[0])
    at = open_page("tumor_board")
    at.selectbox(key="board_study").set_value(study_id).run()
    assert_ok(at)
    assert not [d for d in at.dataframe if "Field" in d.value.columns]  # closed: not drawn
    open_board_popovers(at)
    table = dataframe_with(at, "Field")
    assert len(table) >= 5
    assert not [f for f in table["Field"] if "_" in f], list(table["Field"])
    yes_no_fields = {"Pathologic fracture", "Prior radiotherapy", "Bone-modifying agent"}
    values = set(table[table["Field"].isin(yes_no_fields)]["Value"])
    assert values and values <= {"yes", "no"}, values
    from core.vocab import ANALGESIC_STEPS, DEFICIT_LABELS, SINS_CHOICES, SINS_TITLES

    shown = dict(zip(table["Field"], table["Value"], strict=True))
    assert shown["Neurologic deficit"] in set(DEFICIT_LABELS.values())  # three states
    assert shown["Current WHO analgesic step"] in set(ANALGESIC_STEPS.values())
    for part, title in SINS_TITLES.items():  # SINS parts with the calculator's labels
        if title in shown:
            assert shown[title] in set(SINS_CHOICES[part].values()), (title, shown[title])
    assert not [v for v in shown.values() if "_" in str(v)], shown


def test_tumor_board_filters_and_search(env: Path) -> None:
    at = open_page("tumor_board")
    board_tab(at, "Case list")
    total = len(dataframe_with(at, "Study"))
    at.text_input(key="board_search").input("DEMO-IMG").run()
    assert_ok(at)
    listed = dataframe_with(at, "Study")
    assert set(listed["Patient"]) <= {f"DEMO-IMG-0{i}" for i in range(1, 6)}
    assert 1 <= len(listed) < total
    assert set(listed["Synthetic"]) == {"SYNTHETIC"}
    open_board_popovers(at)
    at.multiselect(key="board_region").set_value(["lumbar"]).run()
    assert_ok(at)
    listed = dataframe_with(at, "Study")
    assert list(listed["Patient"]) == ["DEMO-IMG-03"]
    at.toggle(key="board_synthetic").set_value(False).run()
    assert_ok(at)
    assert any("No study matches" in w.value for w in at.warning)


def test_tumor_board_history_chart(env: Path) -> None:
    studies = store().list_studies()
    counts = studies.groupby("patient_id")["study_id"].count()
    patient = counts[counts > 1].index[0]
    study_id = int(studies[studies["patient_id"] == patient]["study_id"].iloc[-1])
    at = open_page("tumor_board")
    at.selectbox(key="board_study").set_value(study_id).run()
    assert_ok(at)
    assert not [m for m in at.markdown if 'data-testid="history-chart"' in str(m.value)]
    board_tab(at, "History")  # drawn only while its tab is open
    assert_ok(at)
    svg = next(str(m.value) for m in at.markdown if 'data-testid="history-chart"' in str(m.value))
    dates = set(re.findall(r'data-series="expected_vas" data-date="([^"]+)"', svg))
    assert len(dates) == counts[patient]
    assert "Pain over time" in svg and "Burden over time" in svg
    assert not [spec for spec, _ in charts_of(at) if "Pain over time" in json.dumps(spec)]


@pytest.fixture()
def broken_store(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """A copy of the demo store in which one table-only study holds an impossible value
    (as a store written by an older version could): that study cannot be assessed.
    Returns its study id and patient id."""
    import sqlite3

    folder = tmp_path / "broken_store"
    shutil.copytree(env, folder)
    monkeypatch.setenv("SPINEPAIN_DATA_DIR", str(folder))
    studies = store().list_studies()
    row = studies[~studies["has_image"]].iloc[0]
    study_id = int(row["study_id"])
    with sqlite3.connect(folder / "cases.sqlite") as db:
        db.execute("UPDATE study_features SET involved_levels = 45 WHERE study_id = ?",
                   (study_id,))
        db.execute("DELETE FROM scores")  # an older store: no stored scores yet
    return study_id, str(row["patient_id"])


@pytest.mark.parametrize("name", ["tumor_board", "cohort"])
def test_studies_that_cannot_be_assessed_are_named_with_the_reason(
        broken_store: tuple[int, str], name: str) -> None:
    study_id, patient_id = broken_store
    at = open_page(name)
    assert any("could not be assessed" in w.value for w in at.warning), [
        w.value for w in at.warning]
    reasons = dataframe_with(at, "Reason")
    row = reasons[reasons["Study"] == study_id]
    assert len(row) == 1, reasons
    assert row["Patient"].iloc[0] == patient_id
    reason = str(row["Reason"].iloc[0])
    assert "involved_levels" in reason and "45" in reason
    assert reason.count(".") >= 1 and "\n" not in reason


# --------------------------------------------------------------------------- what-if


def _native(at: AppTest, kind: str) -> dict[str, dict]:
    """What-if's inputs of ``kind`` (``pair``: slider and box; ``choice``) as the browser
    gets them (:mod:`ui.input_group`): the component's data by input name."""
    found = [json.loads(e.proto.json) for e in at.get("bidi_component")
             if e.proto.component_name == "spinepain_input_group"]
    assert len(found) == 2, f"{len(found)} input groups"  # imaging; findings
    return {spec["name"]: spec for group in found for spec in group["inputs"]
            if spec["kind"] == kind}


def _paired(at: AppTest) -> dict[str, dict]:
    """What-if's slider-and-box inputs (:func:`_native`)."""
    return _native(at, "pair")


def board_tab(at: AppTest, name: str) -> None:
    """Open one of the Tumor board's tabs (only the open one is drawn; Explanation is
    open first) as a click does (the tab and its kept copy), and run."""
    from ui import board

    assert name in board.BOARD_TABS, name
    at.session_state[board.TAB_KEY] = name
    at.session_state[board.TAB_KEPT_KEY] = name
    at.run()


def open_board_popovers(at: AppTest) -> None:
    """Open the Tumor board's Filters and Clinical findings popovers (their contents
    exist only while open) as a click does."""
    from ui import board

    at.session_state[board.FILTERS_OPEN_KEY] = True
    at.session_state[board.CLINICAL_OPEN_KEY] = True
    at.run()


def _open_popovers(at: AppTest, is_open: bool = True) -> None:
    """Open (or close) What-if's popovers (their widgets exist only while open) as a
    click does, and run."""
    from ui import whatif

    for title, _, columns in whatif.GROUPS:
        if title in whatif.POPOVER_GROUPS:
            at.session_state[whatif.popover_key(columns)] = is_open
    at.run()


def _edit(at: AppTest, column: str, value: object) -> None:
    """Set an input of the group as its edit event does (``ui.input_group.apply_edit``,
    tested on its own; the browser test sends a real event) and run."""
    at.session_state[f"whatif_{column}"] = value
    at.run()


def test_what_if_has_a_widget_per_input(env: Path) -> None:
    """Widgets edit the case's inputs (never derived features); counts and % are a
    slider with a number box, the HI ratios in %."""
    from ui import whatif

    at = open_page("what_if")
    _open_popovers(at)  # the SINS and treatment widgets exist while their popover is open
    keys = {w.key for kind in ("slider", "select_slider", "segmented_control", "selectbox",
                               "number_input", "text_input")
            for w in getattr(at, kind) if w.key}
    paired = _paired(at)
    assert len(paired) == 8
    age = paired["whatif_age"]
    assert (age["min"], age["max"], age["step"]) == (18, 90, 1)  # MAX_AGE: de-identified
    assert age["value"] == round(age["value"])
    drawn = keys | set(paired) | set(_native(at, "choice"))
    assert {whatif.key(c) for c in whatif.widget_columns()} <= drawn
    assert not {"whatif_lesion_count", "whatif_sins_without_pain",
                "whatif_lumbar_involved"} & drawn
    choices = _native(at, "choice")
    assert list(choices) == [whatif.key(c) for c in ("ecog", "pathologic_fracture",
                                                     "neurologic_deficit", "bilsky_grade")]
    deficit = choices["whatif_neurologic_deficit"]
    assert deficit["options"] == ["none", "stable (known, unchanged)", "new or progressive"]
    assert deficit["value"] is None  # the blank case: not recorded, none picked
    assert choices["whatif_bilsky_grade"]["options"] == ["0", "1a", "1b", "1c", "2", "3"]
    hi = paired["whatif_high_intensity_ratio"]
    assert (hi["min"], hi["max"], hi["step"], hi["unit"]) == (0.0, 100.0, 0.1, "%")  # in %
    lumbar = paired["whatif_lesion_count_lumbar"]
    assert (lumbar["label"], lumbar["value"], lumbar["step"]) == ("Lumbar lesions", 0, 1)
    assert lumbar["help"]
    text = all_text(at)
    assert "changes the advice, never the prediction" in text


def test_what_if_lesion_slider_changes_prediction_and_reset(env: Path) -> None:
    at = open_page("what_if")
    assert at.selectbox(key="whatif_start").value == "blank"
    # A blank case has no lesion: its own banner asks to confirm the pain source.
    head = assert_headline_above_estimate(at, "no_lesion")
    assert "confirm" in head and "pain source" in head
    assert recommendation_codes(at)[0] == "confirm_pain_source"
    before = float(metric(at, "Expected VAS"))
    _edit(at, "lesion_count_lumbar", 6)
    _edit(at, "high_intensity_ratio", 30.0)
    assert_ok(at)
    after = float(metric(at, "Expected VAS"))
    assert after > before  # monotone model: more lumbar lesions never lower pain
    assert _paired(at)["whatif_lesion_count_lumbar"]["value"] == 6  # drawn back
    assert _paired(at)["whatif_high_intensity_ratio"]["value"] == 30.0
    changed = dataframe_with(at, "Finding")
    assert {"Lumbar lesions", "Metastatic sites (all levels)",
            "Lumbar or sacral sites"} <= set(changed["Finding"])
    hi = changed[changed["Finding"] == "HI ratio (overall) (%)"]
    assert list(hi["What-if"]) == ["30.0%"]  # HI ratio in %
    assert any("Involved levels set to 1" in c.value for c in at.caption)
    deltas = [float(d) for markup in htmls(at) if 'data-testid="delta-bars"' in markup
              for d in re.findall(r'data-delta-pp="([^"]+)"', markup)]
    assert len(deltas) == 3 and any(d != 0 for d in deltas), deltas
    assert abs(sum(deltas)) < 1e-9  # the probabilities still add up to one
    assert 'data-source="no_lesion"' not in headline_html(at)  # a lesion now
    at.button(key="whatif_reset").click().run()
    assert_ok(at)
    assert at.session_state["whatif_lesion_count_lumbar"] == 0
    assert _paired(at)["whatif_lesion_count_lumbar"]["value"] == 0
    assert float(metric(at, "Expected VAS")) == pytest.approx(before)


def test_what_if_a_count_beyond_the_slider_widens_it_and_ratios_stay_in_percent(
        env: Path) -> None:
    at = open_page("what_if")
    assert _paired(at)["whatif_lesion_count_thoracic"]["slider_max"] == 40
    _edit(at, "lesion_count_thoracic", 55)
    assert_ok(at)
    thoracic = _paired(at)["whatif_lesion_count_thoracic"]
    assert thoracic["value"] == 55 and thoracic["max"] >= 55  # the box takes it, the
    # browser's slider ends at max(slider_max, value)
    _edit(at, "max_level_high_intensity_ratio", 42.5)
    assert_ok(at)
    assert _paired(at)["whatif_max_level_high_intensity_ratio"]["value"] == 42.5
    changed = dataframe_with(at, "Finding")
    worst = changed[changed["Finding"] == "HI ratio (worst level) (%)"]
    assert list(worst["What-if"]) == ["42.5%"]


def _demo_img_04(at: AppTest) -> int:
    studies = store().list_studies()
    study_id = int(studies[studies["patient_id"] == "DEMO-IMG-04"]["study_id"].iloc[0])
    at.selectbox(key="whatif_start").set_value(str(study_id)).run()
    assert_ok(at)
    return study_id


def test_what_if_from_stored_case_and_safety_override(env: Path) -> None:
    at = open_page("what_if")
    _demo_img_04(at)
    assert _paired(at)["whatif_lesion_count_thoracic"]["value"] >= 1
    assert "SYNTHETIC" in html_text(at)
    _edit(at, "neurologic_deficit", "stable")
    assert_ok(at)
    assert _native(at, "choice")["whatif_neurologic_deficit"]["value"] == 1  # drawn back
    assert "same-day" not in headline_html(at)
    assert "mscc_pathway" not in recommendation_codes(at)  # a stable deficit: no pathway
    _edit(at, "neurologic_deficit", "new_or_progressive")
    assert_ok(at)
    assert any("neurologic deficit" in e.value.lower() for e in at.error)
    # Override reasons name the finding by its label, never the raw column name.
    reasons = " ".join(e.value for e in at.error)
    assert "Neurologic deficit = new or progressive" in reasons
    assert "neurologic_deficit" not in reasons
    head = assert_headline_above_estimate(at, "override")
    assert "URGENT" in head and "dexamethasone" in head
    assert {"mscc_pathway", "dexamethasone"} <= set(recommendation_codes(at))


def test_what_if_treatment_context_changes_the_advice_not_the_prediction(env: Path) -> None:
    at = open_page("what_if")
    _demo_img_04(at)
    _open_popovers(at)
    step = at.segmented_control(key="whatif_analgesic_step")
    new_step = 0 if step.value == 3 else 3
    probabilities = shown_probabilities(at)
    vas = metric(at, "Expected VAS")
    advice_before = next(h for h in htmls(at) if 'data-testid="recommendations"' in h)
    step.set_value(new_step).run()
    assert_ok(at)
    assert shown_probabilities(at) == probabilities
    assert metric(at, "Expected VAS") == vas
    advice_after = next(h for h in htmls(at) if 'data-testid="recommendations"' in h)
    assert advice_after != advice_before
    assert analgesic_item(advice_after) != analgesic_item(advice_before)
    if new_step == 3:  # never a step down
        assert "analgesic_escalate" not in recommendation_codes(at)
    assert any("the prediction did not" in w.value for w in at.warning)
    changed = dataframe_with(at, "Finding")
    row = changed[changed["Finding"] == "Current regimen (WHO analgesic step)"]
    assert list(row["Used for"]) == ["advice only"]
    for kind in ("prior_radiotherapy", "bone_modifying_agent", "neuropathic_pain"):
        at.segmented_control(key=f"whatif_{kind}").set_value("yes").run()
        assert_ok(at)
        assert metric(at, "Expected VAS") == vas, kind


def test_recommendations_cite_numbered_references_in_order_of_first_use(env: Path) -> None:
    """Each recommendation's marks number the references under it (a native disclosure in
    the same block): first use first, every reference cited, the full citation shown."""
    from core.tiers import REFERENCES

    at = open_page("what_if")
    _demo_img_04(at)
    _edit(at, "neurologic_deficit", "new_or_progressive")  # an override with its own refs
    block = next(h for h in htmls(at) if 'data-testid="recommendations"' in h)
    marks = [int(n) for group in re.findall(r"<sup>\[([0-9, ]+)\]</sup>", block)
             for n in group.split(", ")]
    summary = re.search(r"<summary>References \((\d+)\)</summary><ol>(.*?)</ol>", block)
    assert summary, block
    cited = re.findall(r"<li>(.*?)</li>", summary.group(2))
    assert int(summary.group(1)) == len(cited) >= max(marks)
    first_use = list(dict.fromkeys(marks))
    assert first_use == list(range(1, len(first_use) + 1))  # numbered as first cited
    known = {html.escape(ref) for ref in REFERENCES.values()}
    assert set(cited) <= known and len(set(cited)) == len(cited)
    assert not at.get("expander")  # no Streamlit expander drawn on every run


def analgesic_item(block: str) -> str:
    """The analgesic recommendation (``<li data-code="analgesic_...">``) of a list."""
    found = re.search(r'<li data-code="analgesic_[a-z_]+".*?</li>', block)
    assert found, block
    return found.group(0)


def test_what_if_recorded_vas_discordance(env: Path) -> None:
    at = open_page("what_if")
    category = metric(at, "Predicted category")
    assert category != "severe"
    assert "Recorded VAS not recorded" in html_text(at)
    _open_popovers(at)
    at.number_input(key="whatif_vas").set_value(9.5).run()
    assert_ok(at)
    assert "Recorded VAS 9.5 (severe)" in html_text(at)
    sentences = [w.value for w in at.warning if w.value.startswith("Recorded VAS 9.5")]
    assert sentences and "higher than the predicted" in sentences[0]
    assert metric(at, "Predicted category") == category  # the VAS is never a model input


def test_widget_values_survive_a_page_switch(env: Path) -> None:
    """Tumor board filters and presented case, and the what-if inputs, are still there
    after a visit to another page (Streamlit drops undrawn widgets' values otherwise)."""
    studies = store().list_studies()
    study_id = int(studies[studies["patient_id"] == "DEMO-IMG-04"]["study_id"].iloc[0])
    at = open_page("tumor_board")
    board_tab(at, "Case list")
    at.text_input(key="board_search").input("DEMO-IMG").run()
    at.selectbox(key="board_study").set_value(study_id).run()
    at.toggle(key="board_projection").set_value(False).run()
    at.switch_page(PAGES["what_if"]).run()
    at.selectbox(key="whatif_start").set_value(str(study_id)).run()
    _edit(at, "lesion_count_lumbar", 4)
    at.switch_page(PAGES["home"]).run()
    at.switch_page(PAGES["tumor_board"]).run()
    assert_ok(at)
    assert at.text_input(key="board_search").value == "DEMO-IMG"
    assert at.selectbox(key="board_study").value == study_id
    assert at.toggle(key="board_projection").value is False
    at.switch_page(PAGES["what_if"]).run()
    assert_ok(at)
    assert at.selectbox(key="whatif_start").value == str(study_id)
    assert _paired(at)["whatif_lesion_count_lumbar"]["value"] == 4
    assert any(r["Finding"] == "Lumbar lesions" for r in
               dataframe_with(at, "Finding").to_dict(orient="records"))


def test_new_case_form_survives_a_page_switch_and_shows_not_recorded(env: Path) -> None:
    at = open_page("new_case")
    at.text_input(key="newcase_patient_id").input("SITE-0042")
    at.selectbox(key="newcase_ecog").set_value(2)
    at.button(key="newcase_clinical_submit").click().run()
    assert_ok(at)
    at.switch_page(PAGES["home"]).run()
    at.switch_page(PAGES["new_case"]).run()
    assert_ok(at)
    assert at.text_input(key="newcase_patient_id").value == "SITE-0042"
    assert at.selectbox(key="newcase_ecog").value == 2
    # An optional choice left empty reads "not recorded" (a placeholder, value None).
    sex = at.selectbox(key="newcase_sex")
    assert sex.value is None and sex.proto.placeholder == "not recorded"


# --------------------------------------------------------------------------- cohort


def test_cohort_spearman_matches_scipy(env: Path) -> None:
    from scipy.stats import spearmanr

    at = open_page("cohort")
    regions = dataframe_with(at, "Region group")  # the first section: pain by region
    assert "lumbar" in set(regions["Region group"])
    n_charts = 0
    for section in cohort_sections(at):
        n_charts += len(section.get("vega_lite_chart"))
        if at.session_state["cohort_section"] == "burden":
            shown = float(metric(at, "Spearman r (lesions vs HI ratio)"))
            spearman_lines = [m.value for m in at.markdown]
    frame = store().list_studies()[["lesion_count", "high_intensity_ratio"]].dropna()
    expected = spearmanr(frame["lesion_count"], frame["high_intensity_ratio"]).statistic
    assert shown == pytest.approx(expected, abs=0.005)
    assert any(m.startswith("**Spearman** r = ") for m in spearman_lines)
    assert n_charts >= 7


def test_cohort_filters(env: Path) -> None:
    at = open_page("cohort")
    at.radio(key="cohort_data").set_value("site").run()
    assert_ok(at)
    assert any("Too few studies" in w.value for w in at.warning)
    at.radio(key="cohort_data").set_value("all").run()
    at.multiselect(key="cohort_region").set_value(["lumbar"]).run()
    assert_ok(at)
    regions = dataframe_with(at, "Region group")
    assert set(regions["Region group"]) == {"lumbar"}


# --------------------------------------------------------------------------- model


def test_model_card_shown(env: Path) -> None:
    at = open_page("model")
    card = json.loads((REPO / "models" / "demo" / "model_card.json").read_text())
    assert card["version"] in html_text(at)
    metrics = dataframe_with(at, "Candidate")
    assert len(metrics) == len(card["selection"]["candidates"])
    assert {"Balanced accuracy", "AUC macro"} <= set(metrics.columns)
    assert not any("_" in str(col) for col in metrics.columns), list(metrics.columns)
    features = dataframe_with(at, "Unit")
    assert len(features) == len(card["features"])
    reliability = dataframe_with(at, "Observed fraction")  # the diagram is an image
    assert set(reliability["Category"]) == {"mild", "moderate", "severe"}
    assert len(at.get("image")) >= 2
    assert "SYNTHETIC" in html_text(at)
    at.segmented_control(key="model_section").set_value("design").run()  # the design part
    assert_ok(at)
    excluded = dataframe_with(at, "Left out of the model")
    assert len(excluded) == len(card["excluded_predictors"]["fields"])
    assert "Current WHO analgesic step" in set(excluded["Left out of the model"])
    assert not [v for v in excluded["Left out of the model"] if "_" in v]
    inclusion = dataframe_with(at, "Why it may predict pain")
    assert len(inclusion) == len(card["features"])
    alpha = dataframe_with(at, "Penalty α")
    assert [a for a in alpha["Penalty α"] if "(chosen)" in a] == [
        f"{card['model']['alpha']:g} (chosen)"]
    floors = dataframe_with(at, "Never below (weight per SD)")
    assert "Metastatic sites (all levels)" in set(floors["Predictor"])
    assert metric(at, "Target coverage") == "90.0%"
    ranges = dataframe_with(at, "Lowest in training")
    bilsky = ranges[ranges["Predictor"] == "Bilsky grade"]
    assert list(bilsky["Highest in training"]) == ["3"]  # a grade, not the model code 5
    text = all_text(at)
    assert "Mahalanobis" in text and "90 % set" in text


def test_model_retraining_validation_and_selection(env: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from ui import session

    models = tmp_path / "models"
    shutil.copytree(REPO / "models" / "demo", models / "demo")
    monkeypatch.setattr(session, "MODELS_DIR", models)
    cohort = pd.read_csv(REPO / "data" / "demo" / "cohort.csv", dtype=str,
                         keep_default_na=False)
    cohort = cohort[cohort["patient_id"].isin(sorted(cohort["patient_id"].unique())[:70])]
    cohort.iloc[3, cohort.columns.get_loc("ecog")] = "7"
    data = cohort.to_csv(index=False).encode()

    at = open_page("model")
    at.segmented_control(key="model_section").set_value("train").run()
    at.file_uploader(key="model_train_file").set_value(("site.csv", data, "text/csv"))
    at.run()
    assert_ok(at)
    errors = dataframe_with(at, "reason")
    assert list(errors["row"]) == [5] and list(errors["column"]) == ["ecog"]
    at.text_input(key="model_train_name").input("site-apptest")
    at.button(key="model_train_button").click().run()
    assert_ok(at)
    assert any("invalid values" in e.value for e in at.error)
    assert not (models / "site-apptest").exists()
    at.checkbox(key="model_train_valid_only").check()
    at.radio(key="model_train_cv").set_value("quick")
    at.button(key="model_train_button").click().run()
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    card = json.loads((models / "site-apptest" / "model_card.json").read_text())
    assert card["training_data"]["n_rows"] == len(cohort) - 1
    assert card["synthetic"] is True  # every uploaded row is marked synthetic
    at.button(key="model_use_trained").click().run()
    assert_ok(at)
    assert card["version"] in html_text(at)
    assert session.ACTIVE_MODEL_KEY in at.session_state
    assert Path(at.session_state[session.ACTIVE_MODEL_KEY]).name == "site-apptest"
    # A second model with the same name is refused (versioned, never overwritten).
    at.file_uploader(key="model_train_file").set_value(("site.csv", data, "text/csv"))
    at.run()
    at.checkbox(key="model_train_valid_only").check()
    at.text_input(key="model_train_name").input("site-apptest")
    at.button(key="model_train_button").click().run()
    assert_ok(at)
    assert any("already exists" in e.value for e in at.error)


# --------------------------------------------------------------------------- report


def test_report_downloads(env: Path) -> None:
    studies = store().list_studies()
    study_id = int(studies[studies["patient_id"] == "DEMO-IMG-03"]["study_id"].iloc[0])
    at = open_page("report")
    at.selectbox(key="report_study").set_value(study_id).run()
    assert_ok(at)
    keys = {b.key for b in at.get("download_button")}
    assert {"report_download_html", "report_download_pdf"} <= keys
    assert "SYNTHETIC" in html_text(at)
    from core.assess import assess
    from core.model import load_model

    expected = assess(load_model(), store().get_study(study_id).case())
    assert_headline_above_estimate(at, expected.tier.headline_source)
    assert "90 % set: " in html_text(at)


def test_the_report_files_are_made_when_downloaded_and_their_exports_audited(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Picking a study builds its HTML report only; the PDF is built when its button is
    pressed (the button's data is a callable) and that export is audited with the SHA-256
    of the very bytes handed over."""
    import hashlib

    from ui import reporting

    built: list[str] = []
    real = reporting.build_report_pdf

    def counted(ctx):
        built.append(ctx.study_id)
        return real(ctx)

    monkeypatch.setattr(reporting, "build_report_pdf", counted)
    studies = store().list_studies()
    study_id = int(studies[studies["patient_id"] == "DEMO-IMG-02"]["study_id"].iloc[0])
    at = open_page("report")
    at.selectbox(key="report_study").set_value(study_id).run()
    assert_ok(at)
    assert "report_download_pdf" in {b.key for b in at.get("download_button")}
    assert built == []
    data = reporting.pdf_download(study_id, reporting.report_files(study_id))()
    assert data.startswith(b"%PDF") and built == [str(study_id)]
    entry = store().audit_log().iloc[-1]
    assert entry["action"] == "export" and entry["target"] == f"study {study_id}"
    assert entry["details"]["kind"] == "report-pdf"
    assert entry["details"]["sha256"] == hashlib.sha256(data).hexdigest()
    # neither button reruns the page when pressed, so a click on the other one during
    # that rerun cannot be lost; the HTML export is audited in its download too
    buttons = {b.key: b for b in at.get("download_button")}
    assert {buttons[k].proto.ignore_rerun
            for k in ("report_download_html", "report_download_pdf")} == {True}
    exports = len(store().audit_log())
    html = reporting.html_download(study_id, reporting.report_files(study_id))()
    assert html == reporting.report_files(study_id).html.encode("utf-8")
    log = store().audit_log()
    assert len(log) == exports + 1
    entry = log.iloc[-1]
    assert entry["details"]["kind"] == "report-html"
    assert entry["details"]["sha256"] == hashlib.sha256(html).hexdigest()


def test_report_files_content(env: Path) -> None:
    from ui import reporting

    studies = store().list_studies()
    study_id = int(studies[studies["patient_id"] == "DEMO-IMG-03"]["study_id"].iloc[0])
    ctx = reporting.build_context(study_id)
    assert ctx.synthetic and ctx.key_image_png is not None
    assert ctx.key_image_png.startswith(b"\x89PNG")
    assert [lv["level"] for lv in ctx.metrics["levels"]] == ["T11", "T12", "L1", "L2", "L3"]
    assert set(ctx.prediction["probabilities"]) == {"mild", "moderate", "severe"}
    from core.report import build_report_html, build_report_pdf

    report = build_report_html(ctx)
    assert "SYNTHETIC DATA" in report
    assert build_report_pdf(ctx).startswith(b"%PDF")
    # The report opens with the same assessment as the page: set, coverage, OOD.
    assert ctx.assessment["prediction_set"] and ctx.assessment["coverage"] == 0.9
    assert set(ctx.assessment) >= {"ood", "recorded_vas", "discordant", "context_warnings"}
    import html as html_lib

    assert html_lib.escape(ctx.tier["headline"]) in report
    assert "Prediction set (coverage 90%)" in report


# --------------------------------------------------------------------------- pure helpers


def test_charts_compile_with_vega_lite(env: Path) -> None:
    """Every chart compiles in Vega-Lite (AppTest does not render them)."""
    import vl_convert as vlc

    from core.assess import assess
    from core.model import load_model
    from ui import charts, cohort, cohort_charts

    frame = cohort.with_bins(_scored_without_streamlit())
    record = store().get_study(int(frame[frame["has_image"]]["study_id"].iloc[0]))
    model = load_model()
    result = assess(model, record.case())
    _, line = cohort.theil_sen_line(frame)
    built = [
        charts.spine_diagram(list(record.levels)),
        charts.shap_waterfall(result.explanation.to_dict()),
        charts.rank_scatter(charts.rank_scatter_frame(frame), line),
        cohort_charts.binned_rank_chart(cohort.burden_cells(frame), line),
        charts.mean_ci_bars(cohort.bin_means(frame, "count_bin"), title="t", bin_title="b"),
        charts.advice_distribution(cohort.advice_counts(frame)),
        charts.category_agreement(cohort.category_counts(frame)),
        charts.reliability_diagram(model.card["calibration"]["classes"]),
        charts.coefficient_bars(model.card["model"]["coefficients"], {}),
    ]
    for chart in built:
        svg = vlc.vegalite_to_svg(chart.to_json())
        assert svg.startswith("<svg")


def _scored_without_streamlit():
    from core.assess import assess_frame
    from core.model import load_model

    return assess_frame(load_model(), store().list_studies())


def test_chart_layout_details() -> None:
    """Legends and labels that used to collide or read as raw column names."""
    from ui import charts

    levels = [{"level": name, "region": "cervical", "vertebra_volume_ml": 1.0,
               "high_intensity_volume_ml": 0.0, "high_intensity_ratio": 0.0,
               "lesion_count": 0} for name in ("C2", "C3", "C4", "C5")]
    spine = charts.spine_diagram(levels).to_dict()
    legends = [layer["encoding"]["color"].get("legend") for layer in spine["layer"]
               if "field" in layer.get("encoding", {}).get("color", {})]
    assert legends and all(lg and lg["orient"] == "bottom" for lg in legends), legends
    import pandas as pd

    table = pd.DataFrame({"group": ["0", "1"], "n": [2, 2], "mean": [2.0, 3.0],
                          "ci_low": [-10.7, -9.7], "ci_high": [14.7, 15.7]})
    binned = charts.mean_ci_bars(table, title="t", bin_title="b").to_dict()
    titles = {layer["encoding"]["y"].get("title") for layer in binned["layer"]
              if "y" in layer["encoding"] and "field" in layer["encoding"]["y"]}
    assert titles == {"Mean pain (VAS); bars: 95 % CI, Student t", None}, titles


def test_viewer_physical_aspect_and_orientation() -> None:
    from ui.slice_render import ORIENTATION_LABELS, key_slice, plane_slice, render_slice

    vol = np.zeros((10, 20, 30), dtype=np.float32)  # z, y, x
    vol[9, :, :] = 100.0  # most superior slice bright
    vol[:, 0, :] += 50.0  # most anterior row brighter
    spacing = (1.0, 1.0, 4.0)  # x, y, z: thick slices
    sag = plane_slice(vol, "sagittal", 0)
    assert sag.shape == (10, 20) and sag[0, 5] == 100.0  # superior on top
    assert plane_slice(vol, "coronal", 0)[0, 0] == 150.0
    out = render_slice(vol, spacing, "sagittal", 5, window=100, level=50,
                       orientation_labels=False, min_aspect=0.0)
    rows, cols = out.rgb.shape[:2]
    # 10 slices x 4 mm = 40 mm tall, 20 x 1 mm = 20 mm wide -> twice as tall as wide.
    assert rows / cols == pytest.approx(2.0, rel=0.02)
    assert out.rgb[1, cols // 2, 0] == 255  # bright top = superior
    assert out.rgb[-1, cols // 2, 0] == 0
    assert out.rgb[-1, 0, 0] == 127  # anterior column (+50) on the viewer's left
    assert ORIENTATION_LABELS["sagittal"] == ("S", "I", "A", "P")
    lesions = np.zeros(vol.shape, dtype=np.uint8)
    lesions[3:5, 4:8, 17] = 1
    assert key_slice("sagittal", vol.shape, lesions=lesions) == 17
    with pytest.raises(ValueError, match="outside"):
        plane_slice(vol, "axial", 10)
