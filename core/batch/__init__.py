"""Batch extraction: measure many archived studies into one ``features.csv``.

``python -m core batch MANIFEST.csv --out features.csv [--db URL] [--workers N]
[--dask SCHEDULER] [--json-dir DIR]`` runs :func:`run_batch`.

Modules: :mod:`~core.batch.manifest` (the manifest CSV, validated once:
:class:`BatchRow`, :func:`read_manifest`, :class:`ManifestError`),
:mod:`~core.batch.study` (the one task both executors run,
:func:`measure_manifest_row` -> :class:`BatchResult`; input hashes; the ``core
extract`` JSON, :func:`extract_json`, shared with ``extract``),
:mod:`~core.batch.workers` (the worker processes: a warm forkserver started early,
SimpleITK threads per worker), :mod:`~core.batch.executors` (local processes, Dask),
:mod:`~core.batch.output` (``features.csv`` written atomically,
:data:`FEATURE_COLUMNS`; JSON per study) and :mod:`~core.batch.run` (resume, progress,
the store import).

The names below are loaded on first use (PEP 562), so that ``python -m core batch`` can
import :mod:`core.batch.workers` and start the worker processes' imports before it
imports anything heavy itself.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.batch.executors import cpu_count, dask_results, local_cluster, local_results
    from core.batch.manifest import MANIFEST_COLUMNS, BatchRow, ManifestError, read_manifest
    from core.batch.output import FEATURE_COLUMNS, json_path, read_previous
    from core.batch.run import BatchProgress, BatchSummary, run_batch, split_done
    from core.batch.study import (
        HASH_COLUMNS,
        STATUSES,
        BatchResult,
        extract_json,
        input_hashes,
        measure_manifest_row,
        parameters_sha256,
    )

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("cpu_count", "dask_results", "local_cluster", "local_results"),
                    "core.batch.executors"),
    **dict.fromkeys(("MANIFEST_COLUMNS", "BatchRow", "ManifestError", "read_manifest"),
                    "core.batch.manifest"),
    **dict.fromkeys(("FEATURE_COLUMNS", "json_path", "read_previous"), "core.batch.output"),
    **dict.fromkeys(("BatchProgress", "BatchSummary", "run_batch", "split_done"),
                    "core.batch.run"),
    **dict.fromkeys(("HASH_COLUMNS", "STATUSES", "BatchResult", "extract_json",
                     "input_hashes", "measure_manifest_row", "parameters_sha256"),
                    "core.batch.study"),
}

__all__ = [
    "FEATURE_COLUMNS",
    "HASH_COLUMNS",
    "MANIFEST_COLUMNS",
    "STATUSES",
    "BatchProgress",
    "BatchResult",
    "BatchRow",
    "BatchSummary",
    "ManifestError",
    "cpu_count",
    "dask_results",
    "extract_json",
    "input_hashes",
    "json_path",
    "local_cluster",
    "local_results",
    "measure_manifest_row",
    "parameters_sha256",
    "read_manifest",
    "read_previous",
    "run_batch",
    "split_done",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'core.batch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
