"""Management tier: a transparent rule table from predicted pain and safety findings.

Everything the decision uses is *data* in this module:

* :data:`TIER_RULES` - predicted pain category -> tier, base urgency and
  recommendations (WHO analgesic ladder, bone-modifying agent, palliative
  radiotherapy), each with its reference;
* :data:`CONDITIONAL_RULES` - extra recommendations triggered by one input
  (a painful pathologic fracture -> vertebral augmentation);
* :data:`OVERRIDE_RULES` - safety overrides that outrank the model: SINS 7-12 ->
  surgical consultation; SINS >= 13, Bilsky 2-3 or a neurologic deficit -> urgent
  spine-surgery / radiation-oncology review.

:func:`decide_tier` evaluates the tables; the decision's urgency is the highest of
the tier's base urgency and every fired override (``routine < soon < urgent``).
Safety overrides read only recorded values, never imputed ones: a missing SINS,
Bilsky grade or deficit status is listed in ``missing_safety_inputs`` instead.

:func:`decide_tier` reads a :class:`core.features.FeatureVector` (made once by
:func:`core.features.features_from_case`), so a Bilsky grade is a
:class:`core.vocab.BilskyGrade` and never confused with its model code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.features import FEATURES_BY_NAME, FeatureVector
from core.vocab import URGENCY_ORDER, BilskyGrade, Urgency, most_urgent

# ----------------------------------------------------------------------- references

WHO_LADDER = (
    "World Health Organization. Cancer pain relief. Geneva: WHO; 1986; and WHO guidelines "
    "for the pharmacological and radiotherapeutic management of cancer pain in adults and "
    "adolescents. Geneva: WHO; 2018."
)
ESMO_2018 = (
    "Fallon M, Giusti R, Aielli F, et al. Management of cancer pain in adult patients: ESMO "
    "Clinical Practice Guidelines. Ann Oncol 2018;29(Suppl 4):iv166-iv191."
)
ESMO_BONE_2020 = (
    "Coleman R, Hadji P, Body JJ, et al. Bone health in cancer: ESMO Clinical Practice "
    "Guidelines. Ann Oncol 2020;31:1650-1663."
)
ASTRO_2017 = (
    "Lutz S, Balboni T, Jones J, et al. Palliative radiation therapy for bone metastases: "
    "update of an ASTRO evidence-based guideline. Pract Radiat Oncol 2017;7:4-12."
)
ASTRO_2024 = (
    "Alcorn S, Cortés ÁA, Bradfield L, et al. External beam radiation therapy for palliation "
    "of symptomatic bone metastases: an ASTRO clinical practice guideline. Pract Radiat Oncol "
    "2024;14:377-397."
)
SINS_2010 = (
    "Fisher CG, DiPaola CP, Ryken TC, et al. A novel classification system for spinal "
    "instability in neoplastic disease (SINS). Spine 2010;35:E1221-E1229."
)
BILSKY_2010 = (
    "Bilsky MH, Laufer I, Fourney DR, et al. Reliability analysis of the epidural spinal cord "
    "compression scale. J Neurosurg Spine 2010;13:324-328."
)
NOMS_2013 = (
    "Laufer I, Rubin DG, Lis E, et al. The NOMS framework: approach to the treatment of "
    "spinal metastatic tumors. Oncologist 2013;18:744-751."
)
NICE_MSCC_2023 = (
    "NICE guideline NG234. Spinal metastases and metastatic spinal cord compression. "
    "London: NICE; 2023."
)
KYPHOPLASTY_2011 = (
    "Berenson J, Pflugmacher R, Jarzem P, et al. Balloon kyphoplasty versus non-surgical "
    "fracture management for treatment of painful vertebral body compression fractures in "
    "patients with cancer (CAFE). Lancet Oncol 2011;12:225-235."
)




def _refs(*citations: str) -> str:
    """Several citations in one reference string."""
    return " | ".join(citations)


# ---------------------------------------------------------------------- result types


@dataclass(frozen=True)
class Recommendation:
    """One recommendation and where it comes from."""

    text: str
    reference: str

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "reference": self.reference}


@dataclass(frozen=True)
class Override:
    """A fired safety override.

    Attributes
    ----------
    rule : str
        Rule id from :data:`OVERRIDE_RULES`.
    reason : str
        Which input fired it, with its value.
    urgency : str
    action : str
    reference : str
    """

    rule: str
    reason: str
    urgency: str
    action: str
    reference: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "reason": self.reason, "urgency": self.urgency,
                "action": self.action, "reference": self.reference}


@dataclass(frozen=True)
class TierDecision:
    """The tier for one case.

    Attributes
    ----------
    tier : str
        ``"1"``, ``"2"`` or ``"3"`` (from the predicted pain category).
    tier_label : str
    recommendations : tuple of Recommendation
        Tier recommendations, then conditional ones.
    overrides : tuple of Override
        Fired safety overrides, most urgent first; they outrank the tier.
    urgency : str
        Highest of the tier's base urgency and the overrides'.
    category : str
        Predicted pain category the tier came from.
    missing_safety_inputs : tuple of str
        Safety inputs that were not recorded, so their overrides could not be checked.
    """

    tier: str
    tier_label: str
    recommendations: tuple[Recommendation, ...]
    overrides: tuple[Override, ...]
    urgency: str
    category: str
    missing_safety_inputs: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "tier_label": self.tier_label,
            "category": self.category,
            "urgency": self.urgency,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "overrides": [o.to_dict() for o in self.overrides],
            "missing_safety_inputs": list(self.missing_safety_inputs),
        }


# -------------------------------------------------------------------- rule elements


@dataclass(frozen=True)
class Condition:
    """``field op value`` on a :class:`core.features.FeatureVector` (model units).

    ``op`` is ``"eq"``, ``"ge"``, ``"between"`` (inclusive, ``value = (low, high)``) or
    ``"range"`` (half-open ``low <= x < high``, so that adjacent bands leave no gap for a
    non-integer value). A missing input never matches.
    """

    field: str
    op: Literal["eq", "ge", "between", "range"]
    value: float | tuple[float, float]
    description: str

    def matches(self, inputs: FeatureVector) -> bool:
        x = inputs.get(self.field)
        if x is None:
            return False
        if self.op == "eq":
            return x == self.value
        if self.op == "ge":
            return x >= self.value  # type: ignore[operator]
        low, high = self.value  # type: ignore[misc]
        if self.op == "range":
            return low <= x < high
        return low <= x <= high


@dataclass(frozen=True)
class TierRule:
    """Predicted category -> tier."""

    category: str
    tier: str
    tier_label: str
    urgency: Urgency
    recommendations: tuple[Recommendation, ...]


@dataclass(frozen=True)
class ConditionalRule:
    """An extra recommendation when ``condition`` holds."""

    rule: str
    condition: Condition
    recommendation: Recommendation


@dataclass(frozen=True)
class OverrideRule:
    """A safety override that outranks the model."""

    rule: str
    condition: Condition
    urgency: Urgency
    action: str
    reference: str


# ------------------------------------------------------------------------ the tables

_BONE_AGENT = Recommendation(
    "Bone metastases: consider a bone-modifying agent (zoledronic acid or denosumab) to "
    "reduce skeletal-related events; check renal function, calcium and vitamin D and dental "
    "status before starting.",
    _refs(ESMO_2018, ESMO_BONE_2020),
)
_RADIOTHERAPY = Recommendation(
    "Refer to radiation oncology for palliative radiotherapy of the painful spinal "
    "metastasis: 8 Gy in a single fraction relieves pain as well as multi-fraction courses "
    "for uncomplicated painful bone metastases; consider stereotactic body radiotherapy "
    "(SBRT) where eligible (e.g. oligometastatic disease, good performance status).",
    _refs(ASTRO_2017, ASTRO_2024),
)

TIER_RULES: tuple[TierRule, ...] = (
    TierRule(
        "mild", "1", "Tier 1 - mild pain: WHO step 1", "routine",
        (
            Recommendation(
                "WHO step 1: a non-opioid analgesic (paracetamol, or an NSAID if not "
                "contraindicated) with or without an adjuvant; reassess pain regularly.",
                _refs(WHO_LADDER, ESMO_2018),
            ),
            _BONE_AGENT,
            Recommendation(
                "If pain persists or progresses, discuss palliative radiotherapy with "
                "radiation oncology (8 Gy single fraction for uncomplicated painful bone "
                "metastases; SBRT where eligible).",
                _refs(ASTRO_2017, ASTRO_2024),
            ),
        ),
    ),
    TierRule(
        "moderate", "2", "Tier 2 - moderate pain: WHO step 2", "routine",
        (
            Recommendation(
                "WHO step 2: a weak opioid (e.g. codeine, tramadol) or a low-dose strong "
                "opioid (e.g. morphine), combined with a non-opioid with or without an "
                "adjuvant; prescribe a laxative and review adverse effects.",
                _refs(WHO_LADDER, ESMO_2018),
            ),
            _BONE_AGENT,
            _RADIOTHERAPY,
        ),
    ),
    TierRule(
        "severe", "3", "Tier 3 - severe pain: WHO step 3", "soon",
        (
            Recommendation(
                "WHO step 3: a strong opioid (e.g. oral morphine) titrated to effect with "
                "immediate-release rescue doses, plus a non-opioid with or without an "
                "adjuvant; prevent and monitor opioid adverse effects and review promptly.",
                _refs(WHO_LADDER, ESMO_2018),
            ),
            _BONE_AGENT,
            _RADIOTHERAPY,
        ),
    ),
)

CONDITIONAL_RULES: tuple[ConditionalRule, ...] = (
    ConditionalRule(
        "no_lesion_measured",
        Condition("lesion_count", "eq", 0.0, "no metastatic lesion measured on this study"),
        Recommendation(
            "No metastatic lesion was measured on this study: confirm on the images that the "
            "pain comes from a spinal metastasis before any radiotherapy referral, and look "
            "for another cause (degenerative disease, fracture, lesion outside the field of "
            "view or below the detection limit).",
            _refs(ASTRO_2017, ESMO_2018),
        ),
    ),
    ConditionalRule(
        "painful_pathologic_fracture",
        Condition("pathologic_fracture", "eq", 1.0, "pathologic fracture present"),
        Recommendation(
            "Painful pathologic vertebral fracture: consider vertebral augmentation "
            "(kyphoplasty or vertebroplasty) after spine review of stability and epidural "
            "disease.",
            _refs(KYPHOPLASTY_2011, ESMO_2018),
        ),
    ),
)

OVERRIDE_RULES: tuple[OverrideRule, ...] = (
    OverrideRule(
        "sins_potentially_unstable",
        Condition("sins_total", "range", (7.0, 13.0), "SINS 7-12: potentially unstable"),
        "soon",
        "Surgical consultation: potentially unstable spine (SINS 7-12).",
        SINS_2010,
    ),
    OverrideRule(
        "sins_unstable",
        Condition("sins_total", "ge", 13.0, "SINS >= 13: unstable"),
        "urgent",
        "Urgent spine-surgery and radiation-oncology review: unstable spine (SINS 13-18).",
        _refs(SINS_2010, NOMS_2013),
    ),
    OverrideRule(
        "bilsky_high_grade",
        Condition("bilsky_grade", "ge", float(BilskyGrade.parse("2").code),  # type: ignore[union-attr]
                  "Bilsky grade 2-3: high-grade epidural spinal cord compression"),
        "urgent",
        "Urgent spine-surgery and radiation-oncology review: high-grade epidural spinal cord "
        "compression (Bilsky 2-3).",
        _refs(BILSKY_2010, NOMS_2013),
    ),
    OverrideRule(
        "neurologic_deficit",
        Condition("neurologic_deficit", "eq", 1.0, "new or progressive neurologic deficit"),
        "urgent",
        "Urgent spine-surgery and radiation-oncology review for suspected metastatic spinal "
        "cord compression (same day; whole-spine MRI if not done; follow the local MSCC "
        "pathway).",
        _refs(NICE_MSCC_2023, NOMS_2013),
    ),
)

#: Inputs the overrides read; missing ones are reported.
SAFETY_INPUTS: tuple[str, ...] = tuple(dict.fromkeys(r.condition.field for r in OVERRIDE_RULES))


def _shown(field: str, features: FeatureVector) -> str:
    """The input that fired a rule, in words a clinician reads ("SINS total = 8",
    "Bilsky grade 2", "Neurologic deficit = yes")."""
    if field == "bilsky_grade":
        return f"Bilsky grade {features.display(field)}"
    return f"{FEATURES_BY_NAME[field].label} = {features.display(field)}"


def decide_tier(category: str, features: FeatureVector) -> TierDecision:
    """Apply the rule tables to a parsed feature vector.

    Parameters
    ----------
    category : str
        Predicted pain category: ``mild``, ``moderate`` or ``severe``.
    features : FeatureVector
        From :func:`core.features.features_from_case` (validated once there). Missing
        values (``None``) never fire a rule; missing safety inputs are reported.

    Returns
    -------
    TierDecision

    Raises
    ------
    TypeError
        When ``features`` is not a :class:`FeatureVector` (parse raw cases first).
    ValueError
        For an unknown category.
    """
    if not isinstance(features, FeatureVector):
        raise TypeError("decide_tier takes a FeatureVector; parse the case with "
                        "core.features.features_from_case first.")
    rule = next((r for r in TIER_RULES if r.category == category), None)
    if rule is None:
        known = ", ".join(r.category for r in TIER_RULES)
        raise ValueError(f"pain category {category!r} is not one of {known}.")

    recommendations = list(rule.recommendations)
    recommendations += [c.recommendation for c in CONDITIONAL_RULES
                        if c.condition.matches(features)]
    fired = [
        Override(
            rule=o.rule,
            reason=f"{_shown(o.condition.field, features)} ({o.condition.description})",
            urgency=o.urgency,
            action=o.action,
            reference=o.reference,
        )
        for o in OVERRIDE_RULES if o.condition.matches(features)
    ]
    fired.sort(key=lambda o: -URGENCY_ORDER.index(o.urgency))  # stable: table order in a level
    return TierDecision(
        tier=rule.tier,
        tier_label=rule.tier_label,
        recommendations=tuple(recommendations),
        overrides=tuple(fired),
        urgency=most_urgent(rule.urgency, *(o.urgency for o in fired)),
        category=category,
        missing_safety_inputs=tuple(f for f in SAFETY_INPUTS if features[f] is None),
    )
