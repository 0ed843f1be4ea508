"""Several number inputs, each a slider with a number box beside it, drawn as one element.

What-if's imaging inputs (seven regional counts, involved levels and two HI ratios in %)
each need a slider to drag and a box to type an exact value (issue 13). Drawn as Streamlit
widgets (``st.slider`` + ``st.number_input``) they cost the browser about 26 ms a pair on
every page switch (measured: 7 pairs +0.13 s in a bare app; the whole imaging group 0.23 s
of What-if's 0.6 s switch). Here the pairs are native ``<input type="range">`` and
``<input type="number">`` elements in one ``st.components.v2`` component (no iframe; the
component is drawn in a shadow root with the app theme's colours and font): the same 7
pairs cost nothing measurable over the page without them.

How state flows: the values live in ``st.session_state`` under each input's ``name`` (the
page's own keys), and reach the browser as the component's ``data``. Dragging a slider
moves its box and typing in a box moves its slider at once, in the browser; releasing the
slider (or a key press on it), or Enter or leaving the box, sends one ``edit`` event
(``{"name", "value", "seq"}``, ``seq`` counting the edits). A run that started before the
latest edit reached Python is not drawn (the data carries the last ``seq`` applied), so a
quick series of key presses never jumps back.
Its callback (:func:`apply_edit`) checks the name, takes a finite number, rounds it to
the input's step and clamps it to the input's range, and stores it, so the script run it
starts reads the new value. A value set in Python (a reset, another starting case) is
drawn on the next run.

Keyboard and screen readers get native controls: each row has a ``<label>``, the slider
and the box have accessible names (``"<label>"`` and ``"<label>, number"``), a help text
is the row's description and the tooltip of its ``?`` mark.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass
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
.label { font-size: 0.875rem; margin-bottom: 0.25rem; display: flex; gap: 0.3rem; }
.help { cursor: help; opacity: 0.6; border: 1px solid currentColor; border-radius: 50%;
        width: 1rem; height: 1rem; font-size: 0.7rem; line-height: 1rem; text-align: center; }
.row { display: flex; align-items: center; gap: 0.75rem; }
input[type=range] { flex: 3; min-width: 0; accent-color: var(--st-primary-color); margin: 0; }
input[type=number] { flex: 1; min-width: 4.5rem; max-width: 7rem; box-sizing: border-box;
        height: 2.5rem; padding: 0 0.5rem; font: inherit; color: inherit;
        background: var(--st-secondary-background-color);
        border: 1px solid var(--st-widget-border-color, transparent);
        border-radius: var(--st-base-radius, 0.5rem); }
input[type=number]:focus { outline: 2px solid var(--st-primary-color); outline-offset: -1px; }
.unit { min-width: 1rem; }
.note { font-size: 0.8rem; opacity: 0.7; margin-top: 0.2rem; }
"""

_JS = """
export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  let grid = parentElement.querySelector(".grid");
  const names = data.inputs.map((i) => i.name).join("|");
  if (!grid || grid.dataset.names !== names) {
    if (grid) grid.remove();
    grid = document.createElement("div");
    grid.className = "grid";
    grid.dataset.names = names;
    grid.dataset.sent = String(data.seq);
    const send = (name, value) => {
      const seq = Number(grid.dataset.sent) + 1;
      grid.dataset.sent = String(seq);
      setTriggerValue("edit", { name, value, seq });
    };
    for (const spec of data.inputs) grid.appendChild(row(spec, send));
    parentElement.appendChild(grid);
  }
  grid.style.setProperty("--cols", String(data.columns));
  // A run started before the latest edit reached Python draws older values: skip it.
  if (data.seq < Number(grid.dataset.sent || 0)) return;
  for (const spec of data.inputs) update(grid.querySelector(`[data-input="${spec.name}"]`), spec);
}

function row(spec, send) {
  const div = document.createElement("div");
  div.dataset.input = spec.name;
  const id = `in-${spec.name}`;
  div.innerHTML = `<label class="label" for="${id}"></label><div class="row">
    <input type="range" id="${id}"><input type="number" inputmode="decimal">
    <span class="unit"></span></div><div class="note"></div>`;
  const label = div.querySelector("label");
  label.append(spec.label);
  if (spec.help) {
    const mark = document.createElement("span");
    mark.className = "help"; mark.textContent = "?"; mark.title = spec.help;
    label.append(mark);
  }
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

function update(div, spec) {
  const [range, box] = div.querySelectorAll("input");
  range.min = box.min = String(spec.min);
  range.step = box.step = String(spec.step);
  range.max = String(Math.max(spec.slider_max, spec.value));
  box.max = String(spec.max);
  div.dataset.value = String(spec.value);
  range.value = String(spec.value);
  if (div.getRootNode().activeElement !== box) box.value = String(spec.value);
  div.querySelector(".note").textContent = spec.note;
}
"""

_COMPONENT = st.components.v2.component("spinepain_paired_inputs", css=_CSS, js=_JS)


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


def apply_edit(specs: Sequence[PairedInput], edit: Any,
               state: MutableMapping[str, Any]) -> bool:
    """Store one ``edit`` event (``{"name", "value"}``) in ``state`` after
    :func:`clean_value`; an unknown name or a non-number changes nothing. Returns whether
    a value was stored."""
    if not isinstance(edit, Mapping):
        return False
    spec = next((s for s in specs if s.name == edit.get("name")), None)
    value = None if spec is None else clean_value(spec, edit.get("value"))
    if spec is None or value is None:
        return False
    state[spec.name] = value
    return True


def _seq_key(key: str) -> str:
    return f"{key}__edits"


def _on_edit(specs: tuple[PairedInput, ...], key: str) -> None:
    edit = (st.session_state.get(key) or {}).get(EDIT_EVENT)
    apply_edit(specs, edit, st.session_state)
    seq = edit.get("seq") if isinstance(edit, Mapping) else None
    if isinstance(seq, int) and not isinstance(seq, bool):
        st.session_state[_seq_key(key)] = seq


def paired_inputs(specs: Sequence[PairedInput], *, key: str, columns: int = 2
                  ) -> dict[str, Any]:
    """Draw ``specs`` as slider-and-box rows, ``columns`` per line, and return their
    values by name (from ``st.session_state``; ``minimum`` when unset)."""
    specs = tuple(specs)
    ss = st.session_state
    values = {s.name: ss.get(s.name, s.minimum) for s in specs}
    data = {"columns": columns, "seq": ss.get(_seq_key(key), 0),
            "inputs": [{**asdict(s), "min": s.minimum, "max": s.maximum,
                        "value": values[s.name]} for s in specs]}
    _COMPONENT(key=key, data=data, on_edit_change=partial(_on_edit, specs, key))
    return values
