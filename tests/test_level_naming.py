"""core.level_naming and core.level_correction: plain masks named, maps corrected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from core.level_correction import (
    AUDIT_ACTION,
    name_body_at,
    rename_body,
    shift_level_names,
)
from core.level_naming import name_plain_mask, naming_sequence, split_bodies
from core.level_qc import run_label_qc
from core.levels import label_for_name
from core.measure import Naming, measure_study
from core.phantom import LesionSpec, make_spine_phantom

REPO = Path(__file__).resolve().parents[1]
LEVELS = ("T10", "T11", "T12", "L1", "L2", "L3", "L4")
LESIONS = (LesionSpec("T12", 5.0, 2.5, (8.0, 0.0, 0.0)), LesionSpec("L1", 6.0),
           LesionSpec("L3", 5.5, 2.2, (-6.0, 0.0, 0.0)))


def _arr(img: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(img)


def _like(array: np.ndarray, ref: sitk.Image) -> sitk.Image:
    img = sitk.GetImageFromArray(array)
    img.CopyInformation(ref)
    return img


def _binary(labels: sitk.Image) -> sitk.Image:
    return sitk.Cast(labels > 0, sitk.sitkUInt8)


def _levels(payload: dict) -> list[dict]:
    return payload["levels"]


@pytest.fixture(scope="module")
def phantom():
    return make_spine_phantom(seed=41, levels=LEVELS, lesions=LESIONS, diffuse_levels=("L2",),
                              orientation="PIR", spacing_mm=(0.9, 0.9, 3.0), bias=0.3,
                              noise_sd=6.0)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "extract", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=180, check=False)


# ------------------------------------------------------------------- Done means


def test_binary_mask_named_with_lowest_reproduces_the_phantom_exactly(phantom, tmp_path):
    """A binary mask made from the phantom's level map, named with --lowest, gives the
    phantom's per-level results exactly (issue 10, Done means)."""
    image, vert, binary = (tmp_path / n for n in ("img.nii.gz", "vert.nii.gz", "bin.nii.gz"))
    sitk.WriteImage(phantom.image, str(image))
    sitk.WriteImage(phantom.vertebrae, str(vert))
    sitk.WriteImage(_binary(phantom.vertebrae), str(binary))
    named_out = tmp_path / "named.nii.gz"
    ref = _run(str(image), "--vertebrae", str(vert))
    got = _run(str(image), "--vertebrae", str(binary), "--convention", "binary",
               "--lowest", "L4", "--save-levels", str(named_out))
    assert ref.returncode == 0 and got.returncode == 0, ref.stderr + got.stderr
    a, b = json.loads(ref.stdout), json.loads(got.stdout)
    assert _levels(b) == _levels(a)
    assert {lv["level"]: lv["lesion_count"] for lv in _levels(b)} == {
        k: v["lesion_count"] for k, v in phantom.truth.items()}
    for key in ("lesion_count", "lesion_count_by_region", "involved_levels",
                "high_intensity_ratio", "vertebra_volume_ml", "high_intensity_volume_ml"):
        assert b[key] == a[key], key
    assert b["provenance"]["convention"] == "binary"
    assert b["provenance"]["level_naming"]["names"] == list(LEVELS)
    assert [f["code"] for f in b["label_qc"]] == ["levels_named"]
    # The saved map is the phantom's own map (canonical LPS grid of the image).
    saved = sitk.ReadImage(str(named_out))
    assert saved.GetSize() == sitk.DICOMOrient(phantom.vertebrae, "LPS").GetSize()
    assert np.array_equal(_arr(saved), _arr(sitk.DICOMOrient(phantom.vertebrae, "LPS")))


def test_highest_and_errors(phantom):
    binary = _binary(phantom.vertebrae)
    named = name_plain_mask(binary, highest="T10")
    assert named.names == LEVELS
    assert np.array_equal(_arr(named.vertebrae), _arr(phantom.vertebrae))
    with pytest.raises(ValueError, match="need names"):
        name_plain_mask(binary)
    with pytest.raises(ValueError, match="not several"):
        name_plain_mask(binary, lowest="L4", highest="T10")
    with pytest.raises(ValueError, match="do not fit"):
        name_plain_mask(binary, highest="L2")  # 7 bodies from L2 down run off the spine
    with pytest.raises(ValueError, match="not a vertebral level"):
        name_plain_mask(binary, lowest="L9")
    with pytest.raises(ValueError, match="already names"):
        split_bodies(phantom.vertebrae, "verse")


def test_transitional_and_sequence():
    assert naming_sequence()[:3] == ("C1", "C2", "C3")
    assert "T13" not in naming_sequence() and naming_sequence("T13").index("T13") == 19
    p = make_spine_phantom(seed=1, levels=("T12", "T13", "L1"), noise_sd=0.0)
    named = name_plain_mask(_binary(p.vertebrae), lowest="L1")
    assert named.names == ("T11", "T12", "L1")  # counting never invents a T13 ...
    named = name_plain_mask(_binary(p.vertebrae), highest="T13")
    assert named.names == ("T13", "L1", "L2")  # ... unless it is given


# -------------------------------------------------------------- names from a map


def _cord_map(p, *, discs: bool = False) -> sitk.Image:
    """An SCT-style names map for the phantom: a cord segment behind each body over the
    body's head-foot range (SCT level numbers), or one disc point at the top of each
    body (SCT disc k = top of level k)."""
    from core.levels import label_for_name as lab

    labels = _arr(p.vertebrae)
    out = np.zeros(labels.shape, np.uint8)
    for name in LEVELS:
        zs = np.nonzero((labels == lab(name, "verse")).any(axis=(1, 2)))[0]
        ys, xs = np.nonzero((labels == lab(name, "verse")).any(axis=0))
        y_back, x_mid = ys.max() + 8, int(np.median(xs))
        value = lab(name, "sct")
        if discs:
            out[zs.max() + 1, y_back, x_mid] = value
        else:
            out[zs.min():zs.max() + 1, y_back - 3:y_back + 3, x_mid - 3:x_mid + 3] = value
    return _like(out, p.vertebrae)


@pytest.mark.parametrize("discs", [False, True])
def test_names_from_a_cord_level_or_disc_map(discs):
    p = make_spine_phantom(seed=5, levels=LEVELS, noise_sd=4.0)
    named = name_plain_mask(_binary(p.vertebrae), names_from=_cord_map(p, discs=discs),
                            names_convention="sct")
    assert named.names == LEVELS
    assert np.array_equal(_arr(named.vertebrae), _arr(p.vertebrae))
    assert "names map" in named.method


def test_names_map_on_another_grid_and_orientation():
    p = make_spine_phantom(seed=6, levels=LEVELS, noise_sd=4.0)
    cord = sitk.DICOMOrient(_cord_map(p), "PIR")
    mask = sitk.DICOMOrient(_binary(p.vertebrae), "ASL")
    named = name_plain_mask(mask, names_from=cord)
    assert named.names == LEVELS


# ------------------------------------------------------------------ total_mr, sacrum


def test_total_mr_mask_is_named_from_its_sacrum():
    p = make_spine_phantom(seed=7, levels=("L2", "L3", "L4", "L5", "sacrum"), noise_sd=4.0)
    labels = _arr(p.vertebrae)
    total_mr = np.where(labels > 0, 19, 0).astype(np.uint8)
    total_mr[labels == label_for_name("sacrum", "verse")] = 18
    total_mr[:, :4, :] = 5  # liver, a class of total_mr that is not spine: ignored
    study = measure_study(p.image, _like(total_mr, p.vertebrae), convention="total_mr")
    assert study.measured
    payload = study.payload()
    assert [lv["level"] for lv in payload["levels"]] == ["L2", "L3", "L4", "L5", "sacrum"]
    messages = " ".join(f["message"] for f in payload["label_qc"])
    assert "total_mr" in messages and "id 19" in messages
    assert payload["provenance"]["convention"] == "total_mr"


def test_binary_mask_with_a_sacrum_label():
    p = make_spine_phantom(seed=8, levels=("L3", "L4", "L5", "sacrum"), noise_sd=4.0)
    labels = _arr(p.vertebrae)
    mask = np.where(labels > 0, 1, 0).astype(np.uint8)
    mask[labels == label_for_name("sacrum", "verse")] = 2
    named = name_plain_mask(_like(mask, p.vertebrae), sacrum_label=2)
    assert named.names == ("L3", "L4", "L5", "sacrum")


# ----------------------------------------------------------------- touching bodies


def test_bodies_touching_through_a_bridge_are_split():
    p = make_spine_phantom(seed=9, levels=LEVELS, noise_sd=4.0)
    labels = _arr(p.vertebrae)
    l1, l2 = label_for_name("L1", "verse"), label_for_name("L2", "verse")
    z1 = np.nonzero((labels == l1).any(axis=(1, 2)))[0]
    z2 = np.nonzero((labels == l2).any(axis=(1, 2)))[0]
    ys, xs = np.nonzero(labels[z1.min()] == l1)
    cy, cx = int(ys.mean()), int(xs.mean())
    mask = (labels > 0).astype(np.uint8)
    zz, yy, xx = np.ogrid[:labels.shape[0], :labels.shape[1], :labels.shape[2]]
    bridge = (zz > z2.max()) & (zz < z1.min()) & ((yy - cy) ** 2 + (xx - cx) ** 2 <= 16)
    mask[bridge] = 1  # a 4 mm bridge across the L1/L2 disc: one connected object
    named = name_plain_mask(_like(mask, p.vertebrae), lowest="L4")
    assert named.names == LEVELS
    out = _arr(named.vertebrae)
    for name in LEVELS:  # each body keeps (nearly) all its voxels
        mine = labels == label_for_name(name, "verse")
        assert np.mean(out[mine] == label_for_name(name, "verse")) > 0.99


# --------------------------------------------------------------------- CLI errors


def test_cli_naming_flags_need_a_plain_mask(phantom, tmp_path):
    sitk.WriteImage(phantom.image, str(tmp_path / "img.nii.gz"))
    sitk.WriteImage(phantom.vertebrae, str(tmp_path / "vert.nii.gz"))
    proc = _run(str(tmp_path / "img.nii.gz"), "--vertebrae", str(tmp_path / "vert.nii.gz"),
                "--lowest", "L4")
    assert proc.returncode == 2 and "--convention binary" in proc.stderr
    sitk.WriteImage(_binary(phantom.vertebrae), str(tmp_path / "bin.nii.gz"))
    proc = _run(str(tmp_path / "img.nii.gz"), "--vertebrae", str(tmp_path / "bin.nii.gz"),
                "--convention", "binary")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "need names" in proc.stderr
    proc = _run(str(tmp_path / "img.nii.gz"))
    assert proc.returncode == 2 and "--vertebrae" in proc.stderr


# ----------------------------------------------------------------------- corrections


def test_shift_rename_and_name_by_click(phantom):
    labels = phantom.vertebrae
    shifted = shift_level_names(labels, 1)
    report = run_label_qc(phantom.image, shifted.vertebrae, convention=shifted.convention)
    assert list(report.volumes_ml) == ["T11", "T12", "L1", "L2", "L3", "L4", "L5"]
    record = shifted.correction
    assert record.action == "shift" and record.changes[0] == ("T10", "T11")
    details = record.audit_details()
    assert json.loads(json.dumps(details)) == details and AUDIT_ACTION == "correct-levels"
    back = shift_level_names(shifted.vertebrae, -1)
    assert np.array_equal(_arr(back.vertebrae), _arr(labels))
    with pytest.raises(ValueError, match="off the spine"):
        shift_level_names(labels, -20)
    with pytest.raises(ValueError, match="whole number"):
        shift_level_names(labels, 1.5)  # type: ignore[arg-type]

    renamed = rename_body(labels, "L4", "L5")
    assert run_label_qc(phantom.image, renamed.vertebrae,
                        convention="verse").volumes_ml.keys() >= {"L5"}
    assert renamed.correction.summary == "L4 was renamed L5."
    with pytest.raises(ValueError, match="No body"):
        rename_body(labels, "C3", "C4")

    # Click a voxel of the body now called L1 and say it is L2: all shift by one.
    arr = _arr(labels)
    z, y, x = np.argwhere(arr == label_for_name("L1", "verse"))[0]
    clicked = name_body_at(labels, (int(z), int(y), int(x)), "L2")
    assert np.array_equal(_arr(clicked.vertebrae), _arr(shifted.vertebrae))
    assert clicked.correction.action == "name_at"
    with pytest.raises(ValueError, match="within 5 mm"):
        name_body_at(labels, (0, 0, 0), "L2")


def test_a_swapped_map_is_corrected_and_passes_qa(phantom):
    arr = _arr(phantom.vertebrae)
    a, b = label_for_name("L1", "verse"), label_for_name("L2", "verse")
    swapped_arr = arr.copy()
    swapped_arr[arr == a], swapped_arr[arr == b] = b, a
    swapped = _like(swapped_arr, phantom.vertebrae)
    assert not run_label_qc(phantom.image, swapped, convention="verse").ok
    fixed = rename_body(swapped, "L1", "L2")
    assert fixed.correction.summary == "L1 and L2 swapped names."
    assert run_label_qc(phantom.image, fixed.vertebrae, convention="verse").ok
    assert np.array_equal(_arr(fixed.vertebrae), arr)


def test_measure_study_with_naming_object(phantom):
    study = measure_study(phantom.image, _binary(phantom.vertebrae), convention="binary",
                          naming=Naming(highest="T10"))
    assert study.convention == "verse" and study.input_convention == "binary"
    assert [lv.level for lv in study.result.metrics.levels] == list(LEVELS)
