"""AppTests of the surveillance and teaching pages and the cohort analytics fixes (issue 13).

The app runs on a small demo store plus one patient with three studies measured level by
level (so per-level changes and level-named alerts show), built once per module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.teaching import FINDINGS
from core.vocab import URGENCY_ORDER
from tests.conftest import app_env, store_env_cleared
from tests.html_tables import page_tables
from tests.test_app_pages import (
    APP,
    NOTICE,
    TIMEOUT,
    all_text,
    assert_ok,
    charts_of,
    cohort_sections,
    html_text,
    open_path,
    svg_figures,
)
from tests.test_store_surveillance import CLINICAL, FIRST, SECOND, level, metrics

N_PATIENTS = 24
LEVELS_PATIENT = "SV-LEVELS-1"
THIRD = [level("T12", "thoracic", 0.36, 1), level("L1", "lumbar", 0.13, 1),
         level("L2", "lumbar", 0.0, 0)]


@pytest.fixture(scope="module")
def teach_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.demo import build_demo_store
    from core.store import CaseStore

    folder = tmp_path_factory.mktemp("teach_store")
    url = f"sqlite:///{folder / 'cases.sqlite'}"
    with store_env_cleared():
        build_demo_store(url, n_patients=N_PATIENTS, data_dir=folder)
        with CaseStore(url, data_dir=folder) as store:
            for date, levels, vas in (("2024-01-10", FIRST, 4), ("2024-04-10", SECOND, 8),
                                      ("2024-07-10", THIRD, 8)):
                store.save_case(LEVELS_PATIENT, date, clinical={**CLINICAL, "vas": vas},
                                metrics=metrics(levels), synthetic=True, actor="test")
    return folder


@pytest.fixture()
def env(teach_store: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with app_env(teach_store, monkeypatch) as folder:
        yield folder


def chart_titles(at: AppTest) -> list[str]:
    return [json.dumps(spec.get("title", "")) + json.dumps([v.get("title", "") for v in
                                                            spec.get("vconcat", [])])
            for spec, _ in charts_of(at)]


#: A read-only ``st.dataframe`` has no element id in AppTest (its key only becomes one with
#: selections on), so a table is found by a column only it has: ``key -> (column, nth)``.
TABLE_COLUMNS = {
    "surv_studies": ("HI ratio worst level", 0),
    "surv_level_changes": ("Above the level threshold", 0), "surv_earlier": ("What", 0),
    "surv_region_changes": ("Lesions before", 0), "surv_worklist": ("VAS / expected", 0),
    "teach_compare_a": ("Value", 0), "teach_compare_b": ("Value", 1),
    "teach_quiz_case": ("Value", 0), "teach_diff_table": ("Difference", 0),
    "teach_library": ("Difficulty", 0), "cohort_pairwise_table": ("p (Holm)", 0),
}


def dataframe_keyed(at: AppTest, key: str):
    column, nth = TABLE_COLUMNS[key]
    found = [frame for frame in page_tables(at) if column in frame.columns]
    assert len(found) > nth, f"no table {key!r} (no dataframe with a column {column!r})"
    return found[nth]


# ---------------------------------------------------------------------- surveillance


def test_surveillance_page_patient_timeline(env: Path) -> None:
    at = open_path("pages/surveillance.py")
    assert at.title[0].value == "Pain surveillance"
    assert NOTICE in html_text(at)
    picker = at.selectbox(key="surv_patient")
    assert picker.options[0].split(" · ")[1].startswith(("4 studies", "3 studies"))
    picker.set_value(LEVELS_PATIENT).run()
    assert_ok(at)
    assert [m.value for m in at.metric if m.label == "Studies"] == ["3"]
    assert [m.value for m in at.metric if m.label == "Follow-up"] == ["6 months"]
    assert "Studies from 2024-01-10 to 2024-07-10." in [str(x.value) for x in at.caption]
    timeline = next(m.value for m in at.markdown
                    if 'data-testid="surveillance-timeline"' in m.value)
    assert all(t in timeline for t in ("Lesions by region", "HI ratio", "Pain: recorded"))
    assert timeline.count('data-series="recorded_vas"') == 3  # one point per study
    studies = dataframe_keyed(at, "surv_studies")
    assert list(studies["Study date"]) == ["2024-01-10", "2024-04-10", "2024-07-10"]
    assert list(studies["HI ratio worst level"]) == ["20.0%", "35.0%", "36.0%"]
    # the latest study: recorded 8 against an expectation below 6 -> pain alert at least
    text = all_text(at)
    assert "Alert rules and thresholds" in [e.label for e in at.expander]
    rules = [t.value for t in at.table if "Fires when" in t.value.columns]
    assert len(rules) == 1 and "2 percentage points" in json.dumps(rules[0].to_dict())
    # changes of the second study: L1 new, T12 above the level threshold, named
    study = at.selectbox(key="surv_change_study")
    assert study.options == ["2024-07-10 (study 3)", "2024-04-10 (study 2)"]
    study.select_index(1).run()
    assert_ok(at)
    changes = dataframe_keyed(at, "surv_level_changes").set_index("Level")
    assert changes.loc["L1", "Change"] == "new"
    assert changes.loc["T12", "Above the level threshold"] == "yes"
    assert changes.loc["T12", "HI ratio now"] == "35.0%"
    earlier = dataframe_keyed(at, "surv_earlier")
    assert any("New involved level(s): L1" in s for s in earlier["What"])
    assert any("HI ratio rose at T12 (20.0% \u2192 35.0%)" in s for s in earlier["What"])
    assert "Per-level measurements are stored only" not in text
    keys = {b.key for b in at.get("download_button")}
    assert {"surv_timeline_csv", "surv_timeline_png", "surv_timeline_svg",
            "surv_level_map_csv"} <= keys


def test_surveillance_table_patient_shows_changes_by_region(env: Path) -> None:
    at = open_path("pages/surveillance.py")
    options = at.selectbox(key="surv_patient").options
    demo = next(o for o in options if o.split(" · ")[0].endswith(("DEMO-0001", "DEMO-0002"))
                or (" · 3 studies" in o and LEVELS_PATIENT not in o))
    at.selectbox(key="surv_patient").set_value(demo.split(" · ")[0].replace(
        "[SYNTHETIC] ", "")).run()
    assert_ok(at)
    assert "Per-level measurements are stored only" in all_text(at)
    regions = dataframe_keyed(at, "surv_region_changes")
    assert list(regions["Region"]) == ["cervical", "thoracic", "lumbar", "sacral"]


def test_surveillance_worklist_filters_and_pages(env: Path) -> None:
    at = open_path("pages/surveillance.py")
    at.radio(key="surv_view").set_value("Cohort worklist").run()
    assert_ok(at)
    table = dataframe_keyed(at, "surv_worklist")
    assert len(table) > 0 and list(table.columns)[:3] == ["Patient", "Priority", "Alerts"]
    ranks = [URGENCY_ORDER.index(p) for p in table["Priority"]]
    assert ranks == sorted(ranks, reverse=True)  # most urgent first
    at.multiselect(key="surv_codes").set_value(["pain_above_expected"]).run()
    assert_ok(at)
    filtered = dataframe_keyed(at, "surv_worklist")
    assert all("Pain above the model's expectation" in a for a in filtered["Alerts"])
    at.multiselect(key="surv_codes").set_value([]).run()
    at.radio(key="surv_scope").set_value("any").run()
    at.selectbox(key="surv_page_size").set_value(10).run()
    assert_ok(at)
    first = list(dataframe_keyed(at, "surv_worklist")["Patient"])
    assert len(first) == 10
    caption = next(c.value for c in at.caption if str(c.value).startswith("Page 1 of"))
    n_pages = int(re.search(r"Page 1 of (\d+)", caption).group(1))
    assert n_pages >= 2
    at.number_input(key="surv_page").set_value(2).run()
    assert_ok(at)
    second = list(dataframe_keyed(at, "surv_worklist")["Patient"])
    assert second and not set(second) & set(first)
    chosen = at.selectbox(key="surv_open_choice").value
    at.button(key="surv_open").click().run()
    assert_ok(at)
    assert at.radio(key="surv_view").value == "Patient timeline"
    assert at.selectbox(key="surv_patient").value == chosen


# -------------------------------------------------------------------------- teaching


def test_teaching_walkthrough_steps_through_three_findings(env: Path) -> None:
    at = open_path("pages/teaching.py")
    assert at.title[0].value == "Teaching"
    assert NOTICE in html_text(at)
    seen = []
    for step in range(3):
        seen.append(at.subheader[0].value)
        text = all_text(at)
        assert "Int J Med Sci 2025;22(3):708-715" in text
        assert "45 patients" in text and "synthetic" in text
        assert "What to look for" in text
        assert charts_of(at) or svg_figures(at), f"no chart at step {step + 1}"
        if step < 2:
            at.button(key="teach_next").click().run()
            assert_ok(at)
    assert seen == [f.title for f in FINDINGS]
    assert at.button(key="teach_next").disabled
    assert "Pain by HI ratio" in " ".join(chart_titles(at))


def test_teaching_compare_two_cases(env: Path) -> None:
    at = open_path("pages/teaching.py")
    at.radio(key="teach_section").set_value("Compare two cases").run()
    assert_ok(at)
    pair = at.selectbox(key="teach_pair").value
    assert " (lumbar, " in pair and " (thoracic only, " in pair
    a = dataframe_keyed(at, "teach_compare_a").set_index("Finding")["Value"]
    assert a["HI ratio (overall)"].endswith("%")
    assert a["Pathologic fracture"] in ("yes", "no")
    diff = dataframe_keyed(at, "teach_diff_table")
    assert {"Feature", "Group", "Difference"} <= set(diff.columns)
    assert set(diff["Group"]) == {"imaging burden", "clinical findings"}
    assert "patient" not in " ".join(diff.columns).lower()
    assert {"teach_grouped_diff_csv", "teach_feature_diff_png"} <= {
        b.key for b in at.get("download_button")}


def test_teaching_quiz_round_answer_reveal_score(env: Path) -> None:
    at = open_path("pages/teaching.py")
    at.radio(key="teach_section").set_value("Quiz").run()
    assert any("New quiz" in i.value for i in at.info)
    at.number_input(key="teach_n").set_value(3).run()
    at.number_input(key="teach_seed").set_value(7).run()
    at.button(key="teach_new_quiz").click().run()
    assert_ok(at)
    cases = at.session_state["teach_quiz"]["cases"]
    assert len(cases) == 3 and len(set(cases)) == 3
    card = dataframe_keyed(at, "teach_quiz_case")
    assert "Recorded" not in " ".join(card["Finding"])  # the answer is hidden
    assert len(card) == 16 and card["Finding"].iloc[-1] == "Today's WHO analgesic step"
    assert any(str(x.value).startswith("Difficulty: ") and "tags" not in str(x.value)
               for x in at.caption)  # tags such as "override" would give the answer away
    assert at.button(key="teach_reveal").disabled
    category = next(r for r in at.radio if r.key.startswith("teach_q_cat_"))
    action = next(r for r in at.radio if r.key.startswith("teach_q_act_"))
    category.set_value("moderate")
    action.set_value("escalate").run()
    at.button(key="teach_reveal").click().run()
    assert_ok(at)
    result = at.session_state["teach_quiz"]["answers"][0]
    score = next(m.value for m in at.metric if m.label == "Score (this quiz)")
    assert score == f"{result.points} / 2"
    assert next(m.value for m in at.metric if m.label == "Score (this session)") == \
        f"{result.points} / 2"
    text = all_text(at)
    assert "you said **moderate**" in text and "the model said" in text
    assert 'data-testid="advice-headline"' in html_text(at)
    at.button(key="teach_next_case").click().run()
    assert_ok(at)
    assert "Case 2 of 3" in all_text(at)
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)  # same seed, same cases
    again.run()
    again.switch_page("pages/teaching.py").run()
    again.radio(key="teach_section").set_value("Quiz").run()
    again.number_input(key="teach_n").set_value(3).run()
    again.number_input(key="teach_seed").set_value(7).run()
    again.button(key="teach_new_quiz").click().run()
    assert again.session_state["teach_quiz"]["cases"] == cases


def test_teaching_case_library_filters(env: Path) -> None:
    at = open_path("pages/teaching.py")
    at.radio(key="teach_section").set_value("Case library").run()
    table = dataframe_keyed(at, "teach_library")
    assert {"Case", "Difficulty", "Tags", "Age"} <= set(table.columns)
    assert not {"patient_id", "study_id", "study_date", "Patient"} & set(table.columns)
    assert all(re.fullmatch(r"Case \d{3}", c) for c in table["Case"])
    at.multiselect(key="teach_lib_tags").set_value(["lumbar"]).run()
    lumbar = dataframe_keyed(at, "teach_library")
    assert 0 < len(lumbar) < len(table)
    assert all("lumbar" in t for t in lumbar["Tags"])
    at.multiselect(key="teach_lib_difficulty").set_value(["hard"]).run()
    assert set(dataframe_keyed(at, "teach_library")["Difficulty"]) <= {"hard"}


# ---------------------------------------------------------------------------- cohort


def test_cohort_pairwise_tests_effect_sizes_and_downloads(env: Path) -> None:
    at = open_path("pages/cohort.py")
    pairs = dataframe_keyed(at, "cohort_pairwise_table")
    assert pairs["Comparison"].iloc[0] == "lumbar vs thoracic only"
    assert {"p", "p (Holm)", "r (rank-biserial)", "95 % CI of r"} <= set(pairs.columns)
    text, drawn, keys = "", [], set()
    for section in cohort_sections(at):  # one section's charts per run
        text += all_text(section)
        drawn += [spec for spec, _ in charts_of(section)]
        keys |= {b.key for b in section.get("download_button")}
    assert "Holm" in text and "bootstrap" in text and "Student-t" in text
    assert "Theil-Sen" in text and "95 % CI" in text
    specs = json.dumps(drawn)
    assert "transform_regression" not in specs and '"regression"' not in specs
    assert "Predicted pain category" not in specs  # the duplicate of the tier chart is gone
    assert "Urgency of the advice, by what leads it" in specs
    assert "Grouped importance" in specs
    assert '"extent": "ci"' not in specs  # no unseeded Vega-Lite bootstrap
    for chart in ("region_chart", "effect_chart", "scatter", "count_bins", "hi_bins",
                  "advice", "categories", "importance", "grouped_importance"):
        assert {f"cohort_{chart}_{kind}" for kind in ("csv", "png", "svg")} <= keys, chart


def test_cohort_one_study_per_patient(env: Path) -> None:
    at = open_path("pages/cohort.py")
    before = next(c.value for c in at.caption if " studies of " in str(c.value))
    at.radio(key="cohort_unit").set_value("first").run()
    assert_ok(at)
    after = next(c.value for c in at.caption if " studies of " in str(c.value))
    n_studies, n_patients = (int(x) for x in re.findall(r"(\d+) (?:studies|patients)", after))
    assert n_studies == n_patients and before != after


# ------------------------------------------------------------------- chart downloads


class _Spec:
    """A chart as ``ui.charts.chart_png`` / ``chart_svg`` read it (``to_json``)."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec

    def to_json(self) -> str:
        return json.dumps(self.spec, default=str)


def page_specs(at: AppTest) -> list[dict]:
    """Each chart's Vega-Lite spec with the datasets Streamlit moved out put back."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    specs = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        spec["datasets"] = {
            d.name: convert_arrow_bytes_to_pandas_df(d.data.data).to_dict("records")
            for d in element.proto.datasets}
        if element.proto.data.data:
            spec["data"] = {"values": convert_arrow_bytes_to_pandas_df(
                element.proto.data.data).to_dict("records")}
        specs.append(spec)
    return specs


def test_every_chart_of_the_pages_renders_as_png_and_svg(env: Path) -> None:
    """The PNG/SVG downloads: vl-convert renders each chart the pages draw (no browser,
    no network; kaleido is not needed for Altair charts)."""
    from ui import charts

    surveillance = open_path("pages/surveillance.py")
    surveillance.selectbox(key="surv_patient").set_value(LEVELS_PATIENT).run()
    cohort = open_path("pages/cohort.py")
    specs = page_specs(surveillance) + [spec for section in cohort_sections(cohort)
                                        for spec in page_specs(section)]
    assert len(specs) >= 8  # the region charts are SVG (test_cohort_sections)
    for spec in specs:
        png = charts.chart_png(_Spec(spec), scale=1.0)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
        svg = charts.chart_svg(_Spec(spec))
        assert svg.startswith("<svg") and "<text" in svg


def test_patient_box_labels_name_studies_and_latest_alerts() -> None:
    """One label per patient, most studies first (ties by id): the SYNTHETIC mark, the
    id, the studies and the alerts at the latest study, singular or plural, counts with
    thousands separated; made for whole columns at once."""
    from ui.surveillance import patient_labels, patient_table

    tl = pd.DataFrame({"patient_id": ["P2", "P1", "P1", "P3"] + ["P4"] * 1200,
                       "study_id": [3, 1, 2, 4, *range(5, 1205)],
                       "synthetic": [False, True, True, True] + [False] * 1200})
    alerts = pd.DataFrame({"patient_id": ["P1", "P1", "P3", "P3", "P2"],
                           "study_id": [1, 2, 4, 4, 99]})
    table = patient_table(tl, alerts)
    assert table["patient_id"].tolist() == ["P4", "P1", "P2", "P3"]
    assert patient_labels(table) == {
        "P4": "P4 · 1,200 studies · 0 alerts at the latest study",
        "P1": "[SYNTHETIC] P1 · 2 studies · 1 alert at the latest study",
        "P2": "P2 · 1 study · 0 alerts at the latest study",
        "P3": "[SYNTHETIC] P3 · 1 study · 2 alerts at the latest study"}
    assert list(patient_labels(table.iloc[[2, 0]])) == ["P2", "P4"]  # the box's few rows
