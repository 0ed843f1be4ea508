"""Model evaluation: metrics, reliability table and repeated grouped cross-validation.

Metrics are computed per repeat on out-of-fold predictions: balanced accuracy,
one-vs-rest AUC per category and macro, and the multiclass Brier score. Folds come from
``StratifiedGroupKFold`` with groups = ``patient_id`` so that one patient's studies never
sit on both sides of a split.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from core.model.candidates import CANDIDATES, DEPLOYED_CANDIDATE, make_estimator
from core.model.cohort import CohortData
from core.model.ordinal import DEFAULT_ALPHA
from core.model.target import CATEGORIES

#: Bins of the reliability (calibration) table.
CALIBRATION_BINS = 10

#: Ridge penalties of the ordinal model compared by :func:`alpha_search`.
ALPHA_GRID: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0)

def multiclass_brier(y: np.ndarray, proba: np.ndarray) -> float:
    """Multiclass Brier score ``mean_i sum_k (p_ik - [y_i = k])^2`` (0 best, 2 worst)."""
    onehot = np.eye(proba.shape[1])[y]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float | None]:
    """Balanced accuracy, one-vs-rest AUC per class and macro, multiclass Brier."""
    out: dict[str, float | None] = {
        "balanced_accuracy": float(balanced_accuracy_score(y, np.argmax(proba, axis=1))),
    }
    aucs = []
    for k, name in enumerate(CATEGORIES):
        positives = y == k
        if positives.all() or not positives.any():
            out[f"auc_{name}"] = None
            continue
        auc = float(roc_auc_score(positives, proba[:, k]))
        out[f"auc_{name}"] = auc
        aucs.append(auc)
    out["auc_macro"] = float(np.mean(aucs)) if aucs else None
    out["brier"] = multiclass_brier(y, proba)
    return out


def reliability_table(y: np.ndarray, proba: np.ndarray,
                      n_bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Per-class reliability table with equal-width probability bins.

    Returns
    -------
    dict
        ``{class: {"bins": [{"lower", "upper", "n", "mean_predicted",
        "observed_fraction"}], "ece": expected calibration error}}``; empty bins have
        ``None`` means.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    table: dict[str, Any] = {}
    for k, name in enumerate(CATEGORIES):
        p = proba[:, k]
        hit = (y == k).astype(np.float64)
        index = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
        bins = []
        ece = 0.0
        for b in range(n_bins):
            sel = index == b
            count = int(sel.sum())
            if count:
                mean_p, observed = float(p[sel].mean()), float(hit[sel].mean())
                ece += count / p.size * abs(mean_p - observed)
            else:
                mean_p = observed = None
            bins.append({"lower": round(float(edges[b]), 2),
                         "upper": round(float(edges[b + 1]), 2), "n": count,
                         "mean_predicted": rounded(mean_p),
                         "observed_fraction": rounded(observed)})
        table[name] = {"bins": bins, "ece": rounded(ece)}
    return table


def rounded(value: float | None, digits: int = 6) -> float | None:
    """``value`` rounded to ``digits`` decimals as a plain float (``None`` stays ``None``)."""
    return None if value is None else round(float(value), digits)


def _summary(values: list[float | None]) -> dict[str, Any]:
    finite = [v for v in values if v is not None]
    if not finite:
        return {"mean": None, "sd": None, "per_repeat": values}
    arr = np.asarray(finite)
    return {"mean": rounded(arr.mean()),
            "sd": rounded(arr.std(ddof=1) if arr.size > 1 else 0.0),
            "per_repeat": [rounded(v) for v in values]}


def cv_splits(data: CohortData, *, seed: int, n_repeats: int, n_splits: int
              ) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Folds of each repeat: ``StratifiedGroupKFold(shuffle=True, random_state=seed + r)``.

    Groups are patients, so one patient's studies are never on both sides of a split.
    """
    return [
        list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
             .split(data.X, data.y, groups=data.groups))
        for r in range(n_repeats)
    ]


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-probability of the observed category (probabilities floored at
    1e-15)."""
    return float(-np.mean(np.log(np.clip(proba[np.arange(y.size), y], 1e-15, 1.0))))


def alpha_search(data: CohortData, *, seed: int, n_repeats: int, n_splits: int,
                 grid: Sequence[float] = ALPHA_GRID) -> dict[str, Any]:
    """The ordinal model's ridge penalty chosen by repeated grouped cross-validation.

    Every ``alpha`` of ``grid`` is fitted on the folds of :func:`cv_splits` (the same
    folds that report the candidates' metrics); the one with the lowest mean
    out-of-fold log loss is chosen (ties: the larger, smoother one).

    Returns
    -------
    dict
        ``grid``, ``criterion``, ``table`` (per alpha: mean log loss, Brier, macro AUC,
        balanced accuracy over repeats) and ``chosen``.
    """
    repeats = cv_splits(data, seed=seed, n_repeats=n_repeats, n_splits=n_splits)
    table = []
    for alpha in grid:
        per_repeat: dict[str, list[float]] = {"log_loss": [], "brier": [], "auc_macro": [],
                                              "balanced_accuracy": []}
        for folds in repeats:
            oof = np.full((data.y.size, len(CATEGORIES)), np.nan)
            for train_idx, test_idx in folds:
                est = make_estimator(DEPLOYED_CANDIDATE, seed=seed, alpha=float(alpha))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    est.fit(data.X[train_idx], data.y[train_idx])
                oof[test_idx] = est.predict_proba(data.X[test_idx])
            metrics = classification_metrics(data.y, oof)
            per_repeat["log_loss"].append(log_loss(data.y, oof))
            for key in ("brier", "auc_macro", "balanced_accuracy"):
                per_repeat[key].append(float(metrics[key] or np.nan))
        table.append({"alpha": float(alpha),
                      **{k: rounded(float(np.mean(v))) for k, v in per_repeat.items()}})
    best = min(table, key=lambda row: (row["log_loss"], -row["alpha"]))
    return {
        "grid": [float(a) for a in grid],
        "criterion": "lowest mean out-of-fold log loss over the repeated grouped folds "
                     "(the folds that report the CV metrics; ties: the larger alpha)",
        "table": table,
        "chosen": best["alpha"],
    }


def cross_validate(data: CohortData, *, seed: int, n_repeats: int = 5, n_splits: int = 5,
                   candidates: Sequence[str] = CANDIDATES,
                   alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """Repeated stratified group k-fold CV (groups = patients) of the candidates.

    Repeat ``r`` uses ``StratifiedGroupKFold(n_splits, shuffle=True,
    random_state=seed + r)``; metrics are computed per repeat on its out-of-fold
    predictions and summarised as mean, SD and per-repeat values. ``alpha`` is the
    ordinal model's ridge penalty (other candidates ignore it).

    Returns
    -------
    dict
        ``{"candidates": {name: {metric: summary}}, "oof": {name: [proba per repeat]}}``.
    """
    results: dict[str, dict[str, list[float | None]]] = {c: {} for c in candidates}
    oof_all: dict[str, list[np.ndarray]] = {c: [] for c in candidates}
    for folds in cv_splits(data, seed=seed, n_repeats=n_repeats, n_splits=n_splits):
        oof = {c: np.full((data.y.size, len(CATEGORIES)), np.nan) for c in candidates}
        for train_idx, test_idx in folds:
            if np.unique(data.y[train_idx]).size < len(CATEGORIES):
                raise ValueError("a cross-validation fold lacks a pain category; "
                                 "use fewer splits or a larger cohort.")
            for name in candidates:
                est = make_estimator(name, seed=seed, alpha=alpha)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    est.fit(data.X[train_idx], data.y[train_idx])
                oof[name][test_idx] = est.predict_proba(data.X[test_idx])
        for name in candidates:
            metrics = classification_metrics(data.y, oof[name])
            for key, value in metrics.items():
                results[name].setdefault(key, []).append(value)
            oof_all[name].append(oof[name])
    summary = {name: {k: _summary(v) for k, v in results[name].items()} for name in candidates}
    return {"candidates": summary, "oof": oof_all}


