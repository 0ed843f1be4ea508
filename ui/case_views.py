"""Case-level renderers shared by New case, Tumor board, What-if and Report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.assess import Assessment
from core.metrics import imaging_summary
from core.vocab import NOT_RECORDED, REGIONS, display
from ui import advice, bars, charts
from ui import components as c


def level_table(levels: Sequence[Mapping[str, Any]], *, key: str,
                flags: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per-level measurements, craniocaudal, as an ``st.dataframe`` (returns the frame).
    ``flags`` (level -> label-QA codes, :func:`ui.level_qc.level_flags`) adds a
    "Label QA" column beside the HI ratio of the flagged levels."""
    frame = charts.level_frame(levels)
    shown = pd.DataFrame({
        "Level": frame["level"],
        "Region": frame["region"],
        "Lesions": frame["lesion_count"],
        "HI ratio (%)": frame["hi_pct"].round(1),
        **({"Label QA": frame["level"].map(lambda lv: flags.get(lv, ""))} if flags else {}),
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


def involved_text(names: Sequence[str] | None, count: object) -> str:
    """Involved levels as read: the level names, ``none``, or a count of levels."""
    if names is not None:
        return ", ".join(names) if names else "none"
    text = display("count", count)
    return text if text == NOT_RECORDED else f"{text} level(s)"


def burden_summary(case: Mapping[str, Any], *, big: bool = False) -> None:
    """Lesions by region, HI ratios and involved levels as metrics, from a case's imaging
    values in either form (:func:`core.metrics.imaging_summary`)."""
    summary = imaging_summary(case)
    for col, region in zip(st.columns(len(REGIONS)), REGIONS, strict=True):
        col.metric(f"{region.capitalize()} lesions",
                   display("count", summary.lesion_count_by_region[region]))
    a, b, d = st.columns(3)
    a.metric("Total lesions", display("count", summary.lesion_count))
    b.metric("HI ratio (overall)", display("percent", summary.high_intensity_ratio))
    d.metric("HI ratio (worst level)", display("percent",
                                               summary.max_level_high_intensity_ratio))
    text = involved_text(summary.involved_level_names, summary.involved_levels)
    if big:
        st.html(f'<div class="dss-mid">Involved levels: {text}</div>')
    else:
        st.markdown(f"**Involved levels:** {text}")


def headline(result: Assessment, *, big: bool = False) -> None:
    """The tier headline banner and each fired override's action (overrides first)."""
    advice.style()
    advice.headline_banner(result.tier, big=big)
    advice.override_details(result.tier.overrides)


def prediction_panel(result: Assessment, *, synthetic_model: bool,
                     big: bool = False, show_notice: bool = True,
                     show_headline: bool = True, show_summary: bool = True) -> None:
    """Overrides first: the notice, the tier headline (the largest heading) with each
    fired override's action, then the model's estimate beneath it (category, expected VAS,
    prediction set, recorded VAS and discordance, OOD warnings, probabilities) beside the
    SHAP explanation, then the recommendations, the notes and the model's provenance.
    ``show_headline=False`` when the page has shown :func:`headline` above already,
    ``show_summary=False`` when it has shown :func:`ui.advice.estimate_summary` too."""
    if show_notice:
        c.decision_support_notice()
    if show_headline:
        headline(result, big=big)
    if show_summary:
        st.markdown("**Model estimate** (beneath the advice: the pain the model predicts "
                    "from the imaging burden and pain-independent findings)")
    prediction = result.prediction
    left, right = st.columns([1, 1.35])
    with left:
        if show_summary:
            advice.estimate_summary(result, big=big)
        bars.probability_bars(prediction.probabilities, highlight=prediction.category,
                              font_size=18 if big else 15)
    with right:
        shap_svg(result)
    advice.recommendations(result.tier)
    advice.notes(result)
    advice.model_line(result, synthetic_model=synthetic_model)


def shap_svg(result: Assessment) -> None:
    """The SHAP waterfall as inline SVG (:func:`ui.bars.shap_waterfall`) under its
    heading, with the note on its units."""
    st.markdown("**Why: SHAP contributions** (largest first; base value → this case)")
    bars.shap_waterfall(result.explanation.to_dict())
    st.caption(charts.SHAP_UNITS_NOTE)


def unassessed_notice(scored: pd.DataFrame, *, key: str) -> None:
    """Name the studies the model could not assess and why
    (``assessment_error`` of :func:`core.assess.assess_frame`); nothing when all were."""
    failed = scored[scored["assessment_error"].notna()]
    errors_notice(failed[["study_id", "patient_id", "assessment_error"]], len(scored), key=key)


def errors_notice(failed: pd.DataFrame, total: int, *, key: str) -> None:
    """The studies of ``failed`` (``study_id, patient_id, assessment_error``, e.g.
    :func:`ui.scores.assessment_errors`) out of ``total``, each with its reason."""
    if failed.empty:
        return
    st.warning(f"{len(failed):,} of {total:,} studies could not be assessed; they have no "
               "prediction or tier until their values are corrected.",
               icon=":material/report:")
    st.dataframe(pd.DataFrame({
        "Study": failed["study_id"].astype(int),
        "Patient": failed["patient_id"],
        "Reason": failed["assessment_error"],
    }), hide_index=True, key=key)
