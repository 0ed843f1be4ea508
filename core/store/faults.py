"""Storage faults as one plain sentence: a full disk or database while writing a case.

A write the disk refuses (no space, a quota, a file-size limit) raises
:class:`StorageFullError`, both an ``OSError`` and a ``ValueError`` so the pages and the
CLI show its one sentence; the transaction has been rolled back and files written for it
removed by the caller. :func:`check_written_nifti` catches what SimpleITK does not: on a
full disk its NIfTI writer prints an error and returns, leaving a truncated file.
"""

from __future__ import annotations

import errno
import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from isal import igzip
from sqlalchemy.exc import DBAPIError

#: errno values of a write refused for lack of room.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: SQLite's SQLITE_FULL and PostgreSQL's disk_full class 53100 / out of memory 53200.
_SQLITE_FULL = 13
_PG_FULL = frozenset({"53100"})
_FULL_WORDS = ("database or disk is full", "no space left on device", "disk full",
               "file too large", "could not extend file")


class StorageFullError(OSError, ValueError):
    """The store's disk or database refused a write for lack of space; nothing was saved.

    ``str()`` is the one sentence alone (no ``[Errno 28]`` prefix)."""

    def __str__(self) -> str:
        return str(self.strerror) if self.strerror else super().__str__()


def is_full(exc: BaseException) -> bool:
    """True when ``exc`` (an OSError or a database error) says the storage is full."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return True
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if getattr(orig, "sqlite_errorcode", None) == _SQLITE_FULL:
        return True
    if getattr(orig, "sqlstate", None) in _PG_FULL or getattr(orig, "pgcode", None) in _PG_FULL:
        return True
    text = str(orig).lower()
    return any(word in text for word in _FULL_WORDS)


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn a database error that says the storage is full into :class:`StorageFullError`."""
    try:
        yield
    except DBAPIError as exc:
        if is_full(exc):
            raise StorageFullError(
                errno.ENOSPC, "The case store's database could not be written: its disk is "
                "full; nothing was saved.") from None
        raise


def image_full_error(directory: Path) -> StorageFullError:
    """The error of an image file that could not be written to ``directory``."""
    return StorageFullError(errno.ENOSPC, f"The image could not be written to the store's "
                                          f"image folder ({directory.name}): its disk is "
                                          "full; nothing was saved.")


def check_written_nifti(path: Path, min_bytes: int) -> None:
    """Raise ``OSError`` (ENOSPC) unless ``path`` is a complete gzip stream that unpacks
    to at least ``min_bytes`` (header and voxels)."""
    total = 0
    try:
        with igzip.open(path, "rb") as stream:
            while chunk := stream.read(1 << 22):
                total += len(chunk)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise OSError(errno.ENOSPC, f"{path.name} is incomplete ({exc})") from None
    if total < min_bytes:
        raise OSError(errno.ENOSPC, f"{path.name} holds {total} of {min_bytes} bytes")

