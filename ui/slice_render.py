"""Slice rendering, no Streamlit: sagittal / coronal / axial planes with level and lesion
overlays, windows, key and level slices.

Works on ``[z, y, x]`` = ``[S, P, L]`` arrays (canonical orientation of :mod:`core.io`)
and returns RGB ``uint8`` images with square pixels in mm (rows and columns resampled by
the voxel spacing: anisotropic images keep their proportions, rulers measure each axis
with its own spacing). Radiological display: axial anterior up, patient right on the
viewer's left; coronal superior up, right on the left; sagittal superior up, anterior on
the left. Levels are filled in colour; lesions filled red and outlined (outline only
without the fill); highlighted levels (the linked explanation) get yellow borders and
their lesions yellow outlines while the others fade. A zoomed view
(:class:`core.view_geometry.Viewport`) is resampled from the voxels, not from enlarged
pixels. :mod:`ui.viewer` puts it on the page with its widgets and tool bar.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from core.view_geometry import (
    DisplayMap,
    RulerMark,
    Viewport,
    densest_slice,
    distance_mm,
    level_slice,
    outline,
)

PLANES: tuple[str, ...] = ("sagittal", "coronal", "axial")
#: Array axis along each plane's normal (``[z, y, x]``).
PLANE_AXIS: dict[str, int] = {"axial": 0, "coronal": 1, "sagittal": 2}

#: Edge letters (top, bottom, left, right) per plane in the display conventions above.
ORIENTATION_LABELS: dict[str, tuple[str, str, str, str]] = {
    "axial": ("A", "P", "R", "L"),
    "coronal": ("S", "I", "R", "L"),
    "sagittal": ("S", "I", "A", "P"),
}

#: Level colours: distinct, none of them red (red is reserved for lesions).
LEVEL_PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (44, 160, 44), (255, 187, 120), (148, 103, 189), (23, 190, 207),
    (188, 189, 34), (174, 199, 232), (152, 223, 138), (197, 176, 213), (227, 119, 194),
    (140, 86, 75), (127, 127, 127),
)
LESION_RGB: tuple[int, int, int] = (255, 0, 0)
HIGHLIGHT_RGB: tuple[int, int, int] = (255, 214, 0)
RULER_RGB: tuple[int, int, int] = (0, 229, 255)

#: Window presets. MR has no absolute scale (unlike CT Hounsfield units): each preset is a
#: pair of foreground percentiles for what the sequence shows: T2 the full range (fluid
#: bright); STIR the bright end (oedema and lesions out of suppressed fat); T1 the lower
#: range (lesions replace bright marrow fat). ``Custom`` keeps the sliders' values.
WINDOW_PRESETS: dict[str, tuple[float, float] | None] = {
    "Auto": (1.0, 99.0),
    "T2": (2.0, 99.5),
    "STIR": (20.0, 99.9),
    "T1": (1.0, 97.0),
    "Custom": None,
}


@dataclass(frozen=True)
class SliceRender:
    """One rendered slice: ``rgb`` ``(rows, cols, 3)`` uint8 of square ``pixel_mm`` pixels,
    its ``plane`` and slice ``index`` (along the normal), the level names drawn, the
    lesion voxels in the slice (before resampling) and its :class:`DisplayMap` (where the
    image lies on the native slice: ruler, zoom and pan use it)."""

    rgb: np.ndarray
    pixel_mm: float
    plane: str
    index: int
    labels_drawn: tuple[str, ...] = field(default=())
    lesion_pixels: int = 0
    display: DisplayMap | None = None


def _check_plane(plane: str) -> None:
    if plane not in PLANES:
        raise ValueError(f"plane {plane!r} is not one of {', '.join(PLANES)}.")


def n_slices(shape_zyx: tuple[int, ...], plane: str) -> int:
    """Number of slices of a ``[z, y, x]`` volume in ``plane``."""
    _check_plane(plane)
    return int(shape_zyx[PLANE_AXIS[plane]])


def plane_slice(array: np.ndarray, plane: str, index: int) -> np.ndarray:
    """The 2-D slice of a ``[z, y, x]`` array in display orientation (see module doc)."""
    _check_plane(plane)
    count = n_slices(array.shape, plane)
    if not 0 <= index < count:
        raise ValueError(f"slice {index} is outside 0-{count - 1} for the {plane} plane.")
    if plane == "axial":
        return array[index]  # rows y (A->P), cols x (R->L)
    if plane == "coronal":
        return array[::-1, index, :]  # rows z flipped (S->I), cols x (R->L)
    return array[::-1, :, index]  # rows z flipped (S->I), cols y (A->P)


def plane_spacing(spacing_xyz: tuple[float, float, float], plane: str) -> tuple[float, float]:
    """``(row_mm, col_mm)`` of the display slice for an image spacing ``(x, y, z)``."""
    _check_plane(plane)
    sx, sy, sz = (float(s) for s in spacing_xyz)
    return {"axial": (sy, sx), "coronal": (sz, sx), "sagittal": (sz, sy)}[plane]


def ruler_mm(p0: Sequence[float], p1: Sequence[float], spacing_xyz: tuple[float, float, float],
             plane: str) -> float:
    """Length in mm of a ruler between native slice positions ``(row, col)`` of ``plane``
    (each axis with its own spacing: :func:`core.view_geometry.distance_mm`)."""
    return distance_mm(p0, p1, plane_spacing(spacing_xyz, plane))


def auto_window(volume: np.ndarray, low_pct: float = 1.0,
                high_pct: float = 99.0) -> tuple[float, float]:
    """Default ``(window, level)`` from intensity percentiles.

    The percentiles are taken over voxels above the volume's minimum (the MRI
    background) when there are any, so large empty regions do not squash the window.
    ``window = p_high - p_low``, ``level = (p_high + p_low) / 2``; a flat image gets
    ``window = 1``.
    """
    finite = volume[np.isfinite(volume)]
    if finite.size == 0:
        return 1.0, 0.0
    foreground = finite[finite > finite.min()]
    sample = foreground if foreground.size else finite
    low, high = np.percentile(sample, [low_pct, high_pct])
    window = float(high - low)
    if window <= 0:
        window = 1.0
    return window, float((high + low) / 2.0)


def preset_window(volume: np.ndarray, preset: str) -> tuple[float, float]:
    """``(window, level)`` of a :data:`WINDOW_PRESETS` entry for ``volume``.

    Raises
    ------
    ValueError
        For ``Custom`` (it has no values of its own) or an unknown name.
    """
    pct = WINDOW_PRESETS.get(preset)
    if pct is None:
        raise ValueError(f"window preset {preset!r} is not one of "
                         f"{', '.join(k for k, v in WINDOW_PRESETS.items() if v)}.")
    return auto_window(volume, *pct)


def apply_window(slice2d: np.ndarray, window: float, level: float) -> np.ndarray:
    """Linear window/level to ``[0, 1]`` (values outside the window are clipped)."""
    if window <= 0:
        raise ValueError(f"window {window:g} must be positive.")
    low = level - window / 2.0
    return np.clip((slice2d.astype(np.float64) - low) / window, 0.0, 1.0)


def _display_shape(shape2d: tuple[int, int], row_mm: float, col_mm: float,
                   pixel_mm: float) -> tuple[int, int]:
    return (max(1, round(shape2d[0] * row_mm / pixel_mm)),
            max(1, round(shape2d[1] * col_mm / pixel_mm)))


def _sample(slice2d: np.ndarray, rows: np.ndarray, cols: np.ndarray, order: int) -> np.ndarray:
    rows = np.clip(rows, 0, slice2d.shape[0] - 1)
    cols = np.clip(cols, 0, slice2d.shape[1] - 1)
    if order == 0:
        return slice2d[np.ix_(np.rint(rows).astype(int), np.rint(cols).astype(int))]
    grid = np.meshgrid(rows, cols, indexing="ij")
    return ndimage.map_coordinates(slice2d.astype(np.float32), grid, order=order,
                                   mode="nearest")


def resample_to_square(slice2d: np.ndarray, row_mm: float, col_mm: float, pixel_mm: float,
                       *, order: int) -> np.ndarray:
    """Resample a slice so that each output pixel is ``pixel_mm`` square.

    Pixel centres are aligned (``src = (dst + 0.5) * pixel_mm / spacing - 0.5``);
    ``order=0`` (nearest) for label maps, ``order=1`` (linear) for intensities.
    """
    out_rows, out_cols = _display_shape(slice2d.shape, row_mm, col_mm, pixel_mm)
    rows = (np.arange(out_rows) + 0.5) * pixel_mm / row_mm - 0.5
    cols = (np.arange(out_cols) + 0.5) * pixel_mm / col_mm - 0.5
    return _sample(slice2d, rows, cols, order)


def display_pixel_mm(shape2d: tuple[int, int], row_mm: float, col_mm: float,
                     target_px: int = 560) -> float:
    """Display pixel size so the longer side is about ``target_px`` pixels."""
    extent = max(shape2d[0] * row_mm, shape2d[1] * col_mm)
    # Never coarser than the finest native spacing (no information is thrown away).
    return min(extent / float(target_px), min(row_mm, col_mm))


def _pad_to_aspect(rgb: np.ndarray, min_aspect: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad with black so that ``min(h, w) / max(h, w) >= min_aspect``; return the offsets."""
    height, width = rgb.shape[:2]
    pad_w = max(0, int(np.ceil(min_aspect * height)) - width)
    pad_h = max(0, int(np.ceil(min_aspect * width)) - height)
    if not pad_w and not pad_h:
        return rgb, (0, 0)
    top, left = pad_h // 2, pad_w // 2
    out = np.zeros((height + pad_h, width + pad_w, 3), dtype=rgb.dtype)
    out[top:top + height, left:left + width] = rgb
    return out, (top, left)


def level_colour(label: int) -> tuple[int, int, int]:
    """Stable colour of a vertebra label."""
    return LEVEL_PALETTE[int(label) % len(LEVEL_PALETTE)]


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # Pillow >= 10.1: the bundled scalable font


@dataclass(frozen=True)
class _Grid:
    """Display geometry of one slice: native spacing, the square display pixel (mm) and
    the native positions of the displayed rows and columns (the zoomed part only)."""

    row_mm: float
    col_mm: float
    pixel_mm: float
    rows: np.ndarray
    cols: np.ndarray
    crop: tuple[int, int, int, int]

    @property
    def origin(self) -> tuple[int, int]:
        return self.crop[0], self.crop[2]

    @staticmethod
    def of(shape2d: tuple[int, int], row_mm: float, col_mm: float, target_px: int,
           viewport: Viewport) -> _Grid:
        v = viewport.clamped()
        pixel_mm = display_pixel_mm(shape2d, row_mm, col_mm, target_px) / v.zoom
        r0, r1, c0, c1 = v.crop(_display_shape(shape2d, row_mm, col_mm, pixel_mm))
        rows = (np.arange(r0, r1) + 0.5) * pixel_mm / row_mm - 0.5
        cols = (np.arange(c0, c1) + 0.5) * pixel_mm / col_mm - 0.5
        return _Grid(row_mm, col_mm, pixel_mm, rows, cols, (r0, r1, c0, c1))

    def resample(self, slice2d: np.ndarray, *, order: int) -> np.ndarray:
        return _sample(slice2d, self.rows, self.cols, order)


def _check_inputs(volume: np.ndarray, opacity: float, vertebrae: np.ndarray | None,
                  lesions: np.ndarray | None) -> None:
    if volume.ndim != 3:
        raise ValueError(f"the image has {volume.ndim} dimensions; a 3-D volume is needed.")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity {opacity:g} is outside 0-1.")
    for name, arr in (("vertebra label map", vertebrae), ("lesion mask", lesions)):
        if arr is not None and arr.shape != volume.shape:
            raise ValueError(f"the {name} grid {arr.shape} differs from the image {volume.shape}.")


_Label = tuple[str, float, float, bool]


def _blend(rgb: np.ndarray, sel: np.ndarray, colour: Sequence[int], alpha: float) -> None:
    rgb[sel] = (1.0 - alpha) * rgb[sel] + alpha * np.asarray(colour, dtype=np.float64)


def _overlay_levels(rgb: np.ndarray, labels2d: np.ndarray, opacity: float,
                    level_names: Mapping[int, str] | None,
                    highlight: Collection[int] = ()) -> list[_Label]:
    """Blend each level's colour into ``rgb`` (faded when others are highlighted, a
    yellow border on the highlighted); returns (name, row, col, highlighted) per level."""
    positions: list[_Label] = []
    width = max(1, round(min(rgb.shape[:2]) / 200))
    for value in (int(v) for v in np.unique(labels2d) if v != 0):
        sel = labels2d == value
        lit = value in highlight
        _blend(rgb, sel, level_colour(value), opacity if lit or not highlight else opacity * 0.4)
        if lit:
            _blend(rgb, outline(sel, width + 1), HIGHLIGHT_RGB, 1.0)
        rows, cols = np.nonzero(sel)
        positions.append(((level_names or {}).get(value, str(value)), float(rows.mean()),
                          float(cols.mean()), lit))
    return positions


def _overlay_lesions(rgb: np.ndarray, lesions2d: np.ndarray, opacity: float, *,
                     fill: bool, lit: np.ndarray | None) -> None:
    """Lesions: a red fill more opaque than the levels (when ``fill``) and a red outline;
    lesion pixels inside highlighted levels (``lit``) get a yellow outline instead."""
    width = max(1, round(min(rgb.shape[:2]) / 250))
    if fill:
        _blend(rgb, lesions2d, LESION_RGB, min(1.0, opacity + 0.35))
    _blend(rgb, outline(lesions2d, width), LESION_RGB, 1.0)
    if lit is not None and lit.any():
        _blend(rgb, outline(lesions2d & lit, width + 1), HIGHLIGHT_RGB, 1.0)


def _draw_ruler(draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float],
                mm: float, size: int) -> None:
    (y0, x0), (y1, x1) = a, b
    draw.line([(x0, y0), (x1, y1)], fill=RULER_RGB, width=2)
    for y, x in (a, b):
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=RULER_RGB, width=2)
    draw.text(((x0 + x1) / 2 + 6, (y0 + y1) / 2 - 6), f"{mm:.1f} mm", fill=RULER_RGB,
              font=_font(size), anchor="lb", stroke_width=2, stroke_fill=(0, 0, 0))


def _annotate(rgb: np.ndarray, labels: list[_Label], plane: str, orientation_labels: bool,
              ruler: tuple[tuple[float, float], tuple[float, float], float] | None = None,
              ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Write the level names at their centroids, the plane's edge letters and the ruler."""
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(image)
    height, width = image.height, image.width
    size = max(11, min(28, int(min(height, width) / 22)))
    font = _font(size)
    for name, r, c, lit in labels:
        draw.text((c, r), name, fill=HIGHLIGHT_RGB if lit else (255, 255, 255), font=font,
                  anchor="mm", stroke_width=2, stroke_fill=(0, 0, 0))
    if orientation_labels:
        top, bottom, left, right = ORIENTATION_LABELS[plane]
        kw = {"fill": (255, 255, 0), "font": _font(max(12, size + 2)), "stroke_width": 2,
              "stroke_fill": (0, 0, 0)}
        pad = 3
        draw.text((width / 2, pad), top, anchor="mt", **kw)
        draw.text((width / 2, height - pad), bottom, anchor="mb", **kw)
        draw.text((pad, height / 2), left, anchor="lm", **kw)
        draw.text((width - pad, height / 2), right, anchor="rm", **kw)
    if ruler is not None:
        _draw_ruler(draw, ruler[0], ruler[1], ruler[2], size)
    return np.asarray(image), tuple(name for name, *_ in labels)


def _overlays(rgb: np.ndarray, grid: _Grid, plane: str, index: int, opts: dict[str, Any],
              vertebrae: np.ndarray | None, lesions: np.ndarray | None
              ) -> tuple[list[_Label], int]:
    """Level fills and borders, lesion fills and outlines; (labels, lesion voxels)."""
    labels: list[_Label] = []
    lab = None
    if vertebrae is not None:
        lab = grid.resample(plane_slice(vertebrae, plane, index), order=0).astype(np.int64)
        if opts["show_levels"]:
            labels = _overlay_levels(rgb, lab, opts["opacity"], opts["level_names"],
                                     opts["highlight"])
    lesion_pixels = 0
    if lesions is not None:
        raw_les = plane_slice(lesions, plane, index) > 0
        lesion_pixels = int(raw_les.sum())
        if opts["show_lesions"] and lesion_pixels:
            shown = grid.resample(raw_les.astype(np.uint8), order=0) > 0
            lit = None if lab is None or not opts["highlight"] else np.isin(
                lab, list(opts["highlight"]))
            _overlay_lesions(rgb, shown, opts["opacity"], fill=opts["lesion_fill"], lit=lit)
    return labels, lesion_pixels


def render_slice(
    volume: np.ndarray,
    spacing_xyz: tuple[float, float, float],
    plane: str,
    index: int,
    window: float,
    level: float,
    *,
    vertebrae: np.ndarray | None = None,
    lesions: np.ndarray | None = None,
    level_names: Mapping[int, str] | None = None,
    opacity: float = 0.35,
    show_levels: bool = True,
    show_lesions: bool = True,
    target_px: int = 560,
    orientation_labels: bool = True,
    min_aspect: float = 0.5,
    lesion_fill: bool = True,
    highlight: Collection[int] = (),
    viewport: Viewport | None = None,
    ruler: RulerMark | None = None,
) -> SliceRender:
    """Render one slice as RGB with overlays, square physical pixels and edge letters.

    ``volume`` is ``[z, y, x]`` (canonical LPS) with ``spacing_xyz`` in mm as SimpleITK
    reports it; ``window``/``level`` are the display width and centre (intensity units).
    ``vertebrae`` (labels, 0 background) and ``lesions`` lie on the same grid;
    ``level_names`` (label -> name) are written at each level's centroid. Levels blend at
    ``opacity``, lesions fill at ``min(1, opacity + 0.35)`` (``lesion_fill``) and are
    always outlined. ``highlight`` labels get yellow borders (the others fade).
    ``viewport`` zooms (resampled from the voxels); ``ruler`` is drawn with its length on
    the slice it was measured on. Narrow slices are padded with black to ``min_aspect``
    (width/height or its inverse) so labels stay legible; nothing is stretched.
    """
    _check_inputs(volume, opacity, vertebrae, lesions)
    row_mm, col_mm = plane_spacing(spacing_xyz, plane)
    raw = plane_slice(volume, plane, index)
    grid = _Grid.of(raw.shape, row_mm, col_mm, target_px, viewport or Viewport())
    grey = apply_window(grid.resample(raw, order=1), window, level)
    rgb = np.repeat((grey * 255.0)[..., None], 3, axis=2)
    opts = {"opacity": opacity, "show_levels": show_levels, "show_lesions": show_lesions,
            "level_names": level_names, "highlight": set(highlight), "lesion_fill": lesion_fill}
    labels, lesion_pixels = _overlays(rgb, grid, plane, index, opts, vertebrae, lesions)
    rgb, (pad_top, pad_left) = _pad_to_aspect(rgb, min_aspect)
    labels = [(n, r + pad_top, c + pad_left, lit) for n, r, c, lit in labels]
    display = DisplayMap(grid.pixel_mm, (row_mm, col_mm),
                         (grid.origin[0] - pad_top, grid.origin[1] - pad_left), rgb.shape[:2],
                         grid.crop)
    drawn_ruler = None
    if ruler is not None and ruler.index == index:
        drawn_ruler = (display.to_display(ruler.p0), display.to_display(ruler.p1), ruler.mm)
    out, drawn = _annotate(rgb, labels, plane, orientation_labels, drawn_ruler)
    return SliceRender(rgb=out, pixel_mm=grid.pixel_mm, plane=plane, index=index,
                       labels_drawn=drawn, lesion_pixels=lesion_pixels, display=display)


def key_slice(plane: str, shape_zyx: tuple[int, ...], *, lesions: np.ndarray | None = None,
              vertebrae: np.ndarray | None = None) -> int:
    """The slice with the most lesion voxels; else the most vertebra voxels; else the middle
    (:func:`core.view_geometry.densest_slice`)."""
    _check_plane(plane)
    return densest_slice(shape_zyx, PLANE_AXIS[plane], lesions, vertebrae)


def jump_slice(plane: str, vertebrae: np.ndarray, label: int,
               lesions: np.ndarray | None = None) -> int:
    """The ``plane`` slice to jump to for a level: the one with most of its lesion voxels,
    else through its centre (:func:`core.view_geometry.level_slice`)."""
    _check_plane(plane)
    return level_slice(vertebrae, label, PLANE_AXIS[plane], lesions)


def labels_of(level_names: Mapping[int, str], names: Collection[str]) -> set[int]:
    """Vertebra labels of level ``names`` (those not in the image are left out)."""
    wanted = set(names)
    return {int(k) for k, v in level_names.items() if v in wanted}


def display_width(rgb: np.ndarray, *, max_height_px: int = 680,
                  max_width_px: int = 900) -> int:
    """Screen width for ``st.image`` so that tall slices stay within ``max_height_px``
    (the aspect ratio is kept: the browser scales the height with the width)."""
    height, width = rgb.shape[:2]
    return int(max(120, min(max_width_px, max_height_px * width / max(height, 1))))


def static_key_image(volume: np.ndarray, spacing_xyz: tuple[float, float, float], *,
                     vertebrae: np.ndarray | None, lesions: np.ndarray | None,
                     level_names: Mapping[int, str] | None,
                     plane: str = "sagittal", target_px: int = 640) -> SliceRender:
    """Key image for projection: the ``plane`` slice with the most lesion voxels."""
    index = key_slice(plane, volume.shape, lesions=lesions, vertebrae=vertebrae)
    window, level = auto_window(volume)
    return render_slice(volume, spacing_xyz, plane, index, window, level,
                        vertebrae=vertebrae, lesions=lesions, level_names=level_names,
                        opacity=0.35, target_px=target_px)
