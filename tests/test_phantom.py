"""core.phantom: seeded, physically defined synthetic spines with known truth."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from core.levels import CONVENTIONS, label_for_name
from core.phantom import CSF, DISC, MARROW, LesionSpec, make_spine_phantom

LEVELS = ("T12", "L1", "L2")


def _arr(img: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(img)


def _orientation(img: sitk.Image) -> str:
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(img.GetDirection())


def test_same_seed_same_volume_other_seed_other_noise():
    a = make_spine_phantom(seed=5, levels=LEVELS, bias=0.2)
    b = make_spine_phantom(seed=5, levels=LEVELS, bias=0.2)
    c = make_spine_phantom(seed=6, levels=LEVELS, bias=0.2)
    assert np.array_equal(_arr(a.image), _arr(b.image))
    assert not np.array_equal(_arr(a.image), _arr(c.image))
    assert np.array_equal(_arr(a.vertebrae), _arr(c.vertebrae))


def test_grids_types_and_labels():
    p = make_spine_phantom(seed=1, levels=LEVELS, convention="totalsegmentator")
    assert p.image.GetPixelID() == sitk.sitkFloat32
    assert p.vertebrae.GetPixelID() == sitk.sitkUInt8
    assert p.lesion_mask.GetPixelID() == sitk.sitkUInt8
    for other in (p.vertebrae, p.lesion_mask):
        assert other.GetSize() == p.image.GetSize()
        assert other.GetOrigin() == p.image.GetOrigin()
        assert other.GetDirection() == p.image.GetDirection()
    assert set(np.unique(_arr(p.vertebrae))) == {0, 32, 31, 30}  # TS: T12, L1, L2
    assert list(p.truth) == ["T12", "L1", "L2"]
    assert p.truth["L1"]["label"] == 31 and p.truth["L1"]["region"] == "lumbar"


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_every_convention_labels_its_levels(convention):
    p = make_spine_phantom(seed=1, levels=("C7", "T1"), convention=convention, noise_sd=0)
    labels = set(np.unique(_arr(p.vertebrae))) - {0}
    assert labels == {label_for_name("C7", convention), label_for_name("T1", convention)}


def test_contrast_and_anatomy_without_noise():
    p = make_spine_phantom(seed=0, levels=LEVELS, noise_sd=0.0)
    img, lab = _arr(p.image), _arr(p.vertebrae)
    assert np.allclose(img[lab > 0], MARROW)  # unlabelled marrow only, no lesion
    assert np.isclose(img.max(), CSF)  # CSF is the brightest structure ...
    assert not (lab[np.isclose(img, CSF)] > 0).any()  # ... and never labelled
    assert np.isclose(img, DISC).sum() > 1000  # discs between the bodies
    assert not (lab[np.isclose(img, DISC)] > 0).any()
    assert _arr(p.lesion_mask).sum() == 0
    assert all(t["lesion_count"] == 0 for t in p.truth.values())


def test_lesions_are_painted_inside_bodies_only_and_truth_counts():
    p = make_spine_phantom(
        seed=0,
        levels=LEVELS,
        noise_sd=0.0,
        lesions=[LesionSpec("L1", 6.0, 3.0), LesionSpec("T12", 12.0, 2.0, (0.0, 14.0, 0.0))],
    )
    img, lab, truth = _arr(p.image), _arr(p.vertebrae), _arr(p.lesion_mask)
    assert (lab[truth > 0] > 0).all()
    assert np.allclose(img[truth > 0], [300.0 if v == 20 else 200.0 for v in lab[truth > 0]])
    # The T12 sphere reaches past the back of the body: only its inside is painted.
    assert p.truth["T12"]["lesion_count"] == 1
    sphere_ml = 4 / 3 * np.pi * 6.0**3 / 1000
    assert p.truth["L1"]["lesion_count"] == 1
    assert p.truth["L1"]["high_intensity_volume_ml"] == pytest.approx(sphere_ml, rel=0.05)
    assert p.truth["L2"]["lesion_count"] == 0


def test_lesion_through_a_disc_is_one_site_per_body_and_small_parts_do_not_count():
    # L1 body 26 mm + disc 9 mm: centre 17.5 mm below L1's centre is mid-disc.
    through = LesionSpec("L1", 9.0, 2.5, (0.0, 0.0, -17.5))
    p = make_spine_phantom(seed=0, levels=LEVELS, noise_sd=0.0, lesions=[through])
    assert p.truth["L1"]["lesion_count"] == 1 and p.truth["L2"]["lesion_count"] == 1
    shallow = LesionSpec("L1", 5.0, 2.5, (0.0, 0.0, -17.5))  # cap ~1 mm into each body
    q = make_spine_phantom(seed=0, levels=LEVELS, noise_sd=0.0, lesions=[shallow])
    assert q.truth["L1"]["lesion_count"] == 0 and q.truth["L1"]["high_intensity_volume_ml"] == 0


def test_diffuse_level_is_the_whole_body():
    p = make_spine_phantom(seed=0, levels=LEVELS, diffuse_levels=("L2",), noise_sd=0.0)
    t = p.truth["L2"]
    assert t["lesion_count"] == 1 and t["high_intensity_ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("orientation", "spacing"),
    [("LPS", (1.0, 1.0, 1.0)), ("RAS", (1.0, 1.0, 1.0)), ("PIR", (1.0, 1.0, 1.0)),
     ("ASL", (0.7, 0.7, 4.0)), ("PIR", (0.7, 0.7, 4.0)), ("LPS", (0.8, 0.9, 3.0))],
)
def test_geometry_is_physical_for_any_orientation_and_spacing(orientation, spacing):
    lesions = [LesionSpec("L1", 6.0), LesionSpec("T12", 5.0, 2.5, (7.0, 0.0, 0.0))]
    ref = make_spine_phantom(seed=2, levels=LEVELS, lesions=lesions)
    p = make_spine_phantom(seed=2, levels=LEVELS, lesions=lesions, orientation=orientation,
                           spacing_mm=spacing)
    assert _orientation(p.image) == orientation
    assert p.image.GetSpacing() == pytest.approx(spacing)
    for name in LEVELS:
        assert p.truth[name]["lesion_count"] == ref.truth[name]["lesion_count"]
        # Voxelisation: a 20-26 mm body sampled every 3-4 mm may gain or lose a slice.
        assert p.truth[name]["vertebra_volume_ml"] == pytest.approx(
            ref.truth[name]["vertebra_volume_ml"], rel=0.13)
        assert p.truth[name]["high_intensity_volume_ml"] == pytest.approx(
            ref.truth[name]["high_intensity_volume_ml"], rel=0.15, abs=1e-9)
    # Physical placement: the centroid of L1's label is at the same LPS point.
    def centroid(ph):
        stats = sitk.LabelShapeStatisticsImageFilter()
        stats.Execute(ph.vertebrae)
        return np.array(stats.GetCentroid(20))
    assert np.allclose(centroid(p), centroid(ref), atol=max(spacing))


def test_same_spacing_per_axis_gives_identical_voxels_in_every_orientation():
    lps = make_spine_phantom(seed=4, levels=LEVELS, bias=0.3, spacing_mm=(0.7, 4.0, 0.7))
    pir = make_spine_phantom(seed=4, levels=LEVELS, bias=0.3, orientation="PIR",
                             spacing_mm=(4.0, 0.7, 0.7))
    back = sitk.DICOMOrient(pir.image, "LPS")
    assert np.array_equal(_arr(back), _arr(lps.image))
    assert np.allclose(back.GetOrigin(), lps.image.GetOrigin())


def test_bias_field_is_smooth_and_multiplicative():
    flat = make_spine_phantom(seed=9, levels=LEVELS, noise_sd=0.0)
    biased = make_spine_phantom(seed=9, levels=LEVELS, noise_sd=0.0, bias=0.4)
    ratio = _arr(biased.image) / _arr(flat.image)
    assert ratio.min() >= 0.6 - 1e-6 and ratio.max() <= 1.4 + 1e-6  # 1 +/- bias
    assert ratio.max() - ratio.min() > 0.05  # it does vary over the field of view
    step = np.abs(np.diff(ratio, axis=0)).max()
    assert step < 0.01  # smooth: < 1 % change per 1 mm


def test_fov_option_sets_the_grid_size():
    p = make_spine_phantom(seed=0, levels=LEVELS, fov_mm=(64.0, 80.0, 120.0),
                           spacing_mm=(0.5, 1.0, 2.0))
    assert p.image.GetSize() == (128, 80, 60)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"levels": ("L1", "X9")},
        {"levels": ()},
        {"levels": ("L1", "L1")},
        {"orientation": "LPQ"},
        {"orientation": "LLS"},
        {"spacing_mm": (1.0, 0.0, 1.0)},
        {"lesions": [LesionSpec("L4", 5.0)]},
        {"lesions": [LesionSpec("L1", 0.0)]},
        {"diffuse_levels": ("T1",)},
        {"bias": 1.5},
        {"noise_sd": -1.0},
        {"convention": "sct", "levels": ("sacrum",)},
    ],
)
def test_bad_arguments_raise_value_error(kwargs):
    args = {"seed": 0, "levels": LEVELS} | kwargs
    with pytest.raises(ValueError):
        make_spine_phantom(**args)
