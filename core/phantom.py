"""Seeded synthetic spine phantoms with known lesion truth (STIR-like contrast).

Used by the tests, the benchmark and the demo store. Everything is defined in physical
space (LPS millimetres, spine along the S-I axis) and only then sampled, so the same
call with another ``spacing_mm`` or ``orientation`` describes the same anatomy: lesion
counts are identical and volumes differ only by voxelisation.

Anatomy (intensities in arbitrary units, normal marrow = 100):

* vertebral bodies: elliptic cylinders stacked craniocaudally, sized by region, marrow
  100 (dark, fat suppressed); these are the only labelled voxels;
* intervertebral discs between bodies: 160 (hydrated nucleus is bright on T2/STIR);
* spinal canal posterior to the bodies: CSF 350 (brightest structure), cord 110;
* soft tissue 60 inside an elliptic body outline, air 5 outside;
* lesions: spheres (:class:`LesionSpec`) painted inside vertebral bodies only, and
  ``diffuse_levels`` whose whole body is replaced by lesion signal (250);
* a smooth multiplicative bias field ``1 + bias * f(p)``, ``f`` a mean of three random
  plane waves (``|f| <= 1``, wavelengths 1.5-3x the field of view);
* Rician noise of standard deviation ``noise_sd`` (magnitude of complex Gaussian noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.special import ndtr

from core.levels import label_for_name
from core.vocab import ANATOMY

MARROW = 100.0
DISC = 160.0
CSF = 350.0
CORD = 110.0
SOFT_TISSUE = 60.0
AIR = 5.0
DIFFUSE = 2.5  # diffuse involvement, as a multiple of marrow

#: Region -> (semi-axis L-R, semi-axis A-P, body height, disc height below, canal radius), mm.
BODY_SIZE_MM: dict[str, tuple[float, float, float, float, float]] = {
    "cervical": (9.0, 8.0, 14.0, 5.0, 6.0),
    "thoracic": (14.0, 12.0, 20.0, 6.0, 6.0),
    "lumbar": (20.0, 15.0, 26.0, 9.0, 7.0),
    "sacral": (24.0, 17.0, 30.0, 6.0, 5.0),
}
CORD_RADIUS_MM = 4.0
CANAL_GAP_MM = 2.0  # between the back of the body and the canal

_AXIS = {"L": (0, 1), "R": (0, -1), "P": (1, 1), "A": (1, -1), "S": (2, 1), "I": (2, -1)}


@dataclass(frozen=True)
class LesionSpec:
    """A spherical metastasis.

    Attributes
    ----------
    level : str
        Level whose body centre the sphere is placed from (``"L3"``).
    radius_mm : float
        Sphere radius.
    intensity : float
        Lesion signal as a multiple of normal marrow (2.5 -> 250 a.u.).
    offset_mm : tuple of float
        Centre offset from the body centre, LPS (+x left, +y posterior, +z superior).
        Only the part of the sphere inside vertebral bodies is painted; a sphere that
        reaches the next body through the disc is one lesion in each body.
    edge_mm : float
        Soft edge: the sphere blurred by an isotropic Gaussian of this standard deviation
        (mm), as a T2 lesion with surrounding oedema and partial volume looks. The lesion
        fraction at distance ``rho`` from the centre is the exact blurred ball
        ``a(rho) = Phi((R - rho)/s) - Phi(-(R + rho)/s) - (s/rho) [phi((R - rho)/s) -
        phi((R + rho)/s)]`` (``Phi``, ``phi`` the standard normal CDF and density), whose
        integral is the sphere's volume; the signal is ``marrow * (1 + a (intensity -
        1))``. The truth mask stays the sphere ``rho <= R``. 0 = a sharp edge.
    """

    level: str
    radius_mm: float = 5.0
    intensity: float = 2.5
    offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    edge_mm: float = 0.0


@dataclass(frozen=True)
class Phantom:
    """A synthetic study.

    Attributes
    ----------
    image : sitk.Image
        float32 image in the requested orientation and spacing.
    vertebrae : sitk.Image
        uint8 vertebral-body label map in the requested convention, same grid.
    lesion_mask : sitk.Image
        uint8 truth: 1 where lesion (or diffuse involvement) was painted, same grid.
    truth : dict
        Per level name: ``label``, ``region``, ``lesion_count`` (components of the
        truth mask within that body of at least ``min_lesion_volume_mm3``),
        ``high_intensity_volume_ml`` (voxels of those components),
        ``vertebra_volume_ml`` and ``high_intensity_ratio``.
    """

    image: sitk.Image
    vertebrae: sitk.Image
    lesion_mask: sitk.Image
    truth: dict[str, dict[str, object]] = field(default_factory=dict)


def _world_spacing(orientation: str, spacing_mm: Sequence[float]) -> tuple[np.ndarray, str]:
    code = str(orientation).upper()
    axes = [_AXIS.get(c, (None, 0))[0] for c in code]
    if len(code) != 3 or sorted(a for a in axes if a is not None) != [0, 1, 2]:
        raise ValueError(
            f"Orientation {orientation!r} is not a 3-letter code with one of L/R, A/P, S/I."
        )
    spacing = np.asarray(spacing_mm, dtype=float)
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise ValueError(f"spacing_mm {tuple(spacing_mm)!r} must be three positive numbers.")
    world = np.empty(3)
    for image_axis, world_axis in enumerate(axes):
        world[world_axis] = spacing[image_axis]
    return world, code


def _layout(levels: Sequence[str]) -> list[dict[str, float | str]]:
    """Body/disc segments from top to bottom (z decreasing), centred on z = 0."""
    names = list(levels)
    if not names:
        raise ValueError("levels must name at least one vertebra.")
    for name in names:
        if name not in ANATOMY:
            raise ValueError(f"Level {name!r} is not a vertebral level name (e.g. 'L3').")
    if len(set(names)) != len(names):
        raise ValueError("levels must not repeat a level.")
    names.sort(key=lambda n: ANATOMY[n][1])
    segments: list[dict[str, float | str]] = []
    z = 0.0
    for i, name in enumerate(names):
        ax, ay, height, disc, canal = BODY_SIZE_MM[ANATOMY[name][0]]
        segments.append({"kind": "body", "name": name, "top": z, "bottom": z - height,
                         "ax": ax, "ay": ay, "canal": canal})
        z -= height
        if i < len(names) - 1:
            segments.append({"kind": "disc", "name": name, "top": z, "bottom": z - disc,
                             "ax": ax, "ay": ay, "canal": canal})
            z -= disc
    shift = -z / 2.0  # centre the stack on z = 0
    for seg in segments:
        seg["top"] = float(seg["top"]) + shift
        seg["bottom"] = float(seg["bottom"]) + shift
    return segments


def make_spine_phantom(
    *,
    seed: int,
    levels: Sequence[str] = ("T11", "T12", "L1", "L2", "L3"),
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    orientation: str = "LPS",
    lesions: Sequence[LesionSpec] = (),
    diffuse_levels: Sequence[str] = (),
    bias: float = 0.0,
    noise_sd: float = 5.0,
    convention: str = "verse",
    fov_mm: Sequence[float] | None = None,
    min_lesion_volume_mm3: float = 100.0,
) -> Phantom:
    """Build a seeded synthetic spine study with known truth.

    Parameters
    ----------
    seed : int
        Seed of the bias field and the noise.
    levels : sequence of str
        Level names (any order; stacked craniocaudally).
    spacing_mm : sequence of 3 float
        Voxel spacing along the output image's axes (SimpleITK order).
    orientation : str
        Direction code of the output image (``"LPS"`` = identity direction, ``"PIR"``
        and ``"ASL"`` sagittal, ``"RAS"``, ...); the array is the canonical one
        permuted/flipped, so noise and sampling are identical for every orientation.
    lesions : sequence of LesionSpec
        Focal lesions.
    diffuse_levels : sequence of str
        Levels whose whole body is involved.
    bias : float
        Amplitude of the multiplicative bias field, in [0, 0.9].
    noise_sd : float
        Standard deviation of the Rician noise (a.u.; marrow is 100).
    convention : str
        Label convention of the returned vertebra map.
    fov_mm : sequence of 3 float, optional
        Field of view along L-R, A-P, S-I; default fits the anatomy with margins.
    min_lesion_volume_mm3 : float
        Components smaller than this are not counted in ``truth`` (match
        :class:`core.lesions.DetectionParams`). The truth does not apply detection's
        ``edge_margin_mm``: place lesions so that they reach more than 2 mm deep.

    Returns
    -------
    Phantom

    Raises
    ------
    ValueError
        For unknown levels, lesions on levels not in ``levels``, bad spacing,
        orientation, bias or noise.
    """
    world_spacing, code = _world_spacing(orientation, spacing_mm)
    segments, labels = _checked_layout(levels, lesions, diffuse_levels, bias, noise_sd,
                                       convention)
    extent = _extent(segments, fov_mm)
    coords = _sample_points(extent, world_spacing)
    signal, vertebrae = _anatomy(coords, _slice_profile(segments, coords[2], labels), extent)
    truth_mask, sites = _paint_lesions(signal, vertebrae, coords, segments, labels, lesions,
                                       diffuse_levels)
    _add_bias_and_noise(signal, np.random.default_rng(seed), coords, extent, bias, noise_sd)
    voxel_mm3 = float(np.prod(world_spacing))
    truth = _truth(vertebrae, truth_mask, sites, labels, voxel_mm3, min_lesion_volume_mm3)
    grid = _OutputGrid(spacing=tuple(float(s) for s in world_spacing),
                       origin=tuple(float(c[0]) for c in coords), code=code)
    return Phantom(image=grid.image(signal), vertebrae=grid.image(vertebrae),
                   lesion_mask=grid.image(truth_mask), truth=truth)


def _checked_layout(
    levels: Sequence[str],
    lesions: Sequence[LesionSpec],
    diffuse_levels: Sequence[str],
    bias: float,
    noise_sd: float,
    convention: str,
) -> tuple[list[dict[str, float | str]], dict[str, int]]:
    """Validate the arguments; return the segments (:func:`_layout`) and level -> label."""
    if not 0.0 <= float(bias) <= 0.9:
        raise ValueError(f"bias {bias!r} must lie in [0, 0.9].")
    if not (math.isfinite(noise_sd) and noise_sd >= 0):
        raise ValueError(f"noise_sd {noise_sd!r} must be a non-negative number.")
    segments = _layout(levels)
    bodies = {str(s["name"]) for s in segments if s["kind"] == "body"}
    for spec in lesions:
        if spec.level not in bodies:
            raise ValueError(f"Lesion level {spec.level!r} is not one of the phantom's levels.")
        if not spec.radius_mm > 0:
            raise ValueError(f"Lesion radius {spec.radius_mm!r} must be positive.")
    for name in diffuse_levels:
        if name not in bodies:
            raise ValueError(f"Diffuse level {name!r} is not one of the phantom's levels.")
    labels = {str(s["name"]): label_for_name(str(s["name"]), convention)
              for s in segments if s["kind"] == "body"}
    return segments, labels


@dataclass(frozen=True)
class _Extent:
    """Field of view ``[lo, hi]`` (LPS mm, per axis x, y, z) and the body outline."""

    lo: np.ndarray
    hi: np.ndarray
    y_front: float  # anterior edge of the body outline
    y_back: float  # posterior edge of the body outline
    max_ax: float  # widest vertebral semi-axis L-R


def _extent(segments: Sequence[dict[str, float | str]],
            fov_mm: Sequence[float] | None) -> _Extent:
    """FOV: the anatomy with margins of 35 mm (L-R, A-P) and 12 mm (S-I), or ``fov_mm``
    (L-R, A-P, S-I) centred on the anatomy; the outline spans ``y_front = -max_ay - 35``
    to ``y_back = max_ay + CANAL_GAP_MM + 2 max_canal + 30`` (mm)."""
    max_ax = max(float(s["ax"]) for s in segments)
    max_ay = max(float(s["ay"]) for s in segments)
    max_canal = max(float(s["canal"]) for s in segments)
    z_top, z_bottom = float(segments[0]["top"]), float(segments[-1]["bottom"])
    y_front = -max_ay - 35.0
    y_back = max_ay + CANAL_GAP_MM + 2 * max_canal + 30.0
    if fov_mm is None:
        lo = np.array([-max_ax - 35.0, y_front, z_bottom - 12.0])
        hi = np.array([max_ax + 35.0, y_back, z_top + 12.0])
    else:
        fov = np.asarray(fov_mm, dtype=float)
        if fov.shape != (3,) or np.any(~np.isfinite(fov)) or np.any(fov <= 0):
            raise ValueError(f"fov_mm {tuple(fov_mm)!r} must be three positive numbers.")
        centre = np.array([0.0, (y_front + y_back) / 2.0, (z_top + z_bottom) / 2.0])
        lo, hi = centre - fov / 2.0, centre + fov / 2.0
    return _Extent(lo=lo, hi=hi, y_front=y_front, y_back=y_back, max_ax=max_ax)


def _sample_points(extent: _Extent, world_spacing: np.ndarray) -> list[np.ndarray]:
    """Voxel-centre coordinates (float32 mm) along x, y, z.

    ``n_a = max(1, round((hi_a - lo_a) / spacing_a))`` voxels per axis, centred
    symmetrically on the FOV centre: the same sample points for every orientation with
    the same per-axis spacing.
    """
    centre = (extent.lo + extent.hi) / 2.0
    n = np.maximum(1, np.round((extent.hi - extent.lo) / world_spacing).astype(int))
    return [
        (centre[a] + (np.arange(n[a]) - (n[a] - 1) / 2.0) * world_spacing[a]).astype(np.float32)
        for a in range(3)
    ]


@dataclass(frozen=True)
class _Slices:
    """Per axial slice (z): segment kind, body label, ellipse semi-axes, canal radius."""

    kind: np.ndarray  # int8: 0 none, 1 body, 2 disc
    label: np.ndarray  # int32 vertebra label of body slices, else 0
    ax: np.ndarray  # float32 semi-axis L-R, mm
    ay: np.ndarray  # float32 semi-axis A-P, mm
    canal: np.ndarray  # float32 canal radius, mm


def _slice_profile(segments: Sequence[dict[str, float | str]], zc: np.ndarray,
                   labels: dict[str, int]) -> _Slices:
    """Which segment each slice centre ``z`` lies in (``bottom < z <= top``); slices
    above the stack take the top segment's sizes, those below the bottom one's."""
    nz = zc.size
    kind = np.zeros(nz, np.int8)
    label_z = np.zeros(nz, np.int32)
    ax_z = np.full(nz, float(segments[0]["ax"]), np.float32)
    ay_z = np.full(nz, float(segments[0]["ay"]), np.float32)
    canal_z = np.full(nz, float(segments[0]["canal"]), np.float32)
    below = zc < float(segments[-1]["bottom"])
    ax_z[below] = float(segments[-1]["ax"])
    ay_z[below] = float(segments[-1]["ay"])
    canal_z[below] = float(segments[-1]["canal"])
    for seg in segments:
        sel = (zc <= float(seg["top"])) & (zc > float(seg["bottom"]))
        kind[sel] = 1 if seg["kind"] == "body" else 2
        if seg["kind"] == "body":
            label_z[sel] = labels[str(seg["name"])]
        ax_z[sel], ay_z[sel], canal_z[sel] = seg["ax"], seg["ay"], seg["canal"]
    return _Slices(kind=kind, label=label_z, ax=ax_z, ay=ay_z, canal=canal_z)


def _anatomy(coords: Sequence[np.ndarray], slices: _Slices,
             extent: _Extent) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free signal (float32) and vertebra labels (uint8), ``[z, y, x]``.

    Body / disc: ``(x / a_x)^2 + (y / a_y)^2 <= 1`` on body / disc slices; canal:
    ``x^2 + (y - c_y)^2 <= r^2`` centred ``c_y = a_y + CANAL_GAP_MM + r`` behind the
    body, cord radius ``CORD_RADIUS_MM`` inside it; soft tissue: an ellipse of
    semi-axes ``max_ax + 28`` and ``(y_back - y_front) / 2 - 8`` mm. Later structures
    overwrite earlier ones: air, soft tissue, CSF, cord, disc, marrow.
    """
    x = coords[0][None, None, :]
    y = coords[1][None, :, None]
    shape = (coords[2].size, coords[1].size, coords[0].size)
    ellipse = (x / slices.ax[:, None, None]) ** 2 + (y / slices.ay[:, None, None]) ** 2 <= 1.0
    body = ellipse & (slices.kind == 1)[:, None, None]
    disc = ellipse & (slices.kind == 2)[:, None, None]
    vertebrae = np.where(body, slices.label[:, None, None], 0).astype(np.uint8)
    del ellipse

    canal_y = (slices.ay + CANAL_GAP_MM + slices.canal)[:, None, None]
    r2 = x**2 + (y - canal_y) ** 2
    canal = r2 <= (slices.canal**2)[:, None, None]
    cord = r2 <= CORD_RADIUS_MM**2
    del r2
    ry_body = (extent.y_back - extent.y_front) / 2.0 - 8.0
    cy_body = (extent.y_back + extent.y_front) / 2.0
    soft = (x / (extent.max_ax + 28.0)) ** 2 + ((y - cy_body) / ry_body) ** 2 <= 1.0
    soft = np.broadcast_to(soft, shape)

    signal = np.full(shape, AIR, np.float32)
    signal[soft] = SOFT_TISSUE
    signal[canal] = CSF
    signal[cord & canal] = CORD
    signal[disc] = DISC
    signal[body] = MARROW
    return signal, vertebrae


def _paint_lesions(
    signal: np.ndarray,
    vertebrae: np.ndarray,
    coords: Sequence[np.ndarray],
    segments: Sequence[dict[str, float | str]],
    labels: dict[str, int],
    lesions: Sequence[LesionSpec],
    diffuse_levels: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Paint diffuse levels (whole body ``MARROW * DIFFUSE``) and focal lesions into
    ``signal`` in place; return the uint8 truth mask (1 where painted) and the int16 site
    map (which metastasis each truth voxel belongs to, :func:`_site_groups`)."""
    truth_mask = np.zeros(signal.shape, np.uint8)
    sites = np.zeros(signal.shape, np.int16)
    for i, name in enumerate(diffuse_levels, start=1):
        sel = vertebrae == labels[name]
        signal[sel] = MARROW * DIFFUSE
        truth_mask[sel] = 1
        sites[sel] = i
    bodies = {str(s["name"]): s for s in segments if s["kind"] == "body"}
    centres = []
    for spec in lesions:
        seg = bodies[spec.level]
        centre = np.array([0.0, 0.0, (float(seg["top"]) + float(seg["bottom"])) / 2.0])
        centres.append(centre + np.asarray(spec.offset_mm, dtype=float))
    groups = _site_groups(lesions, centres)
    for spec, centre, group in zip(lesions, centres, groups, strict=True):
        _paint_sphere(signal, truth_mask, vertebrae, coords, centre, spec)
        _mark_site(sites, truth_mask, coords, centre, spec, len(diffuse_levels) + 1 + group)
    return truth_mask, sites


#: Two painted spheres are one metastasis when the neck between them (the radius of
#: their intersection circle) is wider than this times the smaller radius, or one
#: centre lies inside the other sphere; otherwise two (touching) metastases. The same
#: ratio is the detector's default (:attr:`core.lesions.DetectionParams.neck_ratio`).
TOUCHING_NECK_RATIO = 0.75


def _one_site(r1: float, r2: float, c1: np.ndarray, c2: np.ndarray) -> bool:
    d = float(np.linalg.norm(c1 - c2))
    if d >= r1 + r2:
        return False
    if d <= abs(r1 - r2) or d == 0:
        return True
    x1 = (d * d + r1 * r1 - r2 * r2) / (2 * d)  # intersection plane from centre 1
    if not 0 < x1 < d:
        return True  # a centre inside the other sphere: no neck
    neck = math.sqrt(max(0.0, r1 * r1 - x1 * x1))
    return neck > TOUCHING_NECK_RATIO * min(r1, r2)


def _site_groups(lesions: Sequence[LesionSpec], centres: Sequence[np.ndarray]) -> list[int]:
    """Group index (0-based) of each lesion: overlapping spheres joined by a wide neck
    (:data:`TOUCHING_NECK_RATIO`) are one metastasis."""
    parent = list(range(len(lesions)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(lesions)):
        for j in range(i):
            if _one_site(lesions[i].radius_mm, lesions[j].radius_mm, centres[i], centres[j]):
                parent[root(i)] = root(j)
    return [root(i) for i in range(len(lesions))]


def _sphere_box(coords: Sequence[np.ndarray], c: np.ndarray, reach: float):
    """Array box ``[z, y, x]`` of the voxel centres within ``reach`` of ``c`` per axis
    and the squared distances of its voxels (``None`` when empty)."""
    idx = []
    for a in range(3):
        inside = np.nonzero(np.abs(coords[a] - c[a]) <= reach)[0]
        if inside.size == 0:
            return None, None
        idx.append(slice(int(inside[0]), int(inside[-1]) + 1))
    d2 = ((coords[0][idx[0]] - c[0]) ** 2)[None, None, :] + (
        (coords[1][idx[1]] - c[1]) ** 2
    )[None, :, None] + ((coords[2][idx[2]] - c[2]) ** 2)[:, None, None]
    return (idx[2], idx[1], idx[0]), d2


def blurred_ball(rho: np.ndarray, radius: float, sigma: float) -> np.ndarray:
    """Lesion fraction of a ball of ``radius`` blurred by a Gaussian of SD ``sigma`` at
    distance ``rho`` from its centre (:class:`LesionSpec` ``edge_mm``); exact, volume
    preserving. ``sigma = 0``: the indicator ``rho <= radius``."""
    rho = np.asarray(rho, dtype=np.float64)
    if sigma <= 0:
        return (rho <= radius).astype(np.float64)
    safe = np.maximum(rho, 1e-6)
    a, b = (radius - safe) / sigma, (radius + safe) / sigma
    value = ndtr(a) - ndtr(-b) - (sigma / safe) * (_pdf(a) - _pdf(b))
    t = radius / sigma  # the limit at the centre
    centre = 2 * ndtr(t) - 1 - 2 * t * _pdf(t)
    return np.clip(np.where(rho < 1e-6, centre, value), 0.0, 1.0)


def _pdf(x: np.ndarray | float) -> np.ndarray:
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2 * math.pi)


def _paint_sphere(signal: np.ndarray, truth_mask: np.ndarray, vertebrae: np.ndarray,
                  coords: Sequence[np.ndarray], c: np.ndarray, spec: LesionSpec) -> None:
    """Sphere ``|p - c| <= radius`` (blurred by ``spec.edge_mm``) restricted to labelled
    (body) voxels: the signal becomes ``max(signal, MARROW * (1 + a (intensity - 1)))``
    and the truth mask 1 inside the sphere. Nothing is painted when the box is empty."""
    edge = max(0.0, float(spec.edge_mm))
    box, d2 = _sphere_box(coords, c, spec.radius_mm + 4.0 * edge)
    if box is None:
        return
    body = vertebrae[box] > 0
    fraction = blurred_ball(np.sqrt(d2), spec.radius_mm, edge).astype(np.float32)
    painted = body & (fraction > 1e-3)
    sub = signal[box]
    value = MARROW * (1.0 + fraction * (float(spec.intensity) - 1.0))
    sub[painted] = np.maximum(sub[painted], value[painted])
    truth_mask[box][(d2 <= spec.radius_mm**2) & body] = 1


def _mark_site(sites: np.ndarray, truth_mask: np.ndarray, coords: Sequence[np.ndarray],
               c: np.ndarray, spec: LesionSpec, site: int) -> None:
    """Site id on the sphere's truth voxels not yet claimed by an earlier lesion."""
    box, d2 = _sphere_box(coords, c, spec.radius_mm)
    if box is None:
        return
    claim = (d2 <= spec.radius_mm**2) & (truth_mask[box] > 0) & (sites[box] == 0)
    sites[box][claim] = site


def _add_bias_and_noise(signal: np.ndarray, rng: np.random.Generator,
                        coords: Sequence[np.ndarray], extent: _Extent, bias: float,
                        noise_sd: float) -> None:
    """Multiply ``signal`` in place by ``1 + bias * f(p)`` (see :func:`_bias_field`),
    then replace it by its Rician magnitude ``|signal + n_re + i n_im|`` with
    ``n_re, n_im ~ N(0, noise_sd^2)``. Bias draws come first from ``rng``."""
    if bias > 0:
        signal *= 1.0 + np.float32(bias / 3.0) * _bias_field(rng, coords, signal.shape, extent)
    if noise_sd > 0:
        sd = np.float32(noise_sd)
        real = signal + sd * rng.standard_normal(signal.shape, dtype=np.float32)
        imag = sd * rng.standard_normal(signal.shape, dtype=np.float32)
        np.hypot(real, imag, out=signal)


def _bias_field(rng: np.random.Generator, coords: Sequence[np.ndarray],
                shape: tuple[int, ...], extent: _Extent) -> np.ndarray:
    """``3 f(p) = sum_j cos(k_j . p + phi_j)`` (float32) over three random plane waves:
    ``k_j = 2 pi / lambda_j * u_j``, ``u_j`` a random unit vector, wavelength
    ``lambda_j ~ U(1.5, 3) * |hi - lo|`` (the FOV diagonal), phase ``phi_j ~ U(0, 2 pi)``.
    """
    diagonal = float(np.linalg.norm(extent.hi - extent.lo))
    field_sum = np.zeros(shape, np.float32)
    for _ in range(3):
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        wavelength = diagonal * rng.uniform(1.5, 3.0)
        phase = rng.uniform(0, 2 * np.pi)
        k = (2 * np.pi / wavelength) * u
        field_sum += np.cos(
            (k[0] * coords[0])[None, None, :]
            + (k[1] * coords[1])[None, :, None]
            + (k[2] * coords[2])[:, None, None]
            + phase
        ).astype(np.float32)
    return field_sum


@dataclass(frozen=True)
class _OutputGrid:
    """Spacing and origin of the canonical (LPS) grid and the requested orientation."""

    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    code: str

    def image(self, array: np.ndarray) -> sitk.Image:
        """``array`` (``[z, y, x]``, LPS) as an image re-oriented to ``code``."""
        img = sitk.GetImageFromArray(array)
        img.SetSpacing(self.spacing)
        img.SetOrigin(self.origin)
        return img if self.code == "LPS" else sitk.DICOMOrient(img, self.code)


def _site_count(components: np.ndarray, keep: np.ndarray, sites: np.ndarray,
                min_voxels: float) -> int:
    """Metastases in one body: each kept truth component counts its distinct sites
    (touching spheres) of at least ``min_voxels`` voxels, and at least 1."""
    total = 0
    for comp in np.nonzero(keep)[0] + 1:
        ids, n = np.unique(sites[components == comp], return_counts=True)
        total += max(1, int(np.count_nonzero((ids > 0) & (n >= min_voxels))))
    return total


def _truth(
    vertebrae: np.ndarray,
    truth_mask: np.ndarray,
    sites: np.ndarray,
    labels: dict[str, int],
    voxel_mm3: float,
    min_volume_mm3: float,
) -> dict[str, dict[str, object]]:
    """Per level: ``lesion_count`` = metastatic sites in the body (connected truth
    components of at least ``min_volume_mm3``; touching spheres that are separate sites,
    :data:`TOUCHING_NECK_RATIO`, count one each), the HI volume of those components,
    the body volume and their ratio."""
    structure = np.ones((3, 3, 3), bool)
    objects = ndimage.find_objects(vertebrae)
    out: dict[str, dict[str, object]] = {}
    for name in sorted(labels, key=lambda n: ANATOMY[n][1]):
        label = labels[name]
        box = objects[label - 1] if label - 1 < len(objects) else None
        if box is None:
            out[name] = {"label": label, "region": ANATOMY[name][0], "lesion_count": 0,
                         "high_intensity_volume_ml": 0.0, "vertebra_volume_ml": 0.0,
                         "high_intensity_ratio": 0.0}
            continue
        inside = vertebrae[box] == label
        lesion = (truth_mask[box] > 0) & inside
        components, count = ndimage.label(lesion, structure=structure)
        sizes = np.bincount(components.ravel(), minlength=count + 1)[1:]
        keep = sizes * voxel_mm3 >= min_volume_mm3 * (1 - 1e-9)
        vertebra_ml = float(inside.sum()) * voxel_mm3 / 1000.0
        hi_ml = float(sizes[keep].sum()) * voxel_mm3 / 1000.0
        out[name] = {
            "label": label,
            "region": ANATOMY[name][0],
            "lesion_count": _site_count(components, keep, sites[box],
                                        min_volume_mm3 / voxel_mm3 * (1 - 1e-9)),
            "high_intensity_volume_ml": hi_ml,
            "vertebra_volume_ml": vertebra_ml,
            "high_intensity_ratio": hi_ml / vertebra_ml if vertebra_ml else 0.0,
        }
    return out
