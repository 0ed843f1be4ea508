"""Batch extraction: measure many archived studies into one ``features.csv``.

``python -m core batch MANIFEST.csv --out features.csv [--db URL] [--workers N]
[--dask SCHEDULER] [--json-dir DIR]`` runs :func:`run_batch`.

Modules: :mod:`~core.batch.manifest` (the manifest CSV, validated once:
:class:`BatchRow`, :func:`read_manifest`, :class:`ManifestError`),
:mod:`~core.batch.study` (the one task both executors run,
:func:`measure_manifest_row` -> :class:`BatchResult`; input hashes; the ``core
extract`` JSON, :func:`extract_json`, shared with ``extract``),
:mod:`~core.batch.executors` (local processes, Dask), :mod:`~core.batch.output`
(``features.csv`` written atomically, :data:`FEATURE_COLUMNS`; JSON per study) and
:mod:`~core.batch.run` (resume, progress, the store import).
"""

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
