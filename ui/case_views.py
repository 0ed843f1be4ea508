"""Case-level renderers shared by New case, Tumor board, What-if and Report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from ui import charts
from ui import components as c
from ui.state import CaseResult


def level_table(levels: list[Mapping[str, Any]], *, key: str) -> pd.DataFrame:
    """Per-level measurements, craniocaudal, as an ``st.dataframe`` (returns the frame)."""
    frame = charts.level_frame(levels)
    shown = pd.DataFrame({
        "Level": frame["level"],
        "Region": frame["region"],
        "Lesions": frame["lesion_count"],
        "HI ratio (%)": frame["hi_pct"].round(1),
        "HI volume (ml)": pd.to_numeric(frame["high_intensity_volume_ml"]).round(2),
        "Vertebra volume (ml)": pd.to_numeric(frame["vertebra_volume_ml"]).round(1),
    })
    st.dataframe(
        shown, hide_index=True, key=key,
        column_config={
            "HI ratio (%)": st.column_config.ProgressColumn(
                "HI ratio (%)", min_value=0.0, max_value=100.0, format="%.1f%%"),
        },
    )
    return shown


def burden_summary(metrics: Mapping[str, Any], *, big: bool = False) -> None:
    """Lesions by region, HI ratios and involved levels as metrics."""
    by_region = metrics.get("lesion_count_by_region")
    if not isinstance(by_region, Mapping):
        by_region = {r: metrics.get(f"lesion_count_{r}") for r in charts.REGIONS}
    involved = metrics.get("involved_levels")
    involved_text = (", ".join(involved) if isinstance(involved, (list, tuple)) and involved
                     else ("none" if isinstance(involved, (list, tuple)) else
                           ("-" if involved is None else f"{int(float(involved))} level(s)")))

    def pct(value: object) -> str:
        try:
            return f"{100 * float(value):.1f}%"  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return "-"

    def num(value: object) -> str:
        try:
            return str(int(float(value)))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return "-"

    cols = st.columns(4)
    for col, region in zip(cols, charts.REGIONS, strict=True):
        col.metric(f"{region.capitalize()} lesions", num(by_region.get(region)))
    a, b, d = st.columns(3)
    a.metric("Total lesions", num(metrics.get("lesion_count")))
    b.metric("HI ratio (overall)", pct(metrics.get("high_intensity_ratio")))
    d.metric("HI ratio (worst level)", pct(metrics.get("max_level_high_intensity_ratio")))
    if big:
        st.html(f'<div class="dss-mid">Involved levels: {involved_text}</div>')
    else:
        st.markdown(f"**Involved levels:** {involved_text}")


def prediction_panel(result: CaseResult, *, key: str, big: bool = False,
                     show_notice: bool = True) -> None:
    """Notice, predicted category, probabilities, SHAP waterfall and tier card."""
    if show_notice:
        c.decision_support_notice()
    left, right = st.columns([1, 1.35])
    with left:
        c.prediction_summary(result.prediction, big=True)
        c.chart(
            charts.probability_bars(result.prediction["probabilities"],
                                    highlight=result.prediction["category"],
                                    font_size=18 if big else 15),
            key=f"{key}_probabilities")
        c.tier_card(result.tier, big=big)
    with right:
        st.markdown("**Why: SHAP contributions** (largest first; base value → this case)")
        c.chart(charts.shap_waterfall(result.explanation,
                                              font_size=15 if big else 13),
                        key=f"{key}_waterfall")
        st.caption("SHAP values are in the model's output units (latent log-odds of more "
                   "pain), not probabilities; they add up from the base value (average "
                   "case) to this case's output.")
    st.caption(f"Model {result.prediction.get('model_version', '?')}.")
