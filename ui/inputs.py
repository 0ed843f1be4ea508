"""The case's inputs as a clinician enters them: one table for the New case form and the
what-if page.

The inputs are the *clinical* fields of a case (:data:`core.clinical.CLINICAL_COLUMNS`,
the clinical table's schema) and its imaging values (:data:`core.clinical.IMAGING_COLUMNS`
without the total, which the regional counts give), never the model's features: those are
derived from the inputs by :func:`core.features.features_from_case`. Each input's widget
kind follows the schema's column groups (yes/no columns, the deficit column, SINS parts,
...) and its choices and labels come from :mod:`core.vocab` (SINS calculator labels, WHO
steps, ECOG grades, deficit states, Bilsky grades). A column added to the schema without a
kind here fails at import (and in ``tests/test_ui_units.py``), so the form never silently
misses a field.

``feeds`` names the model features an input changes (empty: the input shapes the advice
only, never the prediction); ``tests/test_ui_units.py`` checks it against
:func:`core.features.features_from_case`.

Bottom layer of ``ui``: no streamlit, no other ``ui`` module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from core.clinical import (
    BOOL_COLUMNS,
    CLINICAL_COLUMNS,
    DEFICIT_COLUMN,
    MAX_AGE,
)
from core.features import FEATURES_BY_NAME
from core.vocab import (
    ANALGESIC_STEPS,
    BILSKY_GRADES,
    BILSKY_MEANINGS,
    DEFICIT_LABELS,
    DEFICIT_STATES,
    ECOG_GRADES,
    NOT_RECORDED,
    REGIONS,
    SEXES,
    SINS_CHOICES,
    SINS_COMPONENTS,
    SINS_MAX,
    SINS_TITLES,
    bilsky_text,
    is_missing,
    number_text,
    region_count_column,
    vas_to_category,
    yes_no,
)

#: What an optional SINS input reads when it is not assessed (both input screens).
NOT_ASSESSED = "not assessed"

Kind = Literal["text", "date", "age", "sex", "tumor", "vas", "ordinal", "yes_no", "deficit",
               "sins_part", "sins_total", "bilsky", "count", "percent"]
Role = Literal["identity", "imaging", "finding", "context"]

#: How each role reads in tables ("Used for").
ROLE_USE: Mapping[str, str] = MappingProxyType({
    "imaging": "prediction and advice", "finding": "prediction and advice",
    "context": "advice only", "identity": "",
})

#: The non-pain SINS parts feed the model (``sins_without_pain``); the pain part does not.
_SINS_FEEDS = {c: (() if c == "sins_pain" else ("sins_without_pain",)) for c in SINS_COMPONENTS}


@dataclass(frozen=True)
class InputSpec:
    """One input of a case.

    Attributes
    ----------
    column : str
        Column of the clinical table / key of the raw case (``newcase_<column>`` and
        ``whatif_<column>`` are its widget or session-state keys).
    label : str
        What the clinician reads.
    kind : str
        Which widget edits it and how its value reads.
    role : str
        ``identity``, ``imaging``, ``finding`` (a recorded finding the model reads) or
        ``context`` (treatment and context: the advice only).
    choices : mapping
        Value -> label of a choice input (empty otherwise).
    help : str
    feeds : tuple of str
        Model features the input changes (empty: advice only).
    """

    column: str
    label: str
    kind: Kind
    role: Role
    choices: Mapping[Any, str] = field(default_factory=dict)
    help: str = ""
    feeds: tuple[str, ...] = ()

    def render(self, value: object) -> str:
        """The value as a clinician reads it (``"2 lytic"``, ``"1b"``, ``"12.5%"``)."""
        return display_input(self, value)


def _feature(name: str) -> tuple[str, str]:
    spec = FEATURES_BY_NAME[name]
    return spec.label, spec.description


def _imaging_inputs() -> tuple[InputSpec, ...]:
    nested = {"cervical": ("lesion_count",),
              "thoracic": ("lesion_count", "lesion_count_noncervical"),
              "lumbar": ("lesion_count", "lesion_count_noncervical", "lesion_count_lumbosacral"),
              "sacral": ("lesion_count", "lesion_count_noncervical", "lesion_count_lumbosacral")}
    counts = tuple(
        InputSpec(region_count_column(r), f"{r.capitalize()} lesions", "count", "imaging",
                  help=f"Metastatic lesions in the {r} spine (each lesion counts).",
                  feeds=nested[r]) for r in REGIONS)
    levels_label, levels_help = _feature("involved_levels")
    hi = tuple(InputSpec(name, f"{_feature(name)[0]} (%)", "percent", "imaging",
                         help=_feature(name)[1] + " In % of the vertebral volume.",
                         feeds=(name,))
               for name in ("high_intensity_ratio", "max_level_high_intensity_ratio"))
    return (*counts, InputSpec("involved_levels", levels_label, "count", "imaging",
                               help=levels_help, feeds=("involved_levels",)), *hi)


def _bilsky_choices() -> dict[str, str]:
    return {g: f"{g} · {BILSKY_MEANINGS[g]}" for g in BILSKY_GRADES}


def clinical_input(column: str) -> InputSpec:
    """The input of one clinical-table column, its kind from the schema's groups."""
    if column == DEFICIT_COLUMN:
        return InputSpec(column, "Neurologic deficit", "deficit", "finding",
                         {s: DEFICIT_LABELS[s] for s in DEFICIT_STATES},
                         "Only a new or progressive deficit takes the same-day MSCC pathway "
                         "(NICE NG234); a known, unchanged deficit does not.",
                         feeds=("neurologic_deficit",))
    if column in SINS_COMPONENTS:
        return InputSpec(column, SINS_TITLES[column], "sins_part",
                         "finding" if _SINS_FEEDS[column] else "context",
                         dict(SINS_CHOICES[column]),
                         "SINS calculator (Fisher 2010)."
                         + ("" if _SINS_FEEDS[column] else
                            " The pain part scores pain, so the model never reads it; the "
                            "stability overrides read the full SINS."),
                         feeds=_SINS_FEEDS[column])
    if column in BOOL_COLUMNS:
        return _YES_NO[column]
    try:
        return _OTHER[column]
    except KeyError:
        raise ValueError(f"clinical column {column!r} has no input kind in ui/inputs.py; "
                         "add one so the form shows it.") from None


_YES_NO: Mapping[str, InputSpec] = {
    "pathologic_fracture": InputSpec("pathologic_fracture", "Pathologic fracture", "yes_no",
                                     "finding", help="Pathologic vertebral fracture on imaging.",
                                     feeds=("pathologic_fracture",)),
    "prior_radiotherapy": InputSpec("prior_radiotherapy", "Prior spine radiotherapy", "yes_no",
                                    "context", help="Radiotherapy to the spine before this study "
                                                    "(re-irradiation wording)."),
    "bone_modifying_agent": InputSpec("bone_modifying_agent",
                                      "On a bone-modifying agent", "yes_no", "context",
                                      help="Denosumab or a bisphosphonate now."),
    "neuropathic_pain": InputSpec("neuropathic_pain", "Neuropathic (radicular) pain", "yes_no",
                                  "context", help="A neuropathic pain component (adjuvant "
                                                  "analgesic advice)."),
}

_OTHER: Mapping[str, InputSpec] = {
    "age": InputSpec("age", f"Age (years; {MAX_AGE} = {MAX_AGE} or older)", "age", "finding",
                     help=FEATURES_BY_NAME["age"].description, feeds=("age",)),
    "sex": InputSpec("sex", "Sex", "sex", "context", {s: s for s in SEXES}),
    "primary_tumor": InputSpec(
        "primary_tumor", "Primary tumour", "tumor", "context",
        help="Its radiosensitivity shapes the radiotherapy advice (NOMS): breast, prostate, "
             "lymphoma, myeloma radiosensitive; renal, melanoma, sarcoma, thyroid, GI, "
             "non-small-cell lung radioresistant."),
    "vas": InputSpec("vas", "Recorded pain VAS 0-10", "vas", "context",
                     help="Worst pain in the last 24 h. Never a model input: it is shown "
                          "beside the prediction and the advice follows it."),
    "ecog": InputSpec("ecog", "ECOG performance status", "ordinal", "finding",
                      dict(ECOG_GRADES), "ECOG (Oken 1982).", feeds=("ecog",)),
    "analgesic_step": InputSpec(
        "analgesic_step", "Current regimen (WHO analgesic step)", "ordinal", "context",
        dict(ANALGESIC_STEPS),
        "Today's analgesic step: the advice is relative to it (never a step down); it is not "
        "a model input (treatment follows pain)."),
    "sins_total": InputSpec("sins_total", "SINS total (only when the parts are not scored)",
                            "sins_total", "finding",
                            {i: str(i) for i in range(SINS_MAX + 1)},
                            f"0-{SINS_MAX}; computed from the six parts when all are scored.",
                            feeds=("sins_without_pain",)),
    "bilsky_grade": InputSpec("bilsky_grade", "Bilsky grade (epidural compression)", "bilsky",
                              "finding", _bilsky_choices(), "Bilsky 2010, graded on MRI.",
                              feeds=("bilsky_grade",)),
}

#: The clinical table's clinical columns as inputs, in schema order.
CLINICAL_INPUTS: tuple[InputSpec, ...] = tuple(clinical_input(c) for c in CLINICAL_COLUMNS)
#: The study's imaging inputs (the total is derived from the regional counts).
IMAGING_INPUTS: tuple[InputSpec, ...] = _imaging_inputs()
IDENTITY_INPUTS: tuple[InputSpec, ...] = (
    InputSpec("patient_id", "Pseudonymous patient ID", "text", "identity",
              help="Letters, digits, '.', '_' or '-'. Never a name, record number or birth "
                   "date. Needed only to save the case."),
    InputSpec("study_date", "Study date", "date", "identity"),
)
INPUTS: tuple[InputSpec, ...] = (*IDENTITY_INPUTS, *IMAGING_INPUTS, *CLINICAL_INPUTS)
INPUTS_BY_COLUMN: Mapping[str, InputSpec] = MappingProxyType({s.column: s for s in INPUTS})

#: The model features the inputs feed (every feature: checked by a test).
FED_FEATURES: frozenset[str] = frozenset(f for s in INPUTS for f in s.feeds)


# ------------------------------------------------------------------------ display


def display_input(spec: InputSpec, value: object) -> str:
    """An input value (clinical units: % for ratios, grade text, state names) as read."""
    if is_missing(value):
        return NOT_RECORDED
    if spec.kind in ("ordinal", "sins_part", "deficit") and value in spec.choices:
        return spec.choices[value]
    if spec.kind == "yes_no":
        return yes_no(value)
    if spec.kind == "bilsky":
        return bilsky_text(str(value))
    if spec.kind == "percent":
        return f"{float(value):.1f}%"  # type: ignore[arg-type]
    if spec.kind == "vas":
        return f"{number_text(value, 1)} ({vas_to_category(float(value))})"  # type: ignore[arg-type]
    if spec.kind in ("count", "age", "sins_total"):
        return number_text(value)
    return str(value)


def zero_weight_features(card: Mapping[str, Any]) -> frozenset[str]:
    """Features whose weight in the model card is exactly 0 (they change nothing)."""
    rows = card.get("model", {}).get("coefficients", []) if isinstance(card, Mapping) else []
    return frozenset(str(r["feature"]) for r in rows
                     if isinstance(r, Mapping) and r.get("weight_per_sd") is not None
                     and abs(float(r["weight_per_sd"])) < 1e-12)


def no_weight(spec: InputSpec, zero: frozenset[str]) -> bool:
    """The input feeds the model, but only features that carry no weight in it."""
    return bool(spec.feeds) and set(spec.feeds) <= zero


def values_summary(specs: Sequence[InputSpec], values: Mapping[str, Any]) -> str:
    """The recorded values of ``specs`` in one line as a clinician reads them, then how
    many are not (``"SINS location: junctional (3) · 6 not assessed"``; ``"All not
    recorded."`` when none is). ``values`` maps a column to its value; ``None``, ``""``
    and :data:`NOT_ASSESSED` are not recorded."""
    parts, missing = [], 0
    for spec in specs:
        value = values.get(spec.column)
        if value is None or value == "" or value == NOT_ASSESSED:
            missing += 1
        else:
            parts.append(f"{spec.label}: {spec.render(value)}")
    sins = any(spec.kind in ("sins_part", "sins_total") for spec in specs)
    absent = NOT_ASSESSED if sins else "not recorded"
    if not parts:
        return f"All {absent}."
    return " · ".join(parts + ([f"{missing} {absent}"] if missing else []))
