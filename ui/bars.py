"""Small charts drawn as HTML/SVG, without a chart engine: the predicted category
probabilities, What-if's change per category, and the SHAP waterfall of New case and
What-if (the report's SVG). Drawn as Vega charts each cost the browser about 0.08 s of
every page switch that shows a prediction (issue 12). The bars' style is in the shared
stylesheet (``ui.components.page_style``, ``dss-prob*``, ``dss-waterfall``). The tumor
board keeps its Vega waterfall: a click on a bar there selects the level in the viewer.

Not imported by Home: it brings numpy (``core.vocab``) and the report package
(``core.report``, for the waterfall).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import streamlit as st

from core.report import waterfall_block, waterfall_svg
from core.report.blocks import Waterfall
from core.vocab import (
    DOWN_COLOUR,
    NOT_RECORDED,
    UP_COLOUR,
    category_colour,
    finite_float,
    in_category_order,
    percent,
)


def _bars_html(rows: list[str], *, title: str, testid: str, font_size: int) -> str:
    """Rows of :func:`_bar_row` under ``title``, as one group."""
    return (f'<div class="dss-probs" role="group" aria-label="{html.escape(title)}" '
            f'data-testid="{testid}" style="font-size:{int(font_size)}px">'
            f'<div class="dss-probs-title">{html.escape(title)}</div>{"".join(rows)}</div>')


def _bar_row(name: str, data: str, bar_style: str, text: str, *, emphasis: str = "",
             track: str = "") -> str:
    """One labelled bar: name, track with the bar (``bar_style``), the value written;
    ``emphasis`` a class (``dss-predicted``, ``dss-faded``)."""
    return (f'<div class="dss-prob {emphasis}" '
            f'data-category="{html.escape(name)}" {data}><span>{html.escape(name)}</span>'
            f'<span class="dss-prob-track{track}"><span class="dss-prob-bar" '
            f'style="{bar_style}"></span></span><span class="dss-prob-pct">{text}</span></div>')


def probability_bars_html(probabilities: Mapping[str, float], *, highlight: str | None = None,
                          font_size: int = 16,
                          title: str = "Predicted pain category") -> str:
    """The predicted category probabilities as horizontal HTML bars (category colours, the
    predicted one bold, each percentage written; the exact value in ``data-probability``)."""
    rows = []
    for name in in_category_order(probabilities):
        value = finite_float(probabilities.get(name))
        width = 0.0 if value is None else min(max(value, 0.0), 1.0) * 100
        exact = "" if value is None else repr(value)
        rows.append(_bar_row(name, f'data-probability="{exact}"',
                             f"width:{width:.1f}%;background:{category_colour(name)}",
                             percent(value, 0), emphasis="" if highlight is None else
                             "dss-predicted" if name == highlight else "dss-faded"))
    return _bars_html(rows, title=title, testid="probability-bars", font_size=font_size)


def probability_bars(probabilities: Mapping[str, float], *, highlight: str | None = None,
                     font_size: int = 16) -> None:
    """Draw :func:`probability_bars_html`."""
    st.html(probability_bars_html(probabilities, highlight=highlight, font_size=font_size))


def delta_bars_html(deltas: Mapping[str, float], *, title: str, font_size: int = 15) -> str:
    """Signed change of each category's probability (what-if vs the starting case) in
    percentage points, as HTML bars either side of a zero line (rises red, falls blue,
    as the SHAP charts); the exact change in ``data-delta-pp``. The scale is symmetric,
    at least +/- 5 pp, the largest change at 80 % of a half track."""
    points = {name: finite_float(deltas.get(name)) for name in in_category_order(deltas)}
    points = {k: None if v is None else 100.0 * v for k, v in points.items()}
    largest = max((abs(v) for v in points.values() if v is not None), default=0.0)
    limit = max(5.0, largest * 1.25)
    rows = []
    for name, pp in points.items():
        half = 0.0 if pp is None else min(abs(pp) / limit, 1.0) * 50
        left = 50.0 if pp is None or pp >= 0 else 50.0 - half
        colour = UP_COLOUR if pp is not None and pp >= 0 else DOWN_COLOUR
        rows.append(_bar_row(
            name, f'data-delta-pp="{"" if pp is None else repr(pp)}"',
            f"margin-left:{left:.1f}%;width:{half:.1f}%;background:{colour}",
            NOT_RECORDED if pp is None else f"{pp:+.1f} pp", track=" dss-zero-line"))
    return _bars_html(rows, title=title, testid="delta-bars", font_size=font_size)


def delta_bars(deltas: Mapping[str, float], *, title: str) -> None:
    """Draw :func:`delta_bars_html`."""
    st.html(delta_bars_html(deltas, title=title))


def shap_waterfall_html(explanation: Mapping[str, Any]) -> str:
    """The SHAP waterfall of ``explanation`` (``Explanation.to_dict()``) as inline SVG:
    the report's drawing (:func:`core.report.waterfall_block`), base value -> one bar
    per feature, largest first, labelled with its clinical value (``(imputed)`` when it
    was not recorded) -> the model's output; red raises the predicted pain, blue lowers
    it. A sentence instead when the explanation has no SHAP values."""
    block = waterfall_block(explanation)
    if not isinstance(block, Waterfall):
        return f'<p data-testid="shap-waterfall">{html.escape(block.text)}</p>'
    legend = (f'<span style="color:{UP_COLOUR}">■</span> raises the predicted pain · '
              f'<span style="color:{DOWN_COLOUR}">■</span> lowers it')
    return (f'<figure class="dss-waterfall" data-testid="shap-waterfall">'
            f'{waterfall_svg(block, fluid=True)}<figcaption>{legend}</figcaption></figure>')


def shap_waterfall(explanation: Mapping[str, Any]) -> None:
    """Draw :func:`shap_waterfall_html`: as Markdown's raw HTML, because ``st.html``
    sanitises with DOMPurify's HTML-only profile, which removes inline SVG."""
    st.markdown(shap_waterfall_html(explanation), unsafe_allow_html=True)
