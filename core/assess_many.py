"""A whole frame assessed with array operations: :func:`assess_many`.

The frame is read once (:func:`core.case_frame.parse_frame`), scored once
(:func:`core.model.score_rows`: ``z = (filled - mean) / sd``, ``eta = z @ w``), the
exact linear SHAP values are one matrix operation on the same ``z``
(``phi = (z - E[z]) * w``, the interventional :class:`shap.LinearExplainer` formula; see
:mod:`core.explain`), the advice is decided once per distinct combination of rule inputs
(:func:`core.tiers.tier_groups`: the tier, urgency and headline of every case at once,
the full advice objects on first use), prediction sets are one threshold comparison and
the out-of-distribution checks one array pass (:func:`core.model.uncertainty.ood_flags`),
made on first use like their sentences and the discordance sentences: the table that
:func:`core.assess.assess_frame` returns and the store keeps does not read them.
Every value equals what :func:`core.assess.assess` gives case by case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from core.case_frame import ParsedFrame, parse_frame
from core.explain import Explanation, explainer
from core.features import FEATURE_NAMES
from core.grouping import Mapped, row_groups
from core.model import OUTPUT_UNITS, Prediction, TrainedModel, predict_scores, score_rows
from core.model.uncertainty import (
    OodFlags,
    ood_flags,
    ood_reasons_rows,
    prediction_set_objects,
)
from core.tiers import TierGroups, tier_groups
from core.tiers import discordance as discordance_of
from core.vocab import CATEGORIES

#: Columns of :meth:`BatchAssessment.to_frame` (``p_<category>`` in
#: :data:`core.vocab.CATEGORIES` order).
BATCH_COLUMNS: tuple[str, ...] = (
    "category", "tier", "urgency", "headline_source", "headline", "expected_vas",
    *(f"p_{c}" for c in CATEGORIES), "assessment_error",
)


@dataclass(frozen=True, eq=False)
class BatchAssessment:
    """The assessments of ``n`` cases as arrays (the vectorised form of
    :class:`core.assess.Assessment`); rows that could not be read hold NaN / ``None``.

    Attributes
    ----------
    index : pandas.Index
        The frame's index.
    parsed : ParsedFrame
        Features (``parsed.X``, NaN = not recorded), contexts and read errors.
    errors : ndarray of object
        One-sentence reason per row that could not be assessed, else ``None``.
    probabilities : ndarray, shape (n, 3)
    category_codes : ndarray of int, shape (n,)
        Index into :data:`~core.vocab.CATEGORIES` (-1 for a failed row).
    expected_vas : ndarray, shape (n,)
    filled : ndarray, shape (n, p)
        Feature rows after imputation (the explained values).
    shap : ndarray, shape (n, p)
        Exact SHAP values in :data:`~core.model.OUTPUT_UNITS`.
    output_value : ndarray, shape (n,)
        The latent score ``eta`` (``base_value + shap.sum(axis=1)``).
    base_value : float
    tier_groups : TierGroups
        The advice of the assessed rows (``ok``): tier, urgency and headline per row, one
        full decision per distinct rule input (decided on first use).
    model_version : str
    model : TrainedModel
        The model that assessed the rows (for the sentences written on first use).

    :attr:`ood_flags` (the out-of-distribution checks as arrays),
    :attr:`prediction_sets` (:class:`~core.model.uncertainty.PredictionSet` per row),
    :attr:`ood` (tuple of sentences per row) and :attr:`discordance`
    (:class:`~core.tiers.Discordance`) are built on first use (``None`` for a failed
    row).
    """

    index: pd.Index
    parsed: ParsedFrame
    errors: np.ndarray
    probabilities: np.ndarray
    category_codes: np.ndarray
    expected_vas: np.ndarray
    filled: np.ndarray
    shap: np.ndarray
    output_value: np.ndarray
    base_value: float
    tier_groups: TierGroups
    model_version: str
    model: TrainedModel = field(repr=False)

    def __len__(self) -> int:
        return len(self.index)

    @cached_property
    def ok(self) -> np.ndarray:
        """Rows that were assessed."""
        return np.asarray(pd.isna(self.errors), dtype=bool)

    @property
    def tiers(self) -> np.ndarray:
        """:class:`~core.tiers.TierDecision` per row (``None`` for a failed row)."""
        out = np.full(len(self), None, dtype=object)
        out[self.ok] = self.tier_groups.per_case()
        return out

    @cached_property
    def prediction_sets(self) -> np.ndarray:
        """The conformal prediction set of each row (one threshold comparison), as
        :func:`core.model.uncertainty.prediction_set` gives it."""
        out = _empty(len(self))
        rows = np.flatnonzero(self.ok)
        out[rows] = prediction_set_objects(self.model, self.probabilities[rows])
        return out

    @cached_property
    def ood_flags(self) -> OodFlags | None:
        """The out-of-distribution checks of the assessed rows (``ok``, in order; one
        array pass on first use: the table of :meth:`to_frame` does not read them);
        ``None`` when the model card has no reference."""
        return ood_flags(self.model, self.parsed.X[np.flatnonzero(self.ok)])

    @cached_property
    def ood(self) -> np.ndarray:
        """Why each row lies outside the training data (tuple of sentences; ``None`` for
        a failed row), as :func:`core.model.uncertainty.ood_reasons` gives it."""
        out = _empty(len(self))
        rows = np.flatnonzero(self.ok)
        parsed = self.parsed
        out[rows] = ood_reasons_rows(
            self.model, parsed.X[rows], parsed.column("sequence")[rows],
            parsed.column("levels_in_view")[rows], flags=self.ood_flags)
        return out

    @cached_property
    def discordance(self) -> np.ndarray:
        """The recorded VAS against the prediction per row (:func:`core.tiers.discordance`;
        ``None`` without a recorded VAS or for a failed row)."""
        out = _empty(len(self))
        rows = np.flatnonzero(self.ok)
        vas = self.parsed.column("recorded_vas")[rows]
        out[rows] = _once_per_distinct([vas, self.categories[rows]], len(rows),
                                       lambda v, c: discordance_of(None if pd.isna(v) else v, c))
        return out

    @property
    def categories(self) -> np.ndarray:
        """Predicted category per row (``None`` for a failed row)."""
        names = np.asarray((*CATEGORIES, None), dtype=object)
        return names[self.category_codes]

    def imputed(self, i: int) -> tuple[str, ...]:
        """Features of row ``i`` that were not recorded."""
        return tuple(n for n, m in zip(FEATURE_NAMES, np.isnan(self.parsed.X[i]), strict=True)
                     if m)

    def prediction(self, i: int) -> Prediction:
        """Row ``i`` as :func:`core.model.predict` gives it."""
        return Prediction(
            category=CATEGORIES[int(self.category_codes[i])],
            probabilities={c: float(p) for c, p in zip(CATEGORIES, self.probabilities[i],
                                                       strict=True)},
            expected_vas=float(self.expected_vas[i]), imputed=self.imputed(i),
            model_version=self.model_version,
            features={n: float(v) for n, v in zip(FEATURE_NAMES, self.filled[i], strict=True)})

    def explanation(self, i: int) -> Explanation:
        """Row ``i`` as :func:`core.explain.explain_case` gives it."""
        return Explanation(
            feature_names=FEATURE_NAMES, values=tuple(float(v) for v in self.filled[i]),
            shap_values=tuple(float(v) for v in self.shap[i]), base_value=self.base_value,
            output_value=float(self.output_value[i]), output_units=OUTPUT_UNITS,
            imputed=self.imputed(i))

    def to_frame(self) -> pd.DataFrame:
        """One row per case with :data:`BATCH_COLUMNS` (same index): the category,
        the tier's ``tier``, ``urgency``, ``headline_source`` and ``headline`` (``None``
        for a failed row), ``expected_vas`` and ``p_<category>`` (NaN there) and
        ``assessment_error``."""
        ok = self.ok
        columns: dict[str, pd.Series] = {}
        columns["category"] = pd.Series(self.categories, index=self.index, dtype=object)
        for key in ("tier", "urgency", "headline_source", "headline"):
            column = np.full(len(self), None, dtype=object)
            column[ok] = self.tier_groups.field(key)
            columns[key] = pd.Series(column, index=self.index, dtype=object)
        columns["expected_vas"] = pd.Series(np.where(ok, self.expected_vas, np.nan),
                                            index=self.index)
        for k, category in enumerate(CATEGORIES):
            columns[f"p_{category}"] = pd.Series(np.where(ok, self.probabilities[:, k], np.nan),
                                                 index=self.index)
        columns["assessment_error"] = pd.Series(self.errors, index=self.index, dtype=object)
        return pd.DataFrame(columns, index=self.index, columns=list(BATCH_COLUMNS))


def _once_per_distinct(columns: list[np.ndarray], n: int,
                       fn: Callable[..., object]) -> np.ndarray:
    """``fn(*values)`` once per distinct combination of ``columns``, spread to the rows."""
    groups = row_groups(columns, n)
    out = np.empty(len(groups), dtype=object)
    for g, i in enumerate(groups.first):
        out[g] = fn(*(c[i] for c in columns))
    return out[groups.inverse] if n else np.empty(0, dtype=object)


def _rows_of(coded: Mapping[str, Mapped], rows: np.ndarray, n: int) -> dict[str, Mapped]:
    """The grouped context columns of the given rows."""
    if len(rows) == n:
        return dict(coded)
    return {k: Mapped(m.inverse[rows], m.results, m.bad) for k, m in coded.items()}


def _empty(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def assess_many(model: TrainedModel, frame: pd.DataFrame) -> BatchAssessment:
    """Predict, explain and advise every row of a frame of raw cases with array
    operations; each row equals :func:`core.assess.assess` of that row (its
    ``to_dict(orient="records")`` record).

    Parameters
    ----------
    model : TrainedModel
    frame : pandas.DataFrame
        Raw case columns (see :func:`core.case_frame.parse_frame`).

    Returns
    -------
    BatchAssessment
    """
    parsed = parse_frame(frame)
    n, ok = len(frame), parsed.ok
    rows = np.flatnonzero(ok)
    X = parsed.X if len(rows) == n else parsed.X[rows]
    scores = score_rows(model, X)
    predicted = predict_scores(model, scores)
    built = explainer(model)
    phi = np.asarray(scores.z - built.mean, dtype=np.float64) * built.coef + 0.0
    codes = _spread(predicted.category_codes, rows, n, -1)
    return BatchAssessment(
        index=frame.index, parsed=parsed, errors=parsed.errors.copy(),
        category_codes=codes.astype(np.int64),
        probabilities=_spread(predicted.probabilities, rows, n),
        expected_vas=_spread(predicted.expected_vas, rows, n),
        filled=_spread(scores.filled, rows, n), shap=_spread(phi, rows, n),
        output_value=_spread(scores.eta, rows, n),
        base_value=float(np.asarray(built.expected_value).reshape(-1)[0]),
        tier_groups=tier_groups(predicted.category_codes, X, None,
                                coded=_rows_of(parsed.coded, rows, n)),
        model_version=model.version, model=model)


def _spread(values: np.ndarray, rows: np.ndarray, n: int, fill: float = np.nan
            ) -> np.ndarray:
    """Per-row values of the assessed ``rows`` as ``n`` rows (``fill`` for the others)."""
    if len(rows) == n:
        return values
    out = np.full((n, *values.shape[1:]), fill, dtype=values.dtype)
    out[rows] = values
    return out

__all__ = ["BATCH_COLUMNS", "BatchAssessment", "assess_many"]
