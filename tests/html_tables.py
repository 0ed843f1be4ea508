"""The tables of a page test, data grids and the HTML tables of :mod:`ui.tables`, read
back as frames (the HTML with the standard library's parser; every cell a string)."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd


class _TableParser(HTMLParser):
    """Collects ``data-key`` -> (header, rows) of every ``static-table`` wrapper."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, tuple[list[str], list[list[str]]]] = {}
        self._key: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("data-testid") == "static-table":
            self._key = found.get("data-key") or f"table {len(self.tables)}"
            self.tables[self._key] = ([], [])
        elif self._key is not None and tag == "tr":
            self._row = []
        elif self._row is not None and tag in ("th", "td"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._cell is not None and tag in ("th", "td"):
            assert self._row is not None
            self._row.append("".join(self._cell))
            self._cell = None
        elif self._row is not None and tag == "tr":
            assert self._key is not None
            header, rows = self.tables[self._key]
            if header:
                rows.append(self._row)
            else:
                header.extend(self._row)
            self._row = None
        elif tag == "table":
            self._key = None


def parse_tables(markup: str) -> dict[str, pd.DataFrame]:
    """Every :func:`ui.tables.table_html` table in ``markup``, by its key."""
    parser = _TableParser()
    parser.feed(markup)
    return {key: pd.DataFrame(rows, columns=header)
            for key, (header, rows) in parser.tables.items()}


def static_tables(at) -> dict[str, pd.DataFrame]:
    """The HTML tables of an AppTest run, by key."""
    out: dict[str, pd.DataFrame] = {}
    for element in at.get("html"):
        out.update(parse_tables(str(element.value)))
    return out


def page_tables(at) -> list[pd.DataFrame]:
    """Every table of an AppTest run: the data grids, then the HTML tables."""
    return [df.value for df in at.dataframe] + list(static_tables(at).values())
