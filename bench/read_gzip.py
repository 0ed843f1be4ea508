"""Benchmark: reading .nii vs .nii.gz through zlib vs .nii.gz through isal (issue 12, item 6).

Usage::

    .venv/bin/python bench/read_gzip.py [--repeat 5]

The volume is the one of ``bench/extract.py``: the seeded 384x384x200 float32 spine
phantom with its vertebra labels, written once as ``.nii`` and once as ``.nii.gz``
(SimpleITK's writer). In one fresh subprocess, runs interleaved so that machine noise
hits every variant alike, it times (best of ``--repeat``):

* ``read``: ``core.io.read_image`` of the image;
* ``extract``: ``read_image`` + ``read_label_map`` + ``core.lesions.extract``, i.e. what
  ``python -m core extract`` does;

for ``.nii``, ``.nii.gz`` inflated by the standard ``gzip``/zlib module and ``.nii.gz``
inflated by python-isal's ``isal.igzip`` (``core.io.nifti.GZIP_BACKEND``), and prints
them side by side with the ratios to ``.nii``. Target: extract from ``.nii.gz`` (isal)
<= 1.3x extract from ``.nii``. Every check of the read (streamed size accounting,
truncation, NaN scan, memory budget) runs in all variants.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

VARIANTS = (("nii", ".nii", None), ("nii.gz zlib", ".nii.gz", "zlib"),
            ("nii.gz isal", ".nii.gz", "isal"))


def _extract_bench():
    spec = importlib.util.spec_from_file_location("bench_extract", REPO / "bench" / "extract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(folder: str, repeat: int) -> dict[str, dict[str, float]]:
    """Best-of-``repeat`` read and extract seconds of each variant (run in a subprocess)."""
    import SimpleITK as sitk

    from core.io import nifti, read_image, read_label_map
    from core.lesions import extract

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    if nifti.GZIP_BACKEND != "isal":
        raise SystemExit("isal is not installed: pip install -r requirements.txt")
    times: dict[str, dict[str, list[float]]] = {
        name: {"read": [], "extract": []} for name, _, _ in VARIANTS}
    for _ in range(repeat):
        for name, ext, backend in VARIANTS:
            nifti.GZIP_BACKEND = backend or "isal"
            image_path = Path(folder) / f"image{ext}"
            label_path = Path(folder) / f"vertebrae{ext}"
            t0 = time.perf_counter()
            loaded = read_image(image_path)
            t1 = time.perf_counter()
            labels = read_label_map(label_path)
            extract(loaded.image, labels, input_sha256=loaded.meta.input_sha256)
            t2 = time.perf_counter()
            times[name]["read"].append(t1 - t0)
            times[name]["extract"].append(t2 - t0)
            del loaded, labels
    return {name: {kind: min(values) for kind, values in kinds.items()}
            for name, kinds in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return 0
    import SimpleITK as sitk

    bench_extract = _extract_bench()
    with tempfile.TemporaryDirectory(prefix="bench-read-gzip-") as tmp:
        built = bench_extract.build(Path(tmp), gz=False)
        for key, name in (("image", "image"), ("labels", "vertebrae")):
            sitk.WriteImage(sitk.ReadImage(built[key]), str(Path(tmp) / f"{name}.nii.gz"),
                            useCompression=True)
        sizes = {ext: (Path(tmp) / f"image{ext}").stat().st_size for ext in (".nii", ".nii.gz")}
        out = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat),
                              "--measure", tmp], check=True, capture_output=True, text=True)
    figures = json.loads(out.stdout)
    shape = bench_extract.SHAPE
    print(f"volume {shape[0]}x{shape[1]}x{shape[2]} float32: .nii {sizes['.nii'] / 1e6:.0f} MB, "
          f".nii.gz {sizes['.nii.gz'] / 1e6:.0f} MB; best of {args.repeat}, interleaved")
    base = figures["nii"]
    print(f"{'variant':14} {'read s':>8} {'ratio':>6} {'extract s':>10} {'ratio':>6}")
    for name, _, _ in VARIANTS:
        row = figures[name]
        print(f"{name:14} {row['read']:>8.3f} {row['read'] / base['read']:>6.2f} "
              f"{row['extract']:>10.3f} {row['extract'] / base['extract']:>6.2f}")
    ratio = figures["nii.gz isal"]["extract"] / base["extract"]
    print(f"extract .nii.gz (isal) / .nii = {ratio:.2f} (target <= 1.3): "
          f"{'met' if ratio <= 1.3 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
