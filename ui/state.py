"""Store and model access, caching and the case pipeline for the pages.

Caching lives in ``ui/`` only (here and in :mod:`ui.reporting`): loaded models and the
store are ``st.cache_resource`` (one per model folder and file times / database URL);
image reading and extraction results are ``st.cache_data`` keyed on the SHA-256 of the
input bytes (the bytes and images themselves are not hashed again: their argument names
start with ``_``); views of the store are keyed on its row counts and the model version.

Uploads never touch the disk here: bytes go straight to :mod:`core.io`, which uses a
private temporary folder; the only persistent copy of an image is the de-identified
NIfTI that :meth:`core.store.CaseStore.save_case` writes.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
import streamlit as st

from core.features import REGIONS, FeatureVector, features_from_case
from core.provenance import sha256_bytes

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "models"
DEFAULT_MODEL = MODELS_DIR / "demo"

ACTIVE_MODEL_KEY = "active_model_dir"
ACTOR_KEY = "audit_actor"
DEFAULT_ACTOR = "dashboard"


# ----------------------------------------------------------------------------- store


@st.cache_resource(show_spinner=False)
def _store(url: str | None, data_dir: str | None):
    from core.store import CaseStore

    return CaseStore(url, data_dir=data_dir)


def get_store():
    """The case store (``SPINEPAIN_DB_URL`` / ``SPINEPAIN_DATA_DIR``), one per URL."""
    url = os.environ.get("SPINEPAIN_DB_URL", "").strip() or None
    data_dir = os.environ.get("SPINEPAIN_DATA_DIR", "").strip() or None
    return _store(url, data_dir)


def store_version() -> tuple[tuple[str, int], ...]:
    """Cheap fingerprint of the store's content (row counts of every table): cached
    views of the store are recomputed when a case, prediction or edit is added."""
    return tuple(sorted(get_store().counts().items()))


def actor() -> str:
    """Name recorded in the audit log for writes from this session."""
    return str(st.session_state.get(ACTOR_KEY) or DEFAULT_ACTOR)


# ------------------------------------------------------------------ page switches

#: ``persist_state`` of the widgets whose values must survive a visit to another page
#: (tumor board filters and presented case, what-if inputs, New case form and viewer,
#: cohort filters, report study). Without it Streamlit dropped them on a page switch:
#: the board fell back to its first case, the what-if lost its starting case and the
#: New case form emptied while its old prediction stayed on screen.
KEEP = "session"


def default_widget(name: str, value: Any) -> None:
    """Initial value of a widget set through the session (instead of ``value=``)."""
    if name not in st.session_state:
        st.session_state[name] = value


def default_date_range(name: str, full: tuple[dt.date, dt.date]) -> None:
    """A date-range widget starts on ``full``; it follows the data (e.g. a case saved
    today) while the user has not narrowed it."""
    ss = st.session_state
    seen_key = f"{name}_full_range"
    current = ss.get(name)
    previous = ss.get(seen_key)
    if current is None or (previous is not None and tuple(current) == tuple(previous)):
        ss[name] = full
    ss[seen_key] = full


# ----------------------------------------------------------------------------- models


def available_models() -> list[Path]:
    """Model folders under ``models/`` that hold a model card, demo first."""
    if not MODELS_DIR.is_dir():
        return []
    found = sorted(p for p in MODELS_DIR.iterdir() if (p / "model_card.json").is_file())
    return sorted(found, key=lambda p: (p.name != "demo", p.name))


def active_model_dir() -> Path:
    """The model this session uses (chosen on the Model page; default ``models/demo``)."""
    chosen = st.session_state.get(ACTIVE_MODEL_KEY)
    if chosen and (Path(chosen) / "model_card.json").is_file():
        return Path(chosen)
    return DEFAULT_MODEL


def set_active_model(path: str | Path) -> None:
    """Use the model in ``path`` for this session."""
    st.session_state[ACTIVE_MODEL_KEY] = str(Path(path))


def _mtimes(folder: Path) -> tuple[int, ...]:
    return tuple(f.stat().st_mtime_ns for f in sorted(folder.glob("*")) if f.is_file())


@st.cache_resource(show_spinner=False, max_entries=8)
def _model(path: str, mtimes: tuple[int, ...]):
    from core.model import load_model

    return load_model(path)


def get_model(path: str | Path | None = None):
    """The loaded model (``core.model.TrainedModel``); cached per folder and file times.

    Raises ``ValueError`` / ``FileNotFoundError`` from :func:`core.model.load_model`.
    """
    folder = Path(path) if path is not None else active_model_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder.name} does not exist; run `make train`.")
    return _model(str(folder.resolve()), _mtimes(folder))


# ----------------------------------------------------------------------- predictions


@dataclass(frozen=True)
class CaseResult:
    """Prediction, explanation and tier of one case (all as ``to_dict()`` dicts)."""

    features: dict[str, float | None]
    prediction: dict[str, Any]
    explanation: dict[str, Any]
    tier: dict[str, Any]


def evaluate_features(model, features: FeatureVector,
                      case: Mapping[str, Any] | None = None) -> CaseResult:
    """Predict, explain and tier a feature vector (``None`` = missing, imputed) through
    :func:`core.assess.assess`. The tier reads the *recorded* values: a missing SINS,
    Bilsky grade or deficit is reported, never imputed. ``case`` is accepted for symmetry
    with :func:`evaluate_case` and not otherwise used.

    Raises
    ------
    ValueError
        For an out-of-range value (from core).
    """
    from core.assess import assess

    result = assess(model, features)
    return CaseResult(result.features.to_dict(), result.prediction.to_dict(),
                      result.explanation.to_dict(), result.tier.to_dict())


def evaluate_case(model, case: Mapping[str, Any]) -> CaseResult:
    """Features from a case (``core extract`` JSON and/or flat columns + clinical)."""
    return evaluate_features(model, features_from_case(case), case)


def region_of_involvement(row: Mapping[str, Any]) -> str:
    """``cervical`` / ``thoracic`` / ``lumbar`` / ``sacral`` when lesions are in one
    region only, ``multiple`` when in several, ``none`` without lesions, ``unknown``
    when the regional counts are missing."""
    counts = []
    for region in REGIONS:
        value = row.get(f"lesion_count_{region}")
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return "unknown"
        if math.isnan(number):
            return "unknown"
        counts.append((region, number))
    involved = [r for r, n in counts if n > 0]
    if not involved:
        return "none"
    return involved[0] if len(involved) == 1 else "multiple"


@st.cache_data(show_spinner=False, max_entries=4)
def _scored(store_key: tuple, model_dir: str, model_version: str) -> pd.DataFrame:
    frame = get_store().list_studies()
    model = get_model(model_dir)
    from core.model import predict
    from core.tiers import decide_tier

    categories, tiers, urgencies, expected = [], [], [], []
    probs: dict[str, list[float]] = {}
    for record in frame.to_dict(orient="records"):
        try:
            feats = features_from_case(record)
            pred = predict(model, feats)
            decision = decide_tier(pred.category, feats)
        except ValueError:
            categories.append(None)
            tiers.append(None)
            urgencies.append(None)
            expected.append(np.nan)
            for key in probs:
                probs[key].append(np.nan)
            continue
        categories.append(pred.category)
        tiers.append(decision.tier)
        urgencies.append(decision.urgency)
        expected.append(pred.expected_vas)
        for key, value in pred.probabilities.items():
            probs.setdefault(key, [np.nan] * (len(categories) - 1)).append(value)
    out = frame.copy()
    out["category"] = categories
    out["tier"] = tiers
    out["urgency"] = urgencies
    out["expected_vas"] = expected
    for key, values in probs.items():
        out[f"p_{key}"] = values
    out["region_of_involvement"] = [region_of_involvement(r)
                                    for r in frame.to_dict(orient="records")]
    return out


def scored_studies() -> pd.DataFrame:
    """Every stored study with the *active* model's prediction: ``category``, ``tier``,
    ``urgency``, ``expected_vas``, ``p_<category>`` and ``region_of_involvement``
    (cached per store content and model)."""
    model = get_model()
    return _scored(store_version(), str(active_model_dir().resolve()), model.version)


# ------------------------------------------------------------------------ images


@dataclass(frozen=True)
class Source:
    """An input file: uploaded bytes or a bundled path, with its cache key."""

    name: str
    key: str
    data: bytes | None = None
    path: str | None = None

    @staticmethod
    def from_bytes(name: str, data: bytes) -> Source:
        return Source(name=name, key=sha256_bytes(data), data=data)

    @staticmethod
    def from_path(path: str | Path) -> Source:
        p = Path(path)
        stat = p.stat()
        return Source(name=p.name, key=f"path:{p.resolve()}:{stat.st_size}:{stat.st_mtime_ns}",
                      path=str(p))

    def arg(self) -> bytes | str:
        return self.data if self.data is not None else str(self.path)


@st.cache_data(show_spinner=False, max_entries=3)
def _read_image(key: str, name: str, series_uid: str | None, _source: bytes | str):
    from core.io import read_image

    return read_image(_source, name, series_uid=series_uid)


def read_image(source: Source, series_uid: str | None = None):
    """``core.io.read_image`` cached on the input hash (``LoadedImage``)."""
    return _read_image(source.key, source.name, series_uid, source.arg())


@st.cache_data(show_spinner=False, max_entries=6)
def _list_series(key: str, name: str, _source: bytes | str) -> list[dict[str, Any]]:
    from core.io import list_dicom_series

    return [s.to_dict() for s in list_dicom_series(_source, name)]


def is_dicom_archive(name: str) -> bool:
    """Zip or single DICOM file names (series can be chosen)."""
    lower = name.lower()
    return lower.endswith((".zip", ".dcm"))


def list_series(source: Source) -> list[dict[str, Any]]:
    """DICOM series in a zip (``DicomSeriesInfo.to_dict()``), cached on the hash."""
    return _list_series(source.key, source.name, source.arg())


@st.cache_data(show_spinner=False, max_entries=6)
def _read_labels(key: str, name: str, reference_key: str, _source: bytes | str,
                 _reference: sitk.Image):
    from core.io import read_label_map

    return read_label_map(_source, name, reference=_reference)


def read_labels(source: Source, reference_key: str, reference: sitk.Image) -> sitk.Image:
    """``core.io.read_label_map`` aligned to the image, cached on both hashes."""
    return _read_labels(source.key, source.name, reference_key, source.arg(), reference)


@st.cache_data(show_spinner=False, max_entries=3)
def _extract(image_key: str, vert_key: str, lesion_key: str | None, convention: str,
             _image: sitk.Image, _vertebrae: sitk.Image, _lesions: sitk.Image | None,
             input_sha256: str):
    from core.lesions import extract

    return extract(_image, _vertebrae, _lesions, convention=convention,
                   input_sha256=input_sha256)


@dataclass
class MeasuredCase:
    """A read (and, with a label map, measured) image ready for the viewer and the store."""

    image_id: str
    image: sitk.Image
    meta: dict[str, Any]
    volume: np.ndarray
    spacing_xyz: tuple[float, float, float]
    vertebrae: sitk.Image | None = None
    lesion_mask: sitk.Image | None = None
    vertebrae_array: np.ndarray | None = None
    lesion_array: np.ndarray | None = None
    level_names: dict[int, str] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    convention: str | None = None
    source_name: str = ""
    synthetic: bool = False


def level_names_for(labels: np.ndarray, convention: str | None) -> dict[int, str]:
    """Label value -> level name for the viewer (numbers when the convention is unknown)."""
    values = [int(v) for v in np.unique(labels) if v != 0]
    if not convention:
        return {v: str(v) for v in values}
    from core.levels import map_labels

    try:
        levels = map_labels(values, convention)
    except ValueError:
        return {v: str(v) for v in values}
    return {v: (levels[v].name if v in levels else str(v)) for v in values}


def measure(image_src: Source, *, series_uid: str | None = None,
            vertebrae_src: Source | None = None, lesion_src: Source | None = None,
            convention: str = "verse", status=None) -> MeasuredCase:
    """Read the image (and label maps) and measure lesions per level.

    ``status`` is an ``st.status`` container that receives one line per step.
    Raises ``ValueError`` (one sentence) from core.
    """
    def say(text: str) -> None:
        if status is not None:
            status.write(text)
            status.update(label=text)

    say("Reading the image…")
    loaded = read_image(image_src, series_uid)
    image = loaded.image
    meta = loaded.meta.to_dict()
    image_key = f"{image_src.key}:{series_uid or ''}"
    volume = sitk.GetArrayFromImage(image)
    case = MeasuredCase(image_id=image_key, image=image, meta=meta, volume=volume,
                        spacing_xyz=tuple(float(s) for s in image.GetSpacing()),
                        source_name=image_src.name)
    say(f"Image read: {meta['size'][0]}×{meta['size'][1]}×{meta['size'][2]} voxels, "
        f"spacing {' × '.join(f'{s:.2f}' for s in meta['spacing_mm'])} mm, "
        f"input orientation {meta['orientation']}, sequence {meta['sequence']}.")
    lesions = None
    if lesion_src is not None:
        say("Reading the lesion mask…")
        lesions = read_labels(lesion_src, image_key, image)
        case.lesion_mask = lesions
        case.lesion_array = (sitk.GetArrayFromImage(lesions) > 0).astype(np.uint8)
    if vertebrae_src is None:
        say("No vertebra label map: the image is shown without measurements.")
        return case
    say("Reading the vertebra label map…")
    vertebrae = read_labels(vertebrae_src, image_key, image)
    say(f"Measuring lesions per vertebral level ({convention} labels)…")
    result = _extract(image_key, vertebrae_src.key, lesion_src.key if lesion_src else None,
                      convention, image, vertebrae, lesions, loaded.meta.input_sha256)
    metrics = result.metrics.to_dict()
    metrics["provenance"]["image"] = meta
    case.vertebrae = result.vertebrae
    case.lesion_mask = result.lesion_mask
    case.vertebrae_array = sitk.GetArrayFromImage(result.vertebrae)
    case.lesion_array = sitk.GetArrayFromImage(result.lesion_mask)
    case.level_names = level_names_for(case.vertebrae_array, convention)
    case.metrics = metrics
    case.convention = convention
    say(f"Measured {len(metrics['levels'])} levels: {metrics['lesion_count']} lesion(s), "
        f"HI ratio {100 * metrics['high_intensity_ratio']:.1f}%.")
    return case


# ------------------------------------------------------------------- demo images


@dataclass(frozen=True)
class DemoImage:
    """A bundled demo image: real SCT MRI under ``data/demo/images/sct`` or a seeded
    phantom, exactly as :data:`core.demo.IMAGING_CASES` describes the demo store's
    imaging cases."""

    case_id: str
    title: str
    convention: str
    real: bool
    image: Path | None = None
    vertebrae: Path | None = None
    lesions: Path | None = None
    phantom: Mapping[str, Any] | None = None


def demo_images() -> list[DemoImage]:
    """Demo images available on this machine (real SCT files present, phantoms always)."""
    from core.demo import IMAGING_CASES, SCT_DIR

    out: list[DemoImage] = []
    for spec in IMAGING_CASES:
        if spec.phantom is None:
            image = SCT_DIR / str(spec.image)
            vert = SCT_DIR / str(spec.vertebrae) if spec.vertebrae else None
            les = SCT_DIR / str(spec.lesion_mask) if spec.lesion_mask else None
            if not image.is_file() or (vert is not None and not vert.is_file()):
                continue
            out.append(DemoImage(spec.patient_id, spec.description, spec.convention, True,
                                 image, vert, les if les is not None and les.is_file() else None))
        else:
            out.append(DemoImage(spec.patient_id, "SYNTHETIC " + spec.description,
                                 spec.convention, False, phantom=dict(spec.phantom)))
    return sorted(out, key=lambda d: (not d.real, d.case_id))


@st.cache_data(show_spinner=False, max_entries=4)
def _phantom(case_id: str, spec_repr: str):
    """The demo store's own images of this phantom case (``core.demo_imaging``)."""
    from core.demo_imaging import demo_case_images

    images = demo_case_images(case_id)
    return images.image, images.vertebrae


def measure_demo(demo: DemoImage, status=None) -> MeasuredCase:
    """Read (or generate) a demo image and measure it like an upload."""
    if demo.real:
        assert demo.image is not None
        case = measure(Source.from_path(demo.image),
                       vertebrae_src=Source.from_path(demo.vertebrae) if demo.vertebrae else None,
                       lesion_src=Source.from_path(demo.lesions) if demo.lesions else None,
                       convention=demo.convention, status=status)
        case.source_name = f"{demo.case_id}: {demo.title}"
        return case

    def say(text: str) -> None:
        if status is not None:
            status.write(text)
            status.update(label=text)

    say("Generating the synthetic phantom…")
    spec = dict(demo.phantom or {})
    image, vertebrae = _phantom(demo.case_id, repr(sorted(spec.items())))
    key = f"phantom:{demo.case_id}:{spec!r}"
    say(f"Measuring lesions per vertebral level ({demo.convention} labels)…")
    result = _extract(key, key + ":vert", None, demo.convention, image, vertebrae, None, "")
    metrics = result.metrics.to_dict()
    meta = {"spacing_mm": [float(s) for s in image.GetSpacing()],
            "size": [int(s) for s in image.GetSize()], "orientation": "LPS",
            "modality": "MR", "sequence": "STIR (synthetic phantom)",
            "source_format": "phantom", "input_sha256": "",
            "series_description": "synthetic phantom"}
    metrics["provenance"]["image"] = meta
    vert_array = sitk.GetArrayFromImage(result.vertebrae)
    case = MeasuredCase(
        image_id=key, image=image, meta=meta, volume=sitk.GetArrayFromImage(image),
        spacing_xyz=tuple(float(s) for s in image.GetSpacing()),
        vertebrae=result.vertebrae, lesion_mask=result.lesion_mask,
        vertebrae_array=vert_array, lesion_array=sitk.GetArrayFromImage(result.lesion_mask),
        level_names=level_names_for(vert_array, demo.convention), metrics=metrics,
        convention=demo.convention, source_name=f"{demo.case_id}: {demo.title}",
        synthetic=True)
    say(f"Measured {len(metrics['levels'])} levels: {metrics['lesion_count']} lesion(s), "
        f"HI ratio {100 * metrics['high_intensity_ratio']:.1f}%.")
    return case


# -------------------------------------------------------------------- stored studies


@st.cache_data(show_spinner=False, max_entries=16)
def _stored_images(study_id: int, image_sha: str | None, image_path: str,
                   vertebrae_path: str | None, lesion_path: str | None):
    from core.io import read_image, read_label_map

    loaded = read_image(image_path)
    image = loaded.image
    vert = read_label_map(vertebrae_path, reference=image) if vertebrae_path else None
    les = read_label_map(lesion_path, reference=image) if lesion_path else None
    return (sitk.GetArrayFromImage(image), tuple(float(s) for s in image.GetSpacing()),
            None if vert is None else sitk.GetArrayFromImage(vert),
            None if les is None else (sitk.GetArrayFromImage(les) > 0).astype(np.uint8))


def stored_study_images(record) -> tuple[np.ndarray, tuple[float, float, float],
                                         np.ndarray | None, np.ndarray | None,
                                         dict[int, str]] | None:
    """Arrays of a stored study's de-identified image and masks, or None without image."""
    if record.image_path is None or not Path(record.image_path).is_file():
        return None
    volume, spacing, vert, les = _stored_images(
        record.study_id, record.image_sha256, str(record.image_path),
        str(record.vertebrae_path) if record.vertebrae_path else None,
        str(record.lesion_mask_path) if record.lesion_mask_path else None)
    convention = (record.metrics.get("provenance") or {}).get("convention") \
        if isinstance(record.metrics, Mapping) else None
    names = level_names_for(vert, convention) if vert is not None else {}
    return volume, spacing, vert, les, names


def study_label(row: Mapping[str, Any]) -> str:
    """One-line label of a study for select boxes (SYNTHETIC marked)."""
    date = row.get("study_date")
    if isinstance(date, (pd.Timestamp, dt.datetime)):
        date = date.date()
    mark = "[SYNTHETIC] " if bool(row.get("synthetic")) else ""
    image = " · image" if bool(row.get("has_image")) else ""
    return f"{mark}#{int(row['study_id'])} · {row.get('patient_id')} · {date}{image}"


# ------------------------------------------------------------------- new cases


def new_case_input(clinical: Mapping[str, Any], metrics: Mapping[str, Any] | None
                   ) -> dict[str, Any]:
    """The case dict for prediction: clinical fields plus the measured ``core extract``
    JSON when there is one (measured values replace any table imaging columns), else
    the clinical record with its own imaging columns (from a table row)."""
    from core.clinical import IMAGING_COLUMNS

    if metrics:
        base = {k: v for k, v in clinical.items() if k not in IMAGING_COLUMNS}
        return {**base, **dict(metrics)}
    return dict(clinical)


def save_new_case(clinical: Mapping[str, Any], measured: MeasuredCase | None,
                  result: CaseResult, *, synthetic: bool) -> int:
    """Save a new study (de-identified image copy, metrics, clinical values) and its
    prediction; returns the study id. Raises ``ValueError`` with one sentence."""
    from core.clinical import CLINICAL_COLUMNS, IMAGING_COLUMNS
    from ui.forms import UNSAVED_ID

    patient_id = str(clinical.get("patient_id") or "").strip()
    if not patient_id or patient_id == UNSAVED_ID:
        raise ValueError("Enter a pseudonymous patient ID in the clinical form before saving.")
    fields = {k: clinical.get(k) for k in CLINICAL_COLUMNS}
    metrics: dict[str, Any] | None = None
    kwargs: dict[str, Any] = {}
    if measured is not None:
        metrics = measured.metrics
        kwargs = {"image": measured.image, "image_meta": measured.meta,
                  "vertebrae": measured.vertebrae, "lesion_mask": measured.lesion_mask}
    if metrics is None:
        flat = {k: clinical.get(k) for k in IMAGING_COLUMNS}
        metrics = flat if any(v is not None for v in flat.values()) else None
    store = get_store()
    study_id = store.save_case(patient_id, clinical["study_date"], clinical=fields,
                               metrics=metrics, synthetic=bool(synthetic), actor=actor(),
                               **kwargs)
    store.record_prediction(study_id, {**result.prediction, "tier": result.tier},
                            result.prediction["model_version"], actor())
    return study_id


# ------------------------------------------------------------------ page helpers


def model_or_stop():
    """The active model, or one plain error sentence and stop the page."""
    from ui.components import show_error

    try:
        return get_model()
    except (ValueError, FileNotFoundError) as exc:
        show_error(exc, "The pain model could not be loaded:")
        st.stop()


def store_or_stop():
    """The case store, or one plain error sentence and stop the page."""
    from ui.components import show_error

    try:
        return get_store()
    except (ValueError, FileNotFoundError, OSError) as exc:
        show_error(exc, "The case store could not be opened:")
        st.stop()


@st.cache_data(show_spinner=False, max_entries=8)
def _importance(store_key: tuple, model_dir: str, model_version: str,
                study_ids: tuple[int, ...]) -> pd.DataFrame:
    from core.explain import global_importance

    frame = get_store().list_studies()
    frame = frame[frame["study_id"].isin(study_ids)]
    return global_importance(get_model(model_dir), frame.reset_index(drop=True))


def global_importance_for(study_ids: list[int]) -> pd.DataFrame:
    """Mean |SHAP| per feature of the active model over the given studies (cached)."""
    model = get_model()
    return _importance(store_version(), str(active_model_dir().resolve()), model.version,
                       tuple(sorted(int(s) for s in study_ids)))
