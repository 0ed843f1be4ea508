"""How the C allocator gives freed memory back in a long-running process:
:func:`keep_freed_memory`.

The app's server and the command line run many whole-frame steps in one process: a
10,000-case assessment allocates and frees about 5 MB of arrays (columns of 10,000
float64 values are 80 KB, the feature matrix 1 MB), a page run on a 100,000-study store
ten times that. With glibc's defaults, a block of 128 KiB or more is mapped on its own
and unmapped when freed (the threshold rises, up to 32 MiB, as such blocks are freed),
and the top of the heap is given back to the system once more than twice that threshold
is free. The next call's arrays are then faulted in again page by page. On this
product's 2-core virtual machine a minor page fault costs about 2.6 microseconds:
``assess_many`` of 10,000 cases took about 1,300 faults per call, some 3.4 ms of 19 ms
(``bench/assess.py``, ``resource.getrusage(...).ru_minflt``).

:func:`keep_freed_memory` sets the two thresholds once for the process
(``mallopt(M_MMAP_THRESHOLD)``, ``mallopt(M_TRIM_THRESHOLD)``; see ``man 3 mallopt``):
blocks below :data:`MMAP_THRESHOLD_BYTES` come from the heap, and up to
:data:`TRIM_THRESHOLD_BYTES` of free heap is kept for the next run instead of being
returned. Blocks above the mapping threshold (a whole MRI volume: 118 MB for 384 x 384 x
200 float32) are still mapped and unmapped on their own, so the memory budget of a read
is unchanged. The cost is resident memory: a process keeps up to
:data:`TRIM_THRESHOLD_BYTES` of freed heap per allocator arena instead of returning it.

Only the GNU C library has these settings; elsewhere (musl, macOS) nothing changes and
the function returns ``False``. Called by the entry points (``python -m core``, the
app's first page run, the ``bench/`` scripts that time the product in process), never
on import.
"""

from __future__ import annotations

import ctypes
import functools

#: Blocks smaller than this come from the heap (glibc's dynamic threshold tops out here).
MMAP_THRESHOLD_BYTES = 32 << 20
#: Free memory at the top of a heap kept for reuse instead of being returned.
TRIM_THRESHOLD_BYTES = 128 << 20

# <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc (``gnu_get_libc_version`` exists)."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's mapping and trim thresholds for this process (once; later calls return
    the first call's result). ``True`` when both were set, ``False`` without glibc."""
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    return (libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
            and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1)


__all__ = ["MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "keep_freed_memory"]
