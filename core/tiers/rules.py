"""The advice as data: recommendation codes, override rules and the sentences they use.

Nothing here decides; :mod:`core.tiers.evaluate` reads these tables. Every sentence
template names its placeholders in braces (filled from the case's recorded values).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from core.tiers.findings import Condition
from core.tiers.references import (
    ASCO_BMA_2017,
    ASTRO_2017,
    ASTRO_2024,
    BILSKY_2010,
    CAFE_2011,
    ESMO_2018,
    ESMO_BONE_2020,
    NICE_MSCC_2023,
    NOMS_2013,
    SCORAD_2019,
    SINS_2010,
    STOPECK_2010,
    WHO_2018,
    refs,
)
from core.vocab import BILSKY_GRADES, BILSKY_HIGH_GRADE_CODE, Urgency

# ------------------------------------------------------------------------- the codes


@dataclass(frozen=True)
class Code:
    """A stable recommendation code: what it means and what it cites."""

    code: str
    meaning: str
    reference: str


#: Every recommendation code, in the order recommendations are listed (codes an override
#: brings are moved to the front). Public contract of ``python -m core predict``.
CODES: tuple[Code, ...] = (
    Code("mscc_pathway", "Suspected MSCC: same-day spinal team / MSCC coordinator, "
         "whole-spine MRI within 24 h, spinal precautions.", refs(NICE_MSCC_2023, NOMS_2013)),
    Code("dexamethasone", "Dexamethasone 16 mg for suspected MSCC unless contraindicated.",
         NICE_MSCC_2023),
    Code("surgical_consultation", "Spine-surgery review (MSCC, high-grade ESCC, SINS 7-18).",
         refs(NOMS_2013, SINS_2010, BILSKY_2010)),
    Code("confirm_pain_source", "No lesion measured / no imaging: confirm the pain source "
         "before metastasis-directed treatment.", refs(ESMO_2018, ASTRO_2024)),
    Code("analgesic_escalate", "Escalate to the WHO step the pain needs.",
         refs(WHO_2018, ESMO_2018)),
    Code("analgesic_continue", "Continue the current WHO step; titrate to effect.",
         refs(WHO_2018, ESMO_2018)),
    Code("analgesic_review_no_deescalation", "Current regimen exceeds the predicted need: "
         "review; never de-escalate on the prediction.", refs(WHO_2018, ESMO_2018)),
    Code("analgesic_record_regimen", "Current regimen not recorded: record it; never "
         "reduce analgesia on the prediction.", refs(WHO_2018, ESMO_2018)),
    Code("adjuvant_neuropathic", "Neuropathic component: gabapentinoid, duloxetine or "
         "amitriptyline; corticosteroid for nerve-root compression.", ESMO_2018),
    Code("breakthrough_plan", "Immediate-release rescue dose about 1/6 of the 24-h dose.",
         refs(ESMO_2018, WHO_2018)),
    Code("radiotherapy_complicated", "Complicated metastasis: multi-fraction course or "
         "SBRT after spine review; surgery first when indicated.", refs(ASTRO_2024, NOMS_2013)),
    Code("radiotherapy_reirradiation", "Re-irradiation after a cumulative cord-dose check.",
         refs(ASTRO_2024, ASTRO_2017)),
    Code("radiotherapy_single_fraction", "Uncomplicated painful metastasis: 8 Gy single "
         "fraction; SBRT where eligible.", refs(ASTRO_2024, ASTRO_2017)),
    Code("bone_modifying_agent", "Denosumab or zoledronic acid with their precautions "
         "(or continue the current one).", refs(ESMO_BONE_2020, ASCO_BMA_2017, STOPECK_2010)),
    Code("vertebral_augmentation", "Painful pathologic fracture: kyphoplasty / vertebroplasty "
         "after spine review.", refs(CAFE_2011, ESMO_2018)),
    Code("systemic_consideration", "ECOG >= 3: short courses, best supportive care, goals "
         "of care.", refs(ASTRO_2024, SCORAD_2019, NOMS_2013)),
)
CODE_NAMES: tuple[str, ...] = tuple(c.code for c in CODES)
CODES_BY_NAME: MappingProxyType[str, Code] = MappingProxyType({c.code: c for c in CODES})

RADIOTHERAPY_CODES: tuple[str, ...] = ("radiotherapy_complicated", "radiotherapy_reirradiation",
                                       "radiotherapy_single_fraction")
ANALGESIC_CODES: tuple[str, ...] = ("analgesic_escalate", "analgesic_continue",
                                    "analgesic_review_no_deescalation", "analgesic_record_regimen")
#: Advice that treats a metastasis: never given when no lesion was measured.
METASTASIS_DIRECTED_CODES: tuple[str, ...] = (*RADIOTHERAPY_CODES, "bone_modifying_agent",
                                              "vertebral_augmentation")

# ------------------------------------------------------------------------- overrides


@dataclass(frozen=True)
class OverrideRule:
    """A safety override (NOMS: neurologic, mechanical). Fires when every condition in
    ``when`` holds on the recorded findings; ``blocks_augmentation`` says why vertebral
    augmentation is left out next to it (when a fracture is recorded)."""

    rule: str
    when: tuple[Condition, ...]
    urgency: Urgency
    reason: str
    headline: str
    action: str
    codes: tuple[str, ...]
    reference: str
    blocks_augmentation: str = ""


_ESCC_CODE = BILSKY_HIGH_GRADE_CODE
_DEFICIT_NEW = "new_or_progressive"

#: The overrides in table order (within one urgency the first listed comes first).
OVERRIDE_RULES: tuple[OverrideRule, ...] = (
    OverrideRule(
        "mscc", (Condition("deficit", "eq", _DEFICIT_NEW),), "urgent",
        "Neurologic deficit = new or progressive (suspected metastatic spinal cord "
        "compression)",
        "URGENT \u2014 suspected metastatic spinal cord compression: same-day spinal team / "
        "MSCC coordinator, dexamethasone 16 mg unless contraindicated, whole-spine MRI "
        "within 24 h",
        "Contact the spinal team / MSCC coordinator today; dexamethasone 16 mg unless "
        "contraindicated; whole-spine MRI within 24 h; flat bed rest with spinal precautions "
        "if there is mechanical pain or suspected instability; the spinal team decides "
        "surgery and/or radiotherapy.",
        ("mscc_pathway", "dexamethasone", "surgical_consultation", "radiotherapy_complicated"),
        refs(NICE_MSCC_2023, NOMS_2013),
        "Vertebral augmentation only after the MSCC pathway has excluded or treated "
        "compression.",
    ),
    OverrideRule(
        "high_grade_escc",
        (Condition("bilsky_code", "ge", _ESCC_CODE), Condition("deficit", "ne", _DEFICIT_NEW)),
        "urgent",
        "{bilsky} without a new or progressive neurologic deficit (high-grade epidural "
        "spinal cord compression)",
        "URGENT \u2014 high-grade epidural spinal cord compression ({bilsky}) without a new "
        "deficit: spine-surgery and radiation-oncology review within days; {noms}",
        "Spine-surgery and radiation-oncology review within days (not the same-day "
        "pathway); {noms}. Examine the patient now and at each visit: a new or progressive "
        "deficit needs the same-day MSCC pathway. No dexamethasone without a deficit.",
        ("surgical_consultation", "radiotherapy_complicated"),
        refs(BILSKY_2010, NOMS_2013, ASTRO_2024),
        "No vertebral augmentation before the epidural compression is treated.",
    ),
    OverrideRule(
        "sins_unstable", (Condition("sins_low", "ge", 13),), "urgent",
        "{sins} (SINS 13-18: unstable)",
        "URGENT \u2014 unstable spine ({sins}): spine-surgery review for stabilisation "
        "before radiotherapy; spinal precautions until reviewed",
        "Urgent spine-surgery review for stabilisation before radiotherapy; spinal "
        "precautions until reviewed; then a multi-fraction course or SBRT.",
        ("surgical_consultation", "radiotherapy_complicated"),
        refs(SINS_2010, NOMS_2013),
        "Vertebral augmentation alone does not treat an unstable spine: surgical review "
        "first.",
    ),
    OverrideRule(
        "sins_potentially_unstable", (Condition("sins_low", "range", (7, 13)),), "soon",
        "{sins} (SINS 7-12: potentially unstable)",
        "SOON \u2014 potentially unstable spine ({sins}): spine-surgery consultation before "
        "radiotherapy planning",
        "Spine-surgery consultation before radiotherapy planning (potentially unstable, "
        "SINS 7-12).",
        ("surgical_consultation",),
        SINS_2010,
    ),
)
OVERRIDES_BY_RULE: MappingProxyType[str, OverrideRule] = MappingProxyType(
    {r.rule: r for r in OVERRIDE_RULES})

#: Rules whose firing leaves vertebral augmentation out.
AUGMENTATION_BLOCKERS: frozenset[str] = frozenset(
    r.rule for r in OVERRIDE_RULES if r.blocks_augmentation)

#: The NOMS oncologic arm for high-grade ESCC, by radiosensitivity of the primary.
NOMS_ESCC: MappingProxyType[str, str] = MappingProxyType({
    "radiosensitive": "radiosensitive primary ({primary}): conventional external-beam "
                      "radiotherapy is an option when the spine is stable",
    "radioresistant": "radioresistant primary ({primary}): separation surgery then SBRT "
                      "if operable",
    "unknown": "record the primary tumour: a radiosensitive one is treated with "
               "conventional radiotherapy, a radioresistant one with separation surgery "
               "then SBRT (NOMS)",
})

#: The surgical review an override asks for (joined when several fire).
SURGICAL_TEXT: MappingProxyType[str, str] = MappingProxyType({
    "mscc": "Same-day spine-surgery opinion on decompression and stabilisation "
            "(NOMS neurologic, oncologic, mechanical and systemic assessment).",
    "high_grade_escc": "Spine-surgery and radiation-oncology review within days for "
                       "high-grade epidural compression ({bilsky}).",
    "sins_unstable": "Urgent spine-surgery review for stabilisation before radiotherapy "
                     "({sins}: unstable).",
    "sins_potentially_unstable": "Spine-surgery consultation before radiotherapy planning "
                                 "({sins}: potentially unstable).",
})

MSCC_TEXT = (
    "Suspected metastatic spinal cord compression: contact the spinal team / MSCC "
    "coordinator today; whole-spine MRI within 24 h (sooner if the deficit is progressing); "
    "flat bed rest with spinal precautions (log-roll) if there is mechanical pain or "
    "suspected instability until stability is assessed; definitive surgery and/or "
    "radiotherapy as the spinal team decides, before further deterioration."
)
DEXAMETHASONE_TEXT = (
    "Dexamethasone 16 mg (oral or i.v.) now unless contraindicated, with gastric protection "
    "and blood-glucose monitoring; reduce gradually after definitive treatment, stop if "
    "MSCC is excluded."
)
DEXAMETHASONE_LYMPHOMA = (
    " If lymphoma is possible and not yet confirmed, discuss with oncology before giving "
    "steroids (they can prevent the diagnosis on biopsy)."
)

# ------------------------------------------------------------------------- analgesia

#: What each WHO step means in drugs (WHO 2018; ESMO 2018).
STEP_DRUGS: MappingProxyType[int, str] = MappingProxyType({
    1: "a non-opioid (paracetamol, or an NSAID if not contraindicated), with or without an "
       "adjuvant",
    2: "a weak opioid (e.g. codeine, tramadol) with a non-opioid; a low-dose strong opioid "
       "(e.g. oral morphine <= 30 mg/day or oxycodone <= 20 mg/day) is an alternative to a "
       "weak opioid (ESMO 2018); prescribe a laxative",
    3: "a strong opioid (oral morphine first choice; oxycodone or hydromorphone as "
       "alternatives) titrated to effect, with a non-opioid as needed, a regular laxative "
       "and an anti-emetic as needed; review adverse effects (sedation, confusion, renal "
       "function)",
})
STEP_NAMES: MappingProxyType[int, str] = MappingProxyType({
    0: "no analgesic", 1: "non-opioid", 2: "weak opioid", 3: "strong opioid"})

ANALGESIC_TEXT: MappingProxyType[str, str] = MappingProxyType({
    "analgesic_escalate": "Escalate from WHO step {current} ({current_name}) to WHO step "
                          "{target} ({target_name}) for {need}: {drugs}. Reassess pain "
                          "within days.",
    "analgesic_continue": "Continue WHO step {current} ({current_name}); titrate the dose "
                          "to effect and reassess pain at each visit.",
    "analgesic_review_no_deescalation": "Current regimen (WHO step {current}, "
                                        "{current_name}) exceeds what {need} would need "
                                        "(WHO step {target}): review response and adverse "
                                        "effects; do not de-escalate on the basis of this "
                                        "prediction.",
    "analgesic_record_regimen": "Current analgesic regimen not recorded: record it; {need} "
                                "corresponds to WHO step {target} ({target_name}); do not "
                                "reduce existing analgesia on the basis of this prediction.",
})
#: Without a measured lesion the model's estimate is no basis for escalation.
ANALGESIC_TEXT_NO_LESION: MappingProxyType[str, str] = MappingProxyType({
    "analgesic_continue": "Continue the current regimen (WHO step {current}, "
                          "{current_name}) and manage pain as assessed clinically; no "
                          "lesion was measured, so this prediction is no basis for "
                          "escalation.",
    "analgesic_record_regimen": "Current analgesic regimen not recorded: record it and "
                                "manage pain as assessed clinically; do not reduce existing "
                                "analgesia on the basis of this prediction.",
    "no_analgesic": "No analgesic now: manage pain as assessed clinically; no lesion was "
                    "measured, so this prediction is no basis for starting one.",
})
#: The headline's action for each analgesic code.
ANALGESIC_HEADLINE: MappingProxyType[str, str] = MappingProxyType({
    "analgesic_escalate": "escalate to WHO step {target}",
    "analgesic_continue": "continue the current regimen (WHO step {current})",
    "analgesic_review_no_deescalation": "review the current regimen (WHO step {current}); "
                                        "do not de-escalate on this basis",
    "analgesic_record_regimen": "record the current analgesic regimen (need: WHO step "
                                "{target}); do not reduce existing analgesia",
})

ADJUVANT_TEXT = (
    "{lead} \u2014 a gabapentinoid (gabapentin or pregabalin), duloxetine or amitriptyline "
    "\u2014 titrated to effect; a corticosteroid (e.g. dexamethasone) can relieve nerve-root "
    "compression pain; review sedation and falls risk."
)
ADJUVANT_LEAD: MappingProxyType[str, str] = MappingProxyType({
    "recorded": "Neuropathic (radicular) pain component recorded: add an adjuvant",
    "stable_deficit": "Known neurologic deficit: if there is a radicular or neuropathic "
                      "pain component, add an adjuvant",
})
BREAKTHROUGH_TEXT = (
    "Breakthrough-pain plan: an immediate-release oral opioid rescue dose of about one "
    "sixth (10-20%) of the 24-h oral morphine-equivalent dose as needed; if more than 4 "
    "rescue doses a day are needed, review and raise the regular dose."
)

# ------------------------------------------------------------------------- the rest

CONFIRM_SOURCE_TEXT: MappingProxyType[str, str] = MappingProxyType({
    "absent": "No metastatic lesion measured on this study: confirm on the images that the "
              "pain comes from a spinal metastasis (lesion outside the field of view or "
              "below detection; degenerative disease; osteoporotic fracture; referred or "
              "visceral pain) before any bone-modifying agent, radiotherapy or opioid "
              "escalation for it.",
    "no_imaging": "No imaging measurements recorded for this case: measure the study or "
                  "review the MRI to confirm a spinal metastasis as the pain source before "
                  "any bone-modifying agent, radiotherapy or opioid escalation for it.",
})
NO_LESION_HEADLINE: MappingProxyType[str, str] = MappingProxyType({
    "absent": "No metastatic lesion measured on this study \u2014 confirm the pain source "
              "before any metastasis-directed treatment",
    "no_imaging": "No imaging measurements \u2014 confirm a spinal metastasis as the pain "
                  "source before any metastasis-directed treatment",
})

BMA_TEXT: MappingProxyType[str, str] = MappingProxyType({
    "start": "Bone metastases: start a bone-modifying agent to reduce skeletal-related "
             "events \u2014 denosumab 120 mg s.c. every 4 weeks (no renal dose adjustment; "
             "higher risk of hypocalcaemia: calcium and vitamin D supplements, check calcium "
             "before each dose) or zoledronic acid 4 mg i.v. every 3-4 weeks or every 12 "
             "weeks (dose by creatinine clearance; not if CrCl < 30 mL/min). Dental "
             "assessment before starting (osteonecrosis of the jaw); avoid invasive dental "
             "procedures during treatment.",
    "unknown": "Bone-modifying agent not recorded: if the patient is on one, continue it; "
               "if not, start denosumab 120 mg s.c. every 4 weeks (no renal dose adjustment; "
               "higher risk of hypocalcaemia: calcium and vitamin D supplements, check "
               "calcium) or zoledronic acid 4 mg i.v. every 3-4 weeks or every 12 weeks "
               "(dose by creatinine clearance; not if CrCl < 30 mL/min), after a dental "
               "assessment (osteonecrosis of the jaw).",
    "continue": "Already on a bone-modifying agent: continue; check calcium, renal function "
                "(before each zoledronic acid dose) and dental status (osteonecrosis of the "
                "jaw) regularly.",
})

RT_IF_MILD = "If pain persists or progresses: "
RT_SINGLE_TEXT = (
    "Refer to radiation oncology: 8 Gy in a single fraction relieves pain as well as "
    "multi-fraction courses for uncomplicated painful spinal metastases; SBRT where "
    "eligible (oligometastatic disease, good performance status, radioresistant primary)."
)
RT_SINGLE_UNCHECKED = (
    " Uncomplicated on the recorded findings only (not recorded: {missing}): confirm before "
    "choosing a single fraction."
)
RT_COMPLICATED_TEXT = (
    "Complicated spinal metastasis ({why}): radiation-oncology review for a multi-fraction "
    "course (e.g. 20 Gy in 5 or 30 Gy in 10 fractions) or SBRT after spine-surgery review, "
    "not the single 8 Gy fraction for uncomplicated pain; surgery first when the spine is "
    "unstable or with high-grade compression and a radioresistant primary."
)
RT_REIRRADIATION_TEXT = (
    "Prior radiotherapy to the spine: re-irradiation is feasible (e.g. 8 Gy single or 20 Gy "
    "in 5 fractions, or SBRT at experienced centres) after radiation oncology has checked "
    "the cumulative spinal-cord dose."
)
#: NOMS oncologic arm added to the radiotherapy advice, by radiosensitivity.
RT_RADIOSENSITIVITY: MappingProxyType[str, str] = MappingProxyType({
    "radiosensitive": " Radiosensitive primary ({primary}): conventional external-beam "
                      "radiotherapy is effective, even for high-grade compression when the "
                      "spine is stable and there is no new deficit.",
    "radioresistant": " Radioresistant primary ({primary}): prefer SBRT (or separation "
                      "surgery then SBRT for high-grade compression) over conventional "
                      "radiotherapy for durable local control.",
    "unknown": " Record the primary tumour: its radiosensitivity decides between "
               "conventional radiotherapy and SBRT (NOMS).",
})

AUGMENTATION_TEXT = (
    "Painful pathologic vertebral compression fracture: consider vertebral augmentation "
    "(kyphoplasty or vertebroplasty) after spine review of stability and epidural disease."
)
SYSTEMIC_TEXT = (
    "Poor performance status (ECOG {ecog}): favour a single 8 Gy fraction or a short course "
    "even for complicated disease, and best supportive care; weigh each intervention "
    "against prognosis and discuss goals of care."
)

# ------------------------------------------------------------------------- notes

NOTES: MappingProxyType[str, str] = MappingProxyType({
    "stable_deficit": "Known, unchanged neurologic deficit: no same-day pathway; re-examine "
                      "at each visit; any progression needs the MSCC pathway (NICE NG234).",
    "missing_sins": "SINS not recorded: spinal stability could not be checked; score SINS "
                    "(Fisher 2010) before radiotherapy or vertebral augmentation.",
    "partial_sins": "SINS pain component not recorded: SINS total lies between {low} and "
                    "{high}; the stability rules read the lower bound {low}. Record it.",
    "missing_bilsky": "Bilsky grade not recorded: epidural compression could not be "
                      "checked; grade it on MRI (Bilsky 2010).",
    "missing_deficit": "Neurologic deficit not recorded: examine power, sensation and "
                       "sphincter function; a new or progressive deficit needs the "
                       "same-day MSCC pathway.",
    "unknown_lesions": "Total lesion count not recorded: the advice assumes the recorded "
                       "imaging shows spinal metastases; confirm on the images.",
    "no_lesion_override": "No lesion was measured on this study: the radiotherapy decision "
                          "follows the spine review and MRI.",
    "recorded_pain": "The analgesic advice follows the recorded pain (VAS {vas}, "
                     "{recorded}), not the predicted {category} pain: the patient's report "
                     "is what counts.",
})

#: Safety inputs the overrides read, as reported in ``missing_safety_inputs``.
SAFETY_INPUTS: tuple[str, ...] = ("sins_total", "bilsky_grade", "neurologic_deficit")

#: Bilsky grades as a clinician writes them (for the complicated-metastasis reasons).
COMPLICATED_BILSKY_CODE = BILSKY_GRADES.index("1c")
