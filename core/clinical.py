"""Clinical table schema, validated import (CSV / Excel), SINS and Bilsky helpers, safe export.

One row of a clinical table is one imaging *study* of one patient. Column names are
lower case; headers are matched after stripping spaces and lower-casing.

Schema
------
=================================  ========  ==================================================
column                             required  accepted values
=================================  ========  ==================================================
patient_id                         value     pseudonymous code: starts with a letter or digit,
                                             then letters, digits, ``.``, ``_``, ``-``; at most
                                             64 characters. Codes that look like a date, or
                                             like a record / phone / national ID number (9+
                                             digits in a row, ``123-45-6789``) are refused.
study_date                         value     ISO date ``YYYY-MM-DD`` (a midnight time part
                                             ``T00:00:00`` is accepted; Excel date cells too),
                                             from 1990-01-01 up to today. Dates should be
                                             shifted per patient upstream (pseudonymisation).
age                                column    whole years 18-90 at the study date; enter 90
                                             for "90 or older" (ages over 89 identify people,
                                             HIPAA Safe Harbor), blank = unknown
sex                                column    ``F``, ``M``, ``other``, ``unknown``
                                             (any letter case), blank = missing
primary_tumor                      no        free text name (lower-cased; letters first, then
                                             letters, digits, spaces, ``()/+,.'-``); blank or
                                             absent column = ``"breast"``
vas                                value     worst pain in the last 24 h, 0-10, a whole number
                                             or one decimal (``7``, ``7.5``; ``7.25`` refused)
ecog                               column    whole number 0-4, blank = missing
analgesic_step                     column    WHO analgesic ladder step, whole number 0-3
                                             (0 = none), blank = missing
bone_modifying_agent,              column    yes/no: ``true``/``false``, ``yes``/``no``,
prior_radiotherapy,                          ``y``/``n``, ``1``/``0`` (also ``1.0``/``0.0``; any
pathologic_fracture,                         letter case), Excel TRUE/FALSE; blank = missing
neurologic_deficit
sins_location                      no        SINS points 0, 1, 2, 3
sins_pain                          no        0, 1, 3
sins_bone_lesion                   no        0, 1, 2
sins_alignment                     no        0, 2, 4
sins_collapse                      no        0, 1, 2, 3
sins_posterolateral                no        0, 1, 3
sins_total                         no        0-18; computed when all six components are given;
                                             a given total must equal their sum (or, with
                                             some components blank, be reachable)
bilsky_grade                       no        ``0``, ``1a``, ``1b``, ``1c``, ``2``, ``3``
lesion_count,                      no        whole numbers >= 0 (``lesion_count`` <= 500,
lesion_count_cervical/_thoracic/             regional counts <= 200); when all four regional
_lumbar/_sacral                              counts are given they must add up to lesion_count
involved_levels                    no        number of involved vertebral levels, 0-30; at
                                             most lesion_count, zero exactly when it is zero
high_intensity_ratio,              no        fraction 0-1; the worst level's ratio cannot be
max_level_high_intensity_ratio               below the overall ratio
synthetic                          no        yes/no, blank or absent = no
=================================  ========  ==================================================

"value" = the column must exist and every cell must be filled; "column" = the column must
exist, blank cells mean missing; "no" = optional column. Any other column is refused as a
whole (extra columns such as names or birth dates may carry identifying data). The SINS
point values are those of Fisher et al., Spine 2010;35:E1221-E1229; Bilsky grades from
Bilsky et al., J Neurosurg Spine 2010;13:324-328. Imaging columns use the
:mod:`core.features` names (flat form of the ``core extract`` output).

Nothing is rounded or coerced: ``7.5`` for ``ecog`` is an error, not 8. A whole number
written with a zero decimal (``2.0``, as spreadsheets export it) counts as that whole
number. Numbers and dates use ASCII digits only (full-width or other scripts' digits are
errors). Spellings of "missing" (``NA``, ``n/a``, ``nan``, ``null``, ``none``, ...) are
errors in every column, including ``patient_id`` and ``primary_tumor``: leave the cell
blank instead. The only filled-in values are the documented defaults (``primary_tumor`` =
``"breast"``, ``synthetic`` = no) and ``sins_total`` computed from complete components.
Text is normalised, not changed: surrounding spaces are stripped, ``sex`` is written in
its canonical case, ``primary_tumor`` and ``bilsky_grade`` in lower case.

Cross-column checks (SINS total, lesion counts, HI ratios) run once a row's cells are
individually valid, so a row with a bad cell may show more errors after it is fixed.
Duplicate ``(patient_id, study_date)`` pairs are reported on every row involved; rows
of one patient must agree on ``sex``, ``primary_tumor`` and ``synthetic``.

Row numbers
-----------
:class:`RowError.row` is the row number a spreadsheet user sees: the header is row 1 and
the first data row is row 2 (for CSV, record *k* after the header is row *k* + 1; blank
lines count as rows, as a spreadsheet shows them, and are otherwise ignored; for Excel it
is the worksheet's own row number). File-level problems (unreadable encoding, empty file,
missing or unknown columns, a workbook that unpacks to more than
:data:`MAX_XLSX_UNPACKED_BYTES` or whose used range exceeds :data:`MAX_XLSX_CELLS`)
raise ``ValueError`` instead: no row can be trusted then.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo

from core.features import BILSKY_GRADES, FEATURES_BY_NAME, REGIONS

# --------------------------------------------------------------------------- schema

SEXES: tuple[str, ...] = ("F", "M", "other", "unknown")
DEFAULT_PRIMARY_TUMOR = "breast"

#: Published SINS point values per component (Fisher et al., Spine 2010;35:E1221).
SINS_POINTS: dict[str, tuple[int, ...]] = {
    "sins_location": (0, 1, 2, 3),  # rigid S2-S5 / semi-rigid T3-T10 / mobile / junctional
    "sins_pain": (0, 1, 3),  # pain-free / occasional non-mechanical / mechanical
    "sins_bone_lesion": (0, 1, 2),  # blastic / mixed / lytic
    "sins_alignment": (0, 2, 4),  # normal / de novo deformity / subluxation-translation
    "sins_collapse": (0, 1, 2, 3),  # none / >50% body involved / <50% / >50% collapse
    "sins_posterolateral": (0, 1, 3),  # none / unilateral / bilateral
}
SINS_COMPONENTS: tuple[str, ...] = tuple(SINS_POINTS)
SINS_MAX = sum(max(v) for v in SINS_POINTS.values())  # 18

BOOL_COLUMNS: tuple[str, ...] = (
    "bone_modifying_agent",
    "prior_radiotherapy",
    "pathologic_fracture",
    "neurologic_deficit",
)
REGION_COUNT_COLUMNS: tuple[str, ...] = tuple(f"lesion_count_{r}" for r in REGIONS)
IMAGING_COLUMNS: tuple[str, ...] = (
    "lesion_count",
    *REGION_COUNT_COLUMNS,
    "involved_levels",
    "high_intensity_ratio",
    "max_level_high_intensity_ratio",
)
#: Columns that must be present in an imported table.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "study_date",
    "age",
    "sex",
    "vas",
    "ecog",
    "analgesic_step",
    *BOOL_COLUMNS,
)
#: Patient-level columns (one value per patient).
PATIENT_COLUMNS: tuple[str, ...] = ("sex", "primary_tumor", "synthetic")
#: Per-study clinical columns (stored in ``clinical_values``).
STUDY_CLINICAL_COLUMNS: tuple[str, ...] = (
    "age",
    "vas",
    "ecog",
    "analgesic_step",
    *BOOL_COLUMNS,
    *SINS_COMPONENTS,
    "sins_total",
    "bilsky_grade",
)
#: Clinical fields of one study as the store returns them (patient- plus study-level).
CLINICAL_COLUMNS: tuple[str, ...] = ("age", "sex", "primary_tumor", *STUDY_CLINICAL_COLUMNS[1:])
#: Every column of a cohort table, in the order of ``data/demo/cohort.csv``.
COHORT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "study_date",
    *CLINICAL_COLUMNS,
    *IMAGING_COLUMNS,
    "synthetic",
)
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(c for c in COHORT_COLUMNS if c not in REQUIRED_COLUMNS)

TEXT_COLUMNS: tuple[str, ...] = ("patient_id", "sex", "primary_tumor", "bilsky_grade")
BOOLEAN_COLUMNS: tuple[str, ...] = (*BOOL_COLUMNS, "synthetic")
NUMERIC_COLUMNS: tuple[str, ...] = tuple(
    c for c in COHORT_COLUMNS if c not in (*TEXT_COLUMNS, *BOOLEAN_COLUMNS, "study_date")
)

MAX_TABLE_BYTES = 50 * 1024 * 1024
#: A workbook whose parts unpack to more than this is refused (zip bombs).
MAX_XLSX_UNPACKED_BYTES = 4 * MAX_TABLE_BYTES
#: A worksheet whose used range (rows x columns) exceeds this is refused: reading it
#: would walk every cell of the range even when it is almost empty.
MAX_XLSX_CELLS = 5_000_000
EARLIEST_STUDY_DATE = dt.date(1990, 1, 1)
MAX_AGE = 90
ROW_COLUMN = "(row)"  # RowError.column for problems with the row's shape

_PATIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DATE_INSIDE = re.compile(
    r"(19|20)\d\d[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])"
    r"|(0[1-9]|[12]\d|3[01])[-_.](0[1-9]|1[0-2])[-_.](19|20)\d\d"
)
_ID_NUMBER = re.compile(r"\d{9,}|\d{3}[-.]\d{2}[-.]\d{4}|\d{3}[-.]\d{3}[-.]\d{4}")
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


@dataclass(frozen=True)
class ColumnSpec:
    """Documentation of one clinical-table column (used by the import page's help)."""

    name: str
    required: str  # "value", "column" or "no"
    accepted: str


COLUMN_SPECS: tuple[ColumnSpec, ...] = (
    ColumnSpec("patient_id", "value", "pseudonymous code, letters/digits/.-_, max 64"),
    ColumnSpec("study_date", "value", "ISO date YYYY-MM-DD, 1990-01-01 to today"),
    ColumnSpec("age", "column", "whole years 18-90 (90 = 90 or older)"),
    ColumnSpec("sex", "column", "F, M, other, unknown"),
    ColumnSpec("primary_tumor", "no", 'free text, default "breast"'),
    ColumnSpec("vas", "value", "0-10, whole or one decimal (worst pain, last 24 h)"),
    ColumnSpec("ecog", "column", "0-4"),
    ColumnSpec("analgesic_step", "column", "WHO ladder 0-3"),
    *(ColumnSpec(c, "column", "yes/no, true/false, y/n, 1/0") for c in BOOL_COLUMNS),
    *(ColumnSpec(c, "no", ", ".join(map(str, v))) for c, v in SINS_POINTS.items()),
    ColumnSpec("sins_total", "no", "0-18, must match the components"),
    ColumnSpec("bilsky_grade", "no", ", ".join(BILSKY_GRADES)),
    ColumnSpec("lesion_count", "no", "whole number 0-500"),
    *(ColumnSpec(c, "no", "whole number 0-200") for c in REGION_COUNT_COLUMNS),
    ColumnSpec("involved_levels", "no", "number of involved levels 0-30"),
    ColumnSpec("high_intensity_ratio", "no", "fraction 0-1"),
    ColumnSpec("max_level_high_intensity_ratio", "no", "fraction 0-1, >= overall ratio"),
    ColumnSpec("synthetic", "no", "yes/no, default no"),
)


# --------------------------------------------------------------------------- cell parsers


def _plain(value: object) -> object:
    """numpy scalars -> Python scalars; NaN/NaT/pd.NA/None/blank text -> None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        text = value.strip()
        return text if text else None
    return value


def _show(value: object) -> str:
    """How a bad value is quoted in a reason."""
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return repr(text)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return repr(value)


def _decimal(value: object) -> Decimal | None:
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


def _whole(value: object, lo: int, hi: int) -> int:
    number = _decimal(value)
    if number is None or number != number.to_integral_value() or not lo <= number <= hi:
        raise ValueError(f"{_show(value)} is not a whole number from {lo} to {hi}")
    return int(number)


def _points(value: object, allowed: Sequence[int]) -> int:
    number = _decimal(value)
    if number is None or number != number.to_integral_value() or int(number) not in allowed:
        raise ValueError(f"{_show(value)} is not one of {', '.join(map(str, allowed))}")
    return int(number)


def _parse_patient_id(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = _decimal(value)
        if number is not None and number == number.to_integral_value():
            value = str(int(number))
    if isinstance(value, str) and value.lower() in _NA_MARKERS:
        raise ValueError(
            f"{_show(value)} is a missing-value marker, not a pseudonymous code"
        )
    if not isinstance(value, str) or not _PATIENT_ID.match(value):
        raise ValueError(
            f"{_show(value)} is not a pseudonymous code (start with a letter or digit; use "
            "only letters, digits, '.', '_' and '-'; at most 64 characters)"
        )
    if _DATE_INSIDE.search(value):
        raise ValueError(
            f"{_show(value)} looks like it contains a date; use a pseudonymous code"
        )
    if _ID_NUMBER.search(value):
        raise ValueError(
            f"{_show(value)} looks like a record, phone or national ID number; "
            "use a pseudonymous code"
        )
    return value


def _parse_study_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0, 0):
            raise ValueError(f"{_show(value)} has a time of day; give the date only")
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        match = _ISO_DATE.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{_show(value)} is not an ISO date (YYYY-MM-DD)")
        try:
            day = dt.date.fromisoformat(match.group(1))
        except ValueError:
            raise ValueError(f"{_show(value)} is not a real calendar date") from None
    if day > dt.date.today():
        raise ValueError(f"{_show(value)} is in the future")
    if day < EARLIEST_STUDY_DATE:
        raise ValueError(f"{_show(value)} is before {EARLIEST_STUDY_DATE.isoformat()}")
    return day


def _parse_age(value: object) -> int:
    number = _decimal(value)
    if number is not None and number == number.to_integral_value() and number > MAX_AGE:
        raise ValueError(
            f"{_show(value)} is above {MAX_AGE}; ages over 89 identify people "
            f"(HIPAA Safe Harbor), enter {MAX_AGE} for {MAX_AGE} or older"
        )
    return _whole(value, 18, MAX_AGE)


def _parse_sex(value: object) -> str:
    if isinstance(value, str):
        for sex in SEXES:
            if value.lower() == sex.lower():
                return sex
    raise ValueError(f"{_show(value)} is not one of {', '.join(SEXES)}")


def _parse_tumor(value: object) -> str:
    text = value.lower() if isinstance(value, str) else None
    if text in _NA_MARKERS:
        raise ValueError(
            f"{_show(value)} is a missing-value marker; write the tumour name (or "
            "'unknown'), or leave the cell blank for the default 'breast'"
        )
    if text is None or not _TUMOR.match(text):
        raise ValueError(
            f"{_show(value)} is not a tumour name (a letter first, then letters, digits, "
            "spaces or ()/+,.'-; at most 64 characters)"
        )
    return text


def _parse_vas(value: object) -> float:
    number = _decimal(value)
    if (
        number is None
        or not 0 <= number <= 10
        or number != number.quantize(Decimal("0.1"))
    ):
        raise ValueError(f"{_show(value)} is not a number from 0 to 10 with at most one decimal")
    return float(number)


def _parse_bool(value: object) -> bool:
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
        number = _decimal(text)  # "1.0" / "0.0", as Excel's 1.0 / 0.0 cells are read
        if number is not None and number in (0, 1):
            return bool(number)
    raise ValueError(f"{_show(value)} is not yes/no (true, false, yes, no, y, n, 1 or 0)")


def _parse_ratio(value: object) -> float:
    number = _decimal(value)
    if number is None or not 0 <= number <= 1:
        raise ValueError(f"{_show(value)} is not a fraction from 0 to 1")
    return float(number)


def parse_bilsky(value: object) -> str:
    """Canonical Bilsky epidural spinal cord compression grade.

    Parameters
    ----------
    value : object
        ``"0"``, ``"1a"``, ``"1b"``, ``"1c"``, ``"2"`` or ``"3"`` in any letter case, or a
        number 0, 2 or 3 (as a spreadsheet stores them).

    Returns
    -------
    str
        One of :data:`core.features.BILSKY_GRADES`.

    Raises
    ------
    ValueError
        For anything else, including a bare ``1`` (grade 1 must say a, b or c) and blanks.
    """
    value = _plain(value)
    if value is None:
        raise ValueError("bilsky_grade is missing.")
    number = _decimal(value)
    if number is not None:
        if number == 1:
            raise ValueError(
                f"bilsky_grade {_show(value)} is ambiguous; write 1a, 1b or 1c."
            )
        if number in (0, 2, 3):
            return str(int(number))
    elif isinstance(value, str) and value.lower() in BILSKY_GRADES:
        return value.lower()
    raise ValueError(
        f"bilsky_grade {_show(value)} is not one of {', '.join(BILSKY_GRADES)}."
    )


def _parse_bilsky_cell(value: object) -> str:
    try:
        return parse_bilsky(value)
    except ValueError as exc:
        # "bilsky_grade X is ...": drop the column name and final full stop for a reason.
        raise ValueError(str(exc).removeprefix("bilsky_grade ").rstrip(".")) from None


def sins_total(components: Mapping[str, object]) -> int:
    """Spinal Instability Neoplastic Score from its six components.

    ``SINS = location + pain + bone_lesion + alignment + collapse + posterolateral``
    with the published point values (Fisher et al., Spine 2010;35:E1221):
    location 0/1/2/3 (rigid S2-S5 / semi-rigid T3-T10 / mobile C3-C6, L2-L4 / junctional
    O-C2, C7-T2, T11-L1, L5-S1); pain 0/1/3 (pain-free / occasional non-mechanical /
    mechanical); bone lesion 0/1/2 (blastic / mixed / lytic); alignment 0/2/4 (normal /
    de novo deformity / subluxation or translation); collapse 0/1/2/3 (none / none with
    >50% body involved / <50% / >50%); posterolateral involvement 0/1/3 (none /
    unilateral / bilateral).

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
        raw = components.get(column, components.get(short))
        value = _plain(raw)
        if value is None:
            raise ValueError(f"SINS component {column} is missing.")
        try:
            total += _points(value, allowed)
        except ValueError as exc:
            raise ValueError(f"{column} {exc}.") from None
    return total


def sins_category(total: object) -> str:
    """SINS stability category: 0-6 ``"stable"``, 7-12 ``"potentially unstable"``,
    13-18 ``"unstable"`` (Fisher et al., Spine 2010).

    Raises
    ------
    ValueError
        When ``total`` is not a whole number from 0 to 18.
    """
    try:
        value = _whole(_plain(total), 0, SINS_MAX)
    except ValueError as exc:
        raise ValueError(f"sins_total {exc}.") from None
    if value <= 6:
        return "stable"
    if value <= 12:
        return "potentially unstable"
    return "unstable"


# --------------------------------------------------------------------------- pydantic row


def _cell(parse: Callable[[Any], Any], *, required: bool = False, default: object = None):
    """BeforeValidator: blank -> default (or a 'missing' error), else ``parse``."""

    def validate(value: object, info: ValidationInfo) -> object:
        value = _plain(value)
        if value is None:
            needed = required or (
                info.field_name == "vas" and bool((info.context or {}).get("require_vas"))
            )
            if needed:
                raise ValueError("required value is missing")
            return default
        return parse(value)

    return BeforeValidator(validate)


def _points_parser(column: str) -> Callable[[object], int]:
    allowed = SINS_POINTS[column]
    return lambda value: _points(value, allowed)


def _count_parser(column: str) -> Callable[[object], int]:
    hi = int(FEATURES_BY_NAME[column].max_value)
    return lambda value: _whole(value, 0, hi)


_OptInt = int | None
_OptFloat = float | None
_OptBool = bool | None


class ClinicalRow(BaseModel):
    """One validated row (a study). Field validators implement the module's schema table.

    Validate with ``ClinicalRow.model_validate(cells, context={"require_vas": True})``;
    blank cells (``None``, NaN, empty or whitespace text) mean missing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    patient_id: Annotated[str, _cell(_parse_patient_id, required=True)]
    study_date: Annotated[dt.date, _cell(_parse_study_date, required=True)]
    age: Annotated[_OptInt, _cell(_parse_age)] = None
    sex: Annotated[str | None, _cell(_parse_sex)] = None
    primary_tumor: Annotated[str, _cell(_parse_tumor, default=DEFAULT_PRIMARY_TUMOR)] = (
        DEFAULT_PRIMARY_TUMOR
    )
    vas: Annotated[_OptFloat, _cell(_parse_vas)] = None
    ecog: Annotated[_OptInt, _cell(lambda v: _whole(v, 0, 4))] = None
    analgesic_step: Annotated[_OptInt, _cell(lambda v: _whole(v, 0, 3))] = None
    bone_modifying_agent: Annotated[_OptBool, _cell(_parse_bool)] = None
    prior_radiotherapy: Annotated[_OptBool, _cell(_parse_bool)] = None
    pathologic_fracture: Annotated[_OptBool, _cell(_parse_bool)] = None
    neurologic_deficit: Annotated[_OptBool, _cell(_parse_bool)] = None
    sins_location: Annotated[_OptInt, _cell(_points_parser("sins_location"))] = None
    sins_pain: Annotated[_OptInt, _cell(_points_parser("sins_pain"))] = None
    sins_bone_lesion: Annotated[_OptInt, _cell(_points_parser("sins_bone_lesion"))] = None
    sins_alignment: Annotated[_OptInt, _cell(_points_parser("sins_alignment"))] = None
    sins_collapse: Annotated[_OptInt, _cell(_points_parser("sins_collapse"))] = None
    sins_posterolateral: Annotated[_OptInt, _cell(_points_parser("sins_posterolateral"))] = None
    sins_total: Annotated[_OptInt, _cell(lambda v: _whole(v, 0, SINS_MAX))] = None
    bilsky_grade: Annotated[str | None, _cell(_parse_bilsky_cell)] = None
    lesion_count: Annotated[_OptInt, _cell(_count_parser("lesion_count"))] = None
    lesion_count_cervical: Annotated[_OptInt, _cell(_count_parser("lesion_count_cervical"))] = None
    lesion_count_thoracic: Annotated[_OptInt, _cell(_count_parser("lesion_count_thoracic"))] = None
    lesion_count_lumbar: Annotated[_OptInt, _cell(_count_parser("lesion_count_lumbar"))] = None
    lesion_count_sacral: Annotated[_OptInt, _cell(_count_parser("lesion_count_sacral"))] = None
    involved_levels: Annotated[_OptInt, _cell(_count_parser("involved_levels"))] = None
    high_intensity_ratio: Annotated[_OptFloat, _cell(_parse_ratio)] = None
    max_level_high_intensity_ratio: Annotated[_OptFloat, _cell(_parse_ratio)] = None
    synthetic: Annotated[bool, _cell(_parse_bool, default=False)] = False


def _consistency(row: dict[str, Any]) -> list[tuple[str, str]]:
    """Cross-column checks on a field-valid row; fills ``sins_total`` when computable."""
    problems: list[tuple[str, str]] = []
    parts = [row[c] for c in SINS_COMPONENTS]
    given = row["sins_total"]
    if all(p is not None for p in parts):
        computed = sum(parts)
        if given is None:
            row["sins_total"] = computed
        elif given != computed:
            problems.append(
                ("sins_total", f"{given} does not equal the sum of the SINS components "
                               f"({computed})")
            )
    elif given is not None:
        lo = sum(p for p in parts if p is not None)
        hi = lo + sum(max(SINS_POINTS[c]) for c, p in zip(SINS_COMPONENTS, parts, strict=True)
                      if p is None)
        if not lo <= given <= hi:
            problems.append(
                ("sins_total", f"{given} cannot be reached with the given SINS components "
                               f"(possible {lo}-{hi})")
            )

    total = row["lesion_count"]
    regional = [row[c] for c in REGION_COUNT_COLUMNS]
    if total is not None:
        known = sum(r for r in regional if r is not None)
        if all(r is not None for r in regional) and known != total:
            problems.append(
                ("lesion_count", f"{total} does not equal the sum of the regional lesion "
                                 f"counts ({known})")
            )
        elif known > total:
            problems.append(
                ("lesion_count", f"{total} is below the sum of the given regional lesion "
                                 f"counts ({known})")
            )
        levels = row["involved_levels"]
        if levels is not None and (levels > total or (levels == 0) != (total == 0)):
            problems.append(
                ("involved_levels", f"{levels} is inconsistent with lesion_count {total} "
                                    "(every involved level holds at least one lesion)")
            )
    overall, worst = row["high_intensity_ratio"], row["max_level_high_intensity_ratio"]
    if overall is not None and worst is not None and worst < overall - 1e-4:
        problems.append(
            ("max_level_high_intensity_ratio",
             f"{worst:g} is below high_intensity_ratio ({overall:g}); the worst level "
             "cannot be below the overall ratio")
        )
    return problems


def _row_problems(
    cells: Mapping[str, object], *, require_vas: bool
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """Validate one row: (clean dict or None, [(column, reason), ...])."""
    try:
        model = ClinicalRow.model_validate(dict(cells), context={"require_vas": require_vas})
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            column = str(err["loc"][0]) if err["loc"] else ROW_COLUMN
            if err["type"] == "value_error":
                reason = str(err["ctx"]["error"])
            elif err["type"] == "missing":
                reason = "required value is missing"
            elif err["type"] == "extra_forbidden":
                reason = "is not a known column"
            else:  # pragma: no cover - every field has a before-validator
                reason = err["msg"]
            problems.append((column, reason))
        return None, problems
    row = model.model_dump()
    problems = _consistency(row)
    return (None if problems else row), problems


def validate_clinical(record: Mapping[str, object], *, require_vas: bool = False) -> dict:
    """Validate one study's fields (a cohort row, or a case's clinical dict).

    Parameters
    ----------
    record : mapping
        Column -> value, as in the schema; absent optional keys mean missing.
    require_vas : bool
        Refuse a missing ``vas`` (cohort imports need the outcome; new cases may not).

    Returns
    -------
    dict
        Every :data:`COHORT_COLUMNS` key with typed values (``study_date`` a
        ``datetime.date``, ``sins_total`` computed when the components are complete).

    Raises
    ------
    ValueError
        Naming the first bad column and value.
    """
    clean, problems = _row_problems(record, require_vas=require_vas)
    if problems:
        column, reason = problems[0]
        raise ValueError(f"{column} {reason}.")
    assert clean is not None
    return clean


# --------------------------------------------------------------------------- typed frames


def as_cohort_frame(frame: pd.DataFrame | Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Put a cohort table into the canonical column order and dtypes.

    ``patient_id``, ``sex``, ``primary_tumor``, ``bilsky_grade``: pandas ``str``;
    ``study_date``: ``datetime64[us]`` (dates at midnight); every number (including
    whole-number columns): ``float64`` with NaN for missing, so rows map directly onto
    :func:`core.features.features_from_case`; yes/no columns: ``bool``, or ``object``
    holding ``True``/``False``/``None`` when a value is missing. Missing optional columns
    are added empty. The index is reset.
    """
    source = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(list(frame))
    out = pd.DataFrame(index=pd.RangeIndex(len(source)))
    for column in COHORT_COLUMNS:
        values = (
            source[column].tolist() if column in source.columns else [None] * len(source)
        )
        values = [_plain(v) for v in values]
        if column in TEXT_COLUMNS:
            out[column] = pd.Series(values, dtype="str")
        elif column == "study_date":
            out[column] = pd.to_datetime(pd.Series(values, dtype="object")).astype(
                "datetime64[us]"
            )
        elif column in BOOLEAN_COLUMNS:
            if column == "synthetic":
                values = [False if v is None else v for v in values]
            if any(v is None for v in values):
                out[column] = pd.Series([None if v is None else bool(v) for v in values],
                                        dtype="object")
            else:
                out[column] = pd.Series([bool(v) for v in values], dtype="bool")
        else:
            out[column] = pd.Series(
                [np.nan if v is None else float(v) for v in values], dtype="float64"
            )
    return out


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class RowError:
    """One problem in one cell.

    Attributes
    ----------
    row : int
        Spreadsheet row number: the header is row 1, the first data row is row 2.
    column : str
        Column name (``"(row)"`` when the row's shape is wrong).
    reason : str
        Plain-language reason, starting with the offending value.
    """

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass(frozen=True, eq=False)
class ClinicalImport:
    """Result of :func:`load_clinical_table`.

    Attributes
    ----------
    rows : pandas.DataFrame
        The valid rows only, typed as :func:`as_cohort_frame`, indexed by their
        spreadsheet row number (index name ``"row"``).
    errors : tuple of RowError
        Every problem found, sorted by row then column order. A row with any error is
        not in ``rows``. The caller decides whether to import ``rows`` when there are
        errors (the CLI and the import page import nothing unless asked to).
    n_rows : int
        Data rows read (blank rows excluded).
    columns : tuple of str
        The (normalised) columns of the file.
    """

    rows: pd.DataFrame
    errors: tuple[RowError, ...]
    n_rows: int
    columns: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when every row is valid."""
        return not self.errors

    @property
    def invalid_rows(self) -> tuple[int, ...]:
        """Row numbers with at least one error."""
        return tuple(sorted({e.row for e in self.errors}))

    def error_frame(self) -> pd.DataFrame:
        """The errors as a table with columns ``row``, ``column``, ``reason``."""
        return pd.DataFrame(
            [(e.row, e.column, e.reason) for e in self.errors],
            columns=["row", "column", "reason"],
        )


def _read_source(source: str | Path | bytes, filename: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        name = filename or "the file"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist or is not a file.")
        if path.stat().st_size > MAX_TABLE_BYTES:
            raise ValueError(f"{path.name} is larger than {MAX_TABLE_BYTES // 2**20} MB.")
        data = path.read_bytes()
        name = filename or path.name
    if len(data) > MAX_TABLE_BYTES:
        raise ValueError(f"{name} is larger than {MAX_TABLE_BYTES // 2**20} MB.")
    return data, name


def _kind(data: bytes, name: str) -> str:
    suffix = Path(name).suffix.lower() if name != "the file" else ""
    if suffix in (".xls", ".xlsm", ".xlsb", ".ods", ".numbers"):
        raise ValueError(f"{name} is a {suffix} file; save it as .xlsx or CSV UTF-8.")
    if suffix == ".xlsx" or (not suffix and data[:4] == b"PK\x03\x04"):
        return "xlsx"
    if suffix in ("", ".csv", ".txt"):
        return "csv"
    raise ValueError(f"{name} is not a .csv or .xlsx file.")


def _decode_csv(data: bytes, name: str) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ValueError(f"{name} is UTF-16 encoded; save it as CSV UTF-8.")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        raise ValueError(
            f"{name} contains NUL bytes (UTF-16 without a byte-order mark, or not a text "
            "file); save it as CSV UTF-8."
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"{name} is not UTF-8 encoded (byte 0x{data[exc.start]:02x} on line {line}); "
            "save it as CSV UTF-8."
        ) from None


def _csv_records(data: bytes, name: str) -> list[tuple[int, list[object]]]:
    text = _decode_csv(data, name)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ValueError(f"{name} is not a readable CSV file ({exc}).") from None
    return [(index, list(cells)) for index, cells in enumerate(records, start=1)]


def _xlsx_records(data: bytes, name: str) -> list[tuple[int, list[object]]]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # Declared sizes bound what zipfile will inflate, so this is a real limit.
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{name} is not a readable .xlsx workbook ({exc}).") from None
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise ValueError(
            f"{name} unpacks to more than {MAX_XLSX_UNPACKED_BYTES // 2**20} MB; "
            "save the table as CSV UTF-8."
        )
    try:
        book = load_workbook(io.BytesIO(data), read_only=False, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, InvalidFileException) as exc:
        raise ValueError(f"{name} is not a readable .xlsx workbook ({exc}).") from None
    sheet = book.worksheets[0]
    if sheet.max_row * sheet.max_column > MAX_XLSX_CELLS:
        raise ValueError(
            f"{name} has cells up to row {sheet.max_row}, column {sheet.max_column} "
            f"(more than {MAX_XLSX_CELLS:,} cells); delete the unused rows and columns "
            "or save the table as CSV UTF-8."
        )
    return [
        (index, list(cells))
        for index, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
    ]


def _blank(cells: Sequence[object]) -> bool:
    return all(_plain(c) is None for c in cells)


def load_clinical_table(
    source: str | Path | bytes,
    filename: str | None = None,
    *,
    require_vas: bool = True,
) -> ClinicalImport:
    """Read and validate a clinical table (CSV UTF-8 with or without BOM, or .xlsx).

    Parameters
    ----------
    source : str, Path or bytes
        A file path, or the file's bytes (an upload).
    filename : str, optional
        Name used in messages and to tell CSV from Excel for bytes (``.xlsx`` or a zip
        signature means Excel, otherwise CSV).
    require_vas : bool
        Every row must carry ``vas`` (default: cohorts are for analysis and training).

    Returns
    -------
    ClinicalImport
        Valid rows (typed) and every row error; see the module docstring for the
        schema and the row-number convention. Duplicate ``(patient_id, study_date)``
        pairs are errors on every row involved; a patient whose rows disagree on
        ``sex``, ``primary_tumor`` or ``synthetic`` gets an error on each row that
        differs from the patient's first row.

    Raises
    ------
    ValueError
        For file-level problems: not UTF-8 / UTF-16, not a workbook, a workbook too
        large once unpacked, empty, no data rows, missing required columns, unknown or
        duplicate columns.
    FileNotFoundError
        When a path does not exist.
    """
    data, name = _read_source(source, filename)
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ValueError(f"{name} is empty.")
    kind = _kind(data, name)
    records = _xlsx_records(data, name) if kind == "xlsx" else _csv_records(data, name)

    header_at = next((i for i, (_, cells) in enumerate(records) if not _blank(cells)), None)
    if header_at is None:
        raise ValueError(f"{name} is empty.")
    header_cells = records[header_at][1]
    header = [("" if _plain(c) is None else str(c).strip().lower()) for c in header_cells]
    body = [(row, cells) for row, cells in records[header_at + 1:] if not _blank(cells)]

    if len(header) == 1 and ";" in header[0]:
        raise ValueError(f"{name} looks semicolon-separated; save it comma-separated (CSV).")
    named = [i for i, h in enumerate(header) if h]
    for i, h in enumerate(header):
        if not h and any(i < len(cells) and _plain(cells[i]) is not None for _, cells in body):
            raise ValueError(f"{name} has values in column {i + 1}, which has no header.")
    seen: set[str] = set()
    for i in named:
        if header[i] in seen:
            raise ValueError(f"{name} has the column {header[i]!r} twice.")
        seen.add(header[i])
    unknown = [header[i] for i in named if header[i] not in COHORT_COLUMNS]
    if unknown:
        raise ValueError(
            f"{name} has unknown column(s) {', '.join(map(repr, unknown))}; only the "
            "documented columns are accepted (extra columns may carry identifying data)."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        raise ValueError(f"{name} is missing required column(s): {', '.join(missing)}.")
    if not body:
        raise ValueError(f"{name} has a header but no data rows.")

    order = {c: k for k, c in enumerate(COHORT_COLUMNS)}
    errors: list[RowError] = []
    valid: dict[int, dict[str, Any]] = {}
    keys: dict[tuple[str, dt.date], list[int]] = {}
    patient_first: dict[str, tuple[int, dict[str, object]]] = {}
    width = len(header)
    for row, cells in body:
        extra = [c for c in cells[width:] if _plain(c) is not None]
        if extra or (kind == "csv" and len(cells) < width):
            errors.append(RowError(row, ROW_COLUMN,
                                   f"has {len(cells)} cells but the header has {width}"))
            continue
        raw = {header[i]: (cells[i] if i < len(cells) else None) for i in named}
        clean, problems = _row_problems(raw, require_vas=require_vas)
        errors.extend(RowError(row, column, reason) for column, reason in problems)
        if clean is not None:
            valid[row] = clean
        try:
            key_id = _parse_patient_id(_plain(raw["patient_id"]))
            key = (key_id, _parse_study_date(_plain(raw["study_date"])))
        except (ValueError, TypeError):
            continue
        keys.setdefault(key, []).append(row)
        if key_id not in patient_first and clean is not None:
            patient_first[key_id] = (row, {c: clean[c] for c in PATIENT_COLUMNS})

    for (pid, day), rows in keys.items():
        if len(rows) > 1:
            for row in rows:
                others = ", ".join(str(r) for r in rows if r != row)
                errors.append(RowError(
                    row, "study_date",
                    f"{day.isoformat()} for patient {pid} is duplicated (also row {others})",
                ))
                valid.pop(row, None)
    for row, clean in sorted(valid.items()):
        first_row, first = patient_first[clean["patient_id"]]
        if first_row == row:
            continue
        for column in PATIENT_COLUMNS:
            if clean[column] != first[column]:
                errors.append(RowError(
                    row, column,
                    f"{_show(clean[column])} differs from row {first_row} of the same patient "
                    f"({_show(first[column])})",
                ))
                valid.pop(row, None)

    errors.sort(key=lambda e: (e.row, order.get(e.column, -1)))
    rows_frame = as_cohort_frame([valid[r] for r in sorted(valid)])
    rows_frame.index = pd.Index(sorted(valid), name="row", dtype="int64")
    return ClinicalImport(
        rows=rows_frame,
        errors=tuple(errors),
        n_rows=len(body),
        columns=tuple(header[i] for i in named),
    )


# --------------------------------------------------------------------------- export

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def neutralise_cell(text: str) -> str:
    """Defuse spreadsheet formula injection in one text cell (OWASP CSV injection).

    A cell whose first character, or first character after leading spaces, is ``=``,
    ``+``, ``-``, ``@``, tab, CR or LF (or a full-width ``＝＋－＠``) gets a leading
    ``'`` so spreadsheets show it as text. Text that is exactly a plain number
    (``-3``, ``+1.5``, ``-2e3``) is left alone: spreadsheets read it as that number,
    never as a formula.
    """
    if _PLAIN_NUMBER.fullmatch(text):
        return text
    stripped = text.lstrip(" ")
    if stripped.startswith(_FORMULA_START) or text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _format_cell(value: object) -> str:
    if isinstance(value, str):
        return neutralise_cell(value)
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return neutralise_cell(str(value))
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return neutralise_cell(json.dumps(value, default=str))
    return neutralise_cell(str(value))


def export_csv(frame: pd.DataFrame, *, bom: bool = False) -> bytes:
    """Write a table as CSV that is safe to open in a spreadsheet.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table; its index is not written.
    bom : bool
        Prefix a UTF-8 byte-order mark (helps Excel detect UTF-8).

    Returns
    -------
    bytes
        UTF-8 CSV, comma separated, ``\\n`` line ends, minimal quoting. Numbers are
        written as numbers (whole floats without ``.0``; genuine negative numbers stay
        numeric, they cannot start a formula), yes/no as ``true``/``false``, dates as
        ``YYYY-MM-DD``, missing as an empty cell. Every text cell, and the header, goes
        through :func:`neutralise_cell`: text starting with ``= + - @``, tab or CR/LF
        gets a leading ``'`` (OWASP guidance), unless it is exactly a plain number.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow([neutralise_cell(str(c)) for c in frame.columns])
    for values in frame.itertuples(index=False, name=None):
        writer.writerow([_format_cell(v) for v in values])
    text = buffer.getvalue()
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
