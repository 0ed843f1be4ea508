"""core.tiers: the rule table, rule by rule."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import tiers as ct
from core.features import features_from_case


def decide(category: str, raw: dict) -> ct.TierDecision:
    """The rule tables on a raw case, parsed once into a FeatureVector."""
    return ct.decide_tier(category, features_from_case(raw))

SAFE = {"sins_total": 3, "bilsky_grade": "0", "neurologic_deficit": False,
        "pathologic_fracture": False}


def fired(decision: ct.TierDecision) -> set[str]:
    return {o.rule for o in decision.overrides}


@pytest.mark.parametrize(("category", "tier", "step", "urgency"), [
    ("mild", "1", "WHO step 1", "routine"),
    ("moderate", "2", "WHO step 2", "routine"),
    ("severe", "3", "WHO step 3", "soon"),
])
def test_category_to_tier(category: str, tier: str, step: str, urgency: str) -> None:
    decision = decide(category, SAFE)
    assert decision.tier == tier
    assert decision.category == category
    assert decision.recommendations[0].text.startswith(step)
    assert decision.urgency == urgency
    assert decision.overrides == ()
    assert decision.missing_safety_inputs == ()
    texts = " ".join(r.text for r in decision.recommendations)
    assert "zoledronic acid or denosumab" in texts
    assert "8 Gy" in texts and "SBRT" in texts
    assert "kyphoplasty" not in texts


def test_ladder_content() -> None:
    moderate = decide("moderate", SAFE).recommendations[0].text
    assert "weak opioid" in moderate and "low-dose strong opioid" in moderate
    assert "non-opioid" in moderate
    severe = decide("severe", SAFE).recommendations[0].text
    assert "strong opioid" in severe and "titrated" in severe
    mild = decide("mild", SAFE).recommendations[0].text
    assert "non-opioid" in mild and "opioid (" not in mild


def test_every_item_has_a_reference() -> None:
    for rule in ct.TIER_RULES:
        for rec in rule.recommendations:
            assert rec.reference.strip()
    for cond in ct.CONDITIONAL_RULES:
        assert cond.recommendation.reference.strip()
    for over in ct.OVERRIDE_RULES:
        assert over.reference.strip()
    assert "Fallon" in ct.ESMO_2018 and "iv166" in ct.ESMO_2018
    assert "Lutz" in ct.ASTRO_2017 and "Alcorn" in ct.ASTRO_2024
    assert "E1221" in ct.SINS_2010 and "324-328" in ct.BILSKY_2010
    assert "1986" in ct.WHO_LADDER and "2018" in ct.WHO_LADDER


# ------------------------------------------------------------ overrides one by one


@pytest.mark.parametrize(("sins", "expected"), [
    (0, set()), (6, set()), (7, {"sins_potentially_unstable"}),
    (10, {"sins_potentially_unstable"}), (12, {"sins_potentially_unstable"}),
    (13, {"sins_unstable"}), (18, {"sins_unstable"}),
])
def test_sins_overrides(sins: int, expected: set[str]) -> None:
    decision = decide("mild", {**SAFE, "sins_total": sins})
    assert fired(decision) == expected
    if expected:
        (override,) = decision.overrides
        assert f"SINS total = {sins}" in override.reason
        assert "Fisher" in override.reference
    urgency = {frozenset(): "routine", frozenset({"sins_potentially_unstable"}): "soon",
               frozenset({"sins_unstable"}): "urgent"}[frozenset(expected)]
    assert decision.urgency == urgency


def test_sins_from_components() -> None:
    parts = {"sins_location": 3, "sins_pain": 3, "sins_bone_lesion": 2, "sins_alignment": 2,
             "sins_collapse": 2, "sins_posterolateral": 1}  # = 13
    clinical = {k: v for k, v in SAFE.items() if k != "sins_total"} | parts
    assert fired(decide("moderate", clinical)) == {"sins_unstable"}


@pytest.mark.parametrize(("grade", "fires"), [
    ("0", False), ("1a", False), ("1b", False), ("1c", False), ("2", True), ("3", True),
    (0, False), (2, True), (3.0, True),  # a number a user gives is a Bilsky grade
])
def test_bilsky_override(grade: object, fires: bool) -> None:
    decision = decide("mild", {**SAFE, "bilsky_grade": grade})
    assert fired(decision) == ({"bilsky_high_grade"} if fires else set())
    assert decision.urgency == ("urgent" if fires else "routine")
    if fires:
        assert "Bilsky grade" in decision.overrides[0].reason
        assert "Bilsky" in decision.overrides[0].reference


@pytest.mark.parametrize(("deficit", "fires"), [
    (True, True), (1, True), ("yes", True), (False, False), (0, False), ("no", False),
])
def test_neurologic_deficit_override(deficit: object, fires: bool) -> None:
    decision = decide("moderate", {**SAFE, "neurologic_deficit": deficit})
    assert fired(decision) == ({"neurologic_deficit"} if fires else set())
    assert decision.urgency == ("urgent" if fires else "routine")


def test_fracture_adds_vertebral_augmentation() -> None:
    decision = decide("moderate", {**SAFE, "pathologic_fracture": True})
    last = decision.recommendations[-1]
    assert "kyphoplasty" in last.text and "vertebroplasty" in last.text
    assert "Berenson" in last.reference
    assert decision.overrides == () and decision.urgency == "routine"


# ------------------------------------------------------------------ combinations


def test_highest_urgency_wins_and_order() -> None:
    decision = decide("mild", {"sins_total": 9, "bilsky_grade": "3",
                                      "neurologic_deficit": True})
    assert decision.urgency == "urgent"
    assert [o.rule for o in decision.overrides] == [
        "bilsky_high_grade", "neurologic_deficit", "sins_potentially_unstable"]
    assert decision.tier == "1"  # the tier keeps the model's category; overrides outrank it
    assert decide("severe", {**SAFE, "sins_total": 8}).urgency == "soon"
    assert decide("mild", {**SAFE, "sins_total": 8}).urgency == "soon"


def _oracle(sins: int | None, bilsky: str | None, deficit: bool | None) -> set[str]:
    out = set()
    if sins is not None and 7 <= sins <= 12:
        out.add("sins_potentially_unstable")
    if sins is not None and sins >= 13:
        out.add("sins_unstable")
    if bilsky in ("2", "3"):
        out.add("bilsky_high_grade")
    if deficit:
        out.add("neurologic_deficit")
    return out


@settings(max_examples=200, deadline=None)
@given(
    category=st.sampled_from(["mild", "moderate", "severe"]),
    sins=st.one_of(st.none(), st.integers(0, 18)),
    bilsky=st.one_of(st.none(), st.sampled_from(["0", "1a", "1b", "1c", "2", "3"])),
    deficit=st.one_of(st.none(), st.booleans()),
)
def test_overrides_fire_exactly_on_their_conditions(category: str, sins: int | None,
                                                    bilsky: str | None,
                                                    deficit: bool | None) -> None:
    decision = decide(category, {"sins_total": sins, "bilsky_grade": bilsky,
                                        "neurologic_deficit": deficit})
    expected = _oracle(sins, bilsky, deficit)
    assert fired(decision) == expected
    levels = [ct.URGENCY_ORDER.index(o.urgency) for o in decision.overrides]
    assert levels == sorted(levels, reverse=True)
    base = {"mild": 0, "moderate": 0, "severe": 1}[category]
    assert ct.URGENCY_ORDER.index(decision.urgency) == max([base, *levels])
    missing = {n for n, v in (("sins_total", sins), ("bilsky_grade", bilsky),
                              ("neurologic_deficit", deficit)) if v is None}
    assert set(decision.missing_safety_inputs) == missing


# ----------------------------------------------------------------------- edges


def test_missing_safety_inputs_are_reported_not_imputed() -> None:
    decision = decide("moderate", {})
    assert decision.overrides == ()
    assert decision.missing_safety_inputs == ("sins_total", "bilsky_grade",
                                              "neurologic_deficit")


@pytest.mark.parametrize(("category", "clinical", "match"), [
    ("unbearable", SAFE, "pain category"),
    ("Mild", SAFE, "pain category"),
    ("mild", {"sins_total": 25}, "sins_total"),
    ("mild", {"bilsky_grade": "4"}, "bilsky_grade"),
])
def test_rejects_bad_input(category: str, clinical: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decide(category, clinical)


def test_to_dict_is_json() -> None:
    decision = decide("severe", {"sins_total": 14, "neurologic_deficit": 1,
                                        "pathologic_fracture": 1})
    out = decision.to_dict()
    assert json.loads(json.dumps(out)) == out
    assert out["overrides"][0]["rule"] in {"sins_unstable", "neurologic_deficit"}
    assert set(out) == {"tier", "tier_label", "category", "urgency", "recommendations",
                        "overrides", "missing_safety_inputs"}


@pytest.mark.parametrize(("grade", "fires"), [("1b", False), ("1c", False), ("2", True)])
def test_feature_vector_is_never_parsed_twice(grade: str, fires: bool) -> None:
    # Code 2 (grade 1b) once became grade 2 when parsed twice; parsing a vector is a no-op.
    features = features_from_case({**SAFE, "bilsky_grade": grade})
    assert features_from_case(features) is features
    decision = ct.decide_tier("mild", features)
    assert fired(decision) == ({"bilsky_high_grade"} if fires else set())
    assert decision == decide("mild", {**SAFE, "bilsky_grade": grade})


def test_decide_tier_refuses_a_raw_mapping() -> None:
    with pytest.raises(TypeError, match="FeatureVector"):
        ct.decide_tier("mild", {"bilsky_grade": 2.0})


@pytest.mark.parametrize(("count", "fires"), [(0, True), (1, False), (None, False)])
def test_no_lesion_measured_asks_to_confirm_the_source(count: object, fires: bool) -> None:
    decision = decide("moderate", {**SAFE, "lesion_count": count})
    texts = [r.text for r in decision.recommendations]
    assert any(t.startswith("No metastatic lesion was measured") for t in texts) == fires


# ------------------------------------------------------ review: feature-vector edge cases


@pytest.mark.parametrize(("sins", "expected"), [
    (6.0, set()), (7.0, {"sins_potentially_unstable"}), (12.0, {"sins_potentially_unstable"}),
    (13.0, {"sins_unstable"}),
])
def test_sins_band_edges(sins: float, expected: set[str]) -> None:
    decision = decide("mild", {"sins_total": sins, "bilsky_grade": "0",
                               "neurologic_deficit": 0})
    assert fired(decision) == expected


@pytest.mark.parametrize("sins", [6.9, 12.5, 12.99])
def test_a_non_integer_sins_never_reaches_the_rules(sins: float) -> None:
    # A SINS of 12.5 once fired no override at all: the vector refuses it at the edge.
    with pytest.raises(ValueError, match="sins_total"):
        features_from_case({"sins_total": sins})


@pytest.mark.parametrize("missing", [float("nan"), None])
def test_nan_safety_input_is_reported_missing(missing: object) -> None:
    # pandas rows carry NaN, not None: a NaN SINS was neither checked nor reported missing.
    decision = decide(
        "mild", {"sins_total": missing, "bilsky_grade": missing, "neurologic_deficit": missing})
    assert decision.overrides == ()
    assert decision.missing_safety_inputs == ("sins_total", "bilsky_grade",
                                              "neurologic_deficit")


@pytest.mark.parametrize(("features", "match"), [
    ({"neurologic_deficit": 0.5}, "neurologic_deficit"),
    ({"bilsky_grade": 4.5}, "bilsky_grade"),
    ({"bilsky_grade": 6.0}, "bilsky_grade"),
    ({"sins_total": 19.0}, "sins_total"),
    ({"neurologic_deficit": "unknown"}, "neurologic_deficit"),
])
def test_values_the_rules_cannot_read_are_refused_at_the_edge(features: dict,
                                                              match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decide("mild", features)


@pytest.mark.parametrize("value", ["unknown", "not assessed", "?"])
def test_unknown_deficit_text_is_refused_not_read_as_no(value: str) -> None:
    with pytest.raises(ValueError, match="neurologic_deficit"):
        decide("mild", {**SAFE, "neurologic_deficit": value})
