"""Unit tests of ui modules that need no running page: the one model cache, the router
workaround's Streamlit internals, the page registry, and the forms and what-if widgets
generated from the feature registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit import config

from core.clinical import CLINICAL_COLUMNS, load_clinical_table
from core.context import context_from_case
from core.features import FEATURE_NAMES, FEATURES, features_from_case
from core.model import clear_cache, load_model
from core.vocab import (
    ANALGESIC_STEPS,
    BILSKY_GRADES,
    DEFICIT_STATES,
    SINS_CHOICES,
    SINS_COMPONENTS,
    SINS_TITLES,
)
from ui import advice, cache, forms, inputs, registry, router, whatif

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "models" / "demo"


# ----------------------------------------------------------------- model cache


def test_ui_uses_the_one_model_cache_of_core(tmp_path: Path) -> None:
    """ui has no model cache of its own: it returns core's cached model, and a model that
    core reloads (cache cleared, files rewritten) is what the pages get next."""
    folder = tmp_path / "demo"
    shutil.copytree(DEMO_MODEL, folder)
    first = cache.get_model(folder)
    assert first is load_model(folder)
    clear_cache()
    second = cache.get_model(folder)
    assert second is not first
    assert second is load_model(folder)
    card = folder / "model_card.json"
    card.write_text(card.read_text(encoding="utf-8"), encoding="utf-8")  # new file time
    third = cache.get_model(folder)
    assert third is not second and third is load_model(folder)


def test_missing_model_folder_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^model folder nothing does not exist"):
        cache.get_model(tmp_path / "nothing")


# ----------------------------------------------------------------------- router


def test_streamlit_still_has_what_the_router_workaround_relies_on() -> None:
    """Fails (never skips) after a Streamlit upgrade that renames or removes an internal
    that ui/router.py uses; then revisit the workaround there."""
    missing = router.check_streamlit()
    assert missing == [], ("Streamlit changed what ui/router.py relies on: "
                           + "; ".join(missing))


def test_router_check_reports_a_renamed_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    class Renamed:
        uses_pages_dir = None

    monkeypatch.setattr(router, "PagesManager", Renamed)
    assert router.check_streamlit() == [
        f"class attribute PagesManager.{router.LEGACY_FLAG}"]


def test_router_leaves_legacy_mode_and_reruns(monkeypatch: pytest.MonkeyPatch) -> None:
    class RerunCalledError(Exception):
        pass

    def rerun() -> None:
        raise RerunCalledError

    manager = router.PagesManager
    previous_flag = getattr(manager, router.LEGACY_FLAG)
    previous_option = config.get_option("global.appTest")
    monkeypatch.setattr(st, "rerun", rerun)
    config.set_option("global.appTest", False)
    try:
        setattr(manager, router.LEGACY_FLAG, True)
        with pytest.raises(RerunCalledError):
            router.ensure_router()
        assert getattr(manager, router.LEGACY_FLAG) is False
        router.ensure_router()  # already routed: no rerun
    finally:
        setattr(manager, router.LEGACY_FLAG, previous_flag)
        config.set_option("global.appTest", previous_option)


# --------------------------------------------------------------------- registry


def test_page_registry_lists_every_page_script_once() -> None:
    scripts = {f"pages/{p.name}" for p in (REPO / "pages").glob("*.py")}
    paths = [p.path for p in registry.PAGES]
    assert sorted(paths) == sorted(scripts)
    assert len(set(paths)) == len(paths)
    assert [p.name for p in registry.PAGES if p.default] == ["home"]
    assert all(p.title and p.blurb and p.icon.startswith(":material/") for p in registry.PAGES)
    assert registry.page("tumor_board").title == "Tumor board"


# ------------------------------------------------------------ forms and what-if


def test_clinical_form_covers_every_schema_column_once() -> None:
    """The form is generated from the clinical schema: patient and study plus every
    clinical column, each once; never a derived model feature."""
    columns = [spec.column for _, specs in forms.form_sections() for spec in specs]
    assert len(columns) == len(set(columns))
    assert set(columns) == {"patient_id", "study_date", *CLINICAL_COLUMNS}
    derived = {f.name for f in FEATURES if f.derived}
    assert not derived & set(columns)
    by_column = {s.column: s for _, specs in forms.form_sections() for s in specs}
    deficit = by_column["neurologic_deficit"]
    assert deficit.kind == "deficit" and tuple(deficit.choices) == DEFICIT_STATES
    assert [deficit.choices[s] for s in DEFICIT_STATES] == [
        "none", "stable (known, unchanged)", "new or progressive"]
    assert "current regimen" in by_column["analgesic_step"].label.lower()
    assert dict(by_column["analgesic_step"].choices) == dict(ANALGESIC_STEPS)
    for part in SINS_COMPONENTS:  # the calculator's labels
        assert by_column[part].label == SINS_TITLES[part]
        assert dict(by_column[part].choices) == dict(SINS_CHOICES[part])
    assert tuple(by_column["bilsky_grade"].choices) == BILSKY_GRADES


def test_an_unknown_schema_column_is_refused_not_dropped() -> None:
    with pytest.raises(ValueError, match="has no input kind"):
        inputs.clinical_input("new_column")


def test_every_model_feature_is_fed_by_an_input() -> None:
    assert set(FEATURE_NAMES) == inputs.FED_FEATURES
    assert {s.column for s in inputs.INPUTS} >= set(CLINICAL_COLUMNS)


@pytest.fixture(scope="module")
def cohort_rows() -> list[dict]:
    rows = load_clinical_table((REPO / "data" / "demo" / "cohort.csv").read_bytes(),
                               "cohort.csv").rows.head(60)
    return [{k: (None if v != v else v) for k, v in r.items()}  # NaN -> None
            for r in rows.to_dict(orient="records")]


def _full_row(rows: list[dict]) -> dict:
    return next(r for r in rows if all(r.get(c) is not None for c in (
        *SINS_COMPONENTS, "bilsky_grade", "ecog", "age", "neuropathic_pain"))
        and r["bilsky_grade"] not in ("2", "3") and r["lesion_count_cervical"]
        and r["max_level_high_intensity_ratio"] < 0.9
        and r["max_level_high_intensity_ratio"] - r["high_intensity_ratio"] > 0.02)


def _changed(spec: inputs.InputSpec, row: dict) -> dict:
    """The row with this input moved to another valid value."""
    case = dict(row)
    value = case.get(spec.column)
    if spec.kind == "count":
        case[spec.column] = value + 1
        if spec.column != "involved_levels":
            case["lesion_count"] = case["lesion_count"] + 1
        else:
            case["lesion_count"] = case["lesion_count"] + 1
            case["lesion_count_sacral"] = case["lesion_count_sacral"] + 1
    elif spec.kind == "percent":
        case[spec.column] = value + 0.01
    elif spec.kind in ("ordinal", "sins_part", "deficit", "bilsky", "sex"):
        case[spec.column] = next(c for c in spec.choices if c != value)
        case["sins_total"] = None
    elif spec.kind == "yes_no":
        case[spec.column] = not value
    elif spec.kind == "age":
        case[spec.column] = value + 5
    elif spec.kind == "vas":
        case[spec.column] = 9.5 if value != 9.5 else 1.0
    elif spec.kind == "tumor":
        case[spec.column] = "renal" if value != "renal" else "breast"
    return case


def test_input_feeds_match_the_feature_derivation(cohort_rows: list[dict]) -> None:
    """``feeds`` says which model features an input changes; context inputs change none
    (treatment context changes the advice, never the prediction)."""
    row = _full_row(cohort_rows)
    before = features_from_case(row).to_dict()
    checked = 0
    for spec in inputs.INPUTS:
        if spec.role == "identity" or spec.kind == "sins_total":
            continue
        after = features_from_case(_changed(spec, row)).to_dict()
        moved = {n for n in FEATURE_NAMES if before[n] != after[n]}
        if spec.column == "involved_levels":
            moved -= {"lesion_count", "lesion_count_noncervical", "lesion_count_lumbosacral"}
        assert moved == set(spec.feeds), (spec.column, moved, spec.feeds)
        checked += 1
    assert checked >= 20


def test_what_if_has_a_widget_for_every_input() -> None:
    columns = set(whatif.widget_columns())
    assert {s.column for s in inputs.IMAGING_INPUTS} <= columns
    assert set(CLINICAL_COLUMNS) - columns == {"sex"}
    assert not {f.name for f in FEATURES if f.derived} & columns  # inputs, not features
    grouped = [c for _, _, cols in whatif.GROUPS for c in cols]
    assert sorted(grouped) == sorted(columns)
    for spec in whatif.WHATIF_INPUTS:
        if spec.kind == "percent":
            assert "(%)" in spec.label


def test_what_if_widget_values_round_trip(cohort_rows: list[dict]) -> None:
    """Widget values of a case give the case back (Bilsky 1b stays 1b, yes stays yes, a
    stable deficit stays stable, the treatment context stays), HI ratios in %."""
    model = load_model()
    grades = {r["bilsky_grade"] for r in cohort_rows if r["bilsky_grade"]}
    assert {"1b", "2"} <= grades  # the round trip would confuse these with model codes
    states = {r["neurologic_deficit"] for r in cohort_rows}
    assert {"stable", "none"} <= states
    for row in cohort_rows:
        values = whatif.widget_values(row, model)
        ratio = row["high_intensity_ratio"]
        assert values[whatif.key("high_intensity_ratio")] == round(100 * ratio, 1)
        case, notes = whatif.case_from_values(values)
        assert not notes
        expected = features_from_case(row).to_dict()
        if expected["age"] is None:  # the age slider starts at the training median
            expected["age"] = float(values[whatif.key("age")])
        got = features_from_case(case).to_dict()
        for name in FEATURE_NAMES:  # ratios are shown to 0.1 percentage point
            if name in ("high_intensity_ratio", "max_level_high_intensity_ratio"):
                assert got[name] == pytest.approx(expected[name], abs=5e-4 + 1e-12)
            else:
                assert got[name] == expected[name], (name, row)
        want, have = context_from_case(row), context_from_case(case)
        for field in ("current_analgesic_step", "prior_radiotherapy", "bone_modifying_agent",
                      "primary_tumor", "radiosensitivity", "neurologic_deficit",
                      "neuropathic_pain", "sins_total", "sins_pain", "recorded_vas"):
            assert getattr(have, field) == getattr(want, field), (field, row)


def test_what_if_passes_clinical_values_not_model_codes(
        cohort_rows: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    row = next(r for r in cohort_rows if r["bilsky_grade"] == "1b"
               and r["pathologic_fracture"] is not None and r["neurologic_deficit"] == "stable")
    values = whatif.widget_values(row, load_model())
    values[whatif.key("high_intensity_ratio")] = 12.5  # %
    values[whatif.key("max_level_high_intensity_ratio")] = 40.0
    case, _ = whatif.case_from_values(values)
    assert case["bilsky_grade"] == "1b"
    assert case["pathologic_fracture"] in ("yes", "no")
    assert case["neurologic_deficit"] == "stable"
    assert case["high_intensity_ratio"] == pytest.approx(0.125)
    assert case["max_level_high_intensity_ratio"] == pytest.approx(0.40)
    assert not {f.name for f in FEATURES if f.derived} & set(case)
    assert "lumbar_involved" not in case


def test_what_if_keeps_the_case_consistent() -> None:
    values = whatif.widget_values({}, load_model())
    values[whatif.key("lesion_count_lumbar")] = 3
    values[whatif.key("high_intensity_ratio")] = 30.0
    values[whatif.key("max_level_high_intensity_ratio")] = 10.0
    case, notes = whatif.case_from_values(values)
    assert case["involved_levels"] == 1.0
    assert case["max_level_high_intensity_ratio"] == pytest.approx(0.30)
    assert any("Involved levels set to 1" in n for n in notes)
    assert any("raised to the overall ratio (30.0%)" in n for n in notes)
    features_from_case(case)  # valid


def test_sins_total_is_left_out_when_the_parts_are_scored(cohort_rows: list[dict]) -> None:
    row = next(r for r in cohort_rows if all(r[c] is not None for c in SINS_COMPONENTS))
    values = whatif.widget_values(row, load_model())
    assert values[whatif.key("sins_total")] == whatif.NOT_ASSESSED
    values[whatif.key("sins_total")] = 3  # contradicts the parts: ignored
    case, _ = whatif.case_from_values(values)
    assert case["sins_total"] is None
    assert context_from_case(case).sins_total == sum(row[c] for c in SINS_COMPONENTS)


def test_change_table_reads_clinical_values(cohort_rows: list[dict]) -> None:
    model = load_model()
    row = next(r for r in cohort_rows if r["bilsky_grade"] == "1b")
    before = whatif.widget_values(row, model)
    after = dict(before)
    after[whatif.key("bilsky_grade")] = "2"
    after[whatif.key("lesion_count_lumbar")] = before[whatif.key("lesion_count_lumbar")] + 2
    after[whatif.key("high_intensity_ratio")] = 25.0
    after[whatif.key("max_level_high_intensity_ratio")] = 60.0
    step = 0 if row["analgesic_step"] else 3
    after[whatif.key("analgesic_step")] = step
    state = "stable" if row["neurologic_deficit"] == "new_or_progressive" else "new_or_progressive"
    after[whatif.key("neurologic_deficit")] = state
    old, new = (features_from_case(whatif.case_from_values(v)[0]) for v in (before, after))
    table = whatif.changed_inputs(before, after, old, new)
    rows = {r["Finding"]: r for r in table.to_dict(orient="records")}
    assert rows["Bilsky grade (epidural compression)"]["Starting case"] == "1b"
    assert rows["Bilsky grade (epidural compression)"]["What-if"] == "2"
    assert rows["HI ratio (overall) (%)"]["What-if"] == "25.0%"
    assert rows["Current regimen (WHO analgesic step)"]["What-if"] == ANALGESIC_STEPS[step]
    assert rows["Current regimen (WHO analgesic step)"]["Used for"] == "advice only"
    assert rows["Neurologic deficit"]["What-if"] in ("new or progressive",
                                                     "stable (known, unchanged)")
    assert rows["Metastatic sites (all levels)"]["Used for"] == "prediction (derived)"
    text = " ".join(str(v) for r in rows.values() for v in r.values())
    assert "_" not in text, text  # no column names, no model codes


def test_zero_weight_note() -> None:
    card = {"model": {"coefficients": [{"feature": "bilsky_grade", "weight_per_sd": 0.0},
                                       {"feature": "age", "weight_per_sd": -0.1},
                                       {"feature": "lesion_count", "weight_per_sd": 0.0}]}}
    zero = inputs.zero_weight_features(card)
    assert zero == {"bilsky_grade", "lesion_count"}
    by = inputs.INPUTS_BY_COLUMN
    assert inputs.no_weight(by["bilsky_grade"], zero)
    assert inputs.no_weight(by["lesion_count_cervical"], zero)  # feeds only lesion_count
    assert not inputs.no_weight(by["lesion_count_lumbar"], zero)  # also the nested counts
    assert not inputs.no_weight(by["analgesic_step"], zero)  # context: its own note
    assert inputs.zero_weight_features(load_model().card) == set()  # the demo model


def test_what_if_sliders_with_a_box_say_when_they_carry_no_weight() -> None:
    """The what-if's counts, % and age, and its findings' choices (ui.input_group): their
    ranges and choices, and the no-weight note under an input whose features all weigh 0
    in the active model."""
    from ui import whatif

    imaging, findings = whatif.GROUPS[0][2], whatif.GROUPS[1][2]
    zero = frozenset({"lesion_count"})
    specs = {s.name: s for s in whatif.paired_specs(imaging, zero)}
    assert len(specs) == 7 and list(specs) == [whatif.key(c) for c in imaging]
    assert specs["whatif_lesion_count_cervical"].note == whatif.NO_WEIGHT_NOTE
    assert specs["whatif_lesion_count_lumbar"].note == ""  # also the nested counts
    hi = specs["whatif_high_intensity_ratio"]
    assert (hi.minimum, hi.maximum, hi.step, hi.unit) == (0.0, 100.0, 0.1, "%")
    lumbar = specs["whatif_lesion_count_lumbar"]
    assert (lumbar.minimum, lumbar.slider_max, lumbar.step) == (0, whatif.COUNT_SLIDER_MAX, 1)
    assert lumbar.maximum >= lumbar.slider_max and lumbar.help
    (age,) = whatif.paired_specs(findings, frozenset({"age"}))
    assert (age.name, age.minimum, age.maximum) == ("whatif_age", 18, 90)
    assert age.note == whatif.NO_WEIGHT_NOTE
    assert all(not s.note for s in whatif.paired_specs(imaging, frozenset()))
    choices = {s.name: s for s in whatif.choice_specs(findings, frozenset({"bilsky_grade"}))}
    assert list(choices) == ["whatif_ecog", "whatif_pathologic_fracture",
                             "whatif_neurologic_deficit", "whatif_bilsky_grade"]
    bilsky = choices["whatif_bilsky_grade"]
    assert bilsky.labels == ("0", "1a", "1b", "1c", "2", "3") == bilsky.values  # as graded
    assert bilsky.note == whatif.NO_WEIGHT_NOTE and bilsky.help
    assert bilsky.hints[2].startswith("1b · ") and len(bilsky.hints) == 6  # the meaning
    assert choices["whatif_pathologic_fracture"].labels == ("no", "yes")
    assert choices["whatif_ecog"].values == (0, 1, 2, 3, 4)  # the grades, by number
    assert choices["whatif_ecog"].labels == ("0", "1", "2", "3", "4")
    assert choices["whatif_ecog"].hints[2].startswith("2 ")  # "2 ambulatory, self-care"
    deficit = choices["whatif_neurologic_deficit"]
    assert deficit.labels == ("none", "stable (known, unchanged)", "new or progressive")
    assert deficit.values == ("none", "stable", "new_or_progressive") and not deficit.note
    assert not deficit.hints and not choices["whatif_pathologic_fracture"].hints  # as read


def test_prediction_set_text() -> None:
    assert advice.set_text(("moderate", "severe"), 0.9) == "90 % set: moderate or severe"
    assert advice.set_text(("severe",), 0.9) == "90 % set: severe only"
    assert advice.set_text((), None) == "Prediction set: not available"


def test_advice_changes_name_what_changed() -> None:
    from core.assess import assess

    model = load_model()
    case = json.loads((REPO / "tests" / "golden" / "predict_input_context.json").read_text())
    before = assess(model, case)
    after = assess(model, {**case, "analgesic_step": 3})
    assert after.prediction.probabilities == before.prediction.probabilities
    lines = whatif.advice_changes(before.tier, after.tier)
    assert lines and all("_" not in line for line in lines)
    assert not whatif.advice_changes(before.tier, before.tier)


def test_what_if_says_what_it_could_not_take_from_the_start() -> None:
    notes = whatif.start_notes({"lesion_count": 5, "lesion_count_lumbar": 2})
    assert any("5 lesion(s) without every regional count" in n for n in notes)
    assert any("no HI ratio" in n for n in notes)
    assert whatif.start_notes({}) == []  # the blank case
