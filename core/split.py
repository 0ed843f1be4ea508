"""Split a binary object where it narrows: a distance-transform watershed with a
documented minimum neck.

Used for touching lesions inside one vertebra (:mod:`core.lesions`) and for touching
vertebral bodies of a plain mask (:mod:`core.level_naming`).

Method
------
1. ``d`` = Euclidean distance (mm, true voxel spacing) from each object voxel to the
   nearest background voxel centre: the radius of the largest ball centred there.
   Enclosed holes are filled first (isolated voxels below a threshold are not necks).
2. Seeds: the plateaus of local maxima of ``d`` (3x3x3 neighbourhood).
3. Watershed of ``-d`` from the seeds inside the object (SimpleITK
   ``MorphologicalWatershedFromMarkers``, fully connected): one region per seed.
4. Merge: for two touching regions ``a`` and ``b`` the *saddle* ``s_ab`` is the
   largest ``min(d_i, d_j)`` over 26-adjacent voxel pairs across their border (the
   inscribed radius of the neck between them) and ``p_a``, ``p_b`` their peaks (largest
   inscribed radius). Pairs are visited from the highest saddle down and merged when
   ``s_ab > neck_ratio * min(p_a, p_b)`` (the neck is not narrow: one object with a
   bumpy outline), or when either side holds fewer than ``min_part_voxels`` voxels (a
   fragment joins the neighbour it is most broadly attached to). Peaks of merged
   regions are the larger of the two.

So two parts stay separate only where they are joined by a neck whose inscribed radius
is at most ``neck_ratio`` times that of the smaller part, each part being at least
``min_part_voxels``. For two equal spheres of radius ``R`` whose centres are ``c``
apart the neck radius is ``sqrt(R^2 - c^2 / 4)``: with ``neck_ratio = 0.75`` they are
split when ``c >= 1.32 R`` (overlapping by up to a third of a diameter) and counted as
one lesion when they overlap more.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage


def _seeds(dist: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, int]:
    peaks = (dist >= ndimage.maximum_filter(dist, size=3)) & inside
    return ndimage.label(peaks, structure=np.ones((3, 3, 3), bool))


def _watershed(dist: np.ndarray, seeds: np.ndarray, inside: np.ndarray) -> np.ndarray:
    relief = sitk.GetImageFromArray((-dist).astype(np.float32))
    markers = sitk.GetImageFromArray(seeds.astype(np.uint32))
    regions = sitk.MorphologicalWatershedFromMarkers(relief, markers, markWatershedLine=False,
                                                     fullyConnected=True)
    out = sitk.GetArrayFromImage(regions).astype(np.int32)
    out[~inside] = 0
    return out


#: The 13 neighbour offsets of one half of a 3x3x3 neighbourhood (26-connectivity).
_HALF_NEIGHBOURS: tuple[tuple[int, int, int], ...] = tuple(
    (dz, dy, dx) for dz in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    if (dz, dy, dx) > (0, 0, 0))


def _shifted(array: np.ndarray, offset: tuple[int, ...]) -> tuple[tuple[slice, ...], ...]:
    """Slices ``(here, there)`` pairing each voxel with its neighbour at ``offset``."""
    here, there = [], []
    for o in offset:
        here.append(slice(max(0, -o), array.shape[len(here)] - max(0, o)))
        there.append(slice(max(0, o), array.shape[len(there)] - max(0, -o)))
    return tuple(here), tuple(there)


def _saddles(regions: np.ndarray, dist: np.ndarray) -> dict[tuple[int, int], float]:
    """Largest ``min(d_i, d_j)`` over 26-adjacent voxel pairs of different regions."""
    base = int(regions.max()) + 1
    keys_all, values_all = [], []
    for offset in _HALF_NEIGHBOURS:
        here, there = _shifted(regions, offset)
        a, b = regions[here], regions[there]
        border = (a != b) & (a > 0) & (b > 0)
        if not border.any():
            continue
        ra, rb = a[border].astype(np.int64), b[border].astype(np.int64)
        keys_all.append(np.minimum(ra, rb) * base + np.maximum(ra, rb))
        values_all.append(np.minimum(dist[here][border], dist[there][border]))
    if not keys_all:
        return {}
    keys, values = np.concatenate(keys_all), np.concatenate(values_all)
    unique, inverse = np.unique(keys, return_inverse=True)
    best = np.full(unique.size, -np.inf)
    np.maximum.at(best, inverse, values)
    return {(int(k // base), int(k % base)): float(v) for k, v in zip(unique, best, strict=True)}


def split_at_necks(
    inside: np.ndarray,
    sampling: tuple[float, ...],
    *,
    neck_ratio: float,
    min_part_voxels: float = 0.0,
) -> tuple[np.ndarray, int]:
    """Label the parts of the binary object ``inside`` that are joined only by narrow
    necks (the module docstring's method).

    Parameters
    ----------
    inside : ndarray of bool
        One object (or several: each connected object is split on its own).
    sampling : tuple of float
        Voxel spacing in array order (mm).
    neck_ratio : float
        Split only where the neck's inscribed radius is at most this times the smaller
        part's; ``<= 0`` never splits.
    min_part_voxels : float
        Parts smaller than this are merged into a neighbour.

    Returns
    -------
    (labels, count) : ndarray of int32, int
        ``1..count`` on the object's voxels, 0 elsewhere.
    """
    if neck_ratio <= 0 or not inside.any():
        return ndimage.label(inside, structure=np.ones((3,) * inside.ndim, bool))
    padded = np.pad(inside, 1)
    # Enclosed holes (noise voxels below a threshold) would make false necks.
    dist = ndimage.distance_transform_edt(ndimage.binary_fill_holes(padded), sampling=sampling)
    seeds, n_seeds = _seeds(dist, padded)
    if n_seeds <= 1:
        labels, count = ndimage.label(inside, structure=np.ones((3,) * inside.ndim, bool))
        return labels, count
    regions = _watershed(dist, seeds, padded)
    n = int(regions.max())
    peak = np.zeros(n + 1)
    peak[1:] = ndimage.maximum(dist, regions, index=np.arange(1, n + 1))
    size = np.bincount(regions.ravel(), minlength=n + 1).astype(float)
    parent = np.arange(n + 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for (a, b), saddle in sorted(_saddles(regions, dist).items(), key=lambda kv: -kv[1]):
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        if (saddle > neck_ratio * min(peak[ra], peak[rb])
                or min(size[ra], size[rb]) < min_part_voxels):
            parent[rb] = ra
            peak[ra] = max(peak[ra], peak[rb])
            size[ra] += size[rb]
    roots = np.array([root(i) for i in range(n + 1)])
    _, compact = np.unique(roots, return_inverse=True)  # root 0 (background) -> 0
    merged = compact[regions].astype(np.int32)
    inner = merged[(slice(1, -1),) * inside.ndim]
    return inner, int(merged.max())
