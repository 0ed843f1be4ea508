"""core.cohort_stats: Holm against hand-computed values, effect sizes, intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core import cohort_stats as cs

# --------------------------------------------------------------------------- Holm


def test_holm_matches_a_hand_computed_example() -> None:
    # sorted 0.01, 0.03, 0.04 -> x3 = 0.03, x2 = 0.06, x1 = 0.04 -> running max 0.06
    assert cs.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    # 0.001 x3 = 0.003; 0.02 x2 = 0.04; 0.04 x1 = 0.04
    assert cs.holm([0.02, 0.001, 0.04]) == pytest.approx([0.04, 0.003, 0.04])


def test_holm_caps_at_one_and_keeps_missing_values_out_of_the_family() -> None:
    assert cs.holm([0.5, 0.6, 0.7]) == pytest.approx([1.0, 1.0, 1.0])
    out = cs.holm([0.01, math.nan, 0.04])  # m = 2: 0.02, 0.04
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert cs.holm([]).size == 0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cs.holm([0.5, 1.5])


# ---------------------------------------------------------------------- effect size


def test_cliffs_delta_by_hand_and_as_rank_biserial() -> None:
    # 1 vs (2, 2, 4): < < <; 2 vs: = = <; 3 vs: > > <  ->  (2 - 5) / 9
    a, b = [1, 2, 3], [2, 2, 4]
    assert cs.cliffs_delta(a, b) == pytest.approx(-3 / 9)
    u = stats.mannwhitneyu(a, b).statistic
    assert cs.cliffs_delta(a, b) == pytest.approx(2 * u / 9 - 1)
    assert cs.cliffs_delta([3, 4], [1, 2]) == 1.0
    assert cs.cliffs_delta([5, 5], [5, 5, 5]) == 0.0
    with pytest.raises(ValueError, match="each group"):
        cs.cliffs_delta([], [1])


def test_delta_interval_is_seeded_and_contains_the_estimate() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(3, 11, 40), rng.integers(0, 8, 30)
    first = cs.delta_ci(a, b, seed=7)
    cs._bootstrap_interval.cache_clear()  # computed again, not remembered
    assert first == cs.delta_ci(a, b, seed=7)
    assert first != cs.delta_ci(a, b, seed=8)
    low, high = first
    assert -1 <= low < cs.cliffs_delta(a, b) < high <= 1
    assert cs.delta_ci([4, 4, 4], [4, 4]) == (0.0, 0.0)
    assert all(math.isnan(v) for v in cs.delta_ci([1], [2, 3]))


def test_delta_interval_is_remembered_only_for_the_same_sampled_values() -> None:
    """A large group is bootstrapped from a seeded sample of its values: an edit outside
    both samples re-uses the interval, an edit inside gives the interval computed
    afresh (never the remembered one)."""
    rng = np.random.default_rng(5)
    a = rng.integers(0, 11, 3_000).astype(float)
    b = rng.integers(0, 11, 2_500).astype(float)
    limit, seed = cs.BOOTSTRAP_MAX_PER_GROUP, cs.DEFAULT_SEED
    in_sample = cs._at_most(np.arange(a.size, dtype=float), limit, seed).astype(int)
    outside = np.setdiff1d(np.arange(a.size), in_sample)
    cs._bootstrap_interval.cache_clear()
    first = cs.delta_ci(a, b)
    edited = a.copy()
    edited[outside[0]] = 10.0 - edited[outside[0]] + 0.5  # a value the sample never sees
    assert cs.delta_ci(edited, b) == first
    assert cs._bootstrap_interval.cache_info().hits == 1
    inside = a.copy()
    inside[in_sample[:200]] = 10.0  # more pain in group a: the interval moves up
    remembered = cs.delta_ci(inside, b)
    cs._bootstrap_interval.cache_clear()
    assert remembered == cs.delta_ci(inside, b) and remembered[0] > first[0]

def region_frame() -> pd.DataFrame:
    rows = ([("lumbar", v) for v in (6, 7, 8, 9, 5, 7)]
            + [("thoracic only", v) for v in (2, 3, 4, 3, 5)]
            + [("cervical only", v) for v in (1, 2, 3)]
            + [("other", v) for v in (9, 9)] + [("lumbar", None)])
    return pd.DataFrame(rows, columns=["region_group", "vas"])


def test_pairwise_mann_whitney_with_holm_and_effect_sizes() -> None:
    frame = region_frame()
    out = cs.pairwise_mann_whitney(frame, "region_group", "vas", seed=3)
    assert list(out.columns) == list(cs.PAIRWISE_COLUMNS)
    assert list(zip(out["group_a"], out["group_b"], strict=True)) == [
        ("lumbar", "thoracic only"), ("lumbar", "cervical only"),
        ("thoracic only", "cervical only")]
    lumbar = [6, 7, 8, 9, 5, 7]
    thoracic = [2, 3, 4, 3, 5]
    expected = stats.mannwhitneyu(lumbar, thoracic, alternative="two-sided")
    assert out.loc[0, "p"] == pytest.approx(expected.pvalue)
    assert out.loc[0, "u"] == expected.statistic
    assert out.loc[0, ["n_a", "n_b"]].tolist() == [6, 5]  # the missing VAS is left out
    assert out["p_holm"].to_numpy() == pytest.approx(cs.holm(out["p"].to_numpy()))
    assert out.loc[0, "r_rb"] == pytest.approx(cs.cliffs_delta(lumbar, thoracic))
    assert out.loc[0, "r_rb"] > 0.9  # lumbar hurts more
    assert (out["ci_low"] <= out["r_rb"]).all() and (out["r_rb"] <= out["ci_high"]).all()


def test_pairs_with_a_tiny_group_leave_the_holm_family() -> None:
    frame = region_frame()
    frame = frame[~((frame["region_group"] == "cervical only") & (frame["vas"] > 1))]
    out = cs.pairwise_mann_whitney(frame, "region_group", "vas")
    assert list(out["group_b"]) == ["thoracic only"]
    assert out.loc[0, "p_holm"] == pytest.approx(out.loc[0, "p"])  # a family of one


# ------------------------------------------------------------------------ intervals


def test_mean_ci_is_the_student_t_interval() -> None:
    frame = pd.DataFrame({"bin": ["a", "a", "a", "b"], "vas": [2.0, 4.0, 6.0, 5.0]})
    out = cs.mean_ci(frame, "bin", "vas", order=["b", "a", "c"]).set_index("group")
    assert list(out.index) == ["b", "a"]
    half = stats.t.ppf(0.975, 2) * 2.0 / math.sqrt(3)  # 4.30265 * SD 2 / sqrt 3
    assert out.loc["a", "mean"] == 4.0 and out.loc["a", "n"] == 3
    assert out.loc["a", "ci_low"] == pytest.approx(4.0 - half)
    assert out.loc["a", "ci_high"] == pytest.approx(4.0 + half)
    assert math.isnan(out.loc["b", "ci_low"])  # a group of one has no interval


def test_spearman_interval_fisher_z_bonett_wright() -> None:
    rho, n = 0.5, 50
    se = math.sqrt((1 + rho**2 / 2) / (n - 3))
    z = math.atanh(rho)
    low, high = cs.spearman_ci(rho, n)
    assert low == pytest.approx(math.tanh(z - 1.959964 * se), abs=1e-6)
    assert high == pytest.approx(math.tanh(z + 1.959964 * se), abs=1e-6)
    assert all(math.isnan(v) for v in cs.spearman_ci(0.3, 3))


def test_theil_sen_recovers_a_line_and_ignores_an_outlier() -> None:
    x = np.arange(10, dtype=float)
    y = 2 * x + 1
    y[9] = 100.0  # an outlier that a least-squares fit would follow
    fit = cs.theil_sen(pd.DataFrame({"x": x, "y": y}), "x", "y")
    assert fit is not None
    assert fit.slope == pytest.approx(2.0) and fit.intercept == pytest.approx(1.0)
    assert fit.slope_low <= 2.0 <= fit.slope_high
    line = fit.line(0, 9)
    assert line["y"].tolist() == pytest.approx([1.0, 19.0])
    assert cs.theil_sen(pd.DataFrame({"x": [1, 1, 1], "y": [1, 2, 3]}), "x", "y") is None


def test_jitter_is_seeded_and_bounded() -> None:
    a = cs.jitter(100, width=0.3, seed=5)
    assert np.array_equal(a, cs.jitter(100, width=0.3, seed=5))
    assert not np.array_equal(a, cs.jitter(100, width=0.3, seed=6))
    assert a.min() >= -0.3 and a.max() <= 0.3


def test_first_study_per_patient() -> None:
    frame = pd.DataFrame({"patient_id": ["A", "A", "B"], "study_id": [2, 1, 3],
                          "study_date": pd.to_datetime(["2024-03-01", "2024-01-01",
                                                        "2024-02-01"])})
    out = cs.first_study_per_patient(frame)
    assert sorted(out["study_id"]) == [1, 3]
