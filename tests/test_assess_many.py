"""``core.assess.assess_many``: a whole frame scored, explained and advised with array
operations, every row IDENTICAL (not approximately equal) to ``assess`` of that row, on
the demo cohort and on hypothesis-generated frames with overrides, missing values,
no-lesion cases, yes/no deficits, text values and rows that cannot be read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.assess import BatchAssessment, assess, assess_frame, assess_many
from core.case_frame import parse_frame
from core.clinical import as_cohort_frame
from core.context import parse_case
from core.model import load_model
from core.tiers import decide_tiers
from core.vocab import CATEGORIES

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return as_cohort_frame(pd.read_csv(REPO / "data" / "demo" / "cohort.csv"))


def assert_identical(model, frame: pd.DataFrame, batch: BatchAssessment) -> None:
    """Every row of ``batch`` equals ``assess`` of the row's record, field by field."""
    assert len(batch) == len(frame)
    tiers = batch.tiers
    for i, record in enumerate(frame.to_dict(orient="records")):
        try:
            expected = assess(model, record)
        except ValueError as exc:
            assert batch.errors[i] == str(exc)
            assert not batch.ok[i] and tiers[i] is None and batch.categories[i] is None
            assert np.isnan(batch.probabilities[i]).all()
            continue
        assert batch.errors[i] is None, batch.errors[i]
        assert batch.prediction(i) == expected.prediction
        assert batch.explanation(i) == expected.explanation
        assert tiers[i] == expected.tier
        assert batch.prediction_sets[i] == expected.prediction_set
        assert batch.ood[i] == expected.ood
        assert batch.discordance[i] == expected.discordance
        assert batch.parsed.context(i) == expected.context
    # the table's advice columns (computed at once, not from the full decisions) agree
    table = batch.to_frame()
    for key in ("tier", "urgency", "headline_source", "headline"):
        assert list(table[key]) == [None if t is None else getattr(t, key) for t in tiers]


def test_demo_cohort_is_identical_row_by_row(model, demo: pd.DataFrame) -> None:
    batch = assess_many(model, demo)
    assert batch.ok.all()
    assert_identical(model, demo, batch)
    # the rule tables ran once per distinct rule input, not once per case
    assert len(batch.tier_groups.decisions) < len(demo)


def test_shap_is_exact_and_additive(model, demo: pd.DataFrame) -> None:
    batch = assess_many(model, demo)
    np.testing.assert_allclose(batch.base_value + batch.shap.sum(axis=1), batch.output_value,
                               atol=1e-12)


def test_assess_frame_is_built_on_assess_many(model, demo: pd.DataFrame) -> None:
    frame = demo.head(50)
    table = assess_many(model, frame).to_frame()
    out = assess_frame(model, frame)
    for column in table.columns:
        pd.testing.assert_series_equal(out[column], table[column], check_dtype=False)


def test_nested_extract_rows_are_read_like_parse_case(model, demo: pd.DataFrame) -> None:
    records = demo.head(6).to_dict(orient="records")
    records[1].update(involved_levels=["L1", "L2"], lesion_count=2.0)
    records[2].update(lesion_count_by_region={"cervical": 0, "thoracic": 1, "lumbar": 1,
                                              "sacral": 0}, lesion_count_cervical=None)
    records[3].update(provenance={"image": {"sequence": "T1"}})
    records[4].update(levels="not a list")
    frame = pd.DataFrame(records).astype(object)
    frame = frame.where(frame.notna(), None)
    assert frame["lesion_count_by_region"].notna().sum() == 1
    batch = assess_many(model, frame)
    assert batch.ok.sum() == 5 and "levels" in batch.errors[4]
    assert any("sequence" in reason for reason in batch.ood[3])
    assert_identical(model, frame, assess_many(model, frame))


def test_empty_frame(model, demo: pd.DataFrame) -> None:
    batch = assess_many(model, demo.head(0))
    assert len(batch) == 0 and batch.to_frame().empty
    assert len(decide_tiers(np.array([], dtype=object), np.empty((0, 12)),
                            parse_frame(demo.head(0)).contexts)) == 0


def test_unknown_category_is_refused(demo: pd.DataFrame) -> None:
    parsed = parse_frame(demo.head(1))
    with pytest.raises(ValueError, match="pain category"):
        decide_tiers(np.array(["agony"], dtype=object), parsed.X, parsed.contexts)


# ------------------------------------------------------------------ generated frames

_missing = st.sampled_from([None, np.nan, "", "  "])
_count = st.one_of(_missing, st.integers(0, 6).map(float), st.just(1.5), st.just(-1.0))
_yes_no = st.one_of(_missing, st.booleans(), st.sampled_from(["yes", "no", "maybe", 1, 0]))
_CASE = {
    "lesion_count": st.one_of(_missing, st.integers(0, 8).map(float)),
    **{f"lesion_count_{r}": _count for r in ("cervical", "thoracic", "lumbar", "sacral")},
    "involved_levels": st.one_of(_missing, st.integers(0, 8).map(float)),
    "lumbar_involved": st.one_of(_missing, st.sampled_from([0.0, 1.0, "yes"])),
    "high_intensity_ratio": st.one_of(_missing, st.floats(0, 1), st.just(1.2)),
    "max_level_high_intensity_ratio": st.one_of(_missing, st.floats(0, 1)),
    "sins_total": st.one_of(_missing, st.integers(0, 18).map(float), st.just(12.5)),
    "sins_pain": st.one_of(_missing, st.sampled_from([0.0, 1.0, 2.0, 3.0])),
    "sins_location": st.one_of(_missing, st.sampled_from([0.0, 1.0, 2.0, 3.0])),
    "sins_bone_lesion": st.one_of(_missing, st.sampled_from([0.0, 1.0, 2.0])),
    "sins_alignment": st.one_of(_missing, st.sampled_from([0.0, 2.0, 4.0])),
    "sins_collapse": st.one_of(_missing, st.sampled_from([0.0, 1.0, 2.0, 3.0])),
    "sins_posterolateral": st.one_of(_missing, st.sampled_from([0.0, 1.0, 3.0])),
    "bilsky_grade": st.one_of(_missing, st.sampled_from(["0", "1a", "1B", "1c", "2", "3", 2.0,
                                                         "1", "4"])),
    "pathologic_fracture": _yes_no,
    "neurologic_deficit": st.one_of(_missing, st.sampled_from(
        ["none", "stable", "new_or_progressive", "new", "yes", "no", True, 1.0, "worse"])),
    "age": st.one_of(_missing, st.floats(18, 110), st.just(12.0)),
    "ecog": st.one_of(_missing, st.integers(0, 4).map(float)),
    "analgesic_step": st.one_of(_missing, st.integers(0, 3), st.just(5)),
    "prior_radiotherapy": _yes_no,
    "bone_modifying_agent": _yes_no,
    "neuropathic_pain": _yes_no,
    "primary_tumor": st.one_of(_missing, st.sampled_from(
        ["breast", " Renal cell ", "lymphoma", "non-small cell lung", "melanoma", "other"])),
    "vas": st.one_of(_missing, st.integers(0, 10).map(float), st.just(7.5), st.just(11.0)),
}
_rows = st.lists(st.fixed_dictionaries(_CASE), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows)
def test_generated_object_frames_are_identical_row_by_row(model, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows, dtype=object)
    assert_identical(model, frame, assess_many(model, frame))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows)
def test_generated_typed_frames_are_identical_row_by_row(model, rows: list[dict]) -> None:
    # numeric columns as floats (the store's typed frame), text columns as text
    frame = pd.DataFrame(rows, dtype=object)
    for column in frame.columns:
        numbers = pd.to_numeric(frame[column].replace({"": None, "  ": None}), errors="coerce")
        if numbers.notna().sum() == frame[column].replace({"": None, "  ": None}).notna().sum():
            frame[column] = numbers.astype("float64")
    assert_identical(model, frame, assess_many(model, frame))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 40))
def test_sampled_demo_rows_with_overrides_and_no_lesions(model, demo: pd.DataFrame,
                                                          seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    frame = demo.sample(n=n, random_state=seed, replace=True).reset_index(drop=True)
    frame["neurologic_deficit"] = rng.choice(["none", "stable", "new_or_progressive"], n)
    frame["sins_total"] = np.where(rng.random(n) < 0.3, np.nan, frame["sins_total"])
    frame.loc[rng.random(n) < 0.3, "bilsky_grade"] = "3"
    no_lesion = rng.random(n) < 0.3
    for column in ("lesion_count", "involved_levels", *(f"lesion_count_{r}" for r in (
            "cervical", "thoracic", "lumbar", "sacral"))):
        frame.loc[no_lesion, column] = 0.0
    frame.loc[rng.random(n) < 0.1, ["lesion_count", "involved_levels",
                                    "high_intensity_ratio", "max_level_high_intensity_ratio",
                                    "lesion_count_cervical", "lesion_count_thoracic",
                                    "lesion_count_lumbar", "lesion_count_sacral"]] = np.nan
    batch = assess_many(model, frame)
    assert_identical(model, frame, batch)
    assert set(batch.categories[batch.ok]) <= set(CATEGORIES)


def test_parse_frame_agrees_with_parse_case_on_the_demo_cohort(demo: pd.DataFrame) -> None:
    parsed = parse_frame(demo)
    for i, record in enumerate(demo.to_dict(orient="records")):
        case = parse_case(record)
        np.testing.assert_array_equal(parsed.X[i], case.features.row()[0])
        assert parsed.context(i) == case.context
