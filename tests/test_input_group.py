"""The input group's edit events (ui.input_group): what reaches the session state from
the browser is a number on the input's grid and within its range, one of a choice
input's own values or none picked, or nothing. The browser side (a native slider and box
moving together, a choice toggled, the event reaching the page) is tested in
tests/test_browser.py (What-if)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ui.input_group import REFUSED, ChoiceInput, PairedInput, apply_edit, clean_choice, clean_value

COUNT = PairedInput("whatif_lesion_count_lumbar", "Lumbar lesions", 0, 40, 200, 1)
PERCENT = PairedInput("whatif_high_intensity_ratio", "HI ratio", 0.0, 100.0, 100.0, 0.1,
                      unit="%")
ECOG = ChoiceInput("whatif_ecog", "ECOG", (0, 1, 2, 3, 4), ("0", "1", "2", "3", "4"))
BILSKY = ChoiceInput("whatif_bilsky_grade", "Bilsky", ("0", "1a", "1b", "1c", "2", "3"),
                     ("0", "1a", "1b", "1c", "2", "3"))


@pytest.mark.parametrize(("spec", "value", "expected"), [
    (COUNT, 6, 6), (COUNT, 6.4, 6), (COUNT, 6.6, 7), (COUNT, -3, 0), (COUNT, 250, 200),
    (COUNT, 55, 55),  # beyond the slider's end, within the box's range
    (PERCENT, 30, 30.0), (PERCENT, 42.46, 42.5), (PERCENT, 100.04, 100.0),
    (PERCENT, -0.2, 0.0), (PERCENT, 12.34999, 12.3),
])
def test_a_value_is_rounded_to_the_step_and_kept_in_range(spec: PairedInput, value: float,
                                                          expected: float) -> None:
    got = clean_value(spec, value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value", [None, "6", float("nan"), float("inf"), -float("inf"),
                                   True, [6], {"value": 6}])
def test_what_is_not_a_finite_number_is_refused(value: object) -> None:
    assert clean_value(COUNT, value) is None
    assert clean_value(PERCENT, value) is None


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_any_finite_number_lands_on_the_grid_within_range(value: float) -> None:
    for spec in (COUNT, PERCENT):
        got = clean_value(spec, value)
        assert got is not None and spec.minimum <= got <= spec.maximum
        steps = (got - spec.minimum) / spec.step
        assert math.isclose(steps, round(steps), abs_tol=1e-6)
        assert clean_value(spec, got) == got  # stable: a value drawn back stays put


def test_an_edit_is_stored_under_its_input_and_nothing_else_changes() -> None:
    state = {"whatif_lesion_count_lumbar": 0, "other": "kept"}
    assert apply_edit((COUNT, PERCENT), {"name": COUNT.name, "value": 6.2, "seq": 3}, state)
    assert state == {"whatif_lesion_count_lumbar": 6, "other": "kept"}
    assert apply_edit((COUNT, PERCENT), {"name": PERCENT.name, "value": 30.04}, state)
    assert state[PERCENT.name] == 30.0


@pytest.mark.parametrize("edit", [
    None, "6", [COUNT.name, 6], {"name": "whatif_age", "value": 60},  # not one of the inputs
    {"name": COUNT.name}, {"name": COUNT.name, "value": "six"},
    {"name": COUNT.name, "value": float("nan")}, {"value": 6},
])
def test_an_unknown_or_malformed_edit_changes_nothing(edit: object) -> None:
    state = {"whatif_lesion_count_lumbar": 2}
    assert not apply_edit((COUNT, PERCENT), edit, state)
    assert state == {"whatif_lesion_count_lumbar": 2}


@pytest.mark.parametrize(("spec", "index", "expected"), [
    (ECOG, 0, 0), (ECOG, 4, 4), (BILSKY, 2, "1b"), (BILSKY, 0, "0"),
    (ECOG, None, None), (BILSKY, None, None),  # a choice cleared: not recorded
])
def test_a_choice_stores_its_own_value_and_none_clears_it(spec: ChoiceInput, index: object,
                                                           expected: object) -> None:
    assert clean_choice(spec, index) == expected
    state = {spec.name: spec.values[1], "other": "kept"}
    assert apply_edit((COUNT, ECOG, BILSKY), {"name": spec.name, "value": index}, state)
    assert state == {spec.name: expected, "other": "kept"}


@pytest.mark.parametrize("index", [5, -1, 1.0, "1b", True, False, [1], {"i": 1},
                                   float("nan")])
def test_what_is_not_the_index_of_a_choice_is_refused(index: object) -> None:
    assert clean_choice(ECOG, index) is REFUSED
    state = {ECOG.name: 2}
    assert not apply_edit((COUNT, ECOG), {"name": ECOG.name, "value": index}, state)
    assert state == {ECOG.name: 2}


def test_a_choice_edit_without_a_value_changes_nothing() -> None:
    state = {ECOG.name: 2}
    assert not apply_edit((ECOG,), {"name": ECOG.name}, state)  # no value is not "clear"
    assert state == {ECOG.name: 2}


def test_a_choice_input_needs_one_label_per_value() -> None:
    with pytest.raises(ValueError, match="one label per value"):
        ChoiceInput("whatif_ecog", "ECOG", (0, 1), ("0",))
    with pytest.raises(ValueError, match="one label per value"):
        ChoiceInput("whatif_ecog", "ECOG", (), ())
    with pytest.raises(ValueError, match="one hint per value"):
        ChoiceInput("whatif_ecog", "ECOG", (0, 1), ("0", "1"), hints=("fully active",))


@given(st.one_of(st.none(), st.integers(-10, 10), st.floats(), st.text(max_size=3),
                 st.booleans()))
def test_any_event_value_leaves_a_choice_input_holding_one_of_its_values(
        value: object) -> None:
    state = {BILSKY.name: "2"}
    stored = apply_edit((BILSKY,), {"name": BILSKY.name, "value": value}, state)
    assert state[BILSKY.name] is None or state[BILSKY.name] in BILSKY.values
    assert stored == (value is None or (type(value) is int and 0 <= value < 6))
