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
   bumpy outline), or when either side holds fewer than ``min_part_voxels`` voxels or
   has a peak below ``min_part_radius_mm`` (a fragment joins the neighbour it is most
   broadly attached to). Peaks of merged
   regions are the larger of the two.

So two parts stay separate only where they are joined by a neck whose inscribed radius
is at most ``neck_ratio`` times that of the smaller part, each part being at least
``min_part_voxels``. For two equal spheres of radius ``R`` whose centres are ``c``
apart the neck radius is ``sqrt(R^2 - c^2 / 4)``: with ``neck_ratio = 0.75`` they are
split when ``c >= 1.32 R`` (overlapping by up to a third of a diameter) and counted as
one lesion when they overlap more.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    min_part_radius_mm: float = 0.0,
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
    min_part_radius_mm : float
        Parts whose largest inscribed radius is below this are merged into a neighbour
        (too thin to stand as an object of their own).

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
                or min(size[ra], size[rb]) < min_part_voxels
                or min(peak[ra], peak[rb]) < min_part_radius_mm):
            parent[rb] = ra
            peak[ra] = max(peak[ra], peak[rb])
            size[ra] += size[rb]
    roots = np.array([root(i) for i in range(n + 1)])
    _, compact = np.unique(roots, return_inverse=True)  # root 0 (background) -> 0
    merged = compact[regions].astype(np.int32)
    inner = merged[(slice(1, -1),) * inside.ndim]
    return inner, int(merged.max())


#: Voxels more anisotropic than this are counted on an isotropic resampling.
MAX_ANISOTROPY = 1.5
#: Distances are compared in steps of this (mm), so ties do not depend on voxel order.
LEVEL_STEP_MM = 0.05


@dataclass
class _Part:
    peak: int  # largest quantised inscribed radius
    alive: int  # separate parts declared inside it (0: one tentative part)
    voxel: tuple[int, ...]  # a voxel of it (to find it at the next level)


def count_necked_parts(
    inside: np.ndarray,
    sampling: tuple[float, ...],
    *,
    neck_ratio: float,
    min_part_volume_mm3: float = 0.0,
    min_part_radius_mm: float = 0.0,
) -> int:
    """How many parts joined only by narrow necks one connected object holds: the count
    :func:`split_at_necks` aims at, computed so that it does not depend on the voxel
    order (orientation) of the array.

    The distance map ``d`` is quantised to :data:`LEVEL_STEP_MM`; its upper level sets
    ``{d >= t}``, from the highest ``t`` down, are labelled. When parts ``K_i`` (peak
    ``p_i``) first meet at level ``t`` (the saddle), a part is *significant* when
    ``t <= neck_ratio * p_i`` and its peak ball is big enough (``p_i >=
    min_part_radius_mm`` and ``4/3 pi p_i^3 >= min_part_volume_mm3``: each part must hold
    a ball of the minimum volume), or when it already holds separate parts; when two or
    more significant parts meet they are all separate (and stay so), otherwise they merge
    into one (the smaller ones are bumps or fragments). The neck rule of
    :func:`split_at_necks`, evaluated on level sets, which the array's orientation does
    not change. Returns at least 1 for a non-empty object.
    """
    if not inside.any():
        return 0
    step = LEVEL_STEP_MM
    padded = np.pad(inside, 1)
    dist = ndimage.distance_transform_edt(ndimage.binary_fill_holes(padded), sampling=sampling)
    q = np.where(padded, np.rint(dist / step), 0).astype(np.int64)
    min_peak = max(min_part_radius_mm, (3.0 * min_part_volume_mm3 / (4.0 * np.pi)) ** (1 / 3))
    floor = int(np.ceil(min_peak / step - 1e-9))  # smallest significant peak, in steps
    voxel_mm3 = float(np.prod(sampling))
    if (neck_ratio <= 0 or q.max() < floor
            or np.count_nonzero(inside) * voxel_mm3 < 2 * min_part_volume_mm3):
        return 1
    structure = np.ones((3,) * inside.ndim, bool)
    # Only local maxima at or above the floor can be significant parts: with one such
    # plateau there is one part, and nothing happens above the second highest one.
    tops = (q == ndimage.maximum_filter(q, footprint=structure)) & (q >= floor)
    top_labels, n_tops = ndimage.label(tops, structure=structure)
    if n_tops <= 1:
        return 1
    heights = np.sort(np.asarray(ndimage.maximum(q, top_labels, np.arange(1, n_tops + 1))))
    levels = np.unique(q[(q > 0) & (q <= heights[-2])])[::-1]
    parts: list[_Part] = []
    for level in levels:
        labels, n = ndimage.label(q >= level, structure=structure)
        joined: dict[int, list[_Part]] = {}
        for part in parts:
            joined.setdefault(int(labels[part.voxel]), []).append(part)
        peaks = ndimage.maximum(q, labels, np.arange(1, n + 1)) if not parts else None
        new_parts = []
        for comp in range(1, n + 1):
            members = joined.get(comp, [])
            if not members:  # a new maximum (at the first level: the tops above it)
                peak = int(peaks[comp - 1]) if peaks is not None else int(level)
                if peak >= floor:  # smaller ones can never be significant
                    voxel = tuple(int(v) for v in np.argwhere(labels == comp)[0])
                    new_parts.append(_Part(peak, 0, voxel))
            elif len(members) == 1:
                new_parts.append(members[0])
            else:
                new_parts.append(_meet(members, int(level), neck_ratio, floor))
        parts = new_parts
        if len(parts) == 1 and level < floor:
            break  # no significant part can be born or met any more
    return max(1, sum(max(1, part.alive) for part in parts))


def _meet(members: list[_Part], level: int, neck_ratio: float, min_peak: float) -> _Part:
    """Parts meeting at ``level``: significant ones stay separate (module rule)."""
    significant = [m for m in members if m.alive > 0 or (
        level <= neck_ratio * m.peak and m.peak >= min_peak)]
    top = max(members, key=lambda m: m.peak)
    if len(significant) >= 2:
        alive = sum(max(1, m.alive) for m in significant)
        return _Part(top.peak, alive, top.voxel)
    keep = significant[0] if significant else top
    return _Part(top.peak, keep.alive, top.voxel)


def count_thresholded(
    component: np.ndarray,
    values: np.ndarray,
    threshold: float,
    sampling: tuple[float, ...],
    *,
    neck_ratio: float,
    min_part_volume_mm3: float = 0.0,
    min_part_radius_mm: float = 0.0,
) -> int:
    """:func:`count_necked_parts` of a thresholded object (``component``: ``values >
    threshold``, connected), on an isotropic grid when the voxels are anisotropic.

    With thick slices a neck between two lesions can fall between slices and vanish, and
    a lesion's inscribed radius is cut by the slice spacing. The component's box is then
    resampled to about the finest spacing (odd integer factors ``f_a`` nearest to
    ``s_a / min(s)``; intensities linear, sub-voxel ``k`` of coarse voxel ``i`` at
    coarse coordinate ``i + (k + 0.5) / f - 0.5``), thresholded again inside the coarse
    component and counted there. Necks that fall between two slices cannot be recovered
    (a sampling limit).
    """
    spacing = np.asarray(sampling, dtype=float)
    if neck_ratio <= 0 or spacing.max() <= MAX_ANISOTROPY * spacing.min():
        return count_necked_parts(component, sampling, neck_ratio=neck_ratio,
                                  min_part_volume_mm3=min_part_volume_mm3,
                                  min_part_radius_mm=min_part_radius_mm)
    # Odd factors: a coarse voxel's centre is the centre of its middle sub-voxel, so the
    # result does not depend on the direction of the axes.
    factors = 2 * np.round((spacing / spacing.min() - 1) / 2).astype(int) + 1
    axes = [(np.arange(n * f) + 0.5) / f - 0.5 for n, f in zip(component.shape, factors,
                                                                 strict=True)]
    grid = np.meshgrid(*axes, indexing="ij")
    fine_values = ndimage.map_coordinates(values.astype(np.float64), grid, order=1,
                                          mode="nearest")
    nearest = tuple(np.clip(np.rint(g).astype(int), 0, n - 1)
                    for g, n in zip(grid, component.shape, strict=True))
    fine = component[nearest] & (fine_values > threshold)
    fine_spacing = tuple(float(v) for v in spacing / factors)
    labels, n = ndimage.label(fine, structure=np.ones((3,) * fine.ndim, bool))
    fine_mm3 = float(np.prod(fine_spacing))
    return max(1, sum(
        count_necked_parts(labels == i, fine_spacing, neck_ratio=neck_ratio,
                           min_part_volume_mm3=min_part_volume_mm3,
                           min_part_radius_mm=min_part_radius_mm)
        for i in range(1, n + 1)
        if np.count_nonzero(labels == i) * fine_mm3 >= min_part_volume_mm3))
