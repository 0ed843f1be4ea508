"""Benchmark: reading .nii vs .nii.gz through zlib, isal and the default reader (issue 12, item 6).

Usage::

    .venv/bin/python bench/read_gzip.py [--repeat 5]

The volume is the one of ``bench/extract.py``: the seeded 384x384x200 float32 spine
phantom with its vertebra labels, and the same phantom rounded to int16 (how MR is
usually stored), each written once as ``.nii`` and once as ``.nii.gz`` (SimpleITK's
writer). Wall and CPU (``time.process_time``) seconds are both printed: the machine is
shared, and CPU time is the steadier figure under load. In one fresh subprocess, runs
interleaved so that machine noise hits every variant alike, it times (best of
``--repeat``):

* ``read``: ``core.io.read_image`` of the image;
* ``extract``: ``read_image`` + ``read_label_map`` + ``core.lesions.extract``, i.e. what
  ``python -m core extract`` does;

for ``.nii``, ``.nii.gz`` inflated by the standard ``gzip``/zlib module, ``.nii.gz``
inflated by python-isal's ``isal.igzip`` alone (``core.io.nifti.GZIP_BACKEND``) and
``.nii.gz`` as ``core.io`` reads it by default (isal, or rapidgzip on two cores for a
large stream that hardly compresses: :mod:`core.io.parallel_gzip`), and prints them side
by side with the ratios to ``.nii``. Target: extract from ``.nii.gz`` (the default
reader) <= 1.3x extract from ``.nii``. Every check of the read (streamed size
accounting, truncation, NaN scan, memory budget) runs in all variants.

A ``.nii.gz`` is inflated in a worker thread while the conversion runs on the slabs
already inflated, and the file is hashed in another thread (:mod:`core.io.background`).
The float32 phantom hardly compresses (118 -> 105 MB), so ISA-L's one core is most of
its read; the default reader inflates it on both cores. The int16 phantom compresses
well (59 -> 22 MB) and stays with ISA-L, which is faster there. Wall seconds fall below
CPU seconds for the ``.nii.gz`` rows when the threads overlap; on a loaded machine (no
free core) the ratio tends to the CPU ratio: compare the two columns and the load
average.

After the interleaved reads it also times each stream inflated alone into a buffer, by
ISA-L on one core and by rapidgzip as the default reader runs it, and prints the floor
of the extract ratio those figures allow on this machine's cores (:func:`floor_ratio`):
the ``.nii`` read's CPU (hashing, converting, checking) spread over every core together
with the inflation. How far a run sits above its floor is what thread scheduling and
memory faults cost it.
"""

from __future__ import annotations

import argparse
import importlib.util
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

#: (row, extension, gzip backend, parallel inflation allowed); the last is the default reader.
VARIANTS = (("nii", ".nii", None, False), ("nii.gz zlib", ".nii.gz", "zlib", False),
            ("nii.gz isal", ".nii.gz", "isal", False),
            ("nii.gz isal+rapidgzip", ".nii.gz", "isal", True))
DEFAULT = VARIANTS[-1][0]
#: Inflaters timed alone on each volume's stream, for the floor of the read (floor_ratio).
INFLATERS = ("isal", "rapidgzip")
#: The phantom as float32 (as bench/extract.py writes it) and as int16 (how MR is stored).
VOLUMES = ("image", "image16")


def _extract_bench():
    spec = importlib.util.spec_from_file_location("bench_extract", REPO / "bench" / "extract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _inflate_only(path: Path, inflater: str, target: memoryview) -> tuple[float, float]:
    """Wall and CPU seconds of inflating ``path`` alone into ``target`` (already faulted
    in; no hash, no conversion): ISA-L on one core, or rapidgzip as
    :mod:`core.io.parallel_gzip` runs it."""
    from core.io import nifti, parallel_gzip

    size = path.with_name(path.name.removesuffix(".gz")).stat().st_size
    w0, c0 = time.perf_counter(), time.process_time()
    with open(path, "rb") as handle:
        reader = (nifti.open_gzip(handle, backend="isal") if inflater == "isal" else
                  parallel_gzip.open_parallel(handle))
        with reader:
            done = 0
            while n := reader.readinto(target[done:]):
                done += n
    if done != size:
        raise SystemExit(f"{path.name}: {done} bytes inflated, {size} expected")
    return time.perf_counter() - w0, time.process_time() - c0


def measure(folder: str, repeat: int) -> dict[str, dict[str, float]]:
    """Best-of-``repeat`` wall and CPU seconds of each variant (run in a subprocess)."""
    import numpy as np
    import SimpleITK as sitk

    from core.allocator import keep_freed_memory
    from core.io import nifti, parallel_gzip, read_image, read_label_map
    from core.lesions import extract

    keep_freed_memory()  # as python -m core extract runs
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    if nifti.GZIP_BACKEND != "isal":
        raise SystemExit("isal is not installed: pip install -r requirements.txt")
    times: dict[str, list[tuple[float, ...]]] = {}
    for _ in range(repeat):
        for volume in VOLUMES:
            for name, ext, backend, parallel in VARIANTS:
                nifti.GZIP_BACKEND = backend or "isal"
                parallel_gzip.ENABLED = parallel
                image_path = Path(folder) / f"{volume}{ext}"
                label_path = Path(folder) / f"vertebrae{ext}"
                w0, c0 = time.perf_counter(), time.process_time()
                loaded = read_image(image_path)
                w1, c1 = time.perf_counter(), time.process_time()
                labels = read_label_map(label_path)
                extract(loaded.image, labels, input_sha256=loaded.meta.input_sha256)
                w2, c2 = time.perf_counter(), time.process_time()
                times.setdefault(f"{volume} {name}", []).append(
                    (w1 - w0, c1 - c0, w2 - w0, c2 - c0))
                del loaded, labels
    # after the reads: rapidgzip hands the process's freed heap back when it closes
    # (core.io.parallel_gzip), which would slow whichever read came next. One buffer,
    # faulted in once, so that only the inflation is timed.
    largest = max((Path(folder) / f"{volume}.nii").stat().st_size for volume in VOLUMES)
    target = memoryview(np.ones(largest + 1, dtype=np.uint8)).cast("B")
    for _ in range(repeat):
        for volume in VOLUMES:
            for inflater in INFLATERS:
                wall, cpu = _inflate_only(Path(folder) / f"{volume}.nii.gz", inflater, target)
                times.setdefault(f"{volume} inflate {inflater}", []).append(
                    (wall, cpu, wall, cpu))
    keys = ("read", "read_cpu", "extract", "extract_cpu")
    return {case: {key: min(run[i] for run in runs) for i, key in enumerate(keys)}
            for case, runs in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return 0
    import SimpleITK as sitk

    from core.io.parallel_gzip import usable_cpus

    bench_extract = _extract_bench()
    with tempfile.TemporaryDirectory(prefix="bench-read-gzip-") as tmp:
        built = bench_extract.build(Path(tmp), gz=False)
        image = sitk.ReadImage(built["image"])
        sitk.WriteImage(sitk.Cast(sitk.Round(image), sitk.sitkInt16),
                        str(Path(tmp) / "image16.nii"))
        for name in (*VOLUMES, "vertebrae"):
            sitk.WriteImage(sitk.ReadImage(str(Path(tmp) / f"{name}.nii")),
                            str(Path(tmp) / f"{name}.nii.gz"), useCompression=True)
        sizes = {f"{v}{ext}": (Path(tmp) / f"{v}{ext}").stat().st_size / 1e6
                 for v in VOLUMES for ext in (".nii", ".nii.gz")}
        load_before = os.getloadavg()[0]
        out = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat),
                              "--measure", tmp], check=True, capture_output=True, text=True)
    figures = json.loads(out.stdout)
    # the default reader inflates a float-noise stream on two cores: it gains only with
    # a second core free, so the load is part of the figure
    cores = usable_cpus()
    print(f"{cores} CPUs; load average {load_before:.2f} before the timed reads, "
          f"{os.getloadavg()[0]:.2f} after")
    shape = bench_extract.SHAPE
    print(f"phantom {shape[0]}x{shape[1]}x{shape[2]} (bench/extract.py) with its vertebra "
          f"labels; best of {args.repeat}, variants interleaved; wall and CPU seconds")
    print(f"{'volume / variant':30} {'MB':>5} {'read':>6} {'cpu':>6} {'ratio':>6} "
          f"{'extract':>8} {'cpu':>6} {'ratio':>6} {'cpu ratio':>9}")
    for volume in VOLUMES:
        base = figures[f"{volume} nii"]
        for name, ext, _, _ in VARIANTS:
            row = figures[f"{volume} {name}"]
            print(f"{volume + ' ' + name:30} {sizes[volume + ext]:>5.0f} {row['read']:>6.3f} "
                  f"{row['read_cpu']:>6.3f} {row['read'] / base['read']:>6.2f} "
                  f"{row['extract']:>8.3f} {row['extract_cpu']:>6.3f} "
                  f"{row['extract'] / base['extract']:>6.2f} "
                  f"{row['extract_cpu'] / base['extract_cpu']:>9.2f}")
        for inflater in INFLATERS:
            row = figures[f"{volume} inflate {inflater}"]
            print(f"{volume + ' inflate alone, ' + inflater:30} {sizes[volume + '.nii.gz']:>5.0f} "
                  f"{row['read']:>6.3f} {row['read_cpu']:>6.3f}")
        ratio = figures[f"{volume} {DEFAULT}"]["extract"] / base["extract"]
        print(f"{volume}: extract .nii.gz ({DEFAULT.removeprefix('nii.gz ')}) / .nii = "
              f"{ratio:.2f} (target <= 1.3: "
              f"{'met' if ratio <= 1.3 else 'NOT met'}); floor on {cores} cores "
              f"{floor_ratio(figures, volume, cores):.2f}")
    return 0


def floor_ratio(figures: dict[str, dict[str, float]], volume: str, cores: int) -> float:
    """The lowest extract ratio this machine allows, from the run's own figures.

    A ``.nii.gz`` read does the work of the ``.nii`` read (hashing the file, converting
    and checking the voxels: its CPU seconds) and inflates the stream besides. With the
    work spread perfectly over ``cores`` and the inflater finishing no sooner than alone,
    the read takes at least ``max(inflate wall, (.nii read CPU + inflate CPU) / cores)``
    with the better of the two inflaters; the rest of the extract (the label map, the
    measurement) is as long as the ``.nii`` one.
    """
    base = figures[f"{volume} nii"]
    read = min(max(row["read"], (base["read_cpu"] + row["read_cpu"]) / cores)
               for row in (figures[f"{volume} inflate {name}"] for name in INFLATERS))
    return (read + base["extract"] - base["read"]) / base["extract"]


if __name__ == "__main__":
    sys.exit(main())
