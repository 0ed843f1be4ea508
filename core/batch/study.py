"""One study of a batch: hash its inputs, read them through :mod:`core.io`, measure.

:func:`measure_manifest_row` is the one task both executors (local processes and Dask
workers) run: a function of its arguments and the files they name, which never raises
for a bad study; the outcome, with a one-sentence reason, is in :class:`BatchResult`.
:func:`extract_json` builds the ``core extract`` JSON, shared with ``python -m core
extract`` so that a batch writes the same JSON per study.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import core
from core.batch.manifest import BatchRow
from core.lesions import DetectionParams
from core.provenance import sha256_file

#: Outcomes of a study: measured; refused by label QA; could not be read or measured;
#: not attempted in this run (the run was interrupted; the next run measures it).
STATUSES: tuple[str, ...] = ("ok", "qc_error", "error", "skipped")
#: Columns of ``features.csv`` that identify what was measured (compared on resume).
HASH_COLUMNS: tuple[str, ...] = (
    "image_sha256", "vertebrae_sha256", "lesions_sha256", "convention", "parameters_sha256",
)
_DEFAULT_PARAMS = DetectionParams()


def parameters_sha256(params: DetectionParams = _DEFAULT_PARAMS) -> str:
    """SHA-256 of the detection parameters and the ``core`` version: a new release or
    other parameters measure every study again."""
    text = json.dumps({"detection": asdict(params), "core": core.__version__},
                      sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def input_hashes(row: BatchRow, params: DetectionParams = _DEFAULT_PARAMS) -> dict[str, str]:
    """The :data:`HASH_COLUMNS` of a row: content hashes of its files (``""`` for no
    lesion mask), its convention and :func:`parameters_sha256`."""
    return {
        "image_sha256": sha256_file(row.image),
        "vertebrae_sha256": sha256_file(row.vertebrae),
        "lesions_sha256": sha256_file(row.lesions) if row.lesions else "",
        "convention": row.convention,
        "parameters_sha256": parameters_sha256(params),
    }


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one manifest row.

    Attributes
    ----------
    row : int
        The manifest row number.
    patient_id, study_date : str
    status : str
        One of :data:`STATUSES`.
    error : str
        One plain sentence when ``status`` is not ``ok``, else ``""``.
    hashes : dict
        :data:`HASH_COLUMNS` -> value (empty when the files could not be hashed).
    imaging : dict
        The flat imaging columns (:data:`core.clinical.IMAGING_COLUMNS`) when ok.
    payload : dict or None
        The ``core extract`` JSON when ok.
    seconds : float
        Wall time of the task.
    """

    row: int
    patient_id: str
    study_date: str
    status: str
    error: str = ""
    hashes: dict[str, str] = field(default_factory=dict)
    imaging: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.patient_id, self.study_date)


def extract_json(study: Any, meta: Any, *, vertebrae: str | Path | None,
                 lesions: str | Path | None, engine: Mapping[str, Any] | None = None
                 ) -> dict[str, Any]:
    """The ``core extract`` JSON of a measured study.

    Parameters
    ----------
    study : core.measure.MeasuredStudy
        Measured (label QA passed).
    meta : core.io.ImageMeta
        The image's metadata, recorded as ``provenance.image``.
    vertebrae, lesions : path, optional
        The level map and lesion mask files; their content hashes are recorded as
        ``vertebrae_sha256`` / ``lesions_sha256`` (``None`` when not a single file).
    engine : mapping, optional
        Provenance of a segmentation engine that made the level map.
    """
    payload = study.payload()
    if payload is None:
        raise ValueError("The study was not measured (label QA refused it).")
    payload["provenance"]["image"] = meta.to_dict()
    for key, path in (("vertebrae_sha256", vertebrae), ("lesions_sha256", lesions)):
        is_file = bool(path) and Path(path).is_file()
        payload["provenance"][key] = sha256_file(path) if is_file else None
    if engine is not None:
        payload["provenance"]["segmentation_engine"] = dict(engine)
    return payload


def _sentence(exc: BaseException) -> str:
    """One plain sentence for a failure; never a path (OSError names its file)."""
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return f"A file could not be read ({reason})."
    if isinstance(exc, MemoryError):
        return "The study did not fit in memory."
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, ValueError) and text:
        return text
    return f"Measuring failed with {type(exc).__name__}" + (f": {text[:200]}" if text else ".")


def _measure(row: BatchRow, params: DetectionParams) -> tuple[str, str, dict[str, Any] | None]:
    """(status, error, payload) of a row whose files are hashed."""
    from core.io import read_image, read_label_map
    from core.level_qc import LabelQCError
    from core.measure import measure_study

    loaded = read_image(row.image)
    vertebrae = read_label_map(row.vertebrae)
    lesions = read_label_map(row.lesions) if row.lesions else None
    study = measure_study(loaded.image, vertebrae, lesions, convention=row.convention,
                          meta=loaded.meta, params=params,
                          input_sha256=loaded.meta.input_sha256)
    if not study.measured:
        return "qc_error", str(LabelQCError(study.qc)), None
    payload = extract_json(study, loaded.meta, vertebrae=row.vertebrae, lesions=row.lesions)
    return "ok", "", payload


def measure_manifest_row(row: BatchRow, params: DetectionParams = _DEFAULT_PARAMS
                         ) -> BatchResult:
    """Measure one manifest row: the task of both batch executors.

    Hashes the input files, reads them through :mod:`core.io` (its memory budget
    applies), runs :func:`core.measure.measure_study` (naming, label QA, measurement) and
    builds the ``core extract`` JSON. Never raises for a bad study: a level map that
    label QA refuses is ``qc_error`` with the first error's sentence, any other failure
    ``error`` with one sentence.
    """
    from core.metrics import imaging_summary

    start = time.perf_counter()
    ids = {"row": row.row, "patient_id": row.patient_id, "study_date": row.study_date}
    hashes: dict[str, str] = {}
    try:
        hashes = input_hashes(row, params)
        status, error, payload = _measure(row, params)
    except Exception as exc:  # one bad study never stops a batch
        return BatchResult(**ids, status="error", error=_sentence(exc), hashes=hashes,
                           seconds=time.perf_counter() - start)
    imaging = imaging_summary(payload).flat_columns() if payload is not None else {}
    return BatchResult(**ids, status=status, error=error, hashes=hashes, imaging=imaging,
                       payload=payload, seconds=time.perf_counter() - start)
