"""Benchmark: read + extract on a 384x384x200 float32 volume with vertebra labels.

Usage::

    .venv/bin/python bench/extract.py [--repeat 3] [--gz]

Builds a seeded spine phantom (T4-L5, 14 levels, lesions, diffuse L3, bias, noise)
on a 384x384x200 grid, writes image and labels as NIfTI to a temporary folder, then
measures in a fresh subprocess (so the phantom's memory does not hide the peak):

* ``read``: ``core.io.read_image`` + ``core.io.read_label_map``;
* ``extract``: ``core.lesions.extract``;
* peak memory: ``tracemalloc`` peak (numpy/Python allocations) and the growth of the
  peak resident set size (``VmHWM``, else ``ru_maxrss``) over the post-import baseline
  (includes SimpleITK's C++ buffers);
* for scale, one plain numpy pass over the volume (``arr > t``) and ``arr.sum()``.

Targets: read + extract <= 1 s and peak <= 4x the volume's memory (118 MB float32).
Uncompressed ``.nii`` is the default; ``--gz`` measures ``.nii.gz`` (gzip
decompression alone takes most of a second at this size).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHAPE = (384, 384, 200)  # x, y, z (SimpleITK order)
SPACING = (0.8, 0.8, 2.4)
LEVELS = ("T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4",
          "L5")


def build(folder: Path, gz: bool) -> dict[str, object]:
    import SimpleITK as sitk

    from core.phantom import LesionSpec, make_spine_phantom

    fov = tuple(n * s for n, s in zip(SHAPE, SPACING, strict=True))
    t0 = time.perf_counter()
    phantom = make_spine_phantom(
        seed=7,
        levels=LEVELS,
        spacing_mm=SPACING,
        fov_mm=fov,
        lesions=(
            LesionSpec("T6", 6.0),
            LesionSpec("T10", 5.0, offset_mm=(6.0, 0.0, 2.0)),
            LesionSpec("L1", 7.0),
            LesionSpec("L4", 6.0, offset_mm=(-8.0, 0.0, 0.0)),
        ),
        diffuse_levels=("L3",),
        bias=0.3,
        noise_sd=8.0,
    )
    built = time.perf_counter() - t0
    size = phantom.image.GetSize()
    if tuple(size) != SHAPE:
        raise SystemExit(f"phantom size {size} != {SHAPE}")
    ext = ".nii.gz" if gz else ".nii"
    image_path, label_path = folder / f"image{ext}", folder / f"vertebrae{ext}"
    sitk.WriteImage(phantom.image, str(image_path), useCompression=gz)
    sitk.WriteImage(phantom.vertebrae, str(label_path), useCompression=gz)
    truth = {name: t["lesion_count"] for name, t in phantom.truth.items()}
    return {"image": str(image_path), "labels": str(label_path), "build_s": built,
            "truth": truth}


def _peak_rss_kb() -> int:
    """Peak resident set size of this process in kB.

    ``VmHWM`` from /proc (reset by exec, unlike ``ru_maxrss``, which Linux carries over
    from the forking parent); ``ru_maxrss`` where /proc is absent.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(image_path: str, label_path: str, repeat: int) -> dict[str, object]:
    import tracemalloc

    import numpy as np
    import SimpleITK as sitk

    from core.allocator import keep_freed_memory
    from core.io import read_image, read_label_map
    from core.lesions import extract

    keep_freed_memory()  # as python -m core extract runs
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    baseline_kb = _peak_rss_kb()
    runs = []
    counts: dict[str, int] = {}
    peak_kb = baseline_kb
    traced_peak = extract_peak = 0
    for i in range(repeat):
        if i == 0:
            tracemalloc.start()
        t0 = time.perf_counter()
        loaded = read_image(image_path)
        t_image = time.perf_counter()
        labels = read_label_map(label_path)
        t1 = time.perf_counter()
        result = extract(loaded.image, labels, input_sha256=loaded.meta.input_sha256)
        t2 = time.perf_counter()
        if i == 0:
            # Peak of one cold read + extract, before any later run can add to it.
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peak_kb = _peak_rss_kb()
            counts = {lv.level: lv.lesion_count for lv in result.metrics.levels}
            # extract() alone, inputs already in memory (its own Python/numpy peak).
            del result
            tracemalloc.start()
            result = extract(loaded.image, labels)
            _, extract_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        runs.append((t_image - t0, t1 - t_image, t2 - t1))
        del loaded, labels, result

    image = read_image(image_path).image  # keep a reference: the view borrows its buffer
    array = sitk.GetArrayViewFromImage(image)
    t0 = time.perf_counter()
    _ = array > 100.0
    t_compare = time.perf_counter() - t0
    t0 = time.perf_counter()
    _ = float(array.sum())
    t_sum = time.perf_counter() - t0
    volume_bytes = int(np.prod(SHAPE)) * 4
    return {
        "read_image_s": min(r[0] for r in runs),
        "read_labels_s": min(r[1] for r in runs),
        "extract_s": min(r[2] for r in runs),
        "total_s": min(sum(r) for r in runs),
        "tracemalloc_peak_mb": traced_peak / 1e6,
        "extract_tracemalloc_peak_mb": extract_peak / 1e6,
        "rss_growth_mb": (peak_kb - baseline_kb) / 1e3,
        "volume_mb": volume_bytes / 1e6,
        "numpy_compare_s": t_compare,
        "numpy_sum_s": t_sum,
        "lesions": counts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gz", action="store_true", help="write .nii.gz instead of .nii")
    parser.add_argument("--measure", nargs=2, metavar=("IMAGE", "LABELS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(*args.measure, repeat=args.repeat)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        built = build(Path(tmp), args.gz)
        out = subprocess.run(
            [sys.executable, __file__, "--repeat", str(args.repeat), "--measure",
             built["image"], built["labels"]],
            check=True, capture_output=True, text=True,
        )
    figures = json.loads(out.stdout)
    ok_counts = figures["lesions"] == built["truth"]
    volume = figures["volume_mb"]
    print(f"volume {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} float32 = {volume:.0f} MB "
          f"({'.nii.gz' if args.gz else '.nii'}), phantom built in {built['build_s']:.1f} s")
    print(f"read_image {figures['read_image_s']:.3f} s | read_label_map "
          f"{figures['read_labels_s']:.3f} s | extract "
          f"{figures['extract_s']:.3f} s | total {figures['total_s']:.3f} s "
          f"(best of {args.repeat}; target <= 1 s)")
    print(f"peak memory: tracemalloc {figures['tracemalloc_peak_mb']:.0f} MB "
          f"({figures['tracemalloc_peak_mb'] / volume:.2f}x volume), peak RSS growth "
          f"{figures['rss_growth_mb']:.0f} MB ({figures['rss_growth_mb'] / volume:.2f}x volume;"
          " target <= 4x)")
    print(f"extract() alone: tracemalloc peak {figures['extract_tracemalloc_peak_mb']:.0f} MB "
          f"({figures['extract_tracemalloc_peak_mb'] / volume:.2f}x volume)")
    print(f"numpy scale: arr > t {figures['numpy_compare_s']:.3f} s, arr.sum() "
          f"{figures['numpy_sum_s']:.3f} s")
    print(f"lesion counts match phantom truth: {ok_counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
