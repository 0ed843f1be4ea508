"""Inflating one large, poorly compressible gzip stream on two cores, with isal's verdicts.

ISA-L (python-isal, :mod:`core.io.nifti`'s inflater) decodes one gzip stream on one
core. On a stream that hardly compresses (float32 voxels with noise in their mantissas:
the 118 MB phantom of ``bench/read_gzip.py`` compresses to 105 MB) that is about
0.25 s of inflation, most of a ``.nii.gz`` read. rapidgzip (Knespel & Brunst,
"Rapidgzip: Parallel Decompression and Seeking in Gzip Files Using Cache Prefetching",
HPDC 2023; pip ``rapidgzip``) decodes chunks of the same stream on several cores: it
finds deflate block starts speculatively, decodes each chunk with its back-references
to the unknown window kept as markers, and resolves them once the previous chunk is
done. On this 2-core machine it inflates that stream in 0.15 s (0.29 s of CPU). On a
compressible stream it loses: back-references everywhere make the speculative pass
expensive (the int16 phantom, 22 MB: 0.12 s against ISA-L's 0.07 s). So a stream is
inflated in parallel only when all of these hold (:func:`worth_it`), else by ISA-L as
before:

* worker threads are allowed for reads (:func:`core.io.background.read_threads`: one
  read at a time; batch workers, one study per core, turn them off);
* at least two CPUs are usable by this process (its affinity, :func:`usable_cpus`);
* the stream is seekable and at least ``MIN_COMPRESSED_BYTES`` long;
* the header's declared size is at most ``MAX_RATIO`` times the compressed size (the
  stream hardly compresses, so inflation dominates the read);
* the read budget (:mod:`core.io.budget`) leaves ``RESERVE_BYTES`` beside the read's
  own estimate, for rapidgzip's chunk cache: 33 MiB on the phantom above, about 330
  MiB at most on a gzip bomb (zeros past the declared size: measured on 8 and 24 GiB
  bombs, bounded whatever the bomb's size).

Verdicts stay ISA-L's. Any exception of rapidgzip is never shown: the stream is read
again from its start by the fallback inflater (isal), which must reproduce the bytes
already delivered (their CRC-32, computed on the way, is compared) and then carries on.
So a truncated, corrupt or padded stream, a bad CRC or size trailer, trailing data and
extra members are accepted or refused exactly as before, with the same sentences;
bytes that isal does not reproduce are refused as a corrupt stream
(:class:`InflateMismatchError`, an ``OSError``), since a conversion may already have used
them.

Memory: rapidgzip 0.16 calls ``malloc_trim(0)`` when a reader closes, which hands the
freed heap that :mod:`core.allocator` keeps back to the system; the step after such a
read faults its memory in again (about 8,000 more minor faults on the phantom, some
20 ms). Measured and left: there is no switch for it in rapidgzip's API, and holding the
main arena's free memory allocated across the close does not help (the trim covers every
thread's arena; the faults after the read stayed at 22,800 against 23,100).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import BinaryIO

try:  # parallel gzip decoder (pip: rapidgzip); without it every stream uses isal
    import rapidgzip as _rapidgzip
except ImportError:  # pragma: no cover - rapidgzip is pinned in requirements.txt
    _rapidgzip = None

try:  # ISA-L's CRC-32 (folding with PCLMUL); zlib's is the fallback
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - isal is pinned in requirements.txt
    from zlib import crc32 as _crc32

from core.io import budget
from core.io.background import read_threads

#: Whether parallel inflation may be used at all (``bench/read_gzip.py`` compares).
ENABLED: bool = True
#: Smallest compressed stream inflated in parallel: 16 MiB (about 40 ms of ISA-L
#: inflation; below that rapidgzip's start-up and chunking are not paid back).
MIN_COMPRESSED_BYTES: int = 16 << 20
#: Largest declared-size / compressed-size ratio inflated in parallel (float32 noise:
#: 1.12; int16 MR: 2.7, where ISA-L alone is faster).
MAX_RATIO: float = 1.5
#: Compressed bytes per chunk decoded by one core (8 MiB: the fastest of 1-32 MiB on the
#: phantom; 13 chunks for its 105 MB).
CHUNK_BYTES: int = 8 << 20
#: Budget room kept for rapidgzip's chunk cache (see the module docstring).
RESERVE_BYTES: int = 384 << 20
#: Cores given to rapidgzip.
CORES: int = 2


class InflateMismatchError(OSError):
    """The fallback inflater did not reproduce the bytes rapidgzip had delivered."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the platform tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; not on macOS or Windows
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def available() -> bool:
    """Whether parallel inflation can be used at all in this process."""
    return ENABLED and _rapidgzip is not None and read_threads() and usable_cpus() >= 2


def may_use(compressed_bytes: int) -> bool:
    """Whether a stream of this compressed size may be inflated in parallel, before its
    header is read (a file read for it is hashed by ``FileHasher``, which keeps it
    seekable); :func:`worth_it` decides once the header is known."""
    return available() and compressed_bytes >= MIN_COMPRESSED_BYTES


def worth_it(stream: BinaryIO, *, declared_bytes: int, working_bytes: int) -> bool:
    """Whether to inflate this stream in parallel (the conditions of the module
    docstring); ``declared_bytes`` is the header's data end (offset + data),
    ``working_bytes`` the read's budgeted working memory."""
    if not stream.seekable():
        return False
    position = stream.tell()
    compressed = stream.seek(0, io.SEEK_END)
    stream.seek(position)
    return (may_use(compressed)
            and declared_bytes <= MAX_RATIO * compressed
            and working_bytes + RESERVE_BYTES <= budget.read_budget_bytes())


def _source(stream: BinaryIO) -> BinaryIO | int:
    """A file's descriptor (rapidgzip then reads it natively, without taking the GIL,
    and leaves it open) or the stream itself (bytes in memory)."""
    try:
        return stream.fileno()
    except (OSError, AttributeError):  # io.UnsupportedOperation is an OSError
        return stream


def open_parallel(stream: BinaryIO):  # type: ignore[no-untyped-def]
    """rapidgzip's reader of the whole stream from its start, on ``CORES`` cores in
    ``CHUNK_BYTES`` chunks (what :class:`ParallelReader` decodes with)."""
    stream.seek(0)
    return _rapidgzip.RapidgzipFile(_source(stream), parallelization=CORES,
                                    chunk_size=CHUNK_BYTES)


class ParallelReader(io.RawIOBase):
    """The decompressed stream from byte ``len(head)`` on (``head``: what the caller has
    already read through another inflater), decoded by rapidgzip and, after any
    rapidgzip error, by ``fallback(stream)`` (see the module docstring)."""

    def __init__(self, stream: BinaryIO, head: bytes,
                 fallback: Callable[[BinaryIO], BinaryIO]) -> None:
        self._stream = stream
        self._fallback = fallback
        self._crc = _crc32(head)
        self._delivered = len(head)
        self._slow: BinaryIO | None = None
        self._fast = None
        try:
            self._fast = open_parallel(stream)
            same = self._fast.read(len(head)) == head
        except Exception:  # any rapidgzip failure: isal decides
            same = False
        if not same:
            self._switch()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self._slow is not None:
            return self._slow.readinto(buffer)
        try:
            n = self._fast.readinto(buffer)  # type: ignore[union-attr]
        except Exception:  # any rapidgzip failure: isal decides
            self._switch()
            return self._slow.readinto(buffer)  # type: ignore[union-attr]
        if n:
            self._crc = _crc32(memoryview(buffer).cast("B")[:n], self._crc)
            self._delivered += n
        return n

    def _switch(self) -> None:
        """Close rapidgzip; re-inflate what it delivered with the fallback, check it."""
        if self._fast is not None:
            self._fast.close()
        self._stream.seek(0)
        slow = self._fallback(self._stream)
        crc, left = 0, self._delivered
        while left:
            chunk = slow.read(min(left, CHUNK_BYTES))
            if not chunk:
                break
            crc = _crc32(chunk, crc)
            left -= len(chunk)
        if left or crc != self._crc:
            raise InflateMismatchError("The parallel inflater's bytes were not reproduced.")
        self._slow = slow

    def close(self) -> None:
        if not self.closed:
            for reader in (self._fast, self._slow):
                if reader is not None:
                    reader.close()
        super().close()
