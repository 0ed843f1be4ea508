"""core.level_qc: label QA on real maps and on phantoms built to each failure (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.io import read_image, read_label_map
from core.level_qc import (
    QC_CODES,
    VERTEBRAL_BODY_VOLUME_ML,
    VOLUME_RANGE_SOURCES,
    LabelQCError,
    QCFinding,
    run_label_qc,
)
from core.levels import label_for_name
from core.measure import measure_study
from core.phantom import make_spine_phantom
from tests.conftest import SHARED_DATA
from tests.data_io_helpers import relabel

LEVELS = ("T10", "T11", "T12", "L1", "L2", "L3", "L4")
TS_CT = SHARED_DATA / "totalsegmentator_ct"


def _phantom(**kwargs):
    base = {"seed": 3, "levels": LEVELS, "spacing_mm": (1.5, 1.5, 1.5), "noise_sd": 5.0,
            "bias": 0.2}
    return make_spine_phantom(**(base | kwargs))


def _codes(report, level=None) -> set[str]:
    return {f.code for f in report.findings if level is None or f.level == level}


def _v(name: str) -> int:
    return label_for_name(name, "verse")


# ------------------------------------------------------------------------- real data


def test_real_sct_t2_and_pam50_are_cord_level_maps(sct_data):
    cases = [(sct_data / "t2" / "t2.nii.gz", sct_data / "t2" / "t2_seg-manual_labeled.nii.gz"),
             (sct_data / "template" / "template" / "PAM50_small_t2.nii.gz",
              sct_data / "template" / "template" / "PAM50_small_levels.nii.gz")]
    for image_path, labels_path in cases:
        loaded = read_image(image_path)
        labels = read_label_map(labels_path, reference=loaded.image)
        for convention in ("sct", "verse"):  # by design, and by shape
            report = run_label_qc(loaded.image, labels, convention=convention,
                                  meta=loaded.meta)
            assert [f.code for f in report.errors] == ["cord_level_map"], convention
            assert not report.ok
            assert all(v < 2.0 for v in report.volumes_ml.values())  # ~1 ml cord segments
        assert "spinal-cord" in report.errors[0].message


def test_real_totalsegmentator_ct_is_refused_and_t11_is_cut():
    if not TS_CT.is_dir():
        pytest.fail(f"real CT not found at {TS_CT}", pytrace=False)
    loaded = read_image(TS_CT / "example_ct.nii.gz")
    labels = read_label_map(TS_CT / "example_ct_totalseg_vertebrae_T11-S1.nii.gz",
                            reference=loaded.image)
    report = run_label_qc(loaded.image, labels, convention="totalsegmentator",
                          meta=loaded.meta)
    assert report.errors[0].code == "not_mr_image"
    assert "CT" in report.errors[0].message
    assert "partial_in_view" in _codes(report, "T11")
    cut = next(f for f in report.findings if f.code == "partial_in_view" and f.level == "T11")
    assert "superior" in cut.message
    assert report.volumes_ml["T11"] == pytest.approx(2.052, abs=0.01)  # ~2 ml in view
    # No metadata at all: the Hounsfield-like intensities alone refuse it.
    bare = run_label_qc(loaded.image, labels, convention="totalsegmentator")
    assert bare.errors[0].code == "not_mr_image" and "-1000" in bare.errors[0].message
    # The whole chain refuses to measure, with one sentence.
    study = measure_study(loaded.image, labels, convention="totalsegmentator",
                          meta=loaded.meta)
    assert not study.measured and study.payload() is None
    with pytest.raises(LabelQCError, match="CT"):
        study.raise_for_errors()


def test_dicom_mr_metadata_skips_the_hounsfield_test():
    p = _phantom()
    hu = sitk.GetArrayFromImage(p.image) - 1000.0  # air at about -1000
    image = sitk.GetImageFromArray(hu.astype(np.float32))
    image.CopyInformation(p.image)
    assert "not_mr_image" in _codes(run_label_qc(image, p.vertebrae, convention="verse"))
    dicom_mr = {"modality": "MR", "source_format": "dicom"}
    assert "not_mr_image" not in _codes(run_label_qc(image, p.vertebrae, convention="verse",
                                                     meta=dicom_mr))
    dicom_ct = {"modality": "CT", "source_format": "dicom"}
    report = run_label_qc(p.image, p.vertebrae, convention="verse", meta=dicom_ct)
    assert report.errors[0].code == "not_mr_image"
    assert "DICOM Modality CT" in report.errors[0].message


# --------------------------------------------------------------------- clean phantoms


@pytest.mark.parametrize("orientation", ["LPS", "PIR", "ASL", "RAS"])
def test_clean_phantom_has_no_findings(orientation):
    p = _phantom(orientation=orientation)
    report = run_label_qc(p.image, p.vertebrae, convention="verse")
    assert report.findings == () and report.ok and report.to_list() == []
    assert list(report.volumes_ml) == list(LEVELS)


def test_volume_ranges_are_data_with_sources():
    assert set(VERTEBRAL_BODY_VOLUME_ML) == {"cervical", "thoracic", "lumbar"}
    assert set(VOLUME_RANGE_SOURCES) == set(VERTEBRAL_BODY_VOLUME_ML)
    for lo, hi in VERTEBRAL_BODY_VOLUME_ML.values():
        assert 0 < lo < hi
    # The phantom's bodies lie inside the ranges (cervical 3.2, thoracic 10.5, lumbar 24.5).
    p = make_spine_phantom(seed=1, levels=("C5", "C6", "C7", "T1", "T2"), noise_sd=0.0)
    report = run_label_qc(p.image, p.vertebrae, convention="verse")
    assert "implausible_volume" not in _codes(report)


# ------------------------------------------------------- phantoms built to each failure


def test_missing_level():
    p = _phantom()
    report = run_label_qc(p.image, relabel(p.vertebrae, {_v("L1"): 0}), convention="verse")
    missing = [f for f in report.findings if f.code == "missing_level"]
    assert [f.level for f in missing] == ["L1"] and missing[0].severity == "warning"
    assert "between T12 and L2" in missing[0].message
    assert report.ok  # a warning: measured, flagged


def test_duplicated_level():
    p = _phantom()
    report = run_label_qc(p.image, relabel(p.vertebrae, {_v("L2"): _v("L1")}),
                          convention="verse")
    assert "duplicate_level" in _codes(report, "L1")
    assert not report.ok and report.errors[0].code == "duplicate_level"


@pytest.mark.parametrize("orientation", ["LPS", "PIR", "SAR"])
def test_swapped_levels_in_any_orientation(orientation):
    p = _phantom(orientation=orientation)
    swapped = relabel(p.vertebrae, {_v("L1"): _v("L2"), _v("L2"): _v("L1")})
    report = run_label_qc(p.image, swapped, convention="verse")
    assert [f.code for f in report.errors] == ["order_inconsistent"]
    assert report.errors[0].level == "L1"


def test_merged_levels():
    p = _phantom()
    labels = sitk.GetArrayFromImage(p.vertebrae)
    z2 = np.nonzero((labels == _v("L2")).any(axis=(1, 2)))[0]
    z3 = np.nonzero((labels == _v("L3")).any(axis=(1, 2)))[0]
    merged = labels.copy()
    merged[labels == _v("L3")] = _v("L2")
    disc = slice(z3.max() + 1, z2.min())  # the L2/L3 disc slices (LPS: z up)
    footprint = (labels[z2.min()] == _v("L2"))
    merged[disc][:, footprint] = _v("L2")
    image = sitk.GetImageFromArray(merged)
    image.CopyInformation(p.vertebrae)
    report = run_label_qc(p.image, image, convention="verse")
    assert "implausible_volume" in _codes(report, "L2")
    assert "missing_level" in _codes(report, "L3")


def test_cut_by_the_field_of_view():
    p = _phantom(fov_mm=(110.0, 130.0, 175.0))  # shorter than T10-L4 head to foot
    report = run_label_qc(p.image, p.vertebrae, convention="verse")
    cut = {f.level: f.message for f in report.findings if f.code == "partial_in_view"}
    assert set(cut) == {"T10", "L4"}
    assert "superior" in cut["T10"] and "inferior" in cut["L4"]
    assert report.ok
    study = measure_study(p.image, p.vertebrae, meta={"modality": "MR"})
    assert study.measured
    assert {f["level"] for f in study.payload()["label_qc"]} == {"T10", "L4"}


def test_transitional_vertebra():
    p = _phantom(levels=("T11", "T12", "T13", "L1", "L2"))
    report = run_label_qc(p.image, p.vertebrae, convention="verse")
    notes = [f for f in report.findings if f.code == "transitional_vertebra"]
    assert [(f.level, f.severity) for f in notes] == [("T13", "note")]
    assert "missing_level" not in _codes(report)


def test_labels_on_background():
    p = _phantom()
    image = sitk.GetArrayFromImage(p.image)
    image[sitk.GetArrayViewFromImage(p.vertebrae) == _v("L2")] = 0.0  # signal void
    blank = sitk.GetImageFromArray(image)
    blank.CopyInformation(p.image)
    report = run_label_qc(blank, p.vertebrae, convention="verse")
    assert "label_on_background" in _codes(report, "L2")
    assert _codes(report, "L1") == set()


def test_t1_sequence_is_flagged_never_silent():
    p = _phantom()
    for meta, sequence in (({"sequence": "T1"}, None), (None, "T1"), (None, "T1-FS")):
        report = run_label_qc(p.image, p.vertebrae, convention="verse", meta=meta,
                              sequence=sequence)
        assert [f.code for f in report.findings] == ["t1_sequence"]
        assert report.findings[0].severity == "warning" and "T1" in report.findings[0].message
    for sequence in ("STIR", "T2-FS", "T2"):
        assert run_label_qc(p.image, p.vertebrae, convention="verse",
                            sequence=sequence).findings == ()


# ---------------------------------------------------------------------------- findings


def test_findings_are_frozen_and_json():
    finding = QCFinding.of("missing_level", "L3 is missing.", "L3")
    assert finding.severity == "warning"
    with pytest.raises(AttributeError):
        finding.level = "L4"  # type: ignore[misc]
    assert json.loads(json.dumps(finding.to_dict())) == {
        "code": "missing_level", "severity": "warning", "level": "L3",
        "message": "L3 is missing."}
    with pytest.raises(ValueError, match="not one of"):
        QCFinding("no_such_code", "error", None, "x")
    assert all(sev in ("error", "warning", "note") for sev, _ in QC_CODES.values())


def test_every_code_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for code in QC_CODES:
        assert f"`{code}`" in readme, code


# -------------------------------------------------------------------------- properties


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.integers(0, 14), n=st.integers(3, 6),
       orientation=st.sampled_from(["LPS", "PIR", "ASL", "RSA", "IPL"]),
       swap=st.integers(0, 4), seed=st.integers(0, 1000))
def test_property_clean_maps_pass_and_swaps_are_caught(start, n, orientation, swap, seed):
    names = ([f"C{i}" for i in range(3, 8)] + [f"T{i}" for i in range(1, 13)]
             + [f"L{i}" for i in range(1, 6)])[start:start + n]
    p = make_spine_phantom(seed=seed, levels=names, spacing_mm=(2.0, 2.0, 2.0),
                           orientation=orientation, noise_sd=4.0)
    assert run_label_qc(p.image, p.vertebrae, convention="verse").ok
    i = swap % (len(names) - 1)
    a, b = _v(names[i]), _v(names[i + 1])
    report = run_label_qc(p.image, relabel(p.vertebrae, {a: b, b: a}), convention="verse")
    assert "order_inconsistent" in [f.code for f in report.errors]
