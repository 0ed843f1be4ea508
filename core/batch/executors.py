"""Where the studies of a batch are measured: local processes or a Dask cluster.

Both executors run the same task, :func:`core.batch.study.measure_manifest_row`, and
yield its :class:`~core.batch.study.BatchResult` as each study finishes (in completion
order). Both hand out the studies largest first (:func:`largest_first`, by input file
size), so a run does not end with one worker measuring a large study while the others
idle. Closing the generator (an interrupted run) cancels the studies not started.

* :func:`local_results`: a ``concurrent.futures.ProcessPoolExecutor`` of ``workers``
  processes forked from the batch's warm forkserver (:mod:`core.batch.workers`: the
  measurement code imported once, started early by ``python -m core batch``); workers
  ignore Ctrl-C (the parent stops the run) and SimpleITK uses ``cpus // workers``
  threads in each, so one worker still uses every core.
* :func:`dask_results`: a Dask distributed cluster: ``"local"`` starts a
  ``LocalCluster`` of ``workers`` single-threaded processes bound to 127.0.0.1 with no
  dashboard, forked from the same warm forkserver, closed at the end; any other value is
  the address of a running scheduler whose workers can import ``core`` and read the
  manifest's paths.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import suppress

from core.batch.manifest import BatchRow
from core.batch.study import BatchResult, measure_manifest_row
from core.batch.workers import (
    ITK_THREADS_ENV,
    clean_environ,
    cpu_count,
    forkserver_context,
    init_local_worker,
    itk_threads,
)
from core.lesions import DetectionParams

__all__ = ["ITK_THREADS_ENV", "LOCAL_CLUSTER_CONFIG", "SCHEDULER_TIMEOUT_S", "cpu_count",
           "dask_results", "itk_threads", "largest_first", "local_cluster", "local_results"]

#: Seconds to wait for a running Dask scheduler given by address.
SCHEDULER_TIMEOUT_S = 20.0
#: Dask settings of the command's own ``LocalCluster`` (set while it is built: its
#: scheduler, nannies and workers read them then; a scheduler given by address and the
#: process's global Dask configuration are left alone). Each one removes work that grows
#: with the number of workers and competes with the studies for the cores: an idle
#: 2-worker cluster used about 70 ms of CPU per second with Dask's defaults, 15 with these.
LOCAL_CLUSTER_CONFIG: dict[str, object] = {
    # the statistical profiler feeds only the dashboard (off here) and cost ~10 % of a
    # study's CPU time
    "distributed.worker.profile.enabled": False,
    # every server (the scheduler, each nanny, each worker) checks its event loop's
    # latency every 20 ms: 50 wake-ups a second each, only to log a blocked loop
    "distributed.admin.tick.interval": "1s",
    # host CPU / memory / network samples for the dashboard, twice a second per server
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.disk": False,
    # the studies are independent tasks handed out as workers free up (Dask's queuing
    # of root tasks); moving them between workers has nothing to balance
    "distributed.scheduler.work-stealing": False,
    # results are small and held once; nothing for the memory manager to replicate
    "distributed.scheduler.active-memory-manager.start": False,
    # each worker and each nanny polls the worker's memory 10 times a second; twice is
    # enough for pausing at 80 % / restarting at 95 % of a worker's memory limit
    "distributed.worker.memory.monitor-interval": "500ms",
}
_MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
_LOST = ("The worker measuring this study stopped ({}); run the batch again to retry.")


def _input_bytes(row: BatchRow) -> int:
    total = 0
    for path in (row.image, row.vertebrae, row.lesions):
        if path:
            # a file gone since the manifest was read counts 0; the study reports it
            with suppress(OSError):
                total += os.stat(path).st_size
    return total


def largest_first(rows: Sequence[BatchRow]) -> list[BatchRow]:
    """``rows`` by the size of their input files, largest first (manifest order among
    equals): the longest studies start first, so the run does not end with one worker
    measuring a large study while the others idle."""
    sizes = {id(row): _input_bytes(row) for row in rows}
    return sorted(rows, key=lambda row: -sizes[id(row)])


def _lost(row: BatchRow, reason: str) -> BatchResult:
    return BatchResult(row=row.row, patient_id=row.patient_id, study_date=row.study_date,
                       status="error", error=_LOST.format(reason))


def local_results(rows: Sequence[BatchRow], *, workers: int,
                  params: DetectionParams) -> Iterator[BatchResult]:
    """Measure ``rows`` in ``workers`` local processes, largest studies first; yield
    results as they finish."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=forkserver_context(),
                               initializer=init_local_worker,
                               initargs=(itk_threads(workers),))
    futures: dict[Future, BatchRow] = {}
    try:
        futures = {pool.submit(measure_manifest_row, row, params): row
                   for row in largest_first(rows)}
        for future in as_completed(futures):
            row = futures[future]
            error = future.exception()
            yield _lost(row, type(error).__name__) if error else future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def local_cluster(workers: int):
    """A Dask ``LocalCluster`` of ``workers`` single-threaded processes on 127.0.0.1,
    dashboard off.

    The worker processes fork from the batch's warm forkserver
    (:func:`core.batch.workers.forkserver_context`: the measurement code and
    ``distributed`` already imported) instead of each starting a fresh interpreter that
    imports them, and set SimpleITK's threads at start (the preload hook
    :func:`core.batch.workers.dask_setup`). They start without Dask's default
    ``MALLOC_TRIM_THRESHOLD_=65536`` (:func:`core.batch.workers.clean_environ`) and
    with :data:`LOCAL_CLUSTER_CONFIG` (no statistical profiler, fewer wake-ups of every
    server); Dask's global configuration is as it was when this returns.
    """
    import dask
    from distributed import LocalCluster

    forkserver_context(dask=True)
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != _MALLOC_TRIM}
    with clean_environ(), dask.config.set({
            **LOCAL_CLUSTER_CONFIG,
            "distributed.nanny.pre-spawn-environ": environ,
            "distributed.worker.multiprocessing-method": "forkserver"}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address=None,
                            # no dashboard; the scheduler's small HTTP server (health,
                            # metrics) on a free loopback port, not a fixed 8787
                            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                            silence_logs=logging.ERROR, preload=["core.batch.workers"],
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
    """Measure ``rows`` on a Dask cluster, largest studies first; yield results as they
    finish."""
    from distributed import as_completed as dask_completed

    rows = largest_first(rows)
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
