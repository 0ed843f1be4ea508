"""Partial-volume weighting of detected lesions: how much lesion each voxel holds.

A threshold counts a voxel as lesion or not. At a lesion's edge voxels hold part lesion,
part marrow (partial volume, blurred T2 edges, oedema): with a threshold at ``f`` of the
way from marrow to lesion signal, a soft edge is cut inside the lesion's 50 % contour
when ``f > 0.5`` (low-contrast T2 lesions: under-measured by 15-20 %) and outside it
when ``f < 0.5``. The two-compartment (linear mixing) model reads the lesion fraction
of a voxel from its intensity instead.

Formula (per detected lesion ``j`` of a vertebra - a connected component of the
thresholded voxels, so touching lesions split for counting share it - on the
intensities ``I`` the threshold was applied to)::

    w_i = clip((I_i - r_j) / (P_j - r_j), 0, 1)    for voxels of j's shell and band
    w_i = 1                                         for voxels of j's core
    HI volume of the vertebra = voxel_mm3 * sum_i w_i

* core: voxels of the thresholded lesion farther than ``min(band_mm, d_j / 2)`` from
  the vertebra's lesion-free voxels (``d_j`` the largest such distance in the lesion;
  a side of the lesion on the label boundary is core, and a vertebra entirely involved
  is all core); shell: its other voxels;
* band: vertebra voxels outside every lesion within ``band_mm`` of lesion ``j``, or
  next to it (26-neighbours: with thick slices the next slice may lie farther than
  ``band_mm`` and still hold lesion) - where the blurred edge beyond the threshold
  lies (a voxel in the bands of two lesions takes the larger weight);
* plateau ``P_j`` = mean intensity of the core (the lesion's own signal);
* marrow reference ``r_j`` = median intensity of the vertebra's voxels between
  ``band_mm`` and ``band_mm + RING_MM`` from lesion ``j`` and outside every lesion's
  band (its own surroundings, so a
  bias field across the vertebra does not shift it); with fewer than
  :data:`MIN_RING_VOXELS` such voxels, the median of the vertebra's voxels outside all
  lesions and bands; with too few of those (diffuse involvement), the neighbourhood
  reference ``r_v`` of the threshold.

For a sharp lesion the band weights are ~0 and the shell ~1, so the volume is the
thresholded one; for a blurred sphere the weights integrate the blur, which preserves
the sphere's volume. Clipping to [0, 1] keeps each voxel a fraction; its noise biases
(pure-lesion shell voxels lose ``~0.4 sigma / (P - r)``, pure-marrow band voxels gain
as much) largely cancel. A lesion without contrast in its core (``P_j <= 1.05 r_j``)
keeps its thresholded voxels (``w = 1``) and no band.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

#: Width (mm) of the ring beyond the band whose median is a lesion's marrow reference.
RING_MM = 4.0
#: Fewest ring voxels for a local reference.
MIN_RING_VOXELS = 20
_CUBE = np.ones((3, 3, 3), dtype=bool)


def _reference(ring_values: np.ndarray, ring: np.ndarray, background: np.ndarray,
               values: np.ndarray, fallback: float) -> float:
    """``r_j``: the ring's median, else the vertebra's lesion-free voxels', else
    ``fallback`` (module docstring)."""
    if np.count_nonzero(ring) >= MIN_RING_VOXELS:
        return float(np.median(ring_values[ring]))
    if np.count_nonzero(background) >= MIN_RING_VOXELS:
        return float(np.median(values[background]))
    return fallback


def lesion_fractions(
    values: np.ndarray,
    inside: np.ndarray,
    sites: np.ndarray,
    *,
    fallback_reference: float,
    sampling: tuple[float, ...],
    band_mm: float,
) -> np.ndarray:
    """Lesion fraction ``w`` of each voxel of one vertebra's box (module docstring).

    Parameters
    ----------
    values : ndarray
        Intensities of the box (those thresholded).
    inside : ndarray of bool
        The vertebra's voxels in the box.
    sites : ndarray of int
        Detected lesions (positive labels, 0 elsewhere), inside the vertebra; touching
        lesions may share a label (their connected component).
    fallback_reference : float
        ``r_v``, the threshold's neighbourhood marrow reference.
    sampling : tuple of float
        Voxel spacing in array order (mm).
    band_mm : float
        Band width; ``<= 0`` gives the thresholded lesions (``w`` 0 or 1).

    Returns
    -------
    ndarray of float64
        ``w`` in [0, 1]: 0 outside lesions and bands, 1 on lesion cores.
    """
    lesion = sites > 0
    weights = lesion.astype(np.float64)
    if band_mm <= 0 or not lesion.any():
        return weights
    free = inside & ~lesion
    if not free.any():
        return weights  # the whole vertebra is lesion: no marrow to share voxels with
    # Partial volume is shared with marrow: depth is measured from the vertebra's own
    # lesion-free voxels (a lesion's side on the label boundary is not an edge).
    depth = ndimage.distance_transform_edt(~free, sampling=sampling)
    away = ndimage.distance_transform_edt(~lesion, sampling=sampling)
    background = free & (away > band_mm) & ~ndimage.binary_dilation(lesion, structure=_CUBE)
    reach = [int(np.ceil((band_mm + RING_MM) / s)) for s in sampling]
    for j, box in enumerate(ndimage.find_objects(sites), start=1):
        if box is None:
            continue
        grown = tuple(slice(max(0, b.start - r), min(n, b.stop + r))
                      for b, r, n in zip(box, reach, sites.shape, strict=True))
        own = sites[grown] == j
        peak = float(depth[grown][own].max())
        core = own & (depth[grown] > min(band_mm, 0.5 * peak) - 1e-9)
        vals = values[grown].astype(np.float64)
        plateau = math.fsum(vals[core].tolist()) / np.count_nonzero(core)
        dist_j = ndimage.distance_transform_edt(~own, sampling=sampling)
        ring = background[grown] & (dist_j > band_mm) & (dist_j <= band_mm + RING_MM)
        r = _reference(vals, ring, background, values, fallback_reference)
        if plateau <= 1.05 * r:
            continue  # no usable contrast: keep the thresholded voxels
        w = np.clip((vals - r) / (plateau - r), 0.0, 1.0)
        shell = own & ~core
        # The band reaches at least one voxel beyond the lesion in every direction (thick
        # slices: the next slice may lie farther than band_mm and still hold lesion).
        band = free[grown] & ((dist_j <= band_mm)
                              | ndimage.binary_dilation(own, structure=_CUBE))
        sub = weights[grown]
        sub[shell] = w[shell]
        sub[band] = np.maximum(sub[band], w[band])  # a voxel near two lesions: the larger
    return weights


def fraction_sum(weights: np.ndarray) -> float:
    """``sum(weights)``, exactly rounded (``math.fsum``): the same for any voxel order,
    so a reoriented study gives the identical HI volume."""
    return math.fsum(weights[weights > 0].tolist())
