"""PostgreSQL fast paths of the bulk writes: ``COPY`` rows in, take ids from a table's
sequence, match a list of keys with one array parameter.

psycopg 3 sends an ``executemany`` as one bound statement per row (pipelined); 100,000
cohort rows are about 350,000 such statements, most of an import's time. ``COPY ...
FROM STDIN`` streams the same rows in one statement, inside the caller's transaction
(all or nothing as before). Rows copied in cannot report their generated ids, so the
ids are taken from the table's sequence first (:func:`next_ids`: one query, the values
no other session can get) and copied with the rows.

A long ``IN (...)`` list is one bound parameter per value, which psycopg parses per
statement; :func:`any_of` sends the values as one array parameter (``= ANY(...)``).

Everything here applies to ``postgresql+psycopg`` only (:func:`copies`); other
databases and drivers keep the portable ``executemany`` of :mod:`core.store.bulk`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Connection, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY


def copies(conn: Connection) -> bool:
    """True when ``conn`` is PostgreSQL through psycopg 3 (``COPY`` and arrays here)."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def any_of(column: Any, values: Sequence[Any], conn: Connection) -> ColumnElement[bool]:
    """``column IN values``: one array parameter on PostgreSQL (``= ANY(:values)``),
    an ``IN`` list elsewhere."""
    values = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if conn.dialect.name != "postgresql":
        return column.in_(values)
    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))


def next_ids(conn: Connection, table: Any, n: int) -> np.ndarray | None:
    """``n`` new values of ``table.id``'s sequence (ascending), or ``None`` when the
    column has no sequence (then the caller lets the database number the rows)."""
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    sequence = conn.scalar(select(func.pg_get_serial_sequence(table.name, "id")))
    if sequence is None:
        return None
    ids = conn.execute(text(
        "SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
        {"sequence": sequence, "n": int(n)}).scalars().all()
    return np.sort(np.asarray(ids, dtype=np.int64))


#: ``COPY`` text format: NULL, and the bytes a value escapes (backslash first).
_NULL = b"\\N"
_ESCAPES = ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r"))
_NEEDS_ESCAPE = re.compile(rb"[\\\t\n\r]")


class _Texts:
    """Values in ``COPY``'s text format, as psycopg's own text dumpers write them (its
    adapters: dates, booleans, numbers, ``Json``), escaped; ``None`` is NULL. A
    column's SQLAlchemy bind processor (e.g. JSON serialisation) is applied first, as
    for an ``INSERT``."""

    def __init__(self, conn: Connection, raw: Any) -> None:
        from psycopg.adapt import PyFormat, Transformer

        self._dialect = conn.dialect
        self._transformer = Transformer(raw)
        self._text = PyFormat.TEXT

    def _one(self, value: object) -> bytes:
        if value is None:
            return _NULL
        data = bytes(self._transformer.get_dumper(value, self._text).dump(value))
        if _NEEDS_ESCAPE.search(data):
            for char, escaped in _ESCAPES:
                data = data.replace(char, escaped)
        return data

    def column(self, column: Any, values: Any, n_rows: int) -> list[bytes]:
        """The texts of one column: ``values`` holds one value per row, or is one value
        for every row. Each distinct value is formatted once."""
        process = column.type.dialect_impl(self._dialect).bind_processor(self._dialect)
        if not isinstance(values, np.ndarray | list):
            return [self._one(process(values) if process else values)] * n_rows
        if process is None and isinstance(values, np.ndarray) and values.dtype.kind in "iu":
            return [b"%d" % v for v in values.tolist()]  # ids: no dumper needed
        array = np.empty(len(values), dtype=object)
        array[:] = values.tolist() if isinstance(values, np.ndarray) else values
        codes, uniques = pd.factorize(array, use_na_sentinel=True)
        table = np.empty(len(uniques) + 1, dtype=object)
        table[:-1] = [self._one(process(u) if process else u) for u in uniques.tolist()]
        table[-1] = self._one(process(None) if process else None)  # None or NaN: missing
        return table[codes].tolist()


def copy_rows(conn: Connection, table: Any, columns: Mapping[str, Any], n_rows: int) -> None:
    """``COPY table (columns) FROM STDIN`` in the transaction of ``conn``, of rows given
    as columns (arrays of ``n_rows`` values, or one value for every row; the values an
    ``INSERT`` would take). The text is made a column at a time and sent in one piece,
    not a driver call per row."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    quote = conn.dialect.identifier_preparer.quote
    names = list(columns)
    statement = (f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
                 "FROM STDIN")  # names from the table's metadata, never from input
    texts = _Texts(conn, raw)
    cells = [texts.column(table.c[n], columns[n], n_rows) for n in names]
    payload = b"\n".join(map(b"\t".join, zip(*cells, strict=True))) + b"\n"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(payload)
