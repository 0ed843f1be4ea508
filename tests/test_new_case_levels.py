"""New case: label QA on the page, level corrections and segmentation engines (issue 10).

AppTests of ``pages/new_case.py`` on an empty store in a temporary data directory (the
page needs no stored study), with phantoms built to each failure and uploaded as NIfTI,
the bundled SCT demo case, and a fake engine executable put first on ``PATH``; plus unit
tests of :mod:`ui.level_qc` and the store's correction audit.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from streamlit.testing.v1 import AppTest

from core.level_correction import AUDIT_ACTION, rename_body
from core.levels import label_for_name
from core.phantom import LesionSpec, make_spine_phantom
from tests.data_io_helpers import relabel
from tests.test_app_pages import assert_ok

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
TIMEOUT = 180
LEVELS = ("T11", "T12", "L1", "L2", "L3")


# --------------------------------------------------------------------------- helpers


def _v(name: str) -> int:
    return label_for_name(name, "verse")


@pytest.fixture(scope="module")
def phantom():
    """Five lumbar/thoracic bodies with lesions in L1 and L3 (known truth)."""
    return make_spine_phantom(seed=21, levels=LEVELS, spacing_mm=(1.5, 1.5, 1.5),
                              lesions=(LesionSpec("L1", 6.0), LesionSpec("L3", 5.0)),
                              noise_sd=5.0)


def nifti(image: sitk.Image, folder: Path, name: str) -> tuple[str, bytes, str]:
    path = folder / name
    sitk.WriteImage(image, str(path), useCompression=True)
    return name, path.read_bytes(), "application/gzip"


@pytest.fixture()
def env(data_dir: Path):
    """An empty store in a temporary data directory; full error details in AppTest."""
    from streamlit import config

    previous = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    yield data_dir
    config.set_option("client.showErrorDetails", previous)


def new_case() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/new_case.py").run()
    assert_ok(at)
    return at


def upload(at: AppTest, tmp: Path, image: sitk.Image, labels: sitk.Image,
           convention: str = "verse") -> AppTest:
    at.radio(key="newcase_source").set_value("Upload files").run()
    at.file_uploader(key="newcase_image").set_value(nifti(image, tmp, "mri.nii.gz"))
    at.file_uploader(key="newcase_vertebrae").set_value(nifti(labels, tmp, "levels.nii.gz"))
    at.selectbox(key="newcase_convention").set_value(convention)
    at.run()
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    return at


def table_levels(at: AppTest) -> list[str]:
    tables = [df.value for df in at.dataframe if "Vertebra volume (ml)" in df.value.columns]
    return list(tables[0]["Level"]) if tables else []


def case(at: AppTest):
    return at.session_state["newcase_case"]


def audit_log():
    from core.store import CaseStore

    return CaseStore().audit_log()


# ------------------------------------------------------------------------ QA on the page


def test_sct_demo_shows_cord_level_map_and_no_measurements(env):
    at = new_case()
    at.selectbox(key="newcase_demo_image").set_value("DEMO-IMG-01")
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "`cord_level_map`" in errors[0], errors
    assert "Measurement refused" in errors[0] and "vertebral-body map" in errors[0]
    assert "body mask with the convention 'binary'" in errors[0]  # what to do on this page
    assert at.image, "the image is not shown"
    assert case(at).vertebrae_array is not None  # the cord labels are shown on it
    assert set(case(at).level_names.values()) == {"C2", "C3", "C4", "C5"}
    # No bone measurement anywhere: no level table, no burden metrics, no spine chart.
    assert table_levels(at) == [] and case(at).metrics is None
    assert not [m for m in at.metric if m.label == "Total lesions"]
    assert any("Not measured: label QA refused" in i.value for i in at.info)
    # Nothing to correct on a cord map (another map is needed).
    assert "newcase_fix_shift_apply" not in {b.key for b in at.button}


def test_missing_level_and_cut_body_are_shown_and_flagged_in_the_table(env, tmp_path):
    p = make_spine_phantom(seed=3, levels=("T10", "T11", "T12", "L1", "L2", "L3", "L4"),
                           spacing_mm=(1.5, 1.5, 1.5), noise_sd=5.0,
                           fov_mm=(110.0, 130.0, 175.0))  # T10 and L4 cut by the FOV
    at = upload(new_case(), tmp_path, p.image, relabel(p.vertebrae, {_v("L1"): 0}))
    assert not at.error, [e.value for e in at.error]
    warnings = [w.value for w in at.warning if "Check these levels" in w.value]
    assert len(warnings) == 1, [w.value for w in at.warning]
    assert "**L1** · `missing_level`: L1 is missing between T12 and L2" in warnings[0]
    assert "**T10** · `partial_in_view`" in warnings[0]
    assert "**L4** · `partial_in_view`" in warnings[0]
    # Measured (warnings only), the flagged ratios marked beside them.
    table = next(df.value for df in at.dataframe if "Label QA" in df.value.columns)
    flags = dict(zip(table["Level"], table["Label QA"], strict=True))
    assert list(flags) == ["T10", "T11", "T12", "L2", "L3", "L4"]
    assert flags["T10"] == flags["L4"] == "⚠ partial_in_view"
    assert flags["T11"] == flags["L2"] == ""
    assert list(table.columns).index("Label QA") == list(table.columns).index("HI ratio (%)") + 1
    assert {f["code"] for f in case(at).label_qc} == {"missing_level", "partial_in_view"}


def test_t1_declared_sequence_is_flagged(env, tmp_path, phantom):
    at = new_case()
    at.radio(key="newcase_source").set_value("Upload files").run()
    at.selectbox(key="newcase_sequence").set_value("T1")
    at.run()
    upload(at, tmp_path, phantom.image, phantom.vertebrae)
    assert any("`t1_sequence`" in w.value for w in at.warning)
    assert case(at).sequence == "T1"


# ------------------------------------------------------------------------ corrections


def test_swapped_map_renamed_is_measured_again_audited_and_saved_with_the_study(
        env, tmp_path, phantom):
    swapped = relabel(phantom.vertebrae, {_v("L1"): _v("L2"), _v("L2"): _v("L1")})
    at = upload(new_case(), tmp_path, phantom.image, swapped)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "`order_inconsistent`" in errors[0]
    assert "rename one body" in errors[0]
    assert case(at).metrics is None and table_levels(at) == []
    draft = case(at).draft_id
    # No prediction while QA refuses the map, until corrected or confirmed.
    at.text_input(key="newcase_patient_id").input("SITE-LEVELS-1")
    at.button(key="newcase_clinical_submit").click().run()
    assert_ok(at)
    waiting = [w.value for w in at.warning if "No prediction yet" in w.value]
    assert len(waiting) == 1 and "`order_inconsistent`" in waiting[0]
    assert not [h for h in at.header if "Save the case" in h.value]
    assert "newcase_save" not in {b.key for b in at.button}
    at.checkbox(key=f"newcase_qc_confirm_{draft}").check().run()
    assert_ok(at)
    assert [h for h in at.header if "Save the case" in h.value]  # predicted (imputed)
    at.checkbox(key=f"newcase_qc_confirm_{draft}").uncheck().run()
    at.selectbox(key="newcase_fix_rename_body").set_value("L1")
    at.selectbox(key="newcase_fix_rename_to").set_value("L2")
    at.button(key="newcase_fix_rename_apply").click().run()
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    assert table_levels(at) == list(LEVELS)
    measured = {lv["level"]: lv["lesion_count"] for lv in case(at).metrics["levels"]}
    assert measured == {k: v["lesion_count"] for k, v in phantom.truth.items()}
    assert any("Label QA: no findings" in s.value for s in at.success)
    done = [s.value for s in at.success if "Corrected" in s.value]
    assert done and "L1 and L2 swapped names." in done[0]
    changes = next(df.value for df in at.dataframe if "Before" in df.value.columns)
    assert changes.values.tolist() == [["L2", "L1"], ["L1", "L2"]]
    assert any("order_inconsistent (error)" in cap.value and "after: no findings" in cap.value
               for cap in at.caption)
    entry = audit_log().iloc[-1]
    assert (entry["action"], entry["target"]) == (AUDIT_ACTION, f"draft {draft}")
    assert entry["details"]["summary"] == "L1 and L2 swapped names."
    assert entry["details"]["action"] == "rename"
    # Corrected: predicted without confirming. Saving records the correction with the
    # study, and the QA with the metrics.
    assert not [w for w in at.warning if "No prediction yet" in w.value]
    at.button(key="newcase_save").click().run()
    assert_ok(at)
    saved = [s.value for s in at.success if "Saved as study" in s.value]
    assert saved, [e.value for e in at.error]
    study_id = int(re.search(r"study \*\*(\d+)\*\*", saved[0]).group(1))
    log = audit_log()
    with_study = log[(log["action"] == AUDIT_ACTION) & (log["target"] == f"study {study_id}")]
    assert len(with_study) == 1
    assert with_study.iloc[0]["details"]["draft_id"] == draft
    assert with_study.iloc[0]["details"]["changes"] == [["T11", "T11"], ["T12", "T12"],
                                                       ["L2", "L1"], ["L1", "L2"], ["L3", "L3"]]
    from core.store import CaseStore

    record = CaseStore().get_study(study_id)
    assert [lv["level"] for lv in record.levels] == list(LEVELS)
    assert record.metrics["label_qc"] == []
    assert record.metrics["provenance"]["level_corrections"] == ["L1 and L2 swapped names."]
    assert record.image_meta["label_qc"] == []


def test_shift_corrects_names_counted_one_level_off(env, tmp_path, phantom):
    off = relabel(phantom.vertebrae, {_v(a): _v(b) for a, b in zip(
        LEVELS, ("T12", "L1", "L2", "L3", "L4"), strict=True)})  # written from the top
    at = upload(new_case(), tmp_path, phantom.image, off)
    assert table_levels(at) == ["T12", "L1", "L2", "L3", "L4"]
    lesions_before = [lv["lesion_count"] for lv in case(at).metrics["levels"]]
    at.number_input(key="newcase_fix_shift_k").set_value(-1)
    at.button(key="newcase_fix_shift_apply").click().run()
    assert_ok(at)
    assert table_levels(at) == list(LEVELS)
    assert [lv["lesion_count"] for lv in case(at).metrics["levels"]] == lesions_before
    assert case(at).metrics["involved_levels"] == ["L1", "L3"]
    assert case(at).convention == "verse"
    assert [c["action"] for c in case(at).corrections] == ["shift"]
    entry = audit_log().iloc[-1]
    assert entry["action"] == AUDIT_ACTION and entry["details"]["action"] == "shift"
    assert "T12-L4 became T11-L3" in entry["details"]["summary"]
    # A shift off the spine is refused with one sentence; nothing changes.
    at.number_input(key="newcase_fix_shift_k").set_value(-20)
    at.button(key="newcase_fix_shift_apply").click().run()
    assert_ok(at)
    refused = [e.value for e in at.error]
    assert len(refused) == 1 and refused[0].startswith("The correction was not made:")
    assert table_levels(at) == list(LEVELS)
    assert len(audit_log()) == 1


def _display_point(case_, index: int, zyx: tuple[int, int, int]) -> dict:
    """Where voxel ``zyx`` is drawn in the page's clickable sagittal slice."""
    from ui import slice_render

    window, level = slice_render.auto_window(case_.volume)
    render = slice_render.render_slice(case_.volume, case_.spacing_xyz, "sagittal", index, window,
                                       level, vertebrae=case_.vertebrae_array,
                                       level_names=case_.level_names, opacity=0.45,
                                       target_px=420, min_aspect=0.0)
    row_mm, col_mm = slice_render.plane_spacing(case_.spacing_xyz, "sagittal")
    rows = case_.volume.shape[0]
    row = ((rows - 1 - zyx[0]) + 0.5) * row_mm / render.pixel_mm - 0.5
    col = (zyx[1] + 0.5) * col_mm / render.pixel_mm - 0.5
    height, width = render.rgb.shape[:2]
    return {"x": round(col), "y": round(row), "width": width, "height": height,
            "unix_time": 1}


def test_click_a_body_and_name_it(env, tmp_path, phantom):
    off = relabel(phantom.vertebrae, {_v(a): _v(b) for a, b in zip(
        LEVELS, ("T9", "T10", "T11", "T12", "L1"), strict=True)})
    at = upload(new_case(), tmp_path, phantom.image, off)
    assert table_levels(at) == ["T9", "T10", "T11", "T12", "L1"]
    assert at.button(key="newcase_fix_click_apply").disabled  # nothing clicked yet
    c = case(at)
    index = int(at.slider(key="newcase_fix_click_slice_number").value) - 1  # numbered from 1
    # The middle voxel of the body now called T11 in the clicked slice (truly L1).
    zs, ys = np.nonzero(c.vertebrae_array[:, :, index] == _v("T11"))
    voxel = (int(np.median(zs)), int(np.median(ys)), index)
    at.session_state["newcase_fix_click_image"] = _display_point(c, index, voxel)
    at.run()
    assert_ok(at)
    assert any("Clicked body: **T11**" in cap.value for cap in at.caption)
    at.selectbox(key="newcase_fix_click_level").set_value("L1")
    at.button(key="newcase_fix_click_apply").click().run()
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    assert table_levels(at) == list(LEVELS)
    assert case(at).metrics["involved_levels"] == ["L1", "L3"]
    entry = audit_log().iloc[-1]
    assert entry["details"]["action"] == "name_at"
    assert "set to L1" in entry["details"]["summary"]
    # The click was used: the next correction needs a new click.
    assert at.button(key="newcase_fix_click_apply").disabled


def test_binary_mask_named_from_the_lowest_level(env, tmp_path, phantom):
    mask = sitk.Cast(phantom.vertebrae > 0, sitk.sitkUInt8)
    at = new_case()
    at.radio(key="newcase_source").set_value("Upload files").run()
    at.selectbox(key="newcase_convention").set_value("binary").run()
    assert at.radio(key="newcase_naming_how").value == "lowest"
    at.selectbox(key="newcase_naming_level").set_value("L3")
    upload(at, tmp_path, phantom.image, mask, convention="binary")
    assert not at.error, [e.value for e in at.error]
    assert table_levels(at) == list(LEVELS)
    assert any("`levels_named`" in i.value for i in at.info)
    assert case(at).metrics["provenance"]["level_naming"]["names"] == list(LEVELS)


# ---------------------------------------------------------------------------- engines


TOTALSEG = """
import os, shutil, sys
args = sys.argv[1:]
out = args[args.index("-o") + 1]
print("Predicting part 1 of 1 ...", flush=True)
shutil.copy(os.environ["FAKE_ENGINE_MAP"], out)
print("Saving segmentations ... done", flush=True)
"""


def _fake_engine(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body), encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _image_only(at: AppTest, tmp: Path, image: sitk.Image) -> AppTest:
    at.radio(key="newcase_source").set_value("Upload files").run()
    at.file_uploader(key="newcase_image").set_value(nifti(image, tmp, "mri.nii.gz"))
    at.run()
    at.button(key="newcase_measure").click().run()
    assert_ok(at)
    assert any("without measurements" in i.value for i in at.info)
    return at


def test_engine_not_installed_says_how_to_install_it(env, tmp_path, phantom, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    at = _image_only(new_case(), tmp_path, phantom.image)
    hints = [i.value for i in at.info if "not installed" in i.value]
    assert len(hints) == 2
    assert "pip install TotalSegmentator" in hints[0] and "never downloads" in hints[0]
    assert "pip install spineps" in hints[1]
    assert not [b for b in at.button if (b.key or "").startswith("newcase_engine_")]


def test_fake_engine_segments_names_checks_and_measures(env, tmp_path, phantom, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    # The engine writes TotalSegmentator's vertebrae_mr ids of the phantom's levels.
    arr = sitk.GetArrayFromImage(phantom.vertebrae)
    known = np.zeros_like(arr)
    for name in LEVELS:
        known[arr == _v(name)] = label_for_name(name, "totalsegmentator_mr")
    known_map = sitk.GetImageFromArray(known)
    known_map.CopyInformation(phantom.vertebrae)
    sitk.WriteImage(known_map, str(tmp_path / "known.nii.gz"))
    monkeypatch.setenv("FAKE_ENGINE_MAP", str(tmp_path / "known.nii.gz"))
    _fake_engine(folder, "TotalSegmentator", TOTALSEG)
    at = _image_only(new_case(), tmp_path, phantom.image)
    assert not [i for i in at.info if "TotalSegmentator (MR) is not installed" in i.value]
    assert any("pip install spineps" in i.value for i in at.info)  # the other one is not
    at.number_input(key="newcase_engine_timeout").set_value(2)
    at.button(key="newcase_engine_totalsegmentator").click().run()
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    assert table_levels(at) == list(LEVELS)
    assert any("Label QA: no findings" in s.value for s in at.success)
    provenance = case(at).metrics["provenance"]
    assert provenance["segmentation_engine"]["engine"] == "totalsegmentator"
    assert provenance["convention"] == "totalsegmentator_mr"
    measured = {lv["level"]: lv["lesion_count"] for lv in case(at).metrics["levels"]}
    assert measured == {k: v["lesion_count"] for k, v in phantom.truth.items()}


def test_engine_progress_lines_and_failure_sentence(tmp_path, phantom, monkeypatch):
    """The progress lines reach the page's thread in order; a failing engine's error is
    one sentence (the engine ran through :func:`ui.measure.segment_case`)."""
    from core.engines import EngineError
    from ui.measure import MeasuredCase, segment_case

    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    _fake_engine(folder, "TotalSegmentator", """
        import sys
        for i in range(3):
            print(f"step {i}", flush=True)
        sys.exit(4)
    """)
    base = MeasuredCase(image_id="x", image=phantom.image, meta={"modality": "MR"},
                        volume=sitk.GetArrayFromImage(phantom.image),
                        spacing_xyz=phantom.image.GetSpacing())
    lines: list[str] = []
    with pytest.raises(EngineError, match="exit code 4") as err:
        segment_case(base, "totalsegmentator", timeout_s=60, on_line=lines.append)
    assert lines == ["step 0", "step 1", "step 2"]
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------ units


def test_click_to_index_round_trips_every_plane():
    from ui.level_qc import click_to_index
    from ui.slice_render import plane_spacing, render_slice

    rng = np.random.default_rng(0)
    volume = rng.normal(size=(30, 20, 12)).astype(np.float32)  # z, y, x
    spacing = (0.8, 1.1, 2.5)  # x, y, z: anisotropic
    for plane, index in (("sagittal", 5), ("coronal", 7), ("axial", 11)):
        render = render_slice(volume, spacing, plane, index, 2.0, 0.0, target_px=300,
                              min_aspect=0.0)
        row_mm, col_mm = plane_spacing(spacing, plane)
        for zyx in ((3, 4, 5), (20, 7, 9), (29, 19, 11), (0, 0, 0)):
            fixed = {"sagittal": 2, "coronal": 1, "axial": 0}[plane]
            zyx = tuple(index if axis == fixed else v for axis, v in enumerate(zyx))
            row = {"axial": zyx[1], "coronal": 29 - zyx[0], "sagittal": 29 - zyx[0]}[plane]
            col = {"axial": zyx[2], "coronal": zyx[2], "sagittal": zyx[1]}[plane]
            click = {"x": (col + 0.5) * col_mm / render.pixel_mm - 0.5,
                     "y": (row + 0.5) * row_mm / render.pixel_mm - 0.5}
            got = click_to_index(click, plane=plane, index=index, shape_zyx=volume.shape,
                                 spacing_xyz=spacing, pixel_mm=render.pixel_mm,
                                 rgb_shape=render.rgb.shape)
            assert got == zyx, (plane, zyx, got)
            # Displayed at half size: the click is scaled back.
            h, w = render.rgb.shape[:2]
            half = {"x": click["x"] / 2, "y": click["y"] / 2, "width": w / 2, "height": h / 2}
            assert click_to_index(half, plane=plane, index=index, shape_zyx=volume.shape,
                                  spacing_xyz=spacing, pixel_mm=render.pixel_mm,
                                  rgb_shape=render.rgb.shape) == zyx


def test_findings_helpers_group_flag_and_read_stored_studies():
    from core.level_qc import QCFinding
    from ui.level_qc import level_flags, normalise, stored_findings

    found = [QCFinding.of("transitional_vertebra", "T13 is labelled.", "T13"),
             {"code": "partial_in_view", "severity": "warning", "level": "L4",
              "message": "L4 is cut."},
             QCFinding.of("implausible_volume", "L4 is too big.", "L4"),
             QCFinding.of("cord_level_map", "Cord levels.")]
    items = normalise(found)
    assert [f["severity"] for f in items] == ["error", "warning", "warning", "note"]
    assert level_flags(found) == {"L4": "⚠ partial_in_view, implausible_volume"}
    assert stored_findings({"label_qc": []}, None) == []
    assert stored_findings({"levels": []}, {"label_qc": [found[3].to_dict()]})[0][
        "code"] == "cord_level_map"
    assert stored_findings({}, {}) is None
    with pytest.raises(ValueError, match="severity"):
        normalise([{"code": "x", "message": "y"}])


def test_store_records_level_corrections_for_drafts_and_studies(tmp_path, phantom):
    from core.store import CaseStore

    corrected = rename_body(phantom.vertebrae, "L1", "L2")
    details = corrected.correction.audit_details()
    with CaseStore(data_dir=tmp_path) as store:
        assert store.record_level_corrections([details], actor="Dr A", draft_id="abc123") == 1
        entry = store.audit_log().iloc[-1]
        assert (entry["actor"], entry["action"], entry["target"]) == (
            "Dr A", "correct-levels", "draft abc123")
        assert entry["details"]["changes"][2] == ["L1", "L2"]
        with pytest.raises(ValueError, match="study 999 does not exist"):
            store.record_level_corrections([details], actor="Dr A", study_id=999,
                                           draft_id="abc123")
        with pytest.raises(ValueError, match="draft id"):
            store.record_level_corrections([details], actor="Dr A", draft_id="../x")
        with pytest.raises(ValueError, match="study id or the draft id"):
            store.record_level_corrections([details], actor="Dr A")
        with pytest.raises(ValueError, match="no action and summary"):
            store.record_level_corrections([details, {"x": 1}], actor="Dr A",
                                           draft_id="abc123")
        assert len(store.audit_log()) == 1  # all or nothing
        study = store.save_case("SITE-C1", "2024-03-01", clinical={"age": 60, "sex": "F"},
                                actor="Dr A")
        assert store.record_level_corrections([details, details], actor="Dr B",
                                              study_id=study, draft_id="abc123") == 2
        log = store.audit_log()
        mine = log[log["target"] == f"study {study}"]
        assert list(mine["action"]) == ["save", "correct-levels", "correct-levels"]
        assert mine.iloc[-1]["details"]["draft_id"] == "abc123"
