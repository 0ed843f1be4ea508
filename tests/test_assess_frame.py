"""``core.assess.assess_frame``: every row of a frame assessed as ``assess`` would, and a
row that cannot be assessed keeps its one-sentence reason (it used to vanish silently)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.assess import ASSESSMENT_COLUMNS, assess, assess_frame
from core.clinical import load_clinical_table
from core.features import features_from_case
from core.model import load_model
from core.vocab import CATEGORIES, involvement

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    table = load_clinical_table((REPO / "data" / "demo" / "cohort.csv").read_bytes(),
                                "cohort.csv")
    return table.rows.head(40).reset_index(drop=True)


def test_assess_frame_agrees_with_assess_row_by_row(cohort: pd.DataFrame) -> None:
    model = load_model()
    out = assess_frame(model, cohort)
    assert list(out.index) == list(cohort.index)
    assert set(ASSESSMENT_COLUMNS) <= set(out.columns)
    assert list(out.columns[: len(cohort.columns)]) == list(cohort.columns)
    assert out["assessment_error"].isna().all()
    for i, record in enumerate(cohort.to_dict(orient="records")):
        expected = assess(model, record)
        row = out.iloc[i]
        assert row["category"] == expected.prediction.category
        assert row["tier"] == expected.tier.tier
        assert row["urgency"] == expected.tier.urgency
        assert row["expected_vas"] == pytest.approx(expected.prediction.expected_vas)
        for category in CATEGORIES:
            assert row[f"p_{category}"] == pytest.approx(
                expected.prediction.probabilities[category])
    assert list(out["region_of_involvement"]) == list(involvement(cohort))


def test_a_row_that_cannot_be_assessed_keeps_its_reason(cohort: pd.DataFrame) -> None:
    broken = cohort.copy()
    broken.loc[3, "involved_levels"] = 45.0
    with pytest.raises(ValueError) as raised:
        features_from_case(broken.iloc[3].to_dict())
    out = assess_frame(load_model(), broken)
    row = out.iloc[3]
    assert row["assessment_error"] == str(raised.value)
    assert "involved_levels" in row["assessment_error"]
    assert row["category"] is None and row["tier"] is None and row["urgency"] is None
    assert np.isnan(row["expected_vas"])
    assert all(np.isnan(row[f"p_{c}"]) for c in CATEGORIES)
    others = out.drop(index=3)
    assert others["assessment_error"].isna().all()
    assert others["category"].notna().all()


def test_assess_frame_of_an_empty_frame(cohort: pd.DataFrame) -> None:
    out = assess_frame(load_model(), cohort.iloc[:0])
    assert out.empty
    assert set(ASSESSMENT_COLUMNS) <= set(out.columns)
