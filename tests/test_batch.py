"""``python -m core batch``: a manifest of phantom studies (NIfTI written through
SimpleITK) plus broken rows, measured on local processes and on a real Dask
LocalCluster; resume, interruption, the store import, and bad manifests / output paths.
"""

from __future__ import annotations

import csv
import json
import multiprocessing.forkserver
import os
import shutil
from pathlib import Path

import psutil
import pytest
import SimpleITK as sitk

from core.batch import (
    FEATURE_COLUMNS,
    BatchRow,
    measure_manifest_row,
    read_manifest,
    run_batch,
)
from core.batch import executors as executors_module
from core.batch import output as output_module
from core.batch.executors import LOCAL_CLUSTER_CONFIG, itk_threads
from core.cli import main
from core.clinical import IMAGING_COLUMNS
from core.phantom import LesionSpec, make_spine_phantom
from core.store import CaseStore

HEADER = "patient_id,study_date,image,vertebrae,lesions,convention"
OK_ROWS = ("P001", "P002", "P003")
PHANTOMS = {
    # name: (seed, lesions, orientation, spacing, lesion mask given)
    "P001": (11, (LesionSpec("L1", 6.0),), "LPS", (1.0, 1.0, 3.0), False),
    "P002": (12, (LesionSpec("T12", 5.0, 2.5, (8.0, 0.0, 0.0)), LesionSpec("L2", 6.0)),
             "PIR", (0.9, 0.9, 3.0), True),
    "P003": (13, (), "RAS", (1.2, 1.2, 2.5), False),
}


def _write_phantom(folder: Path, name: str, seed: int | None = None) -> dict[str, str]:
    base_seed, lesions, orientation, spacing, with_mask = PHANTOMS[name]
    p = make_spine_phantom(seed=base_seed if seed is None else seed, lesions=lesions,
                           orientation=orientation, spacing_mm=spacing, noise_sd=5.0)
    files = {"image": f"{name}/stir.nii.gz", "vertebrae": f"{name}/vert.nii.gz",
             "lesions": f"{name}/lesions.nii.gz" if with_mask else ""}
    (folder / name).mkdir(exist_ok=True)
    sitk.WriteImage(p.image, str(folder / files["image"]))
    sitk.WriteImage(p.vertebrae, str(folder / files["vertebrae"]))
    if with_mask:
        sitk.WriteImage(p.lesion_mask, str(folder / files["lesions"]))
    return files


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, sct_data) -> Path:
    """A folder with phantom studies, a cord-level SCT map, a corrupt image, and a
    study whose image is removed after the manifest is read (``P005``)."""
    folder = tmp_path_factory.mktemp("cohort")
    lines = [HEADER]
    for i, name in enumerate(OK_ROWS, start=1):
        f = _write_phantom(folder, name)
        lines.append(f"{name},2024-03-0{i},{f['image']},{f['vertebrae']},{f['lesions']},verse")
    sct = folder / "sct"
    sct.mkdir()
    shutil.copy(sct_data / "t2" / "t2.nii.gz", sct / "t2.nii.gz")
    shutil.copy(sct_data / "t2" / "t2_seg-manual_labeled.nii.gz", sct / "cord_levels.nii.gz")
    lines.append("SCT01,2023-11-20,sct/t2.nii.gz,sct/cord_levels.nii.gz,,sct")
    corrupt = folder / "corrupt"
    corrupt.mkdir()
    data = (folder / "P001" / "stir.nii.gz").read_bytes()
    (corrupt / "stir.nii.gz").write_bytes(data[: len(data) // 3])  # truncated gzip stream
    lines.append("P004,2024-03-04,corrupt/stir.nii.gz,P001/vert.nii.gz,,verse")
    gone = folder / "gone"
    gone.mkdir()
    shutil.copy(folder / "P001" / "stir.nii.gz", gone / "stir.nii.gz")
    lines.append("P005,2024-03-05,gone/stir.nii.gz,P001/vert.nii.gz,,verse")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


class Recorder:
    """A BatchProgress that records what it is told and can act at start / update."""

    def __init__(self, on_start=None, stop_after: int | None = None) -> None:
        self.total = self.resumed = None
        self.results = []
        self.on_start, self.stop_after = on_start, stop_after

    def start(self, total: int, resumed: int) -> None:
        self.total, self.resumed = total, resumed
        if self.on_start is not None:
            self.on_start()

    def update(self, result) -> None:
        self.results.append(result)
        if self.stop_after is not None and len(self.results) >= self.stop_after:
            raise KeyboardInterrupt


def _copy_cohort(cohort: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "cohort"
    shutil.copytree(cohort, folder)
    return folder


def _remove_gone(folder: Path):
    return lambda: (folder / "gone" / "stir.nii.gz").unlink()


def _copy_run(local_run: dict, work: Path) -> Path:
    """A copy of the module's run (manifest folder, features.csv, JSON) with P005's
    image back in place; returns the manifest."""
    shutil.copytree(local_run["work"], work)
    shutil.copy(work / "cohort" / "P001" / "stir.nii.gz", work / "cohort" / "gone" / "stir.nii.gz")
    return work / "cohort" / "manifest.csv"


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == FEATURE_COLUMNS
        return list(reader)


def extract_json(image: Path, vertebrae: Path, lesions: Path | None, out: Path) -> dict:
    args = ["extract", str(image), "--vertebrae", str(vertebrae), "--out", str(out)]
    if lesions is not None:
        args += ["--lesions", str(lesions)]
    assert main(args) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def without_time(payload: dict) -> dict:
    data = json.loads(json.dumps(payload))
    data["provenance"].pop("created_utc")
    return data


# ----------------------------------------------------------------- local processes


@pytest.fixture(scope="module")
def local_run(cohort, tmp_path_factory):
    """The cohort measured once on 2 local processes, with a JSON folder."""
    work = tmp_path_factory.mktemp("local")
    folder = _copy_cohort(cohort, work)
    progress = Recorder(on_start=_remove_gone(folder))
    summary = run_batch(folder / "manifest.csv", work / "features.csv", workers=2,
                        json_dir=work / "json", progress=progress)
    return {"folder": folder, "work": work, "summary": summary, "progress": progress,
            "rows": read_rows(work / "features.csv")}


def test_rows_status_and_one_sentence_errors(local_run, sct_data, capsys):
    rows = {r["patient_id"]: r for r in local_run["rows"]}
    assert [r["patient_id"] for r in local_run["rows"]] == [*OK_ROWS, "SCT01", "P004", "P005"]
    assert {k: r["status"] for k, r in rows.items()} == {
        "P001": "ok", "P002": "ok", "P003": "ok", "SCT01": "qc_error", "P004": "error",
        "P005": "error"}
    summary = local_run["summary"]
    assert (summary.rows, summary.resumed, summary.measured) == (6, 0, 6)
    assert summary.counts == {"ok": 3, "qc_error": 1, "error": 2, "skipped": 0}
    assert local_run["progress"].total == 6 and len(local_run["progress"].results) == 6
    for name in OK_ROWS:
        assert rows[name]["error"] == ""
    for name in ("SCT01", "P004", "P005"):
        error = rows[name]["error"]
        assert error and "\n" not in error and str(local_run["folder"]) not in error
        assert all(rows[name][c] == "" for c in IMAGING_COLUMNS)
    # The label-QA sentence is the one `extract` exits with.
    code = main(["extract", str(sct_data / "t2" / "t2.nii.gz"), "--vertebrae",
                 str(sct_data / "t2" / "t2_seg-manual_labeled.nii.gz"), "--convention", "sct"])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: {rows['SCT01']['error']}"
    assert "spinal-cord segments" in rows["SCT01"]["error"]
    assert "file could not be read" in rows["P005"]["error"]
    assert rows["P004"]["error"].endswith(".")
    # Hashes of what was read, also for the failed rows whose files exist.
    assert len(rows["P001"]["image_sha256"]) == 64 and rows["P001"]["lesions_sha256"] == ""
    assert len(rows["P002"]["lesions_sha256"]) == 64
    assert rows["SCT01"]["convention"] == "sct"
    assert len({rows[n]["parameters_sha256"] for n in rows if rows[n]["image_sha256"]}) == 1


def test_ok_rows_equal_extract_on_the_same_inputs(local_run, tmp_path):
    folder, work = local_run["folder"], local_run["work"]
    rows = {r["patient_id"]: r for r in local_run["rows"]}
    assert sorted(p.name for p in (work / "json").iterdir()) == [
        f"{n}_2024-03-0{i}.json" for i, n in enumerate(OK_ROWS, start=1)]
    for i, name in enumerate(OK_ROWS, start=1):
        lesions = folder / name / "lesions.nii.gz"
        expected = extract_json(folder / name / "stir.nii.gz", folder / name / "vert.nii.gz",
                                lesions if lesions.exists() else None,
                                tmp_path / f"{name}.json")
        batch_json = json.loads((work / "json" / f"{name}_2024-03-0{i}.json").read_text())
        assert without_time(batch_json) == without_time(expected)
        row = rows[name]
        assert int(row["lesion_count"]) == expected["lesion_count"]
        for region, count in expected["lesion_count_by_region"].items():
            assert int(row[f"lesion_count_{region}"]) == count
        assert int(row["involved_levels"]) == len(expected["involved_levels"])
        for column in ("high_intensity_ratio", "max_level_high_intensity_ratio"):
            assert float(row[column]) == expected[column]  # exact: repr round trip
        assert row["image_sha256"] == expected["provenance"]["input_sha256"]
        assert row["vertebrae_sha256"] == expected["provenance"]["vertebrae_sha256"]
    assert int(rows["P002"]["lesion_count"]) == 2  # the given lesion mask's two lesions
    assert json.loads((work / "json" / "P002_2024-03-02.json").read_text())[
        "provenance"]["lesion_source"] == "lesion_mask"


def test_resume_skips_done_rows(local_run, tmp_path):
    work = tmp_path / "resume"
    _copy_run(local_run, work)  # the vanished image is back
    folder = work / "cohort"
    out = work / "features.csv"
    before = read_rows(out)
    # The failed rows are tried again, the ok rows kept.
    progress = Recorder()
    summary = run_batch(folder / "manifest.csv", out, workers=1, json_dir=work / "json",
                        progress=progress)
    assert (summary.resumed, summary.measured) == (3, 3)
    assert (progress.total, progress.resumed) == (3, 3)
    assert sorted(r.patient_id for r in progress.results) == ["P004", "P005", "SCT01"]
    after = {r["patient_id"]: r for r in read_rows(out)}
    assert after["P005"]["status"] == "ok"
    for row in before[:3]:
        assert after[row["patient_id"]] == row  # kept as written
    # A changed image, and a JSON that went missing, are measured again.
    _write_phantom(folder, "P003", seed=99)
    (work / "json" / "P001_2024-03-01.json").unlink()
    progress = Recorder()
    summary = run_batch(folder / "manifest.csv", out, workers=1, json_dir=work / "json",
                        progress=progress)
    assert sorted(r.patient_id for r in progress.results) == ["P001", "P003", "P004", "SCT01"]
    assert (summary.resumed, summary.measured) == (2, 4)
    rows = {r["patient_id"]: r for r in read_rows(out)}
    assert rows["P003"]["image_sha256"] != after["P003"]["image_sha256"]
    assert (work / "json" / "P001_2024-03-01.json").is_file()
    # Without a JSON folder nothing is missing: every ok row is kept.
    summary = run_batch(folder / "manifest.csv", out, workers=1)
    assert (summary.resumed, summary.measured) == (4, 2)


def test_interrupted_run_marks_skipped_and_resumes(cohort, tmp_path):
    folder = _copy_cohort(cohort, tmp_path)
    out = tmp_path / "features.csv"
    with pytest.raises(KeyboardInterrupt):
        run_batch(folder / "manifest.csv", out, workers=1, progress=Recorder(stop_after=2))
    rows = read_rows(out)
    assert len(rows) == 6
    statuses = [r["status"] for r in rows]
    assert statuses.count("skipped") == 4
    assert all("interrupted" in r["error"] for r in rows if r["status"] == "skipped")
    progress = Recorder()
    summary = run_batch(folder / "manifest.csv", out, workers=1, progress=progress)
    done_before = sum(s == "ok" for s in statuses)
    assert summary.resumed == done_before
    assert summary.measured == 6 - done_before == len(progress.results)
    assert summary.counts["skipped"] == 0


def test_a_failing_run_keeps_what_it_measured(cohort, tmp_path):
    """Any other failure (here from the progress reporter) writes the finished studies,
    none marked skipped, and re-raises."""
    folder = _copy_cohort(cohort, tmp_path)
    out = tmp_path / "features.csv"

    class Broken(Recorder):
        def update(self, result) -> None:
            super().update(result)
            if len(self.results) == 2:
                raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        run_batch(folder / "manifest.csv", out, workers=1, progress=Broken(),
                  flush_every_s=3600)
    rows = read_rows(out)
    assert len(rows) == 2 and "skipped" not in {r["status"] for r in rows}


def test_features_are_written_while_measuring(cohort, tmp_path):
    """With a zero flush interval the file is complete up to each finished study."""
    folder = _copy_cohort(cohort, tmp_path)
    out = tmp_path / "features.csv"
    seen = []

    class Watch(Recorder):
        def update(self, result) -> None:
            super().update(result)
            seen.append(len(read_rows(out)))

    run_batch(folder / "manifest.csv", out, workers=1, progress=Watch(), flush_every_s=0)
    assert seen == [1, 2, 3, 4, 5, 6]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".features.csv")]


def test_measure_manifest_row_never_raises(tmp_path):
    row = BatchRow(row=2, patient_id="X1", study_date="2024-01-01",
                   image=str(tmp_path / "missing.nii.gz"),
                   vertebrae=str(tmp_path / "missing2.nii.gz"), lesions=None,
                   convention="verse")
    result = measure_manifest_row(row)
    assert result.status == "error" and result.payload is None
    assert result.error == "A file could not be read (No such file or directory)."
    assert result.hashes == {}


# ----------------------------------------------------------------- Dask


def test_dask_local_cluster_gives_the_same_rows(local_run, tmp_path):
    from distributed import LocalCluster

    folder = _copy_cohort(local_run["folder"], tmp_path)
    shutil.copy(folder / "P001" / "stir.nii.gz", folder / "gone" / "stir.nii.gz")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert len(cluster.workers) == 2
        progress = Recorder(on_start=_remove_gone(folder))
        summary = run_batch(folder / "manifest.csv", tmp_path / "features.csv",
                            dask=cluster.scheduler_address, json_dir=tmp_path / "json",
                            progress=progress)
    assert summary.executor == "dask scheduler" and summary.measured == 6
    assert read_rows(tmp_path / "features.csv") == local_run["rows"]
    for path in (local_run["work"] / "json").iterdir():
        assert without_time(json.loads((tmp_path / "json" / path.name).read_text())) == \
            without_time(json.loads(path.read_text()))


def _worker_setup() -> tuple[list[str], bool, int, int]:
    """A worker's starting environment (as glibc saw it), whether it profiles,
    SimpleITK's thread count and its parent process."""
    import dask

    with open("/proc/self/environ", "rb") as handle:
        environ = [v.decode(errors="replace") for v in handle.read().split(b"\0") if v]
    return (environ, dask.config.get("distributed.worker.profile.enabled"),
            sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(), os.getppid())


def _listening(process: psutil.Process) -> set[str]:
    hosts = set()
    for proc in (process, *process.children(recursive=True)):
        try:
            hosts |= {c.laddr.ip for c in proc.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:  # pragma: no cover - a helper process ended
            continue
    return hosts


def test_dask_local_runs_a_loopback_cluster(local_run, tmp_path, monkeypatch):
    """``--dask local``: every socket the run listens on is on 127.0.0.1, no port 8787."""
    folder = _copy_cohort(local_run["folder"], tmp_path)
    manifest = _manifest(folder, *(folder / "manifest.csv").read_text().splitlines()[:3])
    ports: dict[str, object] = {}

    class Sockets(Recorder):
        def update(self, result) -> None:
            super().update(result)
            me = psutil.Process()
            ports["hosts"] = _listening(me)
            ports["ports"] = {c.laddr.port for c in me.net_connections(kind="inet")
                              if c.status == psutil.CONN_LISTEN}
            if "workers" not in ports:
                from distributed import default_client

                ports["workers"] = default_client().run(_worker_setup)

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as a default LocalCluster leaves it
    before = dict(os.environ)
    summary = run_batch(manifest, tmp_path / "features.csv", dask="local", workers=2,
                        progress=Sockets())
    assert dict(os.environ) == before
    assert summary.executor == "dask LocalCluster (2 workers)" and summary.counts["ok"] == 2
    assert ports["hosts"] == {"127.0.0.1"}
    assert 8787 not in ports["ports"]
    # Workers start without Dask's MALLOC_TRIM_THRESHOLD_ (4x the page faults per
    # study), without the dashboard's profiler, with SimpleITK threads shared out,
    # forked from the batch's warm forkserver (not fresh interpreters importing it all).
    assert len(ports["workers"]) == 2
    server = multiprocessing.forkserver._forkserver._forkserver_pid
    for environ, profiling, threads, parent in ports["workers"].values():
        assert not any(v.startswith("MALLOC_TRIM_THRESHOLD_=") for v in environ)
        assert profiling is False
        assert threads == itk_threads(2)
        assert parent == server
    assert read_rows(tmp_path / "features.csv") == local_run["rows"][:2]


def _settings(server) -> dict:
    """What a Dask server was built with, and the configuration of its process."""
    import dask

    extensions = getattr(server, "extensions", {})
    return {"tick_ms": server.periodic_callbacks["tick"].callback_time,
            "monitor_ms": server.periodic_callbacks["monitor"].callback_time,
            "stealing": "stealing" in extensions,
            "amm": "amm" in extensions and extensions["amm"].running,
            "config": {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG}}


def _worker_settings(dask_worker) -> dict:
    return _settings(dask_worker)


def _scheduler_settings(dask_scheduler) -> dict:
    return _settings(dask_scheduler)


class SettingsProbe(Recorder):
    """Notes, at the first study back, the settings of the cluster's servers and of
    this process's Dask configuration."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict = {}

    def update(self, result) -> None:
        import dask
        from distributed import default_client

        super().update(result)
        if not self.seen:
            client = default_client()
            self.seen = {"workers": client.run(_worker_settings),
                         "scheduler": client.run_on_scheduler(_scheduler_settings),
                         "here": {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG}}


def test_dask_local_config_is_the_commands_own(local_run, tmp_path):
    """``--dask local`` builds its cluster with LOCAL_CLUSTER_CONFIG (fewer wake-ups, no
    work stealing, no profiler); this process's Dask configuration is untouched during
    and after the run."""
    import dask
    import distributed.config  # noqa: F401 - loads Dask's distributed defaults

    folder = _copy_cohort(local_run["folder"], tmp_path)
    manifest = _manifest(folder, *(folder / "manifest.csv").read_text().splitlines()[:3])
    before = {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG}
    assert before["distributed.admin.tick.interval"] == "20ms"  # Dask's default
    probe = SettingsProbe()
    summary = run_batch(manifest, tmp_path / "features.csv", dask="local", workers=2,
                        progress=probe)
    assert summary.counts["ok"] == 2
    assert probe.seen["here"] == before
    assert {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG} == before
    # the workers run with the cluster's configuration (their nannies pass it on) ...
    assert len(probe.seen["workers"]) == 2
    for settings in probe.seen["workers"].values():
        assert settings["config"] == LOCAL_CLUSTER_CONFIG
        assert settings["tick_ms"] == 1000 and settings["monitor_ms"] == 2000
    # ... the scheduler, in this process, was built with it
    scheduler = probe.seen["scheduler"]
    assert scheduler["tick_ms"] == 1000 and scheduler["monitor_ms"] == 2000
    assert scheduler["stealing"] is False and scheduler["amm"] is False


def test_dask_scheduler_address_keeps_its_settings(local_run, tmp_path):
    """A running scheduler given by address is used as it is: nothing of
    LOCAL_CLUSTER_CONFIG reaches it or this process."""
    import dask
    from distributed import LocalCluster

    folder = _copy_cohort(local_run["folder"], tmp_path)
    manifest = _manifest(folder, *(folder / "manifest.csv").read_text().splitlines()[:2])
    before = {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG}
    probe = SettingsProbe()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        summary = run_batch(manifest, tmp_path / "features.csv",
                            dask=cluster.scheduler_address, progress=probe)
    assert summary.counts["ok"] == 1 and summary.executor == "dask scheduler"
    assert probe.seen["here"] == before
    for settings in (*probe.seen["workers"].values(), probe.seen["scheduler"]):
        assert settings["tick_ms"] == 20 and settings["monitor_ms"] == 500
    assert probe.seen["scheduler"]["stealing"] is True and probe.seen["scheduler"]["amm"]


# ----------------------------------------------------------------- the store


def test_db_imports_ok_rows_all_or_nothing(local_run, tmp_path, capsys):
    work = tmp_path / "db"
    _copy_run(local_run, work)
    url = f"sqlite:///{tmp_path / 'store' / 'cases.sqlite'}"
    with CaseStore(url) as store:  # a study with clinical values, kept by the import
        store.save_case("P001", "2024-03-01", clinical={"age": 64, "sex": "F", "vas": 6},
                        actor="nurse")
    code = main(["batch", str(work / "cohort" / "manifest.csv"), "--out",
                 str(work / "features.csv"), "--db", url, "--workers", "1",
                 "--actor", "research"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed"] == 3 and summary["ok"] == 4  # P005's image is back
    assert summary["db"] == {"source": "manifest.csv", "rows": 4, "patients_added": 3,
                             "studies_added": 3, "studies_replaced": 1}
    rows = {r["patient_id"]: r for r in read_rows(work / "features.csv")}
    with CaseStore(url) as store:
        listed = store.list_studies().set_index("patient_id")
        assert sorted(listed.index) == [*OK_ROWS, "P005"]
        for name in (*OK_ROWS, "P005"):
            assert listed.loc[name, "lesion_count"] == int(rows[name]["lesion_count"])
            assert listed.loc[name, "high_intensity_ratio"] == \
                float(rows[name]["high_intensity_ratio"])
        assert listed.loc["P001", "vas"] == 6 and listed.loc["P001", "age"] == 64
        log = store.audit_log()
        entry = log.iloc[-1]
        assert (entry["action"], entry["actor"]) == ("import", "research")
        assert entry["details"]["imaging_only"] is True
        counts = store.counts()
    # Importing the same rows again replaces them: nothing new but an audit entry.
    assert main(["batch", str(work / "cohort" / "manifest.csv"), "--out",
                 str(work / "features.csv"), "--db", url, "--workers", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["db"]["studies_replaced"] == 4
    with CaseStore(url) as store:
        again = store.counts()
    assert again == {**counts, "audit_log": counts["audit_log"] + 1}


def test_db_import_failure_changes_nothing(local_run, tmp_path, capsys):
    import pandas as pd

    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    with CaseStore(url) as store:
        store.replace_synthetic(pd.DataFrame([{"patient_id": "P003",
                                               "study_date": "2020-01-01",
                                               "synthetic": True}]),
                                source="demo", actor="demo")
        before = store.counts()
    work = tmp_path / "w"
    _copy_run(local_run, work)
    code = main(["batch", str(work / "cohort" / "manifest.csv"), "--out",
                 str(work / "features.csv"), "--db", url, "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "P003" in err[0] and "synthetic" in err[0]
    with CaseStore(url) as store:
        assert store.counts() == before
    assert len(read_rows(work / "features.csv")) == 6  # the measurements are kept


# ----------------------------------------------------------------- bad input


def _manifest(folder: Path, *lines: str, name: str = "m.csv") -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("lines", "words"), [
    ((HEADER + ",sequence", "P9,2024-01-01,P001/stir.nii.gz,P001/vert.nii.gz,,verse,STIR"),
     ["unknown column", "'sequence'"]),
    (("patient_id,study_date,image,vertebrae,convention",), ["lacks", "lesions"]),
    ((HEADER, "P9,2024-01-01,P001/nope.nii.gz,P001/vert.nii.gz,,verse"),
     ["row 2", "image file does not exist"]),
    ((HEADER, "P9,2024-01-01,P001/stir.nii.gz,P001/vert.nii.gz,P001/none.nii.gz,verse"),
     ["row 2", "lesions file"]),
    ((HEADER, "P9,2024-01-01,P001,P001/vert.nii.gz,,verse"), ["row 2", "not a file"]),
    ((HEADER, "John Smith,2024-01-01,P001/stir.nii.gz,P001/vert.nii.gz,,verse"),
     ["row 2", "patient_id", "pseudonymous code"]),
    ((HEADER, "P9,2099-01-01,P001/stir.nii.gz,P001/vert.nii.gz,,verse"),
     ["row 2", "study_date", "future"]),
    ((HEADER, "P9,01/02/2024,P001/stir.nii.gz,P001/vert.nii.gz,,verse"),
     ["row 2", "ISO date"]),
    ((HEADER, "P9,2024-01-01,P001/stir.nii.gz,P001/vert.nii.gz,,VerSe"),
     ["row 2", "convention 'VerSe'", "totalsegmentator"]),
    ((HEADER, "P9,2024-01-01,P001/stir.nii.gz,P001/vert.nii.gz,,"),
     ["row 2", "convention is missing"]),
    ((HEADER, "P9,2024-01-01,P001/stir.nii.gz,P001/vert.nii.gz,,verse",
      "P9,2024-01-01,P002/stir.nii.gz,P002/vert.nii.gz,,verse"),
     ["row 3", "already listed in row 2"]),
    ((HEADER, "P9,2024-01-01,P001/stir.nii.gz"), ["row 2", "3 cells"]),
    ((HEADER,), ["no studies"]),
    (("",), ["empty"]),
])
def test_bad_manifest_exits_2_with_one_line(cohort, tmp_path, capsys, lines, words):
    folder = _copy_cohort(cohort, tmp_path)
    manifest = _manifest(folder, *lines)
    out = tmp_path / "features.csv"
    assert main(["batch", str(manifest), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    for word in words:
        assert word in err[0], err[0]
    assert str(folder) not in err[0]  # paths may carry names: never echoed
    assert not out.exists()


def test_every_bad_row_is_listed(cohort, tmp_path, capsys):
    folder = _copy_cohort(cohort, tmp_path)
    manifest = _manifest(folder, HEADER,
                         "P9,2024-01-01,P001/stir.nii.gz,P001/vert.nii.gz,,verse",
                         "P8,2024-01-01,P001/x.nii.gz,P001/vert.nii.gz,,verse",
                         "P7,2024-01-01,P001/stir.nii.gz,P001/vert.nii.gz,,nope")
    assert main(["batch", str(manifest), "--out", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[1].strip() for line in err] == ["manifest row 3", "manifest row 4"]
    rows = read_manifest(_manifest(folder, HEADER,
                                   "P9,2024-01-01,P001/stir.nii.gz,P001/vert.nii.gz,,verse",
                                   name="ok.csv"))
    assert rows[0].image == str((folder / "P001" / "stir.nii.gz").resolve())
    assert rows[0].lesions is None and rows[0].row == 2


def test_bad_output_paths_exit_2_before_any_work(cohort, tmp_path, capsys, monkeypatch):
    folder = _copy_cohort(cohort, tmp_path)
    manifest = folder / "manifest.csv"
    not_ours = tmp_path / "other.csv"
    not_ours.write_text("a,b\n1,2\n", encoding="utf-8")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    cases = [
        (["--out", str(tmp_path)], "--out is a folder"),
        (["--out", str(tmp_path / "missing" / "f.csv")], "the folder of --out does not exist"),
        (["--out", str(not_ours)], "not a batch features file"),
        (["--out", str(tmp_path / "f.csv"), "--json-dir", str(a_file)],
         "--json-dir exists and is not a folder"),
        (["--out", str(tmp_path / "f.csv"), "--json-dir", str(tmp_path / "no" / "json")],
         "the folder of --json-dir does not exist"),
        (["--out", str(tmp_path / "f.csv"), "--workers", "0"], "--workers 0"),
        (["--out", str(tmp_path / "f.csv"), "--dask", "tcp://127.0.0.1:1", "--workers", "2"],
         "--workers applies to local processes"),
        (["--out", str(tmp_path / "f.csv"), "--db", "not a url"], "not a SQLAlchemy URL"),
    ]
    for args, words in cases:
        assert main(["batch", str(manifest), *args]) == 2, args
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert captured.out == "" and len(err) == 1 and words in err[0], (args, err)
    assert not (tmp_path / "f.csv").exists() and not_ours.read_text() == "a,b\n1,2\n"
    monkeypatch.setattr(output_module.os, "access", lambda *a: False)
    assert main(["batch", str(manifest), "--out", str(tmp_path / "f.csv")]) == 2
    assert capsys.readouterr().err.strip() == "error: the folder of --out is not writable."


def test_unreachable_scheduler_exits_2(cohort, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(executors_module, "SCHEDULER_TIMEOUT_S", 1.0)
    folder = _copy_cohort(cohort, tmp_path)
    out = tmp_path / "f.csv"
    assert main(["batch", str(folder / "manifest.csv"), "--out", str(out),
                 "--dask", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Could not connect to the Dask scheduler" in err[0]
    assert not out.exists()  # nothing measured, nothing claimed


def test_cli_batch_subprocess_prints_summary(local_run, tmp_path):
    """The real command line, resumed from the module's run: nothing is measured again
    but the errors."""
    import subprocess
    import sys

    work = tmp_path / "cli"
    _copy_run(local_run, work)
    proc = subprocess.run(
        [sys.executable, "-m", "core", "batch", str(work / "cohort" / "manifest.csv"),
         "--out", str(work / "features.csv"), "--workers", "2", "--json-dir",
         str(work / "json")],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
        timeout=300, check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["rows"], summary["resumed"], summary["measured"]) == (6, 3, 3)
    assert summary["executor"] == "local processes (2)"
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
