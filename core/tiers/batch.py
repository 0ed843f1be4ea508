"""The advice for a whole frame of cases: :func:`tier_groups` and :func:`decide_tiers`.

The rule inputs of every case (the :class:`~core.tiers.findings.Findings` fields) are
computed as small integer codes from the model's feature matrix and the cases' context
columns, exactly as :func:`~core.tiers.findings.findings_of` reads them one case at a
time. The rules themselves are never re-written here: every value comes from the scalar
functions of :mod:`core.tiers.evaluate`, called once per group of cases that share the
inputs those functions read.

* What a case list shows (:data:`~core.tiers.evaluate.SUMMARY_FIELDS`: tier, urgency,
  headline and its source) is computed at once: the fired overrides are the rule table's
  conditions (:meth:`~core.tiers.findings.Condition.holds`) evaluated once per distinct
  value of the field each one reads; the headline is then worded once per distinct value
  of the fields the headline reads (:func:`~core.tiers.evaluate.headline_value_fields`
  for an override's headline, :data:`~core.tiers.evaluate.MODEL_HEADLINE_FIELDS`
  otherwise), the urgency once per first override and
  :data:`~core.tiers.evaluate.URGENCY_FIELDS`, each by
  :func:`~core.tiers.evaluate.summary_fields`.
* The full :class:`TierDecision` of every case (recommendations, overrides, notes) is
  decided on first use, once per distinct combination of all rule inputs
  (:func:`~core.tiers.evaluate.decide_findings`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from functools import cached_property
from typing import get_args

import numpy as np
import pandas as pd

from core.features import FEATURE_NAMES
from core.grouping import Mapped, coded_floats, coded_objects, first_positions, object_array
from core.tiers.decision import TierDecision
from core.tiers.evaluate import (
    MODEL_HEADLINE_FIELDS,
    RULES_BY_PRECEDENCE,
    SUMMARY_FIELDS,
    URGENCY_FIELDS,
    decide_findings,
    headline_value_fields,
    summary_fields,
)
from core.tiers.findings import Findings, LesionState
from core.vocab import CATEGORIES, URGENCY_ORDER, BilskyGrade, vas_to_category

_COL = {name: j for j, name in enumerate(FEATURE_NAMES)}
_COUNT_FEATURES = ("lesion_count", "lesion_count_noncervical", "lesion_count_lumbosacral",
                   "involved_levels")
#: Context columns the rules read, as :class:`~core.context.CaseContext` names them.
CONTEXT_RULE_COLUMNS: tuple[str, ...] = (
    "recorded_vas", "neurologic_deficit", "sins_total", "current_analgesic_step",
    "prior_radiotherapy", "bone_modifying_agent", "neuropathic_pain", "primary_tumor",
    "radiosensitivity", "imaging_recorded", "warnings",
)
_LESION_STATES: tuple[str, ...] = get_args(LesionState)
#: The coded :class:`Findings` fields (``bilsky`` follows from ``bilsky_code``).
_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Findings) if f.name != "bilsky")
_KEY_LIMIT = 1 << 40


def _table(column: Mapped, fn: Callable[[object], object]) -> np.ndarray:
    """``fn`` of every distinct value of a coded column (index it with ``inverse``)."""
    return object_array([fn(v) for v in column.results])


def _flags(x: np.ndarray) -> Mapped:
    """A yes/no column as floats (NaN = not recorded, else zero or not) as groups."""
    codes = np.where(np.isnan(x), 0, np.where(x != 0, 2, 1)).astype(np.int64)
    return Mapped(codes, object_array([None, False, True]), np.zeros(3, dtype=bool))


def _lesion_codes(X: np.ndarray, imaging: np.ndarray) -> np.ndarray:
    """Index into :data:`_LESION_STATES` (as :func:`~core.tiers.findings.findings_of`)."""
    counts = X[:, [_COL[n] for n in _COUNT_FEATURES]]
    present = (counts > 0).any(axis=1)  # a missing count is not > 0
    state = np.where(present, _LESION_STATES.index("present"),
                     _LESION_STATES.index("unknown"))
    state[X[:, _COL["lesion_count"]] == 0] = _LESION_STATES.index("absent")
    state[~imaging] = _LESION_STATES.index("no_imaging")
    return state.astype(np.int64)


def _coded(values: Sequence[object], inverse: np.ndarray) -> Mapped:
    return Mapped(inverse, object_array(values), np.zeros(len(values), dtype=bool))


def _coded_findings(category_codes: np.ndarray, X: np.ndarray, ctx: Mapping[str, Mapped]
                    ) -> dict[str, Mapped]:
    """Every :class:`Findings` field of every case, plus ``warnings`` and
    ``recorded_category``, as groups of equal values (``ctx``: the
    :data:`CONTEXT_RULE_COLUMNS` as groups)."""
    vas = ctx["recorded_vas"]
    recorded = np.asarray([-1 if v is None else CATEGORIES.index(vas_to_category(v))
                           for v in vas.results], dtype=np.int64)[vas.inverse]
    given = ctx["sins_total"]
    sins_total = np.asarray([np.nan if v is None else v for v in given.results],
                            dtype=np.float64)[given.inverse]
    sins_low = np.where(np.isnan(sins_total), np.trunc(X[:, _COL["sins_without_pain"]]),
                        sins_total)
    imaging = np.asarray([bool(v) for v in ctx["imaging_recorded"].results],
                         dtype=bool)[ctx["imaging_recorded"].inverse]
    return {
        "category": _coded(CATEGORIES, category_codes),
        "recorded_vas": vas,
        "pain_basis": _coded(CATEGORIES, np.where(recorded < 0, category_codes, recorded)),
        "recorded_category": _coded((None, *CATEGORIES), recorded + 1),
        "lesion": _coded(_LESION_STATES, _lesion_codes(X, imaging)),
        "bilsky_code": coded_floats(np.trunc(X[:, _COL["bilsky_grade"]]), whole=True),
        "deficit": ctx["neurologic_deficit"],
        "fracture": _flags(X[:, _COL["pathologic_fracture"]]),
        "sins_total": given,
        "sins_low": coded_floats(sins_low, whole=True),
        "ecog": coded_floats(np.trunc(X[:, _COL["ecog"]]), whole=True),
        "current_step": ctx["current_analgesic_step"],
        **{name: ctx[name] for name in ("prior_radiotherapy", "bone_modifying_agent",
                                        "neuropathic_pain", "primary_tumor",
                                        "radiosensitivity", "warnings")},
    }


def _factor(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group numbers of ``key`` (in order of first appearance) and each group's first
    position."""
    inverse, _ = pd.factorize(key)
    inverse = inverse.astype(np.int64)
    return inverse, first_positions(inverse)


def _groups(columns: Sequence[Mapped], rows: np.ndarray,
            extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Group the given rows by their codes in ``columns`` (and ``extra``): the group of
    each of ``rows`` and the position in ``rows`` of each group's first row."""
    key = np.zeros(len(rows), dtype=np.int64) if extra is None else extra[rows] + 1
    everything = len(rows) == len(columns[0].inverse) if columns else False
    size = 1 if extra is None else int(extra.max(initial=0)) + 2
    for column in columns:
        if size * len(column.results) > _KEY_LIMIT:
            key, _ = _factor(key)
            size = int(key.max(initial=0)) + 1
        key = key * len(column.results) + (column.inverse if everything
                                           else column.inverse[rows])
        size *= len(column.results)
    return _factor(key)


def _findings(coded: dict[str, Mapped], i: int) -> Findings:
    values = {name: coded[name].results[coded[name].inverse[i]] for name in _FIELDS}
    code = values["bilsky_code"]
    return Findings(**values, bilsky=None if code is None else BilskyGrade.from_code(code))


def _warnings(coded: dict[str, Mapped], i: int) -> tuple[str, ...]:
    return tuple(coded["warnings"].results[coded["warnings"].inverse[i]] or ())


def _first_fired(coded: dict[str, Mapped], n: int) -> np.ndarray:
    """Index into :data:`~core.tiers.evaluate.RULES_BY_PRECEDENCE` of each case's first
    fired override (``-1``: none), each condition evaluated once per distinct value."""
    first = np.full(n, -1, dtype=np.int64)
    for k in range(len(RULES_BY_PRECEDENCE) - 1, -1, -1):
        fired = np.ones(n, dtype=bool)
        for condition in RULES_BY_PRECEDENCE[k].when:
            column = coded[condition.field]
            fired &= _table(column, condition.holds).astype(bool)[column.inverse]
        first[fired] = k
    return first


def _fill(out: dict[str, np.ndarray], coded: dict[str, Mapped], rows: np.ndarray,
          names: Sequence[str], keys: Sequence[str], extra: np.ndarray | None = None) -> None:
    """:func:`summary_fields` ``keys`` of the given rows, once per group of equal
    ``names`` fields (and ``extra``)."""
    if not len(rows):
        return
    inverse, first = _groups([coded[name] for name in names], rows, extra)
    values = {key: np.empty(len(first), dtype=object) for key in keys}
    for g, j in enumerate(first):
        summary = summary_fields(_findings(coded, int(rows[j])))
        for key in keys:
            values[key][g] = summary[key]
    for key in keys:
        out[key][rows] = values[key][inverse]


def _summaries(coded: dict[str, Mapped], n: int) -> dict[str, np.ndarray]:
    """The :data:`~core.tiers.evaluate.SUMMARY_FIELDS` of every case."""
    out = {key: np.full(n, None, dtype=object) for key in SUMMARY_FIELDS}
    first = _first_fired(coded, n)
    # the first fired override is the most urgent one: its urgency level is what counts
    levels = np.asarray([URGENCY_ORDER.index(r.urgency) for r in RULES_BY_PRECEDENCE],
                        dtype=np.int64)
    level = np.where(first < 0, -1, levels[np.maximum(first, 0)]) if n else first
    _fill(out, coded, np.arange(n), ("category",), ("tier",))
    _fill(out, coded, np.arange(n), URGENCY_FIELDS, ("urgency",), extra=level)
    _fill(out, coded, np.flatnonzero(first < 0), MODEL_HEADLINE_FIELDS,
          ("headline", "headline_source"))
    for k, rule in enumerate(RULES_BY_PRECEDENCE):
        _fill(out, coded, np.flatnonzero(first == k), headline_value_fields(rule),
              ("headline", "headline_source"))
    return out


class TierGroups:
    """The advice of ``n`` cases: :data:`~core.tiers.evaluate.SUMMARY_FIELDS` per case
    (:meth:`field`) and, decided on first use, one :class:`TierDecision` per distinct
    rule input (``decisions[g]`` group ``g``'s, ``inverse[i]`` case ``i``'s group)."""

    def __init__(self, coded: dict[str, Mapped], n: int) -> None:
        self._coded = coded
        self._n = n
        self._summary = _summaries(coded, n)

    @cached_property
    def _grouped(self) -> tuple[np.ndarray, np.ndarray]:
        coded = self._coded
        inverse, first = _groups([coded[name] for name in (*_FIELDS, "warnings")],
                                 np.arange(self._n))
        decided = np.empty(len(first), dtype=object)
        for g, i in enumerate(first):
            decided[g] = decide_findings(_findings(coded, int(i)), _warnings(coded, int(i)))
        return decided, inverse

    @property
    def decisions(self) -> np.ndarray:
        """One :class:`TierDecision` per distinct rule input."""
        return self._grouped[0]

    @property
    def inverse(self) -> np.ndarray:
        """Each case's index into :attr:`decisions`."""
        return self._grouped[1]

    def per_case(self) -> np.ndarray:
        """One :class:`TierDecision` per case (cases of a group share one object)."""
        if not self._n:
            return np.empty(0, dtype=object)
        out: np.ndarray = self.decisions[self.inverse]
        return out

    def field(self, name: str) -> np.ndarray:
        """One attribute of every case's decision (e.g. ``headline``), per case."""
        if name in self._summary:
            return self._summary[name].copy()
        values = np.empty(len(self.decisions), dtype=object)
        for g, decision in enumerate(self.decisions):
            values[g] = getattr(decision, name)
        out: np.ndarray = values[self.inverse] if self._n else np.empty(0, object)
        return out


def _category_codes(categories: np.ndarray) -> np.ndarray:
    """Index into :data:`~core.vocab.CATEGORIES` of each predicted category (names, or
    already their indices as integers)."""
    given = np.asarray(categories)
    if given.dtype.kind in "iu":
        codes = given.astype(np.int64)
        bad = (codes < 0) | (codes >= len(CATEGORIES))
        if bad.any():
            raise ValueError(f"pain category code {int(codes[bad][0])} is not an index of "
                             f"{', '.join(CATEGORIES)}.")
        return codes
    given = given.astype(object)
    codes = np.full(len(given), -1, dtype=np.int64)
    for k, category in enumerate(CATEGORIES):
        codes[given == category] = k
    if (codes < 0).any():
        bad_name = given[codes < 0][0]
        raise ValueError(f"pain category {bad_name!r} is not one of {', '.join(CATEGORIES)}.")
    return codes


def tier_groups(categories: np.ndarray, X: np.ndarray, contexts: pd.DataFrame | None, *,
                coded: Mapping[str, Mapped] | None = None) -> TierGroups:
    """:func:`decide_tiers` as :class:`TierGroups` (summary fields at once, one full
    decision per distinct input on first use).

    ``categories``: the predicted categories by name, or as their indices into
    :data:`~core.vocab.CATEGORIES` (integers). ``coded`` gives the
    :data:`CONTEXT_RULE_COLUMNS` of ``contexts`` already as groups of equal values
    (:attr:`core.case_frame.ParsedFrame.coded`); else they are grouped here.
    """
    codes = _category_codes(categories)
    X = np.asarray(X, dtype=np.float64).reshape(len(categories), len(FEATURE_NAMES))
    if coded is None:
        if contexts is None:
            raise TypeError("tier_groups takes the contexts frame or their coded columns.")
        coded = {c: coded_objects(contexts[c].to_numpy(dtype=object))
                 for c in CONTEXT_RULE_COLUMNS}
    return TierGroups(_coded_findings(codes, X, coded), len(categories))


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
