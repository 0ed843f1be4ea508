"""Primitives shared by the charts drawn on the server as plain SVG
(:mod:`ui.history_svg`, :mod:`ui.cohort_svg`): escaping, round axis steps, tick labels,
a value axis and the ``<svg>`` document around the drawn parts.

Why SVG drawn on the server: the Vega chart engine cost the browser about 0.05-0.1 s per
chart on every page switch (issue 12; two servers side by side, paired visits). On
screen, text uses the page's colour (``currentColor``), so a dark theme reads it too; the
download (``standalone``) is dark text on white, in px. No Streamlit here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

#: Text colour of a standalone (downloaded) drawing.
FILE_TEXT = "#222"


def esc(value: object) -> str:
    """``value`` as text safe inside SVG markup and attribute values."""
    return html.escape(str(value), quote=True)


def round_axis(high: float, *, integer: bool = False) -> tuple[float, float]:
    """``(top, step)`` of an axis from 0 covering ``high`` in about four round steps
    (1, 2, 2.5 or 5 x 10^k; whole steps for counts)."""
    if not math.isfinite(high) or high <= 0:
        return (4.0, 1.0) if integer else (1.0, 0.25)
    raw = high / 4
    power = 10 ** math.floor(math.log10(raw))
    steps = [m * power for m in (1, 2, 2.5, 5, 10)]
    step = next(s for s in steps if s >= raw and (not integer or s == int(s) or s > 10))
    if integer:
        step = max(1.0, float(math.ceil(step)))
    return step * math.ceil(high / step - 1e-9), step


def number_text(value: float) -> str:
    """A tick label: ``2``, ``2.5``, ``-0.5`` (one decimal at most, no trailing zero)."""
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def value_axis(top: float, height: float, high: float, step: float, *, left: float,
               right: float, width: float, on_right: bool = False,
               colour: str = "currentColor", title: str = "") -> list[str]:
    """A vertical axis for 0..``high`` on a panel from ``top`` down ``height`` px, between
    ``left`` and ``width - right``: a label every ``step`` (at the left edge, or the right
    one when ``on_right``), grid lines across the panel (left axis only) and the axis
    ``title`` turned upright beside the labels."""
    parts = []
    x_axis = width - right if on_right else left
    anchor, dx = ("start", 6) if on_right else ("end", -6)
    for tick in np.arange(0.0, high + step / 2, step):
        y = top + height - tick / high * height
        if not on_right:
            parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" '
                         f'y2="{y:.1f}" stroke="#888" stroke-opacity=".25"/>')
        parts.append(f'<text x="{x_axis + dx}" y="{y + 4:.1f}" text-anchor="{anchor}" '
                     f'fill="{colour}">{number_text(float(tick))}</text>')
    if title:
        x_title = width - 10 if on_right else 12
        y_mid = top + height / 2
        parts.append(f'<text x="{x_title}" y="{y_mid:.1f}" text-anchor="middle" '
                     f'fill="{colour}" transform="rotate(-90 {x_title} {y_mid:.1f})">'
                     f"{esc(title)}</text>")
    return parts


def document(parts: Sequence[str], width: int, height: float, title: str, *,
             standalone: bool) -> str:
    """The ``<svg>`` around ``parts`` (``width`` x ``height`` user units): fluid in the
    page's text colour, or (``standalone``, a file) fixed in px, dark text on white."""
    body = "".join(parts)
    if standalone:
        body = body.replace('"currentColor"', f'"{FILE_TEXT}"')
        size, colour = f'width="{width}" height="{height:.0f}"', FILE_TEXT
        background = f'<rect width="{width}" height="{height:.0f}" fill="white"/>'
    else:
        size = f'width="100%" style="max-width:{width}px;height:auto"'
        colour, background = "currentColor", ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" {size} '
            f'viewBox="0 0 {width} {height:.0f}" font-size="11" fill="{colour}" '
            f'font-family="DejaVu Sans, Arial, sans-serif"><title>{esc(title)}</title>'
            f"{background}{body}</svg>")
