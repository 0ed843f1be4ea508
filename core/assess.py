"""One case's full assessment: prediction, explanation and tier, as the CLI payload.

:func:`predict_case_json` builds the ``python -m core predict`` JSON from a case
(``core extract`` output and/or flat feature columns merged with clinical fields). It
sits above :mod:`core.model`, :mod:`core.explain` and :mod:`core.tiers`, so none of
them needs to import another to assemble a result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core import DECISION_SUPPORT_NOTICE
from core.explain import explain_case
from core.features import features_from_case
from core.model import load_model, predict
from core.provenance import provenance
from core.tiers import decide_tier_from_features


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
    features = features_from_case(case)
    model = load_model(model_path)
    pred = predict(model, features)
    expl = explain_case(model, features)
    decision = decide_tier_from_features(pred.category, features).to_dict()
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
        "notice": f"{DECISION_SUPPORT_NOTICE} Model data: {data_label}.",
        "provenance": provenance(input_sha256=canonical_json_sha256(case),
                                 model_version=pred.model_version,
                                 model_artifacts=model.card.get("artifacts", {})),
    }
