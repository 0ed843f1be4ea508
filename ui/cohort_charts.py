"""Aggregated cohort charts: a few marks per cell whatever the number of studies.

Pure like :mod:`ui.charts` (data in, ``alt.Chart`` out, no streamlit). At 100,000 studies
a chart of every study (or of a 2,000-point sample) cost the browser about 0.1 s per
chart to draw and showed a blur; this draws figures computed from every row
(:func:`core.cohort_stats.binned_counts`). The box plot of pain per region group, also
from every row, is drawn on the server as SVG (:mod:`ui.cohort_svg`).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from ui import charts


def binned_rank_chart(counts: pd.DataFrame, line: pd.DataFrame | None, *,
                      title: str = "Lesion count vs high-intensity ratio") -> alt.Chart:
    """Studies per (lesion count, HI-ratio band): one cell per occupied pair, shaded by
    the number of studies (log scale), from :func:`core.cohort_stats.binned_counts`
    rows (``x`` lesions, ``y_low``/``y_high`` HI ratio in %, ``studies``); the Theil-Sen
    line (``line``: ``x`` lesions, ``y`` HI ratio in %) drawn solid black."""
    data = counts.copy()
    data["x_low"] = data["x"] - 0.5
    data["x_high"] = data["x"] + 0.5
    cells = alt.Chart(data).mark_rect(stroke="white", strokeWidth=0.3).encode(
        x=alt.X("x_low:Q", title="Number of lesions", axis=alt.Axis(tickMinStep=1)),
        x2="x_high:Q",
        y=alt.Y("y_low:Q", title="HI ratio (%)", scale=alt.Scale(domainMin=0)),
        y2="y_high:Q",
        color=alt.Color("studies:Q", title="Studies",
                        scale=alt.Scale(type="log", scheme="blues")),
        tooltip=[alt.Tooltip("x:Q", title="Lesions"),
                 alt.Tooltip("y_low:Q", title="HI ratio from (%)", format=".1f"),
                 alt.Tooltip("y_high:Q", title="HI ratio below (%)", format=".1f"),
                 alt.Tooltip("studies:Q", title="Studies", format=",")])
    return charts.with_trend_line(cells, line, title=title, subtitle=(
        "Cells: studies per lesion count and HI-ratio band (every study); line: Theil-Sen "
        "(median of pairwise slopes), rank-based"))
