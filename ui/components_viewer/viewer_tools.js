// Tool bar of the slice viewer (ui/viewer.py), an st.components.v2 component: plain
// JavaScript served from the package, nothing loaded from elsewhere.
//
// It works on the viewer's image, the <img> inside the container whose class is
// data.stage (Streamlit's "st-key-<prefix>_stage"): the mouse wheel and the arrow /
// Page / Home / End keys scroll slices, Ctrl+wheel and + / - zoom at the cursor, 0
// resets, a drag pans (Pan tool, P) or measures (Ruler tool, M). Each gesture becomes
// one event, sent to Python as the trigger value "event"; Python applies it
// (core.view_geometry.apply_view_event) and renders the slice again. Slice moves are
// sent as the absolute target slice, so an event lost to an interrupted rerun is made
// good by the next one.

const STATES = (globalThis.__spinepainViewerTools ??= new Map());
const SETTLE_MS = 140;   // wheel notches and key repeats within this time form one event
const ZOOM_STEP = 1.25;
const KEY_STEPS = { ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1,
                    PageUp: -10, PageDown: 10 };

function stageOf(state) {
  const stage = state.data.stage
    ? document.querySelector("." + CSS.escape(state.data.stage)) : null;
  if (stage && !stage.classList.contains("spv-stage")) {
    stage.tabIndex = 0;            // focusable: the keys act while the image has focus
    stage.classList.add("spv-stage");
    stage.setAttribute("aria-label", "Slice image: wheel or arrow keys change the slice");
  }
  if (stage) stage.dataset.tool = state.tool;
  return stage;
}

function imageOf(state) {
  const stage = stageOf(state);
  return stage ? stage.querySelector("img") : null;
}

function fractionsOf(img, event) {
  const box = img.getBoundingClientRect();
  return [(event.clientY - box.top) / box.height, (event.clientX - box.left) / box.width];
}

function within(state, target) {
  const stage = stageOf(state);
  return Boolean(stage && target && stage.contains(target));
}

function send(state, event) {
  state.seq += 1;
  state.setTriggerValue("event", { ...event, seq: state.seq });
}

function currentIndex(state) {
  const settled = Date.now() - state.lastInput > 1500;
  if (state.target === null || settled) state.target = Number(state.data.index ?? 0);
  return state.target;
}

function moveSlice(state, steps) {
  const count = Number(state.data.count ?? 1);
  const next = Math.min(Math.max(currentIndex(state) + steps, 0), Math.max(count - 1, 0));
  state.target = next;
  state.lastInput = Date.now();
  state.pending.slice = next;
  schedule(state);
  readout(state);
}

function zoomBy(state, factor, point) {
  state.lastInput = Date.now();
  state.pending.zoom = (state.pending.zoom ?? 1) * factor;
  state.pending.point = point ?? null;
  schedule(state);
}

function schedule(state) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => flush(state), SETTLE_MS);
}

function flush(state) {
  const pending = state.pending;
  if (pending.slice !== undefined) {
    delete pending.slice;
    send(state, { type: "slice", index: state.target });
    if (pending.zoom !== undefined) schedule(state);  // one event per rerun
    return;
  }
  if (pending.zoom !== undefined) {
    const event = { type: "zoom", factor: pending.zoom };
    if (pending.point) event.point = pending.point;
    state.pending = {};
    send(state, event);
  }
}

function readout(state) {
  const bar = state.parent.querySelector(".spv-readout");
  if (!bar) return;
  const d = state.data;
  if (d.count === undefined) { bar.textContent = ""; return; }
  const plane = String(d.plane ?? "");
  const index = state.target !== null && Date.now() - state.lastInput < 1500
    ? state.target : Number(d.index ?? 0);
  const zoom = Array.isArray(d.view) ? Number(d.view[0]) : 1;
  bar.textContent = `${plane.charAt(0).toUpperCase()}${plane.slice(1)} slice ${index + 1}/${d.count}`
    + ` · zoom ${zoom.toFixed(2)}×` + (d.ruler === null || d.ruler === undefined
      ? "" : ` · ruler ${Number(d.ruler).toFixed(1)} mm`);
}

function setTool(state, tool) {
  state.tool = tool;
  for (const b of state.parent.querySelectorAll("[data-tool]")) {
    b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
  }
  const stage = stageOf(state);
  if (stage) stage.dataset.tool = tool;
}

export function rulerMm(p0, p1, mm) {
  // Length in mm of a segment given in fractions of an image mm[0] x mm[1] mm large
  // (its pixels are square, so one scale per axis is exact).
  return Math.hypot((p1[0] - p0[0]) * mm[0], (p1[1] - p0[1]) * mm[1]);
}

function overlay(state) {
  if (!state.svg) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spv-overlay");
    svg.setAttribute("data-testid", "viewer-ruler-live");
    Object.assign(svg.style, { position: "fixed", left: "0", top: "0", width: "100vw",
      height: "100vh", pointerEvents: "none", zIndex: "1000" });
    svg.innerHTML = '<line stroke="#00e5ff" stroke-width="2"></line>'
      + '<text fill="#00e5ff" stroke="#000" stroke-width="0.6" font-size="15" '
      + 'font-weight="700"></text>';
    document.body.appendChild(svg);
    state.svg = svg;
  }
  return state.svg;
}

function clearOverlay(state) {
  if (state.svg) { state.svg.remove(); state.svg = null; }
}

function onPointerDown(state, event) {
  const img = imageOf(state);
  if (!img || event.button !== 0 || !img.contains(event.target)) return;
  event.preventDefault();
  stageOf(state)?.focus({ preventScroll: true });
  state.drag = { x: event.clientX, y: event.clientY, start: fractionsOf(img, event) };
}

function onPointerMove(state, event) {
  const drag = state.drag;
  const img = imageOf(state);
  if (!drag || !img) return;
  const dx = event.clientX - drag.x;
  const dy = event.clientY - drag.y;
  if (state.tool === "pan") {
    img.style.transform = `translate(${dx}px, ${dy}px)`;
    return;
  }
  const svg = overlay(state);
  const line = svg.querySelector("line");
  const label = svg.querySelector("text");
  line.setAttribute("x1", drag.x); line.setAttribute("y1", drag.y);
  line.setAttribute("x2", event.clientX); line.setAttribute("y2", event.clientY);
  const mm = rulerMm(drag.start, fractionsOf(img, event), state.data.mm ?? [0, 0]);
  label.setAttribute("x", event.clientX + 8); label.setAttribute("y", event.clientY - 8);
  label.textContent = `${mm.toFixed(1)} mm`;
}

function onPointerUp(state, event) {
  const drag = state.drag;
  const img = imageOf(state);
  state.drag = null;
  if (!drag || !img) return;
  const box = img.getBoundingClientRect();
  const dx = event.clientX - drag.x;
  const dy = event.clientY - drag.y;
  if (Math.hypot(dx, dy) < 3) { img.style.transform = ""; clearOverlay(state); return; }
  if (state.tool === "pan") {
    send(state, { type: "pan", delta: [dy / box.height, dx / box.width] });
  } else {
    send(state, { type: "ruler", p0: drag.start, p1: fractionsOf(img, event) });
  }
}

function onWheel(state, event) {
  if (!within(state, event.target) || !imageOf(state)?.contains(event.target)) return;
  event.preventDefault();
  if (event.ctrlKey || event.metaKey) {
    zoomBy(state, event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP,
           fractionsOf(imageOf(state), event));
  } else if (event.deltaY !== 0) {
    moveSlice(state, Math.sign(event.deltaY));
  }
}

function onKey(state, event) {
  if (!within(state, document.activeElement) && !within(state, event.target)) return;
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const count = Number(state.data.count ?? 1);
  let handled = true;
  if (event.key in KEY_STEPS) moveSlice(state, KEY_STEPS[event.key]);
  else if (event.key === "Home") moveSlice(state, -count);
  else if (event.key === "End") moveSlice(state, count);
  else if (event.key === "+" || event.key === "=") zoomBy(state, ZOOM_STEP);
  else if (event.key === "-") zoomBy(state, 1 / ZOOM_STEP);
  else if (event.key === "0") send(state, { type: "reset" });
  else if (event.key === "m" || event.key === "M") setTool(state, "ruler");
  else if (event.key === "p" || event.key === "P" || event.key === "Escape") setTool(state, "pan");
  else handled = false;
  if (handled) { event.preventDefault(); event.stopPropagation(); }
}

function onBarClick(state, event) {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.tool) setTool(state, button.dataset.tool);
  else if (button.dataset.act === "zoom-in") zoomBy(state, ZOOM_STEP);
  else if (button.dataset.act === "zoom-out") zoomBy(state, 1 / ZOOM_STEP);
  else if (button.dataset.act === "reset") send(state, { type: "reset" });
}

function attach(state) {
  const on = (target, type, handler, options) => {
    const bound = (event) => handler(state, event);
    target.addEventListener(type, bound, options);
    state.listeners.push(() => target.removeEventListener(type, bound, options));
  };
  on(document, "wheel", onWheel, { passive: false, capture: true });
  on(document, "keydown", onKey, { capture: true });
  on(document, "mousedown", onPointerDown, { capture: true });
  on(document, "mousemove", onPointerMove);
  on(document, "mouseup", onPointerUp);
  on(state.parent, "click", onBarClick);
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const id = String(data?.stage ?? component.key ?? "viewer");
  let state = STATES.get(id);
  if (!state || state.parent !== parentElement) {
    if (state) state.listeners.forEach((off) => off());
    state = { parent: parentElement, tool: "pan", seq: 0, target: null, lastInput: 0,
              pending: {}, timer: null, drag: null, svg: null, listeners: [], data: {} };
    STATES.set(id, state);
    attach(state);
  }
  state.data = data ?? {};
  state.setTriggerValue = setTriggerValue;
  const img = imageOf(state);
  if (img && !state.drag) img.style.transform = "";   // the new render is in place
  clearOverlay(state);
  setTool(state, state.tool);
  readout(state);
  return () => {
    state.listeners.forEach((off) => off());
    clearOverlay(state);
    STATES.delete(id);
  };
}
