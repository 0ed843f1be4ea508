"""The slider-and-box inputs' edit events (ui.paired_inputs): what reaches the session
state from the browser is a number on the input's grid and within its range, or nothing.
The browser side (a native slider and box moving together, the event reaching the page)
is tested in tests/test_browser.py (What-if)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ui.paired_inputs import PairedInput, apply_edit, clean_value

COUNT = PairedInput("whatif_lesion_count_lumbar", "Lumbar lesions", 0, 40, 200, 1)
PERCENT = PairedInput("whatif_high_intensity_ratio", "HI ratio", 0.0, 100.0, 100.0, 0.1,
                      unit="%")


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
