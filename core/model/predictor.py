"""A fitted model in memory and its one-case prediction.

:class:`TrainedModel` holds the fitted ``impute -> scale -> model`` pipeline, the model
card and the SHAP background, and caches the few arrays :func:`predict` needs, so a
prediction is a handful of numpy operations instead of a pipeline call (the result is
the same; ``tests/test_model.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from core.features import FEATURE_NAMES, FeatureVector
from core.model.ordinal import OrdinalLogisticRegression, ordinal_probabilities
from core.model.target import CATEGORIES


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A fitted pipeline with its card and SHAP background.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        ``impute -> scale -> model`` (:class:`OrdinalLogisticRegression`).
    card : dict
        The model card (see :func:`core.model.training.train`).
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
        ``sum_k P(k) * class_mean_vas[k]`` (training means; see the :mod:`core.model`
        docstring).
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


@dataclass(frozen=True, eq=False)
class Scores:
    """The model's view of ``n`` cases, computed once and shared by prediction and SHAP.

    Attributes
    ----------
    missing : ndarray of bool, shape (n, p)
        Which values were not recorded (imputed with the training median).
    filled : ndarray, shape (n, p)
        Raw-unit rows after imputation.
    z : ndarray, shape (n, p)
        Standardised rows ``(filled - mean) / sd``.
    eta : ndarray, shape (n,)
        Latent score ``z . w`` of the ordinal model.
    """

    missing: np.ndarray
    filled: np.ndarray
    z: np.ndarray
    eta: np.ndarray


def score_rows(model: TrainedModel, X: np.ndarray) -> Scores:
    """Impute, standardise and score raw rows (NaN = missing) with array operations."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    filled, z = model.standardise(X)
    # a row-wise reduction (not ``z @ w``): each row's sum is computed the same way
    # whether it is scored alone or with a cohort, so both give the same bits
    return Scores(np.isnan(X), filled, z, (z * model.cache["arrays"]["coef"]).sum(axis=1))


def score(model: TrainedModel, features: FeatureVector) -> Scores:
    """:func:`score_rows` of one :class:`~core.features.FeatureVector`.

    Raises
    ------
    TypeError
        When ``features`` is not a FeatureVector (parse raw cases with
        :func:`core.features.features_from_case` first).
    """
    if not isinstance(features, FeatureVector):
        raise TypeError("the model takes a FeatureVector; parse the case with "
                        "core.features.features_from_case first.")
    return score_rows(model, features.row())


@dataclass(frozen=True, eq=False)
class RowPredictions:
    """Predictions of ``n`` cases as arrays (the vectorised form of :class:`Prediction`).

    Attributes
    ----------
    probabilities : ndarray, shape (n, 3)
        ``P(category)`` in :data:`~core.vocab.CATEGORIES` order.
    category_codes : ndarray of int, shape (n,)
        Index of the most probable category.
    expected_vas : ndarray, shape (n,)
        ``probabilities @ class_mean_vas``.
    """

    probabilities: np.ndarray
    category_codes: np.ndarray
    expected_vas: np.ndarray

    @property
    def categories(self) -> np.ndarray:
        """Category names of the most probable categories."""
        return np.asarray(CATEGORIES, dtype=object)[self.category_codes]


def predict_scores(model: TrainedModel, scores: Scores) -> RowPredictions:
    """Probabilities, categories and expected VAS of scored rows (array operations)."""
    a = model.cache["arrays"]
    proba = ordinal_probabilities(scores.eta, a["thresholds"])
    return RowPredictions(proba, np.argmax(proba, axis=1),
                          (proba * a["class_mean_vas"]).sum(axis=1))


def predict_rows(model: TrainedModel, X: np.ndarray) -> RowPredictions:
    """:func:`predict_scores` of raw model-unit rows (NaN = missing), e.g. a cohort matrix."""
    return predict_scores(model, score_rows(model, X))


def predict(model: TrainedModel, features: FeatureVector,
            scores: Scores | None = None) -> Prediction:
    """Predict the pain category of one case.

    Parameters
    ----------
    model : TrainedModel
    features : FeatureVector
        From :func:`core.features.features_from_case` (validated there, once).
    scores : Scores, optional
        :func:`score` of ``features`` when the caller already has it (the explanation
        shares it); computed otherwise.

    Returns
    -------
    Prediction
    """
    scores = score(model, features) if scores is None else scores
    rows = predict_scores(model, scores)
    proba = rows.probabilities[0]
    return Prediction(
        category=CATEGORIES[int(rows.category_codes[0])],
        probabilities={c: float(p) for c, p in zip(CATEGORIES, proba, strict=True)},
        expected_vas=float(rows.expected_vas[0]),
        imputed=features.missing,
        model_version=model.version,
        features={n: float(v) for n, v in zip(FEATURE_NAMES, scores.filled[0], strict=True)},
    )
