"""Work run in worker threads while the caller uses what they produce.

:class:`Background` runs ``task(progress)`` in a thread; the task reports how far it has
got (a byte count of its output) through ``progress``, and the caller blocks in
:meth:`Background.wait` until the part it needs is there. Used by :mod:`core.io.nifti`
to inflate a ``.nii.gz`` while :mod:`core.io.orient` converts and re-orients the slabs
already inflated: python-isal's inflater releases the GIL, so the two overlap on two
cores.

Errors: an exception of the task is raised again in the caller (the same exception,
whose one-sentence message is unchanged) by :meth:`wait` and :meth:`join`. The thread
never outlives the read: the caller always ends with :meth:`join` (success) or
:meth:`cancel` (failure), which stops the task at its next progress report and waits
for the thread.

:class:`Hasher` (bytes in memory) and :class:`ReadAhead` (a file, read and hashed ahead
of its consumer) compute the input's SHA-256 in a thread of their own, so that reading
and hashing a ``.nii.gz`` are off the inflating thread's path.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
from collections.abc import Callable
from typing import BinaryIO

Progress = Callable[[int], None]

_threads_enabled = True


def set_read_threads(enabled: bool) -> None:
    """Whether a ``.nii.gz`` read may use worker threads (the default, for one read at a
    time: the app, ``extract``). A process that already keeps every core busy (a batch
    worker: one study per core) turns them off; its reads then inflate, hash and convert
    in the caller's thread, as plain as a ``.nii``, with the same checks and results."""
    global _threads_enabled
    _threads_enabled = bool(enabled)


def read_threads() -> bool:
    """See :func:`set_read_threads`."""
    return _threads_enabled


class _CancelledError(Exception):
    """Raised inside the task by ``progress`` once the caller has given up."""


class Background:
    """``task(progress)`` in a worker thread; ``wait(n)`` for ``n`` units of its output."""

    def __init__(self, task: Callable[[Progress], None], *, start: int = 0,
                 name: str = "spinepain-decode") -> None:
        self._task = task
        self._cond = threading.Condition()
        self._done = start
        self._finished = False
        self._cancelled = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _progress(self, done: int) -> None:
        with self._cond:
            if self._cancelled:
                raise _CancelledError
            self._done = done
            self._cond.notify_all()

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            self._task(self._progress)
        except _CancelledError:
            pass
        except BaseException as exc:  # handed to the caller's thread
            error = exc
        with self._cond:
            self._error = error
            self._finished = True
            self._cond.notify_all()

    def wait(self, needed: int) -> None:
        """Block until ``needed`` units are done; raise the task's error if it failed."""
        with self._cond:
            self._cond.wait_for(lambda: self._done >= needed or self._finished)
            if self._error is not None:
                raise self._error
            if self._done < needed:
                raise RuntimeError("The decoding task ended before its output was complete.")

    def join(self) -> None:
        """Wait for the task to end; raise its error if it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error

    def error(self) -> BaseException | None:
        """The task's error once it has run to its end (``None`` if it succeeded)."""
        self._thread.join()
        return self._error

    def cancel(self) -> None:
        """Stop the task at its next progress report and wait for the thread."""
        with self._cond:
            self._cancelled = True
        self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


class Hasher:
    """SHA-256 computed in a worker thread from the chunks handed to :meth:`update`.

    hashlib releases the GIL on large buffers, so hashing the input overlaps the
    decoding that reads it. At most ``depth`` chunks wait in the queue (bounded memory);
    :meth:`hexdigest` waits for the last one; :meth:`close` stops the thread unused.
    """

    def __init__(self, *, depth: int = 8) -> None:
        self._digest = hashlib.sha256()
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="spinepain-sha256",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._digest.update(chunk)

    def update(self, chunk: bytes | memoryview) -> None:
        """Hash ``chunk`` (which must not change afterwards) in the worker thread."""
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        """The digest of every chunk handed over (the thread ends)."""
        self.close()
        return self._digest.hexdigest()

    def close(self) -> None:
        """End the thread once the chunks already queued are hashed."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class ReadAhead(io.RawIOBase):
    """A read-only stream whose bytes are read from ``handle`` and hashed in a worker thread.

    The worker reads ``chunk_bytes`` at a time, hashes them (SHA-256) and queues them (at
    most ``depth`` chunks ahead, bounded memory); the consumer's ``readinto`` only copies
    from the queue (``peek`` shows the current chunk). So the thread that decodes the
    stream (the inflater of a ``.nii.gz``) neither waits for the file nor hashes it. A
    read error of the worker is raised by ``readinto``; :meth:`hexdigest` reads to the
    end first; :meth:`close` stops the worker and waits for it.
    """

    def __init__(self, handle: BinaryIO, *, chunk_bytes: int, depth: int = 8) -> None:
        self._handle = handle
        self._chunk_bytes = chunk_bytes
        self._digest = hashlib.sha256()
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._current = memoryview(b"")
        self._eof = False
        self._thread = threading.Thread(target=self._run, name="spinepain-read",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                chunk = self._handle.read(self._chunk_bytes)
            except BaseException as exc:  # handed to the consumer's thread
                self._put(exc)
                return
            self._digest.update(chunk)
            self._put(chunk)
            if not chunk:
                return

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def _fetch(self) -> bool:
        """Make the next chunk current if the current one is used up; ``False`` at the end."""
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if not self._current:
            if self._eof:
                return False
            item = self._next()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            if not item:
                self._eof = True
                return False
            self._current = memoryview(item)
        return True

    def peek(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes from the current chunk, without consuming them."""
        return bytes(self._current[:size]) if self._fetch() else b""

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if not self._fetch():
            return 0
        n = min(len(buffer), len(self._current))
        memoryview(buffer).cast("B")[:n] = self._current[:n]
        self._current = self._current[n:]
        return n

    def _next(self) -> bytes | BaseException:
        """The next queued chunk (or error), waiting for the worker."""
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return OSError("The read-ahead worker stopped.")

    def hexdigest(self) -> str:
        """SHA-256 of the whole stream (the rest is read and hashed first)."""
        sink = bytearray(self._chunk_bytes)
        while self.readinto(sink):
            pass
        self._thread.join()
        return self._digest.hexdigest()

    def close(self) -> None:
        """Stop the worker (at its next chunk) and wait for it."""
        self._stop.set()
        self._thread.join()
        super().close()


class FileHasher:
    """SHA-256 of an open file computed in a worker thread that reads it on its own.

    For a decoder that needs the file seekable (the parallel inflater of
    :mod:`core.io.parallel_gzip` reads chunks out of order): the worker reads a
    duplicate of the descriptor with ``os.pread``, so the decoder's position is never
    moved, and hashes ``chunk_bytes`` at a time. :meth:`hexdigest` waits for the end and
    raises ``ValueError`` when the file's size or modification time changed during the
    read (the bytes hashed might then not be those decoded); :meth:`close` stops the
    worker at its next chunk and closes the duplicate.
    """

    def __init__(self, handle: BinaryIO, *, what: str, chunk_bytes: int) -> None:
        self._fd = os.dup(handle.fileno())
        self._what = what
        self._chunk_bytes = chunk_bytes
        self._digest = hashlib.sha256()
        self._error: OSError | None = None
        self._stop = threading.Event()
        self._before = self._stamp()
        self._thread = threading.Thread(target=self._run, name="spinepain-sha256",
                                        daemon=True)
        self._thread.start()

    def _stamp(self) -> tuple[int, int]:
        status = os.fstat(self._fd)
        return status.st_size, status.st_mtime_ns

    def _run(self) -> None:
        offset = 0
        try:
            while not self._stop.is_set():
                chunk = os.pread(self._fd, self._chunk_bytes, offset)
                if not chunk:
                    return
                self._digest.update(chunk)
                offset += len(chunk)
        except OSError as exc:  # handed to the caller's thread
            self._error = exc

    def hexdigest(self) -> str:
        """SHA-256 of the whole file, once the worker has read it."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._stamp() != self._before:
            raise ValueError(f"The {self._what} file changed while it was being read.")
        return self._digest.hexdigest()

    def close(self) -> None:
        """Stop the worker and close the duplicate descriptor."""
        self._stop.set()
        self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
