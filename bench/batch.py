"""Benchmark: batch extraction throughput, 1 vs 2 local workers vs a 2-worker Dask LocalCluster
(issue 12, item 5).

Usage::

    .venv/bin/python bench/batch.py [--studies 24] [--repeat 2] [--data DIR]

Builds ``--studies`` seeded spine phantoms (9 levels T9-L5, 0.6 x 0.6 x 2 mm, sagittal
PIR, bias and noise, 0-2 lesions each; about 17 MB of int16-like float32 ``.nii.gz`` per
study written through SimpleITK) and one manifest, then runs
:func:`core.batch.run_batch` on the same manifest, each time into a fresh
``features.csv``:

* ``local 1``: one worker process (SimpleITK may use both cores inside it);
* ``local 2``: two worker processes (one SimpleITK thread each);
* ``dask 2``: ``--dask local`` with 2 workers, i.e. a ``LocalCluster(n_workers=2,
  threads_per_worker=1, processes=True)`` on 127.0.0.1 started and closed by the run.

Each variant runs in a fresh interpreter (as ``python -m core batch`` would), so each
pays its own start-up. ``studies/s`` is end to end, as a user sees it: studies / wall
seconds of the whole ``run_batch`` call, including starting the process pool or the
cluster; ``to first s`` is the wall time until the first study came back (mostly that
start-up) and ``steady/s`` the rate after it, ``(studies - 1) / (wall - to first)``.
``task s`` is the mean wall time of one study inside a worker; ``others`` the share of
the machine's CPU that other processes used meanwhile (``/proc/stat`` minus this run's
own CPU time): the machine is shared, and a ratio measured while others hold a core
says little about scaling. Variants are interleaved over ``--repeat`` rounds and the
best round of each is kept. Target: ``local 2`` >= 1.7x ``local 1`` on 2
cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LEVELS = ("T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5")
VARIANTS = (("local 1", None, 1), ("local 2", None, 2), ("dask 2", "local", 2))


def build(folder: Path, n: int) -> Path:
    """Write ``n`` phantom studies and their manifest; returns the manifest."""
    import SimpleITK as sitk

    from core.phantom import LesionSpec, make_spine_phantom

    lines = ["patient_id,study_date,image,vertebrae,lesions,convention"]
    for i in range(n):
        lesions = [LesionSpec(LEVELS[(i + 2 * k) % len(LEVELS)], 5.0 + k) for k in range(i % 3)]
        p = make_spine_phantom(seed=1000 + i, levels=LEVELS, lesions=lesions,
                               spacing_mm=(0.6, 0.6, 2.0), orientation="PIR", bias=0.2,
                               noise_sd=5.0)
        image, labels = f"s{i:03d}_stir.nii.gz", f"s{i:03d}_vert.nii.gz"
        sitk.WriteImage(p.image, str(folder / image), useCompression=True)
        sitk.WriteImage(p.vertebrae, str(folder / labels), useCompression=True)
        lines.append(f"B{i:03d},2024-01-{1 + i % 28:02d},{image},{labels},,verse")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


class _Clock:
    """BatchProgress that notes when the first study came back."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.first: float | None = None
        self.task_s: list[float] = []

    def start(self, total: int, resumed: int) -> None:
        assert resumed == 0

    def update(self, result) -> None:
        if result.status != "ok":
            raise SystemExit(f"study {result.patient_id} failed: {result.error}")
        if self.first is None:
            self.first = time.perf_counter() - self.t0
        self.task_s.append(result.seconds)


def run(manifest: Path, out: Path, dask: str | None, workers: int) -> dict[str, float]:
    """One variant, in this (fresh) process: wall seconds, end-to-end and steady rates."""
    from core.batch import run_batch

    clock = _Clock()
    summary = run_batch(manifest, out, workers=workers, dask=dask, progress=clock)
    wall = time.perf_counter() - clock.t0
    assert summary.counts["ok"] == summary.rows
    first = clock.first or 0.0
    return {"wall": wall, "per_s": summary.rows / wall, "first": first,
            "steady": (summary.rows - 1) / (wall - first),
            "task": sum(clock.task_s) / len(clock.task_s)}


def _variant(manifest: Path, out: Path, dask: str | None, workers: int) -> dict[str, float]:
    """:func:`run` in a fresh interpreter, so each variant pays its own start-up (the
    process pool's forkserver imports, or the cluster), as ``python -m core batch`` does."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
            "sys.path.insert(0, sys.argv[1] + '/bench'); import batch; "
            "print(json.dumps(batch.run(batch.Path(sys.argv[2]), batch.Path(sys.argv[3]), "
            "None if sys.argv[4] == '-' else sys.argv[4], int(sys.argv[5]))))")
    busy, own = _busy_s(), time.process_time()
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, str(REPO), str(manifest), str(out),
                             dask or "-", str(workers)], stdout=subprocess.PIPE, text=True,
                            cwd=REPO)
    ours = _tree_cpu_s(proc)
    stdout = proc.communicate()[0]
    if proc.returncode:
        raise SystemExit(f"variant {dask or 'local'} x{workers} failed")
    figures = json.loads(stdout.strip().splitlines()[-1])
    others = (_busy_s() - busy) - ours - (time.process_time() - own)
    figures["others"] = max(0.0, others) / ((time.perf_counter() - t) * os.cpu_count())
    return figures


def _busy_s() -> float:
    """CPU seconds the whole machine has been busy (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(proc: subprocess.Popen) -> float:
    """CPU seconds used by ``proc`` and every process below it (the forkserver, its
    workers, Dask nannies' workers), sampled every 0.1 s until ``proc`` ends."""
    import psutil

    seen: dict[tuple[int, float], float] = {}
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in tree:
            try:
                times = p.cpu_times()
                seen[(p.pid, p.create_time())] = times.user + times.system
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.1)
    return sum(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data", metavar="DIR",
                        help="keep the phantoms here and reuse them on the next run")
    args = parser.parse_args()
    from core.batch import cpu_count

    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        folder = Path(args.data or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        manifest = folder / "manifest.csv"
        if not manifest.is_file() or len(manifest.read_text().splitlines()) != args.studies + 1:
            manifest = build(folder, args.studies)
        size = sum(p.stat().st_size for p in folder.glob("s*_stir.nii.gz")) / args.studies / 1e6
        print(f"{args.studies} phantom studies ({size:.1f} MB .nii.gz image each) ready in "
              f"{time.perf_counter() - t:.1f} s; {cpu_count()} CPUs; load average "
              f"{os.getloadavg()[0]:.2f}")
        best: dict[str, dict[str, float]] = {}
        for round_ in range(args.repeat):
            for name, dask, workers in VARIANTS:
                out = Path(tmp) / f"features_{round_}_{workers}_{dask}.csv"
                figures = _variant(manifest, out, dask, workers)
                if name not in best or figures["wall"] < best[name]["wall"]:
                    best[name] = figures
        base, steady = best["local 1"]["per_s"], best["local 1"]["steady"]
        print(f"best of {args.repeat} interleaved rounds, each variant in a fresh process")
        print(f"{'executor':<9} {'wall s':>7} {'studies/s':>10} {'ratio':>6} "
              f"{'to first s':>10} {'steady/s':>9} {'ratio':>6} {'task s':>7} {'others':>7}")
        for name, _, _ in VARIANTS:
            f = best[name]
            print(f"{name:<9} {f['wall']:>7.2f} {f['per_s']:>10.2f} {f['per_s'] / base:>5.2f}x "
                  f"{f['first']:>10.2f} {f['steady']:>9.2f} {f['steady'] / steady:>5.2f}x "
                  f"{f['task']:>7.3f} {100 * f['others']:>6.0f}%")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
