"""The one assessment path: case -> FeatureVector -> prediction, explanation and tier.

``assess(model, case)`` is what the CLI (``python -m core predict``), the pages, batch
scoring, reports and ``bench/`` call. It parses the case once
(:func:`core.features.features_from_case`), scores it once (:func:`core.model.score`:
imputation, standardised ``z`` and latent ``eta``) and shares those scores between the
prediction and the SHAP explanation, then applies the tier rules to the same vector.
It sits above :mod:`core.model`, :mod:`core.explain` and :mod:`core.tiers`, so none of
them imports another to assemble a result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import DECISION_SUPPORT_NOTICE
from core.clinical import IMAGING_COLUMNS
from core.explain import Explanation, explain_case
from core.features import FEATURE_NAMES, FeatureVector, features_from_case
from core.model import Prediction, TrainedModel, load_model, predict, predict_rows, score
from core.provenance import provenance
from core.tiers import TierDecision, decide_tier
from core.vocab import CATEGORIES, involvement


@dataclass(frozen=True)
class Assessment:
    """One case's assessment.

    Attributes
    ----------
    features : FeatureVector
        The parsed model input (``None`` = not recorded).
    prediction : Prediction
    explanation : Explanation
        Exact SHAP values of the same scores as the prediction.
    tier : TierDecision
        The rule table applied to the recorded values of ``features``.
    """

    features: FeatureVector
    prediction: Prediction
    explanation: Explanation
    tier: TierDecision

    @property
    def model_version(self) -> str:
        return self.prediction.model_version

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable parts: ``features``, ``prediction``, ``explanation``, ``tier``."""
        return {
            "features": self.features.to_dict(),
            "prediction": self.prediction.to_dict(),
            "explanation": self.explanation.to_dict(),
            "tier": self.tier.to_dict(),
        }


def assess(model: TrainedModel, case: Mapping[str, object] | FeatureVector) -> Assessment:
    """Predict, explain and tier one case.

    Parameters
    ----------
    model : TrainedModel
    case : mapping or FeatureVector
        A raw case (``core extract`` output and/or flat columns merged with clinical
        fields), or an already parsed vector (used as it is).

    Returns
    -------
    Assessment

    Raises
    ------
    ValueError
        For an invalid case value (one sentence naming it).
    """
    features = features_from_case(case)
    scores = score(model, features)
    prediction = predict(model, features, scores)
    return Assessment(
        features=features,
        prediction=prediction,
        explanation=explain_case(model, features, scores),
        tier=decide_tier(prediction.category, features),
    )


def canonical_json_sha256(case: Mapping[str, Any]) -> str:
    """SHA-256 of ``json.dumps(case, sort_keys=True, separators=(",", ":"))`` in UTF-8."""
    text = json.dumps(case, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assessment_payload(assessment: Assessment, model: TrainedModel,
                       case: Mapping[str, Any]) -> dict[str, Any]:
    """The ``python -m core predict`` JSON of an assessment (stable keys).

    Keys ``model_version, category, probabilities, expected_vas, shap, base_value,
    output_value, output_units, features, imputed, tier, overrides, notice,
    provenance``.
    """
    pred, expl = assessment.prediction, assessment.explanation
    decision = assessment.tier.to_dict()
    overrides = decision.pop("overrides")
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
        "notice": f"{DECISION_SUPPORT_NOTICE} Model data: {model.card.get('data', '')}.",
        "provenance": provenance(input_sha256=canonical_json_sha256(case),
                                 model_version=pred.model_version,
                                 model_artifacts=model.card.get("artifacts", {})),
    }


def predict_case_json(case: Mapping[str, Any], model_path: str | Path | None = None
                      ) -> dict[str, Any]:
    """The ``python -m core predict`` payload for one raw case.

    Parameters
    ----------
    case : mapping
        ``core extract`` output and/or flat feature columns, merged with clinical fields.
    model_path : str or Path, optional
        Model folder (default ``models/demo``).
    """
    model = load_model(model_path)
    return assessment_payload(assess(model, case), model, case)


def merge_case(clinical: Mapping[str, Any], metrics: Mapping[str, Any] | None = None
               ) -> dict[str, Any]:
    """The raw case of a new study: clinical fields plus the measured ``core extract`` JSON.

    With ``metrics`` the measured values replace any imaging columns of the clinical
    record (e.g. of a clinical table row); without, the record keeps its own imaging
    columns.
    """
    if metrics:
        base = {k: v for k, v in clinical.items() if k not in IMAGING_COLUMNS}
        return {**base, **dict(metrics)}
    return dict(clinical)


#: Columns :func:`assess_frame` adds (``p_<category>`` in :data:`core.vocab.CATEGORIES` order).
ASSESSMENT_COLUMNS: tuple[str, ...] = (
    "category", "tier", "urgency", "expected_vas", *(f"p_{c}" for c in CATEGORIES),
    "region_of_involvement", "assessment_error",
)


def _parse_rows(frame: pd.DataFrame) -> tuple[list[FeatureVector | None], list[str | None]]:
    """One feature vector (or ``None``) and one error sentence (or ``None``) per row."""
    vectors: list[FeatureVector | None] = []
    errors: list[str | None] = []
    for record in frame.to_dict(orient="records"):
        try:
            vectors.append(features_from_case(record))
            errors.append(None)
        except ValueError as exc:
            vectors.append(None)
            errors.append(str(exc))
    return vectors, errors


def assess_frame(model: TrainedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Predict and tier every row of a frame of raw cases (e.g. ``CaseStore.list_studies()``).

    Each row is parsed once (:func:`core.features.features_from_case`); the valid rows are
    scored together (:func:`core.model.predict_rows`) and tiered
    (:func:`core.tiers.decide_tier`), as :func:`assess` would one by one.

    Returns
    -------
    pandas.DataFrame
        ``frame`` (same index) plus :data:`ASSESSMENT_COLUMNS`: ``category``, ``tier``,
        ``urgency`` (``None`` for a row that could not be assessed), ``expected_vas`` and
        ``p_<category>`` (NaN there), ``region_of_involvement``
        (:func:`core.vocab.involvement`) and ``assessment_error``: the one-sentence reason a
        row could not be assessed, ``None`` for the others.
    """
    vectors, errors = _parse_rows(frame)
    n = len(frame)
    ok = np.array([v is not None for v in vectors], dtype=bool)
    matrix = np.vstack([v.row() for v in vectors if v is not None]) if ok.any() else \
        np.empty((0, len(FEATURE_NAMES)))
    rows = predict_rows(model, matrix)
    categories = np.full(n, None, dtype=object)
    categories[ok] = rows.categories
    tiers, urgencies = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    for i in np.flatnonzero(ok):
        try:
            decision = decide_tier(str(categories[i]), vectors[i])  # type: ignore[arg-type]
        except ValueError as exc:
            categories[i], errors[i] = None, str(exc)
            continue
        tiers[i], urgencies[i] = decision.tier, decision.urgency
    assessed = np.array([c is not None for c in categories], dtype=bool)
    expected = np.full(n, np.nan)
    expected[ok] = rows.expected_vas
    expected[~assessed] = np.nan
    out = frame.copy()
    out["category"] = pd.Series(categories, index=frame.index, dtype=object)
    out["tier"] = pd.Series(tiers, index=frame.index, dtype=object)
    out["urgency"] = pd.Series(urgencies, index=frame.index, dtype=object)
    out["expected_vas"] = pd.Series(expected, index=frame.index)
    for j, category in enumerate(CATEGORIES):
        column = np.full(n, np.nan)
        column[ok] = rows.probabilities[:, j]
        column[~assessed] = np.nan
        out[f"p_{category}"] = pd.Series(column, index=frame.index)
    out["region_of_involvement"] = involvement(frame)
    out["assessment_error"] = pd.Series(errors, index=frame.index, dtype=object)
    return out
