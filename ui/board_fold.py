"""The tumor board card above the fold: what a 1280 x 720 projector shows without
scrolling.

Key image (or, without an image, the burden in large type and the patient's earlier
studies), the advice's headline with each fired override's action (overrides first, the
headline the largest type), recorded vs predicted pain and the burden in clinical words:
the involved levels by name, lumbar involvement yes/no (never hidden behind
"multiple"), lesions per region, the HI ratio overall and at the worst level in %.
The projection style hides the sidebar and tightens the page's margins.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from core.assess import Assessment
from core.feature_levels import feature_levels, worst_level
from core.metrics import imaging_summary
from core.store import StudyRecord
from core.tiers import Override
from core.vocab import (
    NOT_RECORDED,
    REGIONS,
    category_colour,
    display,
    finite_float,
    number_text,
    vas_to_category,
)
from ui import advice, slice_render
from ui import components as c
from ui.advice import set_text
from ui.cache import stored_study_images

#: Projection: the sidebar hidden, small margins, a compact title, large type. The
#: (transparent) header lies over the navigation bar: it lets clicks through except on
#: its own buttons.
PROJECTION_CSS = """
<style>
[data-testid="stSidebar"],[data-testid="stSidebarCollapsedControl"]{display:none}
[data-testid="stHeader"]{background:transparent}
[data-testid="stHeader"],[data-testid="stHeader"] *{pointer-events:none}
[data-testid="stHeader"] button,[data-testid="stHeader"] a{pointer-events:auto}
[data-testid="stMainBlockContainer"]{padding-top:.6rem;padding-bottom:1rem;max-width:100%}
[data-testid="stMainBlockContainer"] h1{font-size:1.3rem;padding:0;line-height:1.4}
.dss-fold{font-size:1.08rem;line-height:1.32}
.dss-fold .dss-big-line{font-size:1.28rem;font-weight:700}
[data-testid="stMain"] [data-testid="stVerticalBlock"]{gap:.55rem}
[data-testid="stMain"] .dss-headline.dss-big-type{padding:.4rem .75rem;margin:0 0 .15rem 0}
[data-testid="stMain"] .dss-headline .dss-kicker{font-size:.8rem;margin-bottom:.1rem}
[data-testid="stMain"] .dss-headline.dss-big-type{font-size:1.45rem;line-height:1.16}
[data-testid="stMain"] .dss-notice{font-size:.72rem;padding:.15rem .6rem;margin:0;font-weight:500;
 line-height:1.25}
[data-testid="stMain"] .dss-estimate.dss-big-type .dss-cat{font-size:1.4rem}
.st-key-board_overrides [data-testid="stVerticalBlock"]{gap:.3rem}
.st-key-board_overrides [data-testid="stAlertContainer"]{padding:.3rem .65rem}
.st-key-board_overrides [data-testid="stAlertContainer"] p{font-size:.84rem;line-height:1.28}
.dss-fold .dss-small{font-size:.86rem;line-height:1.25}
[data-testid="stMain"] [data-testid="stImageCaption"]{font-size:.75rem;margin-top:.1rem}
</style>
"""

_FOLD_CSS = """
<style>
.dss-fold-box{border:1px solid rgba(128,128,128,.35);border-radius:8px;padding:.45rem .75rem;
 margin:.25rem 0 .4rem 0}
.dss-fold-box h4{margin:0 0 .2rem 0;font-size:.95rem;text-transform:uppercase;
 letter-spacing:.05em;opacity:.75}
.dss-fold-row{display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;align-items:baseline}
.dss-fold-box b.dss-yes{color:#b71c1c}
.dss-fold-title{font-size:1.15rem;font-weight:700;margin:.1rem 0 .2rem 0}
.dss-notice-small{font-size:.8rem;opacity:.85;margin:0 0 .2rem 0}
</style>
"""


def style(big: bool) -> None:
    """The fold's styles; with ``big`` the projection layout."""
    st.html(_FOLD_CSS + (PROJECTION_CSS if big else ""))


# ---------------------------------------------------------------------- burden (pure)


@dataclass(frozen=True)
class Burden:
    """The burden of one study in clinical words (every field already text)."""

    involved: str
    lumbar: str
    lesions_by_region: str
    total_lesions: str
    hi_overall: str
    hi_worst: str
    regions: str


def involved_text(names: Sequence[str] | None, count: object) -> str:
    """The involved levels by name; a table row without names says so with its count."""
    if names is not None:
        return ", ".join(names) if names else "none"
    n = finite_float(count)
    if n is None:
        return NOT_RECORDED
    if n == 0:
        return "none"
    return f"{int(n)} level{'s' if n != 1 else ''} (names not recorded: table data)"


def burden_of(metrics: Mapping[str, Any], levels: Sequence[Mapping[str, Any]] = ()) -> Burden:
    """The :class:`Burden` of a study's imaging values (nested extract JSON or flat
    columns, :func:`core.metrics.imaging_summary`) and its per-level rows."""
    summary = imaging_summary(metrics)
    counts = {r: finite_float(summary.lesion_count_by_region[r]) for r in REGIONS}
    lumbar = counts["lumbar"]
    lumbar_text = NOT_RECORDED if lumbar is None else (
        f"yes ({int(lumbar)} lesion{'s' if lumbar != 1 else ''})" if lumbar > 0 else "no")
    with_lesions = [r for r in REGIONS if (counts[r] or 0) > 0]
    regions = (NOT_RECORDED if any(v is None for v in counts.values())
               else " + ".join(with_lesions) or "none")
    worst = display("percent", summary.max_level_high_intensity_ratio)
    name = worst_level(levels) if levels else None
    names = summary.involved_level_names
    if names is None and levels:  # flat columns: the level rows name the involved levels
        names = feature_levels("involved_levels", levels)
    return Burden(
        involved=involved_text(names, summary.involved_levels),
        lumbar=lumbar_text,
        lesions_by_region=" · ".join(f"{r} {display('count', counts[r])}" for r in REGIONS),
        total_lesions=display("count", summary.lesion_count),
        hi_overall=display("percent", summary.high_intensity_ratio),
        hi_worst=worst + (f" ({name})" if name and worst != NOT_RECORDED else ""),
        regions=regions)


def burden_html(b: Burden) -> str:
    """The burden box (``data-testid="board-burden"``)."""
    lumbar = html.escape(b.lumbar)
    css = ' class="dss-yes"' if b.lumbar.startswith("yes") else ""
    lumbar = f"<b{css}>{lumbar}</b>"
    return (
        '<div class="dss-fold-box dss-fold" data-testid="board-burden"><h4>Burden</h4>'
        f'<div class="dss-big-line">Involved levels: {html.escape(b.involved)}</div>'
        f'<div class="dss-fold-row"><span>Lumbar involvement: {lumbar}</span>'
        f"<span>Regions: {html.escape(b.regions)}</span></div>"
        f'<div class="dss-fold-row"><span>Lesions: <b>{html.escape(b.total_lesions)}</b> '
        f"({html.escape(b.lesions_by_region)})</span></div>"
        f'<div class="dss-fold-row"><span>HI ratio overall <b>{html.escape(b.hi_overall)}</b>'
        f"</span><span>worst level <b>{html.escape(b.hi_worst)}</b></span></div></div>")


# ------------------------------------------------------------------------ pain (pure)


def pain_html(result: Assessment) -> str:
    """Recorded VAS beside the model's predicted category, expected VAS and set
    (``data-testid="board-pain"``), with the discordance sentence when they disagree,
    the inputs outside the training data and those the estimate imputed (never shown as
    recorded)."""
    vas = result.recorded_vas
    recorded = ("not recorded" if vas is None
                else f"{number_text(vas, 1)} / 10 ({vas_to_category(vas)})")
    prediction = result.prediction
    colour = category_colour(prediction.category) or "#777"
    ps = result.prediction_set
    lines = [
        '<div class="dss-fold-box dss-fold" data-testid="board-pain"><h4>Pain</h4>'
        '<div class="dss-fold-row">'
        f'<span class="dss-big-line">Recorded VAS {html.escape(recorded)}</span>'
        f'<span class="dss-big-line">Predicted: <span style="color:{colour}">&#9679;</span> '
        f"{html.escape(prediction.category)} pain, E[VAS] {prediction.expected_vas:.1f}</span>"
        "</div>",
        f"<div>{html.escape(set_text(ps.categories, ps.coverage))} · "
        f"{html.escape(result.tier.tier_label)} · urgency <b>{html.escape(result.tier.urgency)}"
        "</b></div>"]
    if result.discordance is not None and result.discordance.discordant:
        lines.append(f'<div class="dss-small"><b>Discordant:</b> '
                     f"{html.escape(result.discordance.sentence)}</div>")
    if result.ood:
        lines.append('<div class="dss-small" data-testid="board-ood"><b>Outside the training '
                     f"data:</b> {html.escape(' '.join(result.ood))}</div>")
    imputed = advice.imputed_text(prediction)
    if imputed:
        lines.append(f'<div class="dss-small" data-testid="board-imputed">{html.escape(imputed)}'
                     "</div>")
    return "".join(lines) + "</div>"


def compact_overrides(overrides: Sequence[Override]) -> None:
    """Each fired override's action and why, one small-type alert each (the references
    are below the fold, in the recommendations)."""
    if not overrides:
        return
    with st.container(key="board_overrides"):
        for o in overrides:
            text = f"**{o.action}** Why: {o.reason}"
            if o.urgency == "urgent":
                st.error(text, icon=":material/emergency:")
            else:
                st.warning(text, icon=":material/warning:")


# ------------------------------------------------------------------------ the fold


def history_html(history: pd.DataFrame, study_id: int) -> str:
    """The patient's other studies in one line each (date, VAS, lesions, HI ratio)."""
    rows = []
    for r in history.sort_values("study_date").to_dict(orient="records"):
        mark = " (this study)" if int(r["study_id"]) == int(study_id) else ""
        date = pd.Timestamp(r["study_date"]).date().isoformat()
        rows.append(f"<li>{date}{mark}: VAS {html.escape(display('number', r.get('vas')))}, "
                    f"predicted E[VAS] {html.escape(display('number', r.get('expected_vas')))}"
                    f", {html.escape(display('count', r.get('lesion_count')))} lesions, HI "
                    f"{html.escape(display('percent', r.get('high_intensity_ratio')))}</li>")
    return ('<div class="dss-fold-box dss-fold" data-testid="board-history-short"><h4>History'
            f"</h4><ul style=\"margin:0;padding-left:1.1rem\">{''.join(rows)}</ul></div>")


def key_image(record: StudyRecord, *, max_height_px: int) -> bool:
    """The key image (sagittal slice with the most lesion voxels); False without one."""
    images = stored_study_images(record)
    if images is None:
        return False
    render = slice_render.static_key_image(images.volume, images.spacing_xyz,
                                           vertebrae=images.vertebrae, lesions=images.lesions,
                                           level_names=images.level_names)
    st.image(render.rgb, width=slice_render.display_width(render.rgb, max_height_px=max_height_px),
             caption=(f"Sagittal slice {render.index + 1} (most lesion voxels: "
                      f"{render.lesion_pixels}); levels coloured, lesions red."))
    return True


def fold(record: StudyRecord, result: Assessment, history: pd.DataFrame, *,
         big: bool, synthetic_model: bool) -> None:
    """Above the fold: title and notice (with what the model learnt from), then the key
    image beside the headline, the overrides and [pain | burden]; a study without an
    image shows burden and history where the image was."""
    title = f"Study {record.study_id} · {record.patient_id} · {record.study_date.isoformat()}"
    mark = (f' <span class="dss-synthetic" data-testid="synthetic-mark">{c.SYNTHETIC_MARK}'
            "</span> <small>demo case, not a real patient</small>" if record.synthetic else "")
    st.html(f'<div class="dss-fold-title" data-testid="board-card-title">{html.escape(title)}'
            f"{mark}</div>")
    c.decision_support_notice(advice.model_sentence(result, synthetic_model=synthetic_model))
    burden = burden_html(burden_of(record.metrics, record.levels))
    has_image = stored_study_images(record) is not None
    left, right = st.columns([0.62, 1.38] if has_image else [1, 1.3])
    with right:
        advice.style()
        advice.headline_banner(result.tier, big=big)
        if big:
            compact_overrides(result.tier.overrides)
        else:
            advice.override_details(result.tier.overrides)
        if has_image:
            pain, load = st.columns(2)
            pain.html(pain_html(result))
            load.html(burden)
        else:
            st.html(pain_html(result))
    with left:
        if not key_image(record, max_height_px=500 if big else 640):
            st.html(burden)
            st.html(history_html(history, record.study_id))
