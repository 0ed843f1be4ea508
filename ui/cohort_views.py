"""Sections of the cohort analytics page, shared with the teaching walk-through.

Each section draws the paper's analysis on a filtered frame of scored studies
(:func:`ui.scores.scored_cohort` through :func:`ui.cohort.with_bins`), states its
method next to the numbers, and offers every chart's data (CSV) and image (PNG/SVG)
through :func:`ui.chart_export.chart`. ``prefix`` keeps widget keys apart when a
section appears on two pages.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.cohort_stats import METHOD_TEXT
from ui import chart_export, charts, cohort, scores


def region_tests(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`ui.cohort.region_tests`, cached per store revision, model and the frame's
    studies (:func:`ui.scores.memo`)."""
    return scores.memo("region_tests", cohort.region_tests, frame)


def _note(drawn: pd.DataFrame, total: pd.DataFrame) -> None:
    note = cohort.sample_note(len(drawn), len(total))
    if note:
        st.caption(note)


def region_section(frame: pd.DataFrame, *, prefix: str = "cohort") -> pd.DataFrame:
    """Pain by the paper's region groups: box plot, summary, Kruskal-Wallis, the pairwise
    Mann-Whitney tests with Holm correction and their effect sizes. Returns the tests."""
    a, b = st.columns([1.6, 1])
    with a:
        data = scores.memo("region_vas", _region_vas, frame)
        drawn = cohort.plot_sample(data)
        chart_export.chart(charts.pain_by_region(drawn, region_col="region_group",
                                                 order=cohort.REGION_GROUP_ORDER),
                           data, key=f"{prefix}_region_chart", name="pain-by-region")
        st.caption("Box: median and interquartile range; whiskers: 1.5 × IQR; dots: the "
                   "studies (jittered sideways with a fixed seed).")
        _note(drawn, data)
    with b:
        table, p_kw = scores.memo("region_summary", cohort.region_summary, frame)
        st.dataframe(table, hide_index=True, key=f"{prefix}_region_table")
        if p_kw is not None:
            st.markdown(f"Kruskal-Wallis across groups: **p {cohort.p_text(p_kw)}**")
        st.caption("Groups as in the paper: *lumbar* = any lumbar lesion; *thoracic only* / "
                   "*cervical only* = lesions in that region alone; *other* = the rest.")
    tests = region_tests(frame)
    st.subheader("Pairwise region tests")
    if tests.empty:
        st.info("Too few studies in the region groups for pairwise tests (each group needs "
                "at least 2 studies with a recorded VAS).")
        return tests
    st.dataframe(cohort.pairwise_display(tests), hide_index=True,
                 key=f"{prefix}_pairwise_table")
    st.caption(f"Method: {METHOD_TEXT['mann_whitney']} (the paper compared the regions "
               f"pairwise); effect size: {METHOD_TEXT['effect']}. r > 0: the first group "
               "has more pain; r = 0.5 means a random study of the first group has more "
               "pain than one of the second 75 % of the time (ties split).")
    chart_export.chart(charts.effect_forest(tests), tests, key=f"{prefix}_effect_chart",
                       name="region-effect-sizes")
    return tests


def burden_correlation_section(frame: pd.DataFrame, *, prefix: str = "cohort") -> None:
    """Lesion count against HI ratio: jittered scatter, Theil-Sen line, Spearman."""
    corr = scores.memo("spearman_burden", _burden_spearman, frame)
    fit, line = scores.memo("theil_sen", cohort.theil_sen_line, frame)
    a, b = st.columns([1.6, 1])
    with a:
        drawn = cohort.plot_sample(frame)
        data = charts.rank_scatter_frame(drawn)
        chart_export.chart(charts.rank_scatter(data, line if len(line) else None), data,
                           key=f"{prefix}_scatter", name="lesions-vs-hi-ratio")
        _note(drawn, frame)
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


def _region_vas(frame: pd.DataFrame) -> pd.DataFrame:
    return cohort.region_comparison(frame)[["region_group", "vas"]].dropna()


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
            chart_export.chart(charts.mean_ci_bars(table, title=title, bin_title=bin_title),
                               table, key=f"{prefix}_{key}", name=name)
    st.caption(f"Error bars: {METHOD_TEXT['mean_ci']} (t quantile with n - 1 degrees of "
               "freedom; none for a bin of one study; drawn within 0-10).")


def advice_section(frame: pd.DataFrame, *, prefix: str = "cohort") -> None:
    """Urgency by what leads the advice, and predicted vs recorded pain category."""
    a, b = st.columns(2)
    with a:
        counts = scores.memo("advice_counts", cohort.advice_counts, frame)
        chart_export.chart(charts.advice_distribution(counts), counts,
                           key=f"{prefix}_advice", name="urgency-and-overrides")
    with b:
        agreement = scores.memo("category_counts", cohort.category_counts, frame)
        chart_export.chart(charts.category_agreement(agreement), agreement,
                           key=f"{prefix}_categories", name="predicted-vs-recorded-category")


def importance_section(frame: pd.DataFrame, *, prefix: str = "cohort") -> None:
    """Per-feature and grouped mean |SHAP| over the filtered studies."""
    ids = frame["study_id"].to_numpy()
    a, b = st.columns([1.4, 1])
    with a:
        importance = scores.importance(ids)
        chart_export.chart(charts.importance_bars(importance), importance,
                           key=f"{prefix}_importance", name="shap-importance-per-feature")
    with b:
        grouped = scores.grouped_importance(ids)
        shown = grouped.assign(features=grouped["features"].map(", ".join))
        chart_export.chart(charts.grouped_importance_bars(grouped), shown,
                           key=f"{prefix}_grouped_importance", name="shap-importance-grouped")
        st.caption("A group's value per study is the sum of its features' SHAP values "
                   "(exact: SHAP values add), so correlated features inside a group neither "
                   "cancel nor count twice.")
    st.caption("Mean |SHAP| over the filtered studies, in the model's output units. "
               "Correlated features (lesions, involved levels, HI ratios) share credit.")
