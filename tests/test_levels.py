"""core.levels: label conventions (checked against the published tables) and alignment."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from core.levels import (
    CONVENTIONS,
    Level,
    align_mask,
    label_for_name,
    level_for_label,
    map_labels,
    physical_bounds,
    same_grid,
)
from core.vocab import ANATOMY, REGIONS

# TotalSegmentator, totalsegmentator/map_to_binary.py, class_map["total"] (v2): the
# vertebra entries, copied literally. Every other id 1-117 is an organ/vessel/muscle/rib.
TS_TOTAL_VERTEBRAE = {
    25: "sacrum", 26: "vertebrae_S1", 27: "vertebrae_L5", 28: "vertebrae_L4",
    29: "vertebrae_L3", 30: "vertebrae_L2", 31: "vertebrae_L1", 32: "vertebrae_T12",
    33: "vertebrae_T11", 34: "vertebrae_T10", 35: "vertebrae_T9", 36: "vertebrae_T8",
    37: "vertebrae_T7", 38: "vertebrae_T6", 39: "vertebrae_T5", 40: "vertebrae_T4",
    41: "vertebrae_T3", 42: "vertebrae_T2", 43: "vertebrae_T1", 44: "vertebrae_C7",
    45: "vertebrae_C6", 46: "vertebrae_C5", 47: "vertebrae_C4", 48: "vertebrae_C3",
    49: "vertebrae_C2", 50: "vertebrae_C1",
}
# A few non-vertebra classes of class_map["total"] (ignored, not an error).
TS_TOTAL_OTHERS = {1: "spleen", 5: "liver", 24: "kidney_cyst_right", 51: "heart",
                   79: "spinal_cord", 92: "rib_left_1", 117: "costal_cartilages"}

# class_map["vertebrae_mr"] (the MR task with levels), copied literally.
TS_VERTEBRAE_MR = {
    1: "sacrum", 2: "vertebrae_L5", 3: "vertebrae_L4", 4: "vertebrae_L3", 5: "vertebrae_L2",
    6: "vertebrae_L1", 7: "vertebrae_T12", 8: "vertebrae_T11", 9: "vertebrae_T10",
    10: "vertebrae_T9", 11: "vertebrae_T8", 12: "vertebrae_T7", 13: "vertebrae_T6",
    14: "vertebrae_T5", 15: "vertebrae_T4", 16: "vertebrae_T3", 17: "vertebrae_T2",
    18: "vertebrae_T1", 19: "vertebrae_C7", 20: "vertebrae_C6", 21: "vertebrae_C5",
    22: "vertebrae_C4", 23: "vertebrae_C3", 24: "vertebrae_C2", 25: "vertebrae_C1",
}

# VerSe (verse utils v_dict): 1-7 C1-C7, 8-19 T1-T12, 20-25 L1-L6, 26 sacrum,
# 27 coccyx, 28 T13.
VERSE = {
    1: "C1", 2: "C2", 3: "C3", 4: "C4", 5: "C5", 6: "C6", 7: "C7", 8: "T1", 9: "T2",
    10: "T3", 11: "T4", 12: "T5", 13: "T6", 14: "T7", 15: "T8", 16: "T9", 17: "T10",
    18: "T11", 19: "T12", 20: "L1", 21: "L2", 22: "L3", 23: "L4", 24: "L5", 25: "L6",
    26: "sacrum", 27: "coccyx", 28: "T13",
}

# Spinal Cord Toolbox vertebral levels (consecutive from C1; disc C2/C3 = 3, so
# L5/S1 = 25 and S1 = 25).
SCT = {
    1: "C1", 2: "C2", 3: "C3", 4: "C4", 5: "C5", 6: "C6", 7: "C7", 8: "T1", 9: "T2",
    10: "T3", 11: "T4", 12: "T5", 13: "T6", 14: "T7", 15: "T8", 16: "T9", 17: "T10",
    18: "T11", 19: "T12", 20: "L1", 21: "L2", 22: "L3", 23: "L4", 24: "L5", 25: "S1",
}


def _ts_name(name: str) -> str:
    return name.removeprefix("vertebrae_")


def test_conventions_are_the_four_documented():
    assert set(CONVENTIONS) == {"verse", "totalsegmentator", "totalsegmentator_mr", "sct"}


def test_totalsegmentator_total_table_matches_map_to_binary():
    assert dict(CONVENTIONS["totalsegmentator"]) == {
        k: _ts_name(v) for k, v in TS_TOTAL_VERTEBRAE.items()
    }


def test_totalsegmentator_mr_table_matches_vertebrae_mr():
    assert dict(CONVENTIONS["totalsegmentator_mr"]) == {
        k: _ts_name(v) for k, v in TS_VERTEBRAE_MR.items()
    }


def test_verse_and_sct_tables():
    assert dict(CONVENTIONS["verse"]) == VERSE
    assert dict(CONVENTIONS["sct"]) == SCT


@pytest.mark.parametrize(
    ("convention", "label", "name", "region"),
    [
        ("verse", 1, "C1", "cervical"), ("verse", 7, "C7", "cervical"),
        ("verse", 8, "T1", "thoracic"), ("verse", 19, "T12", "thoracic"),
        ("verse", 28, "T13", "thoracic"), ("verse", 20, "L1", "lumbar"),
        ("verse", 25, "L6", "lumbar"), ("verse", 26, "sacrum", "sacral"),
        ("verse", 27, "coccyx", "sacral"),
        ("totalsegmentator", 50, "C1", "cervical"), ("totalsegmentator", 43, "T1", "thoracic"),
        ("totalsegmentator", 29, "L3", "lumbar"), ("totalsegmentator", 26, "S1", "sacral"),
        ("totalsegmentator", 25, "sacrum", "sacral"),
        ("totalsegmentator_mr", 25, "C1", "cervical"), ("totalsegmentator_mr", 6, "L1", "lumbar"),
        ("totalsegmentator_mr", 1, "sacrum", "sacral"),
        ("sct", 2, "C2", "cervical"), ("sct", 20, "L1", "lumbar"), ("sct", 24, "L5", "lumbar"),
        ("sct", 25, "S1", "sacral"),
    ],
)
def test_level_for_label(convention, label, name, region):
    level = level_for_label(label, convention)
    assert level == Level(label=label, name=name, region=region, order=ANATOMY[name][1])
    assert label_for_name(name, convention) == label


def test_orders_are_craniocaudal_in_every_convention():
    expected = ["C1", "C7", "T1", "T12", "T13", "L1", "L5", "L6", "S1", "sacrum", "coccyx"]
    orders = [ANATOMY[n][1] for n in expected]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    for convention, table in CONVENTIONS.items():
        levels = list(map_labels(table.keys(), convention).values())
        assert [lv.order for lv in levels] == sorted(lv.order for lv in levels), convention
        assert {lv.region for lv in levels} <= set(REGIONS)


def test_map_labels_sorts_skips_background_and_accepts_integral_floats():
    mapped = map_labels([22, 0, 20.0, np.int64(21)], "verse")
    assert list(mapped) == [20, 21, 22]
    assert [lv.name for lv in mapped.values()] == ["L1", "L2", "L3"]


def test_totalsegmentator_non_vertebra_classes_are_ignored():
    labels = [*TS_TOTAL_OTHERS, 29, 30]
    mapped = map_labels(labels, "totalsegmentator")
    assert [lv.name for lv in mapped.values()] == ["L2", "L3"]
    assert map_labels(list(TS_TOTAL_OTHERS), "totalsegmentator") == {}


def test_totalsegmentator_ids_beyond_the_class_map_are_errors():
    with pytest.raises(ValueError, match="118"):
        map_labels([29, 118], "totalsegmentator")


def test_total_mr_map_is_rejected_with_a_hint():
    # A total_mr map: 18 sacrum, 19 vertebrae (pooled), 21 spinal_cord, 46 autochthon.
    with pytest.raises(ValueError, match="total_mr") as err:
        map_labels([18, 19, 21, 46], "totalsegmentator_mr")
    assert "46" in str(err.value)


@pytest.mark.parametrize(("convention", "bad"), [("verse", [29, 40]), ("sct", [26, 99])])
def test_unknown_labels_are_named(convention, bad):
    with pytest.raises(ValueError) as err:
        map_labels([1, 2, *bad], convention)
    message = str(err.value)
    assert all(str(b) in message for b in bad)
    assert convention in message
    assert "\n" not in message


def test_non_integer_label_and_unknown_convention():
    with pytest.raises(ValueError, match=r"2\.5"):
        map_labels([2.5], "verse")
    with pytest.raises(ValueError, match="nope"):
        map_labels([1], "nope")
    with pytest.raises(ValueError, match="total_mr"):
        level_for_label(30, "totalsegmentator_mr")
    with pytest.raises(ValueError, match="5"):
        level_for_label(5, "totalsegmentator")  # liver: not a vertebra
    with pytest.raises(ValueError, match="coccyx"):
        label_for_name("coccyx", "sct")


# --------------------------------------------------------------------------- alignment


def _image(array: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    return img


def test_align_same_grid_returns_the_mask():
    ref = _image(np.zeros((6, 7, 8), np.float32))
    mask = _image(np.ones((6, 7, 8), np.uint8))
    assert same_grid(mask, ref)
    assert align_mask(mask, ref) is mask


def test_align_within_tolerance_copies_the_reference_geometry():
    ref = _image(np.zeros((6, 7, 8), np.float32), origin=(1.0, 2.0, 3.0))
    mask = _image(np.ones((6, 7, 8), np.uint8), origin=(1.0 + 1e-5, 2.0, 3.0))
    out = align_mask(mask, ref)
    assert out.GetOrigin() == ref.GetOrigin()
    assert np.array_equal(sitk.GetArrayFromImage(out), sitk.GetArrayFromImage(mask))


def test_align_resamples_a_coarser_mask_by_physical_position():
    # Reference: 1 mm grid, 20^3. Mask: 2 mm grid over the same box, label 7 in the
    # physical region x in [10, 20) mm.
    ref = _image(np.zeros((20, 20, 20), np.float32))
    coarse = np.zeros((10, 10, 10), np.uint8)
    coarse[:, :, 5:] = 7
    mask = _image(coarse, spacing=(2.0, 2.0, 2.0), origin=(0.5, 0.5, 0.5))
    out = align_mask(mask, ref, name="vertebrae")
    assert same_grid(out, ref)
    assert out.GetPixelID() == sitk.sitkUInt8
    arr = sitk.GetArrayFromImage(out)
    x = np.arange(20)
    expected = np.broadcast_to(np.where(x >= 10, 7, 0)[None, None, :], (20, 20, 20))
    assert np.array_equal(arr, expected)


def test_align_reorients_a_mask_stored_in_another_orientation():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=(9, 10, 11)).astype(np.uint8)
    ref = _image(np.zeros((9, 10, 11), np.float32), spacing=(0.7, 0.8, 2.0), origin=(3, -4, 5))
    mask = _image(labels, spacing=(0.7, 0.8, 2.0), origin=(3, -4, 5))
    sagittal = sitk.DICOMOrient(mask, "PIR")
    assert not same_grid(sagittal, ref)
    out = align_mask(sagittal, ref)
    assert np.array_equal(sitk.GetArrayFromImage(out), labels)


def test_align_partial_overlap_fills_outside_with_zero():
    ref = _image(np.zeros((10, 10, 10), np.float32))
    mask = _image(np.full((10, 10, 10), 3, np.uint8), origin=(5.0, 0.0, 0.0))
    arr = sitk.GetArrayFromImage(align_mask(mask, ref))
    assert (arr[:, :, :5] == 0).all() and (arr[:, :, 5:] == 3).all()


def test_align_without_overlap_names_the_mask():
    ref = _image(np.zeros((10, 10, 10), np.float32))
    far = _image(np.ones((10, 10, 10), np.uint8), origin=(500.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="lesion mask"):
        align_mask(far, ref, name="lesion mask")
    flat = sitk.Image([10, 10], sitk.sitkUInt8)
    with pytest.raises(ValueError, match="dimensions"):
        align_mask(flat, ref)


def test_physical_bounds_include_voxel_edges_and_direction():
    img = _image(np.zeros((2, 3, 4), np.float32), spacing=(1.0, 2.0, 3.0), origin=(10, 20, 30))
    lo, hi = physical_bounds(img)
    assert np.allclose(lo, [9.5, 19.0, 28.5]) and np.allclose(hi, [13.5, 25.0, 34.5])
    flipped = sitk.DICOMOrient(img, "RAI")
    lo2, hi2 = physical_bounds(flipped)
    assert np.allclose(lo, lo2) and np.allclose(hi, hi2)


def test_huge_integer_labels_are_named_exactly():
    # labels went through float(): 2**63 + 5 was reported as 9223372036854775808
    big = np.uint64(2**63 + 5)
    with pytest.raises(ValueError, match=str(2**63 + 5)):
        map_labels([big], "verse")
    with pytest.raises(ValueError, match=str(2**60 + 1)):
        map_labels([2**60 + 1], "sct")
    assert map_labels([np.int64(20), 20.0], "verse")[20].name == "L1"


def test_readme_lists_every_label_convention() -> None:
    """The README's convention table is the registry, row for row."""
    from pathlib import Path

    from core.levels import LABEL_CONVENTIONS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `") and "` |" in line]
    expected = [f"| `{c.name}` | {c.title} | {c.description} |"
                for c in LABEL_CONVENTIONS.values()]
    assert [r for r in rows if r in expected] == expected
    assert len([r for r in rows if r.split("`")[1] in LABEL_CONVENTIONS]) == len(expected)
