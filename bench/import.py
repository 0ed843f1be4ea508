"""Cohort import throughput: the bulk path against the row-by-row one, side by side.

Run: ``.venv/bin/python bench/import.py [--rows 100000] [--sample 5000] [--no-postgresql]``.

A cohort CSV of ``--rows`` rows is made from the synthetic demo generator (its rows
repeated under new patient ids). Printed, in one run on the same file:

* validation: :func:`core.clinical.load_clinical_table` (one pydantic row at a time) on
  the first ``--sample`` rows against :func:`core.clinical.bulk_tables.
  load_clinical_table_bulk` on all rows;
* insert: the old ORM path (one ``session.add``/flush and patient lookup per row) on the
  sample against :meth:`CaseStore.import_cohort` of the loader's validated rows
  (:func:`core.store.bulk.insert_cohort`: executemany on SQLite, ``COPY`` on PostgreSQL)
  on all rows, on SQLite and on a throwaway PostgreSQL cluster (tests/pg_support.py);
* end to end: ``python -m core import-cohort`` on all rows (wall and CPU seconds, rows/s
  and the peak memory it prints). The target is >= 5,000 rows/s at 100k rows.

Wall times on a shared machine include other processes' load (printed); the CPU
seconds of the process do not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import pandas as pd  # noqa: E402
from cohort_data import make_cohort  # noqa: E402

from core.clinical import ClinicalImport, export_csv, load_clinical_table  # noqa: E402
from core.clinical.bulk_tables import load_clinical_table_bulk  # noqa: E402
from core.store import CaseStore, importing  # noqa: E402
from core.store.rows import get_or_add_patient, set_clinical, set_table_features  # noqa: E402
from core.store.schema import Study  # noqa: E402


def _clock(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def row_by_row_insert(store: CaseStore, frame: pd.DataFrame) -> None:
    """The insert of the previous release: a patient lookup, add and flush per row."""
    rows = [dict(zip(frame.columns, r, strict=True)) for r in frame.itertuples(index=False)]
    from core.clinical import validate_clinical

    rows = [validate_clinical(r) for r in rows]
    with store._write() as session:
        cache: dict = {}
        for row in rows:
            patient, _ = get_or_add_patient(session, row, cache)
            study = Study(patient=patient, study_date=row["study_date"], source="bench")
            session.add(study)
            set_clinical(study, row)
            set_table_features(study, row)
            session.flush()


def _line(name: str, n: int, wall: float, cpu: float) -> str:
    return (f"  {name:<44} {n:>7} rows {wall:8.2f} s wall {n / wall:>9.0f} rows/s   "
            f"{cpu:7.2f} s CPU {n / max(cpu, 1e-9):>9.0f} rows/s")


def bench_backend(label: str, urls: tuple[str, str], table: ClinicalImport,
                  sample: int) -> dict:
    typed = table.rows
    out = {}
    with CaseStore(urls[0]) as store:
        _, wall, cpu = _clock(lambda: row_by_row_insert(store, typed.iloc[:sample]))
        out["row_by_row"] = sample / wall
        print(_line(f"{label}: row by row (ORM, flush per row)", sample, wall, cpu))
    with CaseStore(urls[1]) as store:
        _, wall_v, _ = _clock(lambda: importing.validated_rows(typed))
        summary, wall, cpu = _clock(lambda: store.import_cohort(
            table.validated, source="bench.csv", actor="bench"))
        assert summary["studies_added"] == len(typed), summary
        out["bulk"] = len(typed) / wall
        how = "COPY" if store.backend == "postgresql" else "executemany"
        print(_line(f"{label}: import_cohort (bulk, {how})", len(typed), wall, cpu))
        print(f"    the loader's validated rows, not validated again (a plain frame's "
              f"validation: {wall_v:.2f} s); ratio bulk / row by row: "
              f"{out['bulk'] / out['row_by_row']:.1f}x")
    return out


def end_to_end(path: Path, url: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "core", "import-cohort", str(path),
                           "--db", url], cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"import-cohort failed ({done.returncode}): {done.stderr[-2000:]}")
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.loads(done.stdout)
    return {"rows": summary["rows"], "wall": wall, "inner": summary["seconds"], "cpu": cpu,
            "peak_rss_mb": summary["peak_rss_mb"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--no-postgresql", action="store_true")
    args = parser.parse_args()
    print(f"import bench: {args.rows} rows (row-by-row paths on the first {args.sample}); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        folder = Path(tmp)
        frame = make_cohort(args.rows)
        path = folder / "cohort.csv"
        path.write_bytes(export_csv(frame))
        (folder / "sample.csv").write_bytes(export_csv(frame.iloc[:args.sample]))
        print("validation")
        _, wall, cpu = _clock(lambda: load_clinical_table(folder / "sample.csv"))
        slow = args.sample / wall
        print(_line("load_clinical_table (row by row)", args.sample, wall, cpu))
        bulk, wall, cpu = _clock(lambda: load_clinical_table_bulk(path))
        assert not bulk.errors and len(bulk.rows) == args.rows
        print(_line("load_clinical_table_bulk", args.rows, wall, cpu))
        print(f"    ratio bulk / row by row: {(args.rows / wall) / slow:.1f}x")
        print("insert")
        backends = [("sqlite", (f"sqlite:///{folder / 'a.sqlite'}",
                                f"sqlite:///{folder / 'b.sqlite'}"))]
        cluster = None
        if not args.no_postgresql:
            from tests.pg_support import PostgresCluster

            cluster = PostgresCluster.start()
            backends.append(("postgresql", (cluster.new_database(), cluster.new_database())))
        try:
            for label, urls in backends:
                bench_backend(label, urls, bulk, args.sample)
            print("end to end: python -m core import-cohort (CSV -> store)")
            e2e_urls = [("sqlite", f"sqlite:///{folder / 'e2e.sqlite'}")]
            if cluster is not None:
                e2e_urls.append(("postgresql", cluster.new_database()))
            for label, url in e2e_urls:
                r = end_to_end(path, url)
                print(f"  {label:<10} {r['rows']} rows: {r['wall']:.1f} s wall "
                      f"({r['rows'] / r['wall']:.0f} rows/s; {r['inner']:.1f} s after "
                      f"start-up: {r['rows'] / r['inner']:.0f} rows/s), "
                      f"{r['cpu']:.1f} s CPU ({r['rows'] / r['cpu']:.0f} rows/s), peak "
                      f"memory {r['peak_rss_mb']:.0f} MB; target >= 5000 rows/s")
        finally:
            if cluster is not None:
                cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
