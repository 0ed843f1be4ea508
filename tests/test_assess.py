"""core.assess: one parse, one score, the advice with its context, uncertainty and frames."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from core import assess as ca
from core.context import parse_case
from core.features import features_from_case
from core.model import load_model
from core.model.uncertainty import PredictionSet
from core.vocab import CATEGORIES

CASE = {"lesion_count": 3, "lesion_count_by_region": {"cervical": 0, "thoracic": 1,
                                                      "lumbar": 2, "sacral": 0},
        "involved_levels": ["T12", "L1", "L2"], "high_intensity_ratio": 0.2,
        "max_level_high_intensity_ratio": 0.3, "sins_total": 5, "bilsky_grade": "1a",
        "neurologic_deficit": "stable", "pathologic_fracture": False, "age": 66, "ecog": 1,
        "analgesic_step": 2, "primary_tumor": "breast", "vas": 9}


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_assess_carries_context_advice_uncertainty_and_discordance(model) -> None:
    result = ca.assess(model, CASE)
    assert result.context.current_analgesic_step == 2
    assert result.context.neurologic_deficit == "stable"
    assert result.tier.category == result.prediction.category
    assert result.tier.headline_source == "model"
    assert isinstance(result.prediction_set, PredictionSet)
    assert result.prediction.category in result.prediction_set.categories
    assert isinstance(result.ood, tuple)
    assert result.recorded_vas == 9.0
    assert result.discordance is not None
    assert result.discordant == (result.prediction.category != "severe")
    # the recorded severe pain counts: a weak opioid is escalated to step 3
    assert result.tier.recommendation("analgesic_escalate").text.startswith(
        "Escalate from WHO step 2 (weak opioid) to WHO step 3")
    out = result.to_dict()
    assert json.loads(json.dumps(out)) == out
    for key in ("features", "context", "prediction", "explanation", "tier", "prediction_set",
                "coverage", "ood", "recorded_vas", "discordant", "discordance",
                "context_warnings"):
        assert key in out


def test_parsed_case_and_raw_case_give_the_same_assessment(model) -> None:
    a = ca.assess(model, CASE)
    b = ca.assess(model, parse_case(CASE))
    assert a.tier == b.tier and a.prediction == b.prediction and a.context == b.context


def test_a_bare_feature_vector_is_assessed_with_a_warning(model) -> None:
    vector = features_from_case({"lesion_count": 2, "neurologic_deficit": "stable"})
    result = ca.assess(model, vector)
    assert result.context.neurologic_deficit == "stable"
    assert result.context.imaging_recorded is True
    assert result.context_warnings == (ca.VECTOR_ONLY_WARNING,)
    assert ca.VECTOR_ONLY_WARNING in result.tier.notes
    blank = ca.assess(model, features_from_case({}))
    assert blank.tier.headline_source == "no_lesion"


def test_invalid_case_raises_one_sentence(model) -> None:
    with pytest.raises(ValueError, match="vas"):
        ca.assess(model, {**CASE, "vas": 12})
    with pytest.raises(ValueError, match="analgesic_step"):
        ca.assess(model, {**CASE, "analgesic_step": 7})


def test_payload_passes_prediction_set_coverage_and_ood_through(model, monkeypatch) -> None:
    seen = {}

    def fake_set(m, probabilities):
        seen["p"] = np.asarray(probabilities)
        return PredictionSet(("moderate", "severe"), 0.9)

    monkeypatch.setattr(ca, "prediction_set", fake_set)
    monkeypatch.setattr(ca, "ood_reasons", lambda m, f, c: ("HI ratio above training range",))
    result = ca.assess(model, CASE)
    payload = ca.assessment_payload(result, model, CASE)
    assert payload["prediction_set"] == ["moderate", "severe"] and payload["coverage"] == 0.9
    assert payload["ood"] == ["HI ratio above training range"]
    np.testing.assert_allclose(seen["p"], [result.prediction.probabilities[c]
                                           for c in CATEGORIES])
    assert payload["recorded_vas"] == 9.0
    assert payload["discordance"] == result.discordance.sentence
    assert payload["tier"]["headline"] == result.tier.headline


def test_assess_frame_matches_assess_and_names_failures(model) -> None:
    rows = [
        CASE,
        {**CASE, "vas": 14},  # invalid
        {**CASE, "lesion_count": 0, "lesion_count_by_region": {r: 0 for r in (
            "cervical", "thoracic", "lumbar", "sacral")}, "involved_levels": []},
        {**CASE, "neurologic_deficit": "new_or_progressive"},
    ]
    flat = pd.DataFrame([{k: v for k, v in r.items() if k not in (
        "lesion_count_by_region", "involved_levels")} for r in rows], index=[10, 11, 12, 13])
    flat["involved_levels"] = [3, 3, 0, 3]
    for region in ("cervical", "thoracic", "lumbar", "sacral"):
        flat[f"lesion_count_{region}"] = [r["lesion_count_by_region"][region] for r in rows]
    out = ca.assess_frame(model, flat)
    assert list(out.index) == [10, 11, 12, 13]
    assert list(out.columns[-len(ca.ASSESSMENT_COLUMNS):]) == list(ca.ASSESSMENT_COLUMNS)
    assert out.loc[11, "category"] is None and "vas" in out.loc[11, "assessment_error"]
    assert math.isnan(out.loc[11, "expected_vas"]) and math.isnan(out.loc[11, "p_mild"])
    assert out.loc[12, "headline_source"] == "no_lesion"
    assert out.loc[12, "region_of_involvement"] == "none"
    assert out.loc[13, "headline_source"] == "override" and out.loc[13, "urgency"] == "urgent"
    for index in (10, 12, 13):
        record = flat.loc[index].to_dict()
        single = ca.assess(model, record)
        assert out.loc[index, "assessment_error"] is None
        assert out.loc[index, "category"] == single.prediction.category
        assert out.loc[index, "tier"] == single.tier.tier
        assert out.loc[index, "headline"] == single.tier.headline
        assert out.loc[index, "expected_vas"] == pytest.approx(single.prediction.expected_vas)
        for c in CATEGORIES:
            assert out.loc[index, f"p_{c}"] == pytest.approx(single.prediction.probabilities[c])


def test_assess_frame_of_an_empty_or_all_invalid_frame(model) -> None:
    empty = ca.assess_frame(model, pd.DataFrame({"vas": pd.Series([], dtype=float)}))
    assert empty.empty and set(ca.ASSESSMENT_COLUMNS) <= set(empty.columns)
    bad = ca.assess_frame(model, pd.DataFrame({"vas": [20.0, -1.0]}))
    assert bad["category"].isna().all() and bad["assessment_error"].notna().all()
