"""The memory budget of one image read: estimate the working memory first, refuse beyond it.

A voxel limit alone does not bound memory: an 800^3 float32 NIfTI of zeros is 2 MB
compressed and within ``MAX_VOXELS``, yet reading it naively (decode, orientation copy,
float32 cast) peaked at 6 GB. Every reader therefore estimates, from the header and
before decoding the data, the memory the read will hold at its peak, and refuses with
one plain sentence when the estimate is over the budget:

* single files (NIfTI, NRRD, MetaImage): the decoded buffer in the file's voxel type
  (``n_voxels * source_itemsize``; for a scaled NIfTI ITK decodes into float32, so the
  item size is at least 4) plus the output buffer (float32 for an image, unsigned 16-bit
  for a label map, 32-bit when a label exceeds 65535: checked again before that cast).
  The output is filled slab by slab from the decoded buffer, which performs the cast
  and the re-orientation in one copy (:mod:`core.io.orient`), so nothing else of
  volume size is held. The compressed input is streamed to a private file, not kept;
* DICOM stacks: the slice files held in memory (their bytes, plus the pixel data pydicom
  copies out of them) plus rows x columns x slices x 4 bytes for the float32 stack and
  the same again for the re-oriented output, computed before anything is stacked;
* zip archives and gzip streams: the decompressed size is counted while streaming (never
  trusted from a header) and capped.

Default budget: 1024 MiB per read (``DEFAULT_READ_BUDGET_MB``). The application is sized
for a 2-core tumor-board server with a few GB of memory (4 GB as the reference): the
Streamlit process itself with numpy, SimpleITK, scikit-learn and SHAP holds about
0.5 GB, two reads can run at once (one per core), and each read result then stays in the
session cache as float32, so 2 x 1 GiB of transient working memory plus the baseline
and a few cached images fit in 4 GB. 1 GiB admits a float32 volume of up to 512 MiB
(134 M voxels, e.g. 512 x 512 x 512 read from an int16 or float32 file), well above any
spine MRI (about 512 x 512 x 200 at most) and a whole-spine CT. A site with more memory
raises it with ``SPINEPAIN_READ_BUDGET_MB`` (whole megabytes, read at every call).
"""

from __future__ import annotations

import os

#: Environment variable overriding the per-read memory budget, in MiB.
READ_BUDGET_ENV: str = "SPINEPAIN_READ_BUDGET_MB"
#: Default memory budget of one read, MiB (see the module docstring for the reasoning).
DEFAULT_READ_BUDGET_MB: int = 1024
_MIB = 1 << 20


def read_budget_bytes() -> int:
    """The memory budget of one read in bytes, from ``SPINEPAIN_READ_BUDGET_MB`` or default."""
    text = os.environ.get(READ_BUDGET_ENV, "").strip()
    if not text:
        return DEFAULT_READ_BUDGET_MB * _MIB
    if not text.isdigit() or not 0 < int(text) <= 1 << 30:
        raise ValueError(
            f"{READ_BUDGET_ENV} must be a positive whole number of megabytes."
        )
    return int(text) * _MIB


def image_working_bytes(n_voxels: int, source_itemsize: int, *, label_map: bool) -> int:
    """Peak working memory of reading one decoded volume into its canonical output.

    The decoded buffer (``n_voxels * source_itemsize``) plus the output buffer: float32
    for an image, 16-bit for a label map (the 32-bit case is checked again before casting).
    """
    out_itemsize = 2 if label_map else 4
    return n_voxels * (source_itemsize + out_itemsize)


def dicom_working_bytes(n_voxels: int, held_bytes: int) -> int:
    """Peak working memory of stacking a DICOM series: files held, stack, output."""
    return 2 * held_bytes + 2 * 4 * n_voxels


def check_budget(needed: int, what: str) -> None:
    """Refuse a read whose estimated working memory is over the budget (one sentence)."""
    budget = read_budget_bytes()
    if needed > budget:
        raise ValueError(
            f"Reading this {what} needs about {_mib(needed)} MiB of memory, over the "
            f"read budget of {_mib(budget)} MiB ({READ_BUDGET_ENV})."
        )


def _mib(n_bytes: int) -> int:
    return -(-n_bytes // _MIB)
