"""Slice viewer: sagittal / coronal / axial planes with level and lesion overlays.

The pure part (:func:`render_slice`, :func:`auto_window`, :func:`key_slice`) works on
numpy arrays in the canonical orientation of :mod:`core.io` (array ``[z, y, x]`` =
``[S, P, L]``, i.e. index increases towards superior, posterior and patient-left) and
returns an RGB ``uint8`` image whose pixels are square in millimetres: every display
row/column is resampled by the voxel spacing, so anisotropic images keep their real
proportions. Display conventions (radiological):

* axial: anterior at the top, patient right on the viewer's left;
* coronal: superior at the top, patient right on the viewer's left;
* sagittal: superior at the top, anterior on the viewer's left.

:func:`slice_viewer` adds the Streamlit widgets (plane, slice, window/level, overlay
opacity) with stable keys ``<prefix>_plane``, ``<prefix>_slice_<plane>``,
``<prefix>_window``, ``<prefix>_level``, ``<prefix>_opacity``, ``<prefix>_show_levels``,
``<prefix>_show_lesions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

PLANES: tuple[str, ...] = ("sagittal", "coronal", "axial")

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


@dataclass(frozen=True)
class SliceRender:
    """One rendered slice.

    Attributes
    ----------
    rgb : numpy.ndarray
        ``(rows, cols, 3)`` uint8, square display pixels of ``pixel_mm`` millimetres.
    pixel_mm : float
        Physical size of one display pixel.
    plane : str
        ``sagittal``, ``coronal`` or ``axial``.
    index : int
        Slice index along the plane's normal axis (array index).
    labels_drawn : tuple of str
        Level names written on the image.
    lesion_pixels : int
        Lesion voxels in this slice (before resampling).
    """

    rgb: np.ndarray
    pixel_mm: float
    plane: str
    index: int
    labels_drawn: tuple[str, ...] = field(default=())
    lesion_pixels: int = 0


def _check_plane(plane: str) -> None:
    if plane not in PLANES:
        raise ValueError(f"plane {plane!r} is not one of {', '.join(PLANES)}.")


def n_slices(shape_zyx: tuple[int, ...], plane: str) -> int:
    """Number of slices of a ``[z, y, x]`` volume in ``plane``."""
    _check_plane(plane)
    return int({"axial": shape_zyx[0], "coronal": shape_zyx[1], "sagittal": shape_zyx[2]}[plane])


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


def resample_to_square(slice2d: np.ndarray, row_mm: float, col_mm: float, pixel_mm: float,
                       *, order: int) -> np.ndarray:
    """Resample a slice so that each output pixel is ``pixel_mm`` square.

    Pixel centres are aligned (``src = (dst + 0.5) * pixel_mm / spacing - 0.5``);
    ``order=0`` (nearest) for label maps, ``order=1`` (linear) for intensities.
    """
    out_rows, out_cols = _display_shape(slice2d.shape, row_mm, col_mm, pixel_mm)
    rows = (np.arange(out_rows) + 0.5) * pixel_mm / row_mm - 0.5
    cols = (np.arange(out_cols) + 0.5) * pixel_mm / col_mm - 0.5
    rows = np.clip(rows, 0, slice2d.shape[0] - 1)
    cols = np.clip(cols, 0, slice2d.shape[1] - 1)
    if order == 0:
        r = np.rint(rows).astype(int)
        c = np.rint(cols).astype(int)
        return slice2d[np.ix_(r, c)]
    grid = np.meshgrid(rows, cols, indexing="ij")
    return ndimage.map_coordinates(slice2d.astype(np.float32), grid, order=order,
                                   mode="nearest")


def display_pixel_mm(shape2d: tuple[int, int], row_mm: float, col_mm: float,
                     target_px: int = 560) -> float:
    """Display pixel size so the longer side is about ``target_px`` pixels."""
    extent = max(shape2d[0] * row_mm, shape2d[1] * col_mm)
    # Never coarser than the finest native spacing (no information is thrown away).
    return min(extent / float(target_px), min(row_mm, col_mm))


def _pad_to_aspect(rgb: np.ndarray, min_aspect: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad with black so that ``min(h, w) / max(h, w) >= min_aspect``; return the offsets."""
    height, width = rgb.shape[:2]
    want_w = int(np.ceil(min_aspect * height))
    want_h = int(np.ceil(min_aspect * width))
    pad_w = max(0, want_w - width)
    pad_h = max(0, want_h - height)
    if not pad_w and not pad_h:
        return rgb, (0, 0)
    top, left = pad_h // 2, pad_w // 2
    out = np.zeros((height + pad_h, width + pad_w, 3), dtype=rgb.dtype)
    out[top:top + height, left:left + width] = rgb
    return out, (top, left)


def level_colour(label: int) -> tuple[int, int, int]:
    """Stable colour of a vertebra label."""
    return LEVEL_PALETTE[int(label) % len(LEVEL_PALETTE)]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # pragma: no cover - very old Pillow without FreeType
        return ImageFont.load_default()


@dataclass(frozen=True)
class _Grid:
    """Display geometry of one slice: spacing of its rows and columns and the square
    display pixel, all in mm."""

    row_mm: float
    col_mm: float
    pixel_mm: float

    def resample(self, slice2d: np.ndarray, *, order: int) -> np.ndarray:
        return resample_to_square(slice2d, self.row_mm, self.col_mm, self.pixel_mm,
                                  order=order)


def _check_inputs(volume: np.ndarray, opacity: float, vertebrae: np.ndarray | None,
                  lesions: np.ndarray | None) -> None:
    if volume.ndim != 3:
        raise ValueError(f"the image has {volume.ndim} dimensions; a 3-D volume is needed.")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity {opacity:g} is outside 0-1.")
    for name, arr in (("vertebra label map", vertebrae), ("lesion mask", lesions)):
        if arr is not None and arr.shape != volume.shape:
            raise ValueError(f"the {name} grid {arr.shape} differs from the image {volume.shape}.")


_Label = tuple[str, float, float]


def _overlay_levels(rgb: np.ndarray, labels2d: np.ndarray, opacity: float,
                    level_names: Mapping[int, str] | None) -> list[_Label]:
    """Blend each level's colour into ``rgb``; returns (name, row, col) of each centroid."""
    positions: list[_Label] = []
    for value in (int(v) for v in np.unique(labels2d) if v != 0):
        sel = labels2d == value
        colour = np.array(level_colour(value), dtype=np.float64)
        rgb[sel] = (1.0 - opacity) * rgb[sel] + opacity * colour
        rows, cols = np.nonzero(sel)
        positions.append(((level_names or {}).get(value, str(value)), float(rows.mean()),
                          float(cols.mean())))
    return positions


def _overlay_lesions(rgb: np.ndarray, lesions2d: np.ndarray, opacity: float) -> None:
    """Blend lesion pixels in red, more opaque than the levels so they stand out."""
    alpha = min(1.0, opacity + 0.35)
    rgb[lesions2d] = (1.0 - alpha) * rgb[lesions2d] + alpha * np.array(LESION_RGB, float)


def _annotate(rgb: np.ndarray, labels: list[_Label], plane: str,
              orientation_labels: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """Write the level names at their centroids and the plane's edge letters."""
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(image)
    height, width = image.height, image.width
    size = max(11, min(28, int(min(height, width) / 22)))
    font = _font(size)
    for name, r, c in labels:
        draw.text((c, r), name, fill=(255, 255, 255), font=font, anchor="mm",
                  stroke_width=2, stroke_fill=(0, 0, 0))
    if orientation_labels:
        top, bottom, left, right = ORIENTATION_LABELS[plane]
        kw = {"fill": (255, 255, 0), "font": _font(max(12, size + 2)), "stroke_width": 2,
              "stroke_fill": (0, 0, 0)}
        pad = 3
        draw.text((width / 2, pad), top, anchor="mt", **kw)
        draw.text((width / 2, height - pad), bottom, anchor="mb", **kw)
        draw.text((pad, height / 2), left, anchor="lm", **kw)
        draw.text((width - pad, height / 2), right, anchor="rm", **kw)
    return np.asarray(image), tuple(name for name, _, _ in labels)


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
) -> SliceRender:
    """Render one slice as RGB with overlays, square physical pixels and edge letters.

    Parameters
    ----------
    volume : numpy.ndarray
        ``[z, y, x]`` intensities (canonical LPS).
    spacing_xyz : tuple of float
        Voxel spacing in mm as SimpleITK reports it, ``(x, y, z)``.
    plane, index : str, int
        Plane and slice index along its normal.
    window, level : float
        Display window width and centre (intensity units).
    vertebrae, lesions : numpy.ndarray, optional
        Label map (0 background) and lesion mask on the same grid as ``volume``.
    level_names : mapping of int to str, optional
        Vertebra label -> level name, written at each level's centroid in the slice.
    opacity : float
        Overlay opacity in ``[0, 1]``; lesions are drawn at
        ``min(1, opacity + 0.35)`` so they stand out from the level colours.
    min_aspect : float
        Very narrow slices (a sagittal strip) are padded with black on both sides up
        to this width/height ratio (and vice versa) so labels stay legible; the image
        itself is never stretched.

    Returns
    -------
    SliceRender
    """
    _check_inputs(volume, opacity, vertebrae, lesions)
    row_mm, col_mm = plane_spacing(spacing_xyz, plane)
    raw = plane_slice(volume, plane, index)
    grid = _Grid(row_mm, col_mm, display_pixel_mm(raw.shape, row_mm, col_mm, target_px))
    grey = apply_window(grid.resample(raw, order=1), window, level)
    rgb = np.repeat((grey * 255.0)[..., None], 3, axis=2)
    labels: list[_Label] = []
    if vertebrae is not None and show_levels:
        lab = grid.resample(plane_slice(vertebrae, plane, index), order=0).astype(np.int64)
        labels = _overlay_levels(rgb, lab, opacity, level_names)
    lesion_pixels = 0
    if lesions is not None:
        raw_les = plane_slice(lesions, plane, index) > 0
        lesion_pixels = int(raw_les.sum())
        if show_lesions and lesion_pixels:
            _overlay_lesions(rgb, grid.resample(raw_les.astype(np.uint8), order=0) > 0, opacity)
    rgb, (pad_top, pad_left) = _pad_to_aspect(rgb, min_aspect)
    labels = [(n, r + pad_top, c + pad_left) for n, r, c in labels]
    out, drawn = _annotate(rgb, labels, plane, orientation_labels)
    return SliceRender(rgb=out, pixel_mm=grid.pixel_mm, plane=plane, index=index,
                       labels_drawn=drawn, lesion_pixels=lesion_pixels)


def key_slice(plane: str, shape_zyx: tuple[int, ...], *, lesions: np.ndarray | None = None,
              vertebrae: np.ndarray | None = None) -> int:
    """The slice with the most lesion voxels; else the most vertebra voxels; else the middle."""
    _check_plane(plane)
    axis = {"axial": (1, 2), "coronal": (0, 2), "sagittal": (0, 1)}[plane]
    for mask in (lesions, vertebrae):
        if mask is not None and np.any(mask):
            counts = (mask > 0).sum(axis=axis)
            return int(np.argmax(counts))
    return n_slices(shape_zyx, plane) // 2


def display_width(rgb: np.ndarray, *, max_height_px: int = 680,
                  max_width_px: int = 900) -> int:
    """Screen width for ``st.image`` so that tall slices stay within ``max_height_px``
    (the aspect ratio is kept: the browser scales the height with the width)."""
    height, width = rgb.shape[:2]
    return int(max(120, min(max_width_px, max_height_px * width / max(height, 1))))


# --------------------------------------------------------------------------- streamlit


@dataclass(frozen=True)
class _Ranges:
    """Slider ranges of one image: intensity range, slider step, automatic window/level."""

    vmin: float
    vmax: float
    span: float
    step: float
    auto_window: float
    auto_level: float


def _ranges(volume: np.ndarray) -> _Ranges:
    auto_w, auto_l = auto_window(volume)
    finite = volume[np.isfinite(volume)]
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    if vmax <= vmin:
        vmax = vmin + 1.0
    span = vmax - vmin
    step = float(10 ** np.floor(np.log10(span / 200.0))) if span > 0 else 0.01
    return _Ranges(vmin, vmax, span, step, auto_w, auto_l)


def _state_keys(prefix: str) -> tuple[str, ...]:
    """Session keys of the viewer's widgets."""
    return (f"{prefix}_plane", f"{prefix}_window", f"{prefix}_level", f"{prefix}_opacity",
            f"{prefix}_show_levels", f"{prefix}_show_lesions",
            *(f"{prefix}_slice_{p}" for p in PLANES))


def _defaults(prefix: str, volume: np.ndarray, ranges: _Ranges, default_plane: str,
              vertebrae: np.ndarray | None, lesions: np.ndarray | None) -> dict[str, object]:
    """Initial widget values: auto window, key slice with the most lesion voxels."""
    out: dict[str, object] = {f"{prefix}_plane": default_plane}
    for plane in PLANES:
        out[f"{prefix}_slice_{plane}"] = key_slice(plane, volume.shape, lesions=lesions,
                                                   vertebrae=vertebrae)
    out[f"{prefix}_window"] = float(min(max(ranges.auto_window, ranges.step), ranges.span))
    out[f"{prefix}_level"] = float(min(max(ranges.auto_level, ranges.vmin), ranges.vmax))
    out[f"{prefix}_opacity"] = 0.35
    out[f"{prefix}_show_levels"] = True
    out[f"{prefix}_show_lesions"] = True
    return out


def _prepare_state(prefix: str, volume: np.ndarray, image_id: str, default_plane: str,
                   vertebrae: np.ndarray | None, lesions: np.ndarray | None) -> _Ranges:
    """Reset the widgets for a new image; restore missing ones after a page switch."""
    ss = st.session_state
    new_image = ss.get(f"{prefix}_image_id") != image_id
    ranges_key = f"{prefix}_ranges"
    if new_image or ranges_key not in ss:
        # Intensity range and auto window once per image, not on every slider move.
        ss[ranges_key] = _ranges(volume)
    ranges: _Ranges = ss[ranges_key]
    if new_image:
        ss[f"{prefix}_image_id"] = image_id
        ss.update(_defaults(prefix, volume, ranges, default_plane, vertebrae, lesions))
    elif any(k not in ss for k in _state_keys(prefix)):
        # Back from another page: Streamlit dropped the widget values; without this
        # the window slider fell to its minimum and the slice went black/white.
        defaults = _defaults(prefix, volume, ranges, default_plane, vertebrae, lesions)
        for k, v in defaults.items():
            if k not in ss:
                ss[k] = v
    return ranges


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


def _controls(prefix: str, shape: tuple[int, ...], ranges: _Ranges, default_plane: str,
              has_levels: bool, has_lesions: bool) -> _Controls:
    ss, keep = st.session_state, "session"
    plane = st.segmented_control("Plane", PLANES, key=f"{prefix}_plane",
                                 persist_state=keep) or default_plane
    count = n_slices(shape, plane)
    slice_key = f"{prefix}_slice_{plane}"
    if slice_key not in ss or not 0 <= int(ss[slice_key]) < count:
        ss[slice_key] = count // 2
    index = st.slider("Slice", 0, max(count - 1, 1), key=slice_key, persist_state=keep,
                      disabled=count <= 1, help="Slice index along the plane's normal axis.")
    window = st.slider("Window (width)", float(ranges.step), float(ranges.span),
                       step=ranges.step, key=f"{prefix}_window", persist_state=keep,
                       help="Default from the 1st-99th intensity percentiles.")
    level = st.slider("Level (centre)", float(ranges.vmin), float(ranges.vmax),
                      step=ranges.step, key=f"{prefix}_level", persist_state=keep)
    opacity = st.slider("Overlay opacity", 0.0, 1.0, step=0.05, key=f"{prefix}_opacity",
                        persist_state=keep)
    c1, c2 = st.columns(2)
    show_levels = c1.toggle("Levels", key=f"{prefix}_show_levels", persist_state=keep,
                            disabled=not has_levels)
    show_lesions = c2.toggle("Lesions", key=f"{prefix}_show_lesions", persist_state=keep,
                             disabled=not has_lesions)
    return _Controls(plane, min(int(index), count - 1), count, window, level, opacity,
                     show_levels, show_lesions)


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
) -> SliceRender:
    """Streamlit slice viewer with plane/slice/window/level/opacity widgets.

    Widget state is reset to sensible defaults (auto window from percentiles, key
    slice with the most lesion voxels) whenever ``image_id`` changes, so keys can stay
    stable for browser tests.
    """
    ranges = _prepare_state(prefix, volume, image_id, default_plane, vertebrae, lesions)
    controls, picture = st.columns([1, 2.4])
    with controls:
        ctl = _controls(prefix, volume.shape, ranges, default_plane, vertebrae is not None,
                        lesions is not None)
    render = render_slice(volume, spacing_xyz, ctl.plane, ctl.index, ctl.window, ctl.level,
                          vertebrae=vertebrae, lesions=lesions, level_names=level_names,
                          opacity=ctl.opacity, show_levels=ctl.show_levels,
                          show_lesions=ctl.show_lesions)
    with picture:
        text = caption or ""
        text += (f" {ctl.plane.capitalize()} slice {ctl.index + 1}/{ctl.count}; display pixel "
                 f"{render.pixel_mm:.2f} mm; lesion voxels in slice: {render.lesion_pixels}. "
                 "Levels coloured and labelled, lesions red.")
        st.image(render.rgb, caption=text.strip(), width=display_width(render.rgb))
    return render


def static_key_image(volume: np.ndarray, spacing_xyz: tuple[float, float, float], *,
                     vertebrae: np.ndarray | None, lesions: np.ndarray | None,
                     level_names: Mapping[int, str] | None,
                     plane: str = "sagittal") -> SliceRender:
    """Key image for projection: the ``plane`` slice with the most lesion voxels."""
    index = key_slice(plane, volume.shape, lesions=lesions, vertebrae=vertebrae)
    window, level = auto_window(volume)
    return render_slice(volume, spacing_xyz, plane, index, window, level,
                        vertebrae=vertebrae, lesions=lesions, level_names=level_names,
                        opacity=0.35, target_px=640)
