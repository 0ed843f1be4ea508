"""The feature contract: mapping extraction output and flat columns onto the model's vector."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.features import (
    BILSKY_GRADES,
    FEATURE_NAMES,
    FEATURES,
    bilsky_to_ordinal,
    features_from_case,
    ordinal_to_bilsky,
)

EXTRACT_OUTPUT = {
    "levels": [],
    "lesion_count": 5,
    "lesion_count_by_region": {"cervical": 0, "thoracic": 2, "lumbar": 3, "sacral": 0},
    "involved_levels": ["T11", "T12", "L1", "L3"],
    "high_intensity_ratio": 0.12,
    "max_level_high_intensity_ratio": 0.4,
    "provenance": {},
}


def test_feature_names_unique_and_ordered() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == len(FEATURES)
    assert all(f.monotone in (0, 1) for f in FEATURES)


def test_extract_output_merged_with_clinical() -> None:
    case = dict(EXTRACT_OUTPUT, age=61, ecog=1, sins_total=8, bilsky_grade="1b",
                pathologic_fracture=True, neurologic_deficit=False, prior_radiotherapy="no",
                analgesic_step=2)
    got = features_from_case(case)
    assert list(got) == list(FEATURE_NAMES)
    assert got["lesion_count"] == 5.0
    assert got["lesion_count_noncervical"] == 5.0  # thoracic 2 + lumbar 3 + sacral 0
    assert got["lesion_count_lumbosacral"] == 3.0
    assert got["involved_levels"] == 4.0
    assert got["bilsky_grade"] == 2.0
    assert got["pathologic_fracture"] == 1.0
    assert got["neurologic_deficit"] == 0.0  # a yes/no "no" is no deficit
    # treatment context is not a model input (it shapes the advice only)
    assert "analgesic_step" not in got and "prior_radiotherapy" not in got
    assert "sins_total" not in got and got["sins_without_pain"] is None  # pain part unknown


def test_flat_columns_and_missing_values() -> None:
    case = {"lesion_count_cervical": 1, "lesion_count_thoracic": 0, "lesion_count_lumbar": 0,
            "lesion_count_sacral": 0, "involved_levels": 1, "high_intensity_ratio": float("nan"),
            "sins_location": 1, "sins_pain": 3, "sins_bone_lesion": 1, "sins_alignment": 0,
            "sins_collapse": 1, "sins_posterolateral": 0}
    got = features_from_case(case)
    assert got["lesion_count"] == 1.0  # derived from the regions
    assert got["lesion_count_noncervical"] == 0.0
    assert got["lesion_count_lumbosacral"] == 0.0
    assert got["high_intensity_ratio"] is None
    assert got["age"] is None
    assert got["sins_without_pain"] == 3.0  # 1 + 1 + 0 + 1 + 0: the pain part (3) is left out
    assert got["bilsky_grade"] is None


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [("high_intensity_ratio", 1.5, "high_intensity_ratio = 1.5"),
     ("ecog", 7, "ecog = 7"),
     ("age", "old", "age 'old' is not a number"),
     ("bilsky_grade", "4", "bilsky_grade '4'"),
     ("lesion_count", math.inf, "lesion_count inf is not a finite number")],
)
def test_bad_values_name_the_feature(key: str, value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        features_from_case(dict(EXTRACT_OUTPUT, **{key: value}))


def test_bilsky_round_trip() -> None:
    for code, grade in enumerate(BILSKY_GRADES):
        assert bilsky_to_ordinal(grade) == code
        assert ordinal_to_bilsky(code) == grade
        assert bilsky_to_ordinal(grade.upper()) == code


@given(st.lists(st.integers(0, 20), min_size=4, max_size=4))
def test_total_is_sum_of_regions(counts: list[int]) -> None:
    case = {f"lesion_count_{r}": c for r, c in
            zip(("cervical", "thoracic", "lumbar", "sacral"), counts, strict=True)}
    got = features_from_case(case)
    assert got["lesion_count"] == sum(counts)
    assert got["lesion_count_noncervical"] == sum(counts[1:])
    assert got["lesion_count_lumbosacral"] == counts[2] + counts[3]
    # nested: every lumbosacral site is non-cervical, every non-cervical one a site
    assert got["lesion_count"] >= got["lesion_count_noncervical"] \
        >= got["lesion_count_lumbosacral"]


@pytest.mark.parametrize(("value", "code"), [(0, 0.0), (2, 4.0), (3.0, 5.0), ("2", 4.0)])
def test_numeric_bilsky_means_grade_not_code(value: object, code: float) -> None:
    # A CSV or form giving Bilsky 2 means high-grade compression (code 4), not "1b".
    assert bilsky_to_ordinal(value) == code


@pytest.mark.parametrize("value", [1, "1", 4, 5, 1.5])
def test_ambiguous_or_unknown_numeric_bilsky_refused(value: object) -> None:
    with pytest.raises(ValueError, match="bilsky_grade"):
        bilsky_to_ordinal(value)


# ------------------------------------------------------------- review: silent wrong numbers


@pytest.mark.parametrize(("key", "value"), [
    ("sins_total", 12.5), ("lesion_count_lumbar", 2.5), ("involved_levels", 3.7),
    ("ecog", 1.5), ("sins_collapse", 1.5),
])
def test_counts_ordinals_and_binaries_must_be_whole(key: str, value: float) -> None:
    # SINS 12.5 used to fall between the 7-12 and >= 13 overrides; a deficit of 0.5 fired
    # nothing. Such values are typos, not measurements.
    with pytest.raises(ValueError, match=f"{key} .*whole number"):
        features_from_case({key: value})


@pytest.mark.parametrize(("key", "value"), [
    ("sins_total", "yes"), ("lesion_count_lumbar", True), ("ecog", "no"), ("age", "y"),
])
def test_yes_no_words_only_for_yes_no_features(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        features_from_case({key: value})


@pytest.mark.parametrize("value", [0.5, 3, "maybe", "unknown"])
def test_a_deficit_that_is_not_a_state_is_refused(value: object) -> None:
    # a deficit of 0.5 once fired nothing; a deficit is one of three states
    with pytest.raises(ValueError, match="neurologic_deficit"):
        features_from_case({"neurologic_deficit": value})


def test_yes_no_features_still_accept_words_and_booleans() -> None:
    got = features_from_case({"neurologic_deficit": "Yes", "pathologic_fracture": False,
                              "lumbar_involved": "n"})
    # an old yes/no deficit is read as new or progressive (code 2), the safer reading
    assert (got["neurologic_deficit"], got["pathologic_fracture"]) == (2.0, 0.0)
    assert got["lesion_count_lumbosacral"] is None  # lumbar 0 but sacral unknown
    stable = features_from_case({"neurologic_deficit": "stable"})
    assert stable["neurologic_deficit"] == 1.0


def test_sins_total_conflicting_with_its_components_is_refused() -> None:
    parts = {"sins_location": 3, "sins_pain": 3, "sins_bone_lesion": 2, "sins_alignment": 2,
             "sins_collapse": 2, "sins_posterolateral": 1}  # = 13 (unstable), 10 without pain
    assert features_from_case(parts)["sins_without_pain"] == 10.0
    assert features_from_case({**parts, "sins_total": 13})["sins_without_pain"] == 10.0
    # a total with a known pain part gives the score without pain too
    assert features_from_case({"sins_total": 13, "sins_pain": 3})["sins_without_pain"] == 10.0
    with pytest.raises(ValueError, match=r"sins_total 6 .*components.*13"):
        features_from_case({**parts, "sins_total": 6})


@pytest.mark.parametrize(("component", "value"), [
    ("sins_alignment", 1), ("sins_pain", 2), ("sins_location", 9), ("sins_collapse", -1),
])
def test_sins_components_take_published_points_only(component: str, value: int) -> None:
    parts = {"sins_location": 0, "sins_pain": 0, "sins_bone_lesion": 0, "sins_alignment": 0,
             "sins_collapse": 0, "sins_posterolateral": 0, component: value}
    with pytest.raises(ValueError, match=component):
        features_from_case(parts)


@pytest.mark.parametrize(("case", "match"), [
    ({"lesion_count": 2, "lesion_count_by_region": {"cervical": 0, "thoracic": 3, "lumbar": 4,
                                                    "sacral": 0}}, "lesion_count 2 .*7"),
    ({"lesion_count": 2, "lesion_count_thoracic": 5}, "lesion_count 2 .*5"),
    ({"lesion_count": 3, "involved_levels": 5}, "involved_levels 5 .*lesion_count 3"),
    ({"lesion_count": 0, "involved_levels": ["L1"]}, "involved_levels 1 .*lesion_count 0"),
    ({"lesion_count": 4, "involved_levels": 0}, "involved_levels 0 .*lesion_count 4"),
    ({"lesion_count_lumbar": 3, "lumbar_involved": False}, "lumbar_involved"),
    ({"lesion_count_lumbar": 0, "lumbar_involved": 1}, "lumbar_involved"),
])
def test_contradictory_imaging_counts_are_refused(case: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        features_from_case(case)


def test_partial_region_mapping_means_missing_not_zero() -> None:
    got = features_from_case({"lesion_count_by_region": {"lumbar": 3}})
    assert got["lesion_count_lumbosacral"] is None  # the sacral count is unknown
    assert got["lesion_count_noncervical"] is None
    assert got["lesion_count"] is None  # not 3: the other regions are unknown
    both = features_from_case({"lesion_count_by_region": {"lumbar": 3, "sacral": 1}})
    assert both["lesion_count_lumbosacral"] == 4.0


def test_zero_lesions_implies_zero_per_region_and_no_involved_level() -> None:
    got = features_from_case({"lesion_count": 0})
    assert [got[n] for n in ("lesion_count", "lesion_count_noncervical",
                             "lesion_count_lumbosacral")] == [0.0] * 3
    assert got["involved_levels"] == 0.0
    # lumbar_involved 0 means no lumbar lesion: with the sacrum known, no lumbosacral one
    got = features_from_case({"lumbar_involved": 0, "lesion_count_sacral": 0})
    assert got["lesion_count_lumbosacral"] == 0.0


def test_noncervical_from_the_total_and_the_cervical_count() -> None:
    got = features_from_case({"lesion_count": 6, "lesion_count_cervical": 2})
    assert got["lesion_count_noncervical"] == 4.0


def test_a_worst_level_ratio_below_the_overall_is_refused() -> None:
    with pytest.raises(ValueError, match="max_level_high_intensity_ratio"):
        features_from_case({"high_intensity_ratio": 0.3, "max_level_high_intensity_ratio": 0.1})


def test_involved_level_names_are_counted_once() -> None:
    assert features_from_case({"involved_levels": ["L1", "L1", "L2"]})["involved_levels"] == 2.0


def test_region_mapping_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="lesion_count_by_region"):
        features_from_case({"lesion_count_by_region": [0, 3, 4, 0]})


def test_sins_points_match_the_clinical_schema() -> None:
    import core.clinical
    import core.vocab

    # One table: the clinical schema re-exports the vocabulary's, never a copy.
    assert core.clinical.SINS_POINTS is core.vocab.SINS_POINTS
    assert core.clinical.SINS_COMPONENTS is core.vocab.SINS_COMPONENTS
    assert core.clinical.BILSKY_GRADES is core.vocab.BILSKY_GRADES
