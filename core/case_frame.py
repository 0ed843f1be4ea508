"""A whole frame of raw cases parsed at once: :func:`parse_frame`.

The frame-level counterpart of :func:`core.context.parse_case` for the flat columns of a
case table (the store's study list, an imported cohort): every input column is read and
range-checked with array operations (a column of text or booleans once per distinct
value, through the same scalar reader :func:`~core.context.parse_case` uses), the
consistency rules of :func:`core.features.features_from_case` (regional counts against
the total, involved levels, SINS parts against the total, the worst-level HI ratio) are
array comparisons, and the model's derived features are array sums.

A row that any check refuses, or that carries nested extract JSON (``levels``,
``lesion_count_by_region``, ``provenance``, a list of involved levels), is read by
:func:`~core.context.parse_case` itself, so its features, context or one-sentence error
are exactly what the case-by-case path gives; only those rows are read one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
import pandas as pd

from core.context import (
    CaseContext,
    _step,
    _vas,
    _yes_no,
    deficit_warnings,
    parse_case,
)
from core.features import FEATURE_NAMES, FEATURES, INPUT_RANGES, input_number
from core.grouping import Mapped, coded_floats, map_groups, object_array
from core.vocab import (
    DEFICIT_STATES,
    REGIONS,
    SINS_COMPONENTS,
    SINS_NON_PAIN_COMPONENTS,
    SINS_POINTS,
    BilskyGrade,
    is_missing,
    parse_deficit,
    radiosensitivity,
)

#: Columns holding nested ``core extract`` JSON: a row with one of them is read by
#: :func:`core.context.parse_case`.
NESTED_COLUMNS: tuple[str, ...] = ("lesion_count_by_region", "levels", "provenance")
#: :class:`~core.context.CaseContext` fields, the columns of :attr:`ParsedFrame.contexts`.
CONTEXT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CaseContext))
_COL = {name: j for j, name in enumerate(FEATURE_NAMES)}
_IMAGING_INPUTS = ("lesion_count", "involved_levels", "high_intensity_ratio",
                   "max_level_high_intensity_ratio", *(f"lesion_count_{r}" for r in REGIONS))


@dataclass(frozen=True, eq=False)
class ParsedFrame:
    """A frame of raw cases read once.

    Attributes
    ----------
    X : ndarray, shape (n, p)
        Feature rows in model units (:data:`~core.features.FEATURE_NAMES` order, NaN =
        not recorded); NaN rows where ``ok`` is false.
    errors : ndarray of object
        The one-sentence reason a row could not be read, ``None`` for the others.
    coded : mapping of str to Mapped
        Every :class:`~core.context.CaseContext` field (:data:`CONTEXT_FIELDS`) as groups
        of equal values (row ``i`` holds ``coded[name].results[coded[name].inverse[i]]``),
        for work done once per distinct value.
    index : pandas.Index
        The frame's index.

    :attr:`contexts` (the same values as a frame) is built on first use.
    """

    X: np.ndarray
    errors: np.ndarray
    coded: Mapping[str, Mapped]
    index: pd.Index

    @cached_property
    def contexts(self) -> pd.DataFrame:
        """One row per case with the :class:`~core.context.CaseContext` fields
        (:data:`CONTEXT_FIELDS`, ``None`` = not recorded), same index as the frame."""
        return pd.DataFrame({k: pd.Series(self.coded[k].rows(), index=self.index, dtype=object)
                             for k in CONTEXT_FIELDS}, index=self.index)

    def column(self, name: str) -> np.ndarray:
        """One :class:`~core.context.CaseContext` field of every row (object array)."""
        return self.coded[name].rows()

    @property
    def ok(self) -> np.ndarray:
        """Rows that were read."""
        return np.asarray(pd.isna(self.errors), dtype=bool)

    def context(self, i: int) -> CaseContext:
        """Row ``i``'s :class:`~core.context.CaseContext`."""
        row = self.contexts.iloc[i]
        values = {k: (None if _is_none(row[k]) else row[k]) for k in CONTEXT_FIELDS}
        values["levels_in_view"] = tuple(values["levels_in_view"] or ())
        values["warnings"] = tuple(values["warnings"] or ())
        values["imaging_recorded"] = bool(values["imaging_recorded"])
        values["radiosensitivity"] = values["radiosensitivity"] or "unknown"
        return CaseContext(**values)


_NOT_NONE = np.frompyfunc(lambda value: value is not None, 1, 1)


def _is_none(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _series(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """The column ``name`` (``None`` when the frame has none: every value missing)."""
    return frame[name] if name in frame.columns else None


def _missing(series: pd.Series | None, n: int) -> np.ndarray:
    """:func:`core.vocab.is_missing` of every entry: an array check for a numeric or
    boolean column, else once per distinct value."""
    if series is None:
        return np.ones(n, dtype=bool)
    values = series.to_numpy() if series.dtype.kind in "fiub" else None
    if values is not None and values.dtype != object:
        return np.asarray(pd.isna(values), dtype=bool)
    return map_groups(series, is_missing, n).rows().astype(bool)


def _numbers(name: str, series: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The input ``name`` as floats (NaN = missing) and the rows it refuses: array checks
    for a numeric column (the messages come from the rows read one by one), else once per
    distinct value."""
    kind, low, high, _ = INPUT_RANGES[name]
    values = series.to_numpy() if series is not None and series.dtype.kind in "fiu" else None
    if values is not None and values.dtype.kind in "fiu":
        x = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            inside = (x >= low) & (x <= high)  # false for NaN and (finite bounds) infinities
        if kind in ("count", "ordinal", "binary"):
            inside &= np.floor(x) == x
        bad = ~inside & ~np.isnan(x)
        return (np.where(bad, np.nan, x) if bad.any() else x.copy()), bad
    mapped = map_groups(series, lambda v: input_number(name, v), n)
    out = np.asarray([np.nan if v is None else v for v in mapped.results], dtype=np.float64)
    return out[mapped.inverse], mapped.failed()


def _first_to_last_sum(columns: list[np.ndarray]) -> np.ndarray:
    """Left-to-right sum (the order of the scalar path), NaN when any term is NaN."""
    total = np.zeros(len(columns[0]))
    for column in columns:
        total = total + column
    return total


def _partial_sum(columns: list[np.ndarray], total: np.ndarray) -> np.ndarray:
    summed = _first_to_last_sum(columns)
    return np.where(total == 0, 0.0, summed)


class _Reader:
    """The numeric inputs of a frame with the rows any check refused (``bad``)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.bad = np.zeros(len(frame), dtype=bool)
        self._columns: dict[str, pd.Series | None] = {}

    def series(self, name: str) -> pd.Series | None:
        """The column ``name`` (``None`` when the frame has none), looked up once."""
        if name not in self._columns:
            self._columns[name] = _series(self.frame, name)
        return self._columns[name]

    def number(self, name: str) -> np.ndarray:
        x, bad = _numbers(name, self.series(name), len(self.frame))
        self.bad |= bad
        return x

    def mapped(self, name: str, fn: Callable[[object], object]) -> Mapped:
        """``fn`` of the column ``name`` once per distinct value (refused rows noted)."""
        out = map_groups(self.series(name), fn, len(self.frame))
        self.bad |= out.failed()
        return out

    def refuse(self, mask: np.ndarray) -> None:
        self.bad |= mask


def _counts(r: _Reader) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Regional counts, the total and involved levels (checked as
    :func:`core.features.case_inputs` checks them)."""
    counts = {reg: r.number(f"lesion_count_{reg}") for reg in REGIONS}
    lumbar = r.number("lumbar_involved")
    c = counts["lumbar"]
    r.refuse(~np.isnan(lumbar) & ~np.isnan(c) & (lumbar != (c > 0)))
    counts["lumbar"] = np.where((lumbar == 0) & np.isnan(c), 0.0, c)
    given = r.number("lesion_count")
    stacked = [counts[reg] for reg in REGIONS]
    known = _first_to_last_sum([np.where(np.isnan(v), 0.0, v) for v in stacked])
    complete = ~np.isnan(np.column_stack(stacked)).any(axis=1)
    has_total = ~np.isnan(given)
    r.refuse(has_total & ((complete & (known != given)) | (known > given)))
    total = np.where(has_total, given, np.where(complete, known, np.nan))
    zero = has_total & (given == 0)
    for reg in REGIONS:
        counts[reg] = np.where(zero, 0.0, counts[reg])
    levels = r.number("involved_levels")
    with np.errstate(invalid="ignore"):
        r.refuse(~np.isnan(total) & ~np.isnan(levels)
                 & ((levels > total) | ((levels == 0) != (total == 0))))
    involved = np.where(np.isnan(levels) & (total == 0), 0.0, levels)
    return counts, total, involved


def _sins(r: _Reader) -> tuple[dict[str, np.ndarray], np.ndarray]:
    parts = {}
    for component in SINS_COMPONENTS:
        x = r.number(component)
        r.refuse(~np.isnan(x) & ~np.isin(x, np.asarray(SINS_POINTS[component], dtype=float)))
        parts[component] = x
    given = r.number("sins_total")
    summed = _first_to_last_sum([parts[c] for c in SINS_COMPONENTS])
    complete = ~np.isnan(summed)
    r.refuse(complete & ~np.isnan(given) & (given != summed))
    return parts, np.where(np.isnan(given), summed, given)


def _features(r: _Reader) -> tuple[np.ndarray, dict[str, np.ndarray], Mapped]:
    """Feature matrix, SINS parts and total, the deficit readings (as :func:`_derive`)."""
    counts, total, involved = _counts(r)
    overall, worst = r.number("high_intensity_ratio"), r.number("max_level_high_intensity_ratio")
    r.refuse(~np.isnan(overall) & ~np.isnan(worst) & (worst < overall - 1e-4))
    parts, sins_total = _sins(r)
    grades = r.mapped("bilsky_grade", BilskyGrade.parse)
    deficits = r.mapped("neurologic_deficit", parse_deficit)
    noncervical = _partial_sum([counts["thoracic"], counts["lumbar"], counts["sacral"]], total)
    noncervical = np.where(np.isnan(noncervical) & ~np.isnan(total)
                           & ~np.isnan(counts["cervical"]), total - counts["cervical"],
                           noncervical)
    non_pain = _first_to_last_sum([parts[c] for c in SINS_NON_PAIN_COMPONENTS])
    without_pain = np.where(np.isnan(non_pain), sins_total - parts["sins_pain"], non_pain)
    state_code = deficits.then(lambda d: np.nan if d is None or d.state is None
                               else float(DEFICIT_STATES.index(d.state))).rows()
    bilsky = grades.then(lambda g: np.nan if g is None else float(g.code)).rows()
    values = {
        "lesion_count": total,
        "lesion_count_noncervical": noncervical,
        "lesion_count_lumbosacral": _partial_sum([counts["lumbar"], counts["sacral"]], total),
        "involved_levels": involved,
        "high_intensity_ratio": overall,
        "max_level_high_intensity_ratio": worst,
        "sins_without_pain": without_pain,
        "bilsky_grade": bilsky.astype(np.float64),
        "pathologic_fracture": r.number("pathologic_fracture"),
        "neurologic_deficit": state_code.astype(np.float64),
        "age": r.number("age"),
        "ecog": r.number("ecog"),
    }
    X = np.column_stack([values[n] for n in FEATURE_NAMES]) if len(total) else np.empty(
        (0, len(FEATURE_NAMES)))
    for spec in FEATURES:
        x = X[:, _COL[spec.name]]
        r.refuse(~np.isnan(x) & ((x < spec.min_value) | (x > spec.max_value)))
    return X, {**parts, "sins_total": sins_total}, deficits


def _objects(x: np.ndarray, whole: bool = False) -> np.ndarray:
    out = np.full(len(x), None, dtype=object)
    known = ~np.isnan(x)
    out[known] = (x[known].astype(np.int64) if whole else x[known]).astype(object)
    return out


def _contexts(frame: pd.DataFrame, r: _Reader, sins: dict[str, np.ndarray],
              deficits: Mapped) -> dict[str, Mapped]:
    """Every :class:`~core.context.CaseContext` field as groups of equal values."""
    n = len(frame)
    primary = r.mapped("primary_tumor",
                       lambda v: None if is_missing(v) else str(v).strip().lower())
    warnings = deficits.then(lambda d: () if d is None else deficit_warnings(d))
    warnings = Mapped(warnings.inverse, object_array(
        [() if v is None else v for v in warnings.results]), warnings.bad)
    imaging = np.zeros(n, dtype=bool)
    for name in _IMAGING_INPUTS:
        imaging |= ~_missing(r.series(name), n)
    return {
        "current_analgesic_step": r.mapped("analgesic_step", _step),
        "prior_radiotherapy": r.mapped("prior_radiotherapy",
                                       lambda v: _yes_no("prior_radiotherapy", v)),
        "bone_modifying_agent": r.mapped("bone_modifying_agent",
                                         lambda v: _yes_no("bone_modifying_agent", v)),
        "primary_tumor": primary,
        "radiosensitivity": primary.then(radiosensitivity),
        "neurologic_deficit": deficits.then(lambda d: None if d is None else d.state),
        "neuropathic_pain": r.mapped("neuropathic_pain",
                                     lambda v: _yes_no("neuropathic_pain", v)),
        "sins_total": coded_floats(sins["sins_total"], whole=True),
        "sins_pain": coded_floats(sins["sins_pain"], whole=True),
        "recorded_vas": r.mapped("vas", _vas),
        "imaging_recorded": _one_group(n, imaging.astype(np.int64), (False, True)),
        "levels_in_view": _one_group(n, None, ((),)),
        "sequence": _one_group(n, None, (None,)),
        "warnings": warnings,
    }


def _one_group(n: int, inverse: np.ndarray | None, values: tuple[object, ...]) -> Mapped:
    codes = np.zeros(n, dtype=np.int64) if inverse is None else inverse
    return Mapped(codes, object_array(values), np.zeros(len(values), dtype=bool))


def _nested(frame: pd.DataFrame) -> np.ndarray:
    """Rows with any value (even NaN, which ``levels`` refuses) in a nested column."""
    nested = np.zeros(len(frame), dtype=bool)
    for name in NESTED_COLUMNS:
        if name in frame.columns:
            nested |= _NOT_NONE(frame[name].to_numpy(dtype=object)).astype(bool)
    return nested


def _one_by_one(frame: pd.DataFrame, rows: np.ndarray, X: np.ndarray,
                errors: np.ndarray) -> dict[int, CaseContext]:
    """Read the given rows with :func:`core.context.parse_case` (refused or nested rows):
    their features go into ``X``, their errors into ``errors``; returns the contexts of
    the rows that were read."""
    read: dict[int, CaseContext] = {}
    if not len(rows):
        return read
    records = frame.iloc[rows].to_dict(orient="records")
    for i, record in zip(rows, records, strict=True):
        try:
            parsed = parse_case(record)
        except ValueError as exc:
            X[i] = np.nan
            errors[i] = str(exc)
            continue
        X[i] = parsed.features.row()[0]
        read[int(i)] = parsed.context
    return read


def _patched(coded: dict[str, Mapped], read: dict[int, CaseContext]) -> dict[str, Mapped]:
    """``coded`` with the rows read one by one given their own groups."""
    if not read:
        return coded
    rows = np.fromiter(read, dtype=np.int64, count=len(read))
    out = {}
    for name, column in coded.items():
        inverse = column.inverse.copy()
        inverse[rows] = len(column.results) + np.arange(len(rows))
        values = object_array([*column.results, *(getattr(c, name) for c in read.values())])
        out[name] = Mapped(inverse, values, np.append(column.bad, np.zeros(len(rows), bool)))
    return out


def parse_frame(frame: pd.DataFrame) -> ParsedFrame:
    """Read every row of a frame of raw cases, as :func:`core.context.parse_case` reads
    one (same features, context and error sentences), with array operations.

    Parameters
    ----------
    frame : pandas.DataFrame
        Flat case columns (e.g. :meth:`core.store.CaseStore.list_studies`, a cohort
        table); rows with nested extract JSON are accepted too (read one by one).

    Returns
    -------
    ParsedFrame
    """
    r = _Reader(frame)
    X, sins, deficits = _features(r)
    coded = _contexts(frame, r, sins, deficits)
    errors = np.full(len(frame), None, dtype=object)
    slow = np.flatnonzero(r.bad | _nested(frame))
    coded = _patched(coded, _one_by_one(frame, slow, X, errors))
    return ParsedFrame(X, errors, coded, frame.index)


__all__ = ["CONTEXT_FIELDS", "NESTED_COLUMNS", "ParsedFrame", "parse_frame"]
