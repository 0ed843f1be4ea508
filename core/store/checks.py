"""Checks of values the store receives: actor names, JSON payloads, numbers, dates."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np

from core.vocab import require_finite


def check_actor(actor: object) -> str:
    """``actor`` stripped; a ``ValueError`` unless it is a name of 1 to 64 characters."""
    if not isinstance(actor, str) or not actor.strip() or len(actor.strip()) > 64:
        raise ValueError(f"actor {actor!r} must be a non-empty name of at most 64 characters.")
    return actor.strip()


def _builtin(value: object) -> object:
    """``json.dumps`` fallback: numpy scalars and arrays as Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def json_safe(value: object, what: str) -> Any:
    """``value`` as plain JSON types (numpy values converted); NaN or infinity is an error."""
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=_builtin))
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not JSON-serialisable (or holds NaN/infinity).") from None


def finite(value: object, what: str) -> float:
    """``value`` as a finite float; booleans, text, NaN and infinity are errors."""
    return require_finite(value, what)


def short(value: object, limit: int) -> str | None:
    """``value`` as text cut to ``limit`` characters (``None`` stays ``None``)."""
    return None if value is None else str(value)[:limit]


def as_date(value: dt.date | str, what: str) -> dt.date:
    """A date from a date, datetime or ISO text."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO date (YYYY-MM-DD).") from None

