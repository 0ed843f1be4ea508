"""How a clinical value reads for a clinician (grade "1b", yes/no, %)."""

from __future__ import annotations

from typing import Literal

from core.vocab.clinical import DEFICIT_LABELS, DEFICIT_STATES, parse_deficit
from core.vocab.numbers import finite_float, is_missing
from core.vocab.scores import BilskyGrade

# ========================================================================= display

#: How a missing value reads.
NOT_RECORDED = "not recorded"

DisplayKind = Literal["count", "percent", "yes_no", "bilsky", "deficit", "number", "integer",
                      "points", "category", "text"]


def yes_no(value: object) -> str:
    """``"yes"`` / ``"no"`` for a truth value (``1``/``0``, ``True``/``False``)."""
    if is_missing(value):
        return NOT_RECORDED
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("yes", "true", "y", "1"):
            return "yes"
        if text in ("no", "false", "n", "0"):
            return "no"
        return value
    return "yes" if bool(value) else "no"


def percent(ratio: object, digits: int = 1) -> str:
    """A ratio in [0, 1] as a percentage: ``0.123 -> "12.3%"`` (written as the charts and
    the case report have always written it)."""
    number = finite_float(ratio)
    if number is None:
        return NOT_RECORDED
    return f"{100.0 * number:.{digits}f}%"


def number_text(value: object, digits: int = 2, *, grouped: bool = False) -> str:
    """A number with at most ``digits`` decimals and no trailing zeros (``7``, ``7.5``);
    ``grouped``: thousands separated by commas, as read on screen (``53,236``,
    ``1,234.5``), never in a file a program reads back."""
    number = finite_float(value)
    if number is None:
        return NOT_RECORDED
    comma = "," if grouped else ""
    if number.is_integer():
        return f"{int(number):{comma}}"
    text = f"{number:{comma}.{max(0, int(digits))}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def bilsky_text(value: object) -> str:
    """A Bilsky grade for display from its model code (0-5), a grade or a BilskyGrade."""
    if is_missing(value):
        return NOT_RECORDED
    if isinstance(value, BilskyGrade):
        return value.label
    if isinstance(value, str):
        grade = BilskyGrade.parse(value)
        return grade.label if grade else NOT_RECORDED
    return BilskyGrade.from_code(value).label


def deficit_text(value: object) -> str:
    """A neurologic-deficit state for display, from its model code (0-2) or its name."""
    if is_missing(value):
        return NOT_RECORDED
    if isinstance(value, str):
        state = parse_deficit(value).state
    else:
        number = finite_float(value)
        if number is None or number not in (0.0, 1.0, 2.0):
            raise ValueError(f"neurologic deficit code {value!r} is not 0, 1 or 2.")
        state = DEFICIT_STATES[int(number)]
    return NOT_RECORDED if state is None else DEFICIT_LABELS[state]


def display(kind: DisplayKind, value: object) -> str:
    """Render one clinical value for a clinician.

    ``count``/``integer``: whole number; ``percent``: a [0, 1] ratio in %; ``yes_no``;
    ``bilsky``: the grade (``"1b"``) from the model code; ``deficit``: the neurologic
    deficit state from its code; ``number``: up to two decimals; ``points``: SINS points;
    ``category``/``text``: as written. Missing values read :data:`NOT_RECORDED`.
    """
    if is_missing(value):
        return NOT_RECORDED
    if kind == "deficit":
        return deficit_text(value)
    if kind == "percent":
        return percent(value)
    if kind == "yes_no":
        return yes_no(value)
    if kind == "bilsky":
        return bilsky_text(value)
    if kind in ("count", "integer", "points", "number"):
        return number_text(value)
    return str(value)
