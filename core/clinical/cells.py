"""Parsers of single clinical-table cells (the rules of the schema in :mod:`core.clinical`).

Every parser takes a cell already passed through :func:`plain_cell` (never blank) and
returns the typed value, or raises ``ValueError`` whose message starts with the offending
value quoted by :func:`core.vocab.quote_value` (the caller adds the column name). Nothing
is rounded or coerced; numbers are read exactly (:func:`exact_number`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

import numpy as np

from core.clinical.schema import EARLIEST_STUDY_DATE, MAX_AGE
from core.vocab import (
    DEFICIT_STATES,
    SEXES,
    SINS_POINTS,
    BilskyGrade,
    is_missing,
    parse_deficit,
    quote_value,
)

# ASCII digits only: "\uff15" (full-width 5) or Arabic-Indic digits are not silently read.
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})([ T]00:00(:00(\.0+)?)?)?$", re.ASCII)
_TUMOR = re.compile(r"^[a-z][a-z0-9 ()/+,.'-]{0,63}$")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})
#: Spellings of "missing" (pandas' default NA strings and common others, lower case):
#: refused in text columns, where they would otherwise pass as a code or tumour name.
_NA_MARKERS = frozenset({
    "na", "n/a", "n.a.", "nan", "-nan", "nat", "null", "none", "nil", "missing",
    "#n/a", "#na", "<na>",
})


def plain_cell(value: object) -> object:
    """numpy scalars -> Python scalars; NaN/NaT/pd.NA/None/blank text -> None; text stripped."""
    if isinstance(value, np.generic):
        value = value.item()
    if is_missing(value):
        return None
    return value.strip() if isinstance(value, str) else value


def missing_marker(text: str) -> bool:
    """Whether text is a spelling of "missing" (``NA``, ``null``, ...), any letter case."""
    return text.lower() in _NA_MARKERS


def exact_number(value: object) -> Decimal | None:
    """A number cell as an exact Decimal, or None when it is not a plain number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.match(value):
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the regex admits only decimals
            return None
    return None


def whole_number(value: object, lo: int, hi: int) -> int:
    """A whole number from ``lo`` to ``hi`` (``2.0`` counts as 2, ``2.5`` is refused)."""
    number = exact_number(value)
    if number is None or number != number.to_integral_value() or not lo <= number <= hi:
        raise ValueError(f"{quote_value(value)} is not a whole number from {lo} to {hi}")
    return int(number)


def point_value(value: object, allowed: Sequence[int]) -> int:
    """One of the ``allowed`` whole numbers (SINS points)."""
    number = exact_number(value)
    if number is None or number != number.to_integral_value() or int(number) not in allowed:
        raise ValueError(f"{quote_value(value)} is not one of {', '.join(map(str, allowed))}")
    return int(number)


def parse_study_date(value: object) -> dt.date:
    """An ISO date (or an Excel date cell at midnight) from 1990-01-01 up to today."""
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0, 0):
            raise ValueError(f"{quote_value(value)} has a time of day; give the date only")
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        match = _ISO_DATE.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{quote_value(value)} is not an ISO date (YYYY-MM-DD)")
        try:
            day = dt.date.fromisoformat(match.group(1))
        except ValueError:
            raise ValueError(f"{quote_value(value)} is not a real calendar date") from None
    if day > dt.date.today():
        raise ValueError(f"{quote_value(value)} is in the future")
    if day < EARLIEST_STUDY_DATE:
        raise ValueError(f"{quote_value(value)} is before {EARLIEST_STUDY_DATE.isoformat()}")
    return day


def parse_age(value: object) -> int:
    """Whole years 18-90; over 90 is refused (ages over 89 identify people)."""
    number = exact_number(value)
    if number is not None and number == number.to_integral_value() and number > MAX_AGE:
        raise ValueError(
            f"{quote_value(value)} is above {MAX_AGE}; ages over 89 identify people "
            f"(HIPAA Safe Harbor), enter {MAX_AGE} for {MAX_AGE} or older"
        )
    return whole_number(value, 18, MAX_AGE)


def parse_sex(value: object) -> str:
    """One of :data:`core.vocab.SEXES` in any letter case, written canonically."""
    if isinstance(value, str):
        for sex in SEXES:
            if value.lower() == sex.lower():
                return sex
    raise ValueError(f"{quote_value(value)} is not one of {', '.join(SEXES)}")


def parse_tumor(value: object) -> str:
    """A primary tumour name, lower-cased."""
    text = value.lower() if isinstance(value, str) else None
    if text in _NA_MARKERS:
        raise ValueError(
            f"{quote_value(value)} is a missing-value marker; write the tumour name (or "
            "'unknown'), or leave the cell blank for the default 'breast'"
        )
    if text is None or not _TUMOR.match(text):
        raise ValueError(
            f"{quote_value(value)} is not a tumour name (a letter first, then letters, "
            "digits, spaces or ()/+,.'-; at most 64 characters)"
        )
    return text


def parse_vas(value: object) -> float:
    """VAS 0-10, a whole number or one decimal."""
    number = exact_number(value)
    if (
        number is None
        or not 0 <= number <= 10
        or number != number.quantize(Decimal("0.1"))
    ):
        raise ValueError(
            f"{quote_value(value)} is not a number from 0 to 10 with at most one decimal"
        )
    return float(number)


def parse_yes_no(value: object) -> bool:
    """true/false, yes/no, y/n, 1/0 (also ``1.0``/``0.0``), any letter case, or a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        number = exact_number(text)  # "1.0" / "0.0", as Excel's 1.0 / 0.0 cells are read
        if number is not None and number in (0, 1):
            return bool(number)
    raise ValueError(f"{quote_value(value)} is not yes/no (true, false, yes, no, y, n, 1 or 0)")


def parse_ratio(value: object) -> float:
    """A fraction from 0 to 1."""
    number = exact_number(value)
    if number is None or not 0 <= number <= 1:
        raise ValueError(f"{quote_value(value)} is not a fraction from 0 to 1")
    return float(number)


def parse_bilsky(value: object) -> str:
    """Canonical Bilsky epidural spinal cord compression grade.

    Parameters
    ----------
    value : object
        ``"0"``, ``"1a"``, ``"1b"``, ``"1c"``, ``"2"`` or ``"3"`` in any letter case, or a
        number 0, 2 or 3 (as a spreadsheet stores them); read by
        :meth:`core.vocab.BilskyGrade.parse`.

    Returns
    -------
    str
        One of :data:`core.vocab.BILSKY_GRADES`.

    Raises
    ------
    ValueError
        For anything else, including a bare ``1`` (grade 1 must say a, b or c) and blanks.
    """
    grade = BilskyGrade.parse(plain_cell(value))
    if grade is None:
        raise ValueError("bilsky_grade is missing.")
    return grade.label


def parse_bilsky_cell(value: object) -> str:
    """:func:`parse_bilsky` with a cell-style reason (no column name, no full stop)."""
    try:
        return parse_bilsky(value)
    except ValueError as exc:
        # "bilsky_grade X is ...": drop the column name and final full stop for a reason.
        raise ValueError(str(exc).removeprefix("bilsky_grade ").rstrip(".")) from None


def parse_deficit_cell(value: object) -> str:
    """A neurologic-deficit state: ``none``, ``stable`` or ``new_or_progressive``.

    Read by :func:`core.vocab.parse_deficit`: any letter case, ``new or progressive``,
    ``new`` and ``progressive`` too, and the old yes/no values (``yes``/``no``,
    ``true``/``false``, ``1``/``0``), which become ``new_or_progressive`` / ``none``
    (:func:`deficit_from_yes_no` tells the caller to warn about them).
    """
    try:
        state = parse_deficit(value).state
    except ValueError:
        state = None
    if state is None:
        raise ValueError(f"{quote_value(value)} is not one of {', '.join(DEFICIT_STATES)}")
    return state


def deficit_from_yes_no(value: object) -> bool:
    """True when a (valid) neurologic-deficit cell is an old yes/no value."""
    try:
        return parse_deficit(plain_cell(value)).from_yes_no
    except ValueError:
        return False


def sins_total(components: Mapping[str, object]) -> int:
    """Spinal Instability Neoplastic Score from its six components.

    ``SINS = location + pain + bone_lesion + alignment + collapse + posterolateral``
    with the published point values of :data:`core.vocab.SINS_POINTS` (Fisher et al.,
    Spine 2010;35:E1221): location 0/1/2/3 (rigid S2-S5 / semi-rigid T3-T10 / mobile
    C3-C6, L2-L4 / junctional O-C2, C7-T2, T11-L1, L5-S1); pain 0/1/3 (pain-free /
    occasional non-mechanical / mechanical); bone lesion 0/1/2 (blastic / mixed / lytic);
    alignment 0/2/4 (normal / de novo deformity / subluxation or translation); collapse
    0/1/2/3 (none / none with >50% body involved / <50% / >50%); posterolateral
    involvement 0/1/3 (none / unilateral / bilateral).

    Parameters
    ----------
    components : mapping
        Keys ``location``, ``pain``, ``bone_lesion``, ``alignment``, ``collapse``,
        ``posterolateral``, with or without the ``sins_`` prefix.

    Returns
    -------
    int
        Total, 0-18.

    Raises
    ------
    ValueError
        When a component is missing or not one of its point values.
    """
    total = 0
    for column, allowed in SINS_POINTS.items():
        short = column.removeprefix("sins_")
        value = plain_cell(components.get(column, components.get(short)))
        if value is None:
            raise ValueError(f"SINS component {column} is missing.")
        try:
            total += point_value(value, allowed)
        except ValueError as exc:
            raise ValueError(f"{column} {exc}.") from None
    return total
