"""The tumor board's case list, filtered, ordered and paginated in SQL.

The board's :class:`~ui.board.BoardFilter` becomes a :class:`core.store.StudyFilter`
(:func:`study_filter`); a page of the list is :meth:`core.store.CaseStore.scored_studies`
(``order_by="board"``: most urgent first, a fired override first, then the newest
study) and its size :meth:`~core.store.CaseStore.count_studies`, both cached per store
revision, model version, filter and page. The page number (``board_page``, 0-based) and
the rows per page (``board_page_size``) are session state; a changed filter goes back to
the first page.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from core.store import StudyFilter
from ui import scores
from ui.board import BoardFilter, case_list_frame
from ui.components import study_labels
from ui.session import KEEP
from ui.stores import get_store

PAGE_KEY = "board_page"
SIZE_KEY = "board_page_size"
#: Rows per page offered; the default holds a small store on one page.
PAGE_SIZES: tuple[int, ...] = (25, 50, 100, 250)
DEFAULT_PAGE_SIZE = 100


def study_filter(f: BoardFilter) -> StudyFilter:
    """The store's filter of a board filter (same meaning: regions with a lesion or a
    region of involvement, tiers, predicted categories, dates, patient id search,
    synthetic studies kept or left out, images only, fired overrides only)."""
    return StudyFilter(
        date_from=f.date_from, date_to=f.date_to, regions=tuple(str(r) for r in f.regions),
        categories=tuple(str(c) for c in f.categories), tiers=tuple(str(t) for t in f.tiers),
        overrides_only=bool(f.overrides_only),
        synthetic=None if f.include_synthetic else False,
        has_image=True if f.images_only else None, search=f.search.strip())


@dataclass(frozen=True)
class BoardPage:
    """One page of the filtered case list."""

    rows: pd.DataFrame
    #: The rows as the case list shows them (:func:`ui.board.case_list_frame`).
    shown: pd.DataFrame
    #: Each row's study label by study id (:func:`ui.components.study_labels`).
    labels: dict[int, str]
    total: int
    fired: int
    page: int
    pages: int
    size: int

    @property
    def offset(self) -> int:
        return self.page * self.size

    @property
    def ids(self) -> list[int]:
        return [int(i) for i in self.rows["study_id"]]


@st.cache_data(show_spinner=False, max_entries=32)
def _counts(url: str, revision: int, version: str, filters: StudyFilter) -> tuple[int, int]:
    store = get_store()
    total = store.count_studies(filters, model_version=version)
    fired = store.count_studies(dataclasses.replace(filters, overrides_only=True),
                                model_version=version)
    return total, fired


@st.cache_data(show_spinner=False, max_entries=32)
def _rows(url: str, revision: int, version: str, filters: StudyFilter, offset: int,
          size: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, str]]:
    """The page's rows, as the list shows them, and their labels: made once per store
    revision, model, filter and page, not on every run."""
    rows = get_store().scored_studies(version, filters, order_by="board", limit=size,
                                      offset=offset)
    return rows, case_list_frame(rows), study_labels(rows)


def warm_views(model_dir: Path) -> None:
    """The board's first list page (every study of the store's date range, the default
    filters and page size) and its tier choices into their caches (:mod:`ui.warmup`)."""
    found = scores.warm_range(model_dir)
    if found is None:
        return
    key, first, last = found
    filters = study_filter(BoardFilter(date_from=first, date_to=last))
    _counts(*key, filters)
    _rows(*key, filters, 0, DEFAULT_PAGE_SIZE)
    scores.score_values("tier", key)


def page_size() -> int:
    """Rows per page (``board_page_size``)."""
    size = st.session_state.get(SIZE_KEY, DEFAULT_PAGE_SIZE)
    return int(size) if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def load(f: BoardFilter, key: scores.ViewKey) -> BoardPage:
    """The page of the list to show: back to the first page when the filter or the page
    size changed, the last page when the list shrank below the page asked for."""
    ss = st.session_state
    filters = study_filter(f)
    size = page_size()
    seen = (filters, size)
    if ss.get("board_list_seen") != seen:
        ss["board_list_seen"] = seen
        ss[PAGE_KEY] = 0
    total, fired = _counts(*key, filters)
    pages = max(1, -(-total // size))
    page = min(max(int(ss.get(PAGE_KEY) or 0), 0), pages - 1)
    ss[PAGE_KEY] = page
    ss["board_pages"] = pages
    rows, shown, labels = _rows(*key, filters, page * size, size)
    return BoardPage(rows=rows, shown=shown, labels=labels, total=total, fired=fired,
                     page=page, pages=pages, size=size)


def turn(delta: int) -> None:
    """``on_click`` of the page buttons: the previous / next page, opening on its first
    row."""
    ss = st.session_state
    pages = int(ss.get("board_pages") or 1)
    page = min(max(int(ss.get(PAGE_KEY) or 0) + delta, 0), pages - 1)
    if page != ss.get(PAGE_KEY):
        ss[PAGE_KEY] = page
        ss["board_goto"] = "first"


def page_controls(p: BoardPage) -> None:
    """Rows per page, previous / next page and where this page lies in the list."""
    a, b, d, e = st.columns([1.3, 1, 1, 3], vertical_alignment="center")
    a.selectbox("Rows per page", PAGE_SIZES, key=SIZE_KEY, persist_state=KEEP,
                index=PAGE_SIZES.index(DEFAULT_PAGE_SIZE), label_visibility="collapsed",
                format_func=lambda n: f"{n} per page")
    b.button("◀ Page", key="board_page_prev", on_click=turn, args=(-1,),
             disabled=p.page <= 0, help="The previous page of the list.")
    d.button("Page ▶", key="board_page_next", on_click=turn, args=(1,),
             disabled=p.page >= p.pages - 1, help="The next page of the list.")
    last = p.offset + len(p.rows)
    e.caption(f"Page {p.page + 1:,} of {p.pages:,}: studies {p.offset + 1 if last else 0:,}"
              f"-{last:,} of {p.total:,}.")
