"""Streamlit caches of the store, the model's views of the store and images.

* The case store is ``st.cache_resource``, one per database URL and data directory
  (:mod:`ui.stores`, re-exported here: Home opens it without this module's imports).
* The model is **not** cached here: :func:`core.model.load_model` keeps the one model
  cache (per folder and file times) and :func:`get_model` asks it every time.
* Views of the store that read stored scores (scored studies, global SHAP importance)
  live in :mod:`ui.scores`, keyed on the store's revision and the model version.
* Image reading and extraction are ``st.cache_data`` keyed on the SHA-256 of the input
  bytes (or a bundled file's path, size and time); the bytes and images themselves are not
  hashed again (their argument names start with ``_``).

Uploads never touch the disk here: bytes go straight to :mod:`core.io`, which uses a
private temporary folder; the only persistent copy of an image is the de-identified
NIfTI that :meth:`core.store.CaseStore.save_case` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
import streamlit as st

from core.demo_imaging import demo_case_images
from core.io import LoadedImage, list_dicom_series, read_image, read_label_map
from core.lesions import ExtractionResult, extract
from core.levels import level_names
from core.model import TrainedModel, load_model
from core.provenance import sha256_bytes
from core.store import CaseStore, StudyRecord
from ui import components, session
from ui.stores import get_store
from ui.stores import store_key as store_key  # re-exported (see ui.stores)

# ----------------------------------------------------------------------------- store


def store_or_stop() -> CaseStore:
    """The case store, or one plain error sentence and stop the page."""
    try:
        return get_store()
    except (ValueError, FileNotFoundError, OSError) as exc:
        components.show_error(exc, "The case store could not be opened:")
        st.stop()


# ----------------------------------------------------------------------------- model


def get_model(path: str | Path | None = None) -> TrainedModel:
    """The loaded model of ``path`` (default: this session's model), from
    :func:`core.model.load_model`'s cache.

    Raises ``ValueError`` / ``FileNotFoundError`` from :func:`core.model.load_model`.
    """
    folder = Path(path) if path is not None else session.active_model_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder.name} does not exist; run `make train`.")
    return load_model(folder)


def model_or_stop() -> TrainedModel:
    """The active model, or one plain error sentence and stop the page."""
    try:
        return get_model()
    except (ValueError, FileNotFoundError) as exc:
        components.show_error(exc, "The pain model could not be loaded:")
        st.stop()


# ------------------------------------------------------------------------ inputs


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
def _read_image(key: str, name: str, series_uid: str | None,
                _source: bytes | str) -> LoadedImage:
    return read_image(_source, name, series_uid=series_uid)


def read_input_image(source: Source, series_uid: str | None = None) -> LoadedImage:
    """``core.io.read_image`` cached on the input hash."""
    return _read_image(source.key, source.name, series_uid, source.arg())


@st.cache_data(show_spinner=False, max_entries=6)
def _list_series(key: str, name: str, _source: bytes | str) -> list[dict[str, Any]]:
    return [s.to_dict() for s in list_dicom_series(_source, name)]


def list_series(source: Source) -> list[dict[str, Any]]:
    """DICOM series in a zip (``DicomSeriesInfo.to_dict()``), cached on the hash."""
    return _list_series(source.key, source.name, source.arg())


@st.cache_data(show_spinner=False, max_entries=6)
def _read_labels(key: str, name: str, reference_key: str, _source: bytes | str,
                 _reference: sitk.Image) -> sitk.Image:
    return read_label_map(_source, name, reference=_reference)


def read_labels(source: Source, reference_key: str, reference: sitk.Image) -> sitk.Image:
    """``core.io.read_label_map`` aligned to the image, cached on both hashes."""
    return _read_labels(source.key, source.name, reference_key, source.arg(), reference)


@st.cache_data(show_spinner=False, max_entries=3)
def _extract(image_key: str, vert_key: str, lesion_key: str | None, convention: str,
             _image: sitk.Image, _vertebrae: sitk.Image, _lesions: sitk.Image | None,
             input_sha256: str) -> ExtractionResult:
    return extract(_image, _vertebrae, _lesions, convention=convention,
                   input_sha256=input_sha256)


def extract_levels(keys: tuple[str, str, str | None], convention: str, image: sitk.Image,
                   vertebrae: sitk.Image, lesions: sitk.Image | None,
                   input_sha256: str) -> ExtractionResult:
    """``core.lesions.extract`` cached on the (image, vertebrae, lesions) keys."""
    return _extract(*keys, convention, image, vertebrae, lesions, input_sha256)


@st.cache_data(show_spinner=False, max_entries=4)
def _phantom(case_id: str) -> tuple[sitk.Image, sitk.Image]:
    images = demo_case_images(case_id)
    return images.image, images.vertebrae


def phantom_images(case_id: str) -> tuple[sitk.Image, sitk.Image]:
    """Image and vertebra labels of a demo phantom, as the demo store built them
    (:func:`core.demo_imaging.demo_case_images`), cached per case."""
    return _phantom(case_id)


# -------------------------------------------------------------------- stored studies


@dataclass(frozen=True)
class StudyImages:
    """Arrays of a stored study for the viewer: ``[z, y, x]`` volume, spacing ``(x, y, z)``
    in mm, vertebra labels, lesion mask (0/1) and label -> level name."""

    volume: np.ndarray
    spacing_xyz: tuple[float, float, float]
    vertebrae: np.ndarray | None
    lesions: np.ndarray | None
    level_names: dict[int, str]


@st.cache_data(show_spinner=False, max_entries=16)
def _stored_images(study_id: int, image_sha: str | None, image_path: str,
                   vertebrae_path: str | None, lesion_path: str | None):
    image = read_image(image_path).image
    vert = read_label_map(vertebrae_path, reference=image) if vertebrae_path else None
    les = read_label_map(lesion_path, reference=image) if lesion_path else None
    return (sitk.GetArrayFromImage(image), tuple(float(s) for s in image.GetSpacing()),
            None if vert is None else sitk.GetArrayFromImage(vert),
            None if les is None else (sitk.GetArrayFromImage(les) > 0).astype(np.uint8))


def stored_study_images(record: StudyRecord) -> StudyImages | None:
    """The arrays of a stored study's de-identified image and masks, or None without image."""
    if record.image_path is None or not Path(record.image_path).is_file():
        return None
    volume, spacing, vert, les = _stored_images(
        record.study_id, record.image_sha256, str(record.image_path),
        str(record.vertebrae_path) if record.vertebrae_path else None,
        str(record.lesion_mask_path) if record.lesion_mask_path else None)
    provenance = record.metrics.get("provenance") if isinstance(record.metrics, Mapping) else None
    convention = provenance.get("convention") if isinstance(provenance, Mapping) else None
    names = level_names(vert, convention) if vert is not None else {}
    return StudyImages(volume, spacing, vert, les, names)
