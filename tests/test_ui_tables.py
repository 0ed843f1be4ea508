"""ui.tables: small read-only tables as HTML (escaped, clinical cell text, read back)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.html_tables import parse_tables
from ui.tables import EMPTY_CELL, cell_text, table_html


def test_cells_read_as_a_clinician_reads_them() -> None:
    assert [cell_text(v) for v in (None, float("nan"), pd.NA, True, np.bool_(False))] == [
        EMPTY_CELL, EMPTY_CELL, EMPTY_CELL, "yes", "no"]
    assert [cell_text(v) for v in (3, np.int64(4), 0.12345, np.float64(2.5), 7.0)] == [
        "3", "4", "0.123", "2.5", "7"]
    assert cell_text("1b") == "1b"
    # counts of a 100,000-study store: thousands separated, as read on screen
    assert [cell_text(v) for v in (53236, 302534414.0, 1234.5678, -12345, 999)] == [
        "53,236", "302,534,414", "1,234.568", "-12,345", "999"]


def test_number_text_groups_only_when_asked_and_keeps_whole_numbers_whole() -> None:
    """Files a program reads back get plain numbers; with no decimals a number is
    rounded, never stripped of its trailing zeros (10.4 was shown as "1")."""
    from core.vocab import number_text

    assert number_text(100089) == "100089"
    assert number_text(100089, grouped=True) == "100,089"
    assert number_text(1234.5, 3, grouped=True) == "1,234.5"
    assert [number_text(v, 0) for v in (10.4, 100.2, 0.4, 7.0)] == ["10", "100", "0", "7"]
    assert number_text(float("nan"), grouped=True) == "not recorded"


def test_table_escapes_and_aligns_numbers() -> None:
    frame = pd.DataFrame({"Feature <b>": ["<script>x</script>", "a & b"],
                          "Weight": [0.5, None], "Seen": [True, False]})
    markup = table_html(frame, key="k\"1", caption="Weights <all>")
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert "<caption>Weights &lt;all&gt;</caption>" in markup
    assert 'data-key="k&quot;1"' in markup
    assert '<th scope="col" class="n">Weight</th>' in markup  # a number column
    assert '<td class="n">0.5</td>' in markup and '<td class="n">-</td>' in markup
    assert '<th scope="col">Seen</th>' in markup
    assert "max-height" not in markup
    assert 'style="max-height:430px"' in table_html(frame, key="s", max_height_px=430)
    read = parse_tables(markup)['k"1']
    assert read.columns.tolist() == ["Feature <b>", "Weight", "Seen"]
    assert read.to_dict("list") == {"Feature <b>": ["<script>x</script>", "a & b"],
                                   "Weight": ["0.5", "-"], "Seen": ["yes", "no"]}


def test_dates_stay_on_one_line_and_number_headers_may_wrap() -> None:
    """A column of ISO dates (text or datetimes) is ``class="d"`` (kept on one line: a
    date broke at its hyphens in a narrow column); a number column's header may wrap
    (the stylesheet keeps only its cells on one line), so a wide table of counts fits."""
    from ui.components import _CSS

    frame = pd.DataFrame({"Study date": ["2019-02-13", None],
                          "Seen": pd.to_datetime(["2020-01-01", "2021-02-02"]),
                          "Cervical lesions": [0, 1], "Note": ["a", "2019-02-13 x"]})
    markup = table_html(frame, key="t")
    assert '<th scope="col" class="d">Study date</th>' in markup
    assert '<td class="d">2019-02-13</td>' in markup and '<td class="d">-</td>' in markup
    assert '<th scope="col" class="d">Seen</th>' in markup
    assert '<td class="n">0</td>' in markup and "<td>2019-02-13 x</td>" in markup
    assert ".dss-table th.n{white-space:normal}" in _CSS
    assert ".dss-table td.d{white-space:nowrap}" in _CSS


def test_columns_of_one_name_are_read_by_position() -> None:
    frame = pd.DataFrame([["a", 1.5]], columns=["Case", "Case"])
    assert '<td>a</td><td class="n">1.5</td>' in table_html(frame, key="d")


def test_an_empty_frame_is_a_header_only() -> None:
    read = parse_tables(table_html(pd.DataFrame({"A": [], "B": []}), key="e"))["e"]
    assert read.columns.tolist() == ["A", "B"] and read.empty


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_TEXT, st.one_of(st.none(), st.floats(allow_nan=True,
                                                                 allow_infinity=False))),
                max_size=6))
def test_every_cell_reads_back_as_shown(rows: list[tuple[str, float | None]]) -> None:
    frame = pd.DataFrame(rows, columns=["Text", "Number"], dtype=object)
    read = parse_tables(table_html(frame, key="p"))["p"]
    assert len(read) == len(frame)
    for (text, number), (text_read, number_read) in zip(
            rows, read.itertuples(index=False, name=None), strict=True):
        assert text_read == text.replace("\r\n", "\n").replace("\r", "\n")
        empty = number is None or math.isnan(number)
        assert number_read == (EMPTY_CELL if empty else cell_text(number))
