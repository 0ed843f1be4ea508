"""Shared Streamlit components: notice banner, synthetic marks, the error wrapper and
chart sizing (an assessment's headline, estimate and advice: :mod:`ui.advice`).

The bottom layer of ``ui``: it imports no other ``ui`` module (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import html
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st

from core import DECISION_SUPPORT_NOTICE

T = TypeVar("T")

SYNTHETIC_MARK = "SYNTHETIC"


# ------------------------------------------------------------------------ errors

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


# ------------------------------------------------------------------------- style

_CSS = """
<style>
.dss-notice{border-left:6px solid #b71c1c;background:rgba(183,28,28,.08);padding:.55rem .9rem;
 border-radius:4px;font-weight:600;margin:.2rem 0 .8rem 0}
.dss-synthetic{display:inline-block;background:#6a1b9a;color:#fff;font-weight:700;
 letter-spacing:.12em;padding:.05rem .5rem;border-radius:4px;font-size:.85em}
.dss-big{font-size:2.1rem;font-weight:800;line-height:1.15}
.dss-mid{font-size:1.25rem;font-weight:600}
.dss-card{border:1px solid rgba(128,128,128,.35);border-radius:8px;padding:.6rem .9rem}
.dss-probs{margin:.1rem 0 .6rem 0}
.dss-probs-title{font-weight:700;margin-bottom:.25rem}
.dss-prob{display:grid;grid-template-columns:6.5em 1fr 4.2em;align-items:center;gap:.5rem;
 margin:.18rem 0}
.dss-prob.dss-predicted{font-weight:700}
.dss-prob.dss-faded{opacity:.6}
.dss-prob-track{background:rgba(128,128,128,.15);border-radius:4px;height:1.1em}
.dss-prob-bar{display:block;height:100%;border-radius:4px}
.dss-prob-pct{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.dss-waterfall{margin:0 0 .3rem 0}.dss-waterfall figcaption{font-size:.85rem;opacity:.8}
.dss-zero-line{background:linear-gradient(90deg,transparent calc(50% - 1px),#777 calc(50% - 1px),
 #777 calc(50% + 1px),transparent calc(50% + 1px)),rgba(128,128,128,.15)}
/* small read-only tables (ui.tables) */
.dss-table-wrap{overflow:auto;margin:0 0 1rem 0}
.dss-table{border-collapse:collapse;font-size:.875rem;line-height:1.35}
.dss-table caption{caption-side:top;text-align:left;font-weight:600;padding:0 0 .3rem 0}
.dss-table th{text-align:left;font-weight:600;border-bottom:2px solid rgba(128,128,128,.45);
 padding:.3rem .7rem .3rem 0;vertical-align:bottom}
.dss-table td{border-bottom:1px solid rgba(128,128,128,.2);padding:.3rem .7rem .3rem 0;
 vertical-align:top}
.dss-table .n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.dss-table th.n{white-space:normal}.dss-table td.d{white-space:nowrap}
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


# --------------------------------------------------------------------- synthetic


def synthetic_badge(synthetic: bool, note: str = "demo case, not a real patient") -> None:
    """A visible SYNTHETIC mark for synthetic (demo) rows, cases, data and models."""
    if synthetic:
        st.html(f'<span class="dss-synthetic" data-testid="synthetic-mark">{SYNTHETIC_MARK}</span>'
                f" <small>{html.escape(note)}</small>")


def synthetic_label(synthetic: object) -> str:
    """Text prefix used in tables and select boxes."""
    return f"[{SYNTHETIC_MARK}] " if bool(synthetic) else ""


def study_label(row: Mapping[str, Any]) -> str:
    """One-line label of a study for select boxes (SYNTHETIC marked)."""
    date = row.get("study_date")
    if isinstance(date, dt.datetime):  # pandas Timestamps are datetimes too
        date = date.date()
    image = " · image" if bool(row.get("has_image")) else ""
    return (f"{synthetic_label(row.get('synthetic'))}#{int(row['study_id'])} · "
            f"{row.get('patient_id')} · {date}{image}")


def study_labels(frame: Any) -> dict[int, str]:
    """``{study_id: study_label(row)}`` of every row of a studies frame, in its order."""
    return {int(r["study_id"]): study_label(r) for r in frame.to_dict(orient="records")}


# ------------------------------------------------------------------------ charts


@dataclass(frozen=True)
class CachedChart:
    """An Altair chart built once per distinct input (:func:`cached_chart`) with the
    Vega-Lite spec Streamlit draws (``spec`` None when it could not be made here: the
    chart is then converted by ``st.altair_chart`` as before). Shared between runs and
    sessions: never modify either in place."""

    chart: Any
    spec: dict[str, Any] | None


def _streamlit_spec(chart: Any) -> dict[str, Any] | None:
    """The spec ``st.altair_chart`` would send (datasets as Arrow bytes, Streamlit's
    theme handling), made by Streamlit's own converter; None if it is not available."""
    try:
        from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec
    except ImportError:  # a Streamlit without it: st.altair_chart converts every run
        return None
    return dict(_convert_altair_to_vega_lite_spec(chart))


@st.cache_resource(show_spinner=False, max_entries=256)
def _cached_chart(name: str, _build: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> CachedChart:
    chart = _build(*args, **kwargs)
    return prepare_chart(chart)


def prepare_chart(chart: Any) -> CachedChart:
    """An Altair chart with its Vega-Lite spec, for a caller that caches it by its own
    key (e.g. a patient and the store revision) instead of hashing the chart's data."""
    return CachedChart(chart, _streamlit_spec(chart))


def cached_chart(build: Callable[..., Any], *args: Any, **kwargs: Any) -> CachedChart:
    """``build(*args, **kwargs)`` and its Vega-Lite spec, made once per distinct input
    (arguments hashed by Streamlit: plain values, dicts, lists, frames) and shared: a
    warm page run neither builds nor validates nor serialises the chart again (the
    Altair part was most of the board's, What-if's and Surveillance's server time)."""
    return _cached_chart(f"{build.__module__}.{build.__qualname__}", build, args, kwargs)


def _chart_height(chart: Any) -> int | None:
    """Plot height declared on an altair chart (sum over a vertical concat)."""
    import altair as alt  # lazy: Home must not pay for altair

    if isinstance(chart, alt.VConcatChart):
        parts = [_chart_height(sub) for sub in chart.vconcat]
        known = [p for p in parts if p]
        return sum(known) + 70 * (len(parts) - 1) if known else None
    height = getattr(chart, "height", None)
    return int(height) if isinstance(height, (int, float)) else None


def chart(chart: Any, *, key: str, extra: int = 95, on_select: str = "ignore",
          selection_mode: Any = None, height: int | None = None) -> Any:
    """``st.altair_chart`` at the chart's own height (the Streamlit theme otherwise
    squeezes charts that declare a height), plus room for title, axis and legend.

    ``chart`` is an Altair chart, a :class:`CachedChart` (drawn from its spec with
    ``st.vega_lite_chart``: the same element, without converting the chart again), or a
    Vega-Lite spec as JSON text (:func:`ui.charts.chart_spec`, which the exports also
    read). ``height`` overrides the computed one; ``on_select`` / ``selection_mode`` as
    in ``st.altair_chart``. Returns the element (or its selection state)."""
    altair_chart, spec, plot, sized = _drawn(chart)
    if height is None and plot is not None and sized:
        height = plot + extra
    options: dict[str, Any] = {"key": key}
    if height is not None:
        options["height"] = height
    if on_select != "ignore":
        options.update(on_select=on_select, selection_mode=selection_mode)
    if spec is not None:
        return st.vega_lite_chart(spec=spec, **options)
    return st.altair_chart(altair_chart, **options)


def _drawn(chart: Any) -> tuple[Any, dict[str, Any] | None, int | None, bool]:
    """``(Altair chart, spec to draw instead, declared plot height, whether that height
    sizes the element)`` of what :func:`chart` was given."""
    if isinstance(chart, str):
        spec = json.loads(chart)
        height = spec.get("height")
        plot = int(height) if isinstance(height, (int, float)) else None
        return None, spec, plot, not {"vconcat", "hconcat", "concat"} & set(spec)
    import altair as alt  # lazy: Home must not pay for altair

    altair_chart = chart.chart if isinstance(chart, CachedChart) else chart
    # st.vega_lite_chart moves the datasets out of the spec it is given: a copy (the
    # Arrow bytes themselves are shared, never changed).
    spec = (copy.deepcopy(chart.spec) if isinstance(chart, CachedChart)
            and chart.spec is not None else None)
    # Concatenated charts size themselves ("content"): a fixed height from the parts'
    # plot heights left no room for their titles, axes and legends, and the chart
    # spilled over the elements below (the history chart over the button).
    sized = not isinstance(altair_chart, (alt.VConcatChart, alt.ConcatChart))
    return altair_chart, spec, _chart_height(altair_chart), sized
