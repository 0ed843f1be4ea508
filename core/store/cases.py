"""Single studies: preparing and inserting a case, clinical edits, deletion, predictions.

The functions that take a ``Session`` run inside the caller's transaction and write
their audit entry into it, so a change and its audit entry commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.clinical import CLINICAL_COLUMNS, IMAGING_COLUMNS, SINS_COMPONENTS, validate_clinical
from core.store.audit import audit
from core.store.checks import finite, json_safe, short
from core.store.images import ImageFiles, study_refs
from core.store.metrics import flatten_metrics, level_rows, optional_float
from core.store.records import CaseInput
from core.store.rows import get_or_add_patient, get_study, row_dict, set_clinical
from core.store.schema import LevelFeature, Patient, PredictionRow, Study, StudyFeatures, utcnow
from core.store.scores import drop_for_studies


@dataclass
class PreparedCase:
    """A validated case whose image files are already written (``new_files`` are the
    ones to remove again when the transaction fails)."""

    row: dict[str, Any]
    metrics: dict[str, Any] | None
    levels: list[dict[str, Any]]
    image_ref: str | None
    image_sha256: str | None
    vertebrae_ref: str | None
    lesion_mask_ref: str | None
    image_meta: dict[str, Any] | None
    new_files: list[Path]


def stored_patient_fields(sessions: sessionmaker[Session], patient_id: object,
                          clinical: Mapping[str, object]) -> dict[str, object]:
    """``sex`` / ``primary_tumor`` of a stored patient where ``clinical`` leaves them
    out or blank."""
    blank = [k for k in ("sex", "primary_tumor")
             if clinical.get(k) is None or str(clinical.get(k)).strip() == ""]
    if not isinstance(patient_id, str) or not blank:
        return {}
    with sessions() as session:
        patient = session.scalar(select(Patient).where(Patient.patient_id == patient_id))
        if patient is None:
            return {}
        stored = {"sex": patient.sex, "primary_tumor": patient.primary_tumor}
        return {k: stored[k] for k in blank}


def prepare_case(case: CaseInput, files: ImageFiles) -> PreparedCase:
    """Validate ``case`` and write its image files (before any transaction opens)."""
    clinical = dict(case.clinical)
    unknown = [k for k in clinical if k not in CLINICAL_COLUMNS]
    if unknown:
        raise ValueError(
            f"clinical has unknown field(s) {', '.join(map(repr, unknown))}; expected "
            f"keys from {', '.join(CLINICAL_COLUMNS)}."
        )
    if case.metrics is not None and not isinstance(case.metrics, Mapping):
        raise ValueError("metrics must be a dict (StudyMetrics.to_dict()).")
    metrics = json_safe(dict(case.metrics), "metrics") if case.metrics else None
    record = {**clinical, **flatten_metrics(metrics), "patient_id": case.patient_id,
              "study_date": case.study_date, "synthetic": bool(case.synthetic)}
    row = validate_clinical(record)
    levels = level_rows(metrics)
    meta = (json_safe(dict(case.image_meta), "image_meta")
            if case.image_meta is not None else None)
    images = files.store_case(case)
    if images.geometry is not None:
        meta = {**images.geometry, **(meta or {})}
    return PreparedCase(row, metrics, levels, images.image_ref, images.image_sha256,
                        images.vertebrae_ref, images.lesion_mask_ref, meta, images.new_files)


def insert_case(session: Session, prepared: PreparedCase, *, source: str) -> Study:
    """Add a prepared case as a new study; an existing (patient, date) is an error."""
    row = prepared.row
    patient, created = get_or_add_patient(session, row, {})
    if not created:
        existing = session.scalar(select(Study.id).where(
            Study.patient_pk == patient.id, Study.study_date == row["study_date"]))
        if existing is not None:
            raise ValueError(
                f"patient {row['patient_id']} already has a study on "
                f"{row['study_date'].isoformat()} (study {existing}); edit that study."
            )
    meta = prepared.image_meta or {}
    spacing = meta.get("spacing_mm")
    study = Study(
        patient=patient,
        study_date=row["study_date"],
        source=source,
        image_ref=prepared.image_ref,
        image_sha256=prepared.image_sha256,
        vertebrae_ref=prepared.vertebrae_ref,
        lesion_mask_ref=prepared.lesion_mask_ref,
        modality=short(meta.get("modality"), 32),
        sequence=short(meta.get("sequence"), 64),
        spacing_mm=list(spacing) if isinstance(spacing, list | tuple) else None,
        image_meta=prepared.image_meta,
    )
    session.add(study)
    set_clinical(study, row)
    if prepared.metrics is not None:
        values = {c: row[c] for c in IMAGING_COLUMNS}
        study.features = StudyFeatures(
            **values,
            vertebra_volume_ml=optional_float(prepared.metrics, "vertebra_volume_ml"),
            high_intensity_volume_ml=optional_float(prepared.metrics,
                                                    "high_intensity_volume_ml"),
            source="extraction" if "levels" in prepared.metrics else "table",
            metrics=prepared.metrics,
        )
        study.levels = [LevelFeature(**lv) for lv in prepared.levels]
    session.flush()
    return study


#: ``score(session, study_id, row)`` (see :func:`core.store.scores.scorer`).
Score = Callable[[Session, int, Mapping[str, Any]], None]


def save_with_retry(write: Callable[[], AbstractContextManager[Session]],
                    prepared: PreparedCase, actor: str, score: Score | None) -> int:
    """:func:`save_prepared` (and ``score``) in one transaction of ``write()``.

    Two sessions saving the first studies of one new patient at once both find no
    patient; the second insert then breaks the unique patient id. The save is tried once
    more, now finding the patient (or a clean "already has a study" error).
    """
    for attempt in (1, 2):
        try:
            with write() as session:
                study_id = save_prepared(session, prepared, actor)
                if score is not None:
                    score(session, study_id, prepared.row)
                return study_id
        except IntegrityError:
            if attempt == 2:
                raise ValueError(
                    f"patient {prepared.row['patient_id']} on "
                    f"{prepared.row['study_date'].isoformat()} could not be saved: another "
                    "session changed the same patient at the same time; try again.") from None
    raise AssertionError("unreachable")  # pragma: no cover


def save_prepared(session: Session, prepared: PreparedCase, actor: str) -> int:
    """Insert a prepared case from the case form (source ``"case"``), audited ``save``."""
    study = insert_case(session, prepared, source="case")
    audit(session, actor, "save", f"study {study.id}", {
        "patient_id": prepared.row["patient_id"],
        "study_date": prepared.row["study_date"].isoformat(),
        "has_image": prepared.image_ref is not None,
    })
    return study.id


def check_clinical_keys(changes: Mapping[str, object]) -> None:
    """A ``ValueError`` naming the keys of ``changes`` that are not clinical columns."""
    unknown = [k for k in changes if k not in CLINICAL_COLUMNS]
    if unknown:
        raise ValueError(
            f"cannot edit {', '.join(map(repr, unknown))}; editable fields are "
            f"{', '.join(CLINICAL_COLUMNS)}."
        )


def update_clinical(session: Session, study_id: int, changes: Mapping[str, object],
                    actor: str, score: Score | None = None) -> dict[str, Any]:
    """Apply validated clinical ``changes`` to a study, audited ``edit`` with before/after,
    dropping its stale scores (and writing a new one with ``score``); returns the
    clinical values after the edit (see :meth:`CaseStore.update_clinical`)."""
    study = get_study(session, study_id)
    current = row_dict(study, study.patient, study.clinical, study.features)
    merged = {**current, **dict(changes)}
    if any(c in changes for c in SINS_COMPONENTS) and "sins_total" not in changes:
        merged["sins_total"] = None
    row = validate_clinical(merged)
    diff = {c: [current[c], row[c]] for c in CLINICAL_COLUMNS if current[c] != row[c]}
    if not diff:
        return {c: row[c] for c in CLINICAL_COLUMNS}
    if row["sex"] != current["sex"]:
        study.patient.sex = row["sex"]
    if row["primary_tumor"] != current["primary_tumor"]:
        study.patient.primary_tumor = row["primary_tumor"]
    set_clinical(study, row)
    study.updated_at = utcnow()
    session.flush()
    drop_for_studies(session, [study.id])
    if score is not None:
        score(session, study.id, row)
    audit(session, actor, "edit", f"study {study.id}", {
        "patient_id": study.patient.patient_id, "changes": diff,
    })
    return {c: row[c] for c in CLINICAL_COLUMNS}


def delete_study(session: Session, study_id: int, actor: str) -> set[str]:
    """Delete a study (and its patient when no study is left), audited ``delete``;
    returns the study's file references, for removal after the commit."""
    study = get_study(session, study_id)
    patient = study.patient
    details = {"patient_id": patient.patient_id,
               "study_date": study.study_date.isoformat()}
    refs = study_refs([study])
    session.delete(study)
    session.flush()
    remaining = session.scalar(
        select(func.count()).select_from(Study).where(Study.patient_pk == patient.id)
    )
    if not remaining:
        session.delete(patient)
        details["patient_deleted"] = True
    audit(session, actor, "delete", f"study {study_id}", details)
    return refs


def validated_prediction(prediction: Mapping[str, object],
                         model_version: str) -> dict[str, Any]:
    """The columns of a ``predictions`` row from a prediction dict (see
    :meth:`CaseStore.record_prediction`); a ``ValueError`` names the first bad value."""
    if not isinstance(prediction, Mapping):
        raise ValueError("prediction must be a dict.")
    category = prediction.get("category")
    if not isinstance(category, str) or not category or len(category) > 32:
        raise ValueError(f"prediction category {category!r} is not a short text.")
    probabilities = prediction.get("probabilities")
    if not isinstance(probabilities, Mapping) or not probabilities:
        raise ValueError("prediction probabilities must be a non-empty dict.")
    probs = {}
    for key, value in probabilities.items():
        number = finite(value, f"probability of {key!r}")
        if not 0 <= number <= 1:
            raise ValueError(f"probability of {key!r} = {number!r} is not in [0, 1].")
        probs[str(key)] = number
    tier = prediction.get("tier")
    if isinstance(tier, Mapping):
        tier = tier.get("tier")
    if tier is not None and (not isinstance(tier, str) or len(tier) > 16):
        raise ValueError(f"prediction tier {tier!r} is not a short text.")
    expected = prediction.get("expected_vas")
    expected = None if expected is None else finite(expected, "expected_vas")
    if not isinstance(model_version, str) or not model_version or len(model_version) > 128:
        raise ValueError(f"model_version {model_version!r} is not a short text.")
    payload = json_safe(dict(prediction), "prediction")
    return {"model_version": model_version, "category": category, "tier": tier,
            "probabilities": probs, "expected_vas": expected, "payload": payload}


def add_prediction(session: Session, study_id: int, values: Mapping[str, Any],
                   actor: str) -> int:
    """Add a validated prediction to a study, audited ``predict``; returns its id."""
    study = get_study(session, study_id)
    row = PredictionRow(study_id=study.id, actor=actor, **values)
    session.add(row)
    session.flush()
    audit(session, actor, "predict", f"study {study.id}", {
        "prediction_id": row.id, "model_version": values["model_version"],
        "category": values["category"], "tier": values["tier"],
    })
    return row.id
