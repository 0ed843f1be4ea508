"""Pain-category model: an ordinal cumulative-logit model with enforced monotonicity.

Target
------
Bone pain on the 0-10 visual analogue scale (VAS) is banded into three ordered
categories, the common clinical NRS/VAS bands (e.g. NCCN Adult Cancer Pain
guideline: 1-3 mild, 4-6 moderate, 7-10 severe, with 0 counted as mild here):

* ``mild``      VAS < 4   (0-3 on integer scores)
* ``moderate``  4 <= VAS < 7   (4-6)
* ``severe``    VAS >= 7  (7-10)

Serlin et al. (Pain 1995;61:277-284) derived cut-points for cancer pain
interference of 5 and 7 (mild 1-4, moderate 5-6, severe 7-10): the severe boundary
(>= 7) is the same, the mild/moderate boundary here is one point lower, following
the guideline bands clinicians use. Non-integer VAS values are banded on the
continuous scale with boundaries 4 and 7 (:data:`VAS_CUTOFFS`).

The *expected VAS* reported with a prediction is
``E[VAS] = sum_k P(k) * m_k`` where ``m_k`` is the mean VAS of the training studies
in category ``k`` (stored in the model card as ``class_mean_vas``). It is a summary of
the predicted distribution, not a separately fitted regression.

Model
-----
:class:`OrdinalLogisticRegression`, a proportional-odds (cumulative-logit) model::

    P(Y <= k | x) = sigma(theta_k - eta),   eta = w . z,   k = 0 .. K-2

on standardised features ``z = (x_imputed - mean) / sd``, fitted by penalised
maximum likelihood (negative log-likelihood + ``alpha/2 * ||w||^2``) with
``scipy.optimize.minimize(method="L-BFGS-B")`` and an analytic gradient. The bounds
``w_j >= 0`` are set for every feature with ``monotone == +1`` in
:data:`core.features.FEATURES`: more lesions, a higher high-intensity (HI) ratio, a
higher SINS or Bilsky grade, a fracture or a deficit can never lower the predicted
pain (P(severe) and expected VAS never fall, P(mild) never rises). Because ``sd > 0``
the bound on the standardised weight is a bound on the raw-unit weight.

Preprocessing is median imputation (training medians) followed by standardisation.
Missing values are explicit: :func:`predict` reports which features were imputed so
the interface can show it; missingness indicators are deliberately *not* model
inputs (they would learn one site's documentation habits rather than pain).

Choice
------
Training compares, by repeated stratified group k-fold cross-validation (groups =
``patient_id`` so one patient's studies never sit on both sides of a split), the
ordinal model with a multinomial logistic regression and a histogram gradient
boosting classifier. The ordinal model is the deployed model because it is the only
candidate that (1) respects the ordering of the pain categories with one weight per
feature (one interpretable log-odds ratio per SD instead of one per class),
(2) enforces the clinical monotonicity constraints (scikit-learn's
HistGradientBoosting refuses monotonic constraints for multiclass targets; the
multinomial model has one unconstrained weight per class), and (3) has exact SHAP
values in a single output (the latent ``eta``). The cross-validated metrics of all
candidates are written to the model card so the price of these requirements is
visible; a warning is added when the ordinal model's macro AUC is more than
:data:`AUC_WARNING_MARGIN` below the best candidate. On the synthetic demonstration
cohort (``data/demo/cohort.csv``, 564 studies of 300 patients, seed 0, 5 x 5-fold) the
ordinal model was also the most accurate (mean over repeats): balanced accuracy 0.700,
macro AUC 0.871, Brier 0.394, against 0.698 / 0.865 / 0.403 (multinomial) and
0.693 / 0.856 / 0.420 (gradient boosting) - see ``models/demo/model_card.json``.

Artifacts (``models/<name>/``)
------------------------------
``model.skops`` (the fitted scikit-learn :class:`~sklearn.pipeline.Pipeline`, written
with :mod:`skops.io` and canonicalised so that the bytes are reproducible: no
timestamps, no memory addresses), ``model_card.json`` and ``shap_background.csv``
(see :mod:`core.explain`).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops.io as sio
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

import core
from core import DECISION_SUPPORT_NOTICE
from core.features import FEATURE_NAMES, FEATURES, FEATURES_BY_NAME, features_from_case
from core.provenance import package_versions, sha256_bytes, sha256_file, utc_now_iso

#: Ordered pain categories (index = ordinal class code).
CATEGORIES: tuple[str, ...] = ("mild", "moderate", "severe")

#: VAS boundaries on the 0-10 scale: ``mild < 4 <= moderate < 7 <= severe``.
VAS_CUTOFFS: tuple[float, float] = (4.0, 7.0)

#: Where the cut-offs come from (written to the model card).
CUTOFF_SOURCES: tuple[str, ...] = (
    "Common clinical NRS/VAS bands 1-3 mild, 4-6 moderate, 7-10 severe "
    "(e.g. NCCN Clinical Practice Guidelines, Adult Cancer Pain); VAS 0 is counted as mild.",
    "Serlin RC, Mendoza TR, Nakamura Y, Edwards KR, Cleeland CS. When is cancer pain mild, "
    "moderate or severe? Grading pain severity by its interference with function. "
    "Pain 1995;61:277-284 (data-derived cut-points 5 and 7: the severe boundary matches; "
    "their mild band is 1-4).",
)

#: Name of the deployed model family (prefix of the model version).
MODEL_NAME = "spinepain-ordinal"
#: Default model folder, relative to the repository root.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "demo"
#: Ridge penalty of the ordinal model (on standardised weights, summed likelihood).
DEFAULT_ALPHA = 1.0
#: Card warning when the ordinal model's CV macro AUC trails the best candidate by more.
AUC_WARNING_MARGIN = 0.03
#: Number of weighted k-means centroids kept as SHAP background.
BACKGROUND_CENTROIDS = 20
#: Bins of the reliability (calibration) table.
CALIBRATION_BINS = 10

CANDIDATES: tuple[str, ...] = ("ordinal_logit", "multinomial_logit", "hist_gradient_boosting")
DEPLOYED_CANDIDATE = "ordinal_logit"

MODEL_FILE = "model.skops"
CARD_FILE = "model_card.json"
BACKGROUND_FILE = "shap_background.csv"

#: Types in ``model.skops`` that skops does not trust by default and that we expect.
#: Anything else in an artifact is refused before it is constructed.
TRUSTED_TYPES: tuple[str, ...] = ("core.model.OrdinalLogisticRegression", "numpy.dtype")

OUTPUT_UNITS = (
    "latent log-odds eta of the ordinal model (higher = more pain; "
    "P(pain <= k) = sigmoid(theta_k - eta))"
)

NOTICE = DECISION_SUPPORT_NOTICE

MONOTONE: tuple[int, ...] = tuple(int(f.monotone) for f in FEATURES)


# --------------------------------------------------------------------------- target


def vas_to_category(vas: float) -> str:
    """Band a VAS score into ``mild`` / ``moderate`` / ``severe``.

    Parameters
    ----------
    vas : float
        Pain on the 0-10 VAS.

    Returns
    -------
    str
        ``mild`` if ``vas < 4``, ``moderate`` if ``4 <= vas < 7``, else ``severe``.

    Raises
    ------
    ValueError
        When ``vas`` is not a number in 0-10.
    """
    try:
        value = float(vas)
    except (TypeError, ValueError):
        raise ValueError(f"vas {vas!r} is not a number.") from None
    if not 0.0 <= value <= 10.0:  # also rejects NaN
        raise ValueError(f"vas {vas!r} is outside 0-10.")
    return CATEGORIES[int(np.searchsorted(VAS_CUTOFFS, value, side="right"))]


# ------------------------------------------------------------------------ estimator


class OrdinalLogisticRegression(ClassifierMixin, BaseEstimator):
    """Proportional-odds (cumulative-logit) classifier with sign-constrained weights.

    ``P(Y <= k | x) = sigmoid(theta_k - x . coef_)`` for ordered classes
    ``classes_[0] < ... < classes_[K-1]``.

    Parameters
    ----------
    alpha : float
        Ridge penalty ``alpha/2 * ||coef||^2`` added to the summed negative
        log-likelihood (thresholds are not penalised).
    monotone : sequence of int or None
        Per feature ``+1`` (``coef_j >= 0``), ``-1`` (``coef_j <= 0``) or ``0`` (free).
    tol : float
        Projected-gradient tolerance passed to L-BFGS-B (objective divided by n).
    max_iter : int
        Maximum L-BFGS-B iterations.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    coef_ : ndarray of shape (n_features,)
        Weights of the latent score ``eta = X @ coef_``.
    thresholds_ : ndarray of shape (K-1,)
        Strictly increasing cut-points ``theta_k``.
    n_iter_ : int
    """

    def __init__(self, alpha: float = DEFAULT_ALPHA, monotone: Sequence[int] | None = None,
                 tol: float = 1e-9, max_iter: int = 2000) -> None:
        self.alpha = alpha
        self.monotone = monotone
        self.tol = tol
        self.max_iter = max_iter

    # -- fitting
    def fit(self, X: Any, y: Any) -> OrdinalLogisticRegression:
        """Fit by penalised maximum likelihood (L-BFGS-B with bounds)."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError("OrdinalLogisticRegression needs at least two classes in y.")
        n, p = X.shape
        n_thr = classes.size - 1
        bounds = self._bounds(p) + [(None, None)] + [(1e-6, None)] * (n_thr - 1)

        cum = np.cumsum(np.bincount(codes, minlength=classes.size))[:-1] / n
        theta0 = np.log(cum) - np.log1p(-cum)
        start = np.concatenate([np.zeros(p), [theta0[0]], np.maximum(np.diff(theta0), 1e-3)])

        result = minimize(
            _ordinal_objective, start, args=(X, codes, float(self.alpha), n_thr),
            jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": int(self.max_iter), "gtol": float(self.tol), "ftol": 1e-15},
        )
        if not result.success and result.nit >= self.max_iter:
            warnings.warn(f"OrdinalLogisticRegression did not converge: {result.message}",
                          ConvergenceWarning, stacklevel=2)
        self.classes_ = classes
        self.coef_ = np.asarray(result.x[:p], dtype=np.float64)
        self.thresholds_ = np.cumsum(result.x[p:])
        self.n_iter_ = int(result.nit)
        return self

    def _bounds(self, p: int) -> list[tuple[float | None, float | None]]:
        if self.monotone is None:
            return [(None, None)] * p
        signs = [int(s) for s in self.monotone]
        if len(signs) != p or any(s not in (-1, 0, 1) for s in signs):
            raise ValueError(f"monotone must hold {p} values in -1, 0, +1.")
        return [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None)
                for s in signs]

    # -- prediction
    def decision_function(self, X: Any) -> np.ndarray:
        """Latent score ``eta = X @ coef_`` (higher = higher category)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, K)``."""
        return ordinal_probabilities(self.decision_function(X), self.thresholds_)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def ordinal_probabilities(eta: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``P(Y = k) = sigmoid(theta_k - eta) - sigmoid(theta_{k-1} - eta)``.

    Parameters
    ----------
    eta : ndarray of shape (n,)
        Latent scores.
    thresholds : ndarray of shape (K-1,)
        Increasing cut-points.

    Returns
    -------
    ndarray of shape (n, K)
    """
    eta = np.asarray(eta, dtype=np.float64).reshape(-1, 1)
    cum = expit(np.asarray(thresholds)[None, :] - eta)
    n = eta.shape[0]
    cum = np.hstack([np.zeros((n, 1)), cum, np.ones((n, 1))])
    return np.diff(cum, axis=1)


def _ordinal_objective(params: np.ndarray, X: np.ndarray, codes: np.ndarray, alpha: float,
                       n_thr: int) -> tuple[float, np.ndarray]:
    """Penalised negative log-likelihood / n and its gradient.

    With ``u = theta_y - eta`` and ``l = theta_{y-1} - eta`` (``theta_{-1} = -inf``,
    ``theta_{K-1} = +inf``), ``P(y) = sigmoid(u) - sigmoid(l)`` and, stably,
    ``log P(y) = log sigmoid(u) + log sigmoid(-l) + log(1 - exp(l - u))``.
    Thresholds are parametrised as ``theta = cumsum([theta_0, d_1, ...])`` with
    ``d >= 1e-6`` so that they stay ordered.
    """
    n, p = X.shape
    w = params[:p]
    theta = np.cumsum(params[p:])
    eta = X @ w
    ext = np.concatenate([[-np.inf], theta, [np.inf]])
    u = ext[codes + 1] - eta
    low = ext[codes] - eta
    gap = u - low
    logp = log_expit(u) + log_expit(-low) + np.log(-np.expm1(-gap))
    loss = -logp.sum() + 0.5 * alpha * float(w @ w)

    inv = 1.0 / np.expm1(gap)
    g_u = expit(-u) + inv          # d log p / d u
    g_l = -expit(low) - inv        # d log p / d l
    d_eta = g_u + g_l              # d loss / d eta  (= -d log p / d eta)
    grad_w = X.T @ d_eta + alpha * w
    upper = codes < n_thr
    lower = codes > 0
    grad_theta = (np.bincount(codes[upper], weights=-g_u[upper], minlength=n_thr)
                  + np.bincount(codes[lower] - 1, weights=-g_l[lower], minlength=n_thr))
    grad_params = np.cumsum(grad_theta[::-1])[::-1]
    return float(loss / n), np.concatenate([grad_w, grad_params]) / n


# --------------------------------------------------------------------- candidates


def make_estimator(kind: str = DEPLOYED_CANDIDATE, *, seed: int = 0,
                   alpha: float = DEFAULT_ALPHA) -> Any:
    """A fresh, unfitted candidate estimator.

    Parameters
    ----------
    kind : str
        ``ordinal_logit`` (deployed), ``multinomial_logit`` or ``hist_gradient_boosting``.
    seed : int
        Random state of stochastic candidates.
    alpha : float
        Ridge penalty of the ordinal model.
    """
    impute = ("impute", SimpleImputer(strategy="median"))
    scale = ("scale", StandardScaler())
    if kind == "ordinal_logit":
        return Pipeline([impute, scale,
                         ("model", OrdinalLogisticRegression(alpha=alpha, monotone=MONOTONE))])
    if kind == "multinomial_logit":
        return Pipeline([impute, scale, ("model", LogisticRegression(C=1.0, max_iter=2000))])
    if kind == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_depth=3,
                                              early_stopping=False, random_state=seed)
    raise ValueError(f"unknown candidate {kind!r}; expected one of {', '.join(CANDIDATES)}.")


# ------------------------------------------------------------------------- cohort


@dataclass(frozen=True)
class CohortData:
    """A cohort turned into model inputs.

    Attributes
    ----------
    X : ndarray (n, n_features), NaN = missing, columns :data:`FEATURE_NAMES`.
    y : ndarray (n,) of class codes 0..2.
    vas : ndarray (n,)
    groups : ndarray (n,) of patient ids (str).
    n_excluded_missing_vas : int
    """

    X: np.ndarray
    y: np.ndarray
    vas: np.ndarray
    groups: np.ndarray
    n_excluded_missing_vas: int


def cohort_to_arrays(cohort: pd.DataFrame) -> CohortData:
    """Map a cohort table (one row per study) onto features, target and groups.

    Rows without a VAS are excluded (and counted). Every other value is validated
    by :func:`core.features.features_from_case`.

    Raises
    ------
    ValueError
        For a missing ``patient_id``/``vas`` column, an invalid value (naming the row),
        or a feature with no observed value at all.
    """
    for column in ("patient_id", "vas"):
        if column not in cohort.columns:
            raise ValueError(f"the cohort has no {column!r} column.")
    rows: list[list[float]] = []
    vas: list[float] = []
    groups: list[str] = []
    excluded = 0
    for position, record in enumerate(cohort.to_dict(orient="records")):
        raw_vas = record.get("vas")
        if raw_vas is None or (isinstance(raw_vas, float) and np.isnan(raw_vas)) or (
                isinstance(raw_vas, str) and not raw_vas.strip()):
            excluded += 1
            continue
        pid = record.get("patient_id")
        if pid is None or (isinstance(pid, float) and np.isnan(pid)) or not str(pid).strip():
            raise ValueError(f"cohort row {position + 1} has no patient_id.")
        try:
            vas_value = float(raw_vas)
            vas_to_category(vas_value)
            feats = features_from_case(record)
        except ValueError as exc:
            raise ValueError(f"cohort row {position + 1}: {exc}") from None
        rows.append([np.nan if feats[n] is None else float(feats[n]) for n in FEATURE_NAMES])
        vas.append(vas_value)
        groups.append(str(pid).strip())
    if not rows:
        raise ValueError("the cohort has no rows with a VAS score.")
    X = np.asarray(rows, dtype=np.float64)
    empty = [FEATURE_NAMES[j] for j in range(X.shape[1]) if np.all(np.isnan(X[:, j]))]
    if empty:
        raise ValueError(f"feature {empty[0]!r} has no observed value in the cohort.")
    vas_arr = np.asarray(vas, dtype=np.float64)
    y = np.searchsorted(np.asarray(VAS_CUTOFFS), vas_arr, side="right").astype(np.int64)
    return CohortData(X, y, vas_arr, np.asarray(groups, dtype=object), excluded)


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of a data frame's CSV rendering (used when no file is given)."""
    return sha256_bytes(frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))


# ------------------------------------------------------------------------ metrics


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
                         "mean_predicted": _r(mean_p), "observed_fraction": _r(observed)})
        table[name] = {"bins": bins, "ece": _r(ece)}
    return table


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def _summary(values: list[float | None]) -> dict[str, Any]:
    finite = [v for v in values if v is not None]
    if not finite:
        return {"mean": None, "sd": None, "per_repeat": values}
    arr = np.asarray(finite)
    return {"mean": _r(arr.mean()), "sd": _r(arr.std(ddof=1) if arr.size > 1 else 0.0),
            "per_repeat": [_r(v) for v in values]}


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


def cross_validate(data: CohortData, *, seed: int, n_repeats: int = 5, n_splits: int = 5,
                   candidates: Sequence[str] = CANDIDATES) -> dict[str, Any]:
    """Repeated stratified group k-fold CV (groups = patients) of the candidates.

    Repeat ``r`` uses ``StratifiedGroupKFold(n_splits, shuffle=True,
    random_state=seed + r)``; metrics are computed per repeat on its out-of-fold
    predictions and summarised as mean, SD and per-repeat values.

    Returns
    -------
    dict
        ``{"candidates": {name: {metric: summary}}, "oof": {name: [proba per repeat]}}``.
    """
    results: dict[str, dict[str, list[float | None]]] = {c: {} for c in candidates}
    oof_all: dict[str, list[np.ndarray]] = {c: [] for c in candidates}
    for _r, folds in enumerate(cv_splits(data, seed=seed, n_repeats=n_repeats,
                                         n_splits=n_splits)):
        oof = {c: np.full((data.y.size, len(CATEGORIES)), np.nan) for c in candidates}
        for train_idx, test_idx in folds:
            if np.unique(data.y[train_idx]).size < len(CATEGORIES):
                raise ValueError("a cross-validation fold lacks a pain category; "
                                 "use fewer splits or a larger cohort.")
            for name in candidates:
                est = make_estimator(name, seed=seed)
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


# ---------------------------------------------------------------------- the model


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A fitted pipeline with its card and SHAP background.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        ``impute -> scale -> model`` (:class:`OrdinalLogisticRegression`).
    card : dict
        The model card (see :func:`train`).
    background : pandas.DataFrame
        SHAP background: columns :data:`FEATURE_NAMES` (raw units) and ``weight``.
    path : Path or None
        Folder it was loaded from.
    """

    pipeline: Pipeline
    card: dict[str, Any]
    background: pd.DataFrame
    path: Path | None = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        imputer = self.pipeline.named_steps["impute"]
        scaler = self.pipeline.named_steps["scale"]
        est = self.pipeline.named_steps["model"]
        self.cache["arrays"] = {
            "median": np.asarray(imputer.statistics_, dtype=np.float64),
            "mean": np.asarray(scaler.mean_, dtype=np.float64),
            "scale": np.asarray(scaler.scale_, dtype=np.float64),
            "coef": np.asarray(est.coef_, dtype=np.float64),
            "thresholds": np.asarray(est.thresholds_, dtype=np.float64),
            "class_mean_vas": np.asarray(
                [self.card["target"]["class_mean_vas"][c] for c in CATEGORIES], dtype=np.float64),
        }

    @property
    def version(self) -> str:
        """Model version string from the card."""
        return str(self.card["version"])

    @property
    def feature_names(self) -> tuple[str, ...]:
        return FEATURE_NAMES

    @property
    def estimator(self) -> OrdinalLogisticRegression:
        """The final ordinal estimator."""
        return self.pipeline.named_steps["model"]

    def standardise(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Impute (training medians) and standardise raw rows.

        Returns
        -------
        (X_imputed, Z) : raw-unit rows after imputation and standardised rows.
        """
        a = self.cache["arrays"]
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        filled = np.where(np.isnan(X), a["median"], X)
        return filled, (filled - a["mean"]) / a["scale"]

    def latent(self, X: np.ndarray) -> np.ndarray:
        """Latent score ``eta`` of raw rows (NaN = missing)."""
        return self.standardise(X)[1] @ self.cache["arrays"]["coef"]


@dataclass(frozen=True)
class Prediction:
    """One case's prediction.

    Attributes
    ----------
    category : str
        Most probable category (``mild``/``moderate``/``severe``).
    probabilities : dict of str to float
        ``P(category)``, summing to 1.
    expected_vas : float
        ``sum_k P(k) * class_mean_vas[k]`` (training means; see the module docstring).
    imputed : tuple of str
        Features that were missing and replaced by the training median.
    model_version : str
    features : dict of str to float
        Feature values used (after imputation), raw units.
    """

    category: str
    probabilities: dict[str, float]
    expected_vas: float
    imputed: tuple[str, ...]
    model_version: str
    features: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "probabilities": dict(self.probabilities),
            "expected_vas": self.expected_vas,
            "imputed": list(self.imputed),
            "model_version": self.model_version,
            "features": dict(self.features),
        }


def feature_row(features: Mapping[str, object]) -> np.ndarray:
    """Validate a feature mapping and return one raw row (NaN = missing).

    Keys must be feature names (absent keys and ``None``/NaN mean missing); values
    must lie in their feature's range.

    Raises
    ------
    ValueError
        For an unknown feature, a non-number or an out-of-range value.
    """
    unknown = [k for k in features if k not in FEATURES_BY_NAME]
    if unknown:
        raise ValueError(f"unknown feature {unknown[0]!r}; expected names from "
                         "core.features.FEATURE_NAMES.")
    row = np.full(len(FEATURE_NAMES), np.nan)
    for j, spec in enumerate(FEATURES):
        value = features.get(spec.name)
        if value is None:
            continue
        if isinstance(value, str) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"{spec.name} {value!r} is not a number.")
        number = float(value)
        if np.isnan(number):
            continue
        if not spec.min_value <= number <= spec.max_value:
            raise ValueError(f"{spec.name} = {number:g} is outside its range "
                             f"{spec.min_value:g}-{spec.max_value:g} ({spec.unit}).")
        row[j] = number
    return row


def predict(model: TrainedModel, features: Mapping[str, object]) -> Prediction:
    """Predict the pain category of one case.

    Parameters
    ----------
    model : TrainedModel
    features : mapping of str to float or None
        Output of :func:`core.features.features_from_case` (or a subset of it).

    Returns
    -------
    Prediction
    """
    row = feature_row(features)
    filled, z = model.standardise(row)
    a = model.cache["arrays"]
    eta = z @ a["coef"]
    proba = ordinal_probabilities(eta, a["thresholds"])[0]
    imputed = tuple(n for n, v in zip(FEATURE_NAMES, row, strict=True) if np.isnan(v))
    return Prediction(
        category=CATEGORIES[int(np.argmax(proba))],
        probabilities={c: float(p) for c, p in zip(CATEGORIES, proba, strict=True)},
        expected_vas=float(proba @ a["class_mean_vas"]),
        imputed=imputed,
        model_version=model.version,
        features={n: float(v) for n, v in zip(FEATURE_NAMES, filled[0], strict=True)},
    )


# ------------------------------------------------------------------------ training


def _background(pipeline: Pipeline, X: np.ndarray, seed: int) -> pd.DataFrame:
    """Weighted k-means summary of the imputed training rows (SHAP background).

    Centroids are computed on standardised rows and returned in raw units with
    ``weight`` = cluster share, so no individual patient's row is stored while the
    weighted mean (all a linear SHAP explainer uses) equals the training mean.
    """
    imputer, scaler = pipeline.named_steps["impute"], pipeline.named_steps["scale"]
    Z = scaler.transform(imputer.transform(X))
    k = int(min(BACKGROUND_CENTROIDS, len(np.unique(Z, axis=0))))
    km = KMeans(n_clusters=k, n_init=4, random_state=seed, algorithm="lloyd").fit(Z)
    counts = np.bincount(km.labels_, minlength=k)
    centres = np.vstack([Z[km.labels_ == c].mean(axis=0) for c in range(k)])
    raw = scaler.inverse_transform(centres)
    frame = pd.DataFrame(raw, columns=list(FEATURE_NAMES))
    frame["weight"] = counts / counts.sum()
    order = np.lexsort(raw.T[::-1])
    return frame.iloc[order].reset_index(drop=True)


def _coefficients(pipeline: Pipeline) -> list[dict[str, Any]]:
    est = pipeline.named_steps["model"]
    scaler = pipeline.named_steps["scale"]
    imputer = pipeline.named_steps["impute"]
    out = []
    for j, spec in enumerate(FEATURES):
        w = float(est.coef_[j])
        out.append({
            "feature": spec.name,
            "weight_per_sd": _r(w),
            "weight_per_unit": _r(w / scaler.scale_[j]),
            "odds_ratio_per_sd": _r(float(np.exp(w))),
            "monotone": spec.monotone,
            "at_bound": bool(spec.monotone != 0 and w == 0.0),
            "median_imputation_value": _r(float(imputer.statistics_[j])),
            "training_mean": _r(float(scaler.mean_[j])),
            "training_sd": _r(float(scaler.scale_[j])),
        })
    return out


def train(cohort: pd.DataFrame, *, seed: int, synthetic: bool, n_repeats: int = 5,
          n_splits: int = 5, candidates: Sequence[str] = CANDIDATES,
          data_sha256: str | None = None, source: str | None = None,
          retrain_command: str | None = None) -> TrainedModel:
    """Cross-validate the candidates and fit the deployed ordinal model.

    Parameters
    ----------
    cohort : pandas.DataFrame
        One row per study: ``patient_id``, ``vas`` (0-10) and the columns
        :func:`core.features.features_from_case` reads.
    seed : int
        Seeds the CV splits, the gradient boosting candidate and the background
        k-means; the same seed and data give bit-identical artifacts.
    synthetic : bool
        Marks the card as synthetic demonstration data.
    n_repeats, n_splits : int
        Repeated stratified group k-fold (groups = ``patient_id``).
    candidates : sequence of str
        Compared models; must include ``ordinal_logit``.
    data_sha256, source, retrain_command : str, optional
        Recorded in the card (:func:`train_from_file` passes the file hash and name).

    Returns
    -------
    TrainedModel
    """
    if DEPLOYED_CANDIDATE not in candidates:
        raise ValueError(f"candidates must include {DEPLOYED_CANDIDATE!r}.")
    if n_splits < 2 or n_repeats < 1:
        raise ValueError("n_splits must be at least 2 and n_repeats at least 1.")
    data = cohort_to_arrays(cohort)
    counts = np.bincount(data.y, minlength=len(CATEGORIES))
    for k, name in enumerate(CATEGORIES):
        patients = np.unique(data.groups[data.y == k]).size
        if patients < n_splits:
            raise ValueError(f"pain category {name!r} has {patients} patient(s); "
                             f"at least {n_splits} are needed for {n_splits}-fold CV.")

    cv = cross_validate(data, seed=seed, n_repeats=n_repeats, n_splits=n_splits,
                        candidates=candidates)
    pipeline = make_estimator(DEPLOYED_CANDIDATE, seed=seed).fit(data.X, data.y)
    background = _background(pipeline, data.X, seed)

    sha = data_sha256 or frame_sha256(cohort)
    class_means = {c: _r(float(data.vas[data.y == k].mean())) for k, c in enumerate(CATEGORIES)}
    version = f"{MODEL_NAME}-{core.__version__}-{sha[:10]}-seed{seed}"
    chosen_auc = cv["candidates"][DEPLOYED_CANDIDATE]["auc_macro"]["mean"]
    best_name = max(candidates, key=lambda c: cv["candidates"][c]["auc_macro"]["mean"] or -1.0)
    best_auc = cv["candidates"][best_name]["auc_macro"]["mean"]
    selection_warnings = []
    if (chosen_auc is not None and best_auc is not None
            and best_auc - chosen_auc > AUC_WARNING_MARGIN):
        selection_warnings.append(
            f"{best_name} has a cross-validated macro AUC {best_auc - chosen_auc:.3f} higher than "
            "the deployed ordinal model; the monotone, interpretable model was kept by design - "
            "review before clinical use.")
    oof = np.vstack(cv["oof"][DEPLOYED_CANDIDATE])
    oof_y = np.tile(data.y, n_repeats)
    est = pipeline.named_steps["model"]

    card: dict[str, Any] = {
        "name": MODEL_NAME,
        "version": version,
        "trained_utc": utc_now_iso(),
        "data": ("synthetic demonstration cohort — not for clinical use" if synthetic
                 else "site data (see training_data); validate locally before use"),
        "synthetic": bool(synthetic),
        "intended_use": (
            "Decision support, not diagnosis: estimates the bone-pain category (VAS bands) of "
            "adults with spinal metastases from MRI lesion features and clinical fields, to "
            "prompt pain-management review. A clinician makes every decision."),
        "not_intended_for": [
            "diagnosing metastases, fractures or spinal cord compression",
            "replacing a pain assessment with the patient",
            "patients under 18 or pain not caused by spinal metastases",
        ],
        "limitations": [
            "Trained on " + (
                "synthetic data: the associations are illustrative only." if synthetic
                else "one data source; performance elsewhere is unknown."),
            "Lesion counts, involved levels and HI ratios are strongly correlated (Kong et al., "
            "Int J Med Sci 2025;22:708-715); weights are shared between them and a single "
            "weight should not be read as an independent effect.",
            "Association, not causation; the model does not know treatment already given beyond "
            "the recorded analgesic step and prior radiotherapy.",
            "Missing features are replaced by training medians (reported per prediction).",
            "Proportional-odds assumption: one set of weights for both category boundaries.",
            "Studies of the same patient are correlated; CV groups by patient but the final fit "
            "treats studies as independent.",
        ],
        "target": {
            "name": "bone pain category from VAS (0-10)",
            "categories": list(CATEGORIES),
            "cutoffs": {"mild": "VAS < 4 (0-3)", "moderate": "4 <= VAS < 7 (4-6)",
                        "severe": "VAS >= 7 (7-10)"},
            "cutoff_values": list(VAS_CUTOFFS),
            "sources": list(CUTOFF_SOURCES),
            "expected_vas": "sum_k P(k) * class_mean_vas[k] (mean VAS of training studies "
                            "in each category)",
            "class_mean_vas": class_means,
            "predicted_category": "most probable category",
        },
        "training_data": {
            "source": source or "data frame",
            "sha256": sha,
            "n_rows": int(data.y.size),
            "n_rows_excluded_missing_vas": int(data.n_excluded_missing_vas),
            "n_patients": int(np.unique(data.groups).size),
            "class_counts": {c: int(counts[k]) for k, c in enumerate(CATEGORIES)},
            "missing_fraction": {n: _r(float(np.isnan(data.X[:, j]).mean()), 4)
                                 for j, n in enumerate(FEATURE_NAMES)},
        },
        "features": [
            {"name": f.name, "label": f.label, "unit": f.unit, "kind": f.kind,
             "group": f.group, "range": [f.min_value, f.max_value],
             "monotone": f.monotone, "description": f.description}
            for f in FEATURES
        ],
        "model": {
            "type": "ordinal cumulative-logit (proportional-odds) model",
            "estimator": "core.model.OrdinalLogisticRegression",
            "equation": "P(pain <= k) = sigmoid(theta_k - eta), eta = sum_j w_j * z_j, "
                        "z_j = (x_j - training_mean_j) / training_sd_j",
            "fit": "penalised maximum likelihood, scipy L-BFGS-B, bounds w_j >= 0 for "
                   "monotone features",
            "alpha": est.alpha,
            "preprocessing": "median imputation (training medians) then standardisation",
            "coefficients": _coefficients(pipeline),
            "thresholds": {f"{CATEGORIES[k]}|{CATEGORIES[k + 1]}": _r(float(t))
                           for k, t in enumerate(est.thresholds_)},
            "n_iter": est.n_iter_,
            "output_units": OUTPUT_UNITS,
        },
        "selection": {
            "chosen": DEPLOYED_CANDIDATE,
            "reasons": [
                "respects the order mild < moderate < severe with one weight per feature",
                "monotonicity of lesion counts, HI ratios, SINS, Bilsky grade, fracture and "
                "deficit is enforced by bounds (HistGradientBoosting cannot constrain "
                "multiclass targets; multinomial logistic regression has unconstrained "
                "per-class weights)",
                "exact SHAP values on a single output (the latent eta) with "
                "shap.LinearExplainer",
            ],
            "warnings": selection_warnings,
            "metrics_note": "per-repeat metrics on out-of-fold predictions; AUC one-vs-rest; "
                            "Brier = mean_i sum_k (p_ik - y_ik)^2 (0 best, 2 worst)",
            "candidates": cv["candidates"],
        },
        "cross_validation": {
            "scheme": "repeated StratifiedGroupKFold, groups = patient_id",
            "n_splits": n_splits,
            "n_repeats": n_repeats,
            "random_states": [seed + r for r in range(n_repeats)],
        },
        "calibration": {
            "model": DEPLOYED_CANDIDATE,
            "source": "pooled out-of-fold predictions of all repeats",
            "bins": CALIBRATION_BINS,
            "classes": reliability_table(oof_y, oof),
        },
        "explanation": {
            "method": "shap.LinearExplainer (interventional; exact for a linear eta)",
            "output_units": OUTPUT_UNITS,
            "background": f"{BACKGROUND_FILE}: {len(background)} weighted k-means centroids "
                          "of the imputed training rows (no individual rows stored)",
        },
        "library_versions": package_versions(),
        "seed": seed,
        "retrain_command": retrain_command or (
            "python -m core train --cohort COHORT.csv --out models/NAME --seed "
            f"{seed}{' --synthetic' if synthetic else ''}"),
    }
    return TrainedModel(pipeline=pipeline, card=card, background=background)


# ------------------------------------------------------------------- persistence


def _canonical_skops(obj: Any) -> bytes:
    """``skops.io.dumps`` made byte-reproducible.

    skops names array files and ``__id__`` fields after ``id()`` of the objects and
    stamps zip entries with the current time. Both are renumbered in order of first
    appearance in ``schema.json`` (which preserves which nodes share an object) and
    every entry gets the fixed time 1980-01-01.
    """
    src = zipfile.ZipFile(io.BytesIO(sio.dumps(obj)))
    schema = json.loads(src.read("schema.json"))
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "__id__" in node:
                node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
            if isinstance(node.get("file"), str):
                old = node["file"]
                suffix = Path(old).suffix
                node["file"] = files.setdefault(old, f"{len(files) + 1:04d}{suffix}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        def put(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)

        for old, new in sorted(files.items(), key=lambda kv: kv[1]):
            put(new, src.read(old))
        put("schema.json", json.dumps(schema, indent=2).encode("utf-8"))
    return out.getvalue()


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def save(model: TrainedModel, out_dir: str | Path) -> Path:
    """Write ``model.skops``, ``shap_background.csv`` and ``model_card.json``.

    The card records the SHA-256 of the other two files; :func:`load_model`
    checks them.

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    blob = _canonical_skops(model.pipeline)
    (folder / MODEL_FILE).write_bytes(blob)
    background_csv = model.background.to_csv(index=False, lineterminator="\n",
                                             float_format="%.17g")
    _write_text(folder / BACKGROUND_FILE, background_csv)
    model.card["artifacts"] = {
        MODEL_FILE: sha256_bytes(blob),
        BACKGROUND_FILE: sha256_bytes(background_csv.encode("utf-8")),
    }
    _write_text(folder / CARD_FILE, json.dumps(model.card, indent=2, ensure_ascii=False,
                                               allow_nan=False) + "\n")
    return folder


def read_cohort(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Read a cohort CSV/Excel file.

    Uses :func:`core.clinical.load_clinical_table` (validated rows) when that module
    is available, else pandas with ``patient_id`` and ``bilsky_grade`` kept as text.

    Returns
    -------
    (frame, errors) : the rows and human-readable validation errors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cohort file {path} does not exist.")
    try:
        from core.clinical import load_clinical_table
    except ImportError:
        load_clinical_table = None  # type: ignore[assignment]
    if load_clinical_table is not None:
        table = load_clinical_table(path)
        errors = [f"row {e.row}, column {e.column}: {e.reason}" for e in table.errors]
        return pd.DataFrame(table.rows), errors
    text_columns = {"patient_id": str, "bilsky_grade": str}
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return pd.read_excel(path, dtype=text_columns), []
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path, dtype=text_columns, keep_default_na=True), []
    raise ValueError(f"cohort file {path.name} is not CSV or Excel.")


def train_from_file(path: str | Path, *, out_dir: str | Path, seed: int = 0,
                    synthetic: bool = False, n_repeats: int = 5,
                    n_splits: int = 5) -> dict[str, Any]:
    """Train on a cohort file, save the artifacts to ``out_dir`` and return the card.

    Raises
    ------
    ValueError
        When the file has invalid rows (the first few are named) or too few patients.
    """
    frame, errors = read_cohort(path)
    if errors:
        raise ValueError(f"{Path(path).name} has {len(errors)} invalid value(s), first: "
                         f"{errors[0]}; fix the file before training.")
    command = (f"python -m core train --cohort {path} --out {out_dir} --seed {seed}"
               + (" --synthetic" if synthetic else ""))
    model = train(frame, seed=seed, synthetic=synthetic, n_repeats=n_repeats,
                  n_splits=n_splits, data_sha256=sha256_file(path), source=Path(path).name,
                  retrain_command=command)
    save(model, out_dir)
    _CACHE.clear()
    return model.card


# ------------------------------------------------------------------------ loading

_CACHE: dict[tuple[str, int, int, int], TrainedModel] = {}
_CACHE_LOCK = threading.Lock()


def _major_minor(version: str) -> tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)", version)
    return tuple(int(g) for g in match.groups()) if match else ()


def _artifact_sklearn_versions(blob: bytes) -> set[str]:
    """The ``_sklearn_version`` stamps scikit-learn left in a skops file's schema.

    Read from ``schema.json`` without constructing anything; an unreadable file gives an
    empty set (the skops checks that follow refuse it with their own message).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return set()
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stamp = node.get("_sklearn_version")
            if isinstance(stamp, dict) and isinstance(stamp.get("content"), str):
                try:
                    found.add(str(json.loads(stamp["content"])))
                except ValueError:
                    found.add(stamp["content"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def load_model(path: str | Path | None = None) -> TrainedModel:
    """Load a model folder (default ``models/demo``), cached per path and file mtimes.

    Checks, in order: the card exists and lists the current feature set; it was
    trained with the installed scikit-learn major.minor; the files match the card's
    SHA-256; the ``_sklearn_version`` stamps inside ``model.skops`` have the installed
    major.minor too; ``model.skops`` holds no type outside :data:`TRUSTED_TYPES` (checked
    with ``skops.io.get_untrusted_types`` before anything is constructed). Only the newest
    files of a folder stay cached.

    Raises
    ------
    FileNotFoundError
        When the folder or a file is missing.
    ValueError
        For a version mismatch (the message gives the retrain command), a changed
        feature list, a checksum mismatch or an unexpected type.
    """
    folder = Path(path) if path is not None else DEFAULT_MODEL_DIR
    files = [folder / MODEL_FILE, folder / CARD_FILE, folder / BACKGROUND_FILE]
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"model file {file} does not exist.")
    key = (str(folder.resolve()), *(f.stat().st_mtime_ns for f in files))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)  # type: ignore[call-overload]
    if cached is not None:
        return cached

    try:
        card = json.loads(files[1].read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{files[1]} is not valid JSON.") from None
    retrain = card.get("retrain_command") or (
        f"python -m core train --cohort data/demo/cohort.csv --out {folder} --seed 0 --synthetic")
    trained_with = str(card.get("library_versions", {}).get("scikit-learn", "unknown"))
    if _major_minor(trained_with) != _major_minor(sklearn.__version__):
        raise ValueError(
            f"{folder} was trained with scikit-learn {trained_with} but {sklearn.__version__} "
            f"is installed; retrain it with: {retrain}")
    names = [f.get("name") for f in card.get("features", [])]
    if tuple(names) != FEATURE_NAMES:
        raise ValueError(f"{folder} was trained on a different feature list; retrain it with: "
                         f"{retrain}")
    blob = files[0].read_bytes()
    background_bytes = files[2].read_bytes()
    expected = card.get("artifacts", {})
    if (expected.get(MODEL_FILE) != sha256_bytes(blob)
            or expected.get(BACKGROUND_FILE) != sha256_bytes(background_bytes)):
        raise ValueError(f"{folder} files do not match the checksums in {CARD_FILE}.")
    # The card is plain JSON; the stamps inside model.skops are what scikit-learn unpickles.
    for pickled_with in sorted(_artifact_sklearn_versions(blob)):
        if _major_minor(pickled_with) != _major_minor(sklearn.__version__):
            raise ValueError(
                f"{files[0]} was written by scikit-learn {pickled_with} but "
                f"{sklearn.__version__} is installed; retrain it with: {retrain}")
    try:
        untrusted = sio.get_untrusted_types(data=blob)
    except Exception as exc:  # a corrupt or foreign zip
        raise ValueError(f"{files[0]} is not a readable skops file ({exc}).") from None
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ValueError(f"{files[0]} contains unexpected type(s) {', '.join(unexpected)}; "
                         "refusing to load it.")
    pipeline = sio.loads(blob, trusted=list(TRUSTED_TYPES))
    if (not isinstance(pipeline, Pipeline)
            or list(pipeline.named_steps) != ["impute", "scale", "model"]
            or not isinstance(pipeline.named_steps["model"], OrdinalLogisticRegression)):
        raise ValueError(f"{files[0]} does not hold the expected impute/scale/ordinal pipeline.")
    background = pd.read_csv(io.BytesIO(background_bytes))
    if list(background.columns) != [*FEATURE_NAMES, "weight"]:
        raise ValueError(f"{files[2]} does not have the expected columns.")
    model = TrainedModel(pipeline=pipeline, card=card, background=background, path=folder)
    with _CACHE_LOCK:
        for stale in [k for k in _CACHE if k[0] == key[0]]:  # older files of this folder
            del _CACHE[stale]
        _CACHE[key] = model  # type: ignore[index]
    return model


# ------------------------------------------------------------------ CLI payload


def canonical_json_sha256(case: Mapping[str, Any]) -> str:
    """SHA-256 of ``json.dumps(case, sort_keys=True, separators=(",", ":"))`` in UTF-8."""
    text = json.dumps(case, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def predict_case_json(case: Mapping[str, Any], model_path: str | Path | None = None
                      ) -> dict[str, Any]:
    """The ``python -m core predict`` payload for one case.

    Parameters
    ----------
    case : mapping
        ``core extract`` output and/or flat feature columns, merged with clinical fields.
    model_path : str or Path, optional
        Model folder (default ``models/demo``).

    Returns
    -------
    dict
        Keys ``model_version, category, probabilities, expected_vas, shap, base_value,
        output_value, output_units, features, imputed, tier, overrides, notice,
        provenance``.
    """
    from core.explain import explain_case
    from core.provenance import provenance
    from core.tiers import decide_tier

    features = features_from_case(case)
    model = load_model(model_path)
    pred = predict(model, features)
    expl = explain_case(model, features)
    decision = decide_tier(pred.category, features).to_dict()
    overrides = decision.pop("overrides")
    data_label = model.card.get("data", "")
    return {
        "model_version": pred.model_version,
        "category": pred.category,
        "probabilities": pred.probabilities,
        "expected_vas": pred.expected_vas,
        "shap": dict(zip(expl.feature_names, expl.shap_values, strict=True)),
        "base_value": expl.base_value,
        "output_value": expl.output_value,
        "output_units": expl.output_units,
        "features": pred.features,
        "imputed": list(pred.imputed),
        "tier": decision,
        "overrides": overrides,
        "notice": f"{NOTICE} Model data: {data_label}.",
        "provenance": provenance(input_sha256=canonical_json_sha256(case),
                                 model_version=pred.model_version,
                                 model_artifacts=model.card.get("artifacts", {})),
    }
