"""Altair charts of the surveillance and teaching pages. Pure: frames in, ``alt.Chart`` out.

Like :mod:`ui.charts` (no streamlit here): the per-level HI-ratio map over studies, and
the SHAP comparison of two cases; also the CSV rows of the surveillance timeline (drawn
as SVG by :func:`ui.history_svg.timeline_svg`). Colours come from :mod:`core.vocab`.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.vocab import REGIONS, level_order


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
