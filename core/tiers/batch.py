"""The advice for a whole frame of cases: :func:`decide_tiers`.

The rule inputs of every case (:class:`~core.tiers.findings.Findings`) are computed as
arrays from the model's feature matrix and the cases' context columns, exactly as
:func:`~core.tiers.findings.findings_of` reads them one case at a time; cases are then
grouped by their distinct rule inputs and each group is advised once
(:func:`~core.tiers.evaluate.decide_findings`), so a cohort with thousands of cases runs
the rule tables only for its few hundred distinct combinations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.features import FEATURE_NAMES
from core.grouping import map_distinct, row_groups
from core.tiers.decision import TierDecision
from core.tiers.evaluate import decide_findings
from core.tiers.findings import Findings
from core.vocab import CATEGORIES, BilskyGrade, vas_to_category

_COL = {name: j for j, name in enumerate(FEATURE_NAMES)}
_COUNT_FEATURES = ("lesion_count", "lesion_count_noncervical", "lesion_count_lumbosacral",
                   "involved_levels")
#: Context columns the rules read, as :class:`~core.context.CaseContext` names them.
CONTEXT_RULE_COLUMNS: tuple[str, ...] = (
    "recorded_vas", "neurologic_deficit", "sins_total", "current_analgesic_step",
    "prior_radiotherapy", "bone_modifying_agent", "neuropathic_pain", "primary_tumor",
    "radiosensitivity", "imaging_recorded", "warnings",
)


def _lesion_states(X: np.ndarray, imaging: np.ndarray) -> np.ndarray:
    counts = X[:, [_COL[n] for n in _COUNT_FEATURES]]
    present = np.nan_to_num(counts, nan=0.0).max(axis=1) > 0
    state = np.where(present, "present", "unknown").astype(object)
    state[X[:, _COL["lesion_count"]] == 0] = "absent"
    state[~imaging] = "no_imaging"
    return state


def _whole_or_none(column: np.ndarray) -> np.ndarray:
    out = np.full(len(column), None, dtype=object)
    known = ~np.isnan(column)
    out[known] = column[known].astype(np.int64).astype(object)
    return out


def _findings_columns(categories: np.ndarray, X: np.ndarray, contexts: pd.DataFrame
                      ) -> dict[str, np.ndarray]:
    """Every :class:`Findings` field of every case as one column (``None`` = missing),
    plus ``warnings``."""
    ctx = {c: contexts[c].to_numpy(dtype=object) for c in CONTEXT_RULE_COLUMNS}
    vas_category, _ = map_distinct(ctx["recorded_vas"],
                                   lambda v: None if v is None else vas_to_category(v),
                                   raw=False)
    basis = np.where(pd.isna(ctx["recorded_vas"]), categories, vas_category)
    sins_low = ctx["sins_total"].copy()
    from_parts = _whole_or_none(X[:, _COL["sins_without_pain"]])
    unset = pd.isna(sins_low)
    sins_low[unset] = from_parts[unset]
    fracture = X[:, _COL["pathologic_fracture"]]
    fracture_flag = np.where(np.isnan(fracture), None, fracture != 0).astype(object)
    return {
        "category": categories.astype(object),
        "recorded_vas": ctx["recorded_vas"],
        "pain_basis": basis.astype(object),
        "lesion": _lesion_states(X, ctx["imaging_recorded"].astype(bool)),
        "bilsky_code": _whole_or_none(X[:, _COL["bilsky_grade"]]),
        "deficit": ctx["neurologic_deficit"],
        "fracture": fracture_flag,
        "sins_total": ctx["sins_total"],
        "sins_low": sins_low,
        "ecog": _whole_or_none(X[:, _COL["ecog"]]),
        "current_step": ctx["current_analgesic_step"],
        "prior_radiotherapy": ctx["prior_radiotherapy"],
        "bone_modifying_agent": ctx["bone_modifying_agent"],
        "neuropathic_pain": ctx["neuropathic_pain"],
        "primary_tumor": ctx["primary_tumor"],
        "radiosensitivity": ctx["radiosensitivity"],
        "warnings": ctx["warnings"],
    }


def _none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _findings(columns: dict[str, np.ndarray], i: int) -> tuple[Findings, tuple[str, ...]]:
    values = {k: _none(v[i]) for k, v in columns.items()}
    code = values["bilsky_code"]
    warnings = values.pop("warnings") or ()
    return Findings(**values, bilsky=None if code is None else BilskyGrade.from_code(code)
                    ), tuple(warnings)


@dataclass(frozen=True, eq=False)
class TierGroups:
    """The advice of ``n`` cases grouped by distinct rule inputs.

    ``decisions[g]`` is group ``g``'s :class:`TierDecision`, ``inverse[i]`` case ``i``'s
    group."""

    decisions: np.ndarray
    inverse: np.ndarray

    def per_case(self) -> np.ndarray:
        """One :class:`TierDecision` per case (cases of a group share one object)."""
        if not len(self.inverse):
            return np.empty(0, dtype=object)
        out: np.ndarray = self.decisions[self.inverse]
        return out

    def field(self, name: str) -> np.ndarray:
        """One attribute of every case's decision (e.g. ``headline``), per case."""
        values = np.empty(len(self.decisions), dtype=object)
        for g, decision in enumerate(self.decisions):
            values[g] = getattr(decision, name)
        out: np.ndarray = values[self.inverse] if len(self.inverse) else np.empty(0, object)
        return out


def tier_groups(categories: np.ndarray, X: np.ndarray, contexts: pd.DataFrame) -> TierGroups:
    """:func:`decide_tiers` as :class:`TierGroups` (one decision per distinct input)."""
    categories = np.asarray(categories, dtype=object)
    n = len(categories)
    unknown = ~np.isin(categories, np.asarray(CATEGORIES, dtype=object))
    if unknown.any():
        bad = categories[unknown][0]
        raise ValueError(f"pain category {bad!r} is not one of {', '.join(CATEGORIES)}.")
    columns = _findings_columns(categories, np.asarray(X, dtype=np.float64), contexts)
    groups = row_groups(list(columns.values()), n, exact_types=False)
    decided = np.empty(len(groups), dtype=object)
    for g, i in enumerate(groups.first):
        decided[g] = decide_findings(*_findings(columns, int(i)))
    return TierGroups(decided, groups.inverse)


def decide_tiers(categories: np.ndarray, X: np.ndarray, contexts: pd.DataFrame
                 ) -> np.ndarray:
    """The :class:`TierDecision` of every case of a frame, equal to
    :func:`~core.tiers.decide_tier` case by case.

    Parameters
    ----------
    categories : ndarray of str, shape (n,)
        Predicted pain categories (:data:`~core.vocab.CATEGORIES`).
    X : ndarray, shape (n, p)
        The cases' feature rows in model units (NaN = not recorded), as
        :meth:`~core.features.FeatureVector.row` gives them.
    contexts : pandas.DataFrame
        One row per case with the :class:`~core.context.CaseContext` fields of
        :data:`CONTEXT_RULE_COLUMNS` (``None`` = not recorded, ``warnings`` a tuple).

    Returns
    -------
    ndarray of object
        One :class:`TierDecision` per case (cases with equal rule inputs share one).

    Raises
    ------
    ValueError
        For a category that is not a pain category.
    """
    return tier_groups(categories, X, contexts).per_case()


__all__ = ["CONTEXT_RULE_COLUMNS", "TierDecision", "TierGroups", "decide_tiers", "tier_groups"]
