"""What goes into the store for one study (:class:`CaseInput`) and what comes out
(:class:`StudyRecord`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import SimpleITK as sitk

#: An image given to the store: in memory, file content, or a file path.
ImageSource = sitk.Image | bytes | str | Path


@dataclass(frozen=True)
class CaseInput:
    """Everything :meth:`CaseStore.save_case` stores for one study (see there)."""

    patient_id: str
    study_date: dt.date | str
    clinical: Mapping[str, object]
    metrics: Mapping[str, object] | None = None
    image: ImageSource | None = None
    image_filename: str | None = None
    image_meta: Mapping[str, object] | None = None
    vertebrae: ImageSource | None = None
    lesion_mask: ImageSource | None = None
    synthetic: bool = False


@dataclass(frozen=True)
class StudyRecord:
    """One stored study.

    Attributes
    ----------
    study_id, patient_id, study_date, synthetic
    clinical : dict
        :data:`core.clinical.CLINICAL_COLUMNS` -> value (``None`` when missing).
    imaging : dict
        :data:`core.clinical.IMAGING_COLUMNS` -> value (``None`` when missing).
    metrics : dict
        What was saved: the ``core extract`` JSON for an extraction, else ``imaging``.
    levels : tuple of dict
        Per-level rows (level, region, volumes, ratio, lesion_count), craniocaudal.
    image_path, vertebrae_path, lesion_mask_path : Path or None
        De-identified NIfTI files in the data directory.
    image_sha256 : str or None
        SHA-256 of the stored image file.
    image_meta : dict
    predictions : tuple of dict
        Oldest first: id, model_version, category, tier, probabilities, expected_vas,
        created_at, actor.
    source : str
        File name of the import, ``"case"`` or ``"demo"``.
    """

    study_id: int
    patient_id: str
    study_date: dt.date
    synthetic: bool
    clinical: dict[str, Any]
    imaging: dict[str, Any]
    metrics: dict[str, Any]
    levels: tuple[dict[str, Any], ...] = ()
    image_path: Path | None = None
    vertebrae_path: Path | None = None
    lesion_mask_path: Path | None = None
    image_sha256: str | None = None
    image_meta: dict[str, Any] = field(default_factory=dict)
    predictions: tuple[dict[str, Any], ...] = ()
    source: str = ""

    def case(self) -> dict[str, Any]:
        """Imaging values merged with clinical fields: input of
        :func:`core.features.features_from_case`."""
        return {**self.imaging, **self.clinical}

