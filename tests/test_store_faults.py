"""Store faults on SQLite and PostgreSQL (``db_url``, tests/conftest.py): concurrent writer
processes lose nothing, a process killed mid-import leaves the store and its audit log as
they were, and a full disk or database is one clean sentence with nothing saved."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text

from core.demo import generate_cohort
from core.store import CaseStore, StorageFullError

REPO = Path(__file__).resolve().parents[1]
WRITERS = 4
SAVES = 6


def _python(code: str, env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _snapshot(store: CaseStore) -> tuple[dict[str, int], list[tuple[str, str]]]:
    audit = store.audit_log()
    return store.counts(), list(zip(audit["action"], audit["target"], strict=True))


WRITER = """
import time
from pathlib import Path
from core.store import CaseStore
k, go = {k}, Path("{go}")
while not go.exists():
    time.sleep(0.01)
with CaseStore() as store:
    for i in range({saves}):
        store.save_case(f"W{{k}}-{{i}}", f"2024-01-{{i + 1:02d}}", clinical={{"vas": 4}},
                        actor=f"writer-{{k}}")
    # every writer adds a study of one shared patient (the first ones race to create it)
    store.save_case("SHARED1", f"2024-02-{{k + 1:02d}}", clinical={{"vas": 5}},
                    actor=f"writer-{{k}}")
print("done")
"""


def test_concurrent_writer_processes_lose_no_write(db_url, data_dir, tmp_path):
    go = tmp_path / "go"
    procs = [_python(WRITER.format(k=k, go=go, saves=SAVES)) for k in range(WRITERS)]
    time.sleep(1.0)
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "done"
    expected = WRITERS * (SAVES + 1)
    with CaseStore() as store:
        stored = store.counts()["studies"]
        audit = store.audit_log()
        shared = store.patient_history("SHARED1")
    lost = expected - stored
    assert lost == 0, f"{lost} of {expected} writes lost"
    assert (audit["action"] == "save").sum() == expected
    assert len(shared) == WRITERS


KILLED_IMPORT = """
import os, time
from pathlib import Path
import pandas as pd
from core.demo import generate_cohort
from core.store import CaseStore

base = generate_cohort(40, seed=9)
parts = []
for k in range(300):
    part = base.copy()
    part["patient_id"] = part["patient_id"].str.replace("DEMO-", f"K{k:03d}-", regex=False)
    parts.append(part)
frame = pd.concat(parts, ignore_index=True).iloc[:12_000]

def progress(done, total):
    Path("MARKER").write_text(str(done))
    time.sleep(120)

with CaseStore() as store:
    store.import_cohort(frame, source="big.csv", actor="killed", progress=progress)
print("finished")
"""


def test_a_process_killed_mid_import_leaves_the_store_unchanged(db_url, data_dir, tmp_path):
    with CaseStore() as store:
        store.import_cohort(generate_cohort(4, seed=1), source="before.csv", actor="dr-a")
        before = _snapshot(store)
    marker = tmp_path / "half-way"
    proc = _python(KILLED_IMPORT.replace("MARKER", str(marker)))
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the import never reached its first batch"
        time.sleep(0.05)
    assert int(marker.read_text()) >= 1  # rows were written in the open transaction
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with CaseStore() as store:
        if store.backend == "sqlite":
            with store.engine.connect() as conn:
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        deadline = time.monotonic() + 60
        while _snapshot(store) != before and time.monotonic() < deadline:
            time.sleep(0.2)  # PostgreSQL notices the dead client
        assert _snapshot(store) == before
        # the store is not left locked: the next import goes through
        summary = store.import_cohort(generate_cohort(3, seed=2).assign(
            patient_id=lambda f: "N" + f["patient_id"]), source="after.csv", actor="dr-a")
        assert summary["studies_added"] >= 3


FULL_DISK_SAVE = """
import resource, signal
import numpy as np
import SimpleITK as sitk
from core.store import CaseStore, StorageFullError

rng = np.random.default_rng(0)
image = sitk.GetImageFromArray(rng.normal(size=(48, 64, 64)).astype("float32"))
with CaseStore() as store:
    store.save_case("P-0001", "2024-01-01", clinical={{"vas": 3}}, actor="dr-a")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
    try:
        store.save_case("P-0002", "2024-01-02", clinical={{"vas": 4}}, image=image,
                        actor="dr-a")
    except StorageFullError as exc:
        assert isinstance(exc, ValueError) and isinstance(exc, OSError)
        print("ERROR", exc)
    else:
        print("SAVED")
"""


def test_a_full_disk_while_saving_an_image_is_one_sentence_and_no_partial_case(
        db_url, data_dir):
    # The image (about 780 kB of noise, compressed) cannot be written under a 400 kB file
    # size limit; the store's own files stay far below it.
    proc = _python(FULL_DISK_SAVE.format(limit=400_000))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    line = out.strip()
    assert line.startswith("ERROR "), line
    message = line.removeprefix("ERROR ")
    assert message.count(". ") == 0 and message.endswith("nothing was saved.")
    assert message.startswith("The image could not be written to the store's image folder")
    assert "disk is full" in message and len(message) < 300
    with CaseStore() as store:
        assert store.counts()["studies"] == 1
        assert store.audit_log()["action"].tolist() == ["save"]
    assert list((data_dir / "images").glob("*")) == []


def test_a_full_sqlite_database_during_an_import_is_a_clean_error(data_dir):
    url = f"sqlite:///{(data_dir / 'full.sqlite').resolve()}"
    with CaseStore(url) as store:
        store.import_cohort(generate_cohort(3, seed=1), source="before.csv", actor="dr-a")
        before = _snapshot(store)
        with store.engine.connect() as conn:
            pages = int(conn.execute(text("PRAGMA page_count")).scalar())
        store.engine.dispose()
        event.listen(store.engine, "connect", lambda dbapi, _r: dbapi.execute(
            f"PRAGMA max_page_count = {pages + 4}"))
        big = generate_cohort(200, seed=3)
        with pytest.raises(StorageFullError, match=r"^The case store's database could not "
                                                   r"be written: its disk is full; nothing "
                                                   r"was saved\.$"):
            store.import_cohort(big, source="big.csv", actor="dr-a")
        assert _snapshot(store) == before
