"""Canonical orientation: validate a decoded image and re-orient it to LPS in one copy.

:func:`canonical` squeezes a singleton 4th dimension, refuses what is not one 3-D scalar
volume (complex or vector voxels, zero-size or single-slice axes, spacing outside
``[MIN_SPACING_MM, MAX_SPACING_MM]``, non-finite origin, a direction that is not a
rotation, NaN or infinite voxels, an image of one constant value; for label maps
fractional, negative or too large labels) and re-orients to LPS exactly as
``sitk.DICOMOrient(img, "LPS")`` would: the numpy view is ``[z, y, x]`` = ``[S, P, L]``.
The direction is the identity for axis-aligned inputs (float noise below 1e-6 is
snapped to it); an oblique acquisition keeps its residual rotation, since only axes are
permuted and flipped and nothing is resampled.

Memory: the axis permutation and flips are taken from ``DICOMOrientImageFilter`` run on
a 2x2x2 probe of the same geometry, and the output (float32 for an image, ``uint16`` or
``uint32`` for a label map) is filled slab by slab from a numpy view of the decoded
buffer, so the cast and the re-orientation are one copy and the decoded buffer plus the
output are the only volume-sized allocations (:mod:`core.io.budget`). An input that is
already LPS in the output type is returned without any copy. Checks (finite values,
constant image, label values) run on slabs too, never on a volume-sized temporary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from core.io import budget, limits

#: Voxels per slab of the slab-wise copy and checks (32 MiB as float32).
SLAB_VOXELS: int = 1 << 23
#: Voxels per slab while the buffer is still being decoded (``Volume.ready``): smaller,
#: so that little conversion is left once the decoder has finished.
STREAMED_SLAB_VOXELS: int = 1 << 20
_COMPLEX_IDS = {sitk.sitkComplexFloat32, sitk.sitkComplexFloat64}


@dataclass(frozen=True)
class Volume:
    """A decoded 3-D volume before re-orientation: voxels and geometry.

    ``array`` is the numpy ``[z, y, x]`` view (of ``image`` when the decoder was ITK, else
    its own buffer, e.g. a NIfTI inflated by :mod:`core.io.nifti`); ``scale`` is a
    (slope, intercept) pair applied while converting (NIfTI scl_slope/scl_inter).
    """

    array: np.ndarray
    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: np.ndarray
    direction: np.ndarray  # 3x3, columns = axis directions
    scale: tuple[float, float] | None = None
    image: sitk.Image | None = None  # keeps the buffer of ``array`` alive
    #: Blocks until the first ``n`` planes of ``array`` (axis 0, the decoded order) are
    #: decoded, raising the decoder's error; ``None`` when the whole buffer is decoded.
    ready: Callable[[int], None] | None = None


def canonical(source: sitk.Image | Volume, *, what: str,
              label_map: bool) -> tuple[sitk.Image, str]:
    """Validate a raw image and re-orient it to LPS; return it and the input's code.

    The output is ``sitkFloat32`` for an image and ``sitkUInt16`` (``sitkUInt32`` above
    65535) for a label map; its metadata dictionary is empty.
    """
    grid = source if isinstance(source, Volume) else volume_from_image(source, what=what)
    _check_geometry(grid, what=what)
    orientation = sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(
        tuple(grid.direction.ravel()))
    out_id = _label_pixel_id(grid, what=what) if label_map else sitk.sitkFloat32
    out_dtype = sitk.GetArrayViewFromImage(sitk.Image([1, 1, 1], out_id)).dtype
    image = grid.image
    if (orientation == "LPS" and image is not None and image.GetDimension() == 3
            and grid.array.dtype == out_dtype and grid.scale is None):
        _ready(grid, grid.array.shape[0])
        for _ in _checked(_slabs(grid.array), what=what, label_map=label_map):
            pass
        out = image
        clear_metadata(out)
    else:
        out = _reoriented(grid, out_id, out_dtype, what=what, label_map=label_map)
    canonical_dir = np.array(out.GetDirection()).reshape(3, 3)
    if np.allclose(canonical_dir, np.eye(3), rtol=0.0, atol=1e-6):
        # float noise from the header; snap so that grids compare exactly downstream
        out.SetDirection(tuple(np.eye(3).ravel()))
    return out, orientation


def volume_from_header(array: np.ndarray, header: sitk.ImageFileReader, *,
                       scale: tuple[float, float] | None) -> Volume:
    """A volume from a decoded buffer and ITK's reading of its header (3-D, or 4-D of one)."""
    dim = header.GetDimension()
    size = header.GetSize()
    return Volume(array=array[0] if dim == 4 else array, size=(size[0], size[1], size[2]),
                  spacing=tuple(float(v) for v in header.GetSpacing()[:3]),  # type: ignore[arg-type]
                  origin=np.array(header.GetOrigin()[:3], dtype=float),
                  direction=np.array(header.GetDirection(), dtype=float)
                  .reshape(dim, dim)[:3, :3], scale=scale)


def volume_from_image(image: sitk.Image, *, what: str) -> Volume:
    """The 3-D scalar volume; a singleton 4th dimension is dropped, anything else refused."""
    if image.GetPixelID() in _COMPLEX_IDS:
        raise ValueError(f"The {what} has complex voxel values; a real-valued volume is needed.")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(
            f"The {what} has {image.GetNumberOfComponentsPerPixel()} values per voxel "
            "(a 4-D or vector image); one 3-D volume is needed."
        )
    dim = image.GetDimension()
    size = image.GetSize()
    array = sitk.GetArrayViewFromImage(image)
    if dim == 4:
        if size[3] != 1:
            raise ValueError(
                f"The {what} is 4-D with {size[3]} volumes; one 3-D volume is needed."
            )
        array = array[0]
    elif dim != 3:
        raise ValueError(f"The {what} is {dim}-D; a 3-D volume is needed.")
    direction = np.array(image.GetDirection(), dtype=float).reshape(dim, dim)[:3, :3]
    return Volume(array=array, size=(size[0], size[1], size[2]),
                  spacing=tuple(float(v) for v in image.GetSpacing()[:3]),  # type: ignore[arg-type]
                  origin=np.array(image.GetOrigin()[:3], dtype=float), direction=direction,
                  image=image)


def _check_geometry(grid: Volume, *, what: str) -> None:
    if any(n == 0 for n in grid.size):
        raise ValueError(f"The {what} is empty: one of its dimensions has size 0.")
    if any(n == 1 for n in grid.size):
        raise ValueError(
            f"The {what} has a single slice along one axis; a 3-D volume is needed."
        )
    for value in grid.spacing:
        if (not math.isfinite(value)
                or not limits.MIN_SPACING_MM <= value <= limits.MAX_SPACING_MM):
            raise limits.spacing_error(value, what)
    if not np.all(np.isfinite(grid.origin)):
        raise ValueError(f"The {what} origin is not a finite point.")
    direction = grid.direction
    if (not np.all(np.isfinite(direction))
            or not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4)):
        raise ValueError(f"The {what} direction matrix is not a rotation.")


def _slabs(array: np.ndarray, voxels: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, array[start:stop])`` slabs along axis 0 of about ``voxels`` voxels
    (``SLAB_VOXELS`` by default)."""
    per_plane = max(1, int(np.prod(array.shape[1:])))
    step = max(1, (voxels or SLAB_VOXELS) // per_plane)
    for start in range(0, array.shape[0], step):
        yield start, array[start : start + step]


def _ready(grid: Volume, planes: int) -> None:
    """Wait until the first ``planes`` planes of the decoded buffer are there."""
    if grid.ready is not None:
        grid.ready(planes)


def _scaled(slab: np.ndarray, scale: tuple[float, float] | None) -> np.ndarray:
    """The slab's values after NIfTI scaling (float64), or the slab itself."""
    if scale is None:
        return slab
    return slab * np.float64(scale[0]) + np.float64(scale[1])


def _label_pixel_id(grid: Volume, *, what: str) -> int:
    """Check label values slab by slab; ``sitkUInt16``, or ``sitkUInt32`` above 65535."""
    low, high = 0.0, 0.0
    for start, raw in _slabs(grid.array):
        _ready(grid, start + raw.shape[0])
        slab = _scaled(raw, grid.scale)
        if slab.dtype.kind == "f":
            if not np.isfinite(slab).all():
                raise ValueError(f"The {what} has NaN or infinite voxel values.")
            fractional = np.modf(slab)[0] != 0
            if fractional.any():
                example = float(slab[fractional].flat[0])
                raise ValueError(
                    f"The label map has non-integer values (e.g. {example:g}); labels must "
                    "be whole numbers."
                )
        low, high = min(low, float(slab.min())), max(high, float(slab.max()))
    if low < 0:
        raise ValueError(f"The label map has a negative label ({low:g}).")
    if high <= np.iinfo(np.uint16).max:
        return sitk.sitkUInt16
    if high <= np.iinfo(np.uint32).max:
        budget.check_budget(int(grid.array.size) * (grid.array.dtype.itemsize + 4), what)
        return sitk.sitkUInt32
    raise ValueError(f"The label map has a label ({high:g}) larger than 4294967295.")


def _lps_geometry(grid: Volume) -> tuple[tuple[int, ...], tuple[bool, ...], sitk.Image]:
    """Permutation, flips and output geometry of DICOMOrient(LPS), from a 2x2x2 probe."""
    probe = sitk.Image([2, 2, 2], sitk.sitkUInt8)
    probe.SetSpacing(grid.spacing)
    probe.SetDirection(tuple(float(v) for v in grid.direction.ravel()))
    orienter = sitk.DICOMOrientImageFilter()
    orienter.SetDesiredCoordinateOrientation("LPS")
    header = orienter.Execute(probe)
    return tuple(orienter.GetPermuteOrder()), tuple(orienter.GetFlipAxes()), header


def _reoriented(grid: Volume, out_id: int, out_dtype: np.dtype, *, what: str,
                label_map: bool) -> sitk.Image:
    """The LPS output of ``out_id``, filled slab by slab from the decoded buffer.

    Slabs follow the decoded buffer's own order (its axis 0, the file's slowest axis),
    whichever output axis that becomes, so a buffer still being decoded (``ready``) is
    converted as it arrives.
    """
    perm, flips, header = _lps_geometry(grid)
    size = [grid.size[p] for p in perm]
    # index of the input voxel that becomes output index 0 (x, y, z order)
    start = np.zeros(3)
    for k, p in enumerate(perm):
        if flips[k]:
            start[p] = grid.size[p] - 1
    origin = grid.origin + grid.direction @ (np.array(grid.spacing) * start)
    order = [2 - perm[2 - a] for a in range(3)]  # output [z, y, x] axis -> input axis
    view = grid.array.transpose(order)
    view = view[tuple(slice(None, None, -1) if flips[2 - a] else slice(None)
                      for a in range(3))]
    out = sitk.Image(size, out_id)
    out.SetSpacing(header.GetSpacing())
    out.SetDirection(header.GetDirection())
    out.SetOrigin(tuple(float(v) for v in origin))
    axis = order.index(0)  # the output array axis that runs along the decoded order
    converted = _converted_slabs(grid, view, axis, flips[2 - axis], out_dtype)
    for first, block in _checked(converted, what=what, label_map=label_map):
        region = [slice(None)] * 3  # SimpleITK (x, y, z) order
        region[2 - axis] = slice(first, first + block.shape[axis])
        out[tuple(region)] = sitk.GetImageFromArray(block)
    return out


def _converted_slabs(grid: Volume, view: np.ndarray, axis: int, flipped: bool,
                     out_dtype: np.dtype) -> Iterator[tuple[int, np.ndarray]]:
    """``(first output index along axis, converted block)`` in the decoded buffer's order."""
    n = view.shape[axis]
    voxels = STREAMED_SLAB_VOXELS if grid.ready is not None else SLAB_VOXELS
    for r0, rows in _slabs(grid.array, voxels):
        r1 = r0 + rows.shape[0]
        _ready(grid, r1)
        first, stop = (n - r1, n - r0) if flipped else (r0, r1)
        index = [slice(None)] * 3
        index[axis] = slice(first, stop)
        with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN are refused later
            converted = np.ascontiguousarray(_scaled(view[tuple(index)], grid.scale),
                                             dtype=out_dtype)
        yield first, converted


def _checked(slabs: Iterator[tuple[int, np.ndarray]], *, what: str,
             label_map: bool) -> Iterator[tuple[int, np.ndarray]]:
    """Pass slabs through, checking finite values and (images) a constant value."""
    low, high = math.inf, -math.inf
    for z0, slab in slabs:
        if slab.dtype.kind == "f" and not np.isfinite(slab).all():
            raise ValueError(f"The {what} has NaN or infinite voxel values.")
        low, high = min(low, float(slab.min())), max(high, float(slab.max()))
        yield z0, slab
    if not label_map and low == high:
        raise ValueError(
            f"The {what} has the same value ({low:g}) in every voxel, so it holds nothing "
            "to analyse."
        )


def clear_metadata(image: sitk.Image) -> None:
    """Erase every metadata key, so no header text of the input travels further."""
    for key in image.GetMetaDataKeys():
        image.EraseMetaData(key)
