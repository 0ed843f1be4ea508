"""The tumor board's linked explanation: SHAP bars, spine diagram, level table, viewer.

Selecting a SHAP bar of an imaging feature highlights the levels its value comes from
(:func:`core.feature_levels.feature_levels`) in the viewer (yellow borders, their lesions
outlined) and in the spine diagram, and the viewer jumps to the most affected of them;
selecting a level in the spine diagram or the level table highlights it and jumps to it.
The last selection made wins; clearing it clears the highlight. Selections are read from
the session before the widgets are drawn, so the viewer moves in the same run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.assess import Assessment
from core.feature_levels import feature_levels
from core.features import FEATURES, FEATURES_BY_NAME
from core.store import StudyRecord
from core.vocab import finite_float
from ui import advice, bars, case_views, charts, viewer
from ui import components as c
from ui.cache import stored_study_images

PICK = "pick"
#: SHAP bar label (before " = value") -> feature name.
LABEL_TO_FEATURE = {f.label: f.name for f in FEATURES}


@dataclass(frozen=True)
class Link:
    """What is highlighted: the levels, the level to show, a sentence, and a token that
    changes with every new selection (the viewer jumps once per token)."""

    levels: tuple[str, ...]
    jump: str | None
    text: str
    token: int


def feature_of_label(label: object) -> str | None:
    """The feature of a SHAP waterfall bar label (``"<label> = <value>"``), if any."""
    if not isinstance(label, str):
        return None
    return LABEL_TO_FEATURE.get(label.split(" = ")[0].strip())


def _most_affected(names: Sequence[str], levels: Sequence[Mapping[str, Any]]) -> str | None:
    ratio = {str(r["level"]): finite_float(r.get("high_intensity_ratio")) or 0.0 for r in levels}
    return max(names, key=lambda n: ratio.get(n, 0.0)) if names else None


def link_for(source: str, value: str, levels: Sequence[Mapping[str, Any]],
             token: int) -> Link:
    """The highlight of one selection: a SHAP feature (``source == "shap"``) or a level."""
    if source != "shap":
        return Link((value,), value, f"Level {value} selected.", token)
    names = feature_levels(value, levels)
    spec = FEATURES_BY_NAME[value]
    if not names:
        text = (f"{spec.label}: no level of this study contributes." if spec.group == "imaging"
                else f"{spec.label}: a clinical finding, not measured on a level.")
        return Link((), None, text, token)
    label = spec.label
    return Link(names, _most_affected(names, levels),
                f"{label} comes from {', '.join(names)}.", token)


def _picked(key: str, field: str) -> str | None:
    """The value of ``field`` picked in the chart ``key`` (from the session)."""
    state = st.session_state.get(key)
    try:
        points = state["selection"][PICK]
    except (KeyError, TypeError):
        return None
    return str(points[0][field]) if points and field in points[0] else None


def _row(key: str, names: Sequence[str]) -> str | None:
    state = st.session_state.get(key)
    try:
        rows = list(state["selection"]["rows"])
    except (KeyError, TypeError):
        return None
    return names[rows[0]] if rows and 0 <= rows[0] < len(names) else None


def current_link(study_id: int, levels: Sequence[Mapping[str, Any]]) -> Link | None:
    """Read the three selections of a study's card and return the highlight: the most
    recently changed selection wins; a cleared one clears its highlight."""
    ss = st.session_state
    names = [str(r["level"]) for r in charts.level_frame(levels).to_dict(orient="records")]
    now = {"shap": feature_of_label(_picked(f"board_shap_{study_id}", "label")),
           "spine": _picked(f"board_spine_{study_id}", "level"),
           "table": _row(f"board_levels_{study_id}", names)}
    seen = ss.get(f"board_link_seen_{study_id}", {})
    link: Link | None = ss.get(f"board_link_{study_id}")
    for source, value in now.items():
        if value == seen.get(source):
            continue
        token = (link.token if link else 0) + 1
        link = link_for(source, value, levels, token) if value else None
    ss[f"board_link_seen_{study_id}"] = now
    ss[f"board_link_{study_id}"] = link
    return link


def _selectable(chart: alt.LayerChart, field: str, highlight: Sequence[str] = ()
                ) -> alt.LayerChart:
    """``chart`` with a click selection on its bar/rect layer (``PICK`` on ``field``);
    ``highlight`` values get a thick yellow border."""
    chart = chart.copy(deep=True)
    pick = alt.selection_point(name=PICK, fields=[field], on="click", clear="dblclick")
    layers = list(chart.layer)
    for i, layer in enumerate(layers):
        mark = layer.mark if isinstance(layer.mark, str) else layer.mark.type
        if mark in ("bar", "rect"):
            extra: dict[str, Any] = {}
            if highlight:
                lit = alt.FieldOneOfPredicate(field=field, oneOf=list(highlight))
                extra = {"stroke": alt.condition(lit, alt.value("#ffd600"), alt.value("#444")),
                         "strokeWidth": alt.condition(lit, alt.value(5), alt.value(0.6))}
            layers[i] = layer.add_params(pick).encode(**extra)
            break
    chart.layer = layers
    return chart


def selectable_waterfall(explanation: Mapping[str, Any], *, font_size: int) -> alt.LayerChart:
    """The SHAP waterfall whose bars can be clicked (``PICK`` on the bar label)."""
    return _selectable(charts.shap_waterfall(explanation, font_size=font_size), "label")


def selectable_spine(levels: Sequence[Mapping[str, Any]], highlight: Sequence[str] = ()
                     ) -> alt.LayerChart:
    """The spine diagram whose levels can be clicked, ``highlight`` levels outlined."""
    return _selectable(charts.spine_diagram(levels, height_per_level=20), "level", highlight)


def explanation(result: Assessment, study_id: int, *, big: bool, synthetic_model: bool,
                linked: bool = True) -> None:
    """The probabilities (the estimate itself is on the fold, beneath the advice's
    headline) and the SHAP waterfall, then the recommendations, notes and the model line.

    ``linked``: the study has per-level measurements, so the waterfall's bars can be
    clicked to show their levels (a Vega chart). Otherwise a click would have nothing to
    show, and the waterfall is the New case page's inline SVG (no chart engine: a faster
    page switch)."""
    left, right = st.columns([1, 1.35])
    prediction = result.prediction
    with left:
        bars.probability_bars(prediction.probabilities, highlight=prediction.category,
                              font_size=18 if big else 15)
        st.caption(advice.estimate_legend(result))
    with right:
        if linked:
            st.markdown("**Why: SHAP contributions** (click an imaging bar to see its levels "
                        "in the image; double-click clears)")
            chart = c.cached_chart(selectable_waterfall, result.explanation.to_dict(),
                                   font_size=15 if big else 13)
            c.chart(chart, key=f"board_shap_{study_id}", on_select="rerun",
                    selection_mode=[PICK])
            st.caption(charts.SHAP_UNITS_NOTE)
        else:
            case_views.shap_svg(result)
    advice.recommendations(result.tier)
    advice.notes(result)
    advice.model_line(result, synthetic_model=synthetic_model)


def imaging(record: StudyRecord, link: Link | None) -> None:
    """The viewer (highlight and jump from ``link``), the spine diagram and the level
    table, both selectable."""
    levels = list(record.levels)
    if not levels:
        return
    highlight = link.levels if link else ()
    if link is not None:
        st.info(link.text, icon=":material/link:")
    images = stored_study_images(record)
    if images is not None:
        ss = st.session_state
        if link is not None and link.jump and ss.get("board_viewer_token") != (
                record.study_id, link.token):
            viewer.jump_to("board_viewer", link.jump, images.vertebrae, images.lesions,
                           images.level_names)
            ss["board_viewer_token"] = (record.study_id, link.token)
        viewer.slice_viewer("board_viewer", images.volume, images.spacing_xyz,
                            image_id=f"study-{record.study_id}", vertebrae=images.vertebrae,
                            lesions=images.lesions, level_names=images.level_names,
                            highlight=highlight)
    spine, table = st.columns([1, 2])
    with spine:
        chart = c.cached_chart(selectable_spine, [dict(r) for r in levels], tuple(highlight))
        c.chart(chart, key=f"board_spine_{record.study_id}", on_select="rerun",
                selection_mode=[PICK], extra=charts.SPINE_EXTRA_PX)
    with table:
        st.markdown("**Per-level measurements** (select a row to show the level)")
        frame = level_rows(levels)
        st.dataframe(frame, hide_index=True, key=f"board_levels_{record.study_id}",
                     on_select="rerun", selection_mode="single-row",
                     column_config={"HI ratio (%)": st.column_config.ProgressColumn(
                         "HI ratio (%)", min_value=0.0, max_value=100.0, format="%.1f%%")})


def level_rows(levels: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The per-level table as shown (craniocaudal, HI ratio in %)."""
    frame = charts.level_frame(levels)
    return pd.DataFrame({
        "Level": frame["level"], "Region": frame["region"], "Lesions": frame["lesion_count"],
        "HI ratio (%)": frame["hi_pct"].round(1),
        "HI volume (ml)": pd.to_numeric(frame["high_intensity_volume_ml"]).round(2),
        "Vertebra volume (ml)": pd.to_numeric(frame["vertebra_volume_ml"]).round(1)})

