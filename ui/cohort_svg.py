"""The cohort page's region charts as inline SVG: the box plot of pain per region group
and the forest plot of the pairwise effect sizes.

Drawn on the server (:mod:`ui.svg_draw`), not as Vega charts: the two Vega charts cost
the cohort page about 0.17 s of every switch to it at 100,000 studies (issue 12; two
servers side by side, paired visits), and both draw a handful of marks computed from
every row (:func:`core.cohort_stats.box_stats`,
:func:`core.cohort_stats.pairwise_mann_whitney`).

Each mark carries its exact figures (``data-*`` attributes) and a tooltip (``<title>``).
No Streamlit here: :mod:`ui.cohort_views` draws the markup with its downloads.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.vocab import GROUP_COLOURS
from ui.svg_draw import document, esc, number_text, value_axis

#: Box plot: drawing width, margins, plot height (VAS 0-10).
BOX_W, BOX_LEFT, BOX_RIGHT, BOX_TOP, BOX_PLOT_H, BOX_BOTTOM = 470, 46, 8, 34, 260, 48
#: Forest plot: drawing width, label column, right margin, row height.
FOREST_W, FOREST_LEFT, FOREST_RIGHT, FOREST_ROW = 560, 200, 16, 44
FOREST_TOP, FOREST_BOTTOM = 46, 44
BOX_TITLE = "Pain by region of involvement"
FOREST_TITLE = "Effect size per region pair"
FOREST_SUBTITLE = "r > 0: the first group has more pain"
FOREST_AXIS = "Rank-biserial r (Cliff's delta), 95 % bootstrap CI"


def _vas_y(vas: float | np.ndarray) -> float | np.ndarray:
    return BOX_TOP + BOX_PLOT_H - np.asarray(vas, dtype=float) / 10.0 * BOX_PLOT_H


def _box(row: pd.Series, x: float, half: float) -> str:
    """One group: whisker with caps, the interquartile box (its tooltip gives every
    figure), the median line; the box's figures as ``data-*`` attributes."""
    group = esc(row["group"])
    figures = (f'data-group="{group}" data-n="{int(row["n"])}" '
               + " ".join(f'data-{k}="{float(row[k])!r}"'
                          for k in ("q1", "median", "q3", "low", "high", "mean")))
    tip = (f"{group}: {int(row['n']):,} studies; median VAS {row['median']:.1f} "
           f"(quartiles {row['q1']:.1f}-{row['q3']:.1f}); whiskers {row['low']:.1f}-"
           f"{row['high']:.1f}; mean {row['mean']:.2f}")
    y_low, y_high, y_q1, y_q3, y_med = (float(_vas_y(row[k])) for k in
                                        ("low", "high", "q1", "q3", "median"))
    colour = GROUP_COLOURS.get(str(row["group"]), "#555555")
    return (f'<line x1="{x:.1f}" y1="{y_low:.1f}" x2="{x:.1f}" y2="{y_high:.1f}" '
            'stroke="currentColor"/>'
            + "".join(f'<line x1="{x - half / 2:.1f}" y1="{y:.1f}" x2="{x + half / 2:.1f}" '
                      f'y2="{y:.1f}" stroke="currentColor"/>' for y in (y_low, y_high))
            + f'<rect x="{x - half:.1f}" y="{y_q3:.1f}" width="{2 * half:.1f}" '
            f'height="{max(y_q1 - y_q3, 1.0):.1f}" fill="{colour}" fill-opacity=".6" '
            f'stroke="currentColor" data-box="1" {figures}><title>{tip}</title></rect>'
            f'<line x1="{x - half:.1f}" y1="{y_med:.1f}" x2="{x + half:.1f}" '
            f'y2="{y_med:.1f}" stroke="currentColor" stroke-width="3"><title>{tip}</title>'
            "</line>")


def _dots(points: pd.DataFrame, slots: dict[str, float], slot_w: float) -> list[str]:
    """Every study as a dot over its group's box, ``0.2 x jitter`` of a slot sideways."""
    pos = points["group"].astype(str).map(slots)
    keep = pos.notna().to_numpy() & np.isfinite(points["vas"].to_numpy(dtype=float))
    xs = pos.to_numpy(dtype=float)[keep] + 0.2 * slot_w * points["jitter"].to_numpy()[keep]
    vas = points["vas"].to_numpy(dtype=float)[keep]
    groups = points["group"].astype(str).to_numpy()[keep]
    return [f'<circle cx="{x:.1f}" cy="{float(_vas_y(v)):.1f}" r="2.6" fill="currentColor" '
            f'fill-opacity=".45" data-group="{esc(g)}" data-vas="{float(v)!r}"><title>{esc(g)}: '
            f"VAS {number_text(float(v))}</title></circle>"
            for x, v, g in zip(xs, vas, groups, strict=True)]


def region_box_svg(box: pd.DataFrame, points: pd.DataFrame | None = None, *,
                   standalone: bool = False) -> str:
    """Box plot of VAS per region group from precomputed Tukey figures
    (:func:`core.cohort_stats.box_stats` rows: ``group, n, q1, median, q3, low, high,
    mean``): whiskers, interquartile box, median line, the group's name and number of
    studies under it. ``points`` (``group``, ``vas``, ``jitter`` in [-1, 1]): the studies
    drawn over the boxes (a small cohort only). ``standalone``: the file version."""
    parts = [f'<text x="{BOX_LEFT}" y="16" font-weight="bold">{esc(BOX_TITLE)}</text>',
             *value_axis(BOX_TOP, BOX_PLOT_H, 10.0, 2.0, left=BOX_LEFT, right=BOX_RIGHT,
                         width=BOX_W, title="Pain (VAS 0-10)")]
    slot_w = (BOX_W - BOX_LEFT - BOX_RIGHT) / max(len(box), 1)
    slots = {str(g): BOX_LEFT + (i + 0.5) * slot_w for i, g in enumerate(box["group"])}
    label_y = BOX_TOP + BOX_PLOT_H + 18
    for (_, row), x in zip(box.iterrows(), slots.values(), strict=True):
        parts.append(_box(row, x, slot_w / 4))
        parts.append(f'<text x="{x:.1f}" y="{label_y}" text-anchor="middle" font-size="13">'
                     f'{esc(row["group"])}</text><text x="{x:.1f}" y="{label_y + 16}" '
                     f'text-anchor="middle" fill-opacity=".75">n = {int(row["n"]):,}</text>')
    if points is not None and len(points):
        parts.extend(_dots(points, slots, slot_w))
    if not len(box):
        parts.append(f'<text x="{BOX_W / 2:.0f}" y="{BOX_TOP + BOX_PLOT_H / 2:.0f}" '
                     'text-anchor="middle">No study with a recorded VAS in a region group.'
                     "</text>")
    height = BOX_TOP + BOX_PLOT_H + BOX_BOTTOM
    return document(parts, BOX_W, height, BOX_TITLE, standalone=standalone)


def _r_x(r: float) -> float:
    return FOREST_LEFT + (r + 1.0) / 2.0 * (FOREST_W - FOREST_LEFT - FOREST_RIGHT)


def _forest_row(row: pd.Series, y: float) -> str:
    """One pair: its label, the interval (when finite) and the point estimate."""
    pair = f"{row['group_a']} vs {row['group_b']}"
    r, low, high = (float(row[k]) for k in ("r_rb", "ci_low", "ci_high"))
    p_holm = float(row["p_holm"])
    tip = (f"{pair}: r {r:+.2f}, 95 % CI {low:+.2f} to {high:+.2f}, "
           f"p (Holm) {p_holm:.3g}")
    out = [f'<text x="{FOREST_LEFT - 10}" y="{y + 4:.1f}" text-anchor="end">{esc(pair)}'
           "</text>"]
    if math.isfinite(low) and math.isfinite(high):
        out.append(f'<line x1="{_r_x(low):.1f}" y1="{y:.1f}" x2="{_r_x(high):.1f}" '
                   f'y2="{y:.1f}" stroke="#455a64" stroke-width="3"/>')
    if math.isfinite(r):
        out.append(f'<circle cx="{_r_x(r):.1f}" cy="{y:.1f}" r="6" fill="#c62828" '
                   f'data-pair="{esc(pair)}" data-r="{r!r}" data-ci-low="{low!r}" '
                   f'data-ci-high="{high!r}" data-p-holm="{p_holm!r}"><title>{esc(tip)}'
                   "</title></circle>")
    return "".join(out)


def effect_forest_svg(pairs: pd.DataFrame, *, standalone: bool = False) -> str:
    """Rank-biserial r of each region pair with its bootstrap 95 % interval
    (:func:`core.cohort_stats.pairwise_mann_whitney` rows: ``group_a, group_b, r_rb,
    ci_low, ci_high, p_holm``) on a -1..1 axis with a dashed line at 0; r > 0: the first
    group has more pain. ``standalone``: the file version."""
    bottom = FOREST_TOP + FOREST_ROW * max(len(pairs), 1)
    parts = [f'<text x="8" y="16" font-weight="bold">{esc(FOREST_TITLE)}</text>'
             f'<text x="8" y="32" fill-opacity=".75">{esc(FOREST_SUBTITLE)}</text>']
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        x = _r_x(tick)
        dash = ' stroke-dasharray="4 3" stroke="#777"' if tick == 0 else (
            ' stroke="#888" stroke-opacity=".25"')
        parts.append(f'<line x1="{x:.1f}" y1="{FOREST_TOP}" x2="{x:.1f}" y2="{bottom}"'
                     f'{dash}/><text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
                     f"{number_text(tick)}</text>")
    for i, (_, row) in enumerate(pairs.iterrows()):
        parts.append(_forest_row(row, FOREST_TOP + FOREST_ROW * (i + 0.5)))
    parts.append(f'<text x="{_r_x(0.0):.1f}" y="{bottom + 34}" text-anchor="middle">'
                 f"{esc(FOREST_AXIS)}</text>")
    return document(parts, FOREST_W, bottom + FOREST_BOTTOM, FOREST_TITLE,
                    standalone=standalone)
