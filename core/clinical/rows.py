"""One validated study row: the pydantic :class:`ClinicalRow`, cross-column checks,
:func:`validate_clinical` and :class:`RowError`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo

from core.clinical.cells import (
    parse_age,
    parse_bilsky_cell,
    parse_deficit_cell,
    parse_ratio,
    parse_sex,
    parse_study_date,
    parse_tumor,
    parse_vas,
    parse_yes_no,
    plain_cell,
    point_value,
    whole_number,
)
from core.clinical.ids import parse_patient_id
from core.clinical.schema import DEFAULT_PRIMARY_TUMOR, ROW_COLUMN
from core.features import INPUT_RANGES
from core.vocab import REGION_COUNT_COLUMNS, SINS_COMPONENTS, SINS_MAX, SINS_POINTS

#: A cross-column or cell problem: (column, reason).
Problem = tuple[str, str]


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


def _cell(parse: Callable[[Any], Any], *, required: bool = False, default: object = None):
    """BeforeValidator: blank -> default (or a 'missing' error), else ``parse``."""

    def validate(value: object, info: ValidationInfo) -> object:
        value = plain_cell(value)
        context = info.context or {}
        if info.field_name == "patient_id" and value is not None \
                and value == context.get("placeholder_id"):
            return value
        if value is None:
            needed = required or (
                info.field_name == "vas" and bool(context.get("require_vas"))
            )
            if needed:
                raise ValueError("required value is missing")
            return default
        return parse(value)

    return BeforeValidator(validate)


def _points_parser(column: str) -> Callable[[object], int]:
    allowed = SINS_POINTS[column]
    return lambda value: point_value(value, allowed)


def _count_parser(column: str) -> Callable[[object], int]:
    hi = int(INPUT_RANGES[column][2])
    return lambda value: whole_number(value, 0, hi)


_OptInt = int | None
_OptFloat = float | None
_OptBool = bool | None


class ClinicalRow(BaseModel):
    """One validated row (a study). Field validators implement the schema of
    :mod:`core.clinical`.

    Validate with ``ClinicalRow.model_validate(cells, context={"require_vas": True})``;
    blank cells (``None``, NaN, empty or whitespace text) mean missing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    patient_id: Annotated[str, _cell(parse_patient_id, required=True)]
    study_date: Annotated[dt.date, _cell(parse_study_date, required=True)]
    age: Annotated[_OptInt, _cell(parse_age)] = None
    sex: Annotated[str | None, _cell(parse_sex)] = None
    primary_tumor: Annotated[str, _cell(parse_tumor, default=DEFAULT_PRIMARY_TUMOR)] = (
        DEFAULT_PRIMARY_TUMOR
    )
    vas: Annotated[_OptFloat, _cell(parse_vas)] = None
    ecog: Annotated[_OptInt, _cell(lambda v: whole_number(v, 0, 4))] = None
    analgesic_step: Annotated[_OptInt, _cell(lambda v: whole_number(v, 0, 3))] = None
    bone_modifying_agent: Annotated[_OptBool, _cell(parse_yes_no)] = None
    prior_radiotherapy: Annotated[_OptBool, _cell(parse_yes_no)] = None
    pathologic_fracture: Annotated[_OptBool, _cell(parse_yes_no)] = None
    neurologic_deficit: Annotated[str | None, _cell(parse_deficit_cell)] = None
    neuropathic_pain: Annotated[_OptBool, _cell(parse_yes_no)] = None
    sins_location: Annotated[_OptInt, _cell(_points_parser("sins_location"))] = None
    sins_pain: Annotated[_OptInt, _cell(_points_parser("sins_pain"))] = None
    sins_bone_lesion: Annotated[_OptInt, _cell(_points_parser("sins_bone_lesion"))] = None
    sins_alignment: Annotated[_OptInt, _cell(_points_parser("sins_alignment"))] = None
    sins_collapse: Annotated[_OptInt, _cell(_points_parser("sins_collapse"))] = None
    sins_posterolateral: Annotated[_OptInt, _cell(_points_parser("sins_posterolateral"))] = None
    sins_total: Annotated[_OptInt, _cell(lambda v: whole_number(v, 0, SINS_MAX))] = None
    bilsky_grade: Annotated[str | None, _cell(parse_bilsky_cell)] = None
    lesion_count: Annotated[_OptInt, _cell(_count_parser("lesion_count"))] = None
    lesion_count_cervical: Annotated[_OptInt, _cell(_count_parser("lesion_count_cervical"))] = None
    lesion_count_thoracic: Annotated[_OptInt, _cell(_count_parser("lesion_count_thoracic"))] = None
    lesion_count_lumbar: Annotated[_OptInt, _cell(_count_parser("lesion_count_lumbar"))] = None
    lesion_count_sacral: Annotated[_OptInt, _cell(_count_parser("lesion_count_sacral"))] = None
    involved_levels: Annotated[_OptInt, _cell(_count_parser("involved_levels"))] = None
    high_intensity_ratio: Annotated[_OptFloat, _cell(parse_ratio)] = None
    max_level_high_intensity_ratio: Annotated[_OptFloat, _cell(parse_ratio)] = None
    synthetic: Annotated[bool, _cell(parse_yes_no, default=False)] = False


def _sins_problems(row: dict[str, Any]) -> list[Problem]:
    """The given ``sins_total`` against the components; fills it when they are complete."""
    parts = [row[c] for c in SINS_COMPONENTS]
    given = row["sins_total"]
    if all(p is not None for p in parts):
        computed = sum(parts)
        if given is None:
            row["sins_total"] = computed
        elif given != computed:
            return [("sins_total", f"{given} does not equal the sum of the SINS components "
                                   f"({computed})")]
    elif given is not None:
        lo = sum(p for p in parts if p is not None)
        hi = lo + sum(max(SINS_POINTS[c]) for c, p in zip(SINS_COMPONENTS, parts, strict=True)
                      if p is None)
        if not lo <= given <= hi:
            return [("sins_total", f"{given} cannot be reached with the given SINS components "
                                   f"(possible {lo}-{hi})")]
    return []


def _lesion_problems(row: dict[str, Any]) -> list[Problem]:
    """``lesion_count`` against the regional counts and ``involved_levels``."""
    total = row["lesion_count"]
    if total is None:
        return []
    problems: list[Problem] = []
    regional = [row[c] for c in REGION_COUNT_COLUMNS]
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
    return problems


def _ratio_problems(row: dict[str, Any]) -> list[Problem]:
    """The worst level's high-intensity ratio cannot be below the overall ratio."""
    overall, worst = row["high_intensity_ratio"], row["max_level_high_intensity_ratio"]
    if overall is not None and worst is not None and worst < overall - 1e-4:
        return [("max_level_high_intensity_ratio",
                 f"{worst:g} is below high_intensity_ratio ({overall:g}); the worst level "
                 "cannot be below the overall ratio")]
    return []


def _consistency(row: dict[str, Any]) -> list[Problem]:
    """Cross-column checks on a field-valid row; fills ``sins_total`` when computable."""
    return [*_sins_problems(row), *_lesion_problems(row), *_ratio_problems(row)]


def row_ranges(rows: Sequence[object]) -> str:
    """Row labels as a short list: ``2-5, 9, 12-13`` for whole numbers (in order)."""
    labels = list(rows)
    if not all(isinstance(r, int) and not isinstance(r, bool) for r in labels):
        return ", ".join(str(r) for r in labels)
    numbers = sorted(set(labels))
    parts: list[str] = []
    start = prev = None
    for n in [*numbers, None]:
        if start is not None and (n is None or n != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if n is not None and start is None:
            start = n
        prev = n
    return ", ".join(parts)


def deficit_warning(rows: Sequence[object]) -> str | None:
    """The warning about rows whose ``neurologic_deficit`` was an old yes/no value, or
    ``None`` when there are none."""
    if not rows:
        return None
    return (f"neurologic_deficit was yes/no in row(s) {row_ranges(rows)}: yes was read as "
            "new_or_progressive and no as none; record none, stable or new_or_progressive "
            "(a known, unchanged deficit does not need the same-day MSCC pathway).")


def _reason(err: Mapping[str, Any]) -> str:
    """The plain reason of one pydantic error."""
    if err["type"] == "value_error":
        return str(err["ctx"]["error"])
    if err["type"] == "missing":
        return "required value is missing"
    if err["type"] == "extra_forbidden":
        return "is not a known column"
    return str(err["msg"])  # pragma: no cover - every field has a before-validator


def row_problems(
    cells: Mapping[str, object], *, require_vas: bool, placeholder_id: str | None = None
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Validate one row: (clean dict or None, [(column, reason), ...])."""
    context = {"require_vas": require_vas, "placeholder_id": placeholder_id}
    try:
        model = ClinicalRow.model_validate(dict(cells), context=context)
    except ValidationError as exc:
        return None, [
            (str(err["loc"][0]) if err["loc"] else ROW_COLUMN, _reason(err))
            for err in exc.errors(include_url=False)
        ]
    row = model.model_dump()
    problems = _consistency(row)
    return (None if problems else row), problems


def validate_clinical(record: Mapping[str, object], *, require_vas: bool = False,
                      placeholder_id: str | None = None) -> dict:
    """Validate one study's fields (a cohort row, or a case's clinical dict).

    Parameters
    ----------
    record : mapping
        Column -> value, as in the schema; absent optional keys mean missing.
    require_vas : bool
        Refuse a missing ``vas`` (cohort imports need the outcome; new cases may not).
    placeholder_id : str, optional
        A ``patient_id`` that stands for "no ID entered yet" (the New case form, a
        ``predict`` case without one) and is accepted as it is; every other ID must pass
        the pseudonym rule of :mod:`core.clinical.ids`.

    Returns
    -------
    dict
        Every :data:`~core.clinical.COHORT_COLUMNS` key with typed values (``study_date``
        a ``datetime.date``, ``sins_total`` computed when the components are complete).

    Raises
    ------
    ValueError
        Naming the first bad column and value.
    """
    clean, problems = row_problems(record, require_vas=require_vas,
                                   placeholder_id=placeholder_id)
    if problems:
        column, reason = problems[0]
        raise ValueError(f"{column} {reason}.")
    assert clean is not None
    return clean
