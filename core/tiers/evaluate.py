"""Evaluation of the rule tables of :mod:`core.tiers.rules`: :func:`decide_tier`.

Small functions, one per part of the advice (overrides, analgesia, pain source,
radiotherapy, bone health, augmentation, systemic), each reading :class:`Findings` and
the tables; :func:`decide_tier` assembles them and picks the headline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from string import Formatter
from types import MappingProxyType

from core.context import CaseContext
from core.features import FeatureVector
from core.tiers.decision import Override, Recommendation, TierDecision
from core.tiers.findings import Findings, findings_of
from core.tiers.references import refs
from core.tiers.rules import (
    ADJUVANT_LEAD,
    ADJUVANT_TEXT,
    ANALGESIC_HEADLINE,
    ANALGESIC_TEXT,
    ANALGESIC_TEXT_NO_LESION,
    AUGMENTATION_BLOCKERS,
    AUGMENTATION_TEXT,
    BMA_TEXT,
    BREAKTHROUGH_TEXT,
    CODE_NAMES,
    CODES_BY_NAME,
    COMPLICATED_BILSKY_CODE,
    CONFIRM_SOURCE_TEXT,
    DEXAMETHASONE_LYMPHOMA,
    DEXAMETHASONE_TEXT,
    MSCC_TEXT,
    NO_LESION_HEADLINE,
    NOMS_ESCC,
    NOTES,
    OVERRIDE_RULES,
    RT_COMPLICATED_TEXT,
    RT_IF_MILD,
    RT_RADIOSENSITIVITY,
    RT_REIRRADIATION_TEXT,
    RT_SINGLE_TEXT,
    RT_SINGLE_UNCHECKED,
    STEP_DRUGS,
    STEP_NAMES,
    SURGICAL_TEXT,
    SYSTEMIC_TEXT,
    OverrideRule,
)
from core.vocab import CATEGORIES, DEFICIT_STATES, SINS_POINTS, URGENCY_ORDER, most_urgent

_SINS_PAIN_MAX = max(SINS_POINTS["sins_pain"])


def _rec(code: str, text: str, urgency: str | None = None, reference: str | None = None
         ) -> Recommendation:
    return Recommendation(code, text, reference or CODES_BY_NAME[code].reference, urgency)


# ------------------------------------------------------------------- value phrases


def _sins_phrase(f: Findings) -> str:
    if f.sins_total is not None:
        return f"SINS total = {f.sins_total}"
    return f"SINS at least {f.sins_low}, pain component not recorded"


#: The :class:`Findings` fields each placeholder of :func:`_values` reads (a batch words
#: an override's headline once per distinct value of the fields its placeholders read).
VALUE_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bilsky": ("bilsky_code",),
    "sins": ("sins_total", "sins_low"),
    "primary": ("primary_tumor",),
    "ecog": ("ecog",),
    "noms": ("radiosensitivity", "primary_tumor"),
})
#: The :class:`Findings` fields the headline reads when no override fired (the lesion
#: state, and for a measured lesion the pain phrase and the analgesic action).
MODEL_HEADLINE_FIELDS: tuple[str, ...] = (
    "lesion", "category", "recorded_vas", "pain_basis", "current_step")
#: What a decision's urgency reads besides the fired overrides (:class:`Findings` fields
#: and properties).
URGENCY_FIELDS: tuple[str, ...] = ("category", "recorded_category")


def headline_value_fields(rule: OverrideRule) -> tuple[str, ...]:
    """The :class:`Findings` fields ``rule``'s headline reads (through its placeholders)."""
    names = [name for _, name, _, _ in Formatter().parse(rule.headline) if name]
    return tuple(dict.fromkeys(f for name in names for f in VALUE_FIELDS[name]))


def _values(f: Findings) -> dict[str, object]:
    """Placeholders of the sentence templates, from recorded values only."""
    primary = f.primary_tumor or "not recorded"
    return {
        "bilsky": f"Bilsky grade {f.bilsky.label}" if f.bilsky else "Bilsky grade not recorded",
        "sins": _sins_phrase(f) if f.sins_low is not None else "SINS not recorded",
        "primary": primary,
        "ecog": f.ecog,
        "noms": NOMS_ESCC[f.radiosensitivity].format(primary=primary),
    }


# ------------------------------------------------------------------- overrides


#: The override rules most urgent first (table order within a level): the order
#: :func:`fired_rules` reports them in, the first fired one giving the headline.
RULES_BY_PRECEDENCE: tuple[OverrideRule, ...] = tuple(
    sorted(OVERRIDE_RULES, key=lambda r: -URGENCY_ORDER.index(r.urgency)))


def fired_rules(f: Findings) -> list[OverrideRule]:
    """The override rules whose conditions hold, most urgent first (table order within a
    level)."""
    return [r for r in RULES_BY_PRECEDENCE if all(c.matches(f) for c in r.when)]


def _override(rule: OverrideRule, f: Findings, present: Iterable[str]) -> Override:
    values = _values(f)
    action = rule.action.format(**values)
    if f.fracture and rule.blocks_augmentation:
        action += " " + rule.blocks_augmentation
    present = set(present)
    return Override(rule=rule.rule, reason=rule.reason.format(**values), urgency=rule.urgency,
                    headline=rule.headline.format(**values), action=action,
                    reference=rule.reference,
                    codes=tuple(c for c in rule.codes if c in present))


def _urgency_of(code: str, fired: list[OverrideRule]) -> str | None:
    levels = [r.urgency for r in fired if code in r.codes]
    return most_urgent(*levels) if levels else None


def _override_recommendations(f: Findings, fired: list[OverrideRule]) -> list[Recommendation]:
    """MSCC pathway, dexamethasone and the surgical review the fired overrides ask for."""
    out: list[Recommendation] = []
    rules = {r.rule for r in fired}
    if "mscc" in rules:
        out.append(_rec("mscc_pathway", MSCC_TEXT, "urgent"))
        lymphoma = f.primary_tumor is None or "lymphoma" in f.primary_tumor
        out.append(_rec("dexamethasone",
                        DEXAMETHASONE_TEXT + (DEXAMETHASONE_LYMPHOMA if lymphoma else ""),
                        "urgent"))
    surgical = [r for r in fired if "surgical_consultation" in r.codes]
    if surgical:
        values = _values(f)
        out.append(_rec("surgical_consultation",
                        " ".join(SURGICAL_TEXT[r.rule].format(**values) for r in surgical),
                        _urgency_of("surgical_consultation", fired),
                        refs(*(r.reference for r in surgical))))
    return out


# ------------------------------------------------------------------- analgesia


def analgesic_code(f: Findings) -> str:
    """The analgesic code: relative to today's step, never a step down; without a
    measured lesion, never an escalation on the model's say."""
    current, target = f.current_step, f.target_step
    if current is None:
        return "analgesic_record_regimen"
    if current > target:
        return "analgesic_review_no_deescalation"
    if current < target and f.lesion_measured:
        return "analgesic_escalate"
    return "analgesic_continue"


def _analgesia(f: Findings) -> list[Recommendation]:
    code = analgesic_code(f)
    target = f.target_step
    values = {"current": f.current_step, "target": target, "need": f.need_phrase(),
              "drugs": STEP_DRUGS[target], "target_name": STEP_NAMES[target],
              "current_name": STEP_NAMES.get(f.current_step, "")}  # type: ignore[arg-type]
    table = ANALGESIC_TEXT if f.lesion_measured else {**ANALGESIC_TEXT,
                                                      **ANALGESIC_TEXT_NO_LESION}
    key = "no_analgesic" if code == "analgesic_continue" and f.current_step == 0 else code
    text = table[key].format(**values)
    if code == "analgesic_escalate" and f.current_step == 0:
        text = text.replace("Escalate from WHO step 0 (no analgesic) to", "Start")
    out = [_rec(code, text)]
    if f.neuropathic_pain or (f.deficit == "stable" and f.neuropathic_pain is None):
        lead = ADJUVANT_LEAD["recorded" if f.neuropathic_pain else "stable_deficit"]
        out.append(_rec("adjuvant_neuropathic", ADJUVANT_TEXT.format(lead=lead)))
    if f.current_step == 3 or (f.pain_basis == "severe" and f.lesion_measured):
        out.append(_rec("breakthrough_plan", BREAKTHROUGH_TEXT))
    return out


# ------------------------------------------------------------------- metastasis-directed


def complicated_reasons(f: Findings) -> list[str]:
    """Why a spinal metastasis is complicated for radiotherapy (ASTRO 2024; NOMS)."""
    why = []
    if f.fracture:
        why.append("pathologic fracture")
    if f.bilsky_code is not None and f.bilsky_code >= COMPLICATED_BILSKY_CODE:
        why.append(f"Bilsky grade {f.bilsky.label}")  # type: ignore[union-attr]
    if f.sins_low is not None and f.sins_low >= 7:
        why.append(_sins_phrase(f))
    if f.deficit in ("stable", "new_or_progressive"):
        why.append("new or progressive neurologic deficit" if f.deficit == "new_or_progressive"
                   else "stable neurologic deficit")
    return why


def _unchecked(f: Findings) -> list[str]:
    names = (("pathologic fracture", f.fracture), ("Bilsky grade", f.bilsky),
             ("SINS", f.sins_low), ("neurologic deficit", f.deficit))
    return [name for name, value in names if value is None]


def _radiotherapy(f: Findings) -> list[Recommendation]:
    primary = {"primary": f.primary_tumor or "not recorded"}
    oncologic = RT_RADIOSENSITIVITY[f.radiosensitivity].format(**primary)
    why = complicated_reasons(f)
    prefix = RT_IF_MILD if f.pain_basis == "mild" and not why else ""
    out = []
    if why:
        out.append(_rec("radiotherapy_complicated",
                        RT_COMPLICATED_TEXT.format(why="; ".join(why)) + oncologic))
    if f.prior_radiotherapy:
        out.append(_rec("radiotherapy_reirradiation", prefix + RT_REIRRADIATION_TEXT))
    elif not why:
        text = prefix + RT_SINGLE_TEXT
        if f.radiosensitivity == "radioresistant":
            text += oncologic
        missing = _unchecked(f)
        if missing:
            text += RT_SINGLE_UNCHECKED.format(missing=", ".join(missing))
        out.append(_rec("radiotherapy_single_fraction", text))
    return out


def _bone_agent(f: Findings) -> Recommendation:
    key = {True: "continue", False: "start", None: "unknown"}[f.bone_modifying_agent]
    return _rec("bone_modifying_agent", BMA_TEXT[key])


def _metastasis_directed(f: Findings, fired: list[OverrideRule]) -> list[Recommendation]:
    """Radiotherapy, bone-modifying agent and vertebral augmentation: only when a lesion
    was measured."""
    if not f.lesion_measured:
        return []
    out = _radiotherapy(f)
    out.append(_bone_agent(f))
    if f.fracture and not AUGMENTATION_BLOCKERS & {r.rule for r in fired}:
        out.append(_rec("vertebral_augmentation", AUGMENTATION_TEXT))
    return out


# ------------------------------------------------------------------- notes, headline


def _missing_safety_inputs(f: Findings) -> tuple[str, ...]:
    missing = []
    if f.sins_low is None:
        missing.append("sins_total")
    elif f.sins_partial:
        missing.append("sins_pain")
    if f.bilsky is None:
        missing.append("bilsky_grade")
    if f.deficit is None:
        missing.append("neurologic_deficit")
    return tuple(missing)


def _notes(f: Findings, warnings: tuple[str, ...], fired: list[OverrideRule]
           ) -> tuple[str, ...]:
    notes = list(warnings)
    if f.recorded_category is not None and f.recorded_category != f.category:
        notes.append(NOTES["recorded_pain"].format(vas=f"{f.recorded_vas:g}",
                                                   recorded=f.recorded_category,
                                                   category=f.category))
    if f.deficit == "stable":
        notes.append(NOTES["stable_deficit"])
    if f.sins_low is None:
        notes.append(NOTES["missing_sins"])
    elif f.sins_partial:
        notes.append(NOTES["partial_sins"].format(low=f.sins_low,
                                                  high=f.sins_low + _SINS_PAIN_MAX))
    if f.bilsky is None:
        notes.append(NOTES["missing_bilsky"])
    if f.deficit is None:
        notes.append(NOTES["missing_deficit"])
    if f.lesion == "unknown":
        notes.append(NOTES["unknown_lesions"])
    if fired and not f.lesion_measured:
        notes.append(NOTES["no_lesion_override"])
    return tuple(notes)


def _headline(f: Findings, fired: list[OverrideRule], code: str) -> tuple[str, str]:
    if fired:
        return fired[0].headline.format(**_values(f)), "override"
    if not f.lesion_measured:
        return NO_LESION_HEADLINE[f.lesion], "no_lesion"
    action = ANALGESIC_HEADLINE[code].format(current=f.current_step, target=f.target_step)
    return f"{f.pain_phrase()}: {action}", "model"


def _ordered(recommendations: list[Recommendation], fired: list[OverrideRule]
             ) -> tuple[Recommendation, ...]:
    """One recommendation per code (the first given); the codes an override brought come
    first, with its urgency, then the rest, each group in :data:`CODES` order."""
    by_code: dict[str, Recommendation] = {}
    for rec in recommendations:
        by_code.setdefault(rec.code, rec)
    brought = {c for r in fired for c in r.codes}
    first = [c for c in CODE_NAMES if c in by_code and c in brought]
    rest = [c for c in CODE_NAMES if c in by_code and c not in brought]
    out = []
    for code in first + rest:
        rec = by_code[code]
        if code in brought and rec.urgency is None:
            rec = replace(rec, urgency=_urgency_of(code, fired))
        out.append(rec)
    return tuple(out)


def _check(category: object, features: object, context: object) -> None:
    if not isinstance(features, FeatureVector):
        raise TypeError("decide_tier takes a FeatureVector; parse the case with "
                        "core.context.parse_case first.")
    if not isinstance(context, CaseContext):
        raise TypeError("decide_tier takes a CaseContext; parse the case with "
                        "core.context.parse_case first.")
    if category not in CATEGORIES:
        raise ValueError(f"pain category {category!r} is not one of {', '.join(CATEGORIES)}.")
    code = features["neurologic_deficit"]
    state = None if code is None else DEFICIT_STATES[int(code)]
    if state != context.neurologic_deficit:
        raise ValueError("features and context disagree on the neurologic deficit; parse "
                         "both from one case with core.context.parse_case.")


def decide_tier(category: str, features: FeatureVector, context: CaseContext) -> TierDecision:
    """The advice for one case.

    Parameters
    ----------
    category : str
        Predicted pain category (``mild``, ``moderate``, ``severe``).
    features : FeatureVector
    context : CaseContext
        Both from :func:`core.context.parse_case` of the same case. Missing values never
        fire a rule; missing safety inputs are reported and noted.

    Returns
    -------
    TierDecision

    Raises
    ------
    TypeError
        When ``features`` or ``context`` is not of its type (parse raw cases first).
    ValueError
        For an unknown category, or features and context of different cases.
    """
    _check(category, features, context)
    return decide_findings(findings_of(category, features, context), context.warnings)


#: The :class:`TierDecision` fields :func:`summary_fields` gives (what a case list shows).
SUMMARY_FIELDS: tuple[str, ...] = ("tier", "urgency", "headline_source", "headline")


def summary_fields(f: Findings, fired: list[OverrideRule] | None = None) -> dict[str, str]:
    """The :data:`SUMMARY_FIELDS` of :func:`decide_findings` of ``f`` (the tier from the
    predicted category, the urgency, the headline and where it comes from), without the
    recommendations; ``fired`` is :func:`fired_rules` of ``f`` when already known."""
    fired = fired_rules(f) if fired is None else fired
    headline, source = _headline(f, fired, analgesic_code(f))
    base = "soon" if "severe" in (f.category, f.recorded_category) else "routine"
    return {"tier": str(CATEGORIES.index(f.category) + 1),
            "urgency": most_urgent(base, *(r.urgency for r in fired)),
            "headline_source": source, "headline": headline}


def decide_findings(f: Findings, warnings: tuple[str, ...] = ()) -> TierDecision:
    """The advice for one case's :class:`Findings` (what :func:`decide_tier` reads), with
    the case's context warnings as the first notes. Equal findings and warnings give an
    equal decision, so many cases can be advised once per distinct input
    (:func:`core.tiers.decide_tiers`)."""
    category = f.category
    fired = fired_rules(f)
    recommendations = [*_override_recommendations(f, fired), *_analgesia(f)]
    if not f.lesion_measured:
        recommendations.append(_rec("confirm_pain_source", CONFIRM_SOURCE_TEXT[f.lesion]))
    recommendations += _metastasis_directed(f, fired)
    if f.ecog is not None and f.ecog >= 3:
        recommendations.append(_rec("systemic_consideration",
                                    SYSTEMIC_TEXT.format(ecog=f.ecog)))
    ordered = _ordered(recommendations, fired)
    present = [r.code for r in ordered]
    summary = summary_fields(f, fired)
    return TierDecision(
        tier_label=f"Tier {summary['tier']} - {category} pain",
        recommendations=ordered,
        overrides=tuple(_override(r, f, present) for r in fired),
        category=category,
        missing_safety_inputs=_missing_safety_inputs(f),
        notes=_notes(f, warnings, fired),
        **summary,
    )
