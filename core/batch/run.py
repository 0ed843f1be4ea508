"""A whole batch: validate, resume, measure on an executor, write, import.

:func:`run_batch` is ``python -m core batch``: the manifest and the output paths are
checked before any work; studies already ``ok`` in an existing ``features.csv`` with the
same input hashes (and, with a JSON folder, their JSON present) are kept, not measured
again; the others are measured on local processes or a Dask cluster, and
``features.csv`` is rewritten atomically as results arrive (every ``flush_every_s``
seconds, less often for a table so large that writing it would take more than about 5 %
of the time, and at the end), so a killed run resumes where its last write left it. An
interrupted run (Ctrl-C) writes the studies it did not reach as ``skipped``; any other
failure (a full disk, a lost scheduler) writes what was measured before it.
With a database URL the ``ok`` rows are imported in one transaction at the end
(:meth:`core.store.CaseStore.import_imaging`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from core.batch.executors import cpu_count, dask_results, local_results
from core.batch.manifest import BatchRow, read_manifest
from core.batch.output import (
    FEATURE_COLUMNS,
    check_outputs,
    json_path,
    read_previous,
    result_cells,
    write_features,
    write_json,
)
from core.batch.study import HASH_COLUMNS, STATUSES, BatchResult, input_hashes
from core.clinical import IMAGING_COLUMNS
from core.lesions import DetectionParams

MAX_WORKERS = 256
#: While measuring, ``features.csv`` is rewritten no sooner than this many times the
#: duration of its last write (so writing takes at most ~5 % of the parent's time).
WRITE_COST_FACTOR = 20.0
_DEFAULT_PARAMS = DetectionParams()
_INTERRUPTED = "The run was interrupted before this study was measured; run it again."


class BatchProgress(Protocol):
    """What :func:`run_batch` reports while it runs (the CLI draws a progress bar)."""

    def start(self, total: int, resumed: int) -> None:
        """``total`` studies will be measured; ``resumed`` are kept from ``--out``."""

    def update(self, result: BatchResult) -> None:
        """One study finished."""


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did: ``rows`` in the manifest, ``resumed`` (kept from an earlier
    run), ``measured`` in this run, ``counts`` per status in ``features.csv``,
    ``seconds`` and ``studies_per_s`` of the measuring, the ``executor``, and the
    database import's summary (``None`` without ``--db``)."""

    rows: int
    resumed: int
    measured: int
    counts: dict[str, int]
    seconds: float
    executor: str
    db: dict[str, object] | None = None

    @property
    def studies_per_s(self) -> float:
        return self.measured / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "resumed": self.resumed, "measured": self.measured,
                **self.counts, "seconds": round(self.seconds, 3),
                "studies_per_s": round(self.studies_per_s, 3), "executor": self.executor,
                "db": self.db}


def _workers(workers: int | None, dask: str | None) -> int:
    if workers is None:
        return cpu_count()
    if dask not in (None, "local"):
        raise ValueError("--workers applies to local processes and --dask local; a "
                         "running scheduler has its own workers.")
    if isinstance(workers, bool) or not isinstance(workers, int) or not (
            1 <= workers <= MAX_WORKERS):
        raise ValueError(f"--workers {workers!r} must be a whole number from 1 to "
                         f"{MAX_WORKERS}.")
    return workers


def _open_store(db: str | None):
    if not db:
        return None
    from core.store import CaseStore

    return CaseStore(db)


def _is_done(row: BatchRow, old: Mapping[str, str] | None, hashes: Mapping[str, str],
             json_dir: Path | None) -> bool:
    if old is None or old.get("status") != "ok":
        return False
    if any((old.get(c) or "") != hashes[c] for c in HASH_COLUMNS):
        return False
    return json_dir is None or json_path(json_dir, *row.key).is_file()


def split_done(rows: Sequence[BatchRow], previous: Mapping[tuple[str, str], Mapping[str, str]],
               params: DetectionParams, json_dir: Path | None
               ) -> tuple[list[BatchRow], list[BatchRow]]:
    """(rows already ok with the same input hashes, rows to measure). Only rows ``ok`` in
    ``previous`` are hashed (in threads: hashing releases the GIL)."""
    candidates = [r for r in rows if (previous.get(r.key) or {}).get("status") == "ok"]
    with ThreadPoolExecutor(max_workers=max(1, min(8, cpu_count()))) as pool:
        hashes = dict(zip([r.key for r in candidates],
                          pool.map(lambda r: input_hashes(r, params), candidates),
                          strict=True))
    done = [r for r in candidates
            if _is_done(r, previous.get(r.key), hashes[r.key], json_dir)]
    keys = {r.key for r in done}
    return done, [r for r in rows if r.key not in keys]


def _executor(todo: Sequence[BatchRow], *, workers: int, dask: str | None,
              params: DetectionParams) -> tuple[Iterator[BatchResult], str]:
    if not todo:
        return iter(()), "none"  # type: ignore[return-value]
    workers = min(workers, len(todo))  # no idle processes
    if dask is None:
        return (local_results(todo, workers=workers, params=params),
                f"local processes ({workers})")
    label = (f"dask LocalCluster ({workers} workers)" if dask == "local"
             else "dask scheduler")
    return dask_results(todo, scheduler=dask, workers=workers, params=params), label


class _Table:
    """The rows of ``features.csv`` in manifest order, written atomically when due.

    Each write rewrites the whole table (0.3 CPU seconds at 5,000 rows), so while
    measuring it is due after ``flush_every_s`` seconds and, for a large table, no
    sooner than :data:`WRITE_COST_FACTOR` times as long as the last write took: the
    parent, which shares the cores with the workers, spends at most about 5 % of its
    time writing. ``flush_every_s=0`` writes after every study.
    """

    def __init__(self, out: Path, rows: Sequence[BatchRow], flush_every_s: float) -> None:
        self.out, self.rows, self.flush_every_s = out, rows, flush_every_s
        self.cells: dict[tuple[str, str], Mapping[str, object]] = {}
        self._written = time.monotonic()
        self._write_s = 0.0

    def write(self) -> None:
        start = time.monotonic()
        write_features(self.out, [self.cells[r.key] for r in self.rows if r.key in self.cells])
        self._written = time.monotonic()
        self._write_s = self._written - start

    def maybe_write(self) -> None:
        elapsed = time.monotonic() - self._written
        if elapsed >= self.flush_every_s and (
                self.flush_every_s == 0 or elapsed >= WRITE_COST_FACTOR * self._write_s):
            self.write()

    def mark_skipped(self) -> None:
        for row in self.rows:
            if row.key not in self.cells:
                self.cells[row.key] = result_cells(BatchResult(
                    row=row.row, patient_id=row.patient_id, study_date=row.study_date,
                    status="skipped", error=_INTERRUPTED))

    def ok_frame(self) -> pd.DataFrame:
        ok = [c for c in self.cells.values() if c.get("status") == "ok"]
        frame = pd.DataFrame(ok, columns=list(FEATURE_COLUMNS), dtype=object)
        frame = frame[["patient_id", "study_date", *IMAGING_COLUMNS]]
        for column in IMAGING_COLUMNS:
            frame[column] = pd.to_numeric(frame[column].map(lambda v: None if v == "" else v))
        return frame


def _record(table: _Table, result: BatchResult, json_dir: Path | None) -> None:
    table.cells[result.key] = result_cells(result)
    if json_dir is not None:
        if result.status == "ok":
            write_json(json_dir, result)
        else:  # a JSON left from an earlier run no longer describes these inputs
            json_path(json_dir, *result.key).unlink(missing_ok=True)
    table.maybe_write()


def run_batch(manifest: str | Path, out: str | Path, *, workers: int | None = None,
              dask: str | None = None, json_dir: str | Path | None = None,
              db: str | None = None, actor: str = "cli",
              params: DetectionParams = _DEFAULT_PARAMS,
              progress: BatchProgress | None = None,
              flush_every_s: float = 2.0) -> BatchSummary:
    """Measure every study of a manifest into ``features.csv`` (see the module docstring).

    Parameters
    ----------
    manifest : path
        The manifest CSV (:func:`core.batch.read_manifest`).
    out : path
        ``features.csv`` to write (an existing one is resumed).
    workers : int, optional
        Processes (local) or LocalCluster workers; default: the CPU count.
    dask : str, optional
        ``"local"`` or a scheduler address; default: local processes.
    json_dir : path, optional
        Folder for one ``core extract`` JSON per measured study (created if absent).
    db : str, optional
        SQLAlchemy URL of a case store to import the ``ok`` rows into.
    actor, params, progress, flush_every_s
        Audit actor; detection parameters; progress reporting; the shortest time between
        two writes of ``out`` while measuring (stretched for a large table, see
        ``_Table``; 0: after every study).

    Raises
    ------
    ValueError
        A bad manifest (:class:`~core.batch.ManifestError` lists every bad row), bad output
        paths or options, an unreachable scheduler, or a failed import (``out`` is
        written then). ``KeyboardInterrupt`` after writing ``out`` with ``skipped`` rows.
    """
    out = Path(out)
    folder = Path(json_dir) if json_dir is not None else None
    check_outputs(out, folder)
    rows = read_manifest(manifest)
    previous = read_previous(out)
    n_workers = _workers(workers, dask)
    store = _open_store(db)
    try:
        done, todo = split_done(rows, previous, params, folder)
        if folder is not None:
            folder.mkdir(exist_ok=True)
        table = _Table(out, rows, flush_every_s)
        table.cells.update({r.key: previous[r.key] for r in done})
        if progress is not None:
            progress.start(len(todo), len(done))
        start = time.perf_counter()
        results, label = _executor(todo, workers=n_workers, dask=dask, params=params)
        measured = 0
        try:
            for result in results:
                _record(table, result, folder)
                measured += 1
                if progress is not None:
                    progress.update(result)
        except BaseException as exc:  # keep what was measured, then stop
            close = getattr(results, "close", None)
            if close is not None:
                close()  # cancels the studies not started
            if isinstance(exc, KeyboardInterrupt):
                table.mark_skipped()
            if measured or isinstance(exc, KeyboardInterrupt):
                table.write()
            raise
        seconds = time.perf_counter() - start
        table.write()
        counts = {s: sum(c.get("status") == s for c in table.cells.values()) for s in STATUSES}
        imported = None
        if store is not None and counts["ok"]:
            imported = store.import_imaging(table.ok_frame(), source=Path(manifest).name,
                                            actor=actor)
        return BatchSummary(rows=len(rows), resumed=len(done), measured=len(todo),
                            counts=counts, seconds=seconds, executor=label, db=imported)
    finally:
        if store is not None:
            store.close()
