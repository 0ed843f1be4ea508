"""What a batch writes: ``features.csv`` (atomically, again and again) and one JSON per study.

``features.csv`` has one row per study: :data:`FEATURE_COLUMNS` (the ids, the flat
imaging columns of ``import-cohort``, ``status``, ``error`` and the input hashes used to
resume). It is always replaced whole (a temporary file in the same folder, fsync, then
``os.replace``), so a reader or a killed run never sees half a file; the batch rewrites
it at most every few seconds while it runs, so a killed run resumes from the last
write. Cells go through :func:`core.clinical.export_csv` (spreadsheet-safe).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from core.batch.study import HASH_COLUMNS, STATUSES, BatchResult
from core.clinical import IMAGING_COLUMNS, export_csv

#: Columns of ``features.csv``, in order.
FEATURE_COLUMNS: tuple[str, ...] = (
    "patient_id", "study_date", *IMAGING_COLUMNS, "status", "error", *HASH_COLUMNS,
)
_REQUIRED = ("patient_id", "study_date", "status", *HASH_COLUMNS)


def result_cells(result: BatchResult) -> dict[str, object]:
    """A result as one ``features.csv`` row (column -> value)."""
    cells: dict[str, object] = {c: None for c in FEATURE_COLUMNS}
    cells.update(patient_id=result.patient_id, study_date=result.study_date,
                 status=result.status, error=result.error)
    cells.update({c: result.imaging.get(c) for c in IMAGING_COLUMNS})
    cells.update({c: result.hashes.get(c, "") for c in HASH_COLUMNS})
    return cells


def check_outputs(out: Path, json_dir: Path | None) -> None:
    """Refuse output paths that cannot be written, before any work starts."""
    if out.is_dir():
        raise ValueError("--out is a folder; give a file path such as features.csv.")
    _writable_folder(out.parent if str(out.parent) else Path("."), "the folder of --out")
    if out.exists() and not out.is_file():
        raise ValueError("--out exists and is not a regular file.")
    if json_dir is None:
        return
    if json_dir.exists():
        if not json_dir.is_dir():
            raise ValueError("--json-dir exists and is not a folder.")
        _writable_folder(json_dir, "--json-dir")
    else:
        _writable_folder(json_dir.parent, "the folder of --json-dir")


def _writable_folder(folder: Path, what: str) -> None:
    if not folder.is_dir():
        raise ValueError(f"{what} does not exist.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what} is not writable.")


def read_previous(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    """The rows of an existing ``features.csv`` by ``(patient_id, study_date)`` (cells
    as text); empty when ``out`` does not exist.

    Raises
    ------
    ValueError
        When ``out`` exists but is not a features file of a batch (it would be
        overwritten).
    """
    if not out.exists():
        return {}
    try:
        text = out.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        raise ValueError("--out exists but cannot be read as UTF-8 text; move it away "
                         "or give another path.") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = reader.fieldnames or []
    if not text.strip():
        return {}
    if any(c not in fields for c in _REQUIRED):
        raise ValueError("--out exists and is not a batch features file (its columns "
                         "differ); move it away or give another path.")
    return {(r["patient_id"], r["study_date"]): r for r in reader
            if r.get("patient_id") and r.get("status") in STATUSES}


def write_features(out: Path, rows: Iterable[Mapping[str, object]]) -> None:
    """Replace ``out`` with ``rows`` (column -> value) atomically."""
    frame = pd.DataFrame(list(rows), columns=list(FEATURE_COLUMNS), dtype=object)
    write_atomic(out, export_csv(frame))


def json_path(json_dir: Path, patient_id: str, study_date: str) -> Path:
    """Where a study's ``core extract`` JSON goes: ``<patient_id>_<study_date>.json``."""
    return json_dir / f"{patient_id}_{study_date}.json"


def write_json(json_dir: Path, result: BatchResult) -> None:
    """Write a measured study's JSON (as ``core extract --out`` writes it), atomically."""
    text = json.dumps(result.payload, indent=2, sort_keys=False, allow_nan=False) + "\n"
    write_atomic(json_path(json_dir, result.patient_id, result.study_date),
                 text.encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over
    ``path`` (a reader sees the old or the new file, never a part)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
