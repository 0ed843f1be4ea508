"""A chart with its downloads: the data as spreadsheet-safe CSV and the image as PNG/SVG.

Every chart of the cohort, surveillance and teaching pages goes through :func:`chart`
(a Vega chart) or :func:`svg_figure` (an SVG drawn on the server): the CSV is the table
the chart draws, written by :func:`core.clinical.export_csv` (formula-like text
defused); PNG and SVG are rendered by vl-convert only when a button is pressed (deferred
download data, as is the CSV), with no browser and no network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.clinical import export_csv
from ui import charts
from ui import components as c


def file_stem(name: str) -> str:
    """A safe file stem: letters, digits, ``-`` and ``_`` (``"Pain by region"`` ->
    ``"pain-by-region"``)."""
    stem = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    return stem[:60] or "chart"


def _buttons(data: pd.DataFrame, *, key: str, name: str, png: Callable[[], bytes],
             svg: Callable[[], str]) -> None:
    stem = file_stem(name)
    with st.container(horizontal=True, gap="small", key=f"{key}_downloads"):
        st.download_button("CSV", lambda: export_csv(data), file_name=f"{stem}.csv",
                           mime="text/csv",
                           key=f"{key}_csv", on_click="ignore", icon=":material/table:",
                           type="tertiary", help="The chart's data (spreadsheet-safe CSV).")
        st.download_button("PNG", png, file_name=f"{stem}.png",
                           mime="image/png", key=f"{key}_png", on_click="ignore",
                           icon=":material/image:", type="tertiary")
        st.download_button("SVG", svg, file_name=f"{stem}.svg",
                           mime="image/svg+xml", key=f"{key}_svg", on_click="ignore",
                           icon=":material/image:", type="tertiary")


def downloads(chart: Any, data: pd.DataFrame, *, key: str, name: str) -> None:
    """CSV, PNG and SVG download buttons in one row (keys ``<key>_csv|png|svg``)."""
    _buttons(data, key=key, name=name, png=lambda: charts.chart_png(chart),
             svg=lambda: charts.chart_svg(chart))


def chart(chart: Any, data: pd.DataFrame, *, key: str, name: str, extra: int = 95) -> None:
    """:func:`ui.components.chart` with :func:`downloads` beneath it (a
    :class:`ui.components.CachedChart` is exported from its Altair chart)."""
    c.chart(chart, key=key, extra=extra)
    downloads(chart.chart if isinstance(chart, c.CachedChart) else chart, data, key=key,
              name=name)


def svg_figure(svg: str, data: pd.DataFrame, *, key: str, name: str, testid: str,
               file_svg: Callable[[], str]) -> None:
    """An SVG drawn on the server (``svg``, fluid, the page's colours) with the same three
    downloads: the CSV of ``data``, and ``file_svg()`` (the standalone drawing) as SVG
    and as PNG. Drawn as Markdown's raw HTML: ``st.html`` sanitises inline SVG away."""
    st.markdown(f'<figure data-testid="{testid}" style="margin:0">{svg}</figure>',
                unsafe_allow_html=True)
    _buttons(data, key=key, name=name, png=lambda: charts.svg_png(file_svg()), svg=file_svg)
