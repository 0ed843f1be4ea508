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
    assert got["lesion_count_lumbar"] == 3.0
    assert got["lesion_count_thoracic"] == 2.0
    assert got["lesion_count"] == 5.0
    assert got["involved_levels"] == 4.0
    assert got["lumbar_involved"] == 1.0
    assert got["bilsky_grade"] == 2.0
    assert got["pathologic_fracture"] == 1.0
    assert got["prior_radiotherapy"] == 0.0


def test_flat_columns_and_missing_values() -> None:
    case = {"lesion_count_cervical": 1, "lesion_count_thoracic": 0, "lesion_count_lumbar": 0,
            "lesion_count_sacral": 0, "involved_levels": 1, "high_intensity_ratio": float("nan"),
            "sins_location": 1, "sins_pain": 3, "sins_bone_lesion": 1, "sins_alignment": 0,
            "sins_collapse": 1, "sins_posterolateral": 0}
    got = features_from_case(case)
    assert got["lesion_count"] == 1.0  # derived from the regions
    assert got["lumbar_involved"] == 0.0
    assert got["high_intensity_ratio"] is None
    assert got["age"] is None
    assert got["sins_total"] == 6.0
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
    assert got["lumbar_involved"] == (1.0 if counts[2] > 0 else 0.0)


@pytest.mark.parametrize(("value", "code"), [(0, 0.0), (2, 4.0), (3.0, 5.0), ("2", 4.0)])
def test_numeric_bilsky_means_grade_not_code(value: object, code: float) -> None:
    # A CSV or form giving Bilsky 2 means high-grade compression (code 4), not "1b".
    assert bilsky_to_ordinal(value) == code


@pytest.mark.parametrize("value", [1, "1", 4, 5, 1.5])
def test_ambiguous_or_unknown_numeric_bilsky_refused(value: object) -> None:
    with pytest.raises(ValueError, match="bilsky_grade"):
        bilsky_to_ordinal(value)
