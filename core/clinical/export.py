"""Spreadsheet-safe CSV export: :func:`neutralise_cell`, :func:`export_csv`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Mapping

import pandas as pd

from core.clinical.cells import plain_cell

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
    value = plain_cell(value)
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
        gets a leading ``'`` (OWASP guidance), unless it is exactly a plain number; a
        cell holding a CR or LF anywhere is quoted (:func:`csv_line`).
    """
    rows = [[neutralise_cell(str(c)) for c in frame.columns]]
    rows.extend([_format_cell(v) for v in values]
                for values in frame.itertuples(index=False, name=None))
    text = "".join(map(csv_line, rows))
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def csv_line(cells: list[str]) -> str:
    """One CSV record ending in ``\\n``, minimal quoting, where a cell holding a CR or LF
    anywhere is always quoted (the csv module quotes only the characters of its line
    terminator, so a bare ``\\r`` would split the row in a spreadsheet and leave what
    follows it, e.g. ``=1+1``, live at the start of a new line)."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()[:-2] + "\n"
