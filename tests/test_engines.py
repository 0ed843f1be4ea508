"""core.engines: the real calling code, run against small fake engine executables put
first on PATH by the test (they write a known map); nothing is downloaded."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from core.engines import ENGINES, EngineError, engine_available, find_engine, run_engine
from core.levels import label_for_name
from core.phantom import LesionSpec, make_spine_phantom

REPO = Path(__file__).resolve().parents[1]
LEVELS = ("T11", "T12", "L1", "L2", "L3")


def _fake(folder: Path, name: str, body: str) -> Path:
    """An executable Python script ``name`` in ``folder``."""
    path = folder / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body), encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture(scope="module")
def phantom():
    return make_spine_phantom(seed=51, levels=LEVELS, lesions=(LesionSpec("L1", 6.0),),
                              noise_sd=5.0)


@pytest.fixture()
def known_map(phantom, tmp_path) -> Path:
    """The phantom's levels in the TotalSegmentator vertebrae_mr convention."""
    arr = sitk.GetArrayFromImage(phantom.vertebrae)
    out = np.zeros_like(arr)
    for name in LEVELS:
        out[arr == label_for_name(name, "verse")] = label_for_name(name, "totalsegmentator_mr")
    img = sitk.GetImageFromArray(out)
    img.CopyInformation(phantom.vertebrae)
    path = tmp_path / "known.nii.gz"
    sitk.WriteImage(img, str(path))
    return path


@pytest.fixture()
def fake_path(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return folder


TOTALSEG = """
import os, shutil, sys
args = sys.argv[1:]
out = args[args.index("-o") + 1]
task = args[args.index("--task") + 1]
assert "--ml" in args and os.path.isfile(args[args.index("-i") + 1])
print("Predicting part 1 of 2 ...", flush=True)
print("proxy", os.environ.get("HTTPS_PROXY"), "hub offline", os.environ.get("HF_HUB_OFFLINE"),
      flush=True)
print("task", task, flush=True)
shutil.copy(os.environ["FAKE_ENGINE_MAP"], out)
print("Saving segmentations ... done", flush=True)
"""


def test_totalsegmentator_fake_engine_is_run_and_read(phantom, known_map, fake_path,
                                                      monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MAP", str(known_map))
    _fake(fake_path, "TotalSegmentator", TOTALSEG)
    assert engine_available("totalsegmentator")
    assert find_engine("totalsegmentator") == str(fake_path / "TotalSegmentator")
    lines: list[str] = []
    result = run_engine("totalsegmentator", phantom.image, progress=lines.append)
    assert result.convention == "totalsegmentator_mr" and result.task == "vertebrae_mr"
    assert lines[0] == "Predicting part 1 of 2 ..." and "task vertebrae_mr" in lines
    # Nothing is downloaded: the engine sees a refusing proxy and an offline hub.
    assert any("proxy http://127.0.0.1:9 hub offline 1" in line for line in lines)
    expected = sitk.GetArrayFromImage(sitk.ReadImage(str(known_map)))
    assert np.array_equal(sitk.GetArrayFromImage(result.label_map), expected)
    assert result.provenance()["engine"] == "totalsegmentator"


def test_cli_segment_runs_the_engine_then_names_and_checks(phantom, known_map, fake_path,
                                                           tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MAP", str(known_map))
    _fake(fake_path, "TotalSegmentator", TOTALSEG)
    sitk.WriteImage(phantom.image, str(tmp_path / "img.nii.gz"))
    done = subprocess.run([sys.executable, "-m", "core", "extract", str(tmp_path / "img.nii.gz"),
                           "--segment", "totalsegmentator"], cwd=REPO, capture_output=True,
                          text=True, timeout=180, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [lv["level"] for lv in data["levels"]] == list(LEVELS)
    assert {lv["level"]: lv["lesion_count"] for lv in data["levels"]} == {
        k: v["lesion_count"] for k, v in phantom.truth.items()}
    assert data["provenance"]["segmentation_engine"]["task"] == "vertebrae_mr"
    assert data["label_qc"] == []
    assert "progress: Predicting part 1 of 2 ..." in done.stderr


def test_total_mr_task_output_is_named_from_its_sacrum(fake_path, tmp_path, monkeypatch):
    p = make_spine_phantom(seed=52, levels=("L3", "L4", "L5", "sacrum"), noise_sd=5.0)
    arr = sitk.GetArrayFromImage(p.vertebrae)
    total_mr = np.where(arr > 0, 19, 0).astype(np.uint8)
    total_mr[arr == label_for_name("sacrum", "verse")] = 18
    img = sitk.GetImageFromArray(total_mr)
    img.CopyInformation(p.vertebrae)
    sitk.WriteImage(img, str(tmp_path / "total_mr.nii.gz"))
    sitk.WriteImage(p.image, str(tmp_path / "img.nii.gz"))
    monkeypatch.setenv("FAKE_ENGINE_MAP", str(tmp_path / "total_mr.nii.gz"))
    _fake(fake_path, "TotalSegmentator", TOTALSEG)
    done = subprocess.run([sys.executable, "-m", "core", "extract", str(tmp_path / "img.nii.gz"),
                           "--segment", "totalsegmentator", "--segment-task", "total_mr"],
                          cwd=REPO, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [lv["level"] for lv in data["levels"]] == ["L3", "L4", "L5", "sacrum"]
    assert data["provenance"]["convention"] == "total_mr"


def test_spineps_fake_output_keeps_vertebrae_only(phantom, fake_path, tmp_path, monkeypatch):
    arr = sitk.GetArrayFromImage(phantom.vertebrae).astype(np.uint16)
    arr[0, 0, :3] = (119, 220, 20)  # a disc (100 + T12) and an endplate id: dropped
    img = sitk.GetImageFromArray(arr)
    img.CopyInformation(phantom.vertebrae)
    sitk.WriteImage(img, str(tmp_path / "vert.nii.gz"))
    monkeypatch.setenv("FAKE_ENGINE_MAP", str(tmp_path / "vert.nii.gz"))
    _fake(fake_path, "spineps", """
        import os, pathlib, shutil, sys
        args = sys.argv[1:]
        assert args[0] == "sample"
        source = pathlib.Path(args[args.index("-i") + 1])
        out = source.parent / "derivatives_seg" / "sub-x_seg-vert_msk.nii.gz"
        out.parent.mkdir()
        shutil.copy(os.environ["FAKE_ENGINE_MAP"], out)
        print("done", flush=True)
    """)
    result = run_engine("spineps", phantom.image)
    assert result.convention == "verse"
    got = sitk.GetArrayFromImage(result.label_map)
    assert got.max() < 100 and got[0, 0, 2] == 20


def test_missing_engine_says_how_to_install_it(tmp_path, monkeypatch, phantom):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed here
    assert not engine_available("totalsegmentator")
    with pytest.raises(EngineError, match="not installed") as err:
        run_engine("totalsegmentator", phantom.image)
    message = str(err.value)
    assert "pip install TotalSegmentator" in message and "never downloads" in message
    assert "\n" not in message
    with pytest.raises(EngineError, match="spineps"):
        find_engine("spineps")
    with pytest.raises(EngineError, match="not one of"):
        find_engine("nnunet")
    assert set(ENGINES) == {"totalsegmentator", "spineps"}


def test_cli_missing_engine_exits_2_with_one_line(phantom, tmp_path):
    sitk.WriteImage(phantom.image, str(tmp_path / "img.nii.gz"))
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "core", "extract", str(tmp_path / "img.nii.gz"),
                           "--segment", "spineps"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install spineps" in lines[0]


def test_engine_failure_and_timeout(phantom, fake_path):
    _fake(fake_path, "TotalSegmentator", """
        import sys
        print("Downloading weights ... connection refused", flush=True)
        sys.exit(3)
    """)
    with pytest.raises(EngineError, match="exit code 3") as err:
        run_engine("totalsegmentator", phantom.image)
    assert "connection refused" in str(err.value)
    _fake(fake_path, "TotalSegmentator", """
        import time
        print("working", flush=True)
        time.sleep(60)
    """)
    with pytest.raises(EngineError, match="did not finish within 1 s"):
        run_engine("totalsegmentator", phantom.image, timeout_s=1.0)
    _fake(fake_path, "TotalSegmentator", "print('nothing written')\n")
    with pytest.raises(EngineError, match="wrote no label map"):
        run_engine("totalsegmentator", phantom.image)
    with pytest.raises(EngineError, match="task"):
        run_engine("totalsegmentator", phantom.image, task="lung_vessels")
