"""One case through the pages: its assessment (:func:`core.assess.assess`), recording the
prediction and saving a new case with its de-identified images."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.assess import Assessment, assess, merge_case
from core.clinical import CLINICAL_COLUMNS, IMAGING_COLUMNS
from core.store import CaseStore
from ui import session
from ui.cache import get_store
from ui.forms import UNSAVED_ID
from ui.measure import MeasuredCase

__all__ = ["Assessment", "assess", "merge_case", "record_prediction", "save_new_case"]


def record_prediction(store: CaseStore, study_id: int, assessment: Assessment) -> None:
    """Record an assessment's prediction and tier for a stored study (audit: predict)."""
    store.record_prediction(study_id, {**assessment.prediction.to_dict(),
                                       "tier": assessment.tier.to_dict()},
                            assessment.model_version, session.actor())


def _imaging(clinical: Mapping[str, Any], measured: MeasuredCase | None
             ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The metrics to store and the image arguments of ``CaseStore.save_case``: the
    measured extract JSON with its images, else the clinical record's own imaging
    columns (a table row), else nothing."""
    images: dict[str, Any] = {}
    if measured is not None:
        images = {"image": measured.image, "image_meta": measured.stored_meta(),
                  "vertebrae": measured.vertebrae, "lesion_mask": measured.lesion_mask}
        if measured.metrics is not None:
            return measured.stored_metrics(), images
    flat = {k: clinical.get(k) for k in IMAGING_COLUMNS}
    return (flat if any(v is not None for v in flat.values()) else None), images


def save_new_case(clinical: Mapping[str, Any], measured: MeasuredCase | None,
                  assessment: Assessment, *, synthetic: bool) -> int:
    """Save a new study (de-identified image copy, metrics with their label QA, clinical
    values), its prediction and the level corrections made before saving (audit
    ``correct-levels``, target the study); returns the study id. Raises ``ValueError``
    with one sentence."""
    patient_id = str(clinical.get("patient_id") or "").strip()
    if not patient_id or patient_id == UNSAVED_ID:
        raise ValueError("Enter a pseudonymous patient ID in the clinical form before saving.")
    metrics, images = _imaging(clinical, measured)
    store = get_store()
    study_id = store.save_case(patient_id, clinical["study_date"],
                               clinical={k: clinical.get(k) for k in CLINICAL_COLUMNS},
                               metrics=metrics, synthetic=bool(synthetic),
                               actor=session.actor(), **images)
    record_prediction(store, study_id, assessment)
    if measured is not None and measured.corrections:
        # The level corrections made on the draft before saving, recorded with the study.
        store.record_level_corrections(measured.corrections, actor=session.actor(),
                                       study_id=study_id, draft_id=measured.draft_id)
    return study_id
