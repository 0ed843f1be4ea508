"""The one assessment path: case -> features and context -> prediction, explanation, advice.

``assess(model, case)`` is what the CLI (``python -m core predict``), the pages, batch
scoring, reports and ``bench/`` call. It parses the case once
(:func:`core.context.parse_case`: the model's :class:`~core.features.FeatureVector` and
the advice's :class:`~core.context.CaseContext`), scores it once (:func:`core.model.score`)
and shares those scores between the prediction and the SHAP explanation, then decides the
advice (:func:`core.tiers.decide_tier`) with the context, and adds the prediction set with
its coverage and the out-of-distribution reasons (:mod:`core.model.uncertainty`) and the
recorded VAS against the prediction (:func:`core.tiers.discordance`). It sits above
:mod:`core.model`, :mod:`core.explain` and :mod:`core.tiers`, so none of them imports
another to assemble a result.
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
from core.assess_many import BATCH_COLUMNS as BATCH_COLUMNS
from core.assess_many import BatchAssessment as BatchAssessment
from core.assess_many import assess_many
from core.case_checks import check_case
from core.clinical import IMAGING_COLUMNS
from core.context import CaseContext, ParsedCase, parse_case
from core.explain import Explanation, explain_case
from core.features import FEATURES, FeatureVector
from core.model import Prediction, TrainedModel, load_model, predict, score
from core.model.uncertainty import PredictionSet, ood_reasons, prediction_set
from core.provenance import provenance
from core.tiers import Discordance, TierDecision, decide_tier, discordance
from core.vocab import CATEGORIES, DEFICIT_STATES, involvement

#: Said when a case arrives as a bare feature vector (no treatment context).
VECTOR_ONLY_WARNING = (
    "Assessed from the model's features only: the current analgesic step, prior "
    "radiotherapy, bone-modifying agent, primary tumour, SINS pain component and recorded "
    "VAS were not given, so the advice cannot take them into account."
)
_IMAGING_FEATURES = tuple(f.name for f in FEATURES if f.group == "imaging")


@dataclass(frozen=True)
class Assessment:
    """One case's assessment.

    Attributes
    ----------
    features : FeatureVector
        The parsed model input (``None`` = not recorded).
    context : CaseContext
        What shapes the advice beside the prediction (today's treatment, full SINS, the
        deficit state, the primary's radiosensitivity, the recorded VAS).
    prediction : Prediction
    explanation : Explanation
        Exact SHAP values of the same scores as the prediction.
    tier : TierDecision
        The advice: headline, recommendations with codes, overrides.
    prediction_set : PredictionSet
        The categories the case may be in at the stated coverage.
    ood : tuple of str
        Why the case lies outside the training data (empty when it does not).
    discordance : Discordance or None
        The recorded VAS against the predicted category (``None`` without a VAS).
    """

    features: FeatureVector
    context: CaseContext
    prediction: Prediction
    explanation: Explanation
    tier: TierDecision
    prediction_set: PredictionSet
    ood: tuple[str, ...]
    discordance: Discordance | None

    @property
    def model_version(self) -> str:
        return self.prediction.model_version

    @property
    def recorded_vas(self) -> float | None:
        return self.context.recorded_vas

    @property
    def discordant(self) -> bool | None:
        """Recorded and predicted categories differ (``None`` without a recorded VAS)."""
        return None if self.discordance is None else self.discordance.discordant

    @property
    def context_warnings(self) -> tuple[str, ...]:
        """How inputs were read (e.g. a yes/no deficit): shown, never silent."""
        return self.context.warnings

    def extras(self) -> dict[str, Any]:
        """What the assessment adds to the prediction, explanation and tier (JSON):
        ``prediction_set``, ``coverage``, ``ood``, ``recorded_vas``, ``discordant``,
        ``discordance`` (the sentence), ``context_warnings``."""
        return {
            "prediction_set": list(self.prediction_set.categories),
            "coverage": self.prediction_set.coverage,
            "ood": list(self.ood),
            "recorded_vas": self.recorded_vas,
            "discordant": self.discordant,
            "discordance": None if self.discordance is None else self.discordance.sentence,
            "context_warnings": list(self.context_warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable parts: ``features``, ``context``, ``prediction``,
        ``explanation``, ``tier`` and :meth:`extras`."""
        return {
            "features": self.features.to_dict(),
            "context": self.context.to_dict(),
            "prediction": self.prediction.to_dict(),
            "explanation": self.explanation.to_dict(),
            "tier": self.tier.to_dict(),
            **self.extras(),
        }


def context_of_features(features: FeatureVector) -> CaseContext:
    """The context a bare feature vector implies: the deficit state, whether imaging was
    recorded, and a warning that the treatment context is unknown."""
    code = features["neurologic_deficit"]
    return CaseContext(
        neurologic_deficit=None if code is None else DEFICIT_STATES[int(code)],
        imaging_recorded=any(features[n] is not None for n in _IMAGING_FEATURES),
        warnings=(VECTOR_ONLY_WARNING,),
    )


def _parsed(case: Mapping[str, object] | ParsedCase | FeatureVector) -> ParsedCase:
    if isinstance(case, ParsedCase):
        return case
    if isinstance(case, FeatureVector):
        return ParsedCase(case, context_of_features(case))
    return parse_case(case)


def assess(model: TrainedModel, case: Mapping[str, object] | ParsedCase | FeatureVector
           ) -> Assessment:
    """Predict, explain and advise one case.

    Parameters
    ----------
    model : TrainedModel
    case : mapping, ParsedCase or FeatureVector
        A raw case (``core extract`` output and/or flat columns merged with clinical
        fields), parsed once here; or an already parsed case; or a bare feature vector
        (the advice then lacks the treatment context, and says so).

    Returns
    -------
    Assessment

    Raises
    ------
    ValueError
        For an invalid case value (one sentence naming it).
    """
    parsed = _parsed(case)
    features, context = parsed.features, parsed.context
    scores = score(model, features)
    prediction = predict(model, features, scores)
    probabilities = np.array([prediction.probabilities[c] for c in CATEGORIES])
    return Assessment(
        features=features,
        context=context,
        prediction=prediction,
        explanation=explain_case(model, features, scores),
        tier=decide_tier(prediction.category, features, context),
        prediction_set=prediction_set(model, probabilities),
        ood=tuple(ood_reasons(model, features, context)),
        discordance=discordance(context.recorded_vas, prediction.category),
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
    output_value, output_units, features, imputed, tier, overrides, notice, provenance``,
    then ``prediction_set, coverage, ood, recorded_vas, discordant, discordance,
    context_warnings`` (:meth:`Assessment.extras`). ``tier`` carries ``headline``,
    ``headline_source``, ``notes`` and recommendations with their ``code``.
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
        **assessment.extras(),
    }


def predict_case_json(case: Mapping[str, Any], model_path: str | Path | None = None
                      ) -> dict[str, Any]:
    """The ``python -m core predict`` payload for one raw case, validated first
    (:func:`core.case_checks.check_case`: the clinical table's rules).

    Parameters
    ----------
    case : mapping
        ``core extract`` output and/or flat feature columns, merged with clinical fields.
    model_path : str or Path, optional
        Model folder (default ``models/demo``).

    Raises
    ------
    ValueError
        For an invalid case (one sentence naming the field).
    """
    check_case(case)
    parsed = parse_case(case)
    model = load_model(model_path)
    return assessment_payload(assess(model, parsed), model, case)


# ------------------------------------------------------------------- frames

#: Columns :func:`assess_frame` adds (``p_<category>`` in :data:`core.vocab.CATEGORIES`
#: order).
ASSESSMENT_COLUMNS: tuple[str, ...] = (
    "category", "tier", "urgency", "headline_source", "headline", "expected_vas",
    *(f"p_{c}" for c in CATEGORIES), "region_of_involvement", "assessment_error",
)


def assess_frame(model: TrainedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Predict and advise every row of a frame of raw cases (e.g. the store's studies)
    with array operations (:func:`assess_many`; each row as :func:`assess` gives it).

    Returns
    -------
    pandas.DataFrame
        ``frame`` (same index) plus :data:`ASSESSMENT_COLUMNS`: ``category``, ``tier``,
        ``urgency``, ``headline_source``, ``headline`` (``None`` for a row that could not
        be assessed), ``expected_vas`` and ``p_<category>`` (NaN there),
        ``region_of_involvement`` and ``assessment_error`` (the one-sentence reason a row
        could not be assessed, ``None`` for the others).
    """
    table = assess_many(model, frame).to_frame()
    out = frame.copy()
    for key in ASSESSMENT_COLUMNS:
        if key == "region_of_involvement":
            out[key] = involvement(frame)
        else:
            out[key] = table[key]
    return out


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
