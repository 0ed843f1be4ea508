"""The slice viewer on the page: the widgets and a tool bar around
:func:`ui.slice_render.render_slice`.

:func:`slice_viewer` adds the widgets and a tool bar, an ``st.components.v2`` component
whose static script is ``ui/components_viewer/`` (no CDN): wheel and arrow keys scroll
slices, Ctrl+wheel and +/- zoom at the cursor, drag pans, the ruler measures in mm.
Stable keys ``<prefix>_plane``, ``_slice_<plane>`` (the 0-based slice index; its slider,
``_slice_<plane>_number``, shows the slice number from 1, as the caption does),
``_preset``, ``_window``, ``_level``, ``_opacity``, ``_show_levels``, ``_show_lesions``,
``_lesion_fill``, ``_jump``, ``_tools``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from core.view_geometry import Viewport, ViewState, apply_view_event
from core.vocab import sort_levels
from ui.slice_render import (
    PLANES,
    WINDOW_PRESETS,
    SliceRender,
    auto_window,
    display_width,
    jump_slice,
    key_slice,
    labels_of,
    n_slices,
    preset_window,
    render_slice,
)

_ASSETS = Path(__file__).resolve().parent / "components_viewer"
_TOOLS = st.components.v2.component(
    "spinepain_viewer_tools", html=(_ASSETS / "viewer_tools.html").read_text("utf-8"),
    css=(_ASSETS / "viewer_tools.css").read_text("utf-8"),
    js=(_ASSETS / "viewer_tools.js").read_text("utf-8"), isolate_styles=False)


def tool_bar(prefix: str, shape_zyx: tuple[int, ...], data: Mapping[str, Any]) -> None:
    """Mount the viewer's tool bar over the image in the container keyed
    ``<prefix>_stage``; its events are applied (:func:`with_event`) before the next run
    draws the widgets."""
    _TOOLS(key=f"{prefix}_tools", data=dict(data),
           on_event_change=lambda: with_event(prefix, (st.session_state.get(
               f"{prefix}_tools") or {}).get("event"), shape_zyx))


@dataclass(frozen=True)
class _Ranges:
    """Slider ranges of one image: intensity range and slider step."""

    vmin: float
    vmax: float
    step: float

    def clamp(self, window: float, level: float) -> tuple[float, float]:
        return (float(min(max(window, self.step), self.vmax - self.vmin)),
                float(min(max(level, self.vmin), self.vmax)))


def _ranges(volume: np.ndarray) -> _Ranges:
    finite = volume[np.isfinite(volume)]
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    vmax = vmax if vmax > vmin else vmin + 1.0
    return _Ranges(vmin, vmax, float(10 ** np.floor(np.log10((vmax - vmin) / 200.0))))


def _defaults(prefix: str, volume: np.ndarray, ranges: _Ranges, default_plane: str,
              vertebrae: np.ndarray | None, lesions: np.ndarray | None) -> dict[str, object]:
    """Initial widget values: auto window, key slice with the most lesion voxels."""
    out: dict[str, object] = {f"{prefix}_plane": default_plane, f"{prefix}_preset": "Auto"}
    for plane in PLANES:
        out[f"{prefix}_slice_{plane}"] = key_slice(plane, volume.shape, lesions=lesions,
                                                   vertebrae=vertebrae)
    out[f"{prefix}_window"], out[f"{prefix}_level"] = ranges.clamp(*auto_window(volume))
    out.update({f"{prefix}_opacity": 0.35, f"{prefix}_show_levels": True,
                f"{prefix}_show_lesions": True, f"{prefix}_lesion_fill": True})
    return out


def _prepare_state(prefix: str, volume: np.ndarray, image_id: str, default_plane: str,
                   vertebrae: np.ndarray | None, lesions: np.ndarray | None) -> _Ranges:
    """Reset the widgets for a new image; restore missing ones after a page switch."""
    ss = st.session_state
    new_image = ss.get(f"{prefix}_image_id") != image_id
    if new_image or f"{prefix}_ranges" not in ss:
        # Intensity range, auto window and key slices once per image, not on every move.
        ss[f"{prefix}_ranges"] = _ranges(volume)
        ss[f"{prefix}_defaults"] = _defaults(prefix, volume, ss[f"{prefix}_ranges"],
                                             default_plane, vertebrae, lesions)
    if new_image:
        ss[f"{prefix}_image_id"] = image_id
        ss.update(ss[f"{prefix}_defaults"])
        for stale in ("views", "rulers", "display", "jumped"):
            ss.pop(f"{prefix}_{stale}", None)
    # Back from another page Streamlit has dropped the widget values; without this the
    # window slider fell to its minimum and the slice went black/white.
    for k, v in ss[f"{prefix}_defaults"].items():
        ss.setdefault(k, v)
    return ss[f"{prefix}_ranges"]


def _on_preset(prefix: str, volume: np.ndarray, ranges: _Ranges) -> None:
    ss = st.session_state
    preset = ss.get(f"{prefix}_preset")
    if WINDOW_PRESETS.get(preset) is not None:
        ss[f"{prefix}_window"], ss[f"{prefix}_level"] = ranges.clamp(
            *preset_window(volume, preset))


def jump_to(prefix: str, level: str | None, vertebrae: np.ndarray | None,
            lesions: np.ndarray | None, names: Mapping[int, str]) -> bool:
    """Show ``level`` in the viewer ``prefix``: its slice in the current plane. Call
    before :func:`slice_viewer` draws its widgets; returns whether it moved."""
    labels = labels_of(names, [level]) if level and vertebrae is not None else set()
    if not labels:
        return False
    ss = st.session_state
    plane = ss.get(f"{prefix}_plane") or PLANES[0]
    ss[f"{prefix}_slice_{plane}"] = jump_slice(plane, vertebrae, min(labels), lesions)
    ss[f"{prefix}_jumped"] = level
    return True


@dataclass(frozen=True)
class _Controls:
    plane: str
    index: int
    count: int
    window: float
    level: float
    opacity: float
    show_levels: bool
    show_lesions: bool
    lesion_fill: bool


def _from_number(slice_key: str, number_key: str) -> None:
    st.session_state[slice_key] = int(st.session_state[number_key]) - 1


def numbered_slider(label: str, slice_key: str, count: int, **kwargs: Any) -> int:
    """A slice slider showing slice numbers from 1 to ``count``, as captions and PACS
    number them; returns the 0-based index, which ``slice_key`` keeps in the session (the
    slider's own key is ``<slice_key>_number``). Jumps and the tool bar set the index."""
    ss = st.session_state
    number_key = f"{slice_key}_number"
    ss[number_key] = int(ss[slice_key]) + 1
    number = st.slider(label, 1, max(count, 2), key=number_key, disabled=count <= 1,
                       on_change=_from_number, args=(slice_key, number_key), **kwargs)
    return min(int(number), count) - 1


def _controls(prefix: str, volume: np.ndarray, ranges: _Ranges, default_plane: str,
              vertebrae: np.ndarray | None, lesions: np.ndarray | None,
              names: Mapping[int, str]) -> _Controls:
    ss, keep = st.session_state, "session"
    plane = st.segmented_control("Plane", PLANES, key=f"{prefix}_plane",
                                 persist_state=keep) or default_plane
    count = n_slices(volume.shape, plane)
    slice_key = f"{prefix}_slice_{plane}"
    if slice_key not in ss or not 0 <= int(ss[slice_key]) < count:
        ss[slice_key] = count // 2
    index = numbered_slider("Slice", slice_key, count,
                            help="Or the mouse wheel / arrow keys on the image.")
    if vertebrae is not None and names:
        st.selectbox("Jump to level", sort_levels(names.values()), index=None,
                     key=f"{prefix}_jump", placeholder="Choose a level",
                     on_change=lambda: jump_to(prefix, ss.get(f"{prefix}_jump"), vertebrae,
                                               lesions, names))
    st.selectbox("Window preset", list(WINDOW_PRESETS), key=f"{prefix}_preset",
                 persist_state=keep, on_change=_on_preset, args=(prefix, volume, ranges),
                 help="Percentile windows per sequence (MR has no absolute scale).")
    custom = {"on_change": ss.__setitem__, "args": (f"{prefix}_preset", "Custom")}
    window = st.slider("Window (width)", float(ranges.step), ranges.vmax - ranges.vmin,
                       step=ranges.step, key=f"{prefix}_window", persist_state=keep, **custom)
    level = st.slider("Level (centre)", float(ranges.vmin), float(ranges.vmax),
                      step=ranges.step, key=f"{prefix}_level", persist_state=keep, **custom)
    opacity = st.slider("Overlay opacity", 0.0, 1.0, step=0.05, key=f"{prefix}_opacity",
                        persist_state=keep)
    c1, c2 = st.columns(2)
    show_levels = c1.toggle("Levels", key=f"{prefix}_show_levels", persist_state=keep,
                            disabled=vertebrae is None)
    show_lesions = c2.toggle("Lesions", key=f"{prefix}_show_lesions", persist_state=keep,
                             disabled=lesions is None)
    fill = st.toggle("Fill lesions", key=f"{prefix}_lesion_fill", persist_state=keep,
                     disabled=lesions is None, help="Off: outlines only.")
    return _Controls(plane, min(int(index), count - 1), count, window, level, opacity,
                     show_levels, show_lesions, fill)


def slice_viewer(
    prefix: str,
    volume: np.ndarray,
    spacing_xyz: tuple[float, float, float],
    *,
    image_id: str,
    vertebrae: np.ndarray | None = None,
    lesions: np.ndarray | None = None,
    level_names: Mapping[int, str] | None = None,
    default_plane: str = "sagittal",
    caption: str | None = None,
    highlight: Collection[str] = (),
) -> SliceRender:
    """Streamlit slice viewer: plane, slice, jump to level, window presets and
    window/level, overlays; the tool bar adds wheel/key scrolling, zoom, pan and the
    ruler. ``highlight`` names levels to outline in yellow. The widgets reset (auto
    window, key slice, whole slice, no ruler) when ``image_id`` changes."""
    names = dict(level_names or {})
    ranges = _prepare_state(prefix, volume, image_id, default_plane, vertebrae, lesions)
    ss = st.session_state
    controls, picture = st.columns([1, 2.4])
    with controls:
        ctl = _controls(prefix, volume, ranges, default_plane, vertebrae, lesions, names)
    state = view_state(prefix, ctl.plane, ctl.index, ctl.count)
    render = render_slice(volume, spacing_xyz, ctl.plane, ctl.index, ctl.window, ctl.level,
                          vertebrae=vertebrae, lesions=lesions, level_names=names,
                          opacity=ctl.opacity, show_levels=ctl.show_levels,
                          show_lesions=ctl.show_lesions, lesion_fill=ctl.lesion_fill,
                          highlight=labels_of(names, highlight), viewport=state.viewport,
                          ruler=state.ruler)
    display = render.display
    ss[f"{prefix}_display"] = (ctl.plane, display)
    with picture:
        tool_bar(prefix, volume.shape, {
            "stage": f"st-key-{prefix}_stage", "index": ctl.index, "count": ctl.count,
            "plane": ctl.plane, "view": [state.viewport.zoom, *state.viewport.center],
            "ruler": None if state.ruler is None else round(state.ruler.mm, 2),
            "mm": [display.shape[0] * display.pixel_mm, display.shape[1] * display.pixel_mm]})
    with picture, st.container(key=f"{prefix}_stage"):
        text = (caption or "") + (
            f" {ctl.plane.capitalize()} slice {ctl.index + 1}/{ctl.count}; display pixel "
            f"{render.pixel_mm:.2f} mm; zoom {state.viewport.zoom:.2f}×; lesion voxels in "
            f"slice: {render.lesion_pixels}. Levels coloured and labelled, lesions red"
            + (f"; highlighted in yellow: {', '.join(highlight)}" if highlight else "") + ".")
        if state.ruler is not None:
            text += f" Ruler: {state.ruler.mm:.1f} mm (slice {state.ruler.index + 1})."
        st.image(render.rgb, caption=text.strip(), width=display_width(render.rgb))
    return render


def view_state(prefix: str, plane: str, index: int, count: int) -> ViewState:
    """The viewer's zoom and ruler of ``plane`` from the session (whole slice, none)."""
    ss = st.session_state
    zoom, row, col = (ss.get(f"{prefix}_views") or {}).get(plane, (1.0, 0.5, 0.5))
    ruler = (ss.get(f"{prefix}_rulers") or {}).get(plane)
    return ViewState(index, count, Viewport(zoom, (row, col)).clamped(), ruler)


def with_event(prefix: str, event: object, shape_zyx: tuple[int, ...]) -> None:
    """Apply a tool-bar event (:func:`core.view_geometry.apply_view_event`) to the
    viewer's session state: slice, zoom/centre and ruler of the current plane. The
    ruler and zoom use the last render of that plane (``<prefix>_display``)."""
    ss = st.session_state
    plane = ss.get(f"{prefix}_plane") or PLANES[0]
    if not isinstance(event, Mapping):
        return
    count = n_slices(shape_zyx, plane)
    slice_key = f"{prefix}_slice_{plane}"
    before = view_state(prefix, plane, int(ss.get(slice_key, count // 2)), count)
    shown_plane, display = ss.get(f"{prefix}_display") or (None, None)
    try:
        after = apply_view_event(event, before, display if shown_plane == plane else None)
    except ValueError:
        return  # a malformed event from the page is dropped, never shown as an error
    ss[slice_key] = after.index
    ss[f"{prefix}_views"] = {**(ss.get(f"{prefix}_views") or {}),
                             plane: (after.viewport.zoom, *after.viewport.center)}
    ss[f"{prefix}_rulers"] = {**(ss.get(f"{prefix}_rulers") or {}), plane: after.ruler}
