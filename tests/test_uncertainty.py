"""core.model.uncertainty: conformal prediction sets and out-of-distribution reasons."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from core import model as cm
from core.context import CaseContext, parse_case
from core.demo import DEFAULT_SEED, generate_cohort
from core.features import FEATURE_NAMES, FEATURES_BY_NAME, features_from_case
from core.model.uncertainty import (
    calibrate_conformal,
    conformal_level,
    ood_flags,
    ood_reasons,
    prediction_set,
    prediction_sets,
    sets_from_threshold,
)
from core.vocab import CATEGORIES, LEVEL_NAMES
from tests.test_model import make_cohort

GOLDEN = Path(__file__).parent / "golden"
WHOLE_SPINE = tuple(n for n in LEVEL_NAMES if n not in ("T13", "L6"))


@pytest.fixture(scope="module")
def demo_model() -> cm.TrainedModel:
    return cm.load_model()


@pytest.fixture(scope="module")
def small_model() -> cm.TrainedModel:
    return cm.train(make_cohort(200, seed=21), seed=0, synthetic=True, n_repeats=2,
                    n_splits=5, candidates=("ordinal_logit",))


def _context(**fields) -> CaseContext:
    return CaseContext(**{"sequence": "STIR", "levels_in_view": WHOLE_SPINE, **fields})


TYPICAL = {  # a study in the middle of the demo cohort
    "lesion_count_cervical": 0, "lesion_count_thoracic": 2, "lesion_count_lumbar": 1,
    "lesion_count_sacral": 0, "involved_levels": 3, "high_intensity_ratio": 0.02,
    "max_level_high_intensity_ratio": 0.25, "sins_location": 1, "sins_pain": 1,
    "sins_bone_lesion": 1, "sins_alignment": 0, "sins_collapse": 0,
    "sins_posterolateral": 1, "bilsky_grade": "0", "pathologic_fracture": False,
    "neurologic_deficit": "none", "age": 57, "ecog": 1,
}


# ------------------------------------------------------------------ conformal sets


def test_sets_are_contiguous_never_empty_and_keep_the_most_probable() -> None:
    proba = np.array([[0.5, 0.2, 0.3], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.34, 0.33, 0.33]])
    sets = sets_from_threshold(proba, 0.25)
    # {mild, severe} is widened to all three; {moderate, severe} stays
    assert sets.tolist() == [[True, True, True], [False, True, False], [False, True, True],
                             [True, True, True]]
    # a threshold no category reaches still gives the most probable one
    assert sets_from_threshold(proba, 0.95).tolist() == [
        [True, False, False], [False, True, False], [False, False, True],
        [True, False, False]]
    assert sets_from_threshold(np.array([0.1, 0.6, 0.3]), 0.3).tolist() == [
        [False, True, True]]


def test_conformal_level_is_the_finite_sample_correction() -> None:
    assert conformal_level(9, 0.9) == 1.0
    assert conformal_level(99, 0.9) == pytest.approx(90 / 99)
    assert conformal_level(564, 0.9) == math.ceil(565 * 0.9) / 564


def test_calibration_reaches_the_coverage_with_calibrated_probabilities() -> None:
    """Scores from perfectly calibrated probabilities: the quantile is the documented
    order statistic, the coverage on held-out patients is 90 % within sampling error."""
    rng = np.random.default_rng(4)
    n = 3000
    proba = rng.dirichlet([1.0, 1.0, 1.0], size=n)
    y = (rng.random(n)[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)
    groups = np.array([f"P{i // 2}" for i in range(n)], dtype=object)
    section = calibrate_conformal([proba], y, groups, coverage=0.9)
    scores = 1.0 - proba[np.arange(n), y]
    expected = np.sort(scores)[math.ceil((n + 1) * 0.9) - 1]
    assert section["quantile"] == pytest.approx(expected, abs=1e-6)
    assert section["probability_threshold"] == pytest.approx(1 - section["quantile"],
                                                             abs=1e-6)
    assert section["empirical_coverage"] >= 0.9
    assert section["coverage_held_out_patients"] == pytest.approx(0.9, abs=0.02)
    assert section["n_calibration"] == n and section["n_repeats"] == 1
    assert sum(section["set_size_fraction"].values()) == pytest.approx(1.0, abs=1e-3)
    assert "Sadinle" in section["score"] and any("Angelopoulos" in r
                                                for r in section["references"])


def test_demo_card_states_the_quantile_and_coverage(demo_model: cm.TrainedModel) -> None:
    section = demo_model.card["uncertainty"]["prediction_set"]
    assert section["coverage"] == cm.CONFORMAL_COVERAGE == 0.9
    assert 0.0 < section["quantile"] < 1.0
    assert section["probability_threshold"] == pytest.approx(1 - section["quantile"], abs=1e-6)
    assert section["n_calibration"] == demo_model.card["training_data"]["n_rows"]
    assert section["n_repeats"] == 5
    assert 0.9 <= section["empirical_coverage"] <= 0.93
    assert section["coverage_held_out_patients"] == pytest.approx(0.9, abs=0.03)
    assert 1.0 <= section["mean_set_size"] < 3.0


@pytest.mark.parametrize(("model_name", "cohort", "tolerance"), [
    ("demo_model", lambda: generate_cohort(400, DEFAULT_SEED + 1), 0.04),
    ("small_model", lambda: make_cohort(400, seed=99), 0.05),
])
def test_coverage_on_held_out_synthetic_patients(request: pytest.FixtureRequest,
                                                 model_name: str, cohort, tolerance: float
                                                 ) -> None:
    """New patients from the same generator (another seed): the 90 % sets cover the
    recorded category about 90 % of the time."""
    model = request.getfixturevalue(model_name)
    data = cm.cohort_to_arrays(cohort())
    sets = prediction_sets(model, cm.predict_rows(model, data.X).probabilities)
    coverage = sets[np.arange(data.y.size), data.y].mean()
    assert coverage == pytest.approx(0.9, abs=tolerance)
    assert (sets.sum(axis=1) >= 1).all()


def test_prediction_set_of_one_case_matches_the_vectorised_sets(
        demo_model: cm.TrainedModel) -> None:
    rows = cm.predict_rows(demo_model, cm.cohort_to_arrays(generate_cohort(30)).X)
    sets = prediction_sets(demo_model, rows.probabilities)
    for proba, member in zip(rows.probabilities, sets, strict=True):
        one = prediction_set(demo_model, proba)
        assert one.categories == tuple(c for c, m in zip(CATEGORIES, member, strict=True) if m)
        assert one.coverage == 0.9
        assert CATEGORIES[int(np.argmax(proba))] in one.categories
    assert json.loads(json.dumps(one.to_dict())) == {
        "prediction_set": list(one.categories), "coverage": 0.9}


def _without_uncertainty(model: cm.TrainedModel) -> cm.TrainedModel:
    card = copy.deepcopy(model.card)
    card.pop("uncertainty")
    return cm.TrainedModel(pipeline=model.pipeline, card=card, background=model.background)


def test_a_card_without_calibration_gives_the_top_category_and_no_reasons(
        demo_model: cm.TrainedModel) -> None:
    old = _without_uncertainty(demo_model)
    result = prediction_set(old, np.array([0.45, 0.4, 0.15]))
    assert result.categories == ("mild",) and result.coverage is None
    far = features_from_case({"lesion_count": 400, "age": 105})
    assert ood_reasons(old, far, _context(sequence="T1")) == ()
    assert ood_flags(old, far.row()) is None


# ------------------------------------------------------------------ out of distribution


def test_a_typical_case_has_no_reason(demo_model: cm.TrainedModel) -> None:
    assert ood_reasons(demo_model, features_from_case(TYPICAL), _context()) == ()
    # nothing recorded but the sequence and field of view: in distribution too
    assert ood_reasons(demo_model, features_from_case({}), _context()) == ()


def test_training_rows_are_in_range_and_about_one_percent_unusual(
        demo_model: cm.TrainedModel) -> None:
    frame, _ = cm.read_cohort(cm.DEFAULT_MODEL_DIR.parents[1] / "data" / "demo" / "cohort.csv")
    data = cm.cohort_to_arrays(frame)
    flags = ood_flags(demo_model, data.X)
    assert not flags.below.any() and not flags.above.any()
    assert 0.0 < flags.unusual.mean() <= 0.011  # above the 99th percentile
    threshold = demo_model.card["uncertainty"]["out_of_distribution"]["mahalanobis"]
    assert np.percentile(flags.distance, 99) == pytest.approx(threshold["threshold"],
                                                              rel=1e-6)


def test_a_value_outside_the_training_range_is_named(demo_model: cm.TrainedModel) -> None:
    ranges = demo_model.card["uncertainty"]["out_of_distribution"]["feature_ranges"]
    low, high = ranges["lesion_count"]
    many = {**TYPICAL, "lesion_count_thoracic": int(high) + 10}
    reasons = ood_reasons(demo_model, features_from_case(many), _context())
    spec = FEATURES_BY_NAME["lesion_count"]
    assert reasons[0] == (f"Metastatic sites (all levels) {int(high) + 11} is above the "
                          f"training range ({spec.render(low)} to {spec.render(high)}): "
                          "the prediction extrapolates.")
    none = {**TYPICAL, **{f"lesion_count_{r}": 0 for r in
                          ("cervical", "thoracic", "lumbar", "sacral")}, "involved_levels": 0}
    assert low > 0  # every synthetic study has a lesion: a lesion-free study is new
    assert any(r.startswith("Metastatic sites (all levels) 0 is below the training range")
               for r in ood_reasons(demo_model, features_from_case(none), _context()))
    old = {**TYPICAL, "age": 100}
    assert any(r.startswith("Age 100 is above the training range")
               for r in ood_reasons(demo_model, features_from_case(old), _context()))


def test_an_unusual_combination_is_named_by_its_mahalanobis_distance(
        demo_model: cm.TrainedModel) -> None:
    """Twenty cervical lesions on seven levels with a minimal HI ratio: every value within
    its training range, the combination unlike any training study."""
    odd = {**TYPICAL, "lesion_count_cervical": 20, "lesion_count_thoracic": 0,
           "lesion_count_lumbar": 0, "involved_levels": 7, "high_intensity_ratio": 0.001,
           "max_level_high_intensity_ratio": 0.9}
    features = features_from_case(odd)
    flags = ood_flags(demo_model, features.row())
    assert not flags.below.any() and not flags.above.any()
    assert flags.unusual[0]
    reasons = ood_reasons(demo_model, features, _context())
    threshold = demo_model.card["uncertainty"]["out_of_distribution"]["mahalanobis"][
        "threshold"]
    assert reasons == (
        "The combination of values is unusual for the training studies (Mahalanobis "
        f"distance {flags.distance[0]:.1f}, above the 99th percentile {threshold:.1f} of "
        "the training studies).",)


@pytest.mark.parametrize(("sequence", "reason"), [
    ("STIR (synthetic phantom)", None),
    ("Sag T2 FS", None),
    ("STIR", None),
    ("T1 TSE sag", "The image's sequence (T1) was not seen in training; the model was "
                   "trained on STIR, T2-FS studies, and HI ratios from other sequences are "
                   "not comparable."),
    ("t2_tse_sag", "The image's sequence (T2) was not seen in training; the model was "
                   "trained on STIR, T2-FS studies, and HI ratios from other sequences are "
                   "not comparable."),
    ("localizer", "The image's sequence could not be identified; the model was trained on "
                  "STIR, T2-FS studies, and HI ratios from other sequences are not "
                  "comparable."),
])
def test_a_sequence_not_seen_in_training_is_named(demo_model: cm.TrainedModel,
                                                  sequence: str, reason: str | None) -> None:
    reasons = ood_reasons(demo_model, features_from_case(TYPICAL), _context(sequence=sequence))
    assert reasons == (() if reason is None else (reason,))
    section = demo_model.card["uncertainty"]["out_of_distribution"]["sequences"]
    assert section["seen"] == ["STIR", "T2-FS"] and section["source"].startswith("assumed")


def test_a_field_of_view_that_misses_a_trained_region_is_named(
        demo_model: cm.TrainedModel) -> None:
    features = features_from_case(TYPICAL)
    cervical = ood_reasons(demo_model, features,
                           _context(levels_in_view=("C5", "C2", "C3", "C4")))
    assert cervical == ("The study's measured levels (C2-C5) do not include the thoracic, "
                        "lumbar or sacral spine, which the training studies covered: lesions "
                        "there were not counted.",)
    # the extract JSON of a lumbar phantom, read like any case (levels T10-L4, no sacrum)
    extract = json.loads((GOLDEN / "extract_phantom.json").read_text(encoding="utf-8"))
    parsed = parse_case(extract)
    assert parsed.context.levels_in_view[0] == "T10"
    reasons = ood_reasons(demo_model, parsed.features, parsed.context)
    assert ("The study's measured levels (T10-L4) do not include the cervical or sacral "
            "spine, which the training studies covered: lesions there were not counted."
            in reasons)
    # without a level list (a table row) nothing is said about the field of view
    assert ood_reasons(demo_model, features, _context(levels_in_view=())) == ()


def test_reasons_come_in_order_one_sentence_each(demo_model: cm.TrainedModel) -> None:
    odd = {**TYPICAL, "age": 100}
    reasons = ood_reasons(demo_model, features_from_case(odd),
                          _context(sequence="T1", levels_in_view=("L1", "L2")))
    assert [r.split(" ")[0] for r in reasons][:1] == ["Age"]
    assert reasons[-2].startswith("The image's sequence (T1)")
    assert reasons[-1].startswith("The study's measured levels (L1-L2)")
    assert all(r.endswith(".") and r.count(". ") == 0 for r in reasons)


def test_ood_reasons_take_only_parsed_inputs(demo_model: cm.TrainedModel) -> None:
    with pytest.raises(TypeError, match="FeatureVector and a CaseContext"):
        ood_reasons(demo_model, dict(TYPICAL), _context())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="FeatureVector and a CaseContext"):
        ood_reasons(demo_model, features_from_case(TYPICAL), {})  # type: ignore[arg-type]


def test_card_reference_lists_every_feature(demo_model: cm.TrainedModel) -> None:
    section = demo_model.card["uncertainty"]["out_of_distribution"]
    assert list(section["feature_ranges"]) == list(FEATURE_NAMES)
    cov = np.asarray(section["mahalanobis"]["covariance"])
    assert cov.shape == (len(FEATURE_NAMES), len(FEATURE_NAMES))
    np.testing.assert_allclose(cov, cov.T, atol=0)
    assert section["mahalanobis"]["percentile"] == cm.MAHALANOBIS_PERCENTILE == 99.0
    assert section["field_of_view"]["regions"] == ["cervical", "thoracic", "lumbar", "sacral"]
