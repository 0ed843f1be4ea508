"""The advice engine: predicted pain + recorded findings + today's treatment -> advice.

``decide_tier(category, features, context)`` takes the predicted pain category, the
model's :class:`~core.features.FeatureVector` and the case's
:class:`~core.context.CaseContext` (both from :func:`core.context.parse_case`) and returns
a :class:`TierDecision`. Everything it uses is data (:mod:`core.tiers.rules`), each item
with its reference (:mod:`core.tiers.references`); small functions evaluate it
(:mod:`core.tiers.evaluate`).

Headline (what the clinician reads first)
-----------------------------------------
1. ``override``: any fired safety override; the most urgent one's sentence (e.g. "URGENT
   - suspected metastatic spinal cord compression: same-day spinal team / MSCC
   coordinator, dexamethasone 16 mg unless contraindicated, whole-spine MRI within 24 h").
2. ``no_lesion``: no lesion measured on the study (lesion count 0), or no imaging value
   recorded at all: "confirm the pain source before any metastasis-directed treatment".
3. ``model``: the predicted pain and the analgesic action relative to today's regimen
   ("Predicted moderate pain (VAS 4-6): escalate to WHO step 2").

Overrides (NOMS: neurologic, oncologic, mechanical, systemic; recorded values only)
----------------------------------------------------------------------------------
``mscc`` (urgent): a *new or progressive* neurologic deficit: same-day spinal team / MSCC
coordinator, dexamethasone 16 mg, whole-spine MRI within 24 h (NICE NG234 2023).
``high_grade_escc`` (urgent): Bilsky 2-3 without a new deficit: spine-surgery and
radiation-oncology review within days; conventional RT for a radiosensitive primary,
separation surgery + SBRT for a radioresistant one (NOMS, Laufer 2013).
``sins_unstable`` (urgent): SINS >= 13; ``sins_potentially_unstable`` (soon): SINS 7-12
(Fisher 2010). A stable (known, unchanged) deficit is not an override (a note). When the
SINS pain part is missing, the five other parts give a lower bound that the SINS rules read.

Analgesia relative to today's regimen (WHO 2018; ESMO 2018)
-----------------------------------------------------------
The pain the advice follows is the recorded VAS when one was recorded (the patient's
report is what counts), else the predicted category; its WHO step (mild 1, moderate 2,
severe 3) is compared with today's step: higher -> escalate, equal -> continue, lower ->
review and never de-escalate, unknown -> record the regimen. No escalation without a
measured lesion.

Recommendation codes (stable; the ``code`` of each recommendation)
-------------------------------------------------------------------
``mscc_pathway``, ``dexamethasone``, ``surgical_consultation``, ``confirm_pain_source``,
``analgesic_escalate``, ``analgesic_continue``, ``analgesic_review_no_deescalation``,
``analgesic_record_regimen``, ``adjuvant_neuropathic``, ``breakthrough_plan``,
``radiotherapy_complicated``, ``radiotherapy_reirradiation``,
``radiotherapy_single_fraction``, ``bone_modifying_agent``, ``vertebral_augmentation``,
``systemic_consideration`` (:data:`CODES` gives each one's meaning and references;
``docs/ADVICE.md`` the rules behind them).

Urgency: ``routine < soon < urgent``; soon for predicted or recorded severe pain and SINS
7-12, urgent for the urgent overrides; a decision's urgency is the most urgent of all.
"""

from core.tiers.batch import CONTEXT_RULE_COLUMNS, TierGroups, decide_tiers, tier_groups
from core.tiers.decision import (
    HEADLINE_SOURCES,
    HeadlineSource,
    Override,
    Recommendation,
    TierDecision,
)
from core.tiers.discordance import Discordance, discordance
from core.tiers.evaluate import (
    analgesic_code,
    complicated_reasons,
    decide_findings,
    decide_tier,
    fired_rules,
)
from core.tiers.findings import TARGET_STEP, Condition, Findings, findings_of
from core.tiers.references import (
    ASCO_BMA_2017,
    ASTRO_2017,
    ASTRO_2024,
    BILSKY_2010,
    CAFE_2011,
    ESMO_2018,
    ESMO_BONE_2020,
    KYPHOPLASTY_2011,
    NICE_MSCC_2023,
    NOMS_2013,
    REFERENCES,
    SCORAD_2019,
    SINS_2010,
    STOPECK_2010,
    WHO_2018,
    WHO_LADDER,
)
from core.tiers.rules import (
    ANALGESIC_CODES,
    CODE_NAMES,
    CODES,
    CODES_BY_NAME,
    METASTASIS_DIRECTED_CODES,
    OVERRIDE_RULES,
    OVERRIDES_BY_RULE,
    RADIOTHERAPY_CODES,
    SAFETY_INPUTS,
    Code,
    OverrideRule,
)
from core.vocab import URGENCY_ORDER, most_urgent

__all__ = [
    "ANALGESIC_CODES",
    "ASCO_BMA_2017",
    "ASTRO_2017",
    "ASTRO_2024",
    "BILSKY_2010",
    "CAFE_2011",
    "CODES",
    "CODES_BY_NAME",
    "CODE_NAMES",
    "CONTEXT_RULE_COLUMNS",
    "ESMO_2018",
    "ESMO_BONE_2020",
    "HEADLINE_SOURCES",
    "KYPHOPLASTY_2011",
    "METASTASIS_DIRECTED_CODES",
    "NICE_MSCC_2023",
    "NOMS_2013",
    "OVERRIDES_BY_RULE",
    "OVERRIDE_RULES",
    "RADIOTHERAPY_CODES",
    "REFERENCES",
    "SAFETY_INPUTS",
    "SCORAD_2019",
    "SINS_2010",
    "STOPECK_2010",
    "TARGET_STEP",
    "URGENCY_ORDER",
    "WHO_2018",
    "WHO_LADDER",
    "Code",
    "Condition",
    "Discordance",
    "Findings",
    "HeadlineSource",
    "Override",
    "OverrideRule",
    "Recommendation",
    "TierDecision",
    "TierGroups",
    "analgesic_code",
    "complicated_reasons",
    "decide_findings",
    "decide_tier",
    "decide_tiers",
    "discordance",
    "findings_of",
    "fired_rules",
    "most_urgent",
    "tier_groups",
]
