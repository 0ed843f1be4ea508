"""Numbers and missing values: the finite-float helpers and how a bad value is quoted."""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Sequence

import numpy as np

# ========================================================================= numbers


def is_missing(value: object) -> bool:
    """``None``, NaN (float, numpy, pandas NA/NaT) or blank text."""
    if value is None:
        return True
    # pandas' NA and NaT exist only once pandas is imported; not importing it here keeps
    # the vocabulary (and what imports it: the measurement code, the command line) light
    pd = sys.modules.get("pandas")
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return False


def finite_float(value: object) -> float | None:
    """``value`` as a finite Python float, or ``None``.

    Numbers (numpy scalars included) that are finite give a float; ``None``, NaN,
    infinities, booleans, text and anything else give ``None``. The one finite-number
    helper: callers that must *refuse* a bad value check for ``None`` and raise.
    """
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def quote_names(names: Sequence[object], limit: int = 3) -> str:
    """At most ``limit`` values quoted by :func:`quote_value`, then "and N more": an
    error message stays short however many names a file brings (``'a', 'b', 'c' and 19997
    more``)."""
    shown = ", ".join(quote_value(n) for n in list(names[:limit]))
    rest = len(names) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def quote_value(value: object) -> str:
    """How a bad value is quoted in an error message.

    Text in quotes (cut to 40 characters), booleans as a spreadsheet shows them
    (``TRUE`` / ``FALSE``), floats without a needless ``.0`` (``7.5``, ``2``), dates and
    times in ISO form, anything else as its ``repr``; numpy scalars as Python scalars.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return repr(value)


def require_finite(value: object, what: str) -> float:
    """``value`` as a finite float, or a one-sentence ``ValueError`` naming ``what``.

    The refusing twin of :func:`finite_float`: booleans and text are "not a number",
    NaN and infinity "not a finite number".
    """
    number = finite_float(value)
    if number is not None:
        return number
    if isinstance(value, (float, np.floating)):
        raise ValueError(f"{what} {value!r} is not a finite number.")
    raise ValueError(f"{what} {value!r} is not a number.")
