"""An assessment on screen, overrides first (New case, Tumor board, What-if, Report).

Order, as the advice engine decides it (docs/ADVICE.md): the tier headline
(``tier.headline``) is the largest heading: a fired override is an urgent red banner
(amber when it is "soon") with its action below it; "no lesion" is its own banner asking
to confirm the pain source; otherwise the headline follows the pain. The model's estimate
(category, probabilities, expected VAS, the prediction set with its coverage, the recorded
VAS with the discordance sentence, out-of-distribution warnings) sits beneath it, then the
recommendations (text and reference; their stable codes as ``data-code`` attributes) and
the notes. Values read as a clinician writes them (field labels, never column names).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import streamlit as st

from core.assess import Assessment
from core.model import Prediction
from core.report.document import field_label
from core.tiers import Override, TierDecision
from core.vocab import (
    CATEGORY_VAS_BANDS,
    URGENCY_COLOURS,
    category_colour,
    number_text,
    vas_to_category,
)
from ui import components as c

#: What the small line above the headline says, by ``headline_source``.
KICKERS = {
    "override": "Safety override: acts before the pain estimate",
    "no_lesion": "No lesion measured: confirm the pain source",
    "model": "Advice from the pain estimate",
}

_CSS = """
<style>
.dss-headline{font-size:1.9rem;font-weight:800;line-height:1.18;padding:.75rem 1rem;
 border-radius:8px;margin:.35rem 0 .6rem 0}
.dss-headline.dss-big-type{font-size:2.2rem}
.dss-headline .dss-kicker{display:block;font-size:.95rem;font-weight:700;letter-spacing:.06em;
 text-transform:uppercase;opacity:.9;margin-bottom:.2rem}
.dss-src-override{background:#b71c1c;color:#fff}
.dss-src-override.dss-urg-soon{background:#e65100;color:#fff}
.dss-src-no_lesion{background:#fff8e1;color:#3e2700;border:3px solid #e65100}
.dss-src-model{background:rgba(128,128,128,.10);border-left:12px solid var(--dss-cat)}
.dss-estimate{display:flex;flex-wrap:wrap;gap:1.4rem;align-items:flex-start}
.dss-estimate .dss-cat{font-size:1.5rem;font-weight:800;line-height:1.15}
.dss-estimate.dss-big-type .dss-cat{font-size:1.8rem}
.dss-recorded{border-left:4px solid #777;padding-left:.7rem}
.dss-recs li{margin:.25rem 0}
.dss-recs .dss-urg{font-weight:800}
.dss-refs{border:1px solid rgba(128,128,128,.3);border-radius:.5rem;margin:.5rem 0 1rem 0}
.dss-refs summary{cursor:pointer;padding:.5rem .9rem}
.dss-refs summary:hover{color:var(--st-primary-color, #ff4b4b)}
.dss-refs ol{margin:0;padding:0 .9rem .6rem 2.2rem}
.dss-refs li{margin:.2rem 0}
</style>
"""


def style() -> None:
    """The headline and estimate styles (once per page that shows an assessment)."""
    st.html(_CSS)


# ------------------------------------------------------------------------ headline


def headline_banner(tier: TierDecision, *, big: bool = False) -> None:
    """The tier headline, the largest heading of the assessment (``role=heading``)."""
    source = tier.headline_source
    colour = category_colour(tier.category) or "#777"
    classes = f"dss-headline dss-src-{source} dss-urg-{tier.urgency}"
    classes += " dss-big-type" if big else ""
    role = ' role="alert"' if source == "override" else ""
    st.html(f'<div class="{classes}" style="--dss-cat:{colour}" data-testid="advice-headline" '
            f'data-source="{html.escape(source)}" data-urgency="{html.escape(tier.urgency)}"'
            f'{role}><span class="dss-kicker">{html.escape(KICKERS.get(source, ""))}</span>'
            f'<span role="heading" aria-level="2">{html.escape(tier.headline)}</span></div>')


def override_details(overrides: Sequence[Override]) -> None:
    """Each fired override: its action, why it fired and its reference (urgent in red)."""
    for override in overrides:
        text = (f"**{override.action}**  \nWhy: {override.reason}  \n"
                f"*Reference:* {override.reference}")
        if override.urgency == "urgent":
            st.error(text, icon=":material/emergency:")
        else:
            st.warning(text, icon=":material/warning:")


# ------------------------------------------------------------------------ estimate


def set_text(categories: Sequence[str], coverage: float | None) -> str:
    """``"90 % set: moderate or severe"`` (the prediction set with its coverage)."""
    if not categories:
        return "Prediction set: not available"
    head = "Prediction set" if coverage is None else f"{100 * coverage:.0f} % set"
    names = " or ".join(categories)
    return f"{head}: {names}" + (" only" if len(categories) == 1 else "")


def _recorded_html(result: Assessment) -> str:
    vas = result.recorded_vas
    text = ("not recorded" if vas is None
            else f"{number_text(vas, 1)} ({vas_to_category(vas)})")
    return (f'<div class="dss-recorded" data-testid="recorded-vas"><div class="dss-mid">'
            f"Recorded VAS {html.escape(text)}</div><small>what the patient reports; never "
            "a model input</small></div>")


def estimate_summary(result: Assessment, *, big: bool = False) -> None:
    """Predicted category and expected VAS with the recorded VAS beside them, the
    prediction set with its coverage, the discordance sentence and OOD warnings."""
    prediction, tier = result.prediction, result.tier
    category = prediction.category
    ps = result.prediction_set
    st.html(
        f'<div class="dss-estimate{" dss-big-type" if big else ""}"><div>'
        f'<div class="dss-cat" data-testid="predicted-category">'
        f'<span style="color:{category_colour(category) or "#777"}">&#9679;</span> '
        f"{html.escape(category.capitalize())} pain</div>"
        f'<div class="dss-mid">Expected VAS {prediction.expected_vas:.1f} / 10</div>'
        f'<div class="dss-mid" data-testid="prediction-set">'
        f"{html.escape(set_text(ps.categories, ps.coverage))}</div>"
        f'<div data-testid="tier-label">{html.escape(tier.tier_label)} · urgency '
        f'<span style="color:{URGENCY_COLOURS.get(tier.urgency, "#777")}">&#9679;</span> '
        f"<b>{html.escape(tier.urgency)}</b></div></div>{_recorded_html(result)}</div>")
    st.caption(estimate_legend(result))
    if result.discordance is not None:
        if result.discordance.discordant:
            st.warning(result.discordance.sentence, icon=":material/compare_arrows:")
        else:
            st.caption(result.discordance.sentence)
    if len(result.ood) == 1:
        st.warning(f"Outside the training data: {result.ood[0]}",
                   icon=":material/travel_explore:")
    elif result.ood:  # one box, not one per input
        st.warning("Outside the training data:\n" + "\n".join(f"- {r}" for r in result.ood),
                   icon=":material/travel_explore:")
    imputed_caption(prediction)


def estimate_legend(result: Assessment) -> str:
    """What the category, the expected VAS and the prediction set mean (one caption)."""
    bands = ", ".join(f"{k} {b.removeprefix('VAS ')}" for k, b in CATEGORY_VAS_BANDS.items())
    coverage = result.prediction_set.coverage
    share = "the stated share" if coverage is None else f"{100 * coverage:.0f} %"
    return (f"Category: the most probable band ({bands}); expected VAS: the "
            "probability-weighted average. The set holds the true category for about "
            f"{share} of patients like the training ones (split-conformal on "
            "cross-validation).")


def imputed_text(prediction: Prediction) -> str | None:
    """The inputs the estimate imputed, named as not recorded; None when none was."""
    if not prediction.imputed:
        return None
    return ("Not recorded, replaced by the training median for the estimate only: "
            + ", ".join(field_label(n) for n in prediction.imputed) + ".")


def imputed_caption(prediction: Prediction) -> None:
    text = imputed_text(prediction)
    if text:
        st.caption(text)


# ------------------------------------------------------------------ recommendations


def _split(reference: str) -> list[str]:
    return [r.strip() for r in str(reference).split(" | ") if r.strip()]


def recommendations(tier: TierDecision) -> None:
    """Numbered recommendations (urgency first when an override brought them) with their
    reference marks, then the references they and the overrides cite, numbered in order
    of first use, under a native disclosure (``<details>``: one element, no Streamlit
    expander whose content every run draws); the stable codes are the items'
    ``data-code`` attributes."""
    if not tier.recommendations:
        st.caption("No recommendation.")
        return
    refs: list[str] = []
    items = []
    for rec in tier.recommendations:
        marks = []
        for ref in _split(rec.reference):
            if ref not in refs:
                refs.append(ref)
            marks.append(str(refs.index(ref) + 1))
        urgency = (f'<span class="dss-urg">{html.escape(rec.urgency.upper())}:</span> '
                   if rec.urgency in ("soon", "urgent") else "")
        items.append(f'<li data-code="{html.escape(rec.code)}" '
                     f'data-urgency="{html.escape(rec.urgency or "")}">{urgency}'
                     f"{html.escape(rec.text)} <sup>[{', '.join(marks)}]</sup></li>")
    for override in tier.overrides:
        for ref in _split(override.reference):
            if ref not in refs:
                refs.append(ref)
    cited = "".join(f"<li>{html.escape(ref)}</li>" for ref in refs)
    st.html('<div data-testid="recommendations"><b>Recommendations</b>'
            f'<ol class="dss-recs">{"".join(items)}</ol></div>'
            f'<details class="dss-refs" data-testid="references"><summary>References '
            f"({len(refs)})</summary><ol>{cited}</ol></details>")


def notes(result: Assessment) -> None:
    """Safety inputs that could not be checked, how inputs were read, the advice's notes."""
    tier = result.tier
    if tier.missing_safety_inputs:
        st.warning("Not recorded, so their safety overrides could not be checked: "
                   + ", ".join(field_label(m) for m in tier.missing_safety_inputs) + ".",
                   icon=":material/rule:")
    if result.context_warnings:
        st.warning("\n".join(f"- {w}" for w in result.context_warnings)
                   if len(result.context_warnings) > 1 else result.context_warnings[0],
                   icon=":material/info:")
    rest = [n for n in tier.notes if n not in result.context_warnings]
    if rest:
        st.info("\n".join(f"- {n}" for n in rest), icon=":material/info:")


def model_text(result: Assessment, *, synthetic_model: bool) -> str:
    """What the estimate's model learnt from, in one sentence (no SYNTHETIC mark)."""
    if synthetic_model:
        return (f"model {result.model_version} was trained on a synthetic cohort: the "
                "estimate is illustrative, not evidence")
    return f"Model {result.model_version} (site model)."


def model_sentence(result: Assessment, *, synthetic_model: bool) -> str:
    """:func:`model_text` as a sentence of its own (e.g. after the decision-support notice)."""
    text = model_text(result, synthetic_model=synthetic_model)
    return f"The {text}." if synthetic_model else text


def model_line(result: Assessment, *, synthetic_model: bool) -> None:
    """The model that made the estimate, marked SYNTHETIC when it learnt from demo data."""
    text = model_text(result, synthetic_model=synthetic_model)
    if synthetic_model:
        c.synthetic_badge(True, text)
    else:
        st.caption(text)


def compact(result: Assessment, *, synthetic_model: bool) -> None:
    """Headline, overrides and the estimate without charts (the Report page)."""
    style()
    headline_banner(result.tier)
    override_details(result.tier.overrides)
    st.markdown("**Model estimate** (beneath the advice)")
    estimate_summary(result)
    model_line(result, synthetic_model=synthetic_model)
