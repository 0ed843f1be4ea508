"""Validation of one case given as JSON (``python -m core predict``), like ``import-cohort``.

:func:`load_case_json` reads a case file within limits (size, nesting depth) before the
JSON parser runs, so a hostile file is refused with one sentence, never a
``RecursionError``. :func:`check_case` applies the clinical table's cell rules
(:func:`core.clinical.validate_clinical`: VAS 0-10, SINS points, Bilsky grades, ranges,
lesion-count and HI-ratio consistency, ...) to the clinical and flat imaging fields of a
case, and adds what a case has beyond a table row: the three-state neurologic deficit
(:func:`core.vocab.parse_deficit`), level names in ``involved_levels`` and ``levels``
(:func:`core.vocab.check_level_names`), the nested ``lesion_count_by_region``, and
formula-like text anywhere (:func:`core.clinical.neutralise_cell`: text starting with
``=``, ``+``, ``-``, ``@``, tab, CR or LF). Every refusal is a ``ValueError`` with one
sentence naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from core.clinical import COHORT_COLUMNS, neutralise_cell, validate_clinical
from core.vocab import REGIONS, check_level_names, is_missing, parse_deficit, quote_value

#: Largest case file read (bytes); an ``extract`` JSON with levels is a few kB.
MAX_CASE_BYTES = 1_000_000
#: Deepest nesting of JSON objects and arrays accepted (an extract JSON has 4).
MAX_JSON_DEPTH = 20

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: Fields checked here rather than by the table schema (a case's form differs).
_OWN_FIELDS = frozenset({"neurologic_deficit", "involved_levels"})
#: Placeholders for the identifiers a table row needs and a case may not carry.
_ROW_IDS = {"patient_id": "CASE", "study_date": "2000-01-01"}


def json_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in JSON text (brackets inside strings ignored),
    computed without parsing."""
    stripped = _JSON_STRING.sub('""', text)
    codes = np.frombuffer(stripped.encode("utf-8", "replace"), dtype=np.uint8)
    steps = (np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
             - np.isin(codes, (ord("]"), ord("}"))).astype(np.int64))
    return int(np.cumsum(steps).max(initial=0))


def load_case_json(path: str | Path) -> dict:
    """Read one case JSON object from a file, within :data:`MAX_CASE_BYTES` and
    :data:`MAX_JSON_DEPTH`.

    Raises
    ------
    FileNotFoundError
        When the path is not a file.
    ValueError
        For a file that is too large, not UTF-8, nested too deeply, not valid JSON
        (``NaN``/``Infinity`` refused) or not one object.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"case file {path} does not exist or is not a file.")
    size = path.stat().st_size
    if size > MAX_CASE_BYTES:
        raise ValueError(f"{path} is {size} bytes, more than the {MAX_CASE_BYTES} bytes a case "
                         "file may have.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} cannot be read as UTF-8 text ({type(exc).__name__}).") from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"{path} is nested {depth} levels deep, more than the "
                         f"{MAX_JSON_DEPTH} a case may have.")

    def _reject(token: str) -> object:
        raise ValueError(f"{path} is not valid JSON ({token} is not allowed).")

    try:
        case = json.loads(text, parse_constant=_reject)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc.msg}).") from None
    if not isinstance(case, dict):
        raise ValueError(f"{path} must hold one JSON object.")
    return case


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    """Every text value of a JSON value with its field path (``provenance.image.x``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def check_formula_text(case: Mapping[str, object]) -> None:
    """Refuse text that a spreadsheet would run as a formula, naming the field."""
    for field, text in _strings(case, ""):
        if neutralise_cell(text) != text:
            raise ValueError(f"{field} {quote_value(text)} starts like a spreadsheet formula "
                             "(=, +, -, @, tab or line break); remove that character.")


def _flat_counts(case: Mapping[str, object]) -> dict[str, object]:
    """Regional counts of a nested ``lesion_count_by_region`` as flat columns."""
    nested = case.get("lesion_count_by_region")
    if is_missing(nested):
        return {}
    if not isinstance(nested, Mapping):
        raise ValueError("lesion_count_by_region must map regions to lesion counts.")
    unknown = [k for k in nested if k not in REGIONS]
    if unknown:
        raise ValueError(f"lesion_count_by_region has {quote_value(unknown[0])}, which is not "
                         f"one of {', '.join(REGIONS)}.")
    return {f"lesion_count_{r}": v for r, v in nested.items()
            if is_missing(case.get(f"lesion_count_{r}"))}


def _involved_levels(case: Mapping[str, object]) -> object:
    """``involved_levels`` as a count; a list's level names are checked first."""
    value = case.get("involved_levels")
    if isinstance(value, list | tuple):
        if not all(isinstance(v, str) for v in value):
            raise ValueError("involved_levels must list level names as text (e.g. \"L3\").")
        return len(check_level_names(value))
    return value


def _level_names(case: Mapping[str, object]) -> None:
    levels = case.get("levels")
    if isinstance(levels, list):
        names = [item.get("level") for item in levels if isinstance(item, Mapping)]
        check_level_names([n for n in names if isinstance(n, str)], field="levels")


def _clinical_record(case: Mapping[str, object]) -> dict[str, object]:
    """The case's fields in the clinical table's form (what the schema validates)."""
    record: dict[str, object] = {k: v for k, v in case.items()
                                 if k in COHORT_COLUMNS and k not in _OWN_FIELDS}
    record.update(_flat_counts(case))
    record["involved_levels"] = _involved_levels(case)
    for key, placeholder in _ROW_IDS.items():
        if is_missing(record.get(key)):
            record[key] = placeholder
    return record


def check_case(case: Mapping[str, object]) -> None:
    """Validate one raw case as ``import-cohort`` validates a table row.

    Raises
    ------
    ValueError
        One sentence naming the first bad field: formula-like text, a value outside its
        range or points, an unknown level or region name, an unreadable neurologic
        deficit, or values that contradict each other (lesion counts, SINS total, a worst
        level HI ratio below the overall ratio).
    """
    check_formula_text(case)
    _level_names(case)
    parse_deficit(case.get("neurologic_deficit"))
    record = _clinical_record(case)
    validate_clinical(record, placeholder_id=_ROW_IDS["patient_id"])


__all__ = ["MAX_CASE_BYTES", "MAX_JSON_DEPTH", "check_case", "check_formula_text",
           "json_depth", "load_case_json"]
