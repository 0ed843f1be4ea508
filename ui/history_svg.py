"""A patient's course over time as inline SVG: the tumor board's history and the
surveillance page's timeline.

Drawn on the server as plain SVG, not as Vega charts: the chart engine cost the board
about 0.1 s of every page switch and the surveillance page about 0.07 s (issue 12; two
servers side by side, paired visits).

- :func:`history_svg` (board): two panels share the date axis, pain (recorded VAS and the
  model's E[VAS], 0-10) and burden (lesions, solid, left axis; HI ratio in %, dashed,
  right axis).
- :func:`timeline_svg` (surveillance): three panels, lesions by region (stacked bars), HI
  ratio overall and at the worst level (%), recorded VAS against the model's E[VAS]; a
  red dotted line marks each study whose alerts fired.

Each point and bar carries its exact value (``data-series``, ``data-date``,
``data-value``) and a tooltip; a missing value leaves its point out and the line joins the
points either side of it. On screen, text uses the page's colour (``currentColor``), so a
dark theme reads it too; the download (``standalone``) is dark text on white, in px.

No Streamlit here: the functions return the markup; :mod:`ui.board` and
:mod:`ui.surveillance` draw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.vocab import REGION_COLOURS, REGIONS
from ui.svg_draw import document, esc, number_text, round_axis, value_axis

#: Drawing size in px: width, left / right margins (axis labels), panel heights.
WIDTH, LEFT, RIGHT = 660, 52, 52
PAIN_H, BURDEN_H, TOP, GAP, BOTTOM = 150, 120, 34, 58, 40
#: Most date labels under the axis (each ~70 px wide at 11 px).
MAX_DATE_LABELS = 6
#: Width of a character of 11 px DejaVu Sans, about (legend layout).
CHAR_W = 6.7


@dataclass(frozen=True)
class Series:
    """One line: ``column`` of the history, its legend ``name``, colour and dash."""

    column: str
    name: str
    colour: str
    dash: str = ""
    #: Drawn as bars (a square in the legend) instead of a line.
    box: bool = False


PAIN_SERIES = (Series("vas", "Recorded VAS", "#4c78a8"),
               Series("expected_vas", "Predicted E[VAS]", "#f58518"))
LESIONS = Series("lesion_count", "Lesions", "#6a1b9a")
HI_PERCENT = Series("hi_pct", "HI ratio (%)", "#ef6c00", "6 3")


class _Plot:
    """The shared x axis (days) and the SVG parts drawn so far."""

    def __init__(self, days: np.ndarray, pad: float = 0.0) -> None:
        self.days = days
        self.pad = pad  # px kept free at both ends of the axis (room for bars)
        low, high = float(days.min()), float(days.max())
        self.low, self.span = (low, high - low) if high > low else (low - 1.0, 2.0)
        self.parts: list[str] = []

    def x(self, day: float) -> float:
        inner = WIDTH - LEFT - RIGHT - 2 * self.pad
        return LEFT + self.pad + (day - self.low) / self.span * inner

    def y_axis(self, top: float, height: float, high: float, step: float, *,
               right: bool = False, colour: str = "currentColor", title: str = "") -> None:
        """Ticks every ``step``, labels and (left axis) grid lines for 0..``high``
        (:func:`ui.svg_draw.value_axis` across the plot's width)."""
        self.parts += value_axis(top, height, high, step, left=LEFT, right=RIGHT,
                                 width=WIDTH, on_right=right, colour=colour, title=title)

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
                f'data-series="{esc(series.column)}" data-date="{esc(date)}" '
                f'data-value="{float(value)!r}"><title>{esc(date)}: {esc(series.name)} '
                f"{float(value):.1f}{unit}</title></circle>")

    def dates(self, dates: Sequence[str], y: float) -> None:
        """Date labels under the axis at ``y``: every study's, or evenly chosen ones."""
        picks = sorted(set(np.linspace(0, len(dates) - 1, min(len(dates), MAX_DATE_LABELS))
                           .round().astype(int).tolist()))
        for i in picks:
            self.parts.append(f'<text x="{self.x(float(self.days[i])):.1f}" y="{y:.1f}" '
                              f'text-anchor="middle">{esc(dates[i])}</text>')

    def title(self, text: str, y: float, legend: Sequence[Series] = ()) -> None:
        self.parts.append(f'<text x="{LEFT}" y="{y:.1f}" font-weight="bold">{esc(text)}</text>')
        x = WIDTH - RIGHT
        for series in reversed(legend):  # right-aligned, in order
            label = f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end">{esc(series.name)}</text>'
            x -= CHAR_W * len(series.name) + 6
            if series.box:
                self.parts.append(f'<rect x="{x - 11:.1f}" y="{y - 10:.1f}" width="11" '
                                  f'height="11" fill="{series.colour}"/>{label}')
                x -= 23
                continue
            dash = f' stroke-dasharray="{series.dash}"' if series.dash else ""
            self.parts.append(f'<line x1="{x - 22:.1f}" y1="{y - 4:.1f}" x2="{x:.1f}" '
                              f'y2="{y - 4:.1f}" stroke="{series.colour}" stroke-width="3"'
                              f"{dash}/>{label}")
            x -= 34

    def stacked_bars(self, stack: Sequence[tuple[Series, np.ndarray]], dates: Sequence[str],
                     top: float, height: float, high: float) -> None:
        """One bar per study, its parts stacked in ``stack`` order; a zero part is not
        drawn. A bar with a missing part gets a grey ``?`` above it (``data-missing``:
        the missing series; its tooltip names them), so a count that was not recorded
        never reads as a smaller bar."""
        xs = np.array([self.x(float(d)) for d in self.days])
        gaps = np.diff(np.unique(xs))
        width = min(24.0, max(4.0, 0.6 * float(gaps.min()))) if len(gaps) else 24.0
        base = np.zeros(len(xs))
        for series, values in stack:
            for i in np.flatnonzero(np.isfinite(values) & (values > 0)):
                y0 = top + height - base[i] / high * height
                y1 = top + height - (base[i] + values[i]) / high * height
                self.parts.append(
                    f'<rect x="{xs[i] - width / 2:.1f}" y="{y1:.1f}" width="{width:.1f}" '
                    f'height="{y0 - y1:.1f}" fill="{series.colour}" '
                    f'data-series="{esc(series.column)}" data-date="{esc(dates[i])}" '
                    f'data-value="{float(values[i])!r}"><title>{esc(dates[i])}: '
                    f"{esc(series.name)} {number_text(float(values[i]))}</title></rect>")
                base[i] += values[i]
        missing = [[series.name for series, values in stack if not np.isfinite(values[i])]
                   for i in range(len(xs))]
        for i, names in enumerate(missing):
            if names:
                y = top + height - base[i] / high * height - 4
                self.parts.append(
                    f'<text x="{xs[i]:.1f}" y="{y:.1f}" text-anchor="middle" fill="#888" '
                    f'font-weight="bold" data-missing="{esc(" ".join(names))}" '
                    f'data-date="{esc(dates[i])}">?<title>{esc(dates[i])}: '
                    f"{esc(', '.join(names))} not recorded</title></text>")

    def rules(self, days: np.ndarray, top: float, bottom: float, colour: str) -> None:
        """A dotted vertical line at each of ``days`` from ``top`` to ``bottom``."""
        for day in days:
            x = self.x(float(day))
            self.parts.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" '
                              f'y2="{bottom:.1f}" stroke="{colour}" stroke-width="1.5" '
                              'stroke-dasharray="3 3" data-alert="1"/>')


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _days(dates: pd.Series) -> np.ndarray:
    """Datetimes as days since 1970 (the x axis's unit)."""
    return ((dates - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def _dated(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """The rows with a readable ``study_date``, oldest first, their dates as text and as
    days since 1970."""
    frame = frame.copy()
    frame["_date"] = pd.to_datetime(frame["study_date"], errors="coerce")
    frame = frame.dropna(subset=["_date"]).sort_values("_date", kind="stable")
    return frame, frame["_date"].dt.strftime("%Y-%m-%d").tolist(), _days(frame["_date"])


def _date_axis(plot: _Plot, dates: Sequence[str], height: float) -> None:
    plot.dates(dates, height - BOTTOM + 18)
    plot.parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{height - 4}" '
                      'text-anchor="middle">Study date</text>')


def history_svg(history: pd.DataFrame) -> str:
    """The SVG of a patient's history.

    ``history``: one row per study with ``study_date`` and any of ``vas``,
    ``expected_vas``, ``lesion_count`` and ``high_intensity_ratio`` (0-1); rows without a
    readable date are left out. The burden panel is drawn when a burden column is.
    """
    frame, dates, days = _dated(history)
    if not len(frame):
        return ('<p data-testid="history-chart">No study of this patient has a readable '
                "date.</p>")
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
        lesions_top, lesions_step = round_axis(float(np.nanmax(lesions, initial=0.0)), integer=True)
        hi_top, hi_step = round_axis(float(np.nanmax(hi, initial=0.0)))
        plot.y_axis(top, BURDEN_H, lesions_top, lesions_step, colour=LESIONS.colour,
                    title="Lesions")
        plot.y_axis(top, BURDEN_H, hi_top, hi_step, right=True, colour=HI_PERCENT.colour,
                    title="HI ratio (%)")
        plot.line(LESIONS, lesions, dates, top, BURDEN_H, lesions_top)
        plot.line(HI_PERCENT, hi, dates, top, BURDEN_H, hi_top, unit=" %")
    _date_axis(plot, dates, height)
    return (f'<figure class="dss-history" data-testid="history-chart">'
            f'{document(plot.parts, WIDTH, height, "Pain and burden over time", standalone=False)}'
            "</figure>")


# ------------------------------------------------------------- surveillance timeline

#: The timeline's panel height and the room above each panel (title, legend).
PANEL_H, PANEL_GAP = 130, 60
#: The timeline's HI-ratio and pain lines, each with the column it is read from. A
#: series is named (``data-series``) as its column of the CSV download
#: (:func:`ui.trend_charts.timeline_csv_frame`); lesions are ``<region>_lesions``.
HI_SERIES = ((Series("hi_ratio_overall_pct", "overall", "#ef6c00"), "high_intensity_ratio"),
             (Series("hi_ratio_worst_level_pct", "worst level", "#6a1b9a", "6 4"),
              "max_level_high_intensity_ratio"))
TIMELINE_PAIN = ((Series("recorded_vas", "recorded VAS", "#c62828"), "vas"),
                 (Series("predicted_expected_vas", "predicted E[VAS]", "#455a64", "6 4"),
                  "expected_vas"))
ALERT_COLOUR = "#c62828"


def timeline_svg(timeline: pd.DataFrame, alert_dates: Sequence[object] = (), *,
                 standalone: bool = False) -> str:
    """The ``<svg>`` of a patient's surveillance timeline.

    ``timeline``: one row per study with ``study_date`` and any of
    ``lesion_count_<region>`` (each region of :data:`core.vocab.REGIONS`),
    ``high_intensity_ratio`` and ``max_level_high_intensity_ratio`` (0-1), ``vas`` and
    ``expected_vas``; rows without a readable date are left out. ``alert_dates``: the
    studies whose alerts fired, each marked by a red dotted line on every panel.
    ``standalone``: the file version (see the module's docstring).
    """
    frame, dates, days = _dated(timeline)
    if not len(frame):
        return document(['<text x="10" y="20">No study of this patient has a readable '
                         "date.</text>"], WIDTH, 30, "Surveillance timeline",
                        standalone=standalone)
    plot = _Plot(days, pad=20.0)
    counts = {r: _column(frame, f"lesion_count_{r}") for r in REGIONS}
    present = [r for r in REGIONS if np.isfinite(counts[r]).any()]
    stack = [(Series(f"{r}_lesions", r, REGION_COLOURS[r], box=True), counts[r])
             for r in present or REGIONS]
    totals = np.nansum(np.vstack([v for _, v in stack]), axis=0)
    hi = [100 * _column(frame, source) for _, source in HI_SERIES]
    hi_top, hi_step = round_axis(float(np.nanmax(np.concatenate(hi), initial=0.0)))
    lesions_top, lesions_step = round_axis(float(totals.max(initial=0.0)), integer=True)
    marked = pd.to_datetime(pd.Series(list(alert_dates), dtype=object), errors="coerce")
    alert_days = np.unique(_days(marked.dropna()))
    notes = []  # a line under the first title: what the marks mean
    if len(alert_days):
        notes.append(f'<tspan fill="{ALERT_COLOUR}">red dotted line: a study whose alerts '
                     "fired</tspan>")
    if any(not np.isfinite(values).all() for _, values in stack):
        notes.append('<tspan fill="#888">?: a regional count not recorded</tspan>')
    top = TOP + (14 if notes else 0)
    height = top + 3 * PANEL_H + 2 * PANEL_GAP + BOTTOM
    plot.title("Lesions by region", 14, [series for series, _ in stack])
    if notes:
        plot.parts.append(f'<text x="{LEFT}" y="30">{" · ".join(notes)}</text>')
    tops = [top + i * (PANEL_H + PANEL_GAP) for i in range(3)]  # lesions, HI, pain
    for y, axis_title, high, step in zip(
            tops, ("Lesions", "HI ratio (%)", "Pain (VAS 0-10)"),
            (lesions_top, hi_top, 10.0), (lesions_step, hi_step, 2.0), strict=True):
        plot.y_axis(y, PANEL_H, high, step, title=axis_title)
    plot.stacked_bars(stack, dates, tops[0], PANEL_H, lesions_top)
    plot.title("HI ratio: overall (solid) and worst level (dashed)", tops[1] - 20,
               [series for series, _ in HI_SERIES])
    for (series, _), values in zip(HI_SERIES, hi, strict=True):
        plot.line(series, values, dates, tops[1], PANEL_H, hi_top, unit=" %")
    plot.title("Pain: recorded vs the model's expected VAS", tops[2] - 20,
               [series for series, _ in TIMELINE_PAIN])
    for series, source in TIMELINE_PAIN:
        plot.line(series, _column(frame, source), dates, tops[2], PANEL_H, 10.0)
    for y in tops:  # over the bars and lines
        plot.rules(alert_days, y, y + PANEL_H, ALERT_COLOUR)
    _date_axis(plot, dates, height)
    return document(plot.parts, WIDTH, height, "Surveillance timeline", standalone=standalone)
