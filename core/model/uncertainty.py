"""Per-case uncertainty and out-of-distribution warnings (contract stub for issue 9).

The model helper replaces the bodies: ``prediction_set`` becomes split-conformal on the
cross-validated probabilities with the coverage stated in the model card; ``ood_reasons``
checks training feature ranges, Mahalanobis distance, sequence and field of view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.context import CaseContext
from core.features import FeatureVector
from core.model.predictor import TrainedModel
from core.vocab import CATEGORIES


@dataclass(frozen=True)
class PredictionSet:
    """The categories a case may be in at the stated coverage."""

    categories: tuple[str, ...]
    coverage: float | None

    def to_dict(self) -> dict[str, object]:
        return {"prediction_set": list(self.categories), "coverage": self.coverage}


def prediction_set(model: TrainedModel, probabilities: np.ndarray) -> PredictionSet:
    """Stub: the most probable category only, coverage unknown."""
    proba = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    return PredictionSet((CATEGORIES[int(np.argmax(proba))],), None)


def ood_reasons(model: TrainedModel, features: FeatureVector,
                context: CaseContext) -> tuple[str, ...]:
    """Stub: no reasons."""
    return ()
