"""Aggregated cohort charts: a few marks per group or cell whatever the number of studies.

Pure like :mod:`ui.charts` (data in, ``alt.Chart`` out, no streamlit). At 100,000 studies
a chart of every study (or of a 2,000-point sample) cost the browser about 0.1 s per
chart to draw and showed a blur; these draw figures computed from every row
(:func:`core.cohort_stats.box_stats`, :func:`core.cohort_stats.binned_counts`), and the
individual studies only when there are few of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from core.vocab import GROUP_COLOURS
from ui import charts


def _group_scale(values: Sequence[str]) -> alt.Scale:
    domain = list(values)
    return alt.Scale(domain=domain, range=[GROUP_COLOURS.get(v, "#555555") for v in domain])


def region_box(box: pd.DataFrame, points: pd.DataFrame | None = None, *,
               title: str = "Pain by region of involvement") -> alt.Chart:
    """Box plot of VAS per region group drawn from precomputed Tukey figures
    (:func:`core.cohort_stats.box_stats` rows: ``group, n, q1, median, q3, low, high,
    mean``): whiskers, interquartile box, median line, and the number of studies above
    each box. ``points`` (``group``, ``vas``, ``jitter`` in [-1, 1]): the individual
    studies drawn over the boxes (a small cohort only).

    The groups sit at 0, 1, 2… on a quantitative axis labelled with their names, so the
    boxes, the medians and the jittered dots line up exactly."""
    order = [str(g) for g in box["group"]]
    data = box.assign(pos=range(len(box)), label=[f"n = {n:,}" for n in box["n"]])
    data["left"] = data["pos"] - 0.25
    data["right"] = data["pos"] + 0.25
    names = json.dumps(order)
    x = alt.X("pos:Q", title="Region of involvement",
              scale=alt.Scale(domain=[-0.6, len(order) - 0.4], nice=False, zero=False),
              axis=alt.Axis(values=list(range(len(order))), labelExpr=f"{names}[datum.value]",
                            labelFontSize=13, grid=False))
    scale = alt.Scale(domain=[0, 10])
    tooltip = [alt.Tooltip("group:N", title="Region group"),
               alt.Tooltip("n:Q", title="Studies", format=","),
               alt.Tooltip("median:Q", title="Median VAS", format=".1f"),
               alt.Tooltip("q1:Q", title="Lower quartile", format=".1f"),
               alt.Tooltip("q3:Q", title="Upper quartile", format=".1f"),
               alt.Tooltip("low:Q", title="Lower whisker", format=".1f"),
               alt.Tooltip("high:Q", title="Upper whisker", format=".1f"),
               alt.Tooltip("mean:Q", title="Mean VAS", format=".2f")]
    base = alt.Chart(data)
    whisker = base.mark_rule(color="#333").encode(
        x=x, y=alt.Y("low:Q", title="Pain (VAS 0-10)", scale=scale), y2="high:Q")
    iqr = base.mark_rect(opacity=0.6, stroke="#333").encode(
        x="left:Q", x2="right:Q", y=alt.Y("q1:Q", scale=scale), y2="q3:Q",
        color=alt.Color("group:N", legend=None, scale=_group_scale(order)), tooltip=tooltip)
    median = base.mark_rule(color="black", strokeWidth=3).encode(
        x="left:Q", x2="right:Q", y=alt.Y("median:Q", scale=scale), tooltip=tooltip)
    counts = base.mark_text(dy=-8, fontSize=11).encode(x="pos:Q", y=alt.value(0),
                                                       text="label:N")
    layers: list[Any] = [whisker, iqr, median]
    if points is not None and len(points):
        dots = points.assign(pos=points["group"].map({g: i for i, g in enumerate(order)})
                             + 0.2 * points["jitter"])
        layers.append(alt.Chart(dots.dropna(subset=["pos"])).mark_circle(
            size=22, opacity=0.45, color="#333").encode(
            x="pos:Q", y=alt.Y("vas:Q", scale=scale),
            tooltip=[alt.Tooltip("group:N", title="Region group"),
                     alt.Tooltip("vas:Q", title="VAS", format=".1f")]))
    layers.append(counts)
    return alt.layer(*layers).properties(height=320, title=title)


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
