"""AppTests of the lighter What-if and Surveillance pages (issue 12: warm page switches
<= 0.5 s): What-if's SINS and treatment-context inputs open from a popover with their
values named beside it, drawn only while it is open, their values kept while it is
closed; Surveillance draws a patient's view from one cached bundle."""

from __future__ import annotations

import json
from pathlib import Path

from tests import test_app_pages as app_pages
from tests.test_app_pages import assert_ok, open_page, store

app_store = app_pages.app_store
env = app_pages.env


def test_what_if_sins_and_treatment_inputs_open_from_popovers_with_their_values_named(
        env: Path) -> None:
    from core.vocab import SINS_COMPONENTS
    from ui import whatif

    at = open_page("what_if")
    closed = list(at.get("popover"))
    assert [p.proto.popover.label for p in closed] == [
        "Spinal stability: SINS (Fisher 2010)", "Treatment and context: advice only"]
    kinds = ("selectbox", "select_slider", "segmented_control", "number_input", "text_input")
    assert not [w for p in closed for kind in kinds for w in p.get(kind)]  # drawn when open
    captions = [str(c.value) for c in at.caption]
    assert "All not assessed." in captions and "All not recorded." in captions
    app_pages._open_popovers(at)
    popovers = list(at.get("popover"))
    sins, treatment = popovers
    inside = {w.key for kind in ("selectbox", "select_slider", "segmented_control",
                                 "number_input", "text_input") for w in sins.get(kind)}
    assert inside == {whatif.key(c) for c in (*SINS_COMPONENTS, "sins_total")}
    inside = {w.key for kind in ("selectbox", "segmented_control", "number_input",
                                 "text_input") for w in treatment.get(kind)}
    assert inside == {whatif.key(c) for c in ("analgesic_step", "prior_radiotherapy",
                                               "bone_modifying_agent", "neuropathic_pain",
                                               "primary_tumor", "vas")}
    # The imaging burden and the findings stay on the page.
    assert not {w.key for p in popovers for w in p.get("slider")}
    assert "whatif_neurologic_deficit" in app_pages._native(at, "choice")
    at.number_input(key="whatif_vas").set_value(7.5).run()
    at.segmented_control(key="whatif_prior_radiotherapy").set_value("yes").run()
    assert_ok(at)
    line = next(str(c.value) for c in at.caption if "Recorded pain VAS" in str(c.value))
    assert line == ("Prior spine radiotherapy: yes · Recorded pain VAS 0-10: 7.5 (severe) · "
                    "4 not recorded"), line
    vas = app_pages.metric(at, "Expected VAS")
    discordance = [w.value for w in at.warning if w.value.startswith("Recorded VAS 7.5")]
    app_pages._open_popovers(at, is_open=False)  # closed again: the values stay in use
    assert_ok(at)
    assert not [w for p in at.get("popover") for kind in kinds for w in p.get(kind)]
    assert line in [str(c.value) for c in at.caption]
    assert app_pages.metric(at, "Expected VAS") == vas
    assert [w.value for w in at.warning if w.value.startswith("Recorded VAS 7.5")] == \
        discordance and discordance


def test_a_popover_gives_the_who_step_a_row_of_its_own() -> None:
    """Its four choices are wider than half the popover (the last one, strong opioid, was
    cut off); the other inputs keep their order, two per row; on the page, rows of the
    page's width."""
    from ui import whatif
    from ui.inputs import INPUTS_BY_COLUMN

    columns = ("prior_radiotherapy", "analgesic_step", "bone_modifying_agent",
               "neuropathic_pain", "primary_tumor", "vas")
    specs = [INPUTS_BY_COLUMN[c] for c in columns]

    def names(rows):
        return [[s.column for s in row] for row in rows]

    assert names(whatif.widget_rows(specs, 2, in_popover=True)) == [
        ["prior_radiotherapy"], ["analgesic_step"], ["bone_modifying_agent", "neuropathic_pain"],
        ["primary_tumor", "vas"]]
    assert names(whatif.widget_rows(specs, 4, in_popover=False)) == [
        list(columns[:4]), list(columns[4:])]
    assert whatif.widget_rows([], 2, in_popover=True) == []


def test_group_summary_says_not_assessed_and_not_recorded() -> None:
    from ui import whatif

    sins = ("sins_location", "sins_total")
    assert whatif.group_summary(sins, {whatif.key("sins_total"): whatif.NOT_ASSESSED}
                                ) == "All not assessed."
    assert whatif.group_summary(sins, {whatif.key("sins_total"): 9}) == (
        "SINS total (only when the parts are not scored): 9 · 1 not assessed")
    context = ("prior_radiotherapy", "vas")
    assert whatif.group_summary(context, {}) == "All not recorded."
    assert whatif.group_summary(context, {whatif.key("vas"): 4.0}) == (
        "Recorded pain VAS 0-10: 4 (moderate) · 1 not recorded")


def test_surveillance_patient_view_is_built_once_per_patient_and_revision(
        env: Path, monkeypatch) -> None:
    """Warm runs of the patient view read one cached bundle (surveillance, levels,
    the timeline's SVG and the level map's chart): the timeline is drawn once, as inline
    SVG (no chart engine), with its CSV, PNG and SVG downloads."""
    from ui import charts, history_svg, surveillance

    builds: list[str] = []
    build = history_svg.timeline_svg

    def counting(tl, *args, **kwargs):
        builds.append(str(tl["patient_id"].iloc[0]))
        return build(tl, *args, **kwargs)

    monkeypatch.setattr(history_svg, "timeline_svg", counting)
    surveillance._patient_view.clear()
    at = open_page("surveillance")
    at.run()
    at.run()
    assert_ok(at)
    patient = at.session_state[surveillance.PATIENT_KEY]
    assert builds == [patient]  # three runs, one drawing
    figures = [m.value for m in at.markdown if 'data-testid="surveillance-timeline"' in m.value]
    assert len(figures) == 1 and "Lesions by region" in figures[0]
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert not any("vconcat" in s for s in specs)  # no Vega timeline any more
    keys = {b.key for b in at.get("download_button")}
    assert {"surv_timeline_csv", "surv_timeline_png", "surv_timeline_svg"} <= keys
    view = surveillance.patient_view_data(patient)
    file_svg = view.timeline_file()
    assert 'width="660"' in file_svg and 'fill="white"' in file_svg
    assert "currentColor" not in file_svg  # a file has no page colour to inherit
    assert charts.svg_png(file_svg, scale=1.0)[:8] == b"\x89PNG\r\n\x1a\n"


def test_server_config_keeps_reruns_free_of_full_collections_and_file_polling() -> None:
    """The app's Streamlit config turns off the full ``gc.collect(2)`` Streamlit runs after
    every script run (with 100k scored studies cached it held the GIL for about 0.3 s, so
    the run's messages reached the browser that much later: issue 12's page switches) and
    the source-file watcher (a deployed board does not edit its code). Each option is one
    Streamlit knows, so a renamed option fails here instead of being ignored."""
    import tomllib

    from streamlit import config

    chosen = tomllib.loads((app_pages.REPO / ".streamlit" / "config.toml").read_text())
    flat = {f"{section}.{name}": value for section, options in chosen.items()
            for name, value in options.items()}
    assert flat["runner.postScriptGC"] is False
    assert flat["server.fileWatcherType"] == "none"
    unknown = sorted(set(flat) - set(config._config_options_template))
    assert not unknown, unknown


def test_probability_bars_are_html_with_every_category_its_percent_and_exact_value() -> None:
    """The prediction's probabilities drawn without a chart engine: categories in clinical
    order, the predicted one marked, each percentage written and the exact probability
    kept for readers (and tests); a missing value is written as not recorded, a bar never
    leaves its track, and names are escaped."""
    import re

    from core.vocab import NOT_RECORDED, category_colour
    from ui import bars

    probabilities = {"severe": 0.3051, "mild": 0.1949, "moderate": 0.5}
    markup = bars.probability_bars_html(probabilities, highlight="moderate")
    rows = re.findall(r'<div class="dss-prob ([a-z-]*)" data-category="([^"]+)" '
                      r'data-probability="([^"]*)">', markup)
    assert [(e, n, float(v)) for e, n, v in rows] == [
        ("dss-faded", "mild", 0.1949), ("dss-predicted", "moderate", 0.5),
        ("dss-faded", "severe", 0.3051)]
    assert re.findall(r'dss-prob-pct">([^<]+)<', markup) == ["19%", "50%", "31%"]
    assert f"width:50.0%;background:{category_colour('moderate')}" in markup
    assert 'aria-label="Predicted pain category"' in markup
    odd = bars.probability_bars_html({"mild": float("nan"), "<b>x</b>": 1.7})
    assert f'dss-prob-pct">{NOT_RECORDED}<' in odd and 'data-probability=""' in odd
    assert "width:100.0%" in odd and "<b>x</b>" not in odd and "&lt;b&gt;x&lt;/b&gt;" in odd


def test_delta_bars_lie_either_side_of_zero_on_a_symmetric_scale() -> None:
    """What-if's change per category: rises right of the zero line in the rise colour,
    falls left of it in the fall colour, lengths on one symmetric scale (largest change at
    80 % of a half track, never below +/- 5 pp), signed percentage points written and the
    exact change kept."""
    import re

    from core.vocab import DOWN_COLOUR, UP_COLOUR
    from ui import bars

    markup = bars.delta_bars_html({"severe": 0.1, "mild": -0.2, "moderate": 0.1}, title="Δ")
    rows = re.findall(r'data-category="([^"]+)" data-delta-pp="([^"]+)">.*?'
                      r'style="margin-left:([\d.]+)%;width:([\d.]+)%;background:(#\w+)".*?'
                      r'dss-prob-pct">([^<]+)<', markup)
    assert [(n, float(d), float(m), float(w), col, t) for n, d, m, w, col, t in rows] == [
        ("mild", -20.0, 10.0, 40.0, DOWN_COLOUR, "-20.0 pp"),
        ("moderate", 10.0, 50.0, 20.0, UP_COLOUR, "+10.0 pp"),
        ("severe", 10.0, 50.0, 20.0, UP_COLOUR, "+10.0 pp")]
    small = bars.delta_bars_html({"mild": -0.01, "moderate": 0.0, "severe": 0.01}, title="Δ")
    assert re.findall(r"width:([\d.]+)%", small) == ["10.0", "0.0", "10.0"]  # 1 of 5 pp
    assert "dss-faded" not in small and "dss-predicted" not in small


def test_the_first_run_of_each_page_collects_then_freezes_the_heap() -> None:
    """``ui.heap.settled_after``: after a page's first run (also one that stops early) the
    garbage is collected and the survivors frozen, so later full collections skip them;
    later runs of the same page leave the heap alone. A reference cycle that was garbage
    at the freeze is collected first, not frozen for good."""
    import gc
    import uuid
    import weakref

    import pytest

    from ui import heap

    class Node:
        pass

    page = f"test-{uuid.uuid4()}"
    try:
        cycle = Node()
        cycle.me = cycle
        gone = weakref.ref(cycle)
        del cycle
        gc.disable()  # only the settling may collect the cycle
        try:
            with pytest.raises(RuntimeError), heap.settled_after(page):
                raise RuntimeError("the run stopped early")
        finally:
            gc.enable()
        assert gone() is None  # collected before the freeze
        frozen = gc.get_freeze_count()
        assert frozen > 0
        kept = Node()
        with heap.settled_after(page):  # the same page again: nothing collected or frozen
            pass
        assert gc.get_freeze_count() == frozen and gc.is_tracked(kept)
        with heap.settled_after(f"{page}-other"):  # another page's first run
            pass
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()


def test_what_if_lists_every_out_of_training_reason_in_one_box(env: Path) -> None:
    """The blank starting case lies outside the training data on several inputs: one
    warning lists them all (it was one box per input, four on this case)."""
    at = open_page("what_if")
    assert_ok(at)
    boxes = [str(w.value) for w in at.warning if "Outside the training data" in str(w.value)]
    assert len(boxes) == 1, boxes
    reasons = [line for line in boxes[0].splitlines() if line.startswith("- ")]
    assert len(reasons) >= 2 and all("training range" in r for r in reasons), boxes


def test_what_if_draws_the_shap_waterfall_as_the_reports_svg(env: Path) -> None:
    """New case and What-if draw the SHAP waterfall without a chart engine: the report's
    SVG, one bar per feature (largest |SHAP| first) labelled with clinical values, the
    model's output last; no Vega chart is left on What-if."""
    import re

    from core.assess import assess
    from core.explain import waterfall_steps
    from core.model import load_model
    from ui import whatif

    at = open_page("what_if")
    assert_ok(at)
    assert not app_pages.charts_of(at), "What-if still draws a Vega chart"
    found = [str(m.value) for m in at.markdown if 'data-testid="shap-waterfall"' in str(m.value)]
    assert len(found) == 1, f"{len(found)} waterfalls"
    svg = found[0]
    assert "<svg" in svg and 'width="100%"' in svg and "raises the predicted pain" in svg
    # the page's case is the blank what-if case: the same explanation, bar for bar
    case, _ = whatif.case_from_values(whatif.widget_values({}, load_model()))
    explanation = assess(load_model(), case).explanation.to_dict()
    _, steps, output = waterfall_steps(explanation)
    assert svg.count("<rect") == len(steps) > 0
    labels = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    labels, axis_end = labels[:-1], labels[-1]  # the axis' right end is the last
    assert len(labels) == len(steps) and float(axis_end) > output, labels
    assert not [lb for lb in labels if "_" in lb], labels  # clinical labels, no codes
    assert "Prediction f(x)" in svg and f"{output:.3f}" in svg


def test_the_waterfall_svg_says_so_when_there_are_no_shap_values() -> None:
    from ui import bars

    markup = bars.shap_waterfall_html({"base_value": None, "features": []})
    assert "<svg" not in markup and 'data-testid="shap-waterfall"' in markup


def svg_points(svg: str, series: str) -> list[tuple[str, float]]:
    """``(date, value)`` of each mark of ``series`` in an SVG of :mod:`ui.history_svg`,
    in drawing order."""
    import re

    found = re.findall(rf'data-series="{series}" data-date="([^"]+)" '
                       r'data-value="([^"]+)"', svg)
    return [(d, float(v)) for d, v in found]


def test_history_svg_draws_each_recorded_value_once_on_round_axes() -> None:
    """The board's history (inline SVG, no chart engine): one point per recorded value
    with its exact value, none for a missing one (the line joins its neighbours), dates
    in order, whole-number lesion ticks, HI in %, names escaped; no burden panel without
    burden columns and a sentence when no date is readable."""

    import pandas as pd

    from ui.history_svg import history_svg
    from ui.svg_draw import round_axis as _axis

    history = pd.DataFrame({
        "study_date": ["2024-06-15", "2024-01-01", "2024-03-01", "not a date"],
        "vas": [7.0, 3.0, None, 9.0], "expected_vas": [6.25, 4.2, 5.1, 1.0],
        "lesion_count": [5, 2, 3, 1], "high_intensity_ratio": [0.12, 0.01, None, 0.5]})
    svg = history_svg(history)

    def points(series: str) -> list[tuple[str, float]]:
        return svg_points(svg, series)

    assert points("vas") == [("2024-01-01", 3.0), ("2024-06-15", 7.0)]
    assert points("expected_vas") == [("2024-01-01", 4.2), ("2024-03-01", 5.1),
                                      ("2024-06-15", 6.25)]
    assert points("lesion_count") == [("2024-01-01", 2.0), ("2024-03-01", 3.0),
                                      ("2024-06-15", 5.0)]
    assert points("hi_pct") == [("2024-01-01", 1.0), ("2024-06-15", 12.0)]
    assert svg.count("<polyline") == 4 and "not a date" not in svg
    assert "2024-06-15: Predicted E[VAS] 6.2" in svg  # the tooltip, one decimal
    assert _axis(5, integer=True) == (6.0, 2.0) and _axis(12) == (15.0, 5.0)
    assert _axis(0, integer=True) == (4.0, 1.0) and _axis(37, integer=True) == (40.0, 10.0)
    pain_only = history_svg(history[["study_date", "vas"]])
    assert "Burden over time" not in pain_only and pain_only.count("<polyline") == 1
    odd = history_svg(pd.DataFrame({"study_date": ["x"], "vas": [1.0]}))
    assert "<svg" not in odd and "readable" in odd


def test_timeline_svg_stacks_regions_marks_alerts_and_names_series_as_the_csv() -> None:
    """The surveillance timeline (inline SVG): each region's lesions stacked per study
    with exact values, a zero count drawn as nothing and a missing one marked "?", one
    dotted line per alerted study on each of the three panels, series named as the CSV's
    columns, and the HI ratio in %; a sentence when no date is readable."""
    import re

    import pandas as pd

    from ui.history_svg import timeline_svg
    from ui.trend_charts import timeline_csv_frame

    tl = pd.DataFrame({
        "study_date": pd.to_datetime(["2024-07-10", "2024-01-10", "2024-04-10"]),
        "lesion_count_cervical": [1, 0, 0], "lesion_count_thoracic": [3, 2, None],
        "lesion_count_lumbar": [4, 1, 2], "lesion_count_sacral": [0, 0, 0],
        "involved_levels": [6, 2, 3],
        "high_intensity_ratio": [0.2, 0.05, 0.12],
        "max_level_high_intensity_ratio": [0.5, 0.2, None],
        "vas": [None, 3.0, 5.0], "expected_vas": [6.1, 3.5, 4.8]})
    svg = timeline_svg(tl, ["2024-04-10", "2024-07-10", "2024-07-10"])

    def values(series: str) -> list[tuple[str, float]]:
        return svg_points(svg, series)

    assert values("thoracic_lesions") == [("2024-01-10", 2.0), ("2024-07-10", 3.0)]
    assert values("lumbar_lesions") == [("2024-01-10", 1.0), ("2024-04-10", 2.0),
                                        ("2024-07-10", 4.0)]
    assert values("cervical_lesions") == [("2024-07-10", 1.0)] and not values("sacral_lesions")
    assert values("hi_ratio_worst_level_pct") == [("2024-01-10", 20.0), ("2024-07-10", 50.0)]
    assert values("recorded_vas") == [("2024-01-10", 3.0), ("2024-04-10", 5.0)]
    assert len(values("predicted_expected_vas")) == 3
    series = set(re.findall(r'data-series="([^"]+)"', svg))
    assert series <= set(timeline_csv_frame(tl).columns)
    assert svg.count('data-alert="1"') == 2 * 3  # two alerted studies, three panels
    assert "a study whose alerts fired" in svg
    # a count not recorded is a "?" over its bar, never a silently shorter bar
    assert re.findall(r'data-missing="([^"]+)" data-date="([^"]+)"', svg) == [
        ("thoracic", "2024-04-10")]
    assert "thoracic not recorded" in svg and "a regional count not recorded" in svg
    quiet = timeline_svg(tl)
    assert 'data-alert="1"' not in quiet and "alerts fired" not in quiet
    complete = timeline_svg(tl.fillna({"lesion_count_thoracic": 0}))
    assert "data-missing" not in complete and "not recorded" not in complete
    # stacked: the lumbar part of the last study sits on top of cervical + thoracic
    rects = re.findall(r'<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" '
                       r'fill="[^"]+" data-series="(\w+)" data-date="2024-07-10"', svg)
    tops = {name: float(y) for y, _, name in rects}
    assert tops["lumbar_lesions"] < tops["thoracic_lesions"] < tops["cervical_lesions"]
    odd = timeline_svg(pd.DataFrame({"study_date": ["x"], "vas": [1.0]}))
    assert "readable" in odd and "data-series" not in odd


def test_model_page_counts_stored_scores_once_per_store_revision(env: Path, monkeypatch) -> None:
    """The Model page's "Stored scores" status (a count over every study: most of the
    page's run on 100k studies) is read again only after a write moves the data revision
    (a write to the studies or scores; not the board's agenda)."""
    import datetime as dt

    from core.store import CaseStore

    calls: list[str] = []
    real = CaseStore.score_status

    def counting(self, version):
        calls.append(version)
        return real(self, version)

    monkeypatch.setattr(CaseStore, "score_status", counting)
    at = open_page("model")
    assert_ok(at)
    seen = len(calls)
    at.run()
    at.run()
    assert_ok(at)
    assert len(calls) == seen  # two more runs, no count
    s = store()
    study = int(s.list_studies()["study_id"].iloc[0])
    day = dt.date(2031, 1, 2)
    s.agenda_add(day, [study], actor="test")  # the board's writes: no new count
    s.agenda_remove(day, study, actor="test")
    at.run()
    assert_ok(at)
    assert len(calls) == seen
    from core.model import load_model

    s.recompute_scores(load_model())  # a write to the scores moves the data revision
    at.run()
    assert_ok(at)
    assert len(calls) > seen


def test_cohort_page_after_an_edit_reads_only_the_changed_patient(
        env: Path, tmp_path: Path, monkeypatch) -> None:
    """After a case is edited, the next run of a whole-cohort page reads again only that
    patient's studies (the audit log names the study), not every study; the page shows
    the edited value. A rescore, which names no single study, is read in full."""
    import shutil

    import pandas as pd

    from core.model import load_model
    from core.store import CaseStore

    folder = tmp_path / "store"
    shutil.copytree(env, folder)  # the session's store stays as it was
    monkeypatch.setenv("SPINEPAIN_DATA_DIR", str(folder))
    patched: list[int] = []
    real = CaseStore.scored_snapshot

    def recording(self, version, previous=None):
        out = real(self, version, previous)
        patched.append(out.patched)
        return out

    monkeypatch.setattr(CaseStore, "scored_snapshot", recording)
    at = open_page("cohort")
    assert_ok(at)
    assert patched and patched[-1] == -1  # the first read is a full read
    s = store()
    row = s.list_studies().iloc[0]
    model = load_model()
    s.update_clinical(int(row["study_id"]), {"primary_tumor": "kidney"}, "test", model=model)
    at.run()
    assert_ok(at)
    assert 1 <= patched[-1] < len(s.list_studies())
    from ui import scores

    frame = next(reversed(scores._SNAPSHOTS.values())).frame  # what the page read
    pd.testing.assert_frame_equal(frame, s.scored_cohort(model.version))
    assert (frame.loc[frame["patient_id"] == row["patient_id"], "primary_tumor"]
            == "kidney").all()
    s.recompute_scores(model)
    at.run()
    assert_ok(at)
    assert patched[-1] == -1


def _recorded_surveillance(env: Path, tmp_path: Path, monkeypatch) -> list[int]:
    """Put a copy of the session's store in use; the returned list records how many
    studies each computation of the cohort's surveillance is given."""
    import shutil

    from core.surveillance import cohort as sv_cohort

    folder = tmp_path / "store"
    shutil.copytree(env, folder)
    monkeypatch.setenv("SPINEPAIN_DATA_DIR", str(folder))
    sizes: list[int] = []
    real = sv_cohort.cohort_surveillance

    def recording(scored, levels):
        sizes.append(len(scored))
        return real(scored, levels)

    monkeypatch.setattr(sv_cohort, "cohort_surveillance", recording)
    return sizes


def _shown_equals_computing_everything(s, model) -> None:
    """The Surveillance page's latest frames equal computing the whole cohort again."""
    import pandas as pd

    from core.surveillance.cohort import cohort_surveillance
    from ui import surveillance

    _, shown = next(iter(surveillance._LATEST.values()))
    full = cohort_surveillance(s.scored_cohort(model.version), s.cohort_levels(min_studies=2))
    for name in ("timeline", "changes", "alerts"):
        pd.testing.assert_frame_equal(getattr(shown, name), getattr(full, name), obj=name)


def test_surveillance_after_an_edit_computes_only_the_changed_patient(
        env: Path, tmp_path: Path, monkeypatch) -> None:
    """After a case is edited, the surveillance page computes the timeline, level changes
    and alerts again only for that patient and splices them in: equal to computing the
    whole cohort again."""
    from core.model import load_model

    sizes = _recorded_surveillance(env, tmp_path, monkeypatch)
    at = open_page("surveillance")
    assert_ok(at)
    s = store()
    total = len(s.list_studies())
    assert sizes == [total]
    row = s.list_studies().iloc[-1]
    model = load_model()
    s.update_clinical(int(row["study_id"]), {"vas": 10}, "test", model=model)
    at.run()
    assert_ok(at)
    mine = int((s.list_studies()["patient_id"] == row["patient_id"]).sum())
    assert sizes == [total, mine]
    _shown_equals_computing_everything(s, model)


def test_surveillance_after_edits_read_by_the_cohort_page_computes_only_those_patients(
        env: Path, tmp_path: Path, monkeypatch) -> None:
    """Two edits, each read by a run of the Cohort analytics page (two refreshes of the
    scored cohort) before Surveillance is opened again: Surveillance computes again only
    the two edited patients, equal to computing the whole cohort again."""
    from core.model import load_model

    sizes = _recorded_surveillance(env, tmp_path, monkeypatch)
    at = open_page("surveillance")
    s = store()
    studies = s.list_studies()
    assert sizes == [len(studies)]
    model = load_model()
    edited = [studies.iloc[0], studies[studies["patient_id"]
                                       != studies["patient_id"].iloc[0]].iloc[-1]]
    at.switch_page(app_pages.PAGES["cohort"]).run()
    for row, vas in zip(edited, (10, 0), strict=True):
        s.update_clinical(int(row["study_id"]), {"vas": vas}, "test", model=model)
        at.run()  # the cohort page refreshes the scored cohort
        assert_ok(at)
    at.switch_page(app_pages.PAGES["surveillance"]).run()
    assert_ok(at)
    patients = {str(row["patient_id"]) for row in edited}
    assert sizes == [len(studies), int(studies["patient_id"].isin(patients).sum())]
    _shown_equals_computing_everything(s, model)
