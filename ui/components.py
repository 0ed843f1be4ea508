"""Shared Streamlit components: notice banner, synthetic marks, tier card, error wrapper."""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import streamlit as st

from core import DECISION_SUPPORT_NOTICE

T = TypeVar("T")

SYNTHETIC_MARK = "SYNTHETIC"

CATEGORY_COLOUR = {"mild": "#2e7d32", "moderate": "#ef6c00", "severe": "#c62828"}
URGENCY_COLOUR = {"routine": "#2e7d32", "soon": "#ef6c00", "urgent": "#c62828"}


def _dot(colour: str | None) -> str:
    """A coloured dot (no emoji font needed)."""
    return f'<span style="color:{colour or "#777"}">&#9679;</span>'


#: Errors from core that are shown as one plain sentence.
USER_ERRORS: tuple[type[Exception], ...] = (ValueError, FileNotFoundError)


def plain_sentence(exc: BaseException) -> str:
    """First line of an exception message, as one sentence (never a traceback)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, FileNotFoundError) and exc.filename and not str(exc).strip():
        text = "A required file is missing."
    return text if text.endswith((".", "!", "?")) else text + "."


def show_error(exc: BaseException, prefix: str = "") -> None:
    """``st.error`` with one plain sentence."""
    st.error((prefix + " " if prefix else "") + plain_sentence(exc), icon=":material/warning:")


@contextlib.contextmanager
def core_errors(prefix: str = "", *, stop: bool = False) -> Iterator[None]:
    """Turn a ``ValueError`` / ``FileNotFoundError`` from core into one ``st.error``.

    The exception is swallowed (so the rest of the page still renders) unless
    ``stop`` is true, in which case the script run stops after the message.
    """
    try:
        yield
    except USER_ERRORS as exc:
        show_error(exc, prefix)
        if stop:
            st.stop()


def run_safely(func: Callable[..., T], *args: Any, prefix: str = "", **kwargs: Any) -> T | None:
    """Call ``func``; on a user error show it as one sentence and return None."""
    try:
        return func(*args, **kwargs)
    except USER_ERRORS as exc:
        show_error(exc, prefix)
        return None


_CSS = """
<style>
.dss-notice{border-left:6px solid #b71c1c;background:rgba(183,28,28,.08);padding:.55rem .9rem;
 border-radius:4px;font-weight:600;margin:.2rem 0 .8rem 0}
.dss-synthetic{display:inline-block;background:#6a1b9a;color:#fff;font-weight:700;
 letter-spacing:.12em;padding:.05rem .5rem;border-radius:4px;font-size:.85em}
.dss-big{font-size:2.1rem;font-weight:800;line-height:1.15}
.dss-mid{font-size:1.25rem;font-weight:600}
.dss-card{border:1px solid rgba(128,128,128,.35);border-radius:8px;padding:.6rem .9rem}
/* slices keep their aspect ratio and never overflow their column */
[data-testid="stImageContainer"],[data-testid="stImageContainer"] img{max-width:100%;height:auto}
</style>
"""


def page_style() -> None:
    """Inject the small shared stylesheet (call once per page)."""
    st.html(_CSS)


def decision_support_notice(extra: str | None = None) -> None:
    """The persistent decision-support notice shown on every prediction screen."""
    text = DECISION_SUPPORT_NOTICE + (f" {extra}" if extra else "")
    st.html(f'<div class="dss-notice" role="note" data-testid="decision-support-notice">'
            f"{html.escape(text)}</div>")


def synthetic_badge(synthetic: bool, note: str = "demo case, not a real patient") -> None:
    """A visible SYNTHETIC mark for synthetic (demo) rows, cases, data and models."""
    if synthetic:
        st.html(f'<span class="dss-synthetic" data-testid="synthetic-mark">{SYNTHETIC_MARK}</span>'
                f" <small>{html.escape(note)}</small>")


def synthetic_label(synthetic: object) -> str:
    """Text prefix used in tables and select boxes."""
    return f"[{SYNTHETIC_MARK}] " if bool(synthetic) else ""


def _remember_actor() -> None:
    from ui.state import ACTOR_KEY

    value = str(st.session_state.get("sidebar_actor", "")).strip()[:64]
    st.session_state[ACTOR_KEY] = value or None


def sidebar() -> None:
    """Sidebar on every page: the active model and the name written to the audit log."""
    from ui.state import ACTOR_KEY, DEFAULT_ACTOR, active_model_dir

    with st.sidebar:
        if "sidebar_actor" not in st.session_state:
            st.session_state["sidebar_actor"] = st.session_state.get(ACTOR_KEY) or ""
        st.text_input("Your name or role (audit log)", key="sidebar_actor",
                      placeholder=DEFAULT_ACTOR, on_change=_remember_actor, max_chars=64)
        st.caption(f"Model in use: **{active_model_dir().name}** (change it on the Model page).")
        st.caption("Decision support, not a diagnosis.")


def ensure_router() -> None:
    """Make every page run through ``app.py`` (``st.navigation``).

    Because the page files live in ``pages/``, Streamlit starts in its legacy
    pages-folder mode until the entry point has called ``st.navigation`` once; a deep
    link opened before that (e.g. ``/tumor_board`` right after the server starts) would
    run the page file alone, without the page configuration and the navigation. The
    page then switches the mode off and reruns through the entry point. (Streamlit
    has no public switch for this; the class attribute is the one ``st.navigation``
    itself clears.)
    """
    try:
        from streamlit import config
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a future Streamlit without the legacy mode
        return
    if config.get_option("global.appTest"):
        # AppTest resets the mode before every run; a rerun there would drop the
        # button clicks of that run, and the pages behave the same either way.
        return
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_header(title: str, subtitle: str | None = None) -> None:
    """Title, the shared style and the sidebar (call first on every page)."""
    ensure_router()
    page_style()
    sidebar()
    st.title(title)
    if subtitle:
        st.caption(subtitle)


def prediction_summary(prediction: Mapping[str, Any], *, big: bool = True) -> None:
    """Predicted category and expected VAS in large type, plus imputed features."""
    category = str(prediction.get("category", "-"))
    vas = prediction.get("expected_vas")
    size = "dss-big" if big else "dss-mid"
    vas_text = "-" if vas is None else f"{float(vas):.1f}"
    st.html(f'<div class="{size}" data-testid="predicted-category">'
            f"{_dot(CATEGORY_COLOUR.get(category))} {html.escape(category.capitalize())} pain</div>"
            f'<div class="dss-mid">Expected VAS {vas_text} / 10</div>')
    st.caption("Category: the most probable band (mild 0-3, moderate 4-6, severe 7-10). "
               "Expected VAS: the probability-weighted average, so it can fall in a "
               "neighbouring band.")
    imputed = list(prediction.get("imputed") or [])
    if imputed:
        from core.features import FEATURES_BY_NAME

        names = ", ".join(FEATURES_BY_NAME[n].label if n in FEATURES_BY_NAME else n
                          for n in imputed)
        st.caption(f"Missing, replaced by the training median: {names}.")


def tier_card(tier: Mapping[str, Any], *, big: bool = False) -> None:
    """Tier, urgency, overrides (``st.error`` urgent / ``st.warning`` soon) and
    recommendations with their references."""
    urgency = str(tier.get("urgency", "routine"))
    label = str(tier.get("tier_label", ""))
    if not label.lower().startswith("tier"):
        label = f"Tier {tier.get('tier', '-')}: {label}"
    head = "dss-big" if big else "dss-mid"
    st.html(f'<div class="{head}" data-testid="tier-label">{html.escape(label)}</div>'
            f"<div class=\"dss-mid\">Urgency: {_dot(URGENCY_COLOUR.get(urgency))} "
            f"<b>{html.escape(urgency)}</b></div>")
    for override in tier.get("overrides") or []:
        text = (f"**{override.get('action', '')}**  \n"
                f"{override.get('reason', '')}  \n"
                f"*Reference:* {override.get('reference', '')}")
        if override.get("urgency") == "urgent":
            st.error(text, icon=":material/emergency:")
        else:
            st.warning(text, icon=":material/warning:")
    missing = list(tier.get("missing_safety_inputs") or [])
    if missing:
        from core.features import FEATURES_BY_NAME

        names = [FEATURES_BY_NAME[m].label if m in FEATURES_BY_NAME else m for m in missing]
        st.info("Not recorded, so their safety overrides could not be checked: "
                + ", ".join(names) + ".", icon=":material/info:")
    recs = list(tier.get("recommendations") or [])
    if recs:
        st.markdown("**Recommendations**")
        for i, rec in enumerate(recs, 1):
            st.markdown(f"{i}. {rec.get('text', '')}")
        with st.expander("References"):
            seen: list[str] = []
            for item in [*recs, *(tier.get("overrides") or [])]:
                ref = str(item.get("reference", "")).strip()
                if ref and ref not in seen:
                    seen.append(ref)
            for i, ref in enumerate(seen, 1):
                st.markdown(f"{i}. {ref}")


def model_caption(card: Mapping[str, Any]) -> None:
    """One line naming the active model and whether its training data are synthetic."""
    synthetic = bool(card.get("synthetic"))
    kind = "demo model trained on SYNTHETIC data" if synthetic else "site model"
    st.caption(f"Model {card.get('version', '?')} — {kind}.")


def _chart_height(chart: Any) -> int | None:
    """Plot height declared on an altair chart (sum over a vertical concat)."""
    import altair as alt

    if isinstance(chart, alt.VConcatChart):
        parts = [_chart_height(sub) for sub in chart.vconcat]
        known = [p for p in parts if p]
        return sum(known) + 70 * (len(parts) - 1) if known else None
    height = getattr(chart, "height", None)
    return int(height) if isinstance(height, (int, float)) else None


def chart(chart: Any, *, key: str, extra: int = 95) -> None:
    """``st.altair_chart`` at the chart's own height (the Streamlit theme otherwise
    squeezes charts that declare a height), plus room for title, axis and legend."""
    import altair as alt

    height = _chart_height(chart)
    if height is None or isinstance(chart, (alt.VConcatChart, alt.ConcatChart)):
        # Concatenated charts size themselves ("content"): a fixed height from the
        # parts' plot heights left no room for their titles, axes and legends, and the
        # chart spilled over the elements below (the history chart over the button).
        st.altair_chart(chart, key=key)
    else:
        st.altair_chart(chart, key=key, height=height + extra)
