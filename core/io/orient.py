"""Canonical orientation: validate a decoded image and re-orient it to LPS.

:func:`canonical` squeezes a singleton 4th dimension, refuses what is not one 3-D scalar
volume (zero-size or single-slice axes, spacing outside ``[MIN_SPACING_MM,
MAX_SPACING_MM]``, non-finite origin, a direction that is not a rotation, NaN or infinite
voxels, an image of one constant value) and re-orients with ``sitk.DICOMOrient(img,
"LPS")``: the numpy view is ``[z, y, x]`` = ``[S, P, L]``. The direction is the identity
for axis-aligned inputs (float noise below 1e-6 is snapped to it); an oblique acquisition
keeps its residual rotation, since DICOMOrient only permutes and flips axes and nothing
is resampled. :func:`to_label_type` gives label maps their unsigned pixel type and
:func:`clear_metadata` empties the ``MetaDataDictionary``.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk

from core.io import limits


def canonical(image: sitk.Image, *, what: str, label_map: bool) -> tuple[sitk.Image, str]:
    """Validate a raw image and re-orient it to LPS; return it and the input's code."""
    image = _squeeze_to_3d(image, what=what)
    size = image.GetSize()
    if any(n == 0 for n in size):
        raise ValueError(f"The {what} is empty: one of its dimensions has size 0.")
    if any(n == 1 for n in size):
        raise ValueError(
            f"The {what} has a single slice along one axis; a 3-D volume is needed."
        )
    for value in image.GetSpacing():
        if (not math.isfinite(value)
                or not limits.MIN_SPACING_MM <= value <= limits.MAX_SPACING_MM):
            raise limits.spacing_error(value, what)
    if not all(math.isfinite(v) for v in image.GetOrigin()):
        raise ValueError(f"The {what} origin is not a finite point.")
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    if (not np.all(np.isfinite(direction))
            or not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4)):
        raise ValueError(f"The {what} direction matrix is not a rotation.")
    array = sitk.GetArrayViewFromImage(image)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError(f"The {what} has NaN or infinite voxel values.")
    if not label_map and array.min() == array.max():
        raise ValueError(
            f"The {what} has the same value ({float(array.min()):g}) in every voxel, so it "
            "holds nothing to analyse."
        )
    orientation = sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(
        image.GetDirection()
    )
    out = image if orientation == "LPS" else sitk.DICOMOrient(image, "LPS")
    canonical_dir = np.array(out.GetDirection()).reshape(3, 3)
    if np.allclose(canonical_dir, np.eye(3), rtol=0.0, atol=1e-6):
        # float noise from the header; snap so that grids compare exactly downstream
        out.SetDirection(tuple(np.eye(3).ravel()))
    return out, orientation


def _squeeze_to_3d(image: sitk.Image, *, what: str) -> sitk.Image:
    """The 3-D scalar volume; a singleton 4th dimension is dropped, anything else refused."""
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(
            f"The {what} has {image.GetNumberOfComponentsPerPixel()} values per voxel "
            "(a 4-D or vector image); one 3-D volume is needed."
        )
    dim = image.GetDimension()
    if dim == 4:
        size = image.GetSize()
        if size[3] != 1:
            raise ValueError(
                f"The {what} is 4-D with {size[3]} volumes; one 3-D volume is needed."
            )
        return sitk.Extract(image, [size[0], size[1], size[2], 0], [0, 0, 0, 0])
    if dim != 3:
        raise ValueError(f"The {what} is {dim}-D; a 3-D volume is needed.")
    return image


def clear_metadata(image: sitk.Image) -> None:
    """Erase every metadata key, so no header text of the input travels further."""
    for key in image.GetMetaDataKeys():
        image.EraseMetaData(key)


def to_label_type(image: sitk.Image) -> sitk.Image:
    """Cast whole-number labels to ``sitkUInt16`` (``sitkUInt32`` above 65535)."""
    array = sitk.GetArrayViewFromImage(image)
    if array.dtype.kind == "f":
        fractional = array != np.round(array)
        if np.any(fractional):
            example = float(array[fractional].flat[0])
            raise ValueError(
                f"The label map has non-integer values (e.g. {example:g}); labels must be "
                "whole numbers."
            )
    if array.size and array.min() < 0:
        raise ValueError(f"The label map has a negative label ({float(array.min()):g}).")
    top = float(array.max()) if array.size else 0.0
    if top <= np.iinfo(np.uint16).max:
        return sitk.Cast(image, sitk.sitkUInt16)
    if top <= np.iinfo(np.uint32).max:
        return sitk.Cast(image, sitk.sitkUInt32)
    raise ValueError(f"The label map has a label ({top:g}) larger than 4294967295.")
