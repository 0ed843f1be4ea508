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


def row_groups(columns: Sequence[np.ndarray | pd.Series], n: int, *,
               exact_types: bool = True) -> Groups:
    """Group ``n`` rows by the distinct combinations of ``columns`` (see :func:`codes_of`)."""
    if n == 0:
        return Groups(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    if not columns:
        return Groups(np.zeros(n, dtype=np.int64), np.zeros(1, dtype=np.int64))
    key = np.zeros(n, dtype=np.int64)
    for column in columns:
        codes = codes_of(column, exact_types=exact_types)
        key, _ = pd.factorize(key * (int(codes.max()) + 1) + codes)
        key = key.astype(np.int64)
    _, first = np.unique(key, return_index=True)
    return Groups(key, first.astype(np.int64))


def map_distinct(values: np.ndarray | pd.Series, fn: Callable[[object], object], *,
                 raw: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``fn`` applied once per distinct value of a column (type-exact, see
    :func:`codes_of`).

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
    array = np.asarray(values, dtype=object)
    n = len(array)
    failed = containers(array) if raw else np.zeros(n, dtype=bool)
    clean = array
    if failed.any():
        clean = array.copy()
        clean[failed] = None
    groups = row_groups([clean], n, exact_types=raw)
    out = np.empty(len(groups), dtype=object)
    bad = np.zeros(len(groups), dtype=bool)
    for g, i in enumerate(groups.first):
        try:
            out[g] = fn(clean[i])
        except ValueError:
            out[g], bad[g] = None, True
    results = out[groups.inverse] if n else np.empty(0, dtype=object)
    return results, failed | (bad[groups.inverse] if n else failed)


__all__ = ["Groups", "codes_of", "containers", "map_distinct", "row_groups"]
