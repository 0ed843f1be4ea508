"""The viewer's pure geometry (core.view_geometry), the feature -> level map of the linked
explanation (core.feature_levels) and the slice renderer's outlines, presets and ruler."""

from __future__ import annotations

import numpy as np
import pytest

from core.feature_levels import FEATURE_SOURCES, feature_levels, worst_level
from core.features import FEATURES
from core.view_geometry import (
    MAX_ZOOM,
    DisplayMap,
    RulerMark,
    Viewport,
    ViewState,
    apply_view_event,
    distance_mm,
    level_slice,
    outline,
)
from ui import slice_render

# --------------------------------------------------------------------------- distance


def test_distance_scales_each_axis_by_its_own_spacing() -> None:
    assert distance_mm((0, 0), (10, 0), (1.0, 4.0)) == pytest.approx(10.0)
    assert distance_mm((0, 0), (0, 10), (1.0, 4.0)) == pytest.approx(40.0)
    assert distance_mm((0, 0), (3, 1), (1.0, 4.0)) == pytest.approx(5.0)  # 3-4-5
    assert distance_mm((1, 2, 3), (1, 2, 3), (0.5, 0.5, 3.0)) == 0.0


@pytest.mark.parametrize(("p0", "p1", "spacing", "message"), [
    ((0, 0), (1, 1), (1.0,), "same axes"),
    ((0, 0), (1, 1), (1.0, 0.0), "positive"),
    ((0, 0), (1, 1), (1.0, float("nan")), "positive"),
    ((0, float("inf")), (1, 1), (1.0, 1.0), "finite"),
])
def test_distance_refuses_bad_input_in_one_sentence(p0, p1, spacing, message) -> None:
    with pytest.raises(ValueError, match=message) as err:
        distance_mm(p0, p1, spacing)
    assert str(err.value).count(". ") == 0 and "\n" not in str(err.value)


def test_ruler_on_an_anisotropic_sagittal_slice() -> None:
    # Sagittal rows are z (3 mm), columns y (0.8 mm).
    spacing_xyz = (0.5, 0.8, 3.0)
    assert slice_render.ruler_mm((0, 0), (10, 0), spacing_xyz, "sagittal") == pytest.approx(30.0)
    assert slice_render.ruler_mm((0, 0), (0, 10), spacing_xyz, "sagittal") == pytest.approx(8.0)
    assert slice_render.ruler_mm((0, 0), (0, 10), spacing_xyz, "axial") == pytest.approx(5.0)


# --------------------------------------------------------------------------- viewport


def test_viewport_zoom_keeps_the_point_under_the_cursor() -> None:
    view = Viewport()
    point = (0.25, 0.75)
    before = view.to_slice(point)
    zoomed = view.zoom_at(2.0, point)
    assert zoomed.zoom == 2.0
    assert zoomed.to_slice(point) == pytest.approx(before)
    again = zoomed.zoom_at(1.5, (0.5, 0.5))
    assert again.zoom == pytest.approx(3.0)
    assert again.to_slice((0.5, 0.5)) == pytest.approx(zoomed.to_slice((0.5, 0.5)))


def test_viewport_is_clamped_inside_the_slice() -> None:
    assert Viewport(0.2, (0.5, 0.5)).clamped().zoom == 1.0
    assert Viewport(100.0).clamped().zoom == MAX_ZOOM
    far = Viewport(2.0, (0.0, 1.0)).clamped()
    assert far.center == (0.25, 0.75)  # half the view (0.25) from each edge
    top, bottom, left, right = Viewport(4.0, (0.9, 0.1)).bounds()
    assert 0.0 <= top < bottom <= 1.0 and 0.0 <= left < right <= 1.0
    assert bottom - top == pytest.approx(0.25)
    with pytest.raises(ValueError, match="zoom factor"):
        Viewport().zoom_at(0.0)


def test_pan_follows_the_drag_and_stops_at_the_edge() -> None:
    view = Viewport(2.0, (0.5, 0.5))
    moved = view.pan((0.0, 0.2))  # drag right by a fifth of the view: the image follows
    assert moved.center == pytest.approx((0.5, 0.4))
    assert view.pan((0.0, 5.0)).center == pytest.approx((0.5, 0.25))
    assert Viewport().pan((0.3, 0.3)).center == (0.5, 0.5)  # nothing to pan unzoomed


def test_viewport_crop_box_has_at_least_one_pixel() -> None:
    r0, r1, c0, c1 = Viewport(MAX_ZOOM, (1.0, 1.0)).crop((4, 4))
    assert 0 <= r0 < r1 <= 4 and 0 <= c0 < c1 <= 4
    assert Viewport().crop((100, 60)) == (0, 100, 0, 60)


# --------------------------------------------------------------------------- events


def _display() -> DisplayMap:
    # A 100 x 50 display of a 50 x 100 native slice with 2 mm rows and 0.5 mm columns
    # at 1 mm display pixels.
    return DisplayMap(pixel_mm=1.0, spacing_rc=(2.0, 0.5), offset=(0, 0), shape=(100, 50),
                      crop=(0, 100, 0, 50))


def test_display_map_round_trip() -> None:
    display = _display()
    for point in [(0.0, 0.0), (10.0, 20.0), (99.0, 49.0)]:
        assert display.to_display(display.to_slice(point)) == pytest.approx(point)


def test_slice_events_step_and_stay_in_the_stack() -> None:
    state = ViewState(index=5, count=10)
    assert apply_view_event({"type": "slice", "delta": 1}, state, None).index == 6
    assert apply_view_event({"type": "slice", "delta": -20}, state, None).index == 0
    assert apply_view_event({"type": "slice", "index": 42}, state, None).index == 9
    with pytest.raises(ValueError, match="slice step"):
        apply_view_event({"type": "slice", "delta": "up"}, state, None)
    with pytest.raises(ValueError, match="viewer event 'rotate'"):
        apply_view_event({"type": "rotate"}, state, None)


def test_ruler_event_measures_in_mm_on_the_native_slice() -> None:
    state = ViewState(index=3, count=10)
    display = _display()
    # From the top-left to the bottom-left of the display: 100 display px = 100 mm.
    out = apply_view_event({"type": "ruler", "p0": [0.0, 0.0], "p1": [1.0, 0.0]}, state,
                           display)
    assert isinstance(out.ruler, RulerMark) and out.ruler.index == 3
    assert out.ruler.mm == pytest.approx(100.0)
    across = apply_view_event({"type": "ruler", "p0": [0.0, 0.0], "p1": [0.0, 1.0]}, state,
                              display)
    assert across.ruler is not None and across.ruler.mm == pytest.approx(50.0)
    assert apply_view_event({"type": "reset"}, across, display).ruler is None
    assert apply_view_event({"type": "ruler", "p0": [0, 0], "p1": [1, 1]}, state,
                            None) == state  # nothing drawn yet: ignored


def test_zoom_and_pan_events() -> None:
    state = ViewState(index=0, count=1)
    zoomed = apply_view_event({"type": "zoom", "factor": 2.0, "point": [0.5, 0.5]}, state,
                              _display())
    assert zoomed.viewport.zoom == 2.0
    panned = apply_view_event({"type": "pan", "delta": [0.0, 0.1]}, zoomed, _display())
    assert panned.viewport.center[1] < zoomed.viewport.center[1]
    assert apply_view_event({"type": "reset"}, panned, None).viewport == Viewport()


# --------------------------------------------------------------------------- levels


def _column_with_levels() -> tuple[np.ndarray, np.ndarray]:
    """[z, y, x] labels: level 1 at z 0-3, level 2 at z 5-9; lesions in level 2 at z 8."""
    labels = np.zeros((10, 4, 6), dtype=np.int16)
    labels[0:4, 1:3, 1:5] = 1
    labels[5:10, 1:3, 1:5] = 2
    lesions = np.zeros_like(labels, dtype=np.uint8)
    lesions[8, 1:3, 2:4] = 1
    return labels, lesions


def test_level_slice_goes_to_the_lesions_else_the_centre() -> None:
    labels, lesions = _column_with_levels()
    assert level_slice(labels, 2, axis=0, lesions=lesions) == 8
    assert level_slice(labels, 2, axis=0) == 7
    assert level_slice(labels, 1, axis=0, lesions=lesions) == 2  # no lesion: centre 1.5
    with pytest.raises(ValueError, match="label 7"):
        level_slice(labels, 7, axis=0)
    with pytest.raises(ValueError, match="axis 3"):
        level_slice(labels, 1, axis=3)
    # Axial jump in the viewer (axial = array axis 0).
    assert slice_render.jump_slice("axial", labels, 2, lesions) == 8


def test_outline_is_the_inner_border() -> None:
    mask = np.zeros((7, 7), dtype=bool)
    mask[1:6, 1:6] = True
    border = outline(mask)
    assert border.sum() == 16 and not border[3, 3] and border[1, 1]
    assert not outline(np.zeros((3, 3), dtype=bool)).any()


# --------------------------------------------------------------------------- rendering


def _phantom() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    volume = rng.normal(100.0, 5.0, size=(10, 12, 12)).astype(np.float32)
    labels = np.zeros(volume.shape, dtype=np.int16)
    labels[1:5, 3:9, 3:9] = 1
    labels[6:10, 3:9, 3:9] = 2
    lesions = np.zeros(volume.shape, dtype=np.uint8)
    lesions[7:9, 4:8, 4:8] = 1
    return volume, labels, lesions


def _red(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)


def test_lesions_outlined_with_or_without_fill() -> None:
    volume, labels, lesions = _phantom()
    common = {"vertebrae": labels, "lesions": lesions, "show_levels": False,
              "orientation_labels": False, "target_px": 120}
    filled = slice_render.render_slice(volume, (1.0, 1.0, 1.0), "axial", 8, 40.0, 100.0,
                                       lesion_fill=True, **common)
    hollow = slice_render.render_slice(volume, (1.0, 1.0, 1.0), "axial", 8, 40.0, 100.0,
                                       lesion_fill=False, **common)
    assert filled.lesion_pixels == hollow.lesion_pixels == 16
    n_filled, n_hollow = int(_red(filled.rgb).sum()), int(_red(hollow.rgb).sum())
    assert n_hollow > 0, "no lesion outline without the fill"
    assert n_filled > n_hollow
    centre = tuple(s // 2 for s in hollow.rgb.shape[:2])
    assert _red(filled.rgb)[centre] and not _red(hollow.rgb)[centre]


def test_highlighted_level_has_a_yellow_border() -> None:
    volume, labels, lesions = _phantom()
    args = (volume, (1.0, 1.0, 1.0), "sagittal", 6, 40.0, 100.0)
    kw = {"vertebrae": labels, "lesions": lesions, "level_names": {1: "L1", 2: "L2"},
          "orientation_labels": False, "target_px": 120}

    def yellow(rgb: np.ndarray) -> int:
        return int(((rgb[..., 0] > 230) & (rgb[..., 1] > 190) & (rgb[..., 2] < 60)).sum())

    plain = slice_render.render_slice(*args, **kw)
    lit = slice_render.render_slice(*args, highlight={2}, **kw)
    assert yellow(lit.rgb) > yellow(plain.rgb) + 10
    assert slice_render.labels_of({1: "L1", 2: "L2"}, ["L2", "T9"]) == {2}


def test_window_presets_differ_and_custom_has_no_values() -> None:
    volume, _, _ = _phantom()
    volume[0, 0, 0] = 0.0  # background below the foreground
    windows = {p: slice_render.preset_window(volume, p)
               for p, pct in slice_render.WINDOW_PRESETS.items() if pct is not None}
    assert {"T2", "STIR", "T1"} <= set(windows)
    assert windows["STIR"][1] > windows["T1"][1]  # STIR shows the bright end
    assert all(w > 0 for w, _ in windows.values())
    with pytest.raises(ValueError, match="Custom"):
        slice_render.preset_window(volume, "Custom")


def test_zoomed_render_resamples_the_voxels() -> None:
    volume, _, _ = _phantom()
    whole = slice_render.render_slice(volume, (1.0, 1.0, 1.0), "axial", 8, 40.0, 100.0,
                                      target_px=120, orientation_labels=False)
    zoomed = slice_render.render_slice(volume, (1.0, 1.0, 1.0), "axial", 8, 40.0, 100.0,
                                       target_px=120, orientation_labels=False,
                                       viewport=Viewport(2.0))
    assert zoomed.pixel_mm < whole.pixel_mm
    assert whole.display is not None and zoomed.display is not None
    assert zoomed.display.crop != whole.display.crop


# --------------------------------------------------------------------------- feature levels

LEVELS = [
    {"level": "C5", "region": "cervical", "lesion_count": 1, "high_intensity_volume_ml": 0.0,
     "high_intensity_ratio": 0.0},
    {"level": "T12", "region": "thoracic", "lesion_count": 1,
     "high_intensity_volume_ml": 2.0, "high_intensity_ratio": 0.10},
    {"level": "L3", "region": "lumbar", "lesion_count": 2, "high_intensity_volume_ml": 5.0,
     "high_intensity_ratio": 0.40},
    {"level": "L1", "region": "lumbar", "lesion_count": 0, "high_intensity_volume_ml": 0.0,
     "high_intensity_ratio": 0.0},
    {"level": "S1", "region": "sacral", "lesion_count": 1, "high_intensity_volume_ml": 1.0,
     "high_intensity_ratio": 0.40},
]


def test_feature_levels_follow_each_definition() -> None:
    assert feature_levels("lesion_count", LEVELS) == ("C5", "T12", "L3", "S1")
    assert feature_levels("involved_levels", LEVELS) == ("C5", "T12", "L3", "S1")
    assert feature_levels("lesion_count_noncervical", LEVELS) == ("T12", "L3", "S1")
    assert feature_levels("lesion_count_lumbosacral", LEVELS) == ("L3", "S1")
    assert feature_levels("high_intensity_ratio", LEVELS) == ("T12", "L3", "S1")
    assert feature_levels("max_level_high_intensity_ratio", LEVELS) == ("L3", "S1")
    assert worst_level(LEVELS) == "L3"
    assert worst_level(LEVELS[:1]) is None


def test_clinical_features_come_from_no_level() -> None:
    clinical = [f.name for f in FEATURES if f.name not in FEATURE_SOURCES]
    assert clinical, "every feature is imaging?"
    assert all(feature_levels(n, LEVELS) == () for n in clinical)
    assert set(FEATURE_SOURCES) <= {f.name for f in FEATURES}
    with pytest.raises(ValueError, match="not a model feature"):
        feature_levels("lesion_count_cervical_typo", LEVELS)
