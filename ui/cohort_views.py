"""Sections of the cohort analytics page, shared with the teaching walk-through.

Each section draws the paper's analysis on a filtered frame of scored studies
(:func:`ui.scores.scored_cohort` through :func:`ui.cohort.with_bins`), states its
method next to the numbers, and offers every chart's data (CSV) and image (PNG/SVG)
through :func:`ui.chart_export.chart` (Vega) or :func:`ui.chart_export.svg_figure` (the
region charts, drawn on the server by :mod:`ui.cohort_svg`). ``prefix`` keeps widget
keys apart when a section appears on two pages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.cohort_stats import METHOD_TEXT
from ui import chart_export, charts, cohort, cohort_charts, cohort_svg, scores
from ui.session import KEEP
from ui.tables import static_table

#: The page's sections (key -> heading); one is drawn per run (:func:`section_choice`).
SECTIONS: dict[str, str] = {
    "region": "Pain by region of involvement",
    "burden": "Number of metastatic sites and high-intensity ratio",
    "advice": "Predicted pain and what leads the advice",
    "importance": "Global SHAP importance",
}
#: Short labels of :data:`SECTIONS` on the section control.
SECTION_LABELS: dict[str, str] = {
    "region": "Pain by region", "burden": "Sites and HI ratio",
    "advice": "Predicted pain and advice", "importance": "SHAP importance",
}
SECTION_KEY = "cohort_section"
#: The section drawn until another is chosen (the one :func:`warm_views` computes).
DEFAULT_SECTION = "region"
#: Fewest studies the page analyses (fewer: it asks to widen the filters).
MIN_STUDIES = 3


def section_choice() -> str:
    """The section of the cohort page to draw (kept across page switches). One section's
    charts per run: nine charts at once took the browser over a second to draw."""
    return str(st.segmented_control(
        "Section", list(SECTIONS), default=DEFAULT_SECTION, required=True, key=SECTION_KEY,
        format_func=SECTION_LABELS.get, persist_state=KEEP,
        help="The filters and the unit of analysis above apply to every section."))


def _key_figure_values(frame: pd.DataFrame) -> tuple[float | None, Any, Any]:
    """Kruskal-Wallis p across region groups, Spearman lesions vs HI ratio and pain vs
    each (cached per store revision, model and the frame's studies)."""
    _, p_kw = scores.memo("region_summary", cohort.region_summary, frame)
    burden = scores.memo("spearman_burden", _burden_spearman, frame)
    pains = scores.memo("spearman_pain", _pain_spearman, frame)
    return p_kw, burden, pains


def key_figures(frame: pd.DataFrame) -> None:
    """One line with the headline statistic of each section (all from cached results),
    so the whole picture stays on screen whichever section is drawn."""
    p_kw, burden, pains = _key_figure_values(frame)
    parts = []
    if p_kw is not None:
        parts.append(f"pain across region groups: Kruskal-Wallis p {cohort.p_text(p_kw)}")
    for label, corr in (("lesions vs HI ratio", burden),
                        ("pain vs lesions", pains["lesion_count"]),
                        ("pain vs HI ratio", pains["high_intensity_ratio"])):
        if corr is not None:
            parts.append(f"{label}: Spearman r = {corr.r:.2f} "
                         f"(p {cohort.p_text(corr.p)})")
    if parts:
        st.markdown("**Key figures** — " + " · ".join(parts) + ".")


def region_tests(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`ui.cohort.region_tests`, cached per store revision, model and the frame's
    studies (:func:`ui.scores.memo`)."""
    return scores.memo("region_tests", cohort.region_tests, frame)


def _chart(name: str, build: Callable[[], Any], frame: pd.DataFrame, data: pd.DataFrame,
           *, key: str) -> None:
    """Draw ``build()``'s chart with its downloads; its Vega-Lite spec is built once per
    store revision, model and the frame's studies (:func:`ui.scores.memo`), so a warm
    rerun neither validates nor serialises the Altair chart again."""
    spec = scores.memo(f"chart_{name}", lambda _frame: charts.chart_spec(build()), frame)
    chart_export.chart(spec, data, key=key, name=name)


@dataclass(frozen=True)
class _Figure:
    """A server-drawn SVG (:mod:`ui.cohort_svg`): its name, drawing and data."""

    name: str
    draw: Callable[..., str]
    data: pd.DataFrame

    def markup(self, frame: pd.DataFrame) -> str:
        """The on-screen SVG, built once per store revision, model and the frame's
        studies (:func:`ui.scores.memo`)."""
        return scores.memo(f"svg_{self.name}", lambda _frame: self.draw(), frame)

    def show(self, frame: pd.DataFrame, *, key: str, testid: str) -> None:
        """Draw it with its downloads (the file version only when one is pressed)."""
        chart_export.svg_figure(self.markup(frame), self.data, key=key, name=self.name,
                                testid=testid,
                                file_svg=lambda: self.draw(standalone=True))


@dataclass(frozen=True)
class _RegionFigures:
    """What :func:`region_section` draws, each part cached (:func:`ui.scores.memo`)."""

    box: _Figure
    dots: bool  # the box plot shows every study as a dot (up to cohort.POINT_LIMIT)
    table: pd.DataFrame
    p_kw: float | None
    tests: pd.DataFrame
    forest: _Figure


def _region_figures(frame: pd.DataFrame) -> _RegionFigures:
    box = scores.memo("region_box", cohort.region_box, frame)
    points = scores.memo("region_points", cohort.region_points, frame)
    table, p_kw = scores.memo("region_summary", cohort.region_summary, frame)
    tests = region_tests(frame)
    return _RegionFigures(
        box=_Figure("pain-by-region", functools.partial(cohort_svg.region_box_svg, box,
                                                        points), box),
        dots=points is not None, table=table, p_kw=p_kw, tests=tests,
        forest=_Figure("region-effect-sizes",
                       functools.partial(cohort_svg.effect_forest_svg, tests), tests))


def warm_region(frame: pd.DataFrame) -> None:
    """Compute what :func:`region_section` shows of ``frame`` into its caches
    (:mod:`ui.warmup`; the first visit then only draws)."""
    figures = _region_figures(frame)
    figures.box.markup(frame)
    if not figures.tests.empty:
        figures.forest.markup(frame)


def warm_views(model_dir: Path) -> None:
    """The key figures and :func:`warm_region` of the cohort page's first view: every
    study of the store's date range, the first unit of analysis, the region section (the
    first one drawn) (:mod:`ui.warmup`)."""
    found = scores.warm_range(model_dir)
    if found is None:
        return
    key, first, last = found
    frame = scores.cohort_view(cohort.CohortFilter(date_from=first, date_to=last),
                               next(iter(cohort.UNITS)), key=key)
    if len(frame) >= MIN_STUDIES:
        _key_figure_values(frame)
        warm_region(frame)


def region_section(frame: pd.DataFrame, *, prefix: str = "cohort") -> pd.DataFrame:
    """Pain by the paper's region groups: box plot, summary, Kruskal-Wallis, the pairwise
    Mann-Whitney tests with Holm correction and their effect sizes. Returns the tests."""
    figures = _region_figures(frame)
    a, b = st.columns([1.6, 1])
    with a:
        figures.box.show(frame, key=f"{prefix}_region_chart", testid="region-box")
        st.caption("Box: median and interquartile range of every study with a recorded "
                   "VAS; whiskers: the furthest values within 1.5 × IQR; n: studies per "
                   "group." + (" Dots: the studies (jittered sideways with a fixed seed)."
                               if figures.dots else
                               f" Over {cohort.POINT_LIMIT:,} studies the dots are left out."))
    with b:
        static_table(figures.table, key=f"{prefix}_region_table")
        if figures.p_kw is not None:
            st.markdown(f"Kruskal-Wallis across groups: **p {cohort.p_text(figures.p_kw)}**")
        st.caption("Groups as in the paper: *lumbar* = any lumbar lesion; *thoracic only* / "
                   "*cervical only* = lesions in that region alone; *other* = the rest.")
    tests = figures.tests
    st.subheader("Pairwise region tests")
    if tests.empty:
        st.info("Too few studies in the region groups for pairwise tests (each group needs "
                "at least 2 studies with a recorded VAS).")
        return tests
    static_table(cohort.pairwise_display(tests), key=f"{prefix}_pairwise_table")
    st.caption(f"Method: {METHOD_TEXT['mann_whitney']} (the paper compared the regions "
               f"pairwise); effect size: {METHOD_TEXT['effect']}. r > 0: the first group "
               "has more pain; r = 0.5 means a random study of the first group has more "
               "pain than one of the second 75 % of the time (ties split).")
    figures.forest.show(frame, key=f"{prefix}_effect_chart", testid="effect-forest")
    return tests


def _burden_chart(frame: pd.DataFrame, line: pd.DataFrame, *, key: str) -> None:
    """Every study as a jittered dot when there are few; else studies per lesion count
    and HI-ratio band."""
    drawn_line = line if len(line) else None
    if len(frame) <= cohort.POINT_LIMIT:
        data = charts.rank_scatter_frame(frame)
        _chart("lesions-vs-hi-ratio", lambda: charts.rank_scatter(data, drawn_line), frame,
               data, key=key)
        return
    cells = scores.memo("burden_cells", cohort.burden_cells, frame)
    _chart("lesions-vs-hi-ratio", lambda: cohort_charts.binned_rank_chart(cells, drawn_line),
           frame, cells, key=key)
    st.caption(f"{len(frame):,} studies: each cell counts the studies with that number of "
               f"lesions and an HI ratio in that {cohort.HI_BAND_PCT:g}-point band (darker = "
               "more, log scale).")


def burden_correlation_section(frame: pd.DataFrame, *, prefix: str = "cohort") -> None:
    """Lesion count against HI ratio: jittered scatter (few studies) or 2-D counts,
    Theil-Sen line, Spearman."""
    corr = scores.memo("spearman_burden", _burden_spearman, frame)
    fit, line = scores.memo("theil_sen", cohort.theil_sen_line, frame)
    a, b = st.columns([1.6, 1])
    with a:
        _burden_chart(frame, line, key=f"{prefix}_scatter")
    with b:
        if corr is None:
            st.info("Not enough varied data for a Spearman correlation.")
        else:
            st.metric("Spearman r (lesions vs HI ratio)", f"{corr.r:.2f}",
                      help="scipy.stats.spearmanr on studies with both values.")
            st.markdown(f"**Spearman** {corr.text()}")
            st.caption(f"Method: {METHOD_TEXT['spearman']}.")
        if fit is not None:
            st.markdown(f"**Theil-Sen line**: HI ratio rises {100 * fit.slope:.2f} percentage "
                        f"points per lesion (95 % CI {100 * fit.slope_low:.2f} to "
                        f"{100 * fit.slope_high:.2f}; n = {fit.n}).")
            st.caption(f"Method: {METHOD_TEXT['theil_sen']} — rank-based like Spearman, "
                       "not a least-squares fit." + (
                           f" Fitted on a seeded sample of {fit.n:,} studies."
                           if corr is not None and fit.n < corr.n else ""))


def _burden_spearman(frame: pd.DataFrame) -> cohort.Correlation | None:
    return cohort.spearman(frame, "lesion_count", "high_intensity_ratio")


def _pain_spearman(frame: pd.DataFrame) -> dict[str, cohort.Correlation | None]:
    return {col: cohort.spearman(frame, col, "vas")
            for col in ("lesion_count", "high_intensity_ratio")}


def _bins(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {col: cohort.bin_means(frame, col) for col in ("count_bin", "hi_bin")}


def burden_pain_section(frame: pd.DataFrame, *, prefix: str = "cohort") -> None:
    """Mean pain by lesion-count bin and by HI-ratio bin with Student-t intervals, and
    the Spearman correlations of pain with each."""
    pains = scores.memo("spearman_pain", _pain_spearman, frame)
    bins = scores.memo("bin_means", _bins, frame)
    for col, label in (("lesion_count", "lesions"), ("high_intensity_ratio", "HI ratio")):
        pain = pains[col]
        if pain is not None:
            st.markdown(f"Pain vs {label}: {pain.text()}")
    a, b = st.columns(2)
    for column, bin_col, title, bin_title, key, name in (
            (a, "count_bin", "Pain by number of lesions", "Lesions", "count_bins",
             "pain-by-lesion-count"),
            (b, "hi_bin", "Pain by HI ratio", "HI ratio", "hi_bins", "pain-by-hi-ratio")):
        with column:
            table = bins[bin_col]
            _chart(name, lambda t=table, ti=title, bt=bin_title: charts.mean_ci_bars(
                t, title=ti, bin_title=bt), frame, table, key=f"{prefix}_{key}")
    st.caption(f"Error bars: {METHOD_TEXT['mean_ci']} (t quantile with n - 1 degrees of "
               "freedom; none for a bin of one study; drawn within 0-10).")


def advice_section(frame: pd.DataFrame, *, prefix: str = "cohort") -> None:
    """Urgency by what leads the advice, and predicted vs recorded pain category."""
    a, b = st.columns(2)
    with a:
        counts = scores.memo("advice_counts", cohort.advice_counts, frame)
        _chart("urgency-and-overrides", lambda: charts.advice_distribution(counts), frame,
               counts, key=f"{prefix}_advice")
    with b:
        agreement = scores.memo("category_counts", cohort.category_counts, frame)
        _chart("predicted-vs-recorded-category", lambda: charts.category_agreement(agreement),
               frame, agreement, key=f"{prefix}_categories")


def importance_section(frame: pd.DataFrame, *, prefix: str = "cohort") -> None:
    """Per-feature and grouped mean |SHAP| over the filtered studies."""
    ids = frame["study_id"].to_numpy()
    a, b = st.columns([1.4, 1])
    with a:
        importance = scores.importance(ids)
        _chart("shap-importance-per-feature", lambda: charts.importance_bars(importance),
               frame, importance, key=f"{prefix}_importance")
    with b:
        grouped = scores.grouped_importance(ids)
        shown = grouped.assign(features=grouped["features"].map(", ".join))
        _chart("shap-importance-grouped", lambda: charts.grouped_importance_bars(grouped),
               frame, shown, key=f"{prefix}_grouped_importance")
        st.caption("A group's value per study is the sum of its features' SHAP values "
                   "(exact: SHAP values add), so correlated features inside a group neither "
                   "cancel nor count twice.")
    st.caption("Mean |SHAP| over the filtered studies, in the model's output units. "
               "Correlated features (lesions, involved levels, HI ratios) share credit.")
