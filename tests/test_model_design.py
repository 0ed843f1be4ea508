"""Issue 9 design of the pain model: no circular inputs, the paper's directions, floors.

Every property is checked on the shipped demo model and on a small model trained here,
so it holds by construction (features, bounds), not by luck of one fit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import model as cm
from core.features import FEATURE_NAMES, FEATURES, features_from_case
from core.vocab import ANALGESIC_STEPS, BILSKY_GRADES, DEFICIT_STATES, SINS_POINTS
from tests.test_model import make_cohort

REGIONS = ("cervical", "thoracic", "lumbar", "sacral")
MODELS = ("demo_model", "small_model")


@pytest.fixture(scope="module")
def demo_model() -> cm.TrainedModel:
    return cm.load_model()


@pytest.fixture(scope="module")
def small_model() -> cm.TrainedModel:
    return cm.train(make_cohort(120, seed=5), seed=0, synthetic=True, n_repeats=1,
                    n_splits=3, candidates=("ordinal_logit",))


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


@st.composite
def raw_cases(draw: st.DrawFn) -> dict:
    """A valid raw case with all four regional counts recorded (so every site count is
    known) and anything else recorded or not; ``involved_levels`` consistent."""
    counts = {r: draw(st.integers(0, 12)) for r in REGIONS}
    total = sum(counts.values())
    case: dict = {f"lesion_count_{r}": n for r, n in counts.items()}
    if draw(st.booleans()):
        case["lesion_count"] = total
    if draw(st.booleans()):
        case["involved_levels"] = draw(st.integers(min(total, 1), min(total, 24)))
    hi = draw(_maybe(st.floats(0.0, 0.5)))
    case["high_intensity_ratio"] = hi
    case["max_level_high_intensity_ratio"] = draw(_maybe(st.floats(hi or 0.0, 0.95)))
    if draw(st.booleans()):
        for part, points in SINS_POINTS.items():
            case[part] = draw(st.sampled_from(points))
    case["bilsky_grade"] = draw(_maybe(st.sampled_from(BILSKY_GRADES)))
    case["pathologic_fracture"] = draw(_maybe(st.booleans()))
    case["neurologic_deficit"] = draw(_maybe(st.sampled_from(DEFICIT_STATES)))
    case["age"] = draw(_maybe(st.integers(30, 85)))
    case["ecog"] = draw(_maybe(st.integers(0, 4)))
    return case


def _with_lesion(case: dict, region: str, new_level: bool) -> dict:
    """``case`` with one more lesion in ``region`` (on a new level or an involved one)."""
    out = {**case, f"lesion_count_{region}": case[f"lesion_count_{region}"] + 1}
    if "lesion_count" in case:
        out["lesion_count"] = case["lesion_count"] + 1
    levels = case.get("involved_levels")
    if levels is not None and (new_level or levels == 0):
        out["involved_levels"] = levels + 1
    return out


def _expected_vas_and_eta(model: cm.TrainedModel, case: dict) -> tuple[float, float]:
    scores = cm.score(model, features_from_case(case))
    return float(cm.predict_scores(model, scores).expected_vas[0]), float(scores.eta[0])


# ------------------------------------------------------------------ no circular inputs


@pytest.mark.parametrize("model_name", MODELS)
@settings(max_examples=120, deadline=None)
@given(case=raw_cases(), step=_maybe(st.sampled_from(sorted(ANALGESIC_STEPS))),
       prior_rt=_maybe(st.booleans()), bma=_maybe(st.booleans()),
       neuropathic=_maybe(st.booleans()), vas=_maybe(st.integers(0, 10)))
def test_treatment_and_pain_reports_never_change_the_probabilities(
        request: pytest.FixtureRequest, model_name: str, case: dict, step: int | None,
        prior_rt: bool | None, bma: bool | None, neuropathic: bool | None,
        vas: int | None) -> None:
    """The current analgesic step, prior radiotherapy, a bone-modifying agent, a
    neuropathic component and a recorded VAS follow from (or are) the pain: context for
    the advice, never an input, so they cannot move the prediction."""
    model = request.getfixturevalue(model_name)
    with_context = {**case, "analgesic_step": step, "prior_radiotherapy": prior_rt,
                    "bone_modifying_agent": bma, "neuropathic_pain": neuropathic, "vas": vas}
    plain, given_ = features_from_case(case), features_from_case(with_context)
    assert plain == given_
    before, after = cm.predict(model, plain), cm.predict(model, given_)
    assert before.probabilities == after.probabilities


@pytest.mark.parametrize("model_name", MODELS)
@settings(max_examples=60, deadline=None)
@given(case=raw_cases(), pain=st.sampled_from(SINS_POINTS["sins_pain"]))
def test_the_sins_pain_component_never_changes_the_probabilities(
        request: pytest.FixtureRequest, model_name: str, case: dict, pain: int) -> None:
    """SINS without its pain item is the input: the same five parts with another pain
    score (and so another SINS total) give the same prediction."""
    model = request.getfixturevalue(model_name)
    parts = {p: case.get(p, 0) for p in SINS_POINTS}
    base = {**case, **parts}
    other = {**base, "sins_pain": pain, "sins_total": sum(parts.values()) - parts["sins_pain"]
             + pain}
    assert features_from_case(base)["sins_without_pain"] == sum(
        v for k, v in parts.items() if k != "sins_pain")
    assert (cm.predict(model, features_from_case(base)).probabilities
            == cm.predict(model, features_from_case(other)).probabilities)


def test_no_excluded_field_is_a_feature() -> None:
    from core.features import EXCLUDED_PREDICTORS

    assert not set(EXCLUDED_PREDICTORS) & set(FEATURE_NAMES)
    assert {"analgesic_step", "prior_radiotherapy", "sins_total"} <= set(EXCLUDED_PREDICTORS)


# ------------------------------------------------------------------ the paper's directions


@pytest.mark.parametrize("model_name", MODELS)
@settings(max_examples=120, deadline=None)
@given(case=raw_cases(), region=st.sampled_from(REGIONS), new_level=st.booleans())
def test_adding_a_lesion_in_any_region_raises_expected_vas(
        request: pytest.FixtureRequest, model_name: str, case: dict, region: str,
        new_level: bool) -> None:
    """With every regional count recorded, one more lesion anywhere strictly raises the
    latent score (every site count's weight is at least the floor) and never lowers the
    expected VAS."""
    model = request.getfixturevalue(model_name)
    vas_before, eta_before = _expected_vas_and_eta(model, case)
    vas_after, eta_after = _expected_vas_and_eta(model, _with_lesion(case, region, new_level))
    assert eta_after > eta_before
    assert vas_after > vas_before


@pytest.mark.parametrize("model_name", MODELS)
@settings(max_examples=120, deadline=None)
@given(case=raw_cases(), new_level=st.booleans())
def test_one_lumbar_lesion_raises_pain_more_than_thoracic_more_than_cervical(
        request: pytest.FixtureRequest, model_name: str, case: dict, new_level: bool) -> None:
    """Kong et al. 2025: lumbar > thoracic > cervical. One lesion added to the same case
    (same involved levels) raises the expected VAS most in the lumbar spine, then the
    thoracic, then the cervical spine; a sacral (weight-bearing) lesion counts like a
    lumbar one."""
    model = request.getfixturevalue(model_name)
    added = {r: _expected_vas_and_eta(model, _with_lesion(case, r, new_level))
             for r in REGIONS}
    assert added["lumbar"][1] > added["thoracic"][1] > added["cervical"][1]
    assert added["lumbar"][0] > added["thoracic"][0] > added["cervical"][0]
    assert added["sacral"] == pytest.approx(added["lumbar"], abs=1e-12)


@pytest.mark.parametrize("model_name", MODELS)
def test_per_lesion_latent_increments_follow_the_paper(request: pytest.FixtureRequest,
                                                       model_name: str) -> None:
    """The raw-unit weights: a cervical site adds w(total), a thoracic one also
    w(noncervical), a lumbar or sacral one also w(lumbosacral); each > 0."""
    model = request.getfixturevalue(model_name)
    a = model.cache["arrays"]
    per_unit = dict(zip(FEATURE_NAMES, a["coef"] / a["scale"], strict=True))
    cervical = per_unit["lesion_count"]
    thoracic = cervical + per_unit["lesion_count_noncervical"]
    lumbar = thoracic + per_unit["lesion_count_lumbosacral"]
    assert lumbar > thoracic > cervical > 0
    assert per_unit["high_intensity_ratio"] > 0
    assert per_unit["max_level_high_intensity_ratio"] > 0


# ------------------------------------------------------------------ floors


@pytest.mark.parametrize("model_name", MODELS)
def test_floors_and_signs_hold_in_the_fitted_weights(request: pytest.FixtureRequest,
                                                     model_name: str) -> None:
    model = request.getfixturevalue(model_name)
    coef = model.cache["arrays"]["coef"]
    for spec, w in zip(FEATURES, coef, strict=True):
        if spec.floor:
            assert w >= cm.WEIGHT_FLOOR, spec.name
        elif spec.monotone > 0:
            assert w >= 0.0, spec.name
    card = {c["feature"]: c for c in model.card["model"]["coefficients"]}
    assert [card[f.name]["lower_bound"] for f in FEATURES] == [
        cm.WEIGHT_FLOOR if f.floor else 0.0 if f.monotone > 0 else None for f in FEATURES]
    assert model.estimator.weight_floor == cm.WEIGHT_FLOOR
    assert list(model.estimator.floor) == list(cm.FLOOR)


def test_without_floors_collinear_counts_are_clipped_to_zero() -> None:
    """Why the floor exists: on the demo cohort plain >= 0 bounds give at least one of the
    nested site counts or HI ratios a weight of exactly 0 (a finding that changes
    nothing); the floors keep all of them positive."""
    frame, errors = cm.read_cohort(cm.DEFAULT_MODEL_DIR.parents[1] / "data" / "demo"
                                   / "cohort.csv")
    assert not errors
    data = cm.cohort_to_arrays(frame)
    floored = [f.name for f in FEATURES if f.floor]
    plain = cm.make_estimator(alpha=1.0)
    plain.set_params(model__floor=None).fit(data.X, data.y)
    weights = dict(zip(FEATURE_NAMES, plain.named_steps["model"].coef_, strict=True))
    assert min(weights[n] for n in floored) == 0.0
    bounded = cm.make_estimator(alpha=1.0).fit(data.X, data.y)
    weights = dict(zip(FEATURE_NAMES, bounded.named_steps["model"].coef_, strict=True))
    assert min(weights[n] for n in floored) >= cm.WEIGHT_FLOOR
    np.testing.assert_array_less(0.0, [weights[n] for n in floored])
