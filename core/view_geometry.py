"""Geometry of image viewing: distances in millimetres, the zoomed view, level slices.

Pure numpy; the slice viewer (:mod:`ui.slice_render`, :mod:`ui.viewer`) draws with it and
the tests check it without a browser.

* :func:`distance_mm`: the length of a segment between two voxel positions, each axis
  scaled by its own spacing (voxels are never assumed isotropic).
* :class:`Viewport`: the visible part of a slice as a zoom factor (1 = whole slice,
  at most :data:`MAX_ZOOM`) and a centre in fractions of the slice's height and width,
  clamped so the view never leaves the image; :meth:`Viewport.zoom_at` keeps the point
  under the cursor fixed (as OHIF and 3D Slicer do), :meth:`Viewport.pan` moves it.
* :func:`level_slice`: the slice that shows a vertebral level best along one array
  axis: the one with the most lesion voxels of that level, else the level's centre.
* :class:`DisplayMap`: where a displayed (square-pixel, zoomed, padded) slice image lies
  on the native slice; :func:`apply_view_event` turns the viewer tool bar's events
  (wheel, keys, zoom, pan, ruler) into the next :class:`ViewState`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

#: Largest zoom factor of a slice view.
MAX_ZOOM = 8.0


def distance_mm(p0: Sequence[float], p1: Sequence[float], spacing_mm: Sequence[float]) -> float:
    """Euclidean distance in mm between two positions given in voxel (index) units.

    ``p0``, ``p1`` and ``spacing_mm`` list the same axes in the same order, e.g.
    ``(row, col)`` of a slice with its ``(row_mm, col_mm)``: each difference is scaled by
    its own axis's spacing, so 10 voxels along 1 mm rows and 10 along 4 mm columns are
    10 mm and 40 mm.

    Raises
    ------
    ValueError
        For points and spacing of different lengths, or a spacing that is not a
        positive finite number.
    """
    a, b, s = (np.asarray(v, dtype=np.float64) for v in (p0, p1, spacing_mm))
    if not (a.shape == b.shape == s.shape) or a.ndim != 1:
        raise ValueError(f"points {tuple(a)} and {tuple(b)} and spacing {tuple(s)} do not "
                         "list the same axes.")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"spacing {tuple(s)} must be positive millimetres.")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("ruler end points must be finite positions.")
    return float(np.sqrt(np.sum(((b - a) * s) ** 2)))


def _clip(value: float, low: float, high: float) -> float:
    return float(min(max(value, low), high))


@dataclass(frozen=True)
class Viewport:
    """The visible part of a slice.

    Attributes
    ----------
    zoom : float
        1 shows the whole slice; 2 shows half its height and width.
    center : tuple of float
        ``(row, col)`` of the view's centre as fractions ``[0, 1]`` of the slice's
        height and width.
    """

    zoom: float = 1.0
    center: tuple[float, float] = (0.5, 0.5)

    def clamped(self) -> Viewport:
        """Zoom within ``[1, MAX_ZOOM]`` and the centre so that the view stays inside."""
        zoom = _clip(float(self.zoom) if np.isfinite(self.zoom) else 1.0, 1.0, MAX_ZOOM)
        half = 0.5 / zoom
        row, col = (float(c) if np.isfinite(c) else 0.5 for c in self.center)
        return Viewport(zoom, (_clip(row, half, 1 - half), _clip(col, half, 1 - half)))

    def bounds(self) -> tuple[float, float, float, float]:
        """``(top, bottom, left, right)`` of the view in fractions of the slice."""
        v = self.clamped()
        half = 0.5 / v.zoom
        (row, col) = v.center
        return row - half, row + half, col - half, col + half

    def crop(self, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(row0, row1, col0, col1)`` pixel box of a ``shape`` image (at least 1 px)."""
        top, bottom, left, right = self.bounds()
        rows, cols = int(shape[0]), int(shape[1])
        r0 = min(int(np.floor(top * rows + 1e-9)), rows - 1)
        c0 = min(int(np.floor(left * cols + 1e-9)), cols - 1)
        r1 = max(int(np.ceil(bottom * rows - 1e-9)), r0 + 1)
        c1 = max(int(np.ceil(right * cols - 1e-9)), c0 + 1)
        return r0, min(r1, rows), c0, min(c1, cols)

    def to_slice(self, point: Sequence[float]) -> tuple[float, float]:
        """A point of the view (fractions of the view) in fractions of the slice."""
        top, bottom, left, right = self.bounds()
        return top + float(point[0]) * (bottom - top), left + float(point[1]) * (right - left)

    def zoom_at(self, factor: float, point: Sequence[float] = (0.5, 0.5)) -> Viewport:
        """Zoom by ``factor`` keeping ``point`` (fractions of the view) where it is."""
        if not np.isfinite(factor) or factor <= 0:
            raise ValueError(f"zoom factor {factor!r} must be a positive number.")
        v = self.clamped()
        anchor = v.to_slice(point)
        zoom = _clip(v.zoom * float(factor), 1.0, MAX_ZOOM)
        # The anchor keeps its place in the view: centre = anchor + (0.5 - point) / zoom.
        center = (anchor[0] + (0.5 - float(point[0])) / zoom,
                  anchor[1] + (0.5 - float(point[1])) / zoom)
        return Viewport(zoom, center).clamped()

    def pan(self, delta: Sequence[float]) -> Viewport:
        """Move the image by ``delta`` = ``(rows, cols)`` in fractions of the view (a drag
        to the right by half the view's width is ``(0, 0.5)``: the image follows the
        cursor, so the centre moves the other way)."""
        v = self.clamped()
        return Viewport(v.zoom, (v.center[0] - float(delta[0]) / v.zoom,
                                 v.center[1] - float(delta[1]) / v.zoom)).clamped()


def outline(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """The ``width``-pixel inner border of a boolean mask (its pixels whose neighbourhood
    leaves it): lesion and level outlines."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return mask
    return mask & ~ndimage.binary_erosion(mask, iterations=width, border_value=0)


def densest_slice(shape: Sequence[int], axis: int, *masks: np.ndarray | None) -> int:
    """Index along ``axis`` of the slice with the most voxels of the first non-empty mask
    (e.g. lesions, then vertebrae); the middle slice when every mask is empty."""
    others = tuple(a for a in range(len(shape)) if a != axis)
    for mask in masks:
        if mask is not None and np.any(mask):
            return int(np.argmax((mask > 0).sum(axis=others)))
    return int(shape[axis]) // 2


def level_slice(vertebrae: np.ndarray, label: int, axis: int,
                lesions: np.ndarray | None = None) -> int:
    """Index along array ``axis`` of the slice that shows vertebra ``label`` best.

    The slice with the most lesion voxels inside that vertebra when it has any, else the
    slice through the vertebra's centre (mean voxel index along ``axis``).

    Raises
    ------
    ValueError
        When the label map has no voxel of ``label``, or ``axis`` is not an axis of it.
    """
    if not 0 <= axis < vertebrae.ndim:
        raise ValueError(f"axis {axis} is not an axis of a {vertebrae.ndim}-D label map.")
    mask = vertebrae == int(label)
    if not mask.any():
        raise ValueError(f"label {label} is not in the label map.")
    others = tuple(a for a in range(vertebrae.ndim) if a != axis)
    if lesions is not None:
        inside = mask & (lesions > 0)
        if inside.any():
            return int(np.argmax(inside.sum(axis=others)))
    counts = mask.sum(axis=others).astype(np.float64)
    centre = float((counts * np.arange(counts.size)).sum() / counts.sum())
    return round(centre)


# ------------------------------------------------------------------ displayed slices


@dataclass(frozen=True)
class DisplayMap:
    """How a displayed slice image lies on its native slice.

    Attributes
    ----------
    pixel_mm : float
        Size of a (square) display pixel.
    spacing_rc : tuple of float
        ``(row_mm, col_mm)`` of the native slice (often different).
    offset : tuple of int
        Display pixel ``(y, x)`` is pixel ``(y + offset[0], x + offset[1])`` of the whole
        slice's display grid (the zoomed crop's origin minus any black padding).
    shape : tuple of int
        ``(rows, cols)`` of the displayed image.
    crop : tuple of int
        ``(row0, row1, col0, col1)`` of the zoomed part in the whole slice's display grid.
    """

    pixel_mm: float
    spacing_rc: tuple[float, float]
    offset: tuple[int, int] = (0, 0)
    shape: tuple[int, int] = (1, 1)
    crop: tuple[int, int, int, int] = (0, 1, 0, 1)

    def to_slice(self, point: Sequence[float]) -> tuple[float, float]:
        """Display pixel ``(y, x)`` -> native slice position ``(row, col)`` (pixel centres
        aligned: ``src = (dst + 0.5) * pixel_mm / spacing - 0.5``)."""
        return tuple(  # type: ignore[return-value]
            (float(point[i]) + self.offset[i] + 0.5) * self.pixel_mm / self.spacing_rc[i] - 0.5
            for i in (0, 1))

    def to_display(self, point: Sequence[float]) -> tuple[float, float]:
        """Native slice position ``(row, col)`` -> display pixel ``(y, x)``."""
        return tuple(  # type: ignore[return-value]
            (float(point[i]) + 0.5) * self.spacing_rc[i] / self.pixel_mm - 0.5 - self.offset[i]
            for i in (0, 1))

    def view_point(self, fractions: Sequence[float]) -> tuple[float, float]:
        """A point given in fractions of the displayed image, in fractions of the view."""
        out = []
        for i in (0, 1):
            grid_px = float(fractions[i]) * self.shape[i] + self.offset[i]
            lo, hi = self.crop[2 * i], self.crop[2 * i + 1]
            out.append((grid_px - lo) / max(hi - lo, 1))
        return out[0], out[1]

    def view_delta(self, fractions: Sequence[float]) -> tuple[float, float]:
        """A move given in fractions of the displayed image, in fractions of the view."""
        return tuple(  # type: ignore[return-value]
            float(fractions[i]) * self.shape[i] / max(self.crop[2 * i + 1] - self.crop[2 * i], 1)
            for i in (0, 1))


@dataclass(frozen=True)
class RulerMark:
    """A distance measured on slice ``index``: native ``(row, col)`` end points and mm."""

    index: int
    p0: tuple[float, float]
    p1: tuple[float, float]
    mm: float


@dataclass(frozen=True)
class ViewState:
    """One plane of a slice viewer: slice ``index`` of ``count``, the viewport and the
    ruler (``None``: none on this plane)."""

    index: int
    count: int
    viewport: Viewport = Viewport()
    ruler: RulerMark | None = None


def _number(value: object, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a number.") from None
    if not np.isfinite(number):
        raise ValueError(f"{what} {value!r} is not finite.")
    return number


def _pair(value: object, what: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a pair of numbers.") from None
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"{what} {value!r} is not finite.")
    return a, b


def apply_view_event(event: Mapping[str, object], state: ViewState,
                     display: DisplayMap | None) -> ViewState:
    """The viewer after one event of its tool bar.

    Events (``type``): ``slice`` (to slice ``index``, or ``delta`` slices on; kept
    within the stack); ``zoom``
    (``factor`` at ``point``, fractions of the displayed image; at the centre without
    one); ``pan`` (``delta``, fractions of the displayed image); ``ruler`` (``p0``,
    ``p1``, fractions of the displayed image: measured on the native slice, each axis
    with its own spacing, :func:`distance_mm`); ``reset`` (whole slice, no ruler).
    Events that need ``display`` (the last render) are ignored without it.

    Raises
    ------
    ValueError
        For an unknown event type or malformed values.
    """
    kind = event.get("type")
    view = state.viewport.clamped()
    if kind == "slice":
        if event.get("index") is not None:
            index = round(_number(event["index"], "slice index"))
        else:
            index = state.index + round(_number(event.get("delta") or 0, "slice step"))
        return replace(state, index=min(max(index, 0), max(state.count - 1, 0)))
    if kind == "reset":
        return replace(state, viewport=Viewport(), ruler=None)
    if kind == "zoom":
        factor = _number(event.get("factor") or 1.0, "zoom factor")
        point = (0.5, 0.5)
        if display is not None and event.get("point") is not None:
            point = display.view_point(_pair(event["point"], "zoom point"))
        return replace(state, viewport=view.zoom_at(factor, point))
    if kind == "pan":
        if display is None:
            return state
        return replace(state, viewport=view.pan(display.view_delta(_pair(event.get("delta"),
                                                                          "pan"))))
    if kind == "ruler":
        if display is None:
            return state
        ends = [display.to_slice(np.multiply(_pair(event.get(k), "ruler end"), display.shape))
                for k in ("p0", "p1")]
        mm = distance_mm(ends[0], ends[1], display.spacing_rc)
        return replace(state, ruler=RulerMark(state.index, ends[0], ends[1], mm))
    raise ValueError(f"viewer event {kind!r} is not one of slice, zoom, pan, ruler, reset.")
