"""Per-case uncertainty: a conformal prediction set and out-of-distribution reasons.

Prediction set (split-conformal)
--------------------------------
Split-conformal prediction (Vovk et al. 2005; Angelopoulos & Bates, "A gentle
introduction to conformal prediction", arXiv:2107.07511, 2021) with the score
``s = 1 - p(true category)``, the LAC score of Sadinle, Lei & Wasserman (JASA
2019;114:223-234; the smallest average sets for a given coverage). The calibration scores
are the deployed ordinal model's cross-validated out-of-fold probabilities
(patient-grouped folds, every repeat pooled), so each score comes from a model that never
saw that patient. With ``n`` calibration studies and coverage ``1 - a`` (90 %), the
stored quantile is ``q = `` the ``ceil((n + 1)(1 - a)) / n`` empirical quantile of the
scores; a case's set is every category with ``p >= 1 - q``, widened to the contiguous
range between its lowest and highest member (the categories are ordered: "mild or severe
but not moderate" would not read sensibly) and never empty (the most probable category is
always in). Both rules only add categories, so coverage cannot fall.

The guarantee ``P(true category in set) >= 1 - a`` holds for cases exchangeable with the
calibration studies. Here it is approximate: the deployed model is fitted on all studies
while the scores come from the fold models, and studies of one patient are correlated.
The model card therefore also states the coverage on held-out patients (the quantile
calibrated on four fifths of the patients' scores, evaluated on the other fifth, every
repeat) and the mean set size.

Out of distribution
-------------------
:func:`ood_reasons` lists, one plain sentence each, why a case lies outside the training
data: a recorded feature outside its training range (observed min-max in the card); a
Mahalanobis distance of the model's standardised, imputed row above the training studies'
99th percentile (the combination of values is unusual even when each is in range); a
sequence hint (:func:`core.io.hints.sequence_hint`) not among the training sequences;
and measured levels that miss a region every training study covered. The training
sequences and field of view are stated in the card with their source: the synthetic demo
cohort stands for whole-spine STIR / T2 fat-sat MRI (the HI ratio's definition in
:mod:`core.lesions`), which is assumed, not recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from core.context import CaseContext
from core.features import FEATURE_NAMES, FEATURES_BY_NAME, FeatureVector
from core.io.hints import sequence_hint
from core.model.predictor import Scores, TrainedModel, score_rows
from core.vocab import CATEGORIES, REGIONS, display, level_region, number_text, percent, sort_levels

#: Coverage of the prediction sets.
CONFORMAL_COVERAGE = 0.90
#: Percentile of the training studies' Mahalanobis distances above which a case is unusual.
MAHALANOBIS_PERCENTILE = 99.0
#: Training sequences and regions when the training data do not record them (the demo).
ASSUMED_SEQUENCES: tuple[str, ...] = ("STIR", "T2-FS")
ASSUMED_REGIONS: tuple[str, ...] = REGIONS
ASSUMED_SOURCE = ("assumed: the synthetic demonstration cohort stands for whole-spine "
                  "STIR / T2 fat-sat MRI (the HI ratio's definition); not recorded per study")
SCORE_NAME = "1 - p(true category) (LAC score, Sadinle et al. 2019)"
REFERENCES: tuple[str, ...] = (
    "Angelopoulos AN, Bates S. A gentle introduction to conformal prediction and "
    "distribution-free uncertainty quantification. arXiv:2107.07511 (2021).",
    "Sadinle M, Lei J, Wasserman L. Least ambiguous set-valued classifiers with bounded "
    "error levels. J Am Stat Assoc 2019;114:223-234.",
    "Romano Y, Sesia M, Candes EJ. Classification with valid and adaptive coverage. "
    "NeurIPS 2020 (the adaptive APS score, not used here: with three ordered categories "
    "LAC gives smaller sets).",
)


# ------------------------------------------------------------------ prediction sets


@dataclass(frozen=True)
class PredictionSet:
    """The categories a case may be in at the stated coverage."""

    categories: tuple[str, ...]
    coverage: float | None

    def to_dict(self) -> dict[str, object]:
        return {"prediction_set": list(self.categories), "coverage": self.coverage}


def conformal_level(n: int, coverage: float) -> float:
    """The finite-sample quantile level ``min(1, ceil((n + 1) coverage) / n)``."""
    return min(1.0, math.ceil((n + 1) * coverage) / n)


def sets_from_threshold(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean ``(n, K)`` sets: ``p >= threshold``, made contiguous, never empty.

    Array operations only; ``threshold`` is ``1 - q`` of the conformal quantile ``q``.
    """
    proba = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
    member = proba >= threshold
    member[np.arange(proba.shape[0]), np.argmax(proba, axis=1)] = True
    k = np.arange(proba.shape[1])
    low = np.where(member, k, proba.shape[1]).min(axis=1)
    high = np.where(member, k, -1).max(axis=1)
    return (k[None, :] >= low[:, None]) & (k[None, :] <= high[:, None])


def _quantile(scores: np.ndarray, n: int, coverage: float) -> float:
    return float(np.quantile(scores, conformal_level(n, coverage), method="inverted_cdf"))


def _held_out_patients(scores: list[np.ndarray], proba: list[np.ndarray], y: np.ndarray,
                       groups: np.ndarray, coverage: float) -> tuple[float, float]:
    """Coverage and mean set size on held-out patients: the quantile from four fifths of
    the patients' scores, the sets on the other fifth, every repeat; pooled means."""
    hits, sizes = [], []
    n_groups = np.unique(groups).size
    for s, p in zip(scores, proba, strict=True):
        for cal, test in GroupKFold(n_splits=min(5, n_groups)).split(s, groups=groups):
            q = _quantile(s[cal], cal.size, coverage)
            sets = sets_from_threshold(p[test], 1.0 - q)
            hits.append(sets[np.arange(test.size), y[test]])
            sizes.append(sets.sum(axis=1))
    return float(np.concatenate(hits).mean()), float(np.concatenate(sizes).mean())


def calibrate_conformal(oof: Sequence[np.ndarray], y: np.ndarray, groups: np.ndarray, *,
                        coverage: float = CONFORMAL_COVERAGE) -> dict[str, Any]:
    """The card's ``prediction_set`` section from out-of-fold probabilities.

    Parameters
    ----------
    oof : sequence of ndarray (n, K)
        Out-of-fold probabilities of the deployed model, one array per CV repeat.
    y : ndarray (n,)
        Category codes.
    groups : ndarray (n,)
        Patient ids (for the held-out-patient coverage).
    coverage : float
        Target coverage ``1 - a``.
    """
    scores = [1.0 - p[np.arange(y.size), y] for p in oof]
    q = round(_quantile(np.concatenate(scores), y.size, coverage), 6)
    pooled = np.vstack(oof)
    sets = sets_from_threshold(pooled, 1.0 - q)
    sizes = sets.sum(axis=1)
    held_cov, held_size = _held_out_patients(scores, list(oof), y, groups, coverage)
    return {
        "method": "split-conformal prediction sets calibrated on the cross-validated "
                  "out-of-fold probabilities of the deployed model (patient-grouped folds, "
                  "repeats pooled)",
        "score": SCORE_NAME,
        "rule": "every category with p >= probability_threshold, widened to a contiguous "
                "range of categories and never empty (the most probable is always in)",
        "references": list(REFERENCES),
        "coverage": coverage,
        "quantile": q,
        "probability_threshold": round(1.0 - q, 6),
        "n_calibration": int(y.size),
        "n_repeats": len(scores),
        "empirical_coverage": round(float(sets[np.arange(sizes.size),
                                               np.tile(y, len(scores))].mean()), 4),
        "coverage_held_out_patients": round(held_cov, 4),
        "mean_set_size": round(float(sizes.mean()), 4),
        "mean_set_size_held_out_patients": round(held_size, 4),
        "set_size_fraction": {str(k): round(float((sizes == k).mean()), 4)
                              for k in range(1, len(CATEGORIES) + 1)},
    }


def _conformal(model: TrainedModel) -> Mapping[str, Any] | None:
    section = model.card.get("uncertainty", {}).get("prediction_set")
    return section if isinstance(section, Mapping) and "quantile" in section else None


def prediction_sets(model: TrainedModel, probabilities: np.ndarray) -> np.ndarray:
    """Boolean ``(n, K)`` prediction sets of many cases (array operations).

    A model whose card has no conformal calibration (trained before it existed) gives the
    most probable category only.
    """
    proba = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
    section = _conformal(model)
    threshold = 2.0 if section is None else 1.0 - float(section["quantile"])
    return sets_from_threshold(proba, threshold)


def prediction_set_objects(model: TrainedModel, probabilities: np.ndarray) -> np.ndarray:
    """:func:`prediction_set` of many cases: one :class:`PredictionSet` per row (rows
    with the same set share one object), from one array comparison."""
    members = prediction_sets(model, probabilities)
    section = _conformal(model)
    coverage = None if section is None else float(section["coverage"])
    if not len(members):
        return np.empty(0, dtype=object)
    # each set as the bit pattern of its members: one object per distinct pattern
    patterns = members.astype(np.int64) @ (1 << np.arange(len(CATEGORIES), dtype=np.int64))
    objects = np.empty(1 << len(CATEGORIES), dtype=object)
    for pattern in np.flatnonzero(np.bincount(patterns, minlength=len(objects))):
        objects[pattern] = PredictionSet(
            tuple(c for k, c in enumerate(CATEGORIES) if pattern >> k & 1), coverage)
    out: np.ndarray = objects[patterns]
    return out


def prediction_set(model: TrainedModel, probabilities: np.ndarray) -> PredictionSet:
    """The conformal prediction set of one case's probabilities (card coverage, 90 %).

    ``coverage`` is ``None`` when the card has no conformal calibration (then the set is
    the most probable category only).
    """
    proba = np.asarray(probabilities, dtype=np.float64).reshape(1, -1)
    member = prediction_sets(model, proba)[0]
    section = _conformal(model)
    return PredictionSet(tuple(c for c, m in zip(CATEGORIES, member, strict=True) if m),
                         None if section is None else float(section["coverage"]))


# ------------------------------------------------------------------ out of distribution


def _mahalanobis(z: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """``sqrt(z P z')`` of every row, summed term by term in a fixed order with
    elementwise operations, so a row gets the same bits alone or within a cohort (and a
    cohort of thousands takes a millisecond, not the generic three-operand ``einsum``)."""
    columns = np.ascontiguousarray(np.atleast_2d(z).T)
    n = columns.shape[1]
    quadratic, row_p, term = np.zeros(n), np.empty(n), np.empty(n)
    for k in range(len(columns)):
        row_p.fill(0.0)  # (z P)_k = sum_j z_j P_jk, j in order
        for j in range(len(columns)):
            np.multiply(columns[j], precision[j, k], out=term)
            row_p += term
        np.multiply(row_p, columns[k], out=term)
        quadratic += term
    return np.sqrt(np.maximum(quadratic, 0.0))


def ood_reference(X: np.ndarray, pipeline: Pipeline, *,
                  sequences: Sequence[str] = ASSUMED_SEQUENCES,
                  regions: Sequence[str] = ASSUMED_REGIONS,
                  source: str = ASSUMED_SOURCE) -> dict[str, Any]:
    """The card's ``out_of_distribution`` section from the training rows.

    ``feature_ranges``: observed (recorded) min and max of every feature;
    ``mahalanobis``: covariance of the standardised imputed rows (the model's ``z``, mean
    0) and the :data:`MAHALANOBIS_PERCENTILE` percentile of the training distances;
    ``sequences`` and ``field_of_view`` with their ``source``.
    """
    z = pipeline.named_steps["scale"].transform(pipeline.named_steps["impute"].transform(X))
    covariance = np.cov(z, rowvar=False)
    distances = _mahalanobis(z, np.linalg.pinv(covariance, hermitian=True))
    return {
        "feature_ranges": {
            n: [float(np.nanmin(X[:, j])), float(np.nanmax(X[:, j]))]
            for j, n in enumerate(FEATURE_NAMES)},
        "mahalanobis": {
            "space": "standardised, median-imputed features (the model's z; mean 0)",
            "covariance": covariance.tolist(),
            "percentile": MAHALANOBIS_PERCENTILE,
            "threshold": round(float(np.percentile(distances, MAHALANOBIS_PERCENTILE)), 6),
        },
        "sequences": {"seen": [sequence_hint(s) for s in sequences], "source": source},
        "field_of_view": {"regions": [r for r in REGIONS if r in set(regions)],
                          "source": source},
    }


def _reference(model: TrainedModel) -> dict[str, Any] | None:
    """The card's OOD section with the precision matrix (cached on the model)."""
    if "ood" in model.cache:
        return model.cache["ood"]
    section = model.card.get("uncertainty", {}).get("out_of_distribution")
    reference = None
    if isinstance(section, Mapping):
        maha = section["mahalanobis"]
        reference = {
            **section,
            "low": np.array([section["feature_ranges"][n][0] for n in FEATURE_NAMES]),
            "high": np.array([section["feature_ranges"][n][1] for n in FEATURE_NAMES]),
            "precision": np.linalg.pinv(np.asarray(maha["covariance"], dtype=np.float64),
                                        hermitian=True),
            "threshold": float(maha["threshold"]),
        }
    model.cache["ood"] = reference
    return reference


@dataclass(frozen=True, eq=False)
class OodFlags:
    """Out-of-distribution checks of ``n`` raw rows (array operations).

    Attributes
    ----------
    below, above : ndarray of bool, shape (n, p)
        A recorded value below / above the feature's training range.
    distance : ndarray, shape (n,)
        Mahalanobis distance of the standardised imputed row.
    unusual : ndarray of bool, shape (n,)
        ``distance`` above the training percentile threshold.
    """

    below: np.ndarray
    above: np.ndarray
    distance: np.ndarray
    unusual: np.ndarray

    @property
    def any(self) -> np.ndarray:
        """Rows with any range or distance flag."""
        return self.below.any(axis=1) | self.above.any(axis=1) | self.unusual


def ood_flags(model: TrainedModel, X: np.ndarray, scores: Scores | None = None
              ) -> OodFlags | None:
    """Range and Mahalanobis checks of raw model-unit rows (NaN = missing); ``None`` when
    the card has no out-of-distribution reference. ``scores`` is
    :func:`~core.model.score_rows` of ``X`` when already computed."""
    reference = _reference(model)
    if reference is None:
        return None
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    recorded = ~np.isnan(X)
    scores = score_rows(model, X) if scores is None else scores
    distance = _mahalanobis(scores.z, reference["precision"])
    low, high = reference["low"], reference["high"]
    return OodFlags(recorded & np.less(X, low), recorded & np.greater(X, high),
                    distance, distance > reference["threshold"])


def _distinct_texts(kind: str, value: float, bound: float) -> tuple[str, str]:
    """A value and the range bound it crosses, rendered with as many decimals as it takes
    to tell them apart (a ratio of 0.00004 below a minimum of 0.0002 must not read
    "0.0% is below 0.0%")."""
    if kind not in ("percent", "number"):
        return display(kind, value), display(kind, bound)  # type: ignore[arg-type]
    for digits in (1, 2, 3, 4, 6):
        render = (lambda v, d=digits: percent(v, d)) if kind == "percent" else (
            lambda v, d=digits: number_text(v, d + 1))
        if render(value) != render(bound):
            return render(value), render(bound)
    return display(kind, value), display(kind, bound)  # type: ignore[arg-type]


def _range_reasons(flags: OodFlags, k: int, row: np.ndarray, reference: Mapping[str, Any]
                   ) -> list[str]:
    reasons = []
    for j, name in enumerate(FEATURE_NAMES):
        if not (flags.below[k, j] or flags.above[k, j]):
            continue
        spec = FEATURES_BY_NAME[name]
        below = bool(flags.below[k, j])
        side = "below" if below else "above"
        crossed = reference["low"][j] if below else reference["high"][j]
        value_text, bound_text = _distinct_texts(spec.display, row[j], crossed)
        low_text = bound_text if below else _distinct_texts(
            spec.display, reference["low"][j], crossed)[0]
        high_text = bound_text if not below else _distinct_texts(
            spec.display, reference["high"][j], crossed)[0]
        reasons.append(
            f"{spec.label} {value_text} is {side} the training range "
            f"({low_text} to {high_text}): the prediction extrapolates.")
    return reasons


def _sequence_reason(context: CaseContext, reference: Mapping[str, Any]) -> list[str]:
    if not context.sequence:
        return []
    seen = list(reference["sequences"]["seen"])
    hint = sequence_hint(context.sequence)
    if hint in seen:
        return []
    what = ("could not be identified" if hint == "unknown"
            else f"({hint}) was not seen in training")
    return [f"The image's sequence {what}; the model was trained on {', '.join(seen)} "
            "studies, and HI ratios from other sequences are not comparable."]


def _field_of_view_reason(context: CaseContext, reference: Mapping[str, Any]) -> list[str]:
    if not context.levels_in_view:
        return []
    regions = set()
    for level in context.levels_in_view:
        try:
            regions.add(level_region(level))
        except ValueError:
            continue
    trained = list(reference["field_of_view"]["regions"])
    missing = [r for r in trained if r not in regions]
    if not missing:
        return []
    levels = sort_levels(context.levels_in_view)
    span = levels[0] if len(levels) == 1 else f"{levels[0]}-{levels[-1]}"
    names = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} or {missing[-1]}"
    return [f"The study's measured levels ({span}) do not include the {names} spine, which "
            "the training studies covered: lesions there were not counted."]


def ood_reasons(model: TrainedModel, features: FeatureVector,
                context: CaseContext) -> tuple[str, ...]:
    """Why a case lies outside the training data, one plain sentence each (empty when it
    does not, or when the card has no out-of-distribution reference).

    Checks, in order: recorded features outside their training range, a Mahalanobis
    distance above the training percentile, a sequence not seen in training, and a field
    of view that misses a region the training studies covered.

    Raises
    ------
    TypeError
        When ``features`` is not a FeatureVector or ``context`` not a CaseContext.
    """
    if not isinstance(features, FeatureVector) or not isinstance(context, CaseContext):
        raise TypeError("ood_reasons takes a FeatureVector and a CaseContext; parse the "
                        "case with core.context.parse_case first.")
    reference = _reference(model)
    if reference is None:
        return ()
    row = features.row()
    flags = ood_flags(model, row)
    assert flags is not None
    return _row_reasons(reference, flags, 0, row[0], context)


def _row_reasons(reference: Mapping[str, Any], flags: OodFlags, k: int, row: np.ndarray,
                 context: CaseContext) -> tuple[str, ...]:
    """The reasons of row ``k`` of ``flags`` (raw ``row``, its context)."""
    reasons = _range_reasons(flags, k, row, reference)
    if flags.unusual[k]:
        reasons.append(
            "The combination of values is unusual for the training studies (Mahalanobis "
            f"distance {flags.distance[k]:.1f}, above the "
            f"{reference['mahalanobis']['percentile']:g}th percentile "
            f"{reference['threshold']:.1f} of the training studies).")
    reasons += _sequence_reason(context, reference)
    reasons += _field_of_view_reason(context, reference)
    return tuple(reasons)


def ood_reasons_rows(model: TrainedModel, X: np.ndarray, sequences: np.ndarray,
                     levels_in_view: np.ndarray, flags: OodFlags | None = None) -> np.ndarray:
    """:func:`ood_reasons` of many cases: the range and distance checks as array
    operations (:func:`ood_flags`), sentences written only for the rows that need one.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Raw model-unit rows (NaN = missing).
    sequences, levels_in_view : ndarray of object, shape (n,)
        Each case's :attr:`CaseContext.sequence` and :attr:`CaseContext.levels_in_view`.

    flags : OodFlags, optional
        :func:`ood_flags` of ``X`` when already computed.

    Returns
    -------
    ndarray of object
        One tuple of sentences per row (empty when it lies inside the training data).
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    out = np.empty(len(X), dtype=object)
    out.fill(())
    reference = _reference(model)
    if reference is None or not len(X):
        return out
    flags = ood_flags(model, X) if flags is None else flags
    assert flags is not None
    sequences = np.asarray(sequences, dtype=object)
    levels = np.asarray(levels_in_view, dtype=object)
    has_context = sequences.astype(bool) | levels.astype(bool)
    for k in np.flatnonzero(flags.any | has_context):
        context = CaseContext(sequence=sequences[k], levels_in_view=tuple(levels[k] or ()))
        out[k] = _row_reasons(reference, flags, int(k), X[k], context)
    return out


__all__ = [
    "ASSUMED_REGIONS",
    "ASSUMED_SEQUENCES",
    "CONFORMAL_COVERAGE",
    "MAHALANOBIS_PERCENTILE",
    "OodFlags",
    "PredictionSet",
    "calibrate_conformal",
    "conformal_level",
    "ood_flags",
    "ood_reasons",
    "ood_reasons_rows",
    "ood_reference",
    "prediction_set",
    "prediction_set_objects",
    "prediction_sets",
    "sets_from_threshold",
]
