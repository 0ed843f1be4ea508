"""What the advice reads, in one typed record: :class:`Findings`.

:func:`findings_of` turns the predicted category, the model's
:class:`~core.features.FeatureVector` and the :class:`~core.context.CaseContext` into the
values the rule tables test (recorded values only: ``None`` = not recorded, never an
imputed value). Rule conditions (:class:`Condition`) name a :class:`Findings` field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.context import CaseContext
from core.features import FeatureVector
from core.vocab import (
    CATEGORIES,
    CATEGORY_VAS_BANDS,
    BilskyGrade,
    number_text,
    vas_to_category,
)

LesionState = Literal["present", "absent", "unknown", "no_imaging"]

#: WHO ladder step that matches each pain category (WHO 2018; ESMO 2018): mild -> 1,
#: moderate -> 2, severe -> 3.
TARGET_STEP: dict[str, int] = {"mild": 1, "moderate": 2, "severe": 3}

_COUNT_FEATURES = ("lesion_count", "lesion_count_noncervical", "lesion_count_lumbosacral",
                   "involved_levels")


@dataclass(frozen=True)
class Findings:
    """The recorded values the advice reads (``None`` = not recorded).

    Attributes
    ----------
    category : str
        The predicted pain category.
    recorded_vas : float or None
        Pain recorded at the study; when given, the analgesic target follows it (the
        patient's report is what counts: WHO 2018, ESMO 2018).
    pain_basis : str
        The category the analgesic advice is relative to: the recorded one when a VAS was
        recorded, else the predicted one.
    lesion : str
        ``present`` (a count > 0), ``absent`` (lesion count 0), ``unknown`` (imaging values
        recorded but no count) or ``no_imaging`` (no imaging value recorded at all).
    bilsky : BilskyGrade or None
    bilsky_code : int or None
        The grade's 0-5 code (conditions compare it).
    deficit : str or None
        ``none``, ``stable`` or ``new_or_progressive``.
    fracture : bool or None
        Pathologic vertebral fracture.
    sins_total : int or None
        The full SINS (with its pain part) when recorded.
    sins_low : int or None
        The SINS the stability rules read: the total, or, when only the pain part is
        missing, its lower bound (SINS without pain); ``None`` when neither is recorded.
    ecog : int or None
    current_step : int or None
        WHO step the patient is on now (0 = none).
    prior_radiotherapy, bone_modifying_agent, neuropathic_pain : bool or None
    primary_tumor : str or None
    radiosensitivity : str
        ``radiosensitive``, ``radioresistant`` or ``unknown``.
    """

    category: str
    recorded_vas: float | None
    pain_basis: str
    lesion: LesionState
    bilsky: BilskyGrade | None
    bilsky_code: int | None
    deficit: str | None
    fracture: bool | None
    sins_total: int | None
    sins_low: int | None
    ecog: int | None
    current_step: int | None
    prior_radiotherapy: bool | None
    bone_modifying_agent: bool | None
    neuropathic_pain: bool | None
    primary_tumor: str | None
    radiosensitivity: str

    @property
    def lesion_measured(self) -> bool:
        """Metastasis-directed advice is allowed: a lesion was measured (or imaging values
        were recorded without a count)."""
        return self.lesion in ("present", "unknown")

    @property
    def sins_partial(self) -> bool:
        """The SINS read is a lower bound (the pain part was not recorded)."""
        return self.sins_total is None and self.sins_low is not None

    @property
    def target_step(self) -> int:
        """WHO step matching :attr:`pain_basis`."""
        return TARGET_STEP[self.pain_basis]

    @property
    def recorded_category(self) -> str | None:
        return None if self.recorded_vas is None else vas_to_category(self.recorded_vas)

    def need_phrase(self) -> str:
        """Whose pain the analgesic target follows: ``the predicted moderate pain`` or
        ``the recorded pain (VAS 8, severe)``."""
        if self.recorded_vas is None:
            return f"the predicted {self.category} pain"
        return f"the recorded pain (VAS {number_text(self.recorded_vas, 1)}, {self.pain_basis})"

    def pain_phrase(self) -> str:
        """The model's estimate and, when it differs, the recorded pain: ``Predicted
        moderate pain (VAS 4-6)`` or ``...; recorded VAS 8 (severe) counts``."""
        text = f"Predicted {self.category} pain ({CATEGORY_VAS_BANDS[self.category]})"
        recorded = self.recorded_category
        if recorded is not None and recorded != self.category:
            text += f"; recorded VAS {number_text(self.recorded_vas, 1)} ({recorded}) counts"
        return text


def _lesion_state(features: FeatureVector, context: CaseContext) -> LesionState:
    if not context.imaging_recorded:
        return "no_imaging"
    if features["lesion_count"] == 0:
        return "absent"
    if any((features[name] or 0) > 0 for name in _COUNT_FEATURES):
        return "present"
    return "unknown"


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


def _flag(value: float | None) -> bool | None:
    return None if value is None else bool(value)


def findings_of(category: str, features: FeatureVector, context: CaseContext) -> Findings:
    """The :class:`Findings` of one case (recorded values only)."""
    recorded = context.recorded_vas
    sins_low = context.sins_total
    if sins_low is None:
        sins_low = _whole(features["sins_without_pain"])
    grade = features.bilsky
    return Findings(
        category=category,
        recorded_vas=recorded,
        pain_basis=category if recorded is None else vas_to_category(recorded),
        lesion=_lesion_state(features, context),
        bilsky=grade,
        bilsky_code=None if grade is None else grade.code,
        deficit=context.neurologic_deficit,
        fracture=_flag(features["pathologic_fracture"]),
        sins_total=context.sins_total,
        sins_low=sins_low,
        ecog=_whole(features["ecog"]),
        current_step=context.current_analgesic_step,
        prior_radiotherapy=context.prior_radiotherapy,
        bone_modifying_agent=context.bone_modifying_agent,
        neuropathic_pain=context.neuropathic_pain,
        primary_tumor=context.primary_tumor,
        radiosensitivity=context.radiosensitivity,
    )


@dataclass(frozen=True)
class Condition:
    """``field op value`` on a :class:`Findings` field.

    ``op``: ``eq``; ``ne`` (a missing value matches: it is not ``value``); ``ge``;
    ``range`` (half-open ``low <= x < high``, so adjacent bands leave no gap). Apart from
    ``ne``, a missing value never matches.
    """

    field: str
    op: Literal["eq", "ne", "ge", "range"]
    value: object

    def matches(self, findings: Findings) -> bool:
        return self.holds(getattr(findings, self.field))

    def holds(self, x: object) -> bool:
        """Whether a value of :attr:`field` (``None`` = not recorded) meets the condition."""
        if self.op == "ne":
            return x != self.value
        if x is None:
            return False
        if self.op == "eq":
            return bool(x == self.value)
        if self.op == "ge":
            return bool(x >= self.value)  # type: ignore[operator]
        low, high = self.value  # type: ignore[misc]
        return bool(low <= x < high)


__all__ = ["CATEGORIES", "TARGET_STEP", "Condition", "Findings", "LesionState", "findings_of"]
