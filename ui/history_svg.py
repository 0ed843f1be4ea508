"""A patient's pain and burden over time as inline SVG (the tumor board's history).

Drawn on the server as plain SVG, not as a Vega chart: the chart engine cost the board
about 0.1 s of every page switch (issue 12; two servers side by side, 12 paired visits).
Two panels share the date axis: pain (recorded VAS and the model's E[VAS], 0-10) and
burden (lesions, solid, left axis; HI ratio in %, dashed, right axis). Each point carries
its exact value (``data-series``, ``data-date``, ``data-value``) and a tooltip; a missing
value leaves its point out and the line joins the points either side of it. Text uses the
page's colour (``currentColor``), so a dark theme reads it too.

No Streamlit here: :func:`history_svg` returns the markup; :mod:`ui.board` draws it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Drawing size in px: width, left / right margins (axis labels), panel heights.
WIDTH, LEFT, RIGHT = 660, 52, 52
PAIN_H, BURDEN_H, TOP, GAP, BOTTOM = 150, 120, 34, 58, 40
#: Most date labels under the axis (each ~70 px wide at 11 px).
MAX_DATE_LABELS = 6


@dataclass(frozen=True)
class Series:
    """One line: ``column`` of the history, its legend ``name``, colour and dash."""

    column: str
    name: str
    colour: str
    dash: str = ""


PAIN_SERIES = (Series("vas", "Recorded VAS", "#4c78a8"),
               Series("expected_vas", "Predicted E[VAS]", "#f58518"))
LESIONS = Series("lesion_count", "Lesions", "#6a1b9a")
HI_PERCENT = Series("hi_pct", "HI ratio (%)", "#ef6c00", "6 3")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _axis(high: float, *, integer: bool = False) -> tuple[float, float]:
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


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


class _Plot:
    """The shared x axis (days) and the SVG parts drawn so far."""

    def __init__(self, days: np.ndarray) -> None:
        self.days = days
        low, high = float(days.min()), float(days.max())
        self.low, self.span = (low, high - low) if high > low else (low - 1.0, 2.0)
        self.parts: list[str] = []

    def x(self, day: float) -> float:
        return LEFT + (day - self.low) / self.span * (WIDTH - LEFT - RIGHT)

    def y_axis(self, top: float, height: float, high: float, step: float, *,
               right: bool = False, colour: str = "currentColor", title: str = "") -> None:
        """Ticks every ``step``, labels and (left axis) grid lines for 0..``high``."""
        x_axis = WIDTH - RIGHT if right else LEFT
        for tick in np.arange(0.0, high + step / 2, step):
            y = top + height - tick / high * height
            if not right:
                self.parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" '
                                  f'y2="{y:.1f}" stroke="#888" stroke-opacity=".25"/>')
            anchor, dx = ("start", 6) if right else ("end", -6)
            self.parts.append(f'<text x="{x_axis + dx}" y="{y + 4:.1f}" text-anchor="{anchor}" '
                              f'fill="{colour}">{_number(float(tick))}</text>')
        if title:
            x_title = WIDTH - 10 if right else 12
            y_mid = top + height / 2
            self.parts.append(f'<text x="{x_title}" y="{y_mid:.1f}" text-anchor="middle" '
                              f'fill="{colour}" transform="rotate(-90 {x_title} {y_mid:.1f})">'
                              f"{_e(title)}</text>")

    def line(self, series: Series, values: np.ndarray, dates: Sequence[str], top: float,
             height: float, high: float, unit: str = "") -> None:
        """The series' line through its recorded points, and the points."""
        ok = np.isfinite(values)
        if not ok.any():
            return
        xs = [self.x(float(d)) for d in self.days[ok]]
        ys = [top + height - float(v) / high * height for v in values[ok]]
        dash = f' stroke-dasharray="{series.dash}"' if series.dash else ""
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        self.parts.append(f'<polyline points="{points}" fill="none" stroke="{series.colour}" '
                          f'stroke-width="3"{dash}/>')
        for x, y, date, value in zip(xs, ys, np.asarray(dates)[ok], values[ok], strict=True):
            self.parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{series.colour}" '
                f'data-series="{_e(series.column)}" data-date="{_e(date)}" '
                f'data-value="{float(value)!r}"><title>{_e(date)}: {_e(series.name)} '
                f"{float(value):.1f}{unit}</title></circle>")

    def dates(self, dates: Sequence[str], y: float) -> None:
        """Date labels under the axis at ``y``: every study's, or evenly chosen ones."""
        picks = sorted(set(np.linspace(0, len(dates) - 1, min(len(dates), MAX_DATE_LABELS))
                           .round().astype(int).tolist()))
        for i in picks:
            self.parts.append(f'<text x="{self.x(float(self.days[i])):.1f}" y="{y:.1f}" '
                              f'text-anchor="middle">{_e(dates[i])}</text>')

    def title(self, text: str, y: float, legend: Sequence[Series] = ()) -> None:
        self.parts.append(f'<text x="{LEFT}" y="{y:.1f}" font-weight="bold">{_e(text)}</text>')
        x = WIDTH - RIGHT
        for series in reversed(legend):  # right-aligned, in order
            label = f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end">{_e(series.name)}</text>'
            x -= 6.2 * len(series.name) + 6
            dash = f' stroke-dasharray="{series.dash}"' if series.dash else ""
            self.parts.append(f'<line x1="{x - 22:.1f}" y1="{y - 4:.1f}" x2="{x:.1f}" '
                              f'y2="{y - 4:.1f}" stroke="{series.colour}" stroke-width="3"'
                              f"{dash}/>{label}")
            x -= 34


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def history_svg(history: pd.DataFrame) -> str:
    """The SVG of a patient's history.

    ``history``: one row per study with ``study_date`` and any of ``vas``,
    ``expected_vas``, ``lesion_count`` and ``high_intensity_ratio`` (0-1); rows without a
    readable date are left out. The burden panel is drawn when a burden column is.
    """
    frame = history.copy()
    frame["_date"] = pd.to_datetime(frame["study_date"], errors="coerce")
    frame = frame.dropna(subset=["_date"]).sort_values("_date", kind="stable")
    if not len(frame):
        return ('<p data-testid="history-chart">No study of this patient has a readable '
                "date.</p>")
    dates = frame["_date"].dt.strftime("%Y-%m-%d").tolist()
    days = ((frame["_date"] - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).to_numpy(
        dtype=float)
    burden = any(c in history.columns for c in ("lesion_count", "high_intensity_ratio"))
    height = TOP + PAIN_H + (GAP + BURDEN_H if burden else 0) + BOTTOM
    plot = _Plot(days)
    plot.title("Pain over time", 14, PAIN_SERIES)
    plot.y_axis(TOP, PAIN_H, 10.0, 2.0, title="Pain (VAS 0-10)")
    for series in PAIN_SERIES:
        plot.line(series, _column(frame, series.column), dates, TOP, PAIN_H, 10.0)
    if burden:
        top = TOP + PAIN_H + GAP
        plot.title("Burden over time (lesions solid, HI ratio dashed)", top - 20,
                   (LESIONS, HI_PERCENT))
        lesions = _column(frame, LESIONS.column)
        hi = 100 * _column(frame, "high_intensity_ratio")
        lesions_top, lesions_step = _axis(float(np.nanmax(lesions, initial=0.0)), integer=True)
        hi_top, hi_step = _axis(float(np.nanmax(hi, initial=0.0)))
        plot.y_axis(top, BURDEN_H, lesions_top, lesions_step, colour=LESIONS.colour,
                    title="Lesions")
        plot.y_axis(top, BURDEN_H, hi_top, hi_step, right=True, colour=HI_PERCENT.colour,
                    title="HI ratio (%)")
        plot.line(LESIONS, lesions, dates, top, BURDEN_H, lesions_top)
        plot.line(HI_PERCENT, hi, dates, top, BURDEN_H, hi_top, unit=" %")
    plot.dates(dates, height - BOTTOM + 18)
    plot.parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{height - 4}" '
                      'text-anchor="middle">Study date</text>')
    return (f'<figure class="dss-history" data-testid="history-chart">'
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" '
            f'style="max-width:{WIDTH}px;height:auto" viewBox="0 0 {WIDTH} {height}" '
            f'font-size="11" fill="currentColor" font-family="DejaVu Sans, Arial, sans-serif">'
            f"<title>Pain and burden over time</title>{''.join(plot.parts)}</svg></figure>")
