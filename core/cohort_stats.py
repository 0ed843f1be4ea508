"""Statistics of the cohort analytics: pairwise region tests, effect sizes and intervals.

Kong et al. (Int J Med Sci 2025;22(3):708-715) compared pain between regions of
metastasis (lumbar, thoracic, cervical) with non-parametric tests and related the number
of metastatic sites and the MRI high-intensity (HI) ratio by rank correlation. The same
analyses on the loaded cohort, each with the method stated where it is shown:

* **Pairwise region tests**: two-sided Mann-Whitney U (:func:`scipy.stats.mannwhitneyu`,
  ``method="auto"``: exact without ties in small groups, else the normal approximation
  with tie and continuity correction) for each pair of the paper's three groups, the
  p-values adjusted across the pairs by Holm's step-down method (Holm, Scand J Stat
  1979;6:65-70; controls the family-wise error rate without assuming independence).
* **Effect size**: the rank-biserial correlation ``r = 2 U_a / (n_a n_b) - 1``, which is
  Cliff's delta: ``P(a > b) - P(a < b)`` for a random pair (Cliff, Psychol Bull
  1993;114:494-509); ``+1`` = every study of group *a* has more pain. Its 95 % interval
  is a seeded bootstrap (:func:`scipy.stats.bootstrap`, BCa, 2000 resamples drawn within
  each group; the percentile interval when BCa is undefined, e.g. constant data); a group
  larger than :data:`BOOTSTRAP_MAX_PER_GROUP` is resampled from a seeded sample of that
  size.
* **Means with error bars**: the 95 % Student-t interval of the mean
  (``mean +/- t(0.975, n-1) * SD / sqrt(n)``); no interval for a group of one. No
  randomness, so the bars are the same on every draw (Vega-Lite's own ``ci`` extent is
  an unseeded bootstrap).
* **Rank correlation**: Spearman's rho with a 95 % interval from Fisher's z with the
  Bonett-Wright standard error ``sqrt((1 + rho^2 / 2) / (n - 3))`` (Bonett & Wright,
  Psychometrika 2000;65:23-28).
* **Trend line beside Spearman**: the Theil-Sen line (median of the pairwise slopes,
  :func:`scipy.stats.theilslopes`, with its 95 % slope interval): rank-based and robust
  to outliers, unlike a least-squares fit; fitted on a seeded sample of
  :data:`THEIL_SEN_MAX_PAIRS` pairs when there are more.

Studies of one patient are not independent: with repeated studies the p-values are too
small. :func:`first_study_per_patient` gives one study per patient (the paper's unit).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Bootstrap resamples of the effect-size interval.
N_RESAMPLES = 2000
#: Default seed of every random draw here.
DEFAULT_SEED = 20250301
#: The paper's three region groups (:data:`core.vocab.PAPER_GROUPS` without "other"),
#: in the order the pairs are formed: lumbar first, so ``r > 0`` = more lumbar pain.
REGION_PAIR_GROUPS: tuple[str, ...] = ("lumbar", "thoracic only", "cervical only")
#: Columns of :func:`pairwise_mann_whitney`.
PAIRWISE_COLUMNS: tuple[str, ...] = (
    "group_a", "group_b", "n_a", "n_b", "median_a", "median_b", "u", "p", "p_holm",
    "r_rb", "ci_low", "ci_high",
)
#: Largest group the effect-size bootstrap resamples: a larger group is first reduced to
#: a seeded sample of this many values (the point estimate, U and p use every value).
#: The BCa jackknife is quadratic in the group sizes; at 2,000 values per group the
#: interval's half-width is already below 0.03.
BOOTSTRAP_MAX_PER_GROUP = 2000
#: Most pairs the Theil-Sen line is fitted on: a larger frame is reduced to a seeded
#: sample of this many complete pairs (the pairwise slopes grow with the square of n).
THEIL_SEN_MAX_PAIRS = 3000
#: Columns of :func:`mean_ci`.
MEAN_CI_COLUMNS: tuple[str, ...] = ("group", "n", "mean", "sd", "ci_low", "ci_high")

METHOD_TEXT = {
    "mann_whitney": "two-sided Mann-Whitney U, Holm-adjusted across the pairs",
    "effect": (f"rank-biserial r (= Cliff's delta) with a 95 % BCa bootstrap interval "
               f"({N_RESAMPLES} resamples, seeded)"),
    "mean_ci": "mean with its 95 % Student-t interval",
    "spearman": "Spearman's rho, 95 % interval by Fisher z (Bonett-Wright SE)",
    "theil_sen": "Theil-Sen line (median of pairwise slopes), 95 % slope interval",
}


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (same order as given; NaN stays NaN).

    Sorted ascending ``p_(1) <= ... <= p_(m)`` over the ``m`` finite values,
    ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.

    Raises
    ------
    ValueError
        For a p-value outside [0, 1].
    """
    p = np.asarray(pvalues, dtype=np.float64)
    finite = np.isfinite(p)
    if ((p[finite] < 0) | (p[finite] > 1)).any():
        raise ValueError("p-values must lie in [0, 1].")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(finite)
    if idx.size == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


#: Most distinct values for which :func:`_delta` counts values instead of ranking them
#: (VAS 0-10 has at most 101 in tenths); more distinct values are ranked.
COUNTING_MAX_VALUES = 512


def _delta(a: np.ndarray, b: np.ndarray, axis: int = -1,
           values: np.ndarray | None = None, coded: bool = False) -> np.ndarray:
    """Cliff's delta of ``a`` against ``b`` along ``axis`` (vectorised for bootstrap).

    ``U_a`` is the number of pairs with ``a > b`` plus half the ties. With few distinct
    values (``values``: every value that can occur, sorted; at most
    :data:`COUNTING_MAX_VALUES`) it is counted per value from histograms, which gives the
    same number as the rank sum without sorting each bootstrap resample (about 3 times
    faster on VAS scores); otherwise from the rank sum of the pooled values. ``coded``:
    ``a`` and ``b`` already hold each value's position in ``values`` (the delta depends
    only on order and ties, so the positions give the same number without looking every
    resampled value up again)."""
    if coded and values is not None:
        a = np.moveaxis(np.asarray(a), axis, -1).astype(np.intp, copy=False)
        b = np.moveaxis(np.asarray(b), axis, -1).astype(np.intp, copy=False)
        return _counted_delta(a, b, values.size)
    a = np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)
    b = np.moveaxis(np.asarray(b, dtype=np.float64), axis, -1)
    n_a, n_b = a.shape[-1], b.shape[-1]
    if values is None or values.size > COUNTING_MAX_VALUES:
        ranks = stats.rankdata(np.concatenate([a, b], axis=-1), axis=-1)
        u_a = ranks[..., :n_a].sum(axis=-1) - n_a * (n_a + 1) / 2.0
        return 2.0 * u_a / (n_a * n_b) - 1.0
    return _counted_delta(np.searchsorted(values, a), np.searchsorted(values, b),
                          values.size)


def _counted_delta(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """:func:`_delta` of value positions ``a`` and ``b`` (integers in ``[0, k)``), counted
    from each row's histogram."""
    n_a, n_b = a.shape[-1], b.shape[-1]
    lead = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    a = np.broadcast_to(a, (*lead, n_a)).reshape(-1, n_a)
    b = np.broadcast_to(b, (*lead, n_b)).reshape(-1, n_b)
    rows = a.shape[0]
    offsets = (np.arange(rows) * k)[:, None]
    count_a = np.bincount((a + offsets).ravel(), minlength=rows * k).reshape(rows, k)
    count_b = np.bincount((b + offsets).ravel(), minlength=rows * k).reshape(rows, k)
    below_b = np.cumsum(count_b, axis=1) - count_b  # values of b below each value
    u_a = (count_a * (below_b + 0.5 * count_b)).sum(axis=1)
    return (2.0 * u_a / (n_a * n_b) - 1.0).reshape(lead)


def cliffs_delta(a: Sequence[float], b: Sequence[float]) -> float:
    """``P(a > b) - P(a < b)`` over all pairs (= the rank-biserial correlation)."""
    x, y = _clean(a), _clean(b)
    if not (x.size and y.size):
        raise ValueError("Cliff's delta needs at least one value in each group.")
    return float(_delta(x, y))


def _clean(values: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    return array[np.isfinite(array)]


def _at_most(values: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """``values``, or a seeded sample of ``limit`` of them (order kept) when longer."""
    if limit is None or values.size <= limit:
        return values
    keep = np.sort(np.random.default_rng(seed).choice(values.size, size=limit, replace=False))
    return values[keep]


def delta_ci(a: Sequence[float], b: Sequence[float], *, seed: int = DEFAULT_SEED,
             n_resamples: int = N_RESAMPLES, confidence: float = 0.95,
             max_per_group: int | None = BOOTSTRAP_MAX_PER_GROUP) -> tuple[float, float]:
    """Bootstrap interval of Cliff's delta (BCa, percentile when BCa is undefined);
    ``(nan, nan)`` with fewer than 2 values in a group. A group of more than
    ``max_per_group`` values is resampled from a seeded sample of that many."""
    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        return math.nan, math.nan
    if np.ptp(np.concatenate([x, y])) == 0:
        return 0.0, 0.0
    x, y = _at_most(x, max_per_group, seed), _at_most(y, max_per_group, seed + 1)
    return _bootstrap_interval(x.tobytes(), y.tobytes(), seed, n_resamples, confidence)


#: Intervals :func:`_bootstrap_interval` keeps (about 32 KB of key per pair of groups).
BOOTSTRAP_CACHE_SIZE = 64


@functools.lru_cache(maxsize=BOOTSTRAP_CACHE_SIZE)
def _bootstrap_interval(x_bytes: bytes, y_bytes: bytes, seed: int, n_resamples: int,
                        confidence: float) -> tuple[float, float]:
    """The interval of :func:`delta_ci` for the (sampled) float64 values of both groups.

    Memoised on the exact values: the bootstrap is a function of them and its seed, so
    an interval asked for again is the same interval. After one study of a large cohort
    is edited, the seeded samples of at most :data:`BOOTSTRAP_MAX_PER_GROUP` values
    mostly do not hold it: the page's run then re-uses the intervals (2,000 BCa
    resamples and the jackknife took about 0.2 s per pair of groups).
    """
    x, y = np.frombuffer(x_bytes), np.frombuffer(y_bytes)
    values = np.unique(np.concatenate([x, y]))
    statistic = functools.partial(_delta, values=values)
    if values.size <= COUNTING_MAX_VALUES:  # resample the values' positions (same delta)
        x, y = np.searchsorted(values, x), np.searchsorted(values, y)
        statistic = functools.partial(_delta, values=values, coded=True)
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.bootstrap((x, y), statistic, vectorized=True, paired=False,
                                  n_resamples=n_resamples, confidence_level=confidence,
                                  method=method, rng=np.random.default_rng(seed), batch=200)
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return max(-1.0, low), min(1.0, high)
    return math.nan, math.nan


def pairwise_mann_whitney(frame: pd.DataFrame, group_col: str, value_col: str,
                          groups: Sequence[str] = REGION_PAIR_GROUPS, *,
                          seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Every pair of ``groups`` (in the given order) compared on ``value_col``.

    Returns
    -------
    pandas.DataFrame
        :data:`PAIRWISE_COLUMNS`: sizes, medians, ``u`` (for group *a*), two-sided ``p``,
        Holm-adjusted ``p_holm`` (across the pairs tested), rank-biserial ``r_rb`` (> 0:
        group *a* higher) and its bootstrap interval. Pairs with a group of fewer than 2
        values are left out (and out of the Holm family).
    """
    data = frame[[group_col, value_col]].copy()
    data[value_col] = pd.to_numeric(data[value_col], errors="coerce")
    data = data.dropna()
    values = {g: data.loc[data[group_col] == g, value_col].to_numpy(dtype=np.float64)
              for g in groups}
    rows = []
    for a, b in itertools.combinations(groups, 2):
        x, y = values[a], values[b]
        if x.size < 2 or y.size < 2:
            continue
        test = stats.mannwhitneyu(x, y, alternative="two-sided", method="auto")
        low, high = delta_ci(x, y, seed=seed)
        rows.append({"group_a": a, "group_b": b, "n_a": x.size, "n_b": y.size,
                     "median_a": float(np.median(x)), "median_b": float(np.median(y)),
                     "u": float(test.statistic), "p": float(test.pvalue),
                     "r_rb": float(_delta(x, y)), "ci_low": low, "ci_high": high})
    out = pd.DataFrame(rows, columns=[c for c in PAIRWISE_COLUMNS if c != "p_holm"])
    out.insert(PAIRWISE_COLUMNS.index("p_holm"), "p_holm", holm(out["p"].to_numpy()))
    return out


def mean_ci(frame: pd.DataFrame, group_col: str, value_col: str,
            order: Sequence[str] | None = None, *, confidence: float = 0.95) -> pd.DataFrame:
    """Mean of ``value_col`` per group with its Student-t interval.

    Returns
    -------
    pandas.DataFrame
        :data:`MEAN_CI_COLUMNS`, groups in ``order`` (else sorted), groups without data
        left out; ``ci_low``/``ci_high`` NaN for a group of one.
    """
    data = frame[[group_col, value_col]].copy()
    data[value_col] = pd.to_numeric(data[value_col], errors="coerce")
    data = data.dropna()
    data[group_col] = data[group_col].astype(str)
    agg = data.groupby(group_col, observed=True)[value_col].agg(["count", "mean", "std"])
    wanted = [str(g) for g in order] if order is not None else sorted(agg.index)
    agg = agg.reindex([g for g in wanted if g in agg.index])
    n = agg["count"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = (stats.t.ppf(0.5 + confidence / 2.0, np.maximum(n - 1, 1))
                * agg["std"].to_numpy() / np.sqrt(n))
    half = np.where(n >= 2, half, np.nan)
    return pd.DataFrame({"group": agg.index.astype(str), "n": n.astype(int),
                         "mean": agg["mean"].to_numpy(), "sd": agg["std"].to_numpy(),
                         "ci_low": agg["mean"].to_numpy() - half,
                         "ci_high": agg["mean"].to_numpy() + half}).reset_index(drop=True)


def spearman_ci(rho: float, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Fisher-z interval of Spearman's rho with the Bonett-Wright standard error;
    ``(nan, nan)`` for ``n < 4``."""
    if n < 4 or not math.isfinite(rho):
        return math.nan, math.nan
    if abs(rho) >= 1:
        return float(rho), float(rho)
    z = math.atanh(rho)
    se = math.sqrt((1 + rho * rho / 2.0) / (n - 3))
    q = float(stats.norm.ppf(0.5 + confidence / 2.0))
    return math.tanh(z - q * se), math.tanh(z + q * se)


@dataclass(frozen=True)
class TheilSen:
    """Theil-Sen line ``y = intercept + slope * x`` with its 95 % slope interval."""

    slope: float
    intercept: float
    slope_low: float
    slope_high: float
    n: int

    def line(self, x_min: float, x_max: float) -> pd.DataFrame:
        """Two points of the line (``x``, ``y``) for a chart."""
        xs = np.array([x_min, x_max], dtype=np.float64)
        return pd.DataFrame({"x": xs, "y": self.intercept + self.slope * xs})


def theil_sen(frame: pd.DataFrame, x: str, y: str, *,
              max_pairs: int | None = THEIL_SEN_MAX_PAIRS,
              seed: int = DEFAULT_SEED) -> TheilSen | None:
    """:func:`scipy.stats.theilslopes` on the complete pairs (a seeded sample of
    ``max_pairs`` of them when there are more; ``n`` is the pairs fitted); ``None`` with
    fewer than 3 pairs or a constant ``x``."""
    pair = frame[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
    if len(pair) < 3 or pair[x].nunique() < 2:
        return None
    xs, ys = pair[x].to_numpy(), pair[y].to_numpy()
    if max_pairs is not None and len(pair) > max_pairs:
        keep = np.sort(np.random.default_rng(seed).choice(len(pair), size=max_pairs,
                                                          replace=False))
        xs, ys = xs[keep], ys[keep]
        if np.unique(xs).size < 2:
            return None
    res = stats.theilslopes(ys, xs, alpha=0.95)
    return TheilSen(float(res.slope), float(res.intercept), float(res.low_slope),
                    float(res.high_slope), int(xs.size))


def jitter(n: int, *, width: float = 0.3, seed: int = DEFAULT_SEED) -> np.ndarray:
    """``n`` seeded offsets uniform in ``[-width, width]`` (scatter of whole counts)."""
    return np.random.default_rng(seed).uniform(-width, width, int(n))


def first_study_per_patient(frame: pd.DataFrame) -> pd.DataFrame:
    """Each patient's earliest study (ties by ``study_id``): one independent row per
    patient, as in the paper's cross-sectional comparison."""
    keys = ["patient_id", "study_date"] + (["study_id"] if "study_id" in frame.columns else [])
    ordered = frame.sort_values(keys, kind="stable")
    return ordered.drop_duplicates("patient_id", keep="first").sort_index()


#: Columns of :func:`box_stats`.
BOX_COLUMNS: tuple[str, ...] = ("group", "n", "q1", "median", "q3", "low", "high", "mean")


def box_stats(frame: pd.DataFrame, group_col: str, value_col: str,
              order: Sequence[str] | None = None, *, whisker: float = 1.5) -> pd.DataFrame:
    """Tukey box-plot figures of ``value_col`` per group, from every row.

    Quartiles by linear interpolation (:func:`numpy.quantile`'s default); the whiskers
    reach the lowest and highest value within ``whisker`` × IQR of the box (Tukey,
    Exploratory Data Analysis 1977; the rule of Vega-Lite's ``boxplot`` mark with
    ``extent=1.5``), so a chart draws a few marks per group whatever the number of
    studies.

    Returns
    -------
    pandas.DataFrame
        :data:`BOX_COLUMNS`, groups in ``order`` (else sorted), groups without data left
        out.
    """
    data = frame[[group_col, value_col]].copy()
    data[value_col] = pd.to_numeric(data[value_col], errors="coerce")
    data = data.dropna()
    data[group_col] = data[group_col].astype(str)
    grouped = data.groupby(group_col, observed=True)[value_col]
    table = grouped.quantile([0.25, 0.5, 0.75]).unstack()
    table.columns = ["q1", "median", "q3"]
    table["n"] = grouped.size()
    table["mean"] = grouped.mean()
    iqr = table["q3"] - table["q1"]
    fence_low = data[group_col].map(table["q1"] - whisker * iqr)
    fence_high = data[group_col].map(table["q3"] + whisker * iqr)
    values = data[value_col]
    table["low"] = values[values >= fence_low].groupby(data[group_col]).min()
    table["high"] = values[values <= fence_high].groupby(data[group_col]).max()
    wanted = [str(g) for g in order] if order is not None else sorted(table.index)
    table = table.reindex([g for g in wanted if g in table.index])
    out = table.rename_axis("group").reset_index()
    out["n"] = out["n"].astype(int)
    return out[list(BOX_COLUMNS)]


#: Columns of :func:`binned_counts`.
BINNED_COLUMNS: tuple[str, ...] = ("x", "y_low", "y_high", "studies")


def binned_counts(frame: pd.DataFrame, x: str, y: str, *, y_step: float,
                  y_scale: float = 1.0) -> pd.DataFrame:
    """Studies per (whole ``x`` value, ``y`` bin of width ``y_step``): a 2-D histogram
    of every complete pair (``y`` multiplied by ``y_scale`` first, e.g. 100 for a
    ratio in %). Bins are ``[y_low, y_high)``; empty cells are left out.

    Raises
    ------
    ValueError
        For a ``y_step`` that is not a positive number.
    """
    if not (isinstance(y_step, (int, float)) and math.isfinite(y_step) and y_step > 0):
        raise ValueError(f"y_step {y_step!r} must be a positive number.")
    pair = frame[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
    xs = np.round(pair[x].to_numpy(dtype=np.float64))
    scaled = np.round(pair[y].to_numpy(dtype=np.float64) * y_scale, 9)  # 0.29 * 100 < 29
    low = np.floor(np.round(scaled / y_step, 9)) * y_step
    counts = (pd.DataFrame({"x": xs, "y_low": low}).groupby(["x", "y_low"]).size()
              .rename("studies").reset_index())
    counts["y_high"] = counts["y_low"] + y_step
    counts["studies"] = counts["studies"].astype(int)
    return counts[list(BINNED_COLUMNS)]
