"""A group of inputs drawn as one element: sliders with a number box, and choices.

What-if's imaging inputs (seven regional counts, involved levels and two HI ratios in %)
each need a slider to drag and a box to type an exact value (issue 13); its findings
(ECOG, fracture, deficit, Bilsky) are a row of choices of which none may be picked (not
recorded). Drawn as Streamlit widgets they cost the browser on every page switch
(measured: ``st.slider`` + ``st.number_input`` about 26 ms a pair, 7 pairs +0.13 s in a
bare app; the four findings' ``st.segmented_control`` an upper bound of 0.08-0.10 s of
What-if's 0.5 s). Here they are native elements in one ``st.components.v2`` component
(no iframe; drawn in a shadow root with the app theme's colours and font): a
:class:`PairedInput` is an ``<input type="range">`` and an ``<input type="number">``, a
:class:`ChoiceInput` a group of toggle buttons (``aria-pressed``).

How state flows: the values live in ``st.session_state`` under each input's ``name`` (the
page's own keys), and reach the browser as the component's ``data``. Dragging a slider
moves its box and typing in a box moves its slider at once, in the browser; releasing the
slider (or a key press on it), or Enter or leaving the box, sends one ``edit`` event
(``{"name", "value", "seq"}``, ``seq`` counting the edits). A click on a choice picks it
(the event's value is its index) or, when it was picked, clears it (``null``): one event.
A run that started before the latest edit reached Python is not drawn (the data carries
the last ``seq`` applied), so a quick series of edits never jumps back.
Its callback (:func:`apply_edit`) checks the name and the value (:func:`clean_value`: a
finite number, rounded to the input's step and clamped to its range; :func:`clean_choice`:
the index of one of the choices, or none) and stores it, so the script run it starts
reads the new value. The browser is not trusted: anything else changes nothing. A value
set in Python (a reset, another starting case) is drawn on the next run.

Keyboard and screen readers get native controls: each row has a label (a ``<label>`` of
the slider; the group's name of the choices), the slider and the box have accessible
names (``"<label>"`` and ``"<label>, number"``), each choice is a button named by its
text that says whether it is pressed, and a help text is the tooltip of the row's ``?``
mark.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import streamlit as st

#: The component's event: one edited value.
EDIT_EVENT = "edit"

_CSS = """
:host { display: block; font-family: var(--st-font); color: var(--st-text-color);
        font-size: var(--st-base-font-size, 1rem); }
.grid { display: grid; grid-template-columns: repeat(var(--cols, 2), minmax(0, 1fr));
        gap: 0.75rem 2rem; }
.grid.choices { grid-template-columns: repeat(var(--choice-cols, 4), minmax(0, 1fr));
        gap: 0.75rem 1rem; }
.grid + .grid { margin-top: 1rem; }
.label { font-size: 0.875rem; margin-bottom: 0.25rem; display: flex; gap: 0.3rem; }
.help { cursor: help; opacity: 0.6; border: 1px solid currentColor; border-radius: 50%;
        width: 1rem; height: 1rem; font-size: 0.7rem; line-height: 1rem; text-align: center;
        flex: none; }
.row { display: flex; align-items: center; gap: 0.75rem; }
input[type=range] { flex: 3; min-width: 0; accent-color: var(--st-primary-color); margin: 0; }
input[type=number] { flex: 1; min-width: 4.5rem; max-width: 7rem; box-sizing: border-box;
        height: 2.5rem; padding: 0 0.5rem; font: inherit; color: inherit;
        background: var(--st-secondary-background-color);
        border: 1px solid var(--st-widget-border-color, transparent);
        border-radius: var(--st-base-radius, 0.5rem); }
input[type=number]:focus { outline: 2px solid var(--st-primary-color); outline-offset: -1px; }
.unit { min-width: 1rem; }
.seg { display: flex; flex-wrap: wrap; gap: 0.25rem; }
.seg button { font: inherit; font-size: 0.875rem; color: inherit; cursor: pointer;
        min-height: 2.25rem; padding: 0.2rem 0.65rem; background: transparent;
        border: 1px solid var(--st-border-color, rgba(49, 51, 63, 0.2));
        border-radius: var(--st-base-radius, 0.5rem); }
.seg button:hover { border-color: var(--st-primary-color); }
.seg button[aria-pressed=true] { color: var(--st-primary-color);
        border-color: var(--st-primary-color);
        background: color-mix(in srgb, var(--st-primary-color) 10%, transparent); }
.seg button:focus-visible { outline: 2px solid var(--st-primary-color); outline-offset: 1px; }
.note { font-size: 0.8rem; opacity: 0.7; margin-top: 0.2rem; }
"""

_JS = """
export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  let root = parentElement.querySelector(".inputs");
  const names = data.inputs.map((i) => i.name).join("|");
  if (!root || root.dataset.names !== names) {
    if (root) root.remove();
    root = document.createElement("div");
    root.className = "inputs";
    root.dataset.names = names;
    root.dataset.sent = String(data.seq);
    const send = (name, value) => {
      const seq = Number(root.dataset.sent) + 1;
      root.dataset.sent = String(seq);
      setTriggerValue("edit", { name, value, seq });
    };
    for (const kind of ["pair", "choice"]) {
      const specs = data.inputs.filter((i) => i.kind === kind);
      if (!specs.length) continue;
      const grid = document.createElement("div");
      grid.className = kind === "pair" ? "grid" : "grid choices";
      const row = kind === "pair" ? pairRow : choiceRow;
      for (const spec of specs) grid.appendChild(row(spec, send));
      root.appendChild(grid);
    }
    parentElement.appendChild(root);
  }
  root.style.setProperty("--cols", String(data.columns));
  root.style.setProperty("--choice-cols", String(data.choice_columns));
  // A run started before the latest edit reached Python draws older values: skip it.
  if (data.seq < Number(root.dataset.sent || 0)) return;
  for (const spec of data.inputs) {
    const div = root.querySelector(`[data-input="${spec.name}"]`);
    (spec.kind === "pair" ? updatePair : updateChoice)(div, spec);
    div.querySelector(".note").textContent = spec.note;
  }
}

function labelled(div, label, spec) {
  label.append(spec.label);
  if (spec.help) {
    const mark = document.createElement("span");
    mark.className = "help"; mark.textContent = "?"; mark.title = spec.help;
    label.append(mark);
  }
}

function pairRow(spec, send) {
  const div = document.createElement("div");
  div.dataset.input = spec.name;
  const id = `in-${spec.name}`;
  div.innerHTML = `<label class="label" for="${id}"></label><div class="row">
    <input type="range" id="${id}"><input type="number" inputmode="decimal">
    <span class="unit"></span></div><div class="note"></div>`;
  labelled(div, div.querySelector("label"), spec);
  const [range, box] = div.querySelectorAll("input");
  range.setAttribute("aria-label", spec.label);
  box.setAttribute("aria-label", `${spec.label}, number`);
  if (spec.help) { range.title = spec.help; box.title = spec.help; }
  div.querySelector(".unit").textContent = spec.unit;
  range.addEventListener("input", () => { box.value = range.value; });
  box.addEventListener("input", () => {
    const v = Number(box.value);
    if (box.value !== "" && Number.isFinite(v)) range.value = String(v);
  });
  const commit = (value) => {
    const v = Number(value);
    if (value === "" || !Number.isFinite(v)) { box.value = div.dataset.value; return; }
    send(spec.name, v);
  };
  range.addEventListener("change", () => commit(range.value));
  box.addEventListener("change", () => commit(box.value));
  return div;
}

function updatePair(div, spec) {
  const [range, box] = div.querySelectorAll("input");
  range.min = box.min = String(spec.min);
  range.step = box.step = String(spec.step);
  range.max = String(Math.max(spec.slider_max, spec.value));
  box.max = String(spec.max);
  div.dataset.value = String(spec.value);
  range.value = String(spec.value);
  if (div.getRootNode().activeElement !== box) box.value = String(spec.value);
}

function choiceRow(spec, send) {
  const div = document.createElement("div");
  div.dataset.input = spec.name;
  div.innerHTML = `<div class="label" id="lb-${spec.name}"></div>
    <div class="seg" role="group" aria-labelledby="lb-${spec.name}"></div><div class="note"></div>`;
  labelled(div, div.querySelector(".label"), spec);
  const seg = div.querySelector(".seg");
  spec.options.forEach((text, index) => {
    const button = document.createElement("button");
    button.type = "button"; button.textContent = text; button.dataset.index = String(index);
    const hint = spec.hints[index] || spec.help;
    if (hint) button.title = hint;
    button.addEventListener("click", () => {
      const value = button.getAttribute("aria-pressed") === "true" ? null : index;
      updateChoice(div, { value });
      send(spec.name, value);
    });
    seg.appendChild(button);
  });
  return div;
}

function updateChoice(div, spec) {
  for (const button of div.querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(Number(button.dataset.index) === spec.value));
  }
}
"""

_COMPONENT = st.components.v2.component("spinepain_input_group", css=_CSS, js=_JS)


@dataclass(frozen=True)
class PairedInput:
    """One slider-and-box input.

    ``name`` is its ``st.session_state`` key; values lie in ``[minimum, maximum]`` on a
    grid of ``step`` (a whole ``step`` keeps them integers); the slider ends at
    ``slider_max`` (or the current value, when that is higher) while the box takes
    anything up to ``maximum``. ``unit`` is shown after the box (``"%"``), ``note``
    under the row, ``help`` as the row's tooltip.
    """

    name: str
    label: str
    minimum: float
    slider_max: float
    maximum: float
    step: float
    unit: str = ""
    help: str = ""
    note: str = ""


@dataclass(frozen=True)
class ChoiceInput:
    """One input picked from a few choices, of which none may be picked (``None``).

    ``name`` is its ``st.session_state`` key; ``values`` are what it stores, ``labels``
    what the buttons read (one each, in the same order) and ``hints`` (optional, one
    each) their tooltips, e.g. what a grade means; ``note`` is shown under the row,
    ``help`` as its tooltip.
    """

    name: str
    label: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]
    help: str = ""
    note: str = ""
    hints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.values) != len(self.labels) or not self.values:
            raise ValueError(f"The choice input {self.name} needs one label per value.")
        if self.hints and len(self.hints) != len(self.values):
            raise ValueError(f"The choice input {self.name} needs one hint per value.")


Input = PairedInput | ChoiceInput
#: :func:`clean_choice`'s answer for an event that is not a choice.
REFUSED = object()


def clean_value(spec: PairedInput, value: Any) -> float | int | None:
    """``value`` as ``spec`` stores it: a finite number rounded to its step and clamped
    to its range (an int for a whole step), or None when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return None
    steps = round((float(value) - spec.minimum) / spec.step)
    clean = min(max(spec.minimum + steps * spec.step, spec.minimum), spec.maximum)
    if float(spec.step).is_integer() and float(spec.minimum).is_integer():
        return round(clean)
    decimals = max(0, -math.floor(math.log10(spec.step)))
    return round(clean, decimals)


def clean_choice(spec: ChoiceInput, index: Any) -> Any:
    """The value that choice ``index`` stands for; ``None`` (not picked) for ``None``;
    :data:`REFUSED` for anything that is not the index of one of ``spec``'s choices."""
    if index is None:
        return None
    if isinstance(index, bool) or not isinstance(index, int):
        return REFUSED
    return spec.values[index] if 0 <= index < len(spec.values) else REFUSED


def apply_edit(specs: Sequence[Input], edit: Any, state: MutableMapping[str, Any]) -> bool:
    """Store one ``edit`` event (``{"name", "value"}``) in ``state`` after
    :func:`clean_value` or :func:`clean_choice`; an unknown name or a value the input
    cannot take changes nothing. Returns whether a value was stored."""
    if not isinstance(edit, Mapping) or "value" not in edit:
        return False
    spec = next((s for s in specs if s.name == edit.get("name")), None)
    if isinstance(spec, ChoiceInput):
        value = clean_choice(spec, edit["value"])
        if value is REFUSED:
            return False
    else:
        value = None if spec is None else clean_value(spec, edit["value"])
        if value is None:
            return False
    state[spec.name] = value
    return True


def _seq_key(key: str) -> str:
    return f"{key}__edits"


def _on_edit(specs: tuple[Input, ...], key: str) -> None:
    edit = (st.session_state.get(key) or {}).get(EDIT_EVENT)
    apply_edit(specs, edit, st.session_state)
    seq = edit.get("seq") if isinstance(edit, Mapping) else None
    if isinstance(seq, int) and not isinstance(seq, bool):
        st.session_state[_seq_key(key)] = seq


def _pair_data(spec: PairedInput, value: Any) -> dict[str, Any]:
    return {"kind": "pair", "name": spec.name, "label": spec.label, "min": spec.minimum,
            "max": spec.maximum, "slider_max": spec.slider_max, "step": spec.step,
            "unit": spec.unit, "help": spec.help, "note": spec.note, "value": value}


def _choice_data(spec: ChoiceInput, value: Any) -> dict[str, Any]:
    return {"kind": "choice", "name": spec.name, "label": spec.label,
            "options": list(spec.labels), "hints": list(spec.hints), "help": spec.help,
            "note": spec.note,
            "value": _index(spec, value)}


def _index(spec: ChoiceInput, value: Any) -> int | None:
    """Which of ``spec``'s choices ``value`` is (``None``: none of them)."""
    try:
        return spec.values.index(value)
    except (ValueError, TypeError):  # not among them; pd.NA cannot be compared
        return None


def _current(spec: Input, state: MutableMapping[str, Any]) -> Any:
    """The stored value of ``spec`` (its minimum or no choice when unset); a stored value
    that is not one of a choice input's values is cleared (it would read as picked)."""
    if isinstance(spec, PairedInput):
        return state.get(spec.name, spec.minimum)
    value = state.get(spec.name)
    if value is not None and _index(spec, value) is None:
        state[spec.name] = value = None
    return value


def input_group(specs: Sequence[Input], *, key: str, columns: int = 2,
                choice_columns: int = 4) -> dict[str, Any]:
    """Draw ``specs`` as one element: the slider-and-box rows ``columns`` per line, then
    the choices ``choice_columns`` per line; return their values by name (from
    ``st.session_state``)."""
    specs = tuple(specs)
    ss = st.session_state
    values = {s.name: _current(s, ss) for s in specs}
    data = {"columns": columns, "choice_columns": choice_columns,
            "seq": ss.get(_seq_key(key), 0),
            "inputs": [_pair_data(s, values[s.name]) if isinstance(s, PairedInput)
                       else _choice_data(s, values[s.name]) for s in specs]}
    _COMPONENT(key=key, data=data, on_edit_change=partial(_on_edit, specs, key))
    return values
