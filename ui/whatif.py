"""What-if: widgets edit a case's *inputs* (never the model's features), keyed
``whatif_<column>``, from :data:`ui.inputs.INPUTS`.

The inputs are the regional lesion counts, involved levels, both HI ratios in %, the SINS
parts with the calculator's labels (or a total), Bilsky grade, fracture, the neurologic
deficit state, age and ECOG (what the model reads, through
:func:`core.features.features_from_case`), and the treatment context (today's analgesic
step, prior radiotherapy, a bone-modifying agent, the primary tumour, neuropathic pain,
the recorded VAS), which changes the advice and never the prediction. Widget values are
clinical values (grade ``"1b"``, ``"yes"``/``"no"``, deficit states, % for ratios); they
go into a raw case that :func:`core.assess.assess` parses once.

On the page, counts, % and age are a slider with a number box beside it and the findings
(ECOG, fracture, deficit, Bilsky) a row of choices, each group drawn as one element
(:mod:`ui.input_group`, far cheaper for the browser than Streamlit's slider, number and
segmented widgets); their values are session-state keys ``whatif_<column>`` like the
other inputs'.
``involved_levels`` is kept between 1 and the number of lesions when
there are lesions (0 without), and the worst level's HI ratio never below the overall
ratio; the page says when it adjusts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from core.clinical import MAX_AGE
from core.context import context_from_case
from core.features import (
    FEATURES,
    INPUT_RANGES,
    FeatureVector,
    case_inputs,
    display_feature,
)
from core.model import TrainedModel
from core.store import CaseStore
from core.tiers import CODES_BY_NAME, TierDecision
from core.vocab import REGION_COUNT_COLUMNS, SINS_BANDS, SINS_COMPONENTS, SINS_MAX, yes_no
from ui.input_group import ChoiceInput, Input, PairedInput, input_group
from ui.inputs import (
    CLINICAL_INPUTS,
    IMAGING_INPUTS,
    NOT_ASSESSED,
    ROLE_USE,
    InputSpec,
    no_weight,
    values_summary,
    zero_weight_features,
)
from ui.session import KEEP

PREFIX = "whatif_"
#: Upper end of the count sliders (raised to a case's own value when it is higher; the
#: number input beside the slider takes any count up to the input's limit,
#: :data:`core.features.INPUT_RANGES`).
COUNT_SLIDER_MAX = 40
YES_NO = (yes_no(False), yes_no(True))

#: The what-if inputs: imaging, then the clinical columns (sex changes nothing).
WHATIF_INPUTS: tuple[InputSpec, ...] = (
    *IMAGING_INPUTS, *(s for s in CLINICAL_INPUTS if s.column != "sex"))
_BY_COLUMN = {s.column: s for s in WHATIF_INPUTS}

#: Page groups: title, note and the inputs they hold.
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Imaging (MRI)", "", tuple(s.column for s in IMAGING_INPUTS)),
    ("Findings", "A deselected choice means *not recorded*: the model imputes the training "
                 "median and the safety overrides cannot fire.",
     ("age", "ecog", "pathologic_fracture", "neurologic_deficit", "bilsky_grade")),
    ("Spinal stability: SINS (Fisher 2010)",
     "The model reads SINS without its pain part; the stability overrides read the full "
     "score. The total is used only when the six parts are not all scored.",
     (*SINS_COMPONENTS, "sins_total")),
    ("Treatment and context: advice only",
     "Treatment context changes the advice, never the prediction: the model does not read "
     "today's regimen, prior radiotherapy, a bone-modifying agent, the primary tumour, "
     "neuropathic pain or the recorded VAS.",
     ("analgesic_step", "prior_radiotherapy", "bone_modifying_agent", "neuropathic_pain",
      "primary_tumor", "vas")),
)


def key(column: str) -> str:
    """Widget key of an input."""
    return PREFIX + column


def widget_columns() -> tuple[str, ...]:
    """Columns of every what-if input."""
    return tuple(s.column for s in WHATIF_INPUTS)


def _median(model: TrainedModel, name: str) -> float:
    for row in model.card.get("model", {}).get("coefficients", []):
        if row.get("feature") == name and row.get("median_imputation_value") is not None:
            return float(row["median_imputation_value"])
    return 18.0


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def _yes_no(value: object) -> str | None:
    return None if value is None else yes_no(value)


def widget_values(case: Mapping[str, Any], model: TrainedModel) -> dict[str, Any]:
    """Session-state values of every what-if widget for a raw case (clinical units).

    Counts and ratios missing in the case start at 0; age at the training median; choices
    that were not recorded stay "not recorded"; the SINS total is shown only when the six
    parts are not all scored.

    Raises
    ------
    ValueError
        For an invalid case value (one sentence naming it).
    """
    inputs, context = case_inputs(case), context_from_case(case)
    values: dict[str, Any] = {key(c): int(inputs.counts[c.removeprefix("lesion_count_")] or 0)
                              for c in REGION_COUNT_COLUMNS}
    values[key("involved_levels")] = int(inputs.involved_levels or 0)
    for name in ("high_intensity_ratio", "max_level_high_intensity_ratio"):
        ratio = getattr(inputs, name)
        values[key(name)] = 0.0 if ratio is None else round(100.0 * ratio, 1)
    parts = {c: _whole(inputs.sins_parts[c]) for c in SINS_COMPONENTS}
    complete = all(p is not None for p in parts.values())
    values.update({
        key("age"): round(_median(model, "age") if inputs.age is None else inputs.age),
        key("ecog"): _whole(inputs.ecog),
        key("pathologic_fracture"): _yes_no(inputs.pathologic_fracture),
        key("neurologic_deficit"): inputs.deficit.state,
        key("bilsky_grade"): None if inputs.bilsky is None else inputs.bilsky.label,
        **{key(c): p for c, p in parts.items()},
        key("sins_total"): (NOT_ASSESSED if complete or inputs.sins_total is None
                            else round(inputs.sins_total)),
        key("analgesic_step"): context.current_analgesic_step,
        key("prior_radiotherapy"): _yes_no(context.prior_radiotherapy),
        key("bone_modifying_agent"): _yes_no(context.bone_modifying_agent),
        key("neuropathic_pain"): _yes_no(context.neuropathic_pain),
        key("primary_tumor"): context.primary_tumor or "",
        key("vas"): context.recorded_vas,
    })
    return values


def start_notes(case: Mapping[str, Any]) -> list[str]:
    """What the widgets could not take from the starting case (shown under them)."""
    inputs = case_inputs(case)
    notes = []
    if inputs.lesion_count and any(v is None for v in inputs.counts.values()):
        notes.append(f"The starting case records {inputs.lesion_count:g} lesion(s) without "
                     "every regional count; the what-if starts the missing regions at 0 and "
                     "derives the total from the regions: set them above.")
    if case and inputs.high_intensity_ratio is None:
        notes.append("The starting case has no HI ratio; the what-if starts it at 0%.")
    return notes


def load_into_state(case: Mapping[str, Any], model: TrainedModel) -> None:
    """Set every what-if widget to the values of a raw case."""
    for name, value in widget_values(case, model).items():
        st.session_state[name] = value


def _consistent(case: dict[str, Any]) -> list[str]:
    """Keep involved levels within the lesion count and the worst-level HI ratio at or
    above the overall one; the notes say what was adjusted."""
    notes: list[str] = []
    total = sum(case[c] or 0.0 for c in REGION_COUNT_COLUMNS)
    involved = case.get("involved_levels") or 0.0
    wanted = 0.0 if total == 0 else min(max(involved, 1.0), total)
    if wanted != involved:
        notes.append(f"Involved levels set to {wanted:g} to match {total:g} lesion(s).")
        case["involved_levels"] = wanted
    overall, worst = case["high_intensity_ratio"], case["max_level_high_intensity_ratio"]
    if worst < overall:
        notes.append(f"Worst-level HI ratio raised to the overall ratio ({100 * overall:.1f}%).")
        case["max_level_high_intensity_ratio"] = overall
    return notes


def _case_value(spec: InputSpec, value: Any) -> Any:
    """The raw-case value of one widget value (clinical values, never model codes)."""
    if value is None or value == NOT_ASSESSED or (spec.kind == "tumor" and not str(value)):
        return None
    if spec.kind == "percent":
        return float(value) / 100.0
    if spec.kind in ("count", "age", "ordinal", "sins_part", "sins_total", "vas"):
        return float(value)
    return str(value).strip()  # grade text, "yes"/"no", deficit state, tumour name


def case_from_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The raw case of the widget values, with the notes of any consistency adjustment.

    The SINS total is left out when the six parts are all scored (they give it).
    """
    case = {spec.column: _case_value(spec, values.get(key(spec.column)))
            for spec in WHATIF_INPUTS}
    if all(case[c] is not None for c in SINS_COMPONENTS):
        case["sins_total"] = None
    notes = _consistent(case)
    return case, notes


# ------------------------------------------------------------------------- widgets


#: Inputs drawn as a slider with a number box (:mod:`ui.input_group`).
PAIRED_KINDS = frozenset({"count", "percent", "age"})
#: Inputs picked from a few choices, none picked meaning not recorded: a row of choices
#: of :mod:`ui.input_group` on the page, a segmented control inside a popover.
CHOICE_KINDS = frozenset({"yes_no", "bilsky", "deficit", "ordinal"})


def paired_specs(columns: tuple[str, ...], zero: frozenset[str]) -> list[PairedInput]:
    """The group's counts, % and age as sliders with a number box, in order; ``zero``:
    the features that weigh 0 in the active model (their inputs carry
    :data:`NO_WEIGHT_NOTE`)."""
    return [_paired_spec(_BY_COLUMN[c], zero) for c in columns
            if _BY_COLUMN[c].kind in PAIRED_KINDS]


def choice_specs(columns: tuple[str, ...], zero: frozenset[str]) -> list[ChoiceInput]:
    """The group's choice inputs (:data:`CHOICE_KINDS`) as rows of choices, in order;
    ``zero`` as for :func:`paired_specs`."""
    return [_choice_spec(_BY_COLUMN[c], zero) for c in columns
            if _BY_COLUMN[c].kind in CHOICE_KINDS]


def _paired_spec(spec: InputSpec, zero: frozenset[str]) -> PairedInput:
    """A count, % or age input as a slider with its number box."""
    note = _no_weight_note(spec, zero)
    _, low, limit, _ = INPUT_RANGES[spec.column]
    if spec.kind == "age":
        return PairedInput(key(spec.column), "Age (years)", int(low), MAX_AGE, MAX_AGE, 1,
                           help=spec.help, note=note)
    if spec.kind == "percent":
        return PairedInput(key(spec.column), spec.label, 0.0, 100.0, 100.0, 0.1, unit="%",
                           help=spec.help, note=note)
    return PairedInput(key(spec.column), spec.label, 0, int(min(COUNT_SLIDER_MAX, limit)),
                       int(limit), 1, help=spec.help, note=note)


def _choice_spec(spec: InputSpec, zero: frozenset[str]) -> ChoiceInput:
    """A choice input as a row of choices, read as its segmented control reads."""
    options, label = _choices(spec)
    labels = tuple(str(label(v)) for v in options)
    meanings = tuple(str(spec.choices.get(v, "")) for v in options)  # "1b · <meaning>"
    return ChoiceInput(key(spec.column), spec.label, options, labels, help=spec.help,
                       note=_no_weight_note(spec, zero),
                       hints=meanings if meanings != labels and all(meanings) else ())


def _choices(spec: InputSpec) -> tuple[tuple[Any, ...], Any]:
    """The values of a choice input and how each reads (ECOG and Bilsky grades by
    grade alone: the help names the scale)."""
    if spec.kind == "yes_no":
        return YES_NO, str
    if spec.kind == "bilsky" or spec.column == "ecog":
        return tuple(spec.choices), str
    return tuple(spec.choices), spec.choices.get


def _widget(spec: InputSpec, slot: Any) -> Any:
    """Draw the widget of one (unpaired) input in ``slot``; returns its value."""
    common: dict[str, Any] = {"key": key(spec.column), "persist_state": KEEP}
    if spec.help:
        common["help"] = spec.help
    kind = spec.kind
    if kind == "sins_total":
        common["help"] = f"{spec.help} {sins_bands_text()}."
        return slot.select_slider(spec.label, options=[NOT_ASSESSED, *range(SINS_MAX + 1)],
                                  **common)
    if kind == "sins_part":
        return slot.selectbox(spec.label, tuple(spec.choices), format_func=spec.choices.get,
                              index=None, placeholder=NOT_ASSESSED, **common)
    if kind in CHOICE_KINDS:
        options, label = _choices(spec)
        return slot.segmented_control(spec.label, options, format_func=label, **common)
    if kind == "tumor":
        return slot.text_input(spec.label, placeholder="e.g. breast", **common)
    if kind == "vas":
        return slot.number_input(spec.label, 0.0, 10.0, step=0.5, **common)
    raise ValueError(f"input {spec.column} has kind {kind!r}, which the what-if page "
                     "cannot show.")


def sins_bands_text() -> str:
    """``0-6 stable, 7-12 potentially unstable, 13-18 unstable`` from :data:`SINS_BANDS`."""
    highs = [*(low - 1 for low, _ in SINS_BANDS[1:]), SINS_MAX]
    return ", ".join(f"{low}-{high} {name}"
                     for (low, name), high in zip(SINS_BANDS, highs, strict=True))


#: Choices per row on the page (:func:`ui.input_group.input_group`, whose sliders with a
#: box go two per row), and widgets per row below them.
ROW_SLOTS = 4


def _group(columns: tuple[str, ...], zero: frozenset[str], *, in_popover: bool = False
           ) -> dict[str, Any]:
    """Draw one group's inputs: its sliders with a box and (on the page) its choices as
    one element first, then the other widgets, :data:`ROW_SLOTS` per row
    (:data:`POPOVER_SLOTS` in a popover, which keeps Streamlit's widgets: it draws them
    only while open)."""
    values: dict[str, Any] = {}
    slots = POPOVER_SLOTS if in_popover else ROW_SLOTS
    native: list[Input] = [*paired_specs(columns, zero),
                           *(() if in_popover else choice_specs(columns, zero))]
    drawn = {s.name for s in native}
    single = [_BY_COLUMN[c] for c in columns if key(c) not in drawn]
    if native:
        values.update(input_group(native, key=f"{PREFIX}group_{columns[0]}",
                                  choice_columns=ROW_SLOTS))
    for row in widget_rows(single, slots, in_popover=in_popover):
        full = in_popover and row[0].column in FULL_ROW_INPUTS
        for spec, slot in zip(row, [st.container()] if full else st.columns(slots),
                              strict=False):
            values[key(spec.column)] = _widget(spec, slot)
            _weight_note(spec, zero, slot)
    return values


#: Inputs drawn on a row of their own in a popover: the WHO step's four choices are wider
#: than half the popover, where its last one (3, strong opioid) was cut off.
FULL_ROW_INPUTS: frozenset[str] = frozenset({"analgesic_step"})


def widget_rows(specs: list[InputSpec], slots: int, *, in_popover: bool
                ) -> list[list[InputSpec]]:
    """``specs`` in rows of ``slots``, in order; in a popover an input of
    :data:`FULL_ROW_INPUTS` takes a row of its own."""
    rows: list[list[InputSpec]] = []
    row: list[InputSpec] = []
    for spec in specs:
        if in_popover and spec.column in FULL_ROW_INPUTS:
            rows += [row, [spec]] if row else [[spec]]
            row = []
            continue
        row.append(spec)
        if len(row) == slots:
            rows.append(row)
            row = []
    return [*rows, row] if row else rows


#: Under an input whose features weigh 0 in the active model.
NO_WEIGHT_NOTE = ("Carries no weight in the active model (weight 0 on its model card): "
                  "changing it cannot change the prediction.")


def _no_weight_note(spec: InputSpec, zero: frozenset[str]) -> str:
    """:data:`NO_WEIGHT_NOTE` for an input whose features all weigh 0, else ``""``."""
    return NO_WEIGHT_NOTE if no_weight(spec, zero) else ""


def _weight_note(spec: InputSpec, zero: frozenset[str], slot: Any) -> None:
    if note := _no_weight_note(spec, zero):
        slot.caption(note)


#: Groups whose inputs open from a button (a popover whose widgets exist only while it
#: is open: opening it reruns the page, which then draws them; a faster page on every
#: other run), their values named beside it; the imaging burden and the findings stay on
#: the page.
POPOVER_GROUPS: frozenset[str] = frozenset({GROUPS[2][0], GROUPS[3][0]})
#: Widgets per row inside a popover (narrower than the page).
POPOVER_SLOTS = 2


def group_summary(columns: tuple[str, ...], values: Mapping[str, Any]) -> str:
    """The group's recorded values in one line (:func:`ui.inputs.values_summary`;
    ``values`` by widget key)."""
    return values_summary([_BY_COLUMN[c] for c in columns],
                          {c: values.get(key(c)) for c in columns})


def popover_key(columns: tuple[str, ...]) -> str:
    """State key of the popover of a group of :data:`POPOVER_GROUPS` (``True``: open)."""
    return f"{PREFIX}open_{columns[0]}"


def render_widgets(card: Mapping[str, Any]) -> dict[str, Any]:
    """Draw the widgets (state must be loaded first) and return their values; ``card``
    is the active model's card (inputs whose features weigh 0 in it say so). The
    groups of :data:`POPOVER_GROUPS` open from a button with their values beside it;
    their widgets are drawn only while it is open (the values persist in the session
    state, ``KEEP``, and are read from it otherwise)."""
    zero = zero_weight_features(card)
    values: dict[str, Any] = {}
    for title, note, columns in GROUPS:
        if title not in POPOVER_GROUPS:
            st.markdown(f"**{title}**")
            if note:
                st.caption(note)
            values.update(_group(columns, zero))
            continue
        button, line = st.columns([1, 1], vertical_alignment="center")
        with button.popover(title, icon=":material/edit:", width="stretch",
                            key=popover_key(columns), on_change="rerun") as popover:
            if popover.open:
                if note:
                    st.caption(note)
                values.update(_group(columns, zero, in_popover=True))
        if not popover.open:
            values.update({key(c): st.session_state.get(key(c)) for c in columns})
        line.caption(group_summary(columns, values))
    return values


# ----------------------------------------------------------------- change table

CHANGE_COLUMNS = ["Finding", "Starting case", "What-if", "Used for"]
_DERIVED = tuple(f for f in FEATURES if f.derived)


def changed_inputs(original: Mapping[str, Any], current: Mapping[str, Any],
                   original_features: FeatureVector | None = None,
                   current_features: FeatureVector | None = None) -> pd.DataFrame:
    """Table of the inputs that differ (clinical values), then the model features derived
    from them that differ (e.g. the metastatic sites of all levels)."""
    rows = [{"Finding": spec.label,
             "Starting case": spec.render(original.get(key(spec.column))),
             "What-if": spec.render(current.get(key(spec.column))),
             "Used for": ROLE_USE[spec.role]}
            for spec in WHATIF_INPUTS
            if _norm(original.get(key(spec.column))) != _norm(current.get(key(spec.column)))]
    if original_features is not None and current_features is not None:
        rows += [{"Finding": f.label,
                  "Starting case": display_feature(f.name, original_features[f.name]),
                  "What-if": display_feature(f.name, current_features[f.name]),
                  "Used for": "prediction (derived)"}
                 for f in _DERIVED if original_features[f.name] != current_features[f.name]]
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def _norm(value: Any) -> Any:
    return None if value in (None, "", NOT_ASSESSED) else value


# ------------------------------------------------------------------ page state

START_KEY = "whatif_start"
LOADED_KEY = "whatif_loaded"
BLANK = "blank"


def start_options(studies: Mapping[int, str]) -> dict[str, str]:
    """``{value: label}`` of the start select: the blank case, then the studies offered
    (``{study_id: label}``, e.g. :func:`ui.pickers.study_labels`)."""
    labels = {BLANK: "Blank case (no lesions, findings not recorded)"}
    labels.update({str(int(k)): v for k, v in studies.items()})
    return labels


def start_id() -> int | None:
    """The study chosen as the starting point, if any (not the blank case)."""
    start = st.session_state.get(START_KEY, BLANK)
    return None if start in (None, BLANK) else int(start)


def start_case(store: CaseStore) -> tuple[dict[str, Any], bool]:
    """The raw case of the chosen starting point and whether it is synthetic."""
    start = st.session_state.get(START_KEY, BLANK)
    if start == BLANK:
        return {}, False
    record = store.get_study(int(start))
    return record.case(), bool(record.synthetic)


def reset(store: CaseStore, model: TrainedModel) -> None:
    """Load the starting case into every widget (start change and the reset button)."""
    try:
        case, _ = start_case(store)
        load_into_state(case, model)
    except ValueError:
        load_into_state({}, model)
    st.session_state[LOADED_KEY] = st.session_state.get(START_KEY)


def ensure_loaded(store: CaseStore, model: TrainedModel) -> None:
    """Load the starting case when the widgets are new (first visit, page switch)."""
    ss = st.session_state
    if ss.get(LOADED_KEY) != ss.get(START_KEY) or any(key(c) not in ss
                                                       for c in widget_columns()):
        reset(store, model)


# --------------------------------------------------------------- advice changes


def advice_changes(before: TierDecision, after: TierDecision) -> list[str]:
    """Plain sentences: how the advice changed between two decisions (headline,
    recommendations added or removed, wording changed)."""
    lines: list[str] = []
    if before.headline != after.headline:
        lines.append(f"Headline: {before.headline} → **{after.headline}**")
    old, new = {r.code: r.text for r in before.recommendations}, {
        r.code: r.text for r in after.recommendations}
    lines += [f"Added: {CODES_BY_NAME[code].meaning}" for code in new if code not in old]
    lines += [f"No longer advised: {CODES_BY_NAME[code].meaning}" for code in old
              if code not in new]
    lines += [f"Reworded: {CODES_BY_NAME[code].meaning}" for code in new
              if code in old and old[code] != new[code]]
    return lines
