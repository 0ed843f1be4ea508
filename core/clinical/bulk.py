"""Validating a whole cohort table at once, with the rules and messages of one row.

:func:`core.clinical.validate_clinical` and :func:`~core.clinical.load_clinical_table`
validate row by row with the pydantic :class:`~core.clinical.ClinicalRow` (about 3,000
rows/s). This module gives the same results for whole frames, column by column:

* **Cells**: every *distinct* cell of a column is validated once, by the very
  before-validator :class:`~core.clinical.ClinicalRow` declares for that field (its
  parser, missing-value rule and default), and the result is spread over the rows
  holding that cell. Cells count as the same only when they have the same type and
  value (``1``, ``1.0``, ``True`` and ``"1"`` are validated apart; so are ``0.0`` and
  ``-0.0``); a column of mixed types is validated cell by cell.
* **Cross-column checks** (SINS total, lesion counts, HI ratios) run as array
  operations; a row they flag, or with a bad cell, is validated again by
  :func:`core.clinical.rows.row_problems`, so every reported problem (its column, its
  sentence and their order) is the row-by-row one.

:func:`validate_cells` is the frame-level check (:func:`load_clinical_table_bulk` and
:meth:`core.store.CaseStore.import_cohort` use it); :func:`typed_cohort_frame` is
:func:`~core.clinical.as_cohort_frame` without per-cell work for columns already typed.
``tests/test_store_bulk_validation.py`` checks both against the row-by-row functions on
the committed cohort, every bad-CSV fixture and generated frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.clinical.cells import deficit_from_yes_no, plain_cell
from core.clinical.frames import _typed_column
from core.clinical.rows import ClinicalRow, Problem, row_problems
from core.clinical.schema import BOOLEAN_COLUMNS, COHORT_COLUMNS, DEFICIT_COLUMN, TEXT_COLUMNS
from core.vocab import REGION_COUNT_COLUMNS, SINS_COMPONENTS, SINS_POINTS

#: Cells of one column that are validated apart only when their types differ. Other
#: types (or a mix) are validated cell by cell.
_HASHABLE_TYPES = (str, int, bool, np.integer, np.bool_, np.str_)
_NUMERIC = ("sins_total", "lesion_count", *REGION_COUNT_COLUMNS, "involved_levels",
            "high_intensity_ratio", "max_level_high_intensity_ratio", *SINS_COMPONENTS)


class _Info:
    """What :class:`ClinicalRow`'s before-validators read from pydantic's
    ``ValidationInfo``: the field name and the validation context."""

    def __init__(self, field_name: str, context: Mapping[str, object]) -> None:
        self.field_name = field_name
        self.context = context


@dataclass(frozen=True)
class _Column:
    """One validated column: ``codes`` index ``values`` / ``reasons`` (one entry per
    distinct cell), ``reps`` the distinct cells themselves."""

    codes: np.ndarray
    reps: list[object]
    values: list[object]
    reasons: list[str | None]

    def value_array(self) -> np.ndarray:
        return _object_array(self.values)[self.codes]

    def bad(self) -> np.ndarray:
        """Rows whose cell is invalid."""
        return np.array([r is not None for r in self.reasons], dtype=bool)[self.codes]


def _object_array(items: list[object]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


# ------------------------------------------------------------------ distinct cells


def _factorize_uniform(values: np.ndarray) -> tuple[np.ndarray, list[object]]:
    """Codes and distinct cells of non-missing cells of one column."""
    types = set(map(type, values))
    if len(types) == 1:
        kind = next(iter(types))
        if issubclass(kind, float | np.floating):
            bits = np.asarray(values, dtype=np.float64).view(np.int64)
            _, first, codes = np.unique(bits, return_index=True, return_inverse=True)
            return codes.astype(np.int64), [values[i] for i in first]
        if issubclass(kind, _HASHABLE_TYPES) or kind.__module__ == "datetime" or (
                kind is pd.Timestamp):
            codes, uniques = pd.factorize(values, use_na_sentinel=False)
            return codes.astype(np.int64), list(uniques)
    return np.arange(len(values), dtype=np.int64), list(values)


def distinct_cells(series: pd.Series) -> tuple[np.ndarray, list[object]]:
    """``(codes, reps)``: each cell of ``series`` is ``reps[codes[i]]`` as
    ``DataFrame.to_dict(orient="records")`` hands it to a row validator (Python
    ``float`` / ``bool`` / ``pandas.Timestamp``; other cells as stored)."""
    n = len(series)
    dtype = series.dtype
    if dtype == np.float64:
        data = series.to_numpy()
        bits = np.where(np.isnan(data), np.float64("nan"), data).view(np.int64)
        _, first, codes = np.unique(bits, return_index=True, return_inverse=True)
        return codes.astype(np.int64), [float(data[i]) for i in first]
    if dtype == np.bool_:
        codes, uniques = pd.factorize(series.to_numpy())
        return codes.astype(np.int64), [bool(u) for u in uniques]
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        codes, uniques = pd.factorize(series, use_na_sentinel=False)
        return codes.astype(np.int64), [pd.Timestamp(u) if not pd.isna(u) else pd.NaT
                                        for u in uniques]
    values = series.to_numpy(dtype=object)
    if set(map(type, values)) == {str}:  # text cells only (a CSV column): none missing
        return _factorize_uniform(values)
    codes = np.empty(n, dtype=np.int64)
    missing = pd.isna(values)
    reps: list[object] = []
    if missing.any():
        by_type: dict[type, int] = {}
        idx = np.flatnonzero(missing)
        for i, value in zip(idx.tolist(), values[idx], strict=True):
            code = by_type.setdefault(type(value), len(reps))
            if code == len(reps):
                reps.append(value)
            codes[i] = code
    present = ~missing
    if present.any():
        sub_codes, sub_reps = _factorize_uniform(values[present])
        codes[present] = sub_codes + len(reps)
        reps.extend(sub_reps)
    return codes, reps


# ------------------------------------------------------------------ cells


def _field_validator(name: str) -> Any:
    """The before-validator :class:`ClinicalRow` declares for field ``name``."""
    return ClinicalRow.model_fields[name].metadata[0].func


def _absent(name: str) -> _Column | None:
    """A column absent from the input: the field's default for every row, or (a field
    without default) pydantic's missing error."""
    spec = ClinicalRow.model_fields[name]
    if spec.is_required():
        return _Column(np.zeros(0, dtype=np.int64), [None], [None],
                       ["required value is missing"])
    return _Column(np.zeros(0, dtype=np.int64), [None], [spec.default], [None])


def validate_column(name: str, series: pd.Series, *, require_vas: bool) -> _Column:
    """Validate every cell of one column with :class:`ClinicalRow`'s field validator."""
    codes, reps = distinct_cells(series)
    validate = _field_validator(name)
    info = _Info(name, {"require_vas": require_vas})
    values: list[object] = []
    reasons: list[str | None] = []
    for rep in reps:
        try:
            values.append(validate(rep, info))
            reasons.append(None)
        except ValueError as exc:
            values.append(None)
            reasons.append(str(exc))
    return _Column(codes, reps, values, reasons)


def _numbers(column: _Column | None, n: int) -> np.ndarray:
    """A validated numeric column as floats (NaN = missing or invalid)."""
    if column is None or n == 0:  # no rows: an empty column has no distinct cell
        return np.full(n, np.nan)
    table = np.array([np.nan if v is None else float(v) for v in column.values])
    return table[column.codes] if len(column.codes) else np.full(n, table[0])


# ------------------------------------------------------------------ cross-column


def _consistency_flags(num: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(rows with a cross-column problem, computed SINS total or NaN): the checks of
    :func:`core.clinical.rows._consistency` as array operations."""
    parts = np.column_stack([num[c] for c in SINS_COMPONENTS])
    given = num["sins_total"]
    complete = ~np.isnan(parts).any(axis=1)
    known = np.nansum(parts, axis=1)
    open_max = np.where(np.isnan(parts), [max(SINS_POINTS[c]) for c in SINS_COMPONENTS],
                        0).sum(axis=1)
    has_given = ~np.isnan(given)
    bad = complete & has_given & (given != known)
    bad |= ~complete & has_given & ((given < known) | (given > known + open_max))
    total = num["lesion_count"]
    regional = np.column_stack([num[c] for c in REGION_COUNT_COLUMNS])
    all_regional = ~np.isnan(regional).any(axis=1)
    region_sum = np.nansum(regional, axis=1)
    has_total = ~np.isnan(total)
    bad |= has_total & all_regional & (region_sum != total)
    bad |= has_total & (region_sum > total)
    levels = num["involved_levels"]
    bad |= has_total & ~np.isnan(levels) & ((levels > total) | ((levels == 0) != (total == 0)))
    overall, worst = num["high_intensity_ratio"], num["max_level_high_intensity_ratio"]
    bad |= ~np.isnan(overall) & ~np.isnan(worst) & (worst < overall - 1e-4)
    return bad, np.where(complete, known, np.nan)


# ------------------------------------------------------------------ frames


@dataclass
class CellCheck:
    """What :func:`validate_cells` found in a frame of cells.

    Attributes
    ----------
    valid : numpy bool array
        Rows without any problem (cells and cross-column checks).
    columns : dict
        Every :data:`~core.clinical.COHORT_COLUMNS` name -> object array of the
        validated values (``validate_clinical``'s types; ``sins_total`` filled in when
        the components are complete); meaningful on valid rows only.
    problems : dict
        Row position -> ``[(column, reason), ...]`` of :func:`row_problems`, for every
        invalid row, in its order.
    key_ok : numpy bool array
        Rows whose ``patient_id`` and ``study_date`` cells are valid (a study key).
    yes_no_deficit : numpy bool array
        Valid rows whose ``neurologic_deficit`` cell is an old yes/no value.
    """

    valid: np.ndarray
    columns: dict[str, np.ndarray]
    problems: dict[int, list[Problem]] = field(default_factory=dict)
    key_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    yes_no_deficit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def records(self, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
        """The validated rows (default: the valid ones) as ``validate_clinical`` dicts."""
        index = np.flatnonzero(self.valid) if rows is None else rows
        cols = [self.columns[c][index].tolist() for c in COHORT_COLUMNS]
        return [dict(zip(COHORT_COLUMNS, values, strict=True))
                for values in zip(*cols, strict=True)]


def validate_cells(cells: pd.DataFrame, *, require_vas: bool = False) -> CellCheck:
    """Validate every row of a frame of cells, as :func:`row_problems` would one by one.

    Parameters
    ----------
    cells : pandas.DataFrame
        Columns from :data:`~core.clinical.COHORT_COLUMNS` (an absent column is absent
        from every row: its default, or "required value is missing"); any index.
    require_vas : bool
        As in :func:`core.clinical.validate_clinical`.
    """
    n = len(cells)
    parsed: dict[str, _Column] = {}
    bad_cell = np.zeros(n, dtype=bool)
    columns: dict[str, np.ndarray] = {}
    for name in COHORT_COLUMNS:
        column = (validate_column(name, cells[name], require_vas=require_vas)
                  if name in cells.columns else _absent(name))
        parsed[name] = column
        if len(column.codes) == n:
            bad_cell |= column.bad()
            columns[name] = column.value_array()
        else:
            if column.reasons[0] is not None:
                bad_cell[:] = True
            columns[name] = _object_array([column.values[0]] * n)
    num = {c: _numbers(parsed[c], n) for c in _NUMERIC}
    bad_rows, computed = _consistency_flags(num)
    invalid = bad_cell | bad_rows
    fill = ~invalid & np.isnan(num["sins_total"]) & ~np.isnan(computed)
    if fill.any():
        columns["sins_total"] = columns["sins_total"].copy()
        columns["sins_total"][fill] = [int(v) for v in computed[fill]]
    problems: dict[int, list[Problem]] = {}
    flagged = np.flatnonzero(invalid)
    records = cells.iloc[flagged].to_dict(orient="records") if len(flagged) else []
    for i, record in zip(flagged.tolist(), records, strict=True):
        clean, found = row_problems(record, require_vas=require_vas)
        if found:
            problems[i] = found
        else:  # the row validator is the judge
            invalid[i] = False
            for column, value in (clean or {}).items():
                columns[column][i] = value
    key_ok = np.ones(n, dtype=bool)
    for name in ("patient_id", "study_date"):
        column = parsed[name]
        key_ok &= ~column.bad() if len(column.codes) == n else column.reasons[0] is None
    return CellCheck(valid=~invalid, columns=columns, problems=problems, key_ok=key_ok,
                     yes_no_deficit=~invalid & _yes_no(parsed.get(DEFICIT_COLUMN), n))


@dataclass(frozen=True, eq=False)
class ValidatedCohort:
    """The valid rows of one cohort table, validated as a whole by
    :func:`~core.clinical.bulk_tables.load_clinical_table_bulk` (its
    :attr:`ClinicalImport.validated <core.clinical.ClinicalImport>`): every cell by the
    rules of :func:`~core.clinical.validate_clinical`, each (patient, date) once, each
    patient's sex, primary tumour and synthetic flag the same on all of its rows.

    :meth:`core.store.CaseStore.import_cohort` takes it without validating the rows
    again (validate once, at the edge); a plain frame passed there is validated. Made by
    the loader only: it holds the values the validation produced.

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows typed as :func:`~core.clinical.as_cohort_frame` types them (the loader's
        ``ClinicalImport.rows``: indexed by spreadsheet row, ``attrs["warnings"]``).
    values : Mapping[str, numpy.ndarray]
        Every :data:`~core.clinical.COHORT_COLUMNS` name -> object array of the
        validated values (those of ``validate_clinical``), one per row of ``frame``.
    """

    frame: pd.DataFrame
    values: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        missing = [c for c in COHORT_COLUMNS if c not in self.values]
        lengths = {len(v) for v in self.values.values()}
        if missing or lengths - {len(self.frame)}:
            raise ValueError("validated cohort values must hold every cohort column with "
                             "one value per row of the frame.")

    def __len__(self) -> int:
        return len(self.frame)


def _yes_no(column: _Column | None, n: int) -> np.ndarray:
    """Rows whose deficit cell is an old yes/no value (:func:`deficit_from_yes_no`)."""
    if column is None or len(column.codes) != n:
        return np.zeros(n, dtype=bool)
    flags = np.array([deficit_from_yes_no(r) for r in column.reps], dtype=bool)
    return flags[column.codes]


def _canonical(column: str, series: pd.Series) -> bool:
    """True when :func:`as_cohort_frame` would leave ``series`` as it is."""
    dtype = series.dtype
    if column in TEXT_COLUMNS:
        if not isinstance(dtype, pd.StringDtype) or dtype.na_value is not np.nan:
            return False
        text = series.dropna()
        return bool((text.str.strip() == text).all() and (text.str.len() > 0).all())
    if column == "study_date":
        return dtype == np.dtype("datetime64[us]")
    if column in BOOLEAN_COLUMNS:
        return dtype == np.bool_
    return dtype == np.float64


def typed_cohort_frame(frame: pd.DataFrame, columns: Sequence[str] = COHORT_COLUMNS
                       ) -> pd.DataFrame:
    """:func:`~core.clinical.as_cohort_frame` of ``frame``, identical, without per-cell
    work for the columns that already have its types (e.g. a frame it made); with
    ``columns`` (cohort columns), only those columns, typed the same way."""
    unknown = [c for c in columns if c not in COHORT_COLUMNS]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a cohort column.")
    index = pd.RangeIndex(len(frame))
    out: dict[str, Any] = {}
    for column in columns:
        if column in frame.columns and _canonical(column, frame[column]):
            values = frame[column].to_numpy(copy=True)
            # text: as_cohort_frame's own conversion; the rest is already its dtype
            out[column] = (_typed_column(column, values.tolist()) if column in TEXT_COLUMNS
                           else pd.Series(values, index=index, copy=False))
        else:
            series = (frame[column] if column in frame.columns
                      else pd.Series(np.full(len(frame), None, dtype=object), dtype=object))
            out[column] = _typed_distinct(column, series, index)
    # built in one go: inserting the columns one at a time costs more than a page's rows
    return pd.DataFrame(out, index=index)


def _typed_distinct(column: str, series: pd.Series, index: pd.RangeIndex) -> pd.Series:
    """``_typed_column(column, [plain_cell(v) for v in series])``, with each distinct
    cell (:func:`distinct_cells`: same type and value) made plain and typed once and the
    result spread over its rows: a store's 100,000 studies hold a few hundred distinct
    sexes, tumours and grades (and one patient id per patient)."""
    codes, reps = distinct_cells(series)
    typed = _typed_column(column, [plain_cell(v) for v in reps])
    return typed.take(codes).set_axis(index)


def typed_rows(check: CellCheck, rows: np.ndarray) -> pd.DataFrame:
    """The validated ``rows`` (positions) as :func:`~core.clinical.as_cohort_frame`
    would type their ``validate_clinical`` dicts."""
    out = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    for column in COHORT_COLUMNS:
        out[column] = _typed_column(column, check.columns[column][rows].tolist())
    return out
