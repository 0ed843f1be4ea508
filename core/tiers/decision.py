"""The result types of the advice: :class:`Recommendation`, :class:`Override`,
:class:`TierDecision` (their ``to_dict`` keys are the ``python -m core predict`` contract)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

HeadlineSource = Literal["override", "no_lesion", "model"]

#: Where a decision's headline comes from, in precedence order.
HEADLINE_SOURCES: tuple[str, ...] = ("override", "no_lesion", "model")


@dataclass(frozen=True)
class Recommendation:
    """One recommendation: a stable ``code`` (see :data:`core.tiers.CODES`), the sentence a
    clinician reads, its reference(s) and, for those an override brings, its urgency."""

    code: str
    text: str
    reference: str
    urgency: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"code": self.code, "text": self.text, "reference": self.reference}
        if self.urgency is not None:
            out["urgency"] = self.urgency
        return out


@dataclass(frozen=True)
class Override:
    """A fired safety override (it outranks the model and becomes the headline).

    Attributes
    ----------
    rule : str
        Rule id in :data:`core.tiers.OVERRIDE_RULES`.
    reason : str
        The recorded value that fired it, as a clinician reads it (``"SINS total = 14"``).
    urgency : str
        ``soon`` or ``urgent``.
    headline : str
        The sentence shown first when this is the most urgent override.
    action : str
        What to do, with what is deliberately not recommended and why.
    reference : str
    codes : tuple of str
        The recommendation codes this override brought into the decision.
    """

    rule: str
    reason: str
    urgency: str
    headline: str
    action: str
    reference: str
    codes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "reason": self.reason, "urgency": self.urgency,
                "action": self.action, "reference": self.reference,
                "codes": list(self.codes), "headline": self.headline}


@dataclass(frozen=True)
class TierDecision:
    """The advice for one case.

    Attributes
    ----------
    tier : str
        ``"1"``, ``"2"`` or ``"3"`` from the predicted pain category (the model's estimate;
        it is not a treatment step).
    tier_label : str
        ``"Tier 2 - moderate pain"``.
    headline : str
        What the clinician reads first: the most urgent override's sentence, else the
        no-lesion statement, else the model's (see :data:`HEADLINE_SOURCES`).
    headline_source : str
        ``override``, ``no_lesion`` or ``model``.
    recommendations : tuple of Recommendation
        Override actions first (most urgent first), then analgesia, bone health,
        radiotherapy and the rest; one per code.
    overrides : tuple of Override
        Fired safety overrides, most urgent first (table order within a level).
    urgency : str
        The most urgent of the pain's own urgency and the overrides'.
    category : str
        The predicted pain category.
    missing_safety_inputs : tuple of str
        Safety inputs that were not recorded, so their overrides could not be checked.
    notes : tuple of str
        Plain sentences: how inputs were read, what could not be checked, a stable deficit.
    """

    tier: str
    tier_label: str
    headline: str
    headline_source: str
    recommendations: tuple[Recommendation, ...]
    overrides: tuple[Override, ...]
    urgency: str
    category: str
    missing_safety_inputs: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        """The recommendation codes, in order."""
        return tuple(r.code for r in self.recommendations)

    def recommendation(self, code: str) -> Recommendation | None:
        """The recommendation with ``code``, or ``None``."""
        return next((r for r in self.recommendations if r.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "tier_label": self.tier_label,
            "category": self.category,
            "urgency": self.urgency,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "overrides": [o.to_dict() for o in self.overrides],
            "missing_safety_inputs": list(self.missing_safety_inputs),
            "headline": self.headline,
            "headline_source": self.headline_source,
            "notes": list(self.notes),
        }
