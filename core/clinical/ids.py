"""The pseudonymous patient-ID rule, applied once wherever an ID enters (a cohort table,
a batch manifest, a ``predict`` case, the New case form, the case store).

A site sets its own rule with the environment variable ``SPINEPAIN_ID_PATTERN``: a Python
regular expression that the whole ID must match (e.g. ``SITE3-[0-9]{4}``). The default,
:data:`DEFAULT_ID_PATTERN`, accepts 1-64 letters, digits, ``-`` and ``_`` that start
with a letter or digit and hold at least one digit (``P0001``, ``BRCA-017``,
``site3_case12``). Whatever the pattern, these are always refused, because they look
like a person or a record rather than a pseudonym:

- two alphabetic words joined by ``.``, ``_`` or a space (``John.Smith``, ``jane doe``,
  ``Jane_Doe``, ``x_Jane_Doe_7``);
- a date inside the code (``P-19630201``, ``01.02.1963``);
- a record, phone or national ID number (9+ digits in a row, ``123-45-6789``);
- a spelling of "missing" (``NA``, ``null``, ...);
- more than 64 characters.

Refusals are one sentence that never repeats the refused ID (it may be a name).
"""

from __future__ import annotations

import functools
import os
import re

from core.clinical.cells import exact_number, missing_marker

#: Environment variable holding a site's pseudonym pattern (a full-match regex).
ID_PATTERN_ENV = "SPINEPAIN_ID_PATTERN"
#: Letters, digits, ``-`` and ``_``; a letter or digit first; at least one digit.
DEFAULT_ID_PATTERN = r"(?=[^0-9]*[0-9])[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
#: Longest ID accepted, whatever the site pattern.
MAX_ID_LENGTH = 64

# Two purely alphabetic words joined by '.', '_' or whitespace, each a whole word.
_NAME_SHAPE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]+[._\s]+[A-Za-z]+(?![A-Za-z0-9])")
# Text made of words only (other characters get the plain pattern message).
_WORDS = re.compile(r"[A-Za-z0-9._\s-]+")
_DATE_INSIDE = re.compile(
    r"(19|20)\d\d[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])"
    r"|(0[1-9]|[12]\d|3[01])[-_.](0[1-9]|1[0-2])[-_.](19|20)\d\d"
)
_ID_NUMBER = re.compile(r"\d{9,}|\d{3}[-.]\d{2}[-.]\d{4}|\d{3}[-.]\d{3}[-.]\d{4}")


@functools.lru_cache(maxsize=8)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error:
        raise ValueError(f"{ID_PATTERN_ENV} is not a valid regular expression; fix the "
                         "site setting.") from None


def id_pattern() -> re.Pattern[str]:
    """The pseudonym rule in force: ``SPINEPAIN_ID_PATTERN`` if set, else the default.

    Raises
    ------
    ValueError
        When the site pattern is not a valid regular expression.
    """
    return _compiled(os.environ.get(ID_PATTERN_ENV, "").strip() or DEFAULT_ID_PATTERN)


def _rule_text() -> str:
    if os.environ.get(ID_PATTERN_ENV, "").strip():
        return f"does not match the site's pseudonym rule ({ID_PATTERN_ENV})"
    return ("is not a pseudonymous code (letters, digits, '-' and '_', with at least one "
            "digit; at most 64 characters)")


def parse_patient_id(value: object) -> str:
    """A pseudonymous patient ID (see the module docstring); whole-number cells become
    text (``17`` -> ``"17"``).

    Raises
    ------
    ValueError
        Whose message starts with "is ..." or "looks ..." (the caller adds the column
        name) and never contains the value.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = exact_number(value)
        if number is not None and number == number.to_integral_value():
            value = str(int(number))
    if not isinstance(value, str):
        raise ValueError("is not a pseudonymous code (it must be text)")
    if missing_marker(value):
        raise ValueError("is a missing-value marker, not a pseudonymous code")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"is longer than {MAX_ID_LENGTH} characters; use a pseudonymous code")
    if _WORDS.fullmatch(value) and _NAME_SHAPE.search(value):
        raise ValueError("looks like a person's name (two words joined by '.', '_' or a "
                         "space); use a pseudonymous code")
    if not id_pattern().fullmatch(value):
        raise ValueError(_rule_text())
    if _DATE_INSIDE.search(value):
        raise ValueError("looks like it contains a date; use a pseudonymous code")
    if _ID_NUMBER.search(value):
        raise ValueError("looks like a record, phone or national ID number; use a "
                         "pseudonymous code")
    return value


__all__ = ["DEFAULT_ID_PATTERN", "ID_PATTERN_ENV", "MAX_ID_LENGTH", "id_pattern",
           "parse_patient_id"]
