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

from core import DECISION_SUPPORT_NOTICE
from core.explain import Explanation, explain_case
from core.features import FeatureVector, features_from_case
from core.model import Prediction, TrainedModel, load_model, predict, score
from core.provenance import provenance
from core.tiers import TierDecision, decide_tier


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
