"""Model candidates compared by cross-validation: one ``name -> factory`` table.

:data:`REGISTRY` is the only list of candidates. A factory takes keyword arguments
``seed`` (random state of stochastic candidates) and ``alpha`` (ridge penalty of the
ordinal model; other candidates ignore it) and returns a fresh, unfitted estimator with
``fit(X, y)`` and ``predict_proba(X)`` on raw feature rows (columns
:data:`core.features.FEATURE_NAMES`, NaN = missing; ``y`` = class codes 0..2).

**Adding a candidate touches only this table**: write its factory and add one
``REGISTRY`` entry. :data:`CANDIDATES`, :func:`make_estimator`, the cross-validation in
:func:`core.model.evaluation.cross_validate` and the per-candidate metrics in the model
card all follow from it. :data:`DEPLOYED_CANDIDATE` (the monotone ordinal model) is the
one that is fitted on all data, saved and explained; see the :mod:`core.model` docstring
(section *Choice*) for why.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.features import FEATURES
from core.model.ordinal import DEFAULT_ALPHA, OrdinalLogisticRegression

#: Sign constraint of each feature's weight, in :data:`core.features.FEATURES` order.
MONOTONE: tuple[int, ...] = tuple(int(f.monotone) for f in FEATURES)
#: Features whose weight is bounded below by :data:`core.model.ordinal.WEIGHT_FLOOR`.
FLOOR: tuple[bool, ...] = tuple(bool(f.floor) for f in FEATURES)


class CandidateFactory(Protocol):
    """``factory(seed=..., alpha=...)`` -> a fresh, unfitted estimator."""

    def __call__(self, *, seed: int, alpha: float) -> Any: ...


def _impute_scale() -> list[tuple[str, Any]]:
    return [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]


def _ordinal_logit(*, seed: int, alpha: float) -> Pipeline:
    """Median imputation, standardisation, monotone ordinal logit with weight floors (the
    deployed model)."""
    return Pipeline([*_impute_scale(),
                     ("model", OrdinalLogisticRegression(alpha=alpha, monotone=MONOTONE,
                                                         floor=FLOOR))])


def _multinomial_logit(*, seed: int, alpha: float) -> Pipeline:
    """Median imputation, standardisation, unconstrained multinomial logistic regression."""
    return Pipeline([*_impute_scale(), ("model", LogisticRegression(C=1.0, max_iter=2000))])


def _hist_gradient_boosting(*, seed: int, alpha: float) -> HistGradientBoostingClassifier:
    """Histogram gradient boosting (handles missing values natively)."""
    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_depth=3,
                                          early_stopping=False, random_state=seed)


#: The candidates, in the order they are cross-validated and listed in the model card.
REGISTRY: Mapping[str, CandidateFactory] = MappingProxyType({
    "ordinal_logit": _ordinal_logit,
    "multinomial_logit": _multinomial_logit,
    "hist_gradient_boosting": _hist_gradient_boosting,
})

CANDIDATES: tuple[str, ...] = tuple(REGISTRY)
DEPLOYED_CANDIDATE = "ordinal_logit"


def make_estimator(kind: str = DEPLOYED_CANDIDATE, *, seed: int = 0,
                   alpha: float = DEFAULT_ALPHA) -> Any:
    """A fresh, unfitted candidate estimator.

    Parameters
    ----------
    kind : str
        A :data:`REGISTRY` name: ``ordinal_logit`` (deployed), ``multinomial_logit`` or
        ``hist_gradient_boosting``.
    seed : int
        Random state of stochastic candidates.
    alpha : float
        Ridge penalty of the ordinal model.

    Raises
    ------
    ValueError
        For a name that is not in :data:`REGISTRY`.
    """
    factory = REGISTRY.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise ValueError(f"unknown candidate {kind!r}; expected one of {', '.join(CANDIDATES)}.")
    return factory(seed=seed, alpha=alpha)
