"""Per-level geometry in physical space, the input of the label-map checks.

Everything is measured in patient coordinates (LPS millimetres): the head-foot
coordinate of a voxel is ``p_S = origin_S + sum_a D[S, a] * spacing_a * index_a`` (the
image's direction matrix ``D``), so no orientation of the array is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from core.levels import Level

_STRUCTURE = np.ones((3, 3, 3), dtype=bool)  # 26-connectivity
#: A second connected part counts as a separate body when it holds at least this share
#: of the level's largest part (smaller specks are segmentation noise).
SEPARATE_PART_SHARE = 0.3
#: ... and its centre lies this many of the largest part's head-foot extents above or
#: below it (a detached posterior arch sits beside the body, not above it).
SEPARATE_PART_OFFSET = 0.5
#: A face of the field of view cuts a level when the level's voxels in the outermost
#: layer are at least this share of its largest cross-section parallel to that face.
CUT_SHARE = 0.1


@dataclass(frozen=True)
class Grid:
    """Index -> patient coordinates of an image grid (array order z, y, x)."""

    origin: np.ndarray  # (3,) LPS mm
    matrix: np.ndarray  # (3, 3): physical = origin + matrix @ (x, y, z) index
    shape: tuple[int, int, int]  # array shape (z, y, x)

    @staticmethod
    def of(image: sitk.Image) -> Grid:
        direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
        spacing = np.array(image.GetSpacing(), dtype=float)
        return Grid(origin=np.array(image.GetOrigin(), dtype=float),
                    matrix=direction * spacing[None, :],
                    shape=tuple(int(n) for n in reversed(image.GetSize())))

    def physical(self, zyx: np.ndarray) -> np.ndarray:
        """Points ``(n, 3)`` of array indices ``(z, y, x)`` -> LPS mm ``(n, 3)``."""
        xyz = np.asarray(zyx, dtype=float)[:, ::-1]
        return self.origin[None, :] + xyz @ self.matrix.T

    @property
    def voxel_si_mm(self) -> float:
        """Head-foot size of one voxel: ``sum_a |D[S, a]| * spacing_a``."""
        return float(np.abs(self.matrix[2]).sum())

    @property
    def sampling_zyx(self) -> tuple[float, float, float]:
        """Voxel spacing in array order (for distance transforms)."""
        spacing = np.linalg.norm(self.matrix, axis=0)  # x, y, z
        return float(spacing[2]), float(spacing[1]), float(spacing[0])

    @property
    def voxel_ml(self) -> float:
        return float(abs(np.linalg.det(self.matrix))) / 1000.0


@dataclass(frozen=True)
class LevelGeometry:
    """Shape facts of one labelled level.

    Attributes
    ----------
    level : Level
    volume_ml : float
        Labelled voxels x voxel volume.
    centre_mm : ndarray
        LPS centre of the level's largest connected part.
    si_extent_mm : float
        Head-foot extent of the largest part (voxel size included).
    cross_section_mm2 : float
        Mean cross-section ``volume / si_extent`` of the largest part.
    inscribed_radius_mm : float
        Largest distance from a voxel of the level to the nearest unlabelled voxel
        centre (computed only when the cross-section is cord-sized, else ``inf``).
    separate_parts : int
        Connected parts that are separate bodies (see :data:`SEPARATE_PART_SHARE`).
    cut_faces : tuple of str
        Faces of the field of view that cut the level (``"superior"``, ``"left"`` ...).
    background_share : float
        Share of the level's voxels where the image is background.
    """

    level: Level
    volume_ml: float
    centre_mm: np.ndarray
    si_extent_mm: float
    cross_section_mm2: float
    inscribed_radius_mm: float
    separate_parts: int
    cut_faces: tuple[str, ...]
    background_share: float


def _si_extent(grid: Grid, zyx: np.ndarray) -> float:
    """Head-foot extent of voxel centres plus one voxel."""
    s = grid.physical(zyx)[:, 2]
    return float(s.max() - s.min()) + grid.voxel_si_mm


def _parts(inside: np.ndarray, offset: np.ndarray, grid: Grid,
           ) -> tuple[np.ndarray, np.ndarray, int]:
    """Largest 26-connected part (mask in the box), its voxel indices (z, y, x, absolute)
    and the number of separate bodies (parts of at least SEPARATE_PART_SHARE of it,
    centred at least SEPARATE_PART_OFFSET of its head-foot extent above or below it)."""
    parts, count = ndimage.label(inside, structure=_STRUCTURE)
    if count <= 1:
        largest = inside
        return largest, np.argwhere(largest) + offset, 1
    sizes = np.bincount(parts.ravel(), minlength=count + 1)
    sizes[0] = 0
    main = int(np.argmax(sizes))
    largest = parts == main
    main_zyx = np.argwhere(largest) + offset
    main_s = grid.physical(main_zyx)[:, 2]
    extent = float(main_s.max() - main_s.min()) + grid.voxel_si_mm
    centres = ndimage.center_of_mass(inside, parts, index=np.arange(1, count + 1))
    centre_s = grid.physical(np.asarray(centres) + offset)[:, 2]
    separate = 1
    for part in range(1, count + 1):
        if part == main or sizes[part] < SEPARATE_PART_SHARE * sizes[main]:
            continue
        if abs(centre_s[part - 1] - float(main_s.mean())) >= SEPARATE_PART_OFFSET * extent:
            separate += 1
    return largest, main_zyx, separate


def _cut_faces(inside: np.ndarray, box: tuple[slice, ...], grid: Grid) -> tuple[str, ...]:
    """Faces of the image grid whose outermost voxel layer holds at least CUT_SHARE of
    the level's largest cross-section parallel to that face (named in patient terms)."""
    faces: list[str] = []
    for axis in range(3):
        profile = inside.sum(axis=tuple(a for a in range(3) if a != axis))
        biggest = float(profile.max()) if profile.size else 0.0
        for at_start in (True, False):
            edge = box[axis].start == 0 if at_start else box[axis].stop == grid.shape[axis]
            count = profile[0] if at_start else profile[-1]
            if edge and biggest > 0 and count >= max(1.0, CUT_SHARE * biggest):
                faces.append(_face_name(grid, axis, at_start))
    return tuple(faces)


def _face_name(grid: Grid, axis: int, at_start: bool) -> str:
    """Patient-side name of an array face: the direction the face's outward normal
    points to (axis in array order z, y, x; ``matrix`` columns are x, y, z)."""
    column = grid.matrix[:, 2 - axis]
    outward = -column if at_start else column
    dominant = int(np.argmax(np.abs(outward)))
    names = (("right", "left"), ("anterior", "posterior"), ("inferior", "superior"))
    return names[dominant][1 if outward[dominant] > 0 else 0]


def level_geometry(labels: np.ndarray, box: tuple[slice, ...], level: Level, grid: Grid,
                   background: np.ndarray | None) -> LevelGeometry:
    """:class:`LevelGeometry` of ``level`` (its bounding ``box`` in ``labels``);
    ``background`` is a boolean array of the image's background voxels (or ``None``)."""
    inside = labels[box] == level.label
    offset = np.array([s.start for s in box])
    n_voxels = int(np.count_nonzero(inside))
    largest, main_zyx, separate = _parts(inside, offset, grid)
    extent = _si_extent(grid, main_zyx)
    volume_main = main_zyx.shape[0] * grid.voxel_ml * 1000.0
    cross = volume_main / extent
    radius = float("inf")
    if cross < 200.0:  # only cord-sized levels need the (slower) distance transform
        depth = ndimage.distance_transform_edt(np.pad(largest, 1), sampling=grid.sampling_zyx)
        radius = float(depth.max())
    share = float(np.count_nonzero(background[box][inside]) / n_voxels) \
        if background is not None and n_voxels else 0.0
    return LevelGeometry(
        level=level, volume_ml=n_voxels * grid.voxel_ml,
        centre_mm=grid.physical(main_zyx.mean(axis=0, keepdims=True))[0],
        si_extent_mm=extent, cross_section_mm2=cross, inscribed_radius_mm=radius,
        separate_parts=separate, cut_faces=_cut_faces(inside, box, grid),
        background_share=share)


def background_mask(pixels: np.ndarray) -> np.ndarray:
    """Voxels where the image has no signal: below ``p0.5 + 0.03 * (p99.5 - p0.5)`` of
    the image's intensities (air / noise floor of a magnitude MR image; in an image
    without air only its darkest voxels)."""
    sample = pixels[:: max(1, pixels.shape[0] // 64)]
    lo, hi = np.percentile(sample, [0.5, 99.5])
    return pixels < lo + 0.03 * (hi - lo)
