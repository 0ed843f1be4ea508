"""core.teaching: findings, the anonymised case library (tags, difficulty), seeded quiz
draws without duplicates, actions, grading, pairs and SHAP differences."""

from __future__ import annotations

import pandas as pd
import pytest

from core import teaching
from core.assess import assess
from core.model import load_model
from core.tiers import Override, Recommendation, TierDecision


def scored_row(i: int, **values: object) -> dict:
    base = {"study_id": 100 + i, "patient_id": f"PAT-{i:03d}", "study_date": "2024-01-01",
            "age": 57, "sex": "F", "primary_tumor": "breast", "vas": 5.0,
            "lesion_count": 2, "lesion_count_cervical": 0, "lesion_count_thoracic": 2,
            "lesion_count_lumbar": 0, "lesion_count_sacral": 0, "involved_levels": 2,
            "high_intensity_ratio": 0.05, "max_level_high_intensity_ratio": 0.2,
            "pathologic_fracture": False, "category": "moderate", "headline_source": "model",
            "p_mild": 0.1, "p_moderate": 0.8, "p_severe": 0.1, "assessment_error": None}
    return {**base, **values}


def scored() -> pd.DataFrame:
    return pd.DataFrame([
        scored_row(0),                                                   # thoracic, easy
        scored_row(1, lesion_count_lumbar=1, lesion_count=3, vas=8.0,   # lumbar, discordant
                   category="moderate", age=91),
        scored_row(2, headline_source="override", pathologic_fracture=True,
                   p_moderate=0.45, p_mild=0.3, p_severe=0.25),         # override, hard
        scored_row(3, lesion_count=0, lesion_count_thoracic=0, involved_levels=0,
                   headline_source="no_lesion", category="mild", vas=2.0,
                   p_mild=0.6, p_moderate=0.3, p_severe=0.1, age=None),  # no lesion, medium
        scored_row(4, lesion_count_cervical=2, lesion_count_thoracic=0),  # cervical only
        scored_row(5, vas=None),                                          # no VAS: left out
        scored_row(6, category=None, assessment_error="bad row."),       # not assessed
    ])


# ------------------------------------------------------------------------ findings


def test_three_findings_with_citation_chart_and_what_to_look_for() -> None:
    assert [f.key for f in teaching.FINDINGS] == ["region", "burden_correlation",
                                                  "burden_pain"]
    for finding in teaching.FINDINGS:
        assert "Int J Med Sci 2025;22(3):708-715" in finding.citation
        assert finding.claim.endswith(".") and len(finding.look_for) >= 2
        assert finding.chart in ("region", "burden_correlation", "burden_pain")
    assert "lumbar" in teaching.FINDINGS[0].claim.lower()


def test_caution_names_the_synthetic_cohort_and_the_papers_45_patients() -> None:
    text = teaching.caution(300, 1.0)
    assert "all of the loaded cohort (300 patients) is synthetic" in text
    assert "45 patients" in text
    assert "40 % of the loaded cohort" in teaching.caution(10, 0.4)
    site = teaching.caution(12, 0.0)
    assert "synthetic" not in site and "45 patients" in site


# ------------------------------------------------------------------------- library


def test_library_is_anonymised_and_seeded() -> None:
    lib = teaching.case_library(scored(), seed=1)
    assert len(lib) == 5  # no VAS and not assessed are left out
    assert "patient_id" not in lib.columns and "study_date" not in lib.columns
    assert not any(c in ("patient_id", "study_id", "study_date")
                   for c in teaching.LIBRARY_DISPLAY_COLUMNS)
    assert sorted(lib["case"]) == [f"Case {i:03d}" for i in range(1, 6)]
    again = teaching.case_library(scored(), seed=1)
    assert again[["case", "study_id"]].equals(lib[["case", "study_id"]])
    other = teaching.case_library(scored(), seed=2)
    assert not other[["case", "study_id"]].equals(lib[["case", "study_id"]])
    ages = dict(zip(lib["study_id"], lib["age_band"], strict=True))
    assert ages[100] == "50-59" and ages[101] == "90 or older" and ages[103] == "not recorded"


def test_library_tags_and_difficulty() -> None:
    lib = teaching.case_library(scored()).set_index("study_id")
    tags = lib["tags"].to_dict()
    assert tags[100] == "thoracic only"
    assert tags[101] == "lumbar, discordant"  # VAS 8 = severe, predicted moderate
    assert tags[102] == "thoracic only, override, fracture"
    assert tags[103] == "no lesion"
    assert tags[104] == "cervical only"
    difficulty = lib["difficulty"].to_dict()
    assert difficulty == {100: "easy", 101: "hard", 102: "hard", 103: "medium", 104: "easy"}
    assert list(teaching.filter_library(lib, tags=("lumbar",)).index) == [101]
    assert list(teaching.filter_library(lib, tags=("thoracic only", "override")).index) == [102]
    assert sorted(teaching.filter_library(lib, difficulty=("hard",)).index) == [101, 102]
    with pytest.raises(ValueError, match="tag"):
        teaching.filter_library(lib, tags=("spicy",))


# ---------------------------------------------------------------------------- quiz


def big_library() -> pd.DataFrame:
    rows = [scored_row(i, lesion_count_lumbar=i % 2) for i in range(40)]
    return teaching.case_library(pd.DataFrame(rows), seed=3)


def test_quiz_draws_are_seeded_and_never_repeat_a_case() -> None:
    lib = big_library()
    first = teaching.draw_quiz(lib, 10, seed=11)
    assert first == teaching.draw_quiz(lib, 10, seed=11)
    assert first != teaching.draw_quiz(lib, 10, seed=12)
    assert len(set(first)) == 10 and set(first) <= set(lib["case"])
    everything = teaching.draw_quiz(lib, 500, seed=1)
    assert sorted(everything) == sorted(lib["case"])  # capped at the pool, no repeat
    lumbar = teaching.draw_quiz(lib, 5, seed=1, tags=("lumbar",))
    chosen = lib.set_index("case").loc[list(lumbar)]
    assert chosen["tag_lumbar"].all()
    with pytest.raises(ValueError, match="no case"):
        teaching.draw_quiz(lib, 3, seed=1, tags=("no lesion",))
    with pytest.raises(ValueError, match="whole number"):
        teaching.draw_quiz(lib, 0, seed=1)


def decision(*, overrides: tuple = (), source: str = "model",
             codes: tuple[str, ...] = ("analgesic_escalate",)) -> TierDecision:
    recs = tuple(Recommendation(code, "text", "ref") for code in codes)
    return TierDecision("2", "Tier 2 - moderate pain", "headline", source, recs, overrides,
                        "routine", "moderate", ())


def override(rule: str) -> Override:
    return Override(rule, "reason", "urgent", "headline", "action", "ref", ())


def test_expected_action_follows_the_headline() -> None:
    assert teaching.expected_action(decision()) == "escalate"
    assert teaching.expected_action(decision(codes=("analgesic_record_regimen",))) == \
        "record_regimen"
    assert teaching.expected_action(decision(source="no_lesion")) == "confirm_pain_source"
    assert teaching.expected_action(decision(overrides=(override("mscc"),
                                                        override("sins_unstable")),
                                             source="override")) == "mscc_pathway"
    assert teaching.expected_action(decision(overrides=(override("high_grade_escc"),),
                                             source="override")) == "urgent_spine_review"
    assert teaching.expected_action(decision(overrides=(override("sins_potentially_unstable"),),
                                             source="override")) == "spine_consult"
    with pytest.raises(ValueError, match="action"):
        teaching.expected_action(decision(codes=("bone_modifying_agent",)))


def test_grading_one_point_each() -> None:
    result = teaching.grade("Case 001", "severe", "continue", recorded_category="severe",
                            predicted_category="moderate", action="escalate")
    assert result.category_correct and not result.action_correct and result.points == 1
    both = teaching.grade("Case 001", "mild", "escalate", recorded_category="mild",
                          predicted_category="mild", action="escalate")
    assert both.points == 2
    with pytest.raises(ValueError, match="pain category"):
        teaching.grade("Case 001", "awful", "escalate", recorded_category="mild",
                       predicted_category="mild", action="escalate")
    with pytest.raises(ValueError, match="action"):
        teaching.grade("Case 001", "mild", "pray", recorded_category="mild",
                       predicted_category="mild", action="escalate")


# ---------------------------------------------------------------------- comparison


def test_suggested_pairs_have_similar_burden_and_distinct_patients() -> None:
    rows = [scored_row(0, lesion_count_lumbar=1, lesion_count=3, high_intensity_ratio=0.10),
            scored_row(1, lesion_count_lumbar=1, lesion_count=8, high_intensity_ratio=0.30),
            scored_row(2, lesion_count=3, high_intensity_ratio=0.11),
            scored_row(3, lesion_count=8, high_intensity_ratio=0.29),
            scored_row(4, lesion_count=1, high_intensity_ratio=0.01)]
    lib = teaching.case_library(pd.DataFrame(rows), seed=0)
    case = dict(zip(lib["study_id"], lib["case"], strict=True))
    pairs = teaching.suggest_pairs(lib, k=5)
    got = set(zip(pairs["case_a"], pairs["case_b"], strict=True))
    assert got == {(case[100], case[102]), (case[101], case[103])}
    assert pairs["distance"].is_monotonic_increasing
    assert pairs["case_a"].is_unique and pairs["case_b"].is_unique


def test_shap_difference_adds_up_and_reads_clinically() -> None:
    model = load_model()
    a = assess(model, {"lesion_count": 4, "lesion_count_cervical": 0, "lesion_count_thoracic": 1,
                       "lesion_count_lumbar": 3, "lesion_count_sacral": 0,
                       "involved_levels": 3, "high_intensity_ratio": 0.08,
                       "max_level_high_intensity_ratio": 0.3, "bilsky_grade": "1b",
                       "pathologic_fracture": True, "neurologic_deficit": "none", "age": 60,
                       "ecog": 1})
    b = assess(model, {"lesion_count": 4, "lesion_count_cervical": 0, "lesion_count_thoracic": 4,
                       "lesion_count_lumbar": 0, "lesion_count_sacral": 0,
                       "involved_levels": 3, "high_intensity_ratio": 0.08,
                       "max_level_high_intensity_ratio": 0.3, "bilsky_grade": "0",
                       "pathologic_fracture": False, "neurologic_deficit": "none", "age": 60,
                       "ecog": 1})
    diff = teaching.shap_difference(a.explanation, b.explanation)
    gap = a.explanation.output_value - b.explanation.output_value
    assert diff["difference"].sum() == pytest.approx(gap)
    assert diff["difference"].abs().is_monotonic_decreasing
    by_name = diff.set_index("feature")
    assert by_name.loc["bilsky_grade", "value_a"] == "1b"
    assert by_name.loc["pathologic_fracture", "value_a"] == "yes"
    assert by_name.loc["high_intensity_ratio", "value_b"] == "8.0%"
    assert by_name.loc["lesion_count_lumbosacral", "difference"] > 0
    grouped = teaching.grouped_difference(a.explanation, b.explanation)
    assert set(grouped["label"]) == {"imaging burden", "clinical findings"}
    assert grouped["difference"].sum() == pytest.approx(gap)
