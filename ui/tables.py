"""Small read-only tables drawn as plain HTML: :func:`static_table`.

``st.dataframe`` mounts a canvas data grid (Glide) in the browser: about 30 ms of every
page switch per table on this 2-core machine, measured beside an HTML table of the same
frame at 7 ms (issue 12). The model card's and the cohort's summary tables are a few
rows of text nobody sorts or edits, so they are drawn as HTML, styled by the shared
stylesheet (``ui.components.page_style``, ``dss-table``). Tables a user selects from,
scrolls through or downloads (the board's case list, a level table, the import's
errors) stay data grids.

Cells are written as a clinician reads them: text as given, numbers with at most three
decimals and thousands separated by commas (:func:`core.vocab.number_text`), yes/no for truth values
(:func:`core.vocab.yes_no`) and ``-`` for an empty cell; every cell is escaped.
"""

from __future__ import annotations

import html
from numbers import Number

import numpy as np
import pandas as pd
import streamlit as st

from core.vocab import is_missing, number_text, yes_no

#: What an empty cell (``None``, NaN, pandas NA or NaT: :func:`core.vocab.is_missing`) shows.
EMPTY_CELL = "-"
#: Decimals of a number cell.
DIGITS = 3


def cell_text(value: object) -> str:
    """One cell as shown (before escaping)."""
    if not isinstance(value, str) and is_missing(value):  # text is shown as given
        return EMPTY_CELL
    if isinstance(value, (bool, np.bool_)):
        return yes_no(value)
    if isinstance(value, Number):
        return number_text(value, DIGITS, grouped=True)
    return str(value)


def table_html(frame: pd.DataFrame, *, key: str, caption: str | None = None,
               max_height_px: int | None = None) -> str:
    """The frame as an HTML table (its index left out): a header row of the column
    names, one row per row; number columns right-aligned (``class="n"``: the numbers
    never break, their headers may) and date columns kept on one line (``class="d"``:
    every value a date, or text written as ``YYYY-MM-DD``). The wrapper carries
    ``data-testid="static-table"`` and ``data-key`` (``key``), and scrolls beyond
    ``max_height_px`` when given."""
    kinds = [_kind(frame.iloc[:, j]) for j in range(frame.shape[1])]  # by position
    head = "".join(f'<th scope="col"{_class(k)}>{html.escape(str(c))}</th>'
                   for c, k in zip(frame.columns, kinds, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{_class(k)}>{html.escape(cell_text(v))}</td>"
                         for v, k in zip(row, kinds, strict=True)) + "</tr>"
        for row in frame.itertuples(index=False, name=None))
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    height = "" if max_height_px is None else f' style="max-height:{int(max_height_px)}px"'
    return (f'<div class="dss-table-wrap" data-testid="static-table" '
            f'data-key="{html.escape(key)}"{height}><table class="dss-table">{title}'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _kind(column: pd.Series) -> str:
    """``"n"`` for a number column, ``"d"`` for a date column, else ``""``."""
    if column.dtype.kind in "iuf":
        return "n"
    if column.dtype.kind == "M":
        return "d"
    known = column.dropna()
    if len(known) and known.map(lambda v: isinstance(v, str)).all() and bool(
            known.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()):
        return "d"
    return ""


def _class(kind: str) -> str:
    return f' class="{kind}"' if kind else ""


def static_table(frame: pd.DataFrame, *, key: str, caption: str | None = None,
                 max_height_px: int | None = None) -> None:
    """Show a small read-only frame as an HTML table (see the module docstring)."""
    st.html(table_html(frame, key=key, caption=caption, max_height_px=max_height_px))


__all__ = ["DIGITS", "EMPTY_CELL", "cell_text", "static_table", "table_html"]
