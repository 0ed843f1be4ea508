"""Exact SHAP explanations of the ordinal pain model.

The model's latent score is linear in the standardised features,
``eta = sum_j w_j z_j``, so :class:`shap.LinearExplainer` (interventional / independent
masker) gives exact Shapley values::

    phi_j = w_j * (z_j - E_background[z_j])
    base_value = E_background[eta] = sum_j w_j * E_background[z_j]
    base_value + sum_j phi_j = eta          (additivity, exact)

Units: every value is in the model's *output units*, the latent log-odds ``eta`` of
the proportional-odds model (``P(pain <= k) = sigmoid(theta_k - eta)``), so a positive
SHAP value pushes towards more pain on the log-odds scale of every category boundary.
SHAP values are not probabilities.

The background is ``shap_background.csv`` in the model folder: weighted k-means
centroids of the imputed training rows (see :mod:`core.model`); its weighted mean and
covariance are passed to the explainer, so it equals the training mean and the base
value is the latent score of the average training case. Imputed features are
explained at their imputed (median) value and listed in ``imputed``.

The explainer is built once per loaded model and cached on it.

:func:`grouped_shap` and :func:`grouped_importance` sum the SHAP values per feature group
(imaging burden vs clinical findings); the sums are exact too, because SHAP values add.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import shap

from core.case_frame import parse_frame
from core.features import FEATURE_NAMES, FEATURES_BY_NAME, FeatureVector, features_from_case
from core.model import OUTPUT_UNITS, Scores, TrainedModel, score, score_rows
from core.vocab import finite_float


@dataclass(frozen=True)
class Explanation:
    """SHAP explanation of one case.

    Attributes
    ----------
    feature_names : tuple of str
    values : tuple of float
        The case's feature values in raw units, imputed values included.
    shap_values : tuple of float
        Contribution of each feature to ``output_value``, in ``output_units``.
    base_value : float
        Expected model output over the background.
    output_value : float
        Model output for this case (``base_value + sum(shap_values)``).
    output_units : str
    imputed : tuple of str
        Features that were missing and imputed with the training median.
    """

    feature_names: tuple[str, ...]
    values: tuple[float, ...]
    shap_values: tuple[float, ...]
    base_value: float
    output_value: float
    output_units: str
    imputed: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature_names": list(self.feature_names),
            "values": list(self.values),
            "shap_values": list(self.shap_values),
            "base_value": self.base_value,
            "output_value": self.output_value,
            "output_units": self.output_units,
            "imputed": list(self.imputed),
        }


def explainer(model: TrainedModel) -> shap.LinearExplainer:
    """The model's :class:`shap.LinearExplainer` on standardised features (cached).

    The masker is ``(mean, cov)`` of the standardised, weight-averaged background.
    """
    cached = model.cache.get("explainer")
    if cached is not None:
        return cached
    bg = model.background
    weights = bg["weight"].to_numpy(dtype=np.float64)
    weights = weights / weights.sum()
    _, z = model.standardise(bg[list(FEATURE_NAMES)].to_numpy(dtype=np.float64))
    mean = weights @ z
    centred = z - mean
    cov = (centred * weights[:, None]).T @ centred
    coef = model.cache["arrays"]["coef"]
    built = shap.LinearExplainer((coef, 0.0), (mean, cov))
    model.cache["explainer"] = built
    return built


def _base_value(model: TrainedModel) -> float:
    return float(np.asarray(explainer(model).expected_value).reshape(-1)[0])


def explain_case(model: TrainedModel, features: FeatureVector,
                 scores: Scores | None = None) -> Explanation:
    """Exact SHAP values of one case.

    Parameters
    ----------
    model : TrainedModel
    features : FeatureVector
        From :func:`core.features.features_from_case`.
    scores : Scores, optional
        :func:`core.model.score` of ``features`` when the caller already has it (shared
        with the prediction, so ``z`` and ``eta`` are computed once).

    Returns
    -------
    Explanation
    """
    scores = score(model, features) if scores is None else scores
    # + 0.0 turns -0.0 (a zero weight times a negative offset) into 0.0
    phi = np.asarray(explainer(model).shap_values(scores.z), dtype=np.float64).reshape(-1) + 0.0
    return Explanation(
        feature_names=FEATURE_NAMES,
        values=tuple(float(v) for v in scores.filled[0]),
        shap_values=tuple(float(v) for v in phi),
        base_value=_base_value(model),
        output_value=float(scores.eta[0]),
        output_units=OUTPUT_UNITS,
        imputed=features.missing,
    )


def feature_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Raw feature rows (NaN = missing) of a frame of raw cases, read with array
    operations (:func:`core.case_frame.parse_frame`); when a row cannot be read, the rows
    are read one by one so that the first bad row raises its own ``ValueError``."""
    parsed = parse_frame(frame)
    if parsed.ok.all():
        return parsed.X
    vectors = [features_from_case(r) for r in frame.to_dict(orient="records")]
    if not vectors:
        return np.empty((0, len(FEATURE_NAMES)))
    return np.vstack([v.row() for v in vectors])


def explain_cohort(model: TrainedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Exact SHAP values for every row of a cohort.

    Parameters
    ----------
    model : TrainedModel
    frame : pandas.DataFrame
        Raw case columns that :func:`core.features.features_from_case` parses (e.g. the
        cohort table: Bilsky as its grade, yes/no as booleans).

    Returns
    -------
    pandas.DataFrame
        Same index as ``frame``, one column per feature (``output_units``);
        ``attrs`` holds ``base_value``, ``output_units`` and ``output_value`` (a list,
        one per row) so that ``base_value + row.sum() == output_value``.
    """
    scores = score_rows(model, feature_matrix(frame))
    z = scores.z
    phi = np.asarray(explainer(model).shap_values(z), dtype=np.float64).reshape(
        len(z), len(FEATURE_NAMES)) + 0.0  # + 0.0 turns -0.0 into 0.0
    out = pd.DataFrame(phi, columns=list(FEATURE_NAMES), index=frame.index)
    out.attrs["base_value"] = _base_value(model)
    out.attrs["output_units"] = OUTPUT_UNITS
    out.attrs["output_value"] = [float(v) for v in scores.eta]
    return out


def global_importance(model: TrainedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute SHAP value per feature over a cohort, largest first.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature``, ``label``, ``mean_abs_shap``, ``mean_shap`` (signed mean),
        sorted by ``mean_abs_shap`` descending (ties by feature order).
    """
    values = explain_cohort(model, frame)
    table = pd.DataFrame({
        "feature": list(FEATURE_NAMES),
        "label": [FEATURES_BY_NAME[n].label for n in FEATURE_NAMES],
        "mean_abs_shap": values.abs().mean(axis=0).to_numpy() if len(values) else 0.0,
        "mean_shap": values.mean(axis=0).to_numpy() if len(values) else 0.0,
    })
    table["order"] = range(len(table))
    table = table.sort_values(["mean_abs_shap", "order"], ascending=[False, True], kind="stable")
    return table.drop(columns="order").reset_index(drop=True)


# ------------------------------------------------------------------ grouped importance

#: Display name of each feature group (:attr:`core.features.FeatureSpec.group`).
GROUP_LABELS: Mapping[str, str] = MappingProxyType({
    "imaging": "imaging burden", "clinical": "clinical findings",
})
#: Features of each group, in :data:`core.features.FEATURE_NAMES` order.
FEATURE_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    group: tuple(n for n in FEATURE_NAMES if FEATURES_BY_NAME[n].group == group)
    for group in GROUP_LABELS
})


def grouped_shap(values: pd.DataFrame | Explanation) -> pd.DataFrame:
    """SHAP values summed per feature group (exact: SHAP values are additive).

    Parameters
    ----------
    values : pandas.DataFrame or Explanation
        :func:`explain_cohort` output (one row per case) or one :class:`Explanation`.

    Returns
    -------
    pandas.DataFrame
        One column per group of :data:`FEATURE_GROUPS` (``imaging``, ``clinical``), same
        index (one row for an Explanation); each row plus the base value still adds up to
        the output value.
    """
    if isinstance(values, Explanation):
        values = pd.DataFrame([values.shap_values], columns=list(values.feature_names))
    return pd.DataFrame({g: values[list(names)].sum(axis=1)
                         for g, names in FEATURE_GROUPS.items()}, index=values.index)


def grouped_importance(model: TrainedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute SHAP value of each feature group over a cohort, largest first.

    The group's value per case is the sum of its features' SHAP values (what the group
    moves the latent score by, together), so correlated features inside a group do not
    cancel or double count.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``label`` (``imaging burden``, ``clinical findings``),
        ``features`` (tuple of names), ``mean_abs_shap``, ``mean_shap``.
    """
    sums = grouped_shap(explain_cohort(model, frame))
    table = pd.DataFrame({
        "group": list(FEATURE_GROUPS),
        "label": [GROUP_LABELS[g] for g in FEATURE_GROUPS],
        "features": list(FEATURE_GROUPS.values()),
        "mean_abs_shap": [float(sums[g].abs().mean()) if len(sums) else 0.0
                          for g in FEATURE_GROUPS],
        "mean_shap": [float(sums[g].mean()) if len(sums) else 0.0 for g in FEATURE_GROUPS],
    })
    return table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(
        drop=True)


# ------------------------------------------------------------------ waterfall geometry

#: Waterfall rows shown individually; the remaining features are summed into one row.
WATERFALL_MAX_ROWS = 10


@dataclass(frozen=True)
class ShapContribution:
    """One feature's SHAP value in an explanation.

    Attributes
    ----------
    name : str
        Feature name.
    label : str
        Its label in :data:`core.features.FEATURES` (the name itself for an unknown one).
    value : object
        The case's value in model units (a Bilsky grade as its code, yes/no as 1/0);
        render it with :func:`core.features.display_feature`.
    shap : float
        Contribution in the explanation's output units.
    """

    name: str
    label: str
    value: object
    shap: float


def shap_contributions(explanation: Mapping[str, Any]) -> list[ShapContribution]:
    """Per-feature SHAP values of ``Explanation.to_dict()``, largest magnitude first
    (ties by name); features without a finite SHAP value are left out.

    Accepts ``feature_names`` with list ``values``/``shap_values``, or dicts keyed by name.
    """
    names = [str(n) for n in explanation.get("feature_names") or []]
    shap_given = explanation.get("shap_values")
    values = explanation.get("values")
    if isinstance(shap_given, Mapping):
        names = names or [str(n) for n in shap_given]
        shap_list = [shap_given.get(n) for n in names]
    else:
        shap_list = list(shap_given or [])
    value_list = [values.get(n) for n in names] if isinstance(values, Mapping) else list(
        values or [])
    out = []
    for i, name in enumerate(names):
        number = finite_float(shap_list[i]) if i < len(shap_list) else None
        if number is None:
            continue
        spec = FEATURES_BY_NAME.get(name)
        out.append(ShapContribution(name, spec.label if spec else name,
                                    value_list[i] if i < len(value_list) else None, number))
    out.sort(key=lambda c: (-abs(c.shap), c.name))
    return out


@dataclass(frozen=True)
class WaterfallStep:
    """One bar of the SHAP waterfall: from ``start`` to ``end`` (``end - start = shap``).

    ``feature`` and ``value`` name the feature and its value in model units; both are
    ``None`` on the ``"N other features"`` row.
    """

    label: str
    start: float
    end: float
    feature: str | None = None
    value: object = None

    @property
    def shap(self) -> float:
        """Contribution of this row."""
        return self.end - self.start


def waterfall_steps(
    explanation: Mapping[str, Any], max_rows: int = WATERFALL_MAX_ROWS
) -> tuple[float | None, list[WaterfallStep], float | None]:
    """Waterfall of an explanation: base value, steps (largest first) and output value.

    Parameters
    ----------
    explanation : mapping
        ``Explanation.to_dict()`` (see :func:`shap_contributions` for the accepted shapes).
    max_rows : int
        Features shown individually; the others are summed into one
        ``"N other features"`` step.

    Returns
    -------
    base : float or None
        ``base_value`` (the model's average output); ``None`` (and no steps) when missing.
    steps : list of WaterfallStep
        Cumulative bars starting at ``base``; the last one ends at
        ``base + sum(shap_values)``.
    output : float or None
        ``output_value`` when given, else ``base + sum(shap_values)``.
    """
    base = finite_float(explanation.get("base_value"))
    output = finite_float(explanation.get("output_value"))
    if base is None:
        return None, [], output
    contributions = shap_contributions(explanation)
    steps: list[WaterfallStep] = []
    position = base
    for c in contributions[:max_rows]:
        steps.append(WaterfallStep(c.label, position, position + c.shap, c.name, c.value))
        position += c.shap
    rest = contributions[max_rows:]
    if rest:
        total = sum(c.shap for c in rest)
        steps.append(WaterfallStep(f"{len(rest)} other features", position, position + total))
        position += total
    return base, steps, output if output is not None else position
