"""``assess_many`` on the store's typed frame (float, bool and text dtypes, read with
array checks and each column's own grouping) against the same cases as plain Python
objects: identical results, and a value a typed column cannot hold for its input is
refused with the sentence the case-by-case reader gives. The advice table's tier,
urgency and headline (computed once per group of the inputs they read) equal the full
decision of every case over a broad grid of rule inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.assess import assess_many
from core.case_frame import CONTEXT_FIELDS, parse_frame
from core.clinical import as_cohort_frame
from core.context import parse_case
from core.model import load_model
from core.tiers import tier_groups
from core.tiers.evaluate import SUMMARY_FIELDS
from core.vocab import CATEGORIES

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def typed() -> pd.DataFrame:
    frame = as_cohort_frame(pd.read_csv(REPO / "data" / "demo" / "cohort.csv"))
    frame.loc[::7, "vas"] = np.nan  # some pain not recorded
    frame.loc[3::11, "sins_pain"] = np.nan  # a SINS read as a lower bound
    frame.loc[5::13, "primary_tumor"] = None
    return frame


def as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """The same cases with every column of dtype object (missing values as ``None``)."""
    out = frame.astype(object)
    return out.where(out.notna(), None)


def test_the_typed_frame_has_typed_columns(typed: pd.DataFrame) -> None:
    # the fast paths under test: float, bool and text dtypes, not object
    assert typed["age"].dtype == np.float64
    assert typed["prior_radiotherapy"].dtype == np.bool_
    assert pd.api.types.is_string_dtype(typed["bilsky_grade"])
    assert typed["bilsky_grade"].dtype != object
    assert typed["bilsky_grade"].isna().any() and typed["vas"].isna().any()


def test_typed_and_object_frames_give_identical_results(model, typed: pd.DataFrame) -> None:
    objects = as_objects(typed)
    assert all(dtype == np.dtype(object) for dtype in objects.dtypes)
    a, b = parse_frame(typed), parse_frame(objects)
    np.testing.assert_array_equal(a.X, b.X)
    assert list(a.errors) == list(b.errors)
    for name in CONTEXT_FIELDS:
        assert list(a.contexts[name]) == list(b.contexts[name]), name
    fast, slow = assess_many(model, typed), assess_many(model, objects)
    pd.testing.assert_frame_equal(fast.to_frame(), slow.to_frame())
    assert list(fast.tiers) == list(slow.tiers)
    assert list(fast.ood) == list(slow.ood)
    assert list(fast.prediction_sets) == list(slow.prediction_sets)
    assert list(fast.discordance) == list(slow.discordance)


@pytest.mark.parametrize(("column", "value"), [
    ("ecog", 7.0),                      # float column, outside 0-4
    ("sins_pain", 1.5),                 # float column, not a whole number
    ("age", np.inf),                    # float column, not finite
    ("analgesic_step", 5.0),            # float column read per distinct value
    ("vas", 11.0),
    ("bilsky_grade", "4"),              # text column
    ("neurologic_deficit", "worse"),
    ("lesion_count", -1.0),
])
def test_a_bad_value_in_a_typed_column_is_refused_with_its_sentence(
        model, typed: pd.DataFrame, column: str, value: object) -> None:
    frame = typed.head(30).copy()
    frame.loc[4, column] = value
    assert frame[column].dtype == typed[column].dtype  # still typed
    with pytest.raises(ValueError) as raised:
        parse_case(frame.iloc[4].to_dict())
    batch = assess_many(model, frame)
    assert batch.errors[4] == str(raised.value)
    assert batch.ok.sum() == len(frame) - 1
    assert batch.to_frame().loc[4, "tier"] is None


def test_a_bool_column_for_a_numeric_input_is_refused_row_by_row(model, typed) -> None:
    frame = typed.head(5).copy()
    frame["ecog"] = np.array([True, False, True, False, True])
    assert frame["ecog"].dtype == np.bool_
    with pytest.raises(ValueError) as raised:
        parse_case(frame.iloc[0].to_dict())
    batch = assess_many(model, frame)
    assert not batch.ok.any()
    assert batch.errors[0] == str(raised.value)


def test_the_advice_table_equals_the_full_decisions_on_a_grid(model) -> None:
    rng = np.random.default_rng(12)
    n = 4000
    choose = lambda *values: rng.choice(np.asarray(values, dtype=object), n)  # noqa: E731
    lesions = rng.choice([0.0, 1.0, 3.0, np.nan], n)
    frame = pd.DataFrame({
        "lesion_count": lesions,
        "lesion_count_thoracic": np.where(np.isnan(lesions), np.nan, lesions),
        "involved_levels": np.where(np.isnan(lesions), np.nan, np.minimum(lesions, 2.0)),
        "high_intensity_ratio": choose(0.1, 0.4, None),
        "vas": choose(None, 0.0, 2.0, 5.0, 7.5, 9.0),
        "analgesic_step": choose(None, 0.0, 1.0, 2.0, 3.0),
        "neurologic_deficit": choose(None, "none", "stable", "new_or_progressive"),
        "sins_total": choose(None, 3.0, 7.0, 12.0, 13.0, 16.0),
        "bilsky_grade": choose(None, "0", "1b", "1c", "2", "3"),
        "pathologic_fracture": choose(None, True, False),
        "ecog": choose(None, 0.0, 2.0, 3.0, 4.0),
        "primary_tumor": choose(None, "breast", "renal cell", "lymphoma", "myeloma"),
        "prior_radiotherapy": choose(None, True, False),
        "bone_modifying_agent": choose(None, True, False),
        "neuropathic_pain": choose(None, True, False),
    })
    frame.loc[rng.random(n) < 0.05, ["lesion_count", "lesion_count_thoracic",
                                     "involved_levels", "high_intensity_ratio"]] = None
    parsed = parse_frame(frame)
    assert parsed.ok.all()
    codes = rng.integers(0, len(CATEGORIES), n)
    categories = np.asarray(CATEGORIES, dtype=object)[codes]
    for groups in (tier_groups(categories, parsed.X, parsed.contexts),
                   tier_groups(categories, parsed.X, None, coded=parsed.coded),
                   tier_groups(codes, parsed.X, None, coded=parsed.coded)):  # as indices
        decisions = groups.per_case()
        for key in SUMMARY_FIELDS:
            assert list(groups.field(key)) == [getattr(d, key) for d in decisions], key
        sources = set(groups.field("headline_source"))
        assert sources == {"override", "no_lesion", "model"}
    # the grid reaches every override rule
    fired = {o.rule for d in decisions for o in d.overrides}
    assert fired == {"mscc", "high_grade_escc", "sins_unstable", "sins_potentially_unstable"}
    for bad, message in ((np.array([0, 3]), "code 3"), (np.array([-1]), "code -1"),
                         (np.array(["mild", "agony"], dtype=object), "'agony'")):
        with pytest.raises(ValueError, match=message):
            tier_groups(bad, parsed.X[: len(bad)], parsed.contexts.head(len(bad)))
