"""The worker processes of a batch: started early, warm, one SimpleITK share each.

Importing the measurement code (numpy, SciPy, SimpleITK, pandas, ``core``) costs a
process about 1.5 CPU seconds, as much as several studies. Workers therefore fork from a
``multiprocessing`` *forkserver* that imports it once (:data:`PRELOAD`), and
``python -m core batch`` starts that server first thing (:func:`start_early`), so that
it imports while the command itself imports, reads the manifest and checks what is
already done, instead of afterwards. The local process pool and the workers of a
``--dask local`` cluster fork from the same server; they start in milliseconds.

This module imports only the standard library at import time, so the command can start
the server before anything heavy is loaded.

In each worker :func:`configure_worker` gives SimpleITK ``cpus // workers`` threads (one
worker uses every core; several do not oversubscribe them); :func:`init_local_worker`
also makes local workers ignore Ctrl-C (the parent stops the run) and
:func:`dask_setup` is the Dask worker preload hook.

The server ends when the command does (its "alive" pipe closes). It leaves through
``os._exit`` instead of finalising an interpreter full of numpy, SciPy, pandas,
SimpleITK (and ``distributed``): that teardown took 0.2-0.5 s after the command had
finished, holding the command's standard output open meanwhile, so anything reading it
(a pipe, ``$(...)``, the bench) waited. The server has nothing to flush; its workers
already leave through ``os._exit``.
"""

from __future__ import annotations

import argparse
import atexit
import multiprocessing
import multiprocessing.forkserver
import os
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

#: Modules the forkserver imports once for every worker: this one (see
#: :data:`SERVER_ENV`), then everything a study needs.
PRELOAD: tuple[str, ...] = ("core.batch.workers", "core.batch.study", "core.io",
                            "core.measure", "core.metrics")
#: Also preloaded when the run will use a Dask ``LocalCluster``.
DASK_PRELOAD: tuple[str, ...] = ("distributed",)
#: Environment variable read by ITK (SimpleITK) for its default thread count.
ITK_THREADS_ENV = "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"
_MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
#: Set only in the environment the forkserver starts with: importing this module there
#: (the first preload) removes it and makes the server leave through ``os._exit``.
SERVER_ENV = "CORE_BATCH_FORKSERVER"


def _leave_now() -> None:
    os._exit(0)


if os.environ.pop(SERVER_ENV, None) == "1":  # this process is the batch's forkserver
    atexit.register(_leave_now)


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def itk_threads(workers: int) -> int:
    """SimpleITK threads per worker: the CPUs shared out, at least one."""
    return max(1, cpu_count() // max(1, workers))


@contextmanager
def clean_environ() -> Iterator[None]:
    """Start processes without ``MALLOC_TRIM_THRESHOLD_`` even when this process has it
    (Dask writes its pre-spawn variables into the parent's environment), and leave this
    process's environment as it was.

    Dask's default of 65536 turns off glibc's adaptive mmap threshold, so every large
    temporary array of a measurement was mapped and page-faulted afresh (about 4x the
    page faults and 4x the system time per study).
    """
    saved = dict(os.environ)
    os.environ.pop(_MALLOC_TRIM, None)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


def forkserver_context(*, dask: bool = False) -> multiprocessing.context.ForkServerContext:
    """The ``forkserver`` context the workers fork from, its server running.

    The server is one per process: the first call starts it (with :data:`PRELOAD`, plus
    :data:`DASK_PRELOAD` when ``dask``, without ``MALLOC_TRIM_THRESHOLD_`` and with
    :data:`SERVER_ENV`), later calls return at once. A worker needing a module the
    server did not preload imports it itself.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, *(DASK_PRELOAD if dask else ())])
    with clean_environ():
        os.environ[SERVER_ENV] = "1"  # for the server only: clean_environ removes it here
        multiprocessing.forkserver.ensure_running()
    return context


def start_early(argv: Sequence[str]) -> None:
    """Start the forkserver for ``python -m core ARGV`` when it is a batch on local
    processes or a local Dask cluster; otherwise do nothing.

    Called before the command imports anything heavy, so that the server's imports run
    on another core meanwhile. Nothing depends on it: the executors start the server
    themselves when it is not running.
    """
    if not argv or argv[0] != "batch":
        return
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--dask")
    parser.add_argument("-h", "--help", action="store_true")
    known, _ = parser.parse_known_args(list(argv[1:]))
    if known.help or known.dask not in (None, "local"):
        return
    forkserver_context(dask=known.dask == "local")


def configure_worker(threads: int) -> None:
    """Set up a worker process: SimpleITK's global default thread count, and ``.nii.gz``
    reads without worker threads (:func:`core.io.set_read_threads`): a batch is judged
    by throughput, and those threads cost CPU time (measured 5-25 % more per study)
    that the other workers or the command's own process need; they only shorten one
    read's wall time."""
    import SimpleITK as sitk

    from core.io import set_read_threads

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    set_read_threads(False)


def init_local_worker(threads: int) -> None:
    """Process-pool worker start: ignore Ctrl-C (the parent stops the run), then
    :func:`configure_worker`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_worker(threads)


def dask_setup(worker: object) -> None:
    """Dask worker preload hook (``preload=["core.batch.workers"]``): configure the
    worker with the thread count its nanny put in :data:`ITK_THREADS_ENV`."""
    threads = os.environ.get(ITK_THREADS_ENV, "")
    if threads.isdigit() and int(threads) > 0:
        configure_worker(int(threads))
