"""Array helpers for doing per-case work once per *distinct* input over a whole frame.

Frames of cases repeat values (a Bilsky grade, a deficit word, a combination of rule
inputs): :func:`row_groups` numbers the distinct rows of several columns with array
operations and :func:`map_distinct` applies a scalar function once per distinct value of
one column, so a scalar rule (its one definition) gives the same result for every row
without a Python loop over the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_CONTAINERS = (list, tuple, set, frozenset, dict, Mapping)


def _is_container(value: object) -> bool:
    return isinstance(value, _CONTAINERS)


def _type_name(value: object) -> str:
    return type(value).__name__


_CONTAINER_U = np.frompyfunc(_is_container, 1, 1)
_TYPE_U = np.frompyfunc(_type_name, 1, 1)


#: :func:`pandas.api.types.infer_dtype` kinds of an object column holding one scalar type
#: (missing values aside): its values need no per-value type check.
_ONE_TYPE = frozenset({"string", "boolean", "floating", "integer", "empty", "datetime",
                       "date", "decimal"})


def _one_type(array: np.ndarray) -> bool:
    return pd.api.types.infer_dtype(array, skipna=True) in _ONE_TYPE


def containers(values: np.ndarray | pd.Series) -> np.ndarray:
    """Boolean mask of the entries that are lists, tuples, sets or mappings (object arrays
    only; other dtypes hold none)."""
    array = np.asarray(values)
    if array.dtype != object or array.size == 0 or _one_type(array):
        return np.zeros(array.shape, dtype=bool)
    return _CONTAINER_U(array).astype(bool)


def codes_of(values: np.ndarray | pd.Series, *, exact_types: bool = True) -> np.ndarray:
    """Integer codes of a column's distinct values: equal codes exactly when the values
    are equal *and* (with ``exact_types``) of the same type (so ``True``, ``1`` and
    ``1.0`` stay apart), all missing values sharing a code. Containers must be removed
    first (tuples are fine). ``exact_types=False`` is for columns the caller built with
    one type per column."""
    array = np.asarray(values)
    value_codes, uniques = pd.factorize(array, use_na_sentinel=True)
    value_codes = value_codes.astype(np.int64) + 1
    if not exact_types or array.dtype != object or _one_type(array):
        return value_codes
    type_codes, _ = pd.factorize(_TYPE_U(array).astype(str))
    return type_codes.astype(np.int64) * (len(uniques) + 1) + value_codes


@dataclass(frozen=True)
class Groups:
    """Distinct rows: ``inverse[i]`` is row ``i``'s group, ``first[g]`` the first row of
    group ``g``."""

    inverse: np.ndarray
    first: np.ndarray

    def __len__(self) -> int:
        return len(self.first)


def first_positions(inverse: np.ndarray) -> np.ndarray:
    """The first position of each group of ``inverse`` numbered in order of first
    appearance (as :func:`pandas.factorize` numbers them): a new group number is always
    one above the running maximum."""
    if not len(inverse):
        return np.empty(0, dtype=np.int64)
    running = np.maximum.accumulate(inverse)
    return np.flatnonzero(np.diff(running, prepend=-1) > 0).astype(np.int64)


def row_groups(columns: Sequence[np.ndarray | pd.Series], n: int, *,
               exact_types: bool = True) -> Groups:
    """Group ``n`` rows by the distinct combinations of ``columns`` (see :func:`codes_of`);
    groups are numbered in order of first appearance."""
    if n == 0:
        return Groups(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    if not columns:
        return Groups(np.zeros(n, dtype=np.int64), np.zeros(1, dtype=np.int64))
    key = np.zeros(n, dtype=np.int64)
    for column in columns:
        codes = codes_of(column, exact_types=exact_types)
        key, _ = pd.factorize(key * (int(codes.max()) + 1) + codes)
        key = key.astype(np.int64)
    return Groups(key, first_positions(key))


@dataclass(frozen=True, eq=False)
class Mapped:
    """A scalar function of a column's distinct values: row ``i`` holds
    ``results[inverse[i]]``; ``bad[g]`` marks groups whose value made the function raise
    ``ValueError`` (or is a container)."""

    inverse: np.ndarray
    results: np.ndarray
    bad: np.ndarray

    def rows(self) -> np.ndarray:
        """The result of every row (``None`` for a refused value)."""
        out: np.ndarray = self.results[self.inverse]
        return out

    def failed(self) -> np.ndarray:
        """Rows whose value was refused."""
        out: np.ndarray = self.bad[self.inverse]
        return out

    def then(self, fn: Callable[[object], object]) -> Mapped:
        """``fn`` of every distinct result (``None`` where it raises ``ValueError``), the
        rows keeping their groups; a refused group stays refused."""
        results, bad = _apply(fn, self.results)
        return Mapped(self.inverse, results, self.bad | bad)


def object_array(values: Sequence[object]) -> np.ndarray:
    """A 1-d object array of the given values (tuples stay elements)."""
    out = np.empty(len(values), dtype=object)
    for g, value in enumerate(values):
        out[g] = value
    return out


def coded_floats(x: np.ndarray, *, whole: bool = False) -> Mapped:
    """A float column (NaN = missing) as groups of equal values: ``results`` holds
    ``None`` for missing, else the value as a Python float (``int`` with ``whole``, the
    value truncated). Small whole numbers are grouped without sorting."""
    x = np.asarray(x, dtype=np.float64)
    known = ~np.isnan(x)
    k = x[known]
    small = not k.size or (k.min() >= 0 and k.max() <= 255 and not np.signbit(k).any()
                           and bool((k == np.floor(k)).all()))
    if small:
        inverse = np.zeros(len(x), dtype=np.int64)
        inverse[known] = k.astype(np.int64) + 1
        top = int(k.max()) + 1 if k.size else 0
        values: list[object] = [None, *(v if whole else float(v) for v in range(top))]
    else:
        uniques, found = np.unique(x, return_inverse=True)
        inverse = found.reshape(-1).astype(np.int64)
        values = [None if np.isnan(u) else (int(u) if whole else float(u)) for u in uniques]
    return Mapped(inverse, object_array(values), np.zeros(len(values), dtype=bool))


def coded_objects(values: np.ndarray | pd.Series) -> Mapped:
    """An object column of hashable values of one type per column as groups of equal
    values (``None``/NaN missing, one group holding ``None``)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    distinct = [None, *uniques.tolist()]
    return Mapped(codes.astype(np.int64) + 1, object_array(distinct),
                  np.zeros(len(distinct), dtype=bool))


def _apply(fn: Callable[[object], object], values: Sequence[object]
           ) -> tuple[np.ndarray, np.ndarray]:
    out = np.empty(len(values), dtype=object)
    bad = np.zeros(len(values), dtype=bool)
    for g, value in enumerate(values):
        try:
            out[g] = fn(value)
        except ValueError:
            out[g], bad[g] = None, True
    return out, bad


_NO_VALUE = object()


def _typed_groups(series: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Groups of a column with a typed (non-object) dtype and one Python value per group
    (the value ``to_numpy`` gives, missing values as the column holds them)."""
    if series.dtype == np.bool_:
        return series.to_numpy().astype(np.int64), [False, True]
    if series.dtype == np.float64:
        coded = coded_floats(series.to_numpy())
        return coded.inverse, [float("nan") if v is None else v for v in coded.results]
    inverse, uniques = series.factorize(use_na_sentinel=True)
    inverse = np.asarray(inverse, dtype=np.int64)
    values: list[object] = list(uniques.tolist())
    missing = inverse < 0
    if missing.any():
        # the missing value as ``to_numpy`` gives it (the dtype's own, e.g. NaN or NA)
        na = getattr(series.dtype, "na_value", _NO_VALUE)
        values.append(series.iloc[np.flatnonzero(missing)[:1]].to_numpy(dtype=object)[0]
                      if na is _NO_VALUE else na)
        inverse[missing] = len(uniques)
    return inverse, values


def map_groups(values: np.ndarray | pd.Series | None, fn: Callable[[object], object], n: int,
               *, raw: bool = True) -> Mapped:
    """``fn`` applied once per distinct value of a column of ``n`` rows (type-exact, see
    :func:`codes_of`; ``None`` for an absent column: every row ``None``).

    A :class:`pandas.Series` of a typed dtype (float, integer, bool, text, categorical)
    holds one type and no containers: its groups come from its own ``factorize``. An
    object column is checked for containers (refused) and grouped type-exactly;
    ``raw=False`` is for an object column the caller built (one type, no containers).
    """
    if values is None:
        results, bad = _apply(fn, [None])
        return Mapped(np.zeros(n, dtype=np.int64), results, bad)
    if isinstance(values, pd.Series) and values.dtype != object:
        inverse, distinct = _typed_groups(values)
        results, bad = _apply(fn, distinct)
        return Mapped(inverse, results, bad)
    array = np.asarray(values, dtype=object)
    if len(array) and (not raw or _one_type(array)):
        # one scalar type (missing values aside): no containers, plain equality
        inverse, _ = pd.factorize(array, use_na_sentinel=False)
        inverse = inverse.astype(np.int64)
        results, bad = _apply(fn, array[first_positions(inverse)])
        return Mapped(inverse, results, bad)
    failed = containers(array) if raw else np.zeros(len(array), dtype=bool)
    clean = array
    if failed.any():
        clean = array.copy()
        clean[failed] = None
    groups = row_groups([clean], len(array), exact_types=raw)
    results, bad = _apply(fn, clean[groups.first])
    if failed.any():
        # a container gets a group of its own, refused
        inverse = np.where(failed, len(groups), groups.inverse)
        return Mapped(inverse, np.append(results, None), np.append(bad, True))
    return Mapped(groups.inverse, results, bad)


def map_distinct(values: np.ndarray | pd.Series, fn: Callable[[object], object], *,
                 raw: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``fn`` applied once per distinct value of a column (type-exact, see
    :func:`codes_of`; :func:`map_groups` with the results spread to the rows).

    Returns
    -------
    results : ndarray of object
        ``fn(value)`` per row (``None`` where it raised ``ValueError`` or the value is a
        container).
    failed : ndarray of bool
        Rows whose value made ``fn`` raise ``ValueError``, or is a container (callers
        read those rows one by one).

    ``raw=False`` is for a column the caller built (one type, no containers, e.g. parsed
    readings): it skips the type and container checks.
    """
    mapped = map_groups(values, fn, len(values), raw=raw)
    if not len(values):
        return np.empty(0, dtype=object), np.zeros(0, dtype=bool)
    return mapped.rows(), mapped.failed()


__all__ = [
    "Groups",
    "Mapped",
    "coded_floats",
    "coded_objects",
    "codes_of",
    "containers",
    "first_positions",
    "map_distinct",
    "map_groups",
    "object_array",
    "row_groups",
]
