"""Where the studies of a batch are measured: local processes or a Dask cluster.

Both executors run the same task, :func:`core.batch.study.measure_manifest_row`, and
yield its :class:`~core.batch.study.BatchResult` as each study finishes (in completion
order). Closing the generator (an interrupted run) cancels the studies not started.

* :func:`local_results`: a ``concurrent.futures.ProcessPoolExecutor`` of ``workers``
  processes (``forkserver``: the server imports the measurement code once, workers fork
  from it); workers ignore Ctrl-C (the parent stops the run) and SimpleITK uses
  ``cpus // workers`` threads in each, so one worker still uses every core.
* :func:`dask_results`: a Dask distributed cluster: ``"local"`` starts a
  ``LocalCluster`` of ``workers`` single-threaded processes bound to 127.0.0.1 with no
  dashboard, closed at the end; any other value is the address of a running scheduler
  whose workers can import ``core`` and read the manifest's paths.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager

from core.batch.manifest import BatchRow
from core.batch.study import BatchResult, measure_manifest_row
from core.lesions import DetectionParams

#: Environment variable read by ITK (SimpleITK) for its default thread count.
ITK_THREADS_ENV = "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"
#: Seconds to wait for a running Dask scheduler given by address.
SCHEDULER_TIMEOUT_S = 20.0
_PRELOAD = ["core.batch.study", "core.io", "core.measure", "core.metrics"]
_MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
_LOST = ("The worker measuring this study stopped ({}); run the batch again to retry.")


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def itk_threads(workers: int) -> int:
    """SimpleITK threads per worker: the CPUs shared out, at least one."""
    return max(1, cpu_count() // max(1, workers))


def _init_worker(threads: int) -> None:
    """Process-pool worker start: ignore Ctrl-C, set SimpleITK's thread count."""
    import SimpleITK as sitk

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def _lost(row: BatchRow, reason: str) -> BatchResult:
    return BatchResult(row=row.row, patient_id=row.patient_id, study_date=row.study_date,
                       status="error", error=_LOST.format(reason))


def local_results(rows: Sequence[BatchRow], *, workers: int,
                  params: DetectionParams) -> Iterator[BatchResult]:
    """Measure ``rows`` in ``workers`` local processes; yield results as they finish."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_init_worker, initargs=(itk_threads(workers),))
    futures: dict[Future, BatchRow] = {}
    try:
        futures = {pool.submit(measure_manifest_row, row, params): row for row in rows}
        for future in as_completed(futures):
            row = futures[future]
            error = future.exception()
            yield _lost(row, type(error).__name__) if error else future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _spawn_environ() -> Iterator[None]:
    """Start worker processes without ``MALLOC_TRIM_THRESHOLD_`` even when this process
    has it (Dask writes its pre-spawn variables into the parent's environment), and
    leave this process's environment as it was."""
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


def local_cluster(workers: int):
    """A Dask ``LocalCluster`` of ``workers`` single-threaded processes on 127.0.0.1,
    dashboard off.

    The workers start without Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: it turns
    off glibc's adaptive mmap threshold, so every large temporary array of a measurement
    was mapped and page-faulted afresh (about 4x the page faults and 4x the system time
    of a local process per study). The BLAS/OpenMP thread variables stay at 1; the
    statistical profiler, which only feeds the dashboard, is off.
    """
    import dask
    from distributed import LocalCluster

    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != _MALLOC_TRIM}
    with _spawn_environ(), dask.config.set({
            "distributed.nanny.pre-spawn-environ": environ,
            # the statistical profiler feeds only the dashboard (off here) and cost
            # ~10 % of a study's CPU time
            "distributed.worker.profile.enabled": False}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address=None,
                            # no dashboard; the scheduler's small HTTP server (health,
                            # metrics) on a free loopback port, not a fixed 8787
                            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                            silence_logs=logging.ERROR,
                            env={ITK_THREADS_ENV: str(itk_threads(workers))})


def _client(scheduler: str, workers: int):
    """(client, cluster or None) for ``scheduler`` (``"local"`` or an address)."""
    from distributed import Client

    if scheduler == "local":
        cluster = local_cluster(workers)
        try:
            return Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S), None
    except (OSError, TimeoutError, ValueError):
        raise ValueError("Could not connect to the Dask scheduler given with --dask "
                         "(give tcp://HOST:PORT of a running scheduler, or local).") from None


def dask_results(rows: Sequence[BatchRow], *, scheduler: str, workers: int,
                 params: DetectionParams) -> Iterator[BatchResult]:
    """Measure ``rows`` on a Dask cluster; yield results as they finish."""
    from distributed import as_completed as dask_completed

    client, cluster = _client(scheduler, workers)
    futures = []
    try:
        futures = client.map(measure_manifest_row, list(rows), params=params, pure=False,
                             retries=0)
        by_key = {f.key: row for f, row in zip(futures, rows, strict=True)}
        for future in dask_completed(futures):
            row = by_key[future.key]
            if future.status == "finished":
                yield future.result()
            elif future.status == "error":
                yield _lost(row, type(future.exception()).__name__)
            else:
                yield _lost(row, future.status)
    finally:
        if futures:
            client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()
