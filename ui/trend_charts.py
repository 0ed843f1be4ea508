"""Altair charts of the surveillance and teaching pages. Pure: frames in, ``alt.Chart`` out.

Like :mod:`ui.charts` (no streamlit here): the surveillance timeline of one patient,
the per-level HI-ratio map over studies, and the SHAP comparison of two cases. Colours
come from :mod:`core.vocab` (regions, pain categories, SHAP directions).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from core.vocab import REGION_COLOURS, REGIONS, level_order

_DATE_AXIS = alt.Axis(format="%Y-%m-%d", labelAngle=0, tickCount="month")
#: Width of the timeline panels (px).
TIMELINE_WIDTH = 640


def timeline_frames(tl: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The long-format rows of :func:`surveillance_timeline` (also its CSV download):
    ``lesions`` (date, region, lesions), ``hi`` (date, series, hi_pct), ``pain`` (date,
    series, vas)."""
    dates = pd.to_datetime(tl["study_date"])
    lesions = pd.concat([
        pd.DataFrame({"study_date": dates, "region": region,
                      "lesions": pd.to_numeric(tl.get(f"lesion_count_{region}"),
                                               errors="coerce")})
        for region in REGIONS], ignore_index=True).dropna(subset=["lesions"])
    hi = pd.concat([
        pd.DataFrame({"study_date": dates, "series": name,
                      "hi_pct": 100 * pd.to_numeric(tl.get(column), errors="coerce")})
        for column, name in (("high_intensity_ratio", "overall"),
                             ("max_level_high_intensity_ratio", "worst level"))],
        ignore_index=True).dropna(subset=["hi_pct"])
    pain = pd.concat([
        pd.DataFrame({"study_date": dates, "series": name,
                      "vas": pd.to_numeric(tl.get(column), errors="coerce")})
        for column, name in (("vas", "recorded VAS"), ("expected_vas", "predicted E[VAS]"))],
        ignore_index=True).dropna(subset=["vas"])
    return {"lesions": lesions, "hi": hi, "pain": pain}


def timeline_csv_frame(tl: pd.DataFrame) -> pd.DataFrame:
    """One row per study with everything the timeline draws (for the CSV download)."""
    out = pd.DataFrame({"study_date": pd.to_datetime(tl["study_date"]).dt.date})
    for region in REGIONS:
        out[f"{region}_lesions"] = pd.to_numeric(tl.get(f"lesion_count_{region}"),
                                                 errors="coerce")
    out["involved_levels"] = pd.to_numeric(tl.get("involved_levels"), errors="coerce")
    out["hi_ratio_overall_pct"] = (100 * pd.to_numeric(tl.get("high_intensity_ratio"),
                                                       errors="coerce")).round(2)
    out["hi_ratio_worst_level_pct"] = (100 * pd.to_numeric(
        tl.get("max_level_high_intensity_ratio"), errors="coerce")).round(2)
    out["recorded_vas"] = pd.to_numeric(tl.get("vas"), errors="coerce")
    out["predicted_expected_vas"] = pd.to_numeric(tl.get("expected_vas"),
                                                  errors="coerce").round(2)
    return out


def _dashes(series: list[str]) -> alt.StrokeDash:
    """First series solid, second dashed."""
    return alt.StrokeDash("series:N", legend=None,
                          scale=alt.Scale(domain=series, range=[[1, 0], [6, 4]]))


def surveillance_timeline(tl: pd.DataFrame, *, alert_dates: pd.Series | None = None
                          ) -> alt.VConcatChart:
    """Three panels over the study dates of one patient: lesions by region (stacked),
    HI ratio overall and at the worst level (%), recorded VAS against the model's
    expected VAS. ``alert_dates``: study dates with alerts, marked on every panel."""
    parts = timeline_frames(tl)
    x = alt.X("study_date:T", title="Study date", axis=_DATE_AXIS,
              scale=alt.Scale(padding=24))
    regions = [r for r in REGIONS if r in set(parts["lesions"]["region"])] or list(REGIONS)
    rules: Any = None
    if alert_dates is not None and len(alert_dates):
        marks = pd.DataFrame({"study_date": pd.to_datetime(pd.Series(alert_dates).unique())})
        rules = alt.Chart(marks).mark_rule(color="#c62828", strokeDash=[3, 3],
                                           strokeWidth=1.5).encode(x=x)
    lesions = alt.Chart(parts["lesions"]).mark_bar(size=26).encode(
        x=x, y=alt.Y("sum(lesions):Q", title="Lesions"),
        color=alt.Color("region:N", title="Region", sort=regions,
                        scale=alt.Scale(domain=regions,
                                        range=[REGION_COLOURS[r] for r in regions])),
        order=alt.Order("region:N"),
        tooltip=[alt.Tooltip("study_date:T", format="%Y-%m-%d"), "region:N", "lesions:Q"])
    hi = alt.Chart(parts["hi"]).mark_line(point=alt.OverlayMarkDef(size=70), strokeWidth=3
                                          ).encode(
        x=x, y=alt.Y("hi_pct:Q", title="HI ratio (%)", scale=alt.Scale(domainMin=0)),
        color=alt.Color("series:N", title="HI ratio", sort=["overall", "worst level"],
                        scale=alt.Scale(range=["#ef6c00", "#6a1b9a"])),
        strokeDash=_dashes(["overall", "worst level"]),
        tooltip=[alt.Tooltip("study_date:T", format="%Y-%m-%d"), "series:N",
                 alt.Tooltip("hi_pct:Q", format=".1f", title="HI ratio (%)")])
    pain = alt.Chart(parts["pain"]).mark_line(point=alt.OverlayMarkDef(size=70), strokeWidth=3
                                              ).encode(
        x=x, y=alt.Y("vas:Q", title="Pain (VAS 0-10)", scale=alt.Scale(domain=[0, 10])),
        color=alt.Color("series:N", title="Pain", sort=["recorded VAS", "predicted E[VAS]"],
                        scale=alt.Scale(range=["#c62828", "#455a64"])),
        strokeDash=_dashes(["recorded VAS", "predicted E[VAS]"]),
        tooltip=[alt.Tooltip("study_date:T", format="%Y-%m-%d"), "series:N",
                 alt.Tooltip("vas:Q", format=".1f", title="VAS")])
    panels = []
    first = ("Lesions by region" if rules is None else alt.TitleParams(
        "Lesions by region", subtitle="red dotted line: a study whose alerts fired"))
    for chart, title in ((lesions, first),
                         (hi, "HI ratio: overall (solid) and worst level (dashed)"),
                         (pain, "Recorded pain vs the model's expected VAS (dashed)")):
        layer = chart if rules is None else alt.layer(chart, rules)
        panels.append(layer.properties(width=TIMELINE_WIDTH, height=150, title=title))
    return alt.vconcat(*panels).resolve_scale(x="shared", color="independent")


def level_heatmap(levels: pd.DataFrame) -> alt.Chart:
    """HI ratio (%) per level and study (rows craniocaudal), lesion count written in the
    cell; ``levels``: ``study_date``, ``level``, ``high_intensity_ratio``,
    ``lesion_count``."""
    data = levels.copy()
    data["date"] = pd.to_datetime(data["study_date"]).dt.strftime("%Y-%m-%d")
    data["hi_pct"] = 100 * pd.to_numeric(data["high_intensity_ratio"], errors="coerce")
    data["text"] = np.where(pd.to_numeric(data["lesion_count"], errors="coerce") > 0,
                            data["lesion_count"].astype(str), "")
    order = sorted(set(data["level"]), key=lambda n: (level_order(n), n))
    base = alt.Chart(data).encode(
        x=alt.X("date:O", title="Study", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("level:N", sort=order, title=None))
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("hi_pct:Q", title="HI ratio (%)", scale=alt.Scale(
            scheme="orangered", domain=[0, max(10.0, float(data["hi_pct"].max() or 0))])),
        tooltip=["level:N", "date:O", alt.Tooltip("hi_pct:Q", format=".1f",
                                                  title="HI ratio (%)"),
                 alt.Tooltip("lesion_count:Q", title="Lesions")])
    text = base.mark_text(fontSize=12, fontWeight="bold").encode(text="text:N")
    return (cells + text).properties(
        height=20 * max(len(order), 1) + 20, width=90 * max(data["date"].nunique(), 1),
        title=alt.TitleParams("HI ratio per level over studies",
                              subtitle="number = lesions at the level"))


def shap_comparison(diff: pd.DataFrame, label_a: str, label_b: str, *,
                    max_rows: int = 8) -> alt.Chart:
    """Per-feature SHAP of two cases side by side (:func:`core.teaching.shap_difference`
    rows, largest difference first), labelled with each case's value."""
    data = diff.head(max_rows)
    rows = pd.concat([
        pd.DataFrame({"feature": data["label"], "case": label, "shap": data[col],
                      "value": data[value]})
        for label, col, value in ((label_a, "shap_a", "value_a"),
                                  (label_b, "shap_b", "value_b"))], ignore_index=True)
    order = list(data["label"])
    return alt.Chart(rows).mark_bar().encode(
        y=alt.Y("feature:N", sort=order, title=None, axis=alt.Axis(labelLimit=220)),
        yOffset=alt.YOffset("case:N", sort=[label_a, label_b]),
        x=alt.X("shap:Q", title="SHAP (model output units; > 0 raises predicted pain)"),
        color=alt.Color("case:N", title=None, sort=[label_a, label_b],
                        scale=alt.Scale(range=["#c62828", "#1976d2"])),
        tooltip=["feature:N", "case:N", "value:N", alt.Tooltip("shap:Q", format="+.3f")],
    ).properties(height=34 * len(order) + 30,
                 title="Where the two explanations differ (per feature)")


def grouped_comparison(grouped: pd.DataFrame, label_a: str, label_b: str) -> alt.Chart:
    """Grouped SHAP (imaging burden, clinical findings) of two cases side by side."""
    rows = pd.concat([
        pd.DataFrame({"group": grouped["label"], "case": label, "shap": grouped[col]})
        for label, col in ((label_a, "shap_a"), (label_b, "shap_b"))], ignore_index=True)
    return alt.Chart(rows).mark_bar().encode(
        y=alt.Y("group:N", title=None),
        yOffset=alt.YOffset("case:N", sort=[label_a, label_b]),
        x=alt.X("shap:Q", title="Summed SHAP of the group"),
        color=alt.Color("case:N", title=None, sort=[label_a, label_b],
                        scale=alt.Scale(range=["#c62828", "#1976d2"])),
        tooltip=["group:N", "case:N", alt.Tooltip("shap:Q", format="+.3f")],
    ).properties(height=120, title="Imaging burden vs clinical findings")
