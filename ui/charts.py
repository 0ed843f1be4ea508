"""Altair charts for the pages. Pure: data in (dicts / frames), ``alt.Chart`` out.

No streamlit here, so every chart can be built and checked in a test or exported
with vl-convert. Colours: pain categories mild/moderate/severe green/orange/red (the
same as the PDF report); SHAP bars red when they push towards more pain, blue when
they lower it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import vl_convert as vlc

from core.explain import waterfall_steps
from core.features import display_feature
from core.vocab import (
    CATEGORIES,
    DOWN_COLOUR,
    GROUP_COLOURS,
    UP_COLOUR,
    URGENCY_ORDER,
    category_colour,
    display,
    finite_float,
    level_order,
)

# --------------------------------------------------------------------------- case charts


def level_frame(levels: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per-level rows in craniocaudal order with an ``hi_pct`` column (HI ratio in %)."""
    frame = pd.DataFrame([dict(row) for row in levels])
    if frame.empty:
        return pd.DataFrame(columns=["level", "region", "vertebra_volume_ml",
                                     "high_intensity_volume_ml", "high_intensity_ratio",
                                     "lesion_count", "hi_pct", "order"])
    frame["order"] = [level_order(str(n)) for n in frame["level"]]
    frame = frame.sort_values("order", kind="stable").reset_index(drop=True)
    frame["hi_pct"] = 100.0 * pd.to_numeric(frame["high_intensity_ratio"], errors="coerce")
    return frame


#: Room for the spine diagram's title and colour legend below the levels (pass as
#: ``extra`` to :func:`ui.components.chart`, else the levels are squeezed together).
SPINE_EXTRA_PX = 150


def spine_diagram(levels: Sequence[Mapping[str, Any]], *, height_per_level: int = 24,
                  title: str = "Spine: HI ratio and lesions per level") -> alt.Chart:
    """Levels top-to-bottom in craniocaudal order; each a rect coloured by HI ratio,
    with the lesion count written on it and the region on the left."""
    frame = level_frame(levels)
    order = list(frame["level"].astype(str))
    frame["lesion_text"] = [
        "" if finite_float(c) is None else (f"{int(c)} lesion" + ("s" if int(c) != 1 else ""))
        for c in frame.get("lesion_count", pd.Series([None] * len(frame)))
    ]
    vmax = max(float(frame["hi_pct"].max()) if len(frame) else 0.0, 10.0)
    base = alt.Chart(frame).encode(
        y=alt.Y("level:N", sort=order, title=None,
                axis=alt.Axis(labelFontSize=14, labelFontWeight="bold", ticks=False,
                              domain=False)),
    )
    body = base.mark_rect(cornerRadius=5, stroke="#444", strokeWidth=0.6).encode(
        x=alt.value(0), x2=alt.value(170),
        color=alt.Color("hi_pct:Q", title="HI ratio (%)",
                        scale=alt.Scale(scheme="orangered", domain=[0, vmax]),
                        # Below the levels: on the right it overlapped the % labels in
                        # a narrow column (every level at 0.0% showed the clash).
                        legend=alt.Legend(orient="bottom", direction="horizontal",
                                          gradientLength=160, titleOrient="left")),
        tooltip=[
            alt.Tooltip("level:N", title="Level"),
            alt.Tooltip("region:N", title="Region"),
            alt.Tooltip("lesion_count:Q", title="Lesions"),
            alt.Tooltip("hi_pct:Q", title="HI ratio (%)", format=".1f"),
            alt.Tooltip("vertebra_volume_ml:Q", title="Vertebra (ml)", format=".1f"),
            alt.Tooltip("high_intensity_volume_ml:Q", title="High-intensity (ml)", format=".2f"),
        ],
    )
    text = base.mark_text(fontSize=13, fontWeight="bold").encode(
        x=alt.value(85), text="lesion_text:N",
        color=alt.condition("datum.hi_pct > 35", alt.value("white"), alt.value("black")),
    )
    frame["hi_text"] = [("" if pd.isna(v) else f"{v:.1f}%") for v in frame["hi_pct"]]
    pct = base.mark_text(align="left", fontSize=12).encode(
        x=alt.value(178), text="hi_text:N",
    )
    return (body + text + pct).properties(
        width=230, height=max(height_per_level * max(len(frame), 1), 60), title=title,
    )


def feature_value_text(name: str, value: object) -> str:
    """A feature value (model units) as a clinician reads it (:func:`display_feature`);
    a value the registry cannot read (e.g. a fractional imputed Bilsky code of a site
    model) as a plain number."""
    try:
        return display_feature(name, value)
    except (KeyError, ValueError):
        return display("number", value)


def waterfall_frame(explanation: Mapping[str, Any], max_rows: int = 10
                    ) -> tuple[pd.DataFrame, float | None, float | None]:
    """Rows ``label, start, end, shap, direction`` ordered by |SHAP| (largest first),
    the remainder summed into one row; plus base and output values. A feature's row is
    labelled ``<label> = <value>`` (``(imputed)`` when it was not recorded)."""
    base, steps, output = waterfall_steps(explanation, max_rows=max_rows)
    imputed = set(explanation.get("imputed") or [])
    rows = []
    for step in steps:
        label = step.label
        if step.feature is not None:
            label = f"{label} = {feature_value_text(step.feature, step.value)}"
            label += " (imputed)" if step.feature in imputed else ""
        rows.append({"label": label, "start": step.start, "end": step.end, "shap": step.shap,
                     "direction": "raises" if step.shap >= 0 else "lowers"})
    return pd.DataFrame(rows), base, output


#: How to read the SHAP waterfall, shown under it wherever it is drawn.
SHAP_UNITS_NOTE = ("SHAP values are in the model's output units (latent log-odds of more "
                   "pain), not probabilities; they add up from the base value (average "
                   "case) to this case's output.")


def shap_waterfall(explanation: Mapping[str, Any], *, max_rows: int = 10,
                   font_size: int = 13, title: str | None = None) -> alt.Chart:
    """SHAP waterfall: base value -> one bar per feature (ordered by |SHAP|) -> output.

    Bars are in the model's output units (``explanation['output_units']``); red raises
    the predicted pain, blue lowers it.
    """
    frame, base, output = waterfall_frame(explanation, max_rows=max_rows)
    if frame.empty or base is None:
        return alt.Chart(pd.DataFrame({"text": ["No SHAP values"]})).mark_text().encode(
            text="text:N")
    out_value = float(output) if output is not None else float(frame["end"].iloc[-1])
    rows = [{"label": "Base value (average case)", "start": base, "end": base, "shap": 0.0,
             "direction": "base"}]
    rows += frame.to_dict(orient="records")
    rows.append({"label": "Model output (this case)", "start": base, "end": out_value,
                 "shap": out_value - base, "direction": "output"})
    data = pd.DataFrame(rows)
    data["text"] = [
        f"{r['start']:.2f}" if r["direction"] == "base"
        else f"{r['end']:.2f}" if r["direction"] == "output"
        else f"{r['shap']:+.2f}"
        for r in rows
    ]
    data["text_at"] = [max(r["start"], r["end"]) for r in rows]
    order = list(data["label"])
    colour = alt.Color(
        "direction:N",
        scale=alt.Scale(domain=["raises", "lowers", "base", "output"],
                        range=[UP_COLOUR, DOWN_COLOUR, "#555555", "#000000"]),
        legend=alt.Legend(title="Effect on pain", orient="bottom", labelFontSize=12),
    )
    y = alt.Y("label:N", sort=order, title=None,
              axis=alt.Axis(labelFontSize=font_size, labelLimit=320))
    bars = alt.Chart(data).mark_bar(height=16).encode(
        y=y,
        x=alt.X("start:Q", title=f"SHAP ({explanation.get('output_units', 'model output')})"
                .split(" (")[0] + " — model output units",
                scale=alt.Scale(zero=False)),
        x2="end:Q",
        color=colour,
        tooltip=[alt.Tooltip("label:N", title="Feature"),
                 alt.Tooltip("shap:Q", title="SHAP", format="+.3f"),
                 alt.Tooltip("end:Q", title="Running total", format=".3f")],
    )
    ticks = alt.Chart(data[data["direction"] == "base"]).mark_tick(
        thickness=3, size=22, color="#555").encode(y=y, x="start:Q")
    text = alt.Chart(data).mark_text(align="left", dx=5, fontSize=font_size - 1).encode(
        y=y, x="text_at:Q", text="text:N")
    rule = alt.Chart(pd.DataFrame({"x": [base]})).mark_rule(
        strokeDash=[4, 3], color="#555").encode(x="x:Q")
    chart = (rule + bars + ticks + text).properties(height=26 * len(data) + 30)
    if title:
        chart = chart.properties(title=title)
    return chart


# ------------------------------------------------------------------------- cohort charts


def _group_scale(values: Sequence[str]) -> alt.Scale:
    domain = list(values)
    return alt.Scale(domain=domain, range=[GROUP_COLOURS.get(v, "#555555") for v in domain])


def importance_bars(table: pd.DataFrame) -> alt.Chart:
    """Global importance: mean |SHAP| per feature (``feature``, ``label``,
    ``mean_abs_shap``, ``mean_shap`` from :func:`core.explain.global_importance`)."""
    data = table.copy()
    order = list(data.sort_values("mean_abs_shap", ascending=False)["label"])
    return alt.Chart(data).mark_bar(color="#6a1b9a").encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("mean_abs_shap:Q", title="Mean |SHAP| (model output units)"),
        tooltip=["label:N", alt.Tooltip("mean_abs_shap:Q", format=".3f"),
                 alt.Tooltip("mean_shap:Q", format="+.3f", title="Mean SHAP (signed)")],
    ).properties(height=22 * len(data) + 20, title="Global feature importance")


# ----------------------------------------------------- cohort charts (issue 13 fixes)

#: Seed of the scatter's sideways jitter (the same picture on every draw).
JITTER_SEED = 20250301


def rank_scatter_frame(frame: pd.DataFrame, *, x: str = "lesion_count",
                       y: str = "high_intensity_ratio", colour: str = "region_group",
                       width: float = 0.3, seed: int = JITTER_SEED) -> pd.DataFrame:
    """The scatter's rows: ``lesions`` (whole count), ``x_jitter`` (count plus a seeded
    uniform offset in [-width, width]), ``hi_pct`` and the colour column."""
    data = pd.DataFrame({
        "lesions": pd.to_numeric(frame[x], errors="coerce"),
        "hi_pct": 100 * pd.to_numeric(frame[y], errors="coerce"),
        colour: frame[colour].astype(str) if colour in frame.columns else "all",
    }).dropna(subset=["lesions", "hi_pct"]).reset_index(drop=True)
    offsets = np.random.default_rng(seed).uniform(-width, width, len(data))
    data["x_jitter"] = data["lesions"] + offsets
    return data


def rank_scatter(data: pd.DataFrame, line: pd.DataFrame | None, *,
                 colour: str = "region_group",
                 title: str = "Lesion count vs high-intensity ratio") -> alt.Chart:
    """Jittered scatter of :func:`rank_scatter_frame` rows with the Theil-Sen line
    (``line``: columns ``x`` lesions, ``y`` HI ratio in %), drawn solid black."""
    groups = sorted(set(data[colour]), key=lambda g: (
        list(GROUP_COLOURS).index(g) if g in GROUP_COLOURS else 99, g))
    points = alt.Chart(data).mark_circle(size=40, opacity=0.55).encode(
        x=alt.X("x_jitter:Q", title="Number of lesions (jittered sideways)",
                axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("hi_pct:Q", title="HI ratio (%)", scale=alt.Scale(domainMin=0, clamp=True)),
        color=alt.Color(f"{colour}:N", title="Region", scale=_group_scale(groups)),
        tooltip=[alt.Tooltip("lesions:Q", title="Lesions"),
                 alt.Tooltip("hi_pct:Q", title="HI ratio (%)", format=".1f"),
                 alt.Tooltip(f"{colour}:N", title="Region")])
    return with_trend_line(points, line, title=title, subtitle=(
        "Line: Theil-Sen (median of pairwise slopes), rank-based; points jittered sideways "
        "with a fixed seed"))


def with_trend_line(base: alt.Chart, line: pd.DataFrame | None, *, title: str,
                    subtitle: str, height: int = 320) -> alt.LayerChart:
    """``base`` with the fitted line (rows ``x``, ``y``; none or empty: no line) drawn
    over it in black, titled."""
    layers: list[Any] = [base]
    if line is not None and len(line):
        layers.append(alt.Chart(line).mark_line(color="black", strokeWidth=2.5).encode(
            x="x:Q", y="y:Q"))
    return alt.layer(*layers).properties(
        height=height, title=alt.TitleParams(title, subtitle=subtitle))


def mean_ci_bars(table: pd.DataFrame, *, title: str, bin_title: str,
                 method: str = "95 % CI, Student t") -> alt.Chart:
    """Mean pain per bin with its interval (:func:`core.cohort_stats.mean_ci` rows:
    ``group, n, mean, ci_low, ci_high``); intervals clipped to the VAS scale."""
    data = table.copy()
    data["low"] = data["ci_low"].clip(0, 10)
    data["high"] = data["ci_high"].clip(0, 10)
    order = list(data["group"])
    x = alt.X("group:N", sort=order, title=bin_title, axis=alt.Axis(labelAngle=0))
    scale = alt.Scale(domain=[0, 10], clamp=True)
    bars = alt.Chart(data).mark_bar(opacity=0.8, color="#ef6c00").encode(
        x=x, y=alt.Y("mean:Q", title=f"Mean pain (VAS); bars: {method}", scale=scale),
        tooltip=[alt.Tooltip("group:N", title=bin_title),
                 alt.Tooltip("mean:Q", format=".2f", title="Mean VAS"),
                 alt.Tooltip("ci_low:Q", format=".2f", title="95 % CI low"),
                 alt.Tooltip("ci_high:Q", format=".2f", title="95 % CI high"),
                 alt.Tooltip("n:Q", title="Studies")])
    err = alt.Chart(data.dropna(subset=["low", "high"])).mark_rule(
        color="black", strokeWidth=2).encode(x=x, y=alt.Y("low:Q", scale=scale), y2="high:Q")
    counts = alt.Chart(data).mark_text(dy=-8, fontSize=11).encode(
        x=x, y=alt.value(0), text=alt.Text("n:Q"))
    return (bars + err + counts).properties(
        height=260, title=alt.TitleParams(title, subtitle=f"Error bars: {method}; number = "
                                                          "studies in the bin"))


def advice_distribution(counts: pd.DataFrame) -> alt.Chart:
    """Studies per urgency, stacked by what leads the advice (``urgency``, ``leads``,
    ``studies``)."""
    leads = list(dict.fromkeys(counts["leads"]))
    palette = {"safety override": "#c62828", "no lesion measured": "#9e9e9e",
               "pain estimate": "#1976d2"}
    return alt.Chart(counts).mark_bar().encode(
        x=alt.X("urgency:N", sort=list(URGENCY_ORDER), title="Urgency of the advice",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("studies:Q", title="Studies"),
        color=alt.Color("leads:N", title="What leads the advice",
                        scale=alt.Scale(domain=leads,
                                        range=[palette.get(v, "#555") for v in leads])),
        tooltip=["urgency:N", "leads:N", "studies:Q"],
    ).properties(height=260, title="Urgency of the advice, by what leads it")


def category_agreement(counts: pd.DataFrame) -> alt.Chart:
    """Studies per pain category, predicted beside recorded (``category``, ``source``,
    ``studies``)."""
    cats = [c for c in CATEGORIES if c in set(counts["category"])]
    return alt.Chart(counts).mark_bar().encode(
        x=alt.X("category:N", sort=cats, title="Pain category", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("source:N", sort=["predicted", "recorded"]),
        y=alt.Y("studies:Q", title="Studies"),
        color=alt.Color("source:N", title=None, sort=["predicted", "recorded"],
                        scale=alt.Scale(range=["#455a64", "#ef6c00"])),
        tooltip=["category:N", "source:N", "studies:Q"],
    ).properties(height=260, title="Predicted vs recorded pain category")


def grouped_importance_bars(table: pd.DataFrame) -> alt.Chart:
    """Mean |SHAP| per feature group (:func:`core.explain.grouped_importance`)."""
    data = table[["label", "mean_abs_shap", "mean_shap"]].copy()
    return alt.Chart(data).mark_bar(color="#00695c").encode(
        y=alt.Y("label:N", sort="-x", title=None),
        x=alt.X("mean_abs_shap:Q", title="Mean |SHAP| of the group (model output units)"),
        tooltip=["label:N", alt.Tooltip("mean_abs_shap:Q", format=".3f"),
                 alt.Tooltip("mean_shap:Q", format="+.3f", title="Mean SHAP (signed)")],
    ).properties(height=110, title="Grouped importance: imaging burden vs clinical findings")


#: The ``config`` Altair's default theme adds to every spec (Streamlit draws charts
#: without it: its own theme sizes them).
_DEFAULT_THEME_CONFIG = {"view": {"continuousWidth": 300, "continuousHeight": 300}}


def chart_spec(chart: alt.TopLevelMixin) -> str:
    """The chart's Vega-Lite spec as JSON text, its data inline (``datasets``) and
    without the default theme's view size: built once, it can be cached and drawn with
    ``st.vega_lite_chart`` or exported (:func:`chart_png`) without Altair validating and
    serialising the chart again on every run."""
    spec = chart.to_dict()
    if spec.get("config") == _DEFAULT_THEME_CONFIG:
        del spec["config"]
    return json.dumps(spec, allow_nan=False, default=str)


def _vega_lite_json(chart: alt.TopLevelMixin | str) -> str:
    return chart if isinstance(chart, str) else chart.to_json()


def chart_png(chart: alt.TopLevelMixin | str, *, scale: float = 2.0) -> bytes:
    """The chart (or a :func:`chart_spec`) as PNG (vl-convert, no browser, no network)."""
    return vlc.vegalite_to_png(_vega_lite_json(chart), scale=scale)


def svg_png(svg: str, *, scale: float = 2.0) -> bytes:
    """An SVG drawn on the server (e.g. :func:`ui.history_svg.timeline_svg`) as PNG
    (vl-convert's renderer, no browser, no network)."""
    return vlc.svg_to_png(svg, scale=scale)


def chart_svg(chart: alt.TopLevelMixin | str) -> str:
    """The chart (or a :func:`chart_spec`) as SVG text (vl-convert)."""
    return vlc.vegalite_to_svg(_vega_lite_json(chart))


# -------------------------------------------------------------------------- model card


def reliability_frame(calibration_classes: Mapping[str, Any]) -> pd.DataFrame:
    """Flatten ``card['calibration']['classes']`` to rows ``category, lower, upper, n,
    mean_predicted, observed_fraction`` (empty bins dropped)."""
    rows = []
    for category, table in calibration_classes.items():
        for b in (table or {}).get("bins", []):
            if b.get("mean_predicted") is None or b.get("observed_fraction") is None:
                continue
            rows.append({"category": category, **b})
    return pd.DataFrame(rows, columns=["category", "lower", "upper", "n", "mean_predicted",
                                       "observed_fraction"])


def reliability_diagram(calibration_classes: Mapping[str, Any]) -> alt.Chart:
    """Reliability diagram: observed fraction against mean predicted probability per
    bin and class, with the diagonal of perfect calibration; point size = bin count."""
    data = reliability_frame(calibration_classes)
    cats = [c for c in CATEGORIES if c in set(data["category"])]
    colours = [category_colour(c) for c in cats]
    diag = alt.Chart(pd.DataFrame({"p": [0.0, 1.0]})).mark_line(
        color="#999", strokeDash=[4, 4]).encode(x="p:Q", y="p:Q")
    colour = alt.Color("category:N", scale=alt.Scale(domain=cats, range=colours),
                       title="Category")
    lines = alt.Chart(data).mark_line(point=False, strokeWidth=2).encode(
        x=alt.X("mean_predicted:Q", title="Mean predicted probability",
                scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("observed_fraction:Q", title="Observed fraction",
                scale=alt.Scale(domain=[0, 1])),
        color=colour)
    points = alt.Chart(data).mark_circle(opacity=0.9).encode(
        x="mean_predicted:Q", y="observed_fraction:Q", color=colour,
        size=alt.Size("n:Q", title="Studies in bin",
                      legend=alt.Legend(tickCount=3, symbolFillColor="#777",
                                        symbolStrokeColor="#777")),
        tooltip=["category:N", "lower:Q", "upper:Q", "n:Q",
                 alt.Tooltip("mean_predicted:Q", format=".2f"),
                 alt.Tooltip("observed_fraction:Q", format=".2f")])
    return (diag + lines + points).properties(height=340, width=380,
                                              title="Reliability (out-of-fold)")


def coefficient_bars(coefficients: Sequence[Mapping[str, Any]],
                     labels: Mapping[str, str]) -> alt.Chart:
    """Standardised weights (log-odds per SD) of the ordinal model."""
    data = pd.DataFrame([dict(c) for c in coefficients])
    data["label"] = [labels.get(f, f) for f in data["feature"]]
    data["direction"] = np.where(data["weight_per_sd"] >= 0, "raises pain", "lowers pain")
    order = list(data.sort_values("weight_per_sd", ascending=False)["label"])
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("weight_per_sd:Q", title="Weight per SD (log-odds)"),
        color=alt.Color("direction:N", scale=alt.Scale(domain=["raises pain", "lowers pain"],
                                                       range=[UP_COLOUR, DOWN_COLOUR]), title=None),
        tooltip=["label:N", alt.Tooltip("weight_per_sd:Q", format="+.3f"),
                 alt.Tooltip("odds_ratio_per_sd:Q", format=".2f", title="OR per SD"),
                 alt.Tooltip("weight_per_unit:Q", format="+.4f", title="Weight per unit")],
    ).properties(height=22 * len(data) + 20, title="Model weights (standardised)")
