"""Peak memory of reading the largest volume the read budget allows (issue 11, item 2).

Each read runs in a fresh subprocess, which reports its resident set before the read
(interpreter and libraries loaded) and its peak resident set (``VmHWM``, the same figure
as ``resource.getrusage(RUSAGE_SELF).ru_maxrss``) after it. The table prints, per case,
the float32 size of the volume, the peak RSS, their ratio (target: below 3) and the
ratio of the read's own increase over the baseline.

Cases, under the default budget (``SPINEPAIN_READ_BUDGET_MB`` unset, 1024 MiB):

* the largest float32 volume allowed (budget / 8 bytes per voxel: 512^3), stored RAS so
  that it must be re-oriented, as ``.nii`` and ``.nii.gz`` files;
* the largest int16 volume allowed (budget / 6 bytes per voxel), ``.nii.gz``;
* the issue's 800^3 float32 zeros ``.nii.gz`` (2 MB compressed), which must be refused
  at once with a small peak;
* for comparison, the naive read (``sitk.ReadImage`` + ``DICOMOrient`` + ``Cast``) of
  the largest float32 volume.

Run: ``python bench/read_memory.py`` (about two minutes; writes ~1.5 GB under /tmp).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1 << 20


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def child(path: str, how: str) -> None:
    """Read one file and print baseline RSS, peak RSS, seconds and the outcome as JSON."""
    import SimpleITK as sitk

    from core.allocator import keep_freed_memory
    from core.io import read_image

    keep_freed_memory()  # as python -m core and the app run
    baseline = _status("VmRSS")
    start = time.perf_counter()
    outcome = "read"
    try:
        if how == "naive":
            image = sitk.ReadImage(path)
            image = sitk.DICOMOrient(image, "LPS")
            image = sitk.Cast(image, sitk.sitkFloat32)
        else:
            image = read_image(Path(path)).image
        size = image.GetSize()
    except ValueError as exc:
        outcome, size = f"refused: {exc}", None
    seconds = time.perf_counter() - start
    print(json.dumps({"baseline": baseline, "peak": _status("VmHWM"), "seconds": seconds,
                      "outcome": outcome, "size": size}))


def _nifti_header(shape_xyz: tuple[int, int, int], datatype: int, bitpix: int) -> bytes:
    """A NIfTI-1 header, RAS (qform: x flipped, y flipped), 1 mm voxels."""
    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, 3, *shape_xyz, 1, 1, 1, 1)
    struct.pack_into("<2h", header, 70, datatype, bitpix)
    struct.pack_into("<8f", header, 76, 1.0, 1.0, 1.0, 1.0, 0, 0, 0, 0)
    struct.pack_into("<f", header, 108, 352.0)
    struct.pack_into("<f", header, 112, 1.0)
    struct.pack_into("<h", header, 252, 1)  # qform_code: scanner; identity quaternion = RAS
    header[344:348] = b"n+1\x00"
    return bytes(header)


def write_volume(path: Path, shape_xyz: tuple[int, int, int], dtype: str, *,
                 compress: bool, zeros: bool = False) -> None:
    """Write a NIfTI slab by slab (smooth structure plus noise, or zeros)."""
    import numpy as np

    code = {"float32": (16, 32), "int16": (4, 16)}[dtype]
    nx, ny, nz = shape_xyz
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:ny, 0:nx]
    base = 200.0 * np.sin(xx / 17.0) * np.cos(yy / 23.0) + 500.0
    with open(path, "wb") as raw, (
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) if compress else raw
    ) as handle:
        handle.write(_nifti_header(shape_xyz, *code))
        for z in range(nz):
            if zeros:
                plane = np.zeros((ny, nx), dtype=dtype)
            else:
                plane = (base + 50.0 * math.sin(z / 9.0)
                         + rng.normal(0, 20.0, (ny, nx))).astype(dtype)
            handle.write(plane.tobytes())


def run_child(path: Path, how: str = "core") -> dict:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}" + os.environ.get("PYTHONPATH", ""))
    env.pop("SPINEPAIN_READ_BUDGET_MB", None)  # the default budget is measured
    out = subprocess.run([sys.executable, __file__, "--child", str(path), how], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from core.io import budget

    limit = budget.DEFAULT_READ_BUDGET_MB * MIB
    side_f32 = round((limit // 8) ** (1 / 3))  # 512 for 1024 MiB
    n_i16 = limit // 6
    shape_i16 = (512, 512, n_i16 // (512 * 512))
    cases = [
        ("largest float32 allowed, RAS .nii", (side_f32,) * 3, "float32", False, False, "core"),
        ("largest float32 allowed, RAS .nii.gz", (side_f32,) * 3, "float32", True, False,
         "core"),
        ("largest int16 allowed, RAS .nii.gz", shape_i16, "int16", True, False, "core"),
        ("800^3 float32 zeros .nii.gz (issue 11)", (800, 800, 800), "float32", True, True,
         "core"),
        ("naive sitk read of the largest float32", (side_f32,) * 3, "float32", True, False,
         "naive"),
    ]
    print(f"read budget {budget.DEFAULT_READ_BUDGET_MB} MiB (default); peak RSS of one read "
          "in a fresh process")
    print(f"{'case':42} {'voxels':>11} {'f32 MiB':>8} {'file MiB':>8} {'peak MiB':>8} "
          f"{'peak/f32':>8} {'read/f32':>8} {'s':>6}  outcome")
    with tempfile.TemporaryDirectory(prefix="bench-read-memory-") as tmp:
        written: dict[tuple, Path] = {}
        for label, shape, dtype, compress, zeros, how in cases:
            key = (shape, dtype, compress, zeros)
            if key not in written:
                path = Path(tmp) / f"v{len(written)}.nii{'.gz' if compress else ''}"
                write_volume(path, shape, dtype, compress=compress, zeros=zeros)
                written[key] = path
            path = written[key]
            result = run_child(path, how)
            voxels = math.prod(shape)
            f32 = 4 * voxels
            print(f"{label:42} {voxels:>11} {f32 / MIB:>8.0f} "
                  f"{path.stat().st_size / MIB:>8.1f} {result['peak'] / MIB:>8.0f} "
                  f"{result['peak'] / f32:>8.2f} "
                  f"{(result['peak'] - result['baseline']) / f32:>8.2f} "
                  f"{result['seconds']:>6.1f}  {result['outcome'][:60]}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        child(sys.argv[2], sys.argv[3])
    else:
        sys.path.insert(0, str(ROOT))
        main()
