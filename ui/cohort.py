"""Cohort analytics: the analyses of Kong et al. (Int J Med Sci 2025) on the loaded cohort."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import kruskal, spearmanr

from core.clinical import EARLIEST_STUDY_DATE as EARLIEST_STUDY_DATE  # for the page filters
from core.vocab import CATEGORIES as CATEGORIES  # for the page filters
from core.vocab import PAPER_GROUPS, paper_region_group, region_count_column
from core.vocab import REGIONS as REGIONS  # for the page filters
from core.vocab import URGENCY_ORDER as URGENCY_ORDER  # for the page's urgency chart

#: How each ``headline_source`` of :func:`core.assess.assess_frame` reads.
HEADLINE_SOURCE_LABELS = {"override": "safety override", "no_lesion": "no lesion measured",
                          "model": "pain estimate"}

COUNT_BINS = ([-0.5, 0.5, 1.5, 3.5, 6.5, np.inf], ["0", "1", "2-3", "4-6", "7+"])
HI_BINS = ([-1e-9, 1e-9, 0.05, 0.10, 0.20, np.inf], ["0%", "0-5%", "5-10%", "10-20%", ">20%"])
#: The paper's region groups in display order (:data:`core.vocab.PAPER_GROUPS`).
REGION_GROUP_ORDER: tuple[str, ...] = PAPER_GROUPS


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
    """Rows of :func:`ui.cache.scored_studies` that pass the filter."""
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
    """Spearman rank correlation of two columns."""

    r: float
    p: float
    n: int

    def text(self) -> str:
        """``r = 0.71, p < 0.001 (n = 812)``."""
        p = "p < 0.001" if self.p < 0.001 else f"p = {self.p:.3f}"
        return f"r = {self.r:.2f}, {p} (n = {self.n})"


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
    return Correlation(r=r, p=p, n=len(pair))


def region_comparison(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows in one of the paper's region groups (studies without a lesion, or without
    regional counts, leave the comparison)."""
    return frame[frame["region_group"].isin(PAPER_GROUPS)]


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
