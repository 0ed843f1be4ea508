"""How a batch starts and feeds its workers: the warm forkserver started early by
``python -m core batch``, largest studies first, and ``features.csv`` writes that stay
cheap for a large table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.batch import BatchRow, run, workers
from core.batch.executors import largest_first
from core.batch.workers import PRELOAD

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys
from multiprocessing import forkserver
from core.batch.workers import start_early
start_early(json.loads(sys.argv[1]))
server = forkserver._forkserver
print(json.dumps({"started": server._forkserver_pid is not None,
                  "preload": server._preload_modules,
                  "heavy": sorted(m for m in ("numpy", "pandas", "SimpleITK", "scipy")
                                  if m in sys.modules)}))
"""


def _probe(argv: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


@pytest.mark.parametrize(("argv", "started", "dask"), [
    (["batch", "m.csv", "--out", "f.csv"], True, False),
    (["batch", "m.csv", "--out", "f.csv", "--workers", "2", "--dask", "local"], True, True),
    (["batch", "m.csv", "--out", "f.csv", "--dask=local"], True, True),
    (["batch", "m.csv", "--out", "f.csv", "--dask", "tcp://10.0.0.1:8786"], False, False),
    (["batch", "--help"], False, False),
    (["extract", "stir.nii.gz", "--vertebrae", "v.nii.gz"], False, False),
    ([], False, False),
])
def test_start_early_starts_the_forkserver_only_for_local_workers(argv, started, dask):
    """A batch on local processes or ``--dask local`` starts the preloading forkserver
    before anything heavy is imported (the command's own imports run meanwhile); other
    commands and a remote scheduler start nothing."""
    probe = _probe(argv)
    assert probe["started"] is started
    assert probe["heavy"] == []  # the early start itself imports only the standard library
    if started:
        assert probe["preload"] == [*PRELOAD, *(["distributed"] if dask else [])]


def test_python_m_core_starts_the_forkserver_before_importing_the_cli():
    """``core/__main__.py`` calls start_early before importing core.cli (whose imports
    take a CPU second or more)."""
    source = (REPO / "core" / "__main__.py").read_text(encoding="utf-8")
    assert source.index("start_early(sys.argv[1:])") < source.index("from core.cli import")


def _row(tmp_path: Path, number: int, sizes: tuple[int, ...]) -> BatchRow:
    paths = []
    for k, size in enumerate(sizes):
        path = tmp_path / f"r{number}_{k}.bin"
        path.write_bytes(b"\0" * size)
        paths.append(str(path))
    return BatchRow(row=number, patient_id=f"P{number}", study_date="2024-01-01",
                    image=paths[0], vertebrae=paths[1],
                    lesions=paths[2] if len(paths) > 2 else None, convention="verse")


def test_largest_first_orders_by_input_bytes(tmp_path):
    rows = [_row(tmp_path, 2, (10, 10)), _row(tmp_path, 3, (50, 5, 100)),
            _row(tmp_path, 4, (15, 5)), _row(tmp_path, 5, (30, 10)),
            _row(tmp_path, 6, (5, 15))]
    gone = _row(tmp_path, 7, (500, 500))
    Path(gone.image).unlink()  # removed since the manifest was read: counts its rest
    ordered = largest_first([*rows, gone])
    assert [r.row for r in ordered] == [7, 3, 5, 2, 4, 6]  # ties keep manifest order
    assert largest_first([]) == []


def test_large_table_is_written_less_often(tmp_path, monkeypatch):
    """A write taking 50 ms delays the next one by at least 20 x 50 ms even with a short
    interval; ``flush_every_s=0`` still writes after every study."""
    writes = []

    def slow_write(out, rows):
        writes.append(time.monotonic())
        time.sleep(0.05)

    monkeypatch.setattr(run, "write_features", slow_write)
    table = run._Table(tmp_path / "f.csv", [], flush_every_s=0.01)
    table.write()
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        table.maybe_write()
        time.sleep(0.005)
    assert len(writes) == 1  # 0.6 s < 20 x 0.05 s
    time.sleep(0.5)
    table.maybe_write()
    assert len(writes) == 2
    eager = run._Table(tmp_path / "f.csv", [], flush_every_s=0)
    eager.write()
    eager.maybe_write()
    eager.maybe_write()
    assert len(writes) == 5


_SERVER_PROBE = """
import sys
from multiprocessing import forkserver
from core.batch import workers
if sys.argv[1] == "unflagged":  # the server starts without the flag it recognises
    workers.SERVER_ENV = "NOT_" + workers.SERVER_ENV
workers.PRELOAD = (*workers.PRELOAD, "teardown_marker")
workers.forkserver_context()
print(forkserver._forkserver._forkserver_pid, flush=True)
"""

_MARKER = """
class _Marker:
    def __del__(self, _open=open, _path={path!r}):
        with _open(_path, "w") as handle:
            handle.write("finalised")


marker = _Marker()
"""


@pytest.mark.parametrize(("variant", "finalised"), [("flagged", False), ("unflagged", True)])
def test_forkserver_leaves_without_finalising(tmp_path, variant, finalised):
    """The batch's forkserver ends with the command through ``os._exit``: objects of its
    preloaded modules are not torn down (that took 0.2-0.5 s, holding the command's
    standard output open). Without its flag the same server finalises (the control)."""
    import psutil

    mark = tmp_path / "finalised.txt"
    (tmp_path / "teardown_marker.py").write_text(_MARKER.format(path=str(mark)),
                                                 encoding="utf-8")
    # the server imports from its working directory and PYTHONPATH (not the parent's
    # sys.path)
    proc = subprocess.run([sys.executable, "-c", _SERVER_PROBE, variant], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=120, check=True)
    server = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 60
    while psutil.pid_exists(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(server)
    assert mark.exists() is finalised


@pytest.mark.parametrize("threads", [1, 2])
def test_a_batch_worker_reads_gzip_without_extra_threads(threads):
    import SimpleITK as sitk

    from core import io

    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    try:
        workers.configure_worker(threads)
        assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == threads
        assert io.read_threads() is False
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
        io.set_read_threads(True)
