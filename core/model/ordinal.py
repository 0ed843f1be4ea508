"""The deployed estimator: a proportional-odds (cumulative-logit) model.

``P(Y <= k | x) = sigmoid(theta_k - eta)`` with ``eta = x . coef_``, fitted by penalised
maximum likelihood with L-BFGS-B and bounds on the weights (see the :mod:`core.model`
docstring, section *Model*): ``coef_j >= 0`` for monotone features and
``coef_j >= WEIGHT_FLOOR`` for the features whose direction the literature fixes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

#: Ridge penalty of the ordinal model (on standardised weights, summed likelihood).
DEFAULT_ALPHA = 1.0

#: Lower bound of the weight of a ``floor=True`` feature (:data:`core.features.FEATURES`),
#: in latent log-odds per training SD (the model standardises its inputs, so the raw-unit
#: weight ``WEIGHT_FLOOR / sd`` is > 0 too). The literature fixes these directions (more
#: metastatic sites, lumbar > thoracic > cervical, a higher HI ratio: more pain; Kong et
#: al. 2025), but the nested site counts and the HI ratios are strongly correlated, and
#: with plain ``>= 0`` bounds the likelihood lets one of them take all the weight and
#: clips the others to exactly 0, so a finding would change nothing. 0.05 per SD is an
#: odds ratio of 1.05 per SD: small beside the fitted weights (0.1-0.6 per SD), so it
#: imposes the direction without deciding the size.
WEIGHT_FLOOR = 0.05

#: Units of the latent score (the SHAP output units).
OUTPUT_UNITS = (
    "latent log-odds eta of the ordinal model (higher = more pain; "
    "P(pain <= k) = sigmoid(theta_k - eta))"
)


class OrdinalLogisticRegression(ClassifierMixin, BaseEstimator):
    """Proportional-odds (cumulative-logit) classifier with bounded weights.

    ``P(Y <= k | x) = sigmoid(theta_k - x . coef_)`` for ordered classes
    ``classes_[0] < ... < classes_[K-1]``.

    Parameters
    ----------
    alpha : float
        Ridge penalty ``alpha/2 * ||coef||^2`` added to the summed negative
        log-likelihood (thresholds are not penalised).
    monotone : sequence of int or None
        Per feature ``+1`` (``coef_j >= 0``), ``-1`` (``coef_j <= 0``) or ``0`` (free).
    floor : sequence of bool or None
        Per feature: ``True`` bounds the weight below by ``weight_floor`` instead of 0
        (only with ``monotone == +1``).
    weight_floor : float
        The positive lower bound of ``floor`` features (default :data:`WEIGHT_FLOOR`).
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
                 floor: Sequence[bool] | None = None, weight_floor: float = WEIGHT_FLOOR,
                 tol: float = 1e-9, max_iter: int = 2000) -> None:
        self.alpha = alpha
        self.monotone = monotone
        self.floor = floor
        self.weight_floor = weight_floor
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
        weight_bounds = self._bounds(p)
        bounds = weight_bounds + [(None, None)] + [(1e-6, None)] * (n_thr - 1)

        cum = np.cumsum(np.bincount(codes, minlength=classes.size))[:-1] / n
        theta0 = np.log(cum) - np.log1p(-cum)
        w0 = np.array([max(0.0, lo or 0.0) for lo, _ in weight_bounds])
        start = np.concatenate([w0, [theta0[0]], np.maximum(np.diff(theta0), 1e-3)])

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
        signs = [0] * p if self.monotone is None else [int(s) for s in self.monotone]
        if len(signs) != p or any(s not in (-1, 0, 1) for s in signs):
            raise ValueError(f"monotone must hold {p} values in -1, 0, +1.")
        floors = [False] * p if self.floor is None else [bool(f) for f in self.floor]
        if len(floors) != p:
            raise ValueError(f"floor must hold {p} values.")
        if any(f and s != 1 for f, s in zip(floors, signs, strict=True)):
            raise ValueError("floor applies only to features with monotone +1.")
        lowest = float(self.weight_floor)
        if not lowest > 0:
            raise ValueError(f"weight_floor {lowest!r} must be positive.")
        return [(lowest, None) if f else (0.0, None) if s > 0
                else (None, 0.0) if s < 0 else (None, None)
                for s, f in zip(signs, floors, strict=True)]

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
