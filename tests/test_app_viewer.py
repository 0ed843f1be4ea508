"""AppTests of the slice viewer's Streamlit side: tool-bar events (wheel/keys, zoom,
ruler), window presets, jump to a level and outlines without fill."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest


def _viewer_script() -> None:
    import numpy as np
    import streamlit as st

    from ui import viewer

    rng = np.random.default_rng(1)
    volume = rng.normal(100.0, 10.0, size=(20, 16, 16)).astype(np.float32)
    volume[0] = 0.0
    labels = np.zeros(volume.shape, dtype=np.int16)
    labels[2:9, 4:12, 4:12] = 1
    labels[10:18, 4:12, 4:12] = 2
    lesions = np.zeros(volume.shape, dtype=np.uint8)
    lesions[14:16, 5:9, 6:10] = 1
    event = st.session_state.pop("test_event", None)
    if event is not None:
        viewer.with_event("v", event, volume.shape)
    viewer.slice_viewer("v", volume, (0.8, 0.8, 3.0), image_id="phantom", vertebrae=labels,
                        lesions=lesions, level_names={1: "L1", 2: "L2"}, default_plane="axial")


@pytest.fixture()
def at() -> AppTest:
    app = AppTest.from_function(_viewer_script, default_timeout=120)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _caption(at: AppTest) -> str:
    assert at.image, "no image"
    return at.image[0].captions[0]


def _send(at: AppTest, event: dict) -> None:
    at.session_state["test_event"] = event
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_opens_on_the_slice_with_the_lesions(at: AppTest) -> None:
    assert at.session_state["v_slice_axial"] == 14  # first of the two lesion slices
    assert "Axial slice 15/20" in _caption(at)


def test_wheel_and_keys_step_slices_within_the_stack(at: AppTest) -> None:
    _send(at, {"type": "slice", "delta": 1})
    assert at.session_state["v_slice_axial"] == 15 and "slice 16/20" in _caption(at)
    assert at.slider(key="v_slice_axial_number").value == 16  # as the caption numbers it
    _send(at, {"type": "slice", "delta": 50})
    assert at.session_state["v_slice_axial"] == 19
    _send(at, {"type": "slice", "delta": "up"})  # malformed: dropped, no error
    assert at.session_state["v_slice_axial"] == 19


def test_zoom_and_ruler_in_mm(at: AppTest) -> None:
    _send(at, {"type": "zoom", "factor": 2.0, "point": [0.5, 0.5]})
    assert "zoom 2.00×" in _caption(at)
    _send(at, {"type": "reset"})
    assert "zoom 1.00×" in _caption(at)
    # Axial: rows are y (0.8 mm), 16 rows; top to bottom of the displayed slice.
    _send(at, {"type": "ruler", "p0": [0.0, 0.5], "p1": [1.0, 0.5]})
    found = re.search(r"Ruler: ([\d.]+) mm", _caption(at))
    assert found, _caption(at)
    assert float(found.group(1)) == pytest.approx(16 * 0.8, abs=0.8)


def test_presets_set_the_window_and_a_slider_makes_it_custom(at: AppTest) -> None:
    at.selectbox(key="v_preset").set_value("STIR").run()
    stir = (at.slider(key="v_window").value, at.slider(key="v_level").value)
    at.selectbox(key="v_preset").set_value("T1").run()
    t1 = (at.slider(key="v_window").value, at.slider(key="v_level").value)
    assert stir[1] > t1[1]  # STIR looks at the bright end
    at.slider(key="v_window").set_value(float(t1[0]) / 2).run()
    assert at.selectbox(key="v_preset").value == "Custom"


def test_jump_to_a_level_and_switch_plane(at: AppTest) -> None:
    at.selectbox(key="v_jump").set_value("L1").run()
    assert at.session_state["v_slice_axial"] == 5  # centre of L1 (no lesion)
    at.selectbox(key="v_jump").set_value("L2").run()
    assert at.session_state["v_slice_axial"] == 14  # L2's lesion slice
    at.segmented_control(key="v_plane").set_value("sagittal").run()
    assert "Sagittal slice" in _caption(at)


def test_outlines_without_fill_keep_the_lesion_in_view(at: AppTest) -> None:
    assert at.toggle(key="v_lesion_fill").value is True
    at.toggle(key="v_lesion_fill").set_value(False).run()
    assert not at.exception
    assert at.toggle(key="v_lesion_fill").value is False
    assert "lesion voxels in slice: 16" in _caption(at)
