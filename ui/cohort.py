"""Cohort analytics: the analyses of Kong et al. (Int J Med Sci 2025) on the loaded cohort.

Pure helpers of the cohort page and the teaching walk-through (no other ``ui`` import):
filters, bins, the unit of analysis, and display tables around the statistics of
:mod:`core.cohort_stats` (pairwise Mann-Whitney with Holm, rank-biserial r with a
bootstrap interval, Student-t intervals of means, Spearman with a Fisher-z interval,
Theil-Sen line).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import kruskal, spearmanr

from core import cohort_stats
from core.clinical import EARLIEST_STUDY_DATE as EARLIEST_STUDY_DATE  # for the page filters
from core.vocab import CATEGORIES as CATEGORIES  # for the page filters
from core.vocab import PAPER_GROUPS, paper_region_group, region_count_column, vas_categories
from core.vocab import REGIONS as REGIONS  # for the page filters
from core.vocab import URGENCY_ORDER as URGENCY_ORDER  # for the page's urgency chart

#: How each ``headline_source`` of :func:`core.assess.assess_frame` reads.
HEADLINE_SOURCE_LABELS = {"override": "safety override", "no_lesion": "no lesion measured",
                          "model": "pain estimate"}

COUNT_BINS = ([-0.5, 0.5, 1.5, 3.5, 6.5, np.inf], ["0", "1", "2-3", "4-6", "7+"])
HI_BINS = ([-1e-9, 1e-9, 0.05, 0.10, 0.20, np.inf], ["0%", "0-5%", "5-10%", "10-20%", ">20%"])
#: The paper's region groups in display order (:data:`core.vocab.PAPER_GROUPS`).
REGION_GROUP_ORDER: tuple[str, ...] = PAPER_GROUPS


#: Seed of the sideways jitter of the dots drawn over the region boxes.
PLOT_SEED = 20250301


#: Most studies a cohort chart draws one by one (jittered dots over the boxes, a
#: scatter); a larger frame is drawn from figures of every row only (box-plot figures,
#: 2-D counts), which stay a few marks whatever the number of studies.
POINT_LIMIT = 300
#: Width of the HI-ratio bands (percentage points) of the binned lesions-vs-HI chart.
HI_BAND_PCT = 5.0


def region_box(frame: pd.DataFrame) -> pd.DataFrame:
    """Tukey box figures of VAS per region group of the paper, from every study with a
    recorded VAS (:func:`core.cohort_stats.box_stats`)."""
    return cohort_stats.box_stats(region_comparison(frame), "region_group", "vas",
                                  REGION_GROUP_ORDER)


def region_points(frame: pd.DataFrame, limit: int = POINT_LIMIT,
                  seed: int = PLOT_SEED) -> pd.DataFrame | None:
    """Every study of the region comparison (``group, vas, jitter``: a seeded sideways
    offset in [-0.6, 0.6]) when there are at most ``limit``; else None (the boxes
    alone)."""
    data = region_comparison(frame).dropna()
    if len(data) > limit:
        return None
    jitter = cohort_stats.jitter(len(data), width=0.6, seed=seed)
    return pd.DataFrame({"group": data["region_group"].astype(str).to_numpy(),
                         "vas": pd.to_numeric(data["vas"]).to_numpy(), "jitter": jitter})


def burden_cells(frame: pd.DataFrame, band_pct: float = HI_BAND_PCT) -> pd.DataFrame:
    """Studies per (lesion count, HI-ratio band of ``band_pct`` points), every study
    with both values (:func:`core.cohort_stats.binned_counts`)."""
    return cohort_stats.binned_counts(frame, "lesion_count", "high_intensity_ratio",
                                      y_step=band_pct, y_scale=100.0)


@dataclass(frozen=True)
class CohortFilter:
    """``data``: ``all`` / ``synthetic`` / ``site``; dates inclusive; ``regions``: any
    lesion in one of them (empty = all)."""

    data: str = "all"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    regions: tuple[str, ...] = ()


def in_date_range(frame: pd.DataFrame, date_from: dt.date | None,
                  date_to: dt.date | None) -> pd.DataFrame:
    """Rows whose ``study_date`` lies in ``[date_from, date_to]`` (either bound optional)."""
    dates = pd.to_datetime(frame["study_date"])
    keep = pd.Series(True, index=frame.index)
    if date_from is not None:
        keep &= dates >= pd.Timestamp(date_from)
    if date_to is not None:
        keep &= dates <= pd.Timestamp(date_to)
    return frame[keep]


def apply_filter(frame: pd.DataFrame, f: CohortFilter) -> pd.DataFrame:
    """Rows of :func:`ui.scores.scored_cohort` that pass the filter."""
    out = frame
    if f.data == "synthetic":
        out = out[out["synthetic"].astype(bool)]
    elif f.data == "site":
        out = out[~out["synthetic"].astype(bool)]
    out = in_date_range(out, f.date_from, f.date_to)
    if f.regions:
        hit = np.zeros(len(out), dtype=bool)
        for region in f.regions:
            hit |= (out[region_count_column(region)].fillna(0) > 0).to_numpy()
        out = out[hit]
    return out


def with_bins(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``region_group`` (the paper's grouping, :func:`core.vocab.paper_region_group`),
    ``count_bin`` and ``hi_bin`` columns."""
    out = frame.copy()
    out["region_group"] = paper_region_group(out)
    edges, names = COUNT_BINS
    out["count_bin"] = pd.cut(out["lesion_count"], edges, labels=names)
    edges, names = HI_BINS
    out["hi_bin"] = pd.cut(out["high_intensity_ratio"], edges, labels=names)
    return out


@dataclass(frozen=True)
class Correlation:
    """Spearman rank correlation of two columns with its 95 % interval (Fisher z,
    Bonett-Wright standard error: :func:`core.cohort_stats.spearman_ci`)."""

    r: float
    p: float
    n: int
    ci_low: float = math.nan
    ci_high: float = math.nan

    def text(self) -> str:
        """``r = 0.71 (95 % CI 0.65 to 0.76), p < 0.001 (n = 812)``."""
        p = "p < 0.001" if self.p < 0.001 else f"p = {self.p:.3f}"
        ci = (f" (95 % CI {self.ci_low:.2f} to {self.ci_high:.2f})"
              if math.isfinite(self.ci_low) and math.isfinite(self.ci_high) else "")
        return f"r = {self.r:.2f}{ci}, {p} (n = {self.n})"


def spearman(frame: pd.DataFrame, a: str, b: str) -> Correlation | None:
    """``scipy.stats.spearmanr`` on the complete pairs; None with fewer than 3 pairs or a
    constant column."""
    pair = frame[[a, b]].apply(pd.to_numeric, errors="coerce").dropna()
    if len(pair) < 3 or pair[a].nunique() < 2 or pair[b].nunique() < 2:
        return None
    res = spearmanr(pair[a], pair[b])
    r, p = float(res.statistic), float(res.pvalue)
    if math.isnan(r):
        return None
    low, high = cohort_stats.spearman_ci(r, len(pair))
    return Correlation(r=r, p=p, n=len(pair), ci_low=low, ci_high=high)


def region_comparison(frame: pd.DataFrame) -> pd.DataFrame:
    """``region_group`` and ``vas`` of the rows in one of the paper's region groups
    (studies without a lesion, or without regional counts, leave the comparison). Only
    the two columns: a copy of the whole scored cohort's rows (some forty columns) and
    its groups took most of the region summary's 0.3 s at 100,000 studies."""
    return frame.loc[frame["region_group"].isin(PAPER_GROUPS), ["region_group", "vas"]]


def region_summary(frame: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """Mean/median VAS and n per region group of the paper, and the Kruskal-Wallis p
    across those groups."""
    data = region_comparison(frame).dropna(subset=["vas"])
    table = (data.groupby("region_group")["vas"].agg(["count", "mean", "median"])
             .reindex([g for g in REGION_GROUP_ORDER if g in set(data["region_group"])])
             .reset_index())
    table.columns = ["Region group", "Studies", "Mean VAS", "Median VAS"]
    table["Mean VAS"] = table["Mean VAS"].round(2)
    groups = [g["vas"].to_numpy() for _, g in data.groupby("region_group") if len(g) >= 2]
    p = None
    if len(groups) >= 2 and any(np.ptp(g) > 0 for g in groups):
        p = float(kruskal(*groups).pvalue)
    return table, p


# ------------------------------------------------------------ issue 13: statistics

#: Units of analysis: every study, or one study per patient (independent rows).
UNITS: dict[str, str] = {
    "studies": "All studies",
    "first": "First study per patient (independent, as in the paper)",
}
#: Groups smaller than this get a note that their interval is unreliable.
SMALL_GROUP = 5


def analysis_unit(frame: pd.DataFrame, unit: str) -> pd.DataFrame:
    """The rows the analyses use: all studies, or each patient's first study."""
    if unit not in UNITS:
        raise ValueError(f"unit of analysis {unit!r} is not one of {', '.join(UNITS)}.")
    return cohort_stats.first_study_per_patient(frame) if unit == "first" else frame


def p_text(p: float) -> str:
    """``< 0.001`` or three decimals; ``-`` when missing."""
    if not math.isfinite(p):
        return "-"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def region_tests(frame: pd.DataFrame, *, seed: int = cohort_stats.DEFAULT_SEED
                 ) -> pd.DataFrame:
    """:func:`core.cohort_stats.pairwise_mann_whitney` of VAS across the paper's three
    region groups (lumbar, thoracic only, cervical only)."""
    return cohort_stats.pairwise_mann_whitney(frame, "region_group", "vas", seed=seed)


def pairwise_display(tests: pd.DataFrame) -> pd.DataFrame:
    """The pairwise table as read on the page: medians, U, raw and Holm p, r and its
    interval, a note on small groups."""
    small = np.minimum(tests["n_a"], tests["n_b"]) < SMALL_GROUP
    ci = [f"{lo:+.2f} to {hi:+.2f}" if math.isfinite(lo) and math.isfinite(hi) else "-"
          for lo, hi in zip(tests["ci_low"], tests["ci_high"], strict=True)]
    return pd.DataFrame({
        "Comparison": tests["group_a"] + " vs " + tests["group_b"],
        "Studies": tests["n_a"].map("{:,}".format) + " / " + tests["n_b"].map("{:,}".format),
        "Median VAS": [f"{a:g} / {b:g}" for a, b in zip(tests["median_a"], tests["median_b"],
                                                        strict=True)],
        "U": tests["u"].round(1),
        "p": [p_text(p) for p in tests["p"]],
        "p (Holm)": [p_text(p) for p in tests["p_holm"]],
        "r (rank-biserial)": tests["r_rb"].round(2),
        "95 % CI of r": ci,
        "Note": np.where(small, f"a group has fewer than {SMALL_GROUP} studies: "
                                "interval unreliable", ""),
    })


def bin_means(frame: pd.DataFrame, bin_col: str) -> pd.DataFrame:
    """Mean VAS with its Student-t 95 % interval per bin (bins in their own order)."""
    order = ([str(c) for c in frame[bin_col].cat.categories]
             if isinstance(frame[bin_col].dtype, pd.CategoricalDtype) else None)
    return cohort_stats.mean_ci(frame, bin_col, "vas", order)


def theil_sen_line(frame: pd.DataFrame) -> tuple[cohort_stats.TheilSen | None, pd.DataFrame]:
    """The Theil-Sen fit of HI ratio on lesion count and its line in HI % for the
    scatter (empty without a fit)."""
    fit = cohort_stats.theil_sen(frame, "lesion_count", "high_intensity_ratio")
    if fit is None:
        return None, pd.DataFrame(columns=["x", "y"])
    counts = pd.to_numeric(frame["lesion_count"], errors="coerce")
    line = fit.line(float(counts.min()), float(counts.max()))
    line["y"] = 100 * line["y"]
    return fit, line


def advice_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Studies per urgency and what leads the advice (``urgency, leads, studies``)."""
    data = frame.dropna(subset=["urgency", "headline_source"])
    counts = (data.assign(leads=data["headline_source"].map(HEADLINE_SOURCE_LABELS))
              .groupby(["urgency", "leads"]).size().rename("studies").reset_index())
    rank = counts["urgency"].map({u: i for i, u in enumerate(URGENCY_ORDER)})
    return counts.assign(_r=rank).sort_values(["_r", "leads"]).drop(columns="_r").reset_index(
        drop=True)


def category_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Studies per pain category, the model's prediction beside the recorded VAS band
    (``category, source, studies``)."""
    parts = [pd.DataFrame({"category": frame["category"], "source": "predicted"}),
             pd.DataFrame({"category": vas_categories(frame["vas"]), "source": "recorded"})]
    data = pd.concat(parts, ignore_index=True).dropna()
    counts = data.groupby(["category", "source"]).size().rename("studies").reset_index()
    rank = counts["category"].map({c: i for i, c in enumerate(CATEGORIES)})
    return counts.assign(_r=rank).sort_values(["_r", "source"]).drop(columns="_r").reset_index(
        drop=True)
