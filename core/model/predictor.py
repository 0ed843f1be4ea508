"""A fitted model in memory and its one-case prediction.

:class:`TrainedModel` holds the fitted ``impute -> scale -> model`` pipeline, the model
card and the SHAP background, and caches the few arrays :func:`predict` needs, so a
prediction is a handful of numpy operations instead of a pipeline call (the result is
the same; ``tests/test_model.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from core.features import FEATURE_NAMES, FEATURES, FEATURES_BY_NAME
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

