"""The New case page's measuring flow: read an upload or a demo image, check its level
map and measure it (:func:`core.measure.measure_study`: naming a plain mask, label QA,
then measurement when QA allows it), correct the level names and measure again, or get
a level map from a segmentation engine the site has installed.

Reading is cached by :mod:`ui.cache`; the checked measurement is cached here on the
input hashes. A :class:`MeasuredCase` is what the viewer, the QA panel, the correction
controls and the store use.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
import streamlit as st

from core.demo_imaging import IMAGING_CASES, SCT_DIR
from core.engines import ENGINES, EngineError, EngineResult, find_engine, run_engine
from core.level_correction import CorrectedLevels
from core.levels import LABEL_CONVENTIONS, get_convention, level_names
from core.measure import MeasuredStudy, Naming, measure_study
from ui.cache import Source, list_series, phantom_images, read_input_image, read_labels

__all__ = ["CONVENTIONS", "ENGINE_NAMES", "NAMED_CONVENTIONS", "SEQUENCES", "DemoImage",
           "MeasuredCase", "NamingInput", "Source", "apply_correction", "convention_help",
           "demo_images", "engine_problem", "is_dicom_archive", "list_series", "measure",
           "measure_demo", "needs_naming", "segment_case"]

#: Label conventions offered for a vertebra label map (the registry's order).
CONVENTIONS: tuple[str, ...] = tuple(LABEL_CONVENTIONS)
#: Conventions with level names (a level-names map for a plain mask is in one of these).
NAMED_CONVENTIONS: tuple[str, ...] = tuple(
    name for name, c in LABEL_CONVENTIONS.items() if not c.needs_naming)
#: Sequences the user may declare when the file does not say (``core extract --sequence``).
SEQUENCES: tuple[str, ...] = ("STIR", "T2-FS", "T2", "T1", "T1-FS")
#: Segmentation engines, in the registry's order.
ENGINE_NAMES: tuple[str, ...] = tuple(ENGINES)


def convention_help() -> str:
    """Help text of the label-convention select box, one line per convention."""
    return "  \n".join(f"**{c.name}**: {c.description}" for c in LABEL_CONVENTIONS.values())


def needs_naming(convention: str | None) -> bool:
    """Whether maps of ``convention`` are plain body masks that must be named."""
    return bool(convention) and get_convention(str(convention)).needs_naming


def is_dicom_archive(name: str) -> bool:
    """Zip or single DICOM file names (series can be chosen)."""
    return name.lower().endswith((".zip", ".dcm"))


@dataclass(frozen=True)
class NamingInput:
    """How the page names a plain body mask (:class:`core.measure.Naming`); the level-names
    map is an input file."""

    lowest: str | None = None
    highest: str | None = None
    names_from: Source | None = None
    names_convention: str = "sct"
    sacrum_label: int | None = None

    def key(self) -> tuple[object, ...]:
        """Cache key (the names map by its hash)."""
        return (self.lowest, self.highest, self.names_from.key if self.names_from else None,
                self.names_convention, self.sacrum_label)


@dataclass
class MeasuredCase:
    """A read (and, with a level map, checked and measured) image, ready for the viewer,
    the QA panel, the correction controls and the store.

    ``label_qc`` holds the QA findings (``{code, severity, level, message}``) when a
    level map was checked; ``metrics`` is ``None`` when there is no map or QA refused it.
    ``corrections`` are the audit details of the level corrections made on this draft
    (``draft_id``), recorded with the study when it is saved.
    """

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
    lesion_input: sitk.Image | None = None
    label_qc: list[dict[str, Any]] | None = None
    input_convention: str | None = None
    sequence: str | None = None
    input_sha256: str | None = None
    draft_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    corrections: list[dict[str, Any]] = field(default_factory=list)
    engine: dict[str, Any] | None = None

    @property
    def checked(self) -> bool:
        """A level map was checked by label QA."""
        return self.label_qc is not None

    @property
    def refused(self) -> bool:
        """Label QA found an error: the map is shown, bone is not measured."""
        return any(f["severity"] == "error" for f in self.label_qc or ())

    @property
    def cord_map(self) -> bool:
        """The map is a spinal-cord level map (nothing to correct: another map is needed)."""
        return any(f["code"] == "cord_level_map" for f in self.label_qc or ())

    def apply_study(self, study: MeasuredStudy) -> str:
        """Keep a checked measurement; returns the one-line summary for the status box."""
        self.vertebrae = study.vertebrae
        self.vertebrae_array = sitk.GetArrayFromImage(study.vertebrae)
        self.level_names = level_names(self.vertebrae_array, study.convention)
        self.convention = study.convention
        self.input_convention = study.input_convention
        self.label_qc = study.qc.to_list()
        payload = study.payload()
        if payload is None:
            self.metrics = None
            self.lesion_mask = self.lesion_input
            self.lesion_array = (None if self.lesion_input is None else
                                 (sitk.GetArrayFromImage(self.lesion_input) > 0).astype(np.uint8))
            return f"Not measured: {study.qc.errors[0].message}"
        payload.pop("label_qc", None)
        payload["provenance"]["image"] = self.meta
        if self.engine is not None:
            payload["provenance"]["segmentation_engine"] = self.engine
        if self.corrections:
            payload["provenance"]["level_corrections"] = [c["summary"] for c in self.corrections]
        assert study.result is not None
        self.lesion_mask = study.result.lesion_mask
        self.lesion_array = sitk.GetArrayFromImage(study.result.lesion_mask)
        self.metrics = payload
        flagged = f"; label QA flagged {len(self.label_qc)} finding(s)" if self.label_qc else ""
        return (f"Measured {len(payload['levels'])} levels: {payload['lesion_count']} "
                f"lesion(s), HI ratio {100 * payload['high_intensity_ratio']:.1f}%{flagged}.")

    def stored_metrics(self) -> dict[str, Any] | None:
        """The ``core extract`` JSON to store (with ``label_qc``), or ``None``."""
        if self.metrics is None:
            return None
        return {**self.metrics, "label_qc": list(self.label_qc or [])}

    def stored_meta(self) -> dict[str, Any]:
        """The image metadata to store, with the QA result when a map was checked (an
        unmeasured case keeps its findings there, as the demo store does)."""
        if self.label_qc is None:
            return dict(self.meta)
        return {**self.meta, "label_qc": list(self.label_qc)}


def _say(status: Any, text: str) -> None:
    """One line in the ``st.status`` box (when there is one) and as its label."""
    if status is not None:
        status.write(text)
        status.update(label=text)


def _new_case(image_id: str, image: sitk.Image, meta: dict[str, Any],
              source_name: str, *, synthetic: bool = False) -> MeasuredCase:
    return MeasuredCase(image_id=image_id, image=image, meta=meta,
                        volume=sitk.GetArrayFromImage(image),
                        spacing_xyz=tuple(float(s) for s in image.GetSpacing()),
                        source_name=source_name, synthetic=synthetic)


@st.cache_data(show_spinner=False, max_entries=4)
def _checked(keys: tuple[object, ...], convention: str, sequence: str | None,
             _image: sitk.Image, _vertebrae: sitk.Image, _lesions: sitk.Image | None,
             _naming: Naming | None, _meta: Mapping[str, Any],
             input_sha256: str | None) -> MeasuredStudy:
    return measure_study(_image, _vertebrae, _lesions, convention=convention, naming=_naming,
                         meta=_meta, sequence=sequence, input_sha256=input_sha256)


def _naming(naming: NamingInput | None, image_key: str, image: sitk.Image) -> Naming | None:
    if naming is None:
        return None
    names_map = (read_labels(naming.names_from, image_key, image)
                 if naming.names_from is not None else None)
    return Naming(lowest=naming.lowest, highest=naming.highest, names_from=names_map,
                  names_convention=naming.names_convention, sacrum_label=naming.sacrum_label)


def _check_and_measure(case: MeasuredCase, vertebrae: sitk.Image, convention: str, *,
                       keys: tuple[object, ...], naming: Naming | None = None,
                       status: Any = None) -> None:
    _say(status, f"Checking the level map ({convention} labels) and measuring…")
    study = _checked(keys, convention, case.sequence, case.image, vertebrae, case.lesion_input,
                     naming, case.meta, case.input_sha256)
    _say(status, case.apply_study(study))


def measure(image_src: Source, *, series_uid: str | None = None,
            vertebrae_src: Source | None = None, lesion_src: Source | None = None,
            convention: str = "verse", naming: NamingInput | None = None,
            sequence: str | None = None, status: Any = None) -> MeasuredCase:
    """Read the image (and label maps), check the level map and measure lesions per level.

    ``status`` is an ``st.status`` container that receives one line per step.
    Raises ``ValueError`` (one sentence) from core.
    """
    _say(status, "Reading the image…")
    loaded = read_input_image(image_src, series_uid)
    image, meta = loaded.image, loaded.meta.to_dict()
    image_key = f"{image_src.key}:{series_uid or ''}"
    case = _new_case(image_key, image, meta, image_src.name)
    case.sequence, case.input_sha256 = sequence, loaded.meta.input_sha256
    _say(status, f"Image read: {meta['size'][0]}×{meta['size'][1]}×{meta['size'][2]} voxels, "
         f"spacing {' × '.join(f'{s:.2f}' for s in meta['spacing_mm'])} mm, "
         f"input orientation {meta['orientation']}, sequence {sequence or meta['sequence']}.")
    if lesion_src is not None:
        _say(status, "Reading the lesion mask…")
        case.lesion_input = read_labels(lesion_src, image_key, image)
        case.lesion_mask = case.lesion_input
        case.lesion_array = (sitk.GetArrayFromImage(case.lesion_input) > 0).astype(np.uint8)
    if vertebrae_src is None:
        _say(status, "No vertebra label map: the image is shown without measurements.")
        return case
    _say(status, "Reading the vertebra label map…")
    vertebrae = read_labels(vertebrae_src, image_key, image)
    named = needs_naming(convention)
    keys = (image_key, vertebrae_src.key, lesion_src.key if lesion_src else None,
            naming.key() if named and naming else None)
    _check_and_measure(case, vertebrae, convention, keys=keys, status=status,
                       naming=_naming(naming, image_key, image) if named else None)
    return case


# ------------------------------------------------------------------- demo images


@dataclass(frozen=True)
class DemoImage:
    """A bundled demo image: real SCT MRI under ``data/demo/images/sct`` or a seeded
    phantom, exactly as :data:`core.demo_imaging.IMAGING_CASES` describes the demo store's
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


def _phantom_meta(image: sitk.Image) -> dict[str, Any]:
    return {"spacing_mm": [float(s) for s in image.GetSpacing()],
            "size": [int(s) for s in image.GetSize()], "orientation": "LPS",
            "modality": "MR", "sequence": "STIR (synthetic phantom)",
            "source_format": "phantom", "input_sha256": "",
            "series_description": "synthetic phantom"}


def measure_demo(demo: DemoImage, status: Any = None) -> MeasuredCase:
    """Read (or generate) a demo image, check its map and measure it like an upload: the
    SCT cases come back with their ``cord_level_map`` finding and no measurement."""
    name = f"{demo.case_id}: {demo.title}"
    if demo.real:
        assert demo.image is not None
        case = measure(Source.from_path(demo.image),
                       vertebrae_src=Source.from_path(demo.vertebrae) if demo.vertebrae else None,
                       lesion_src=Source.from_path(demo.lesions) if demo.lesions else None,
                       convention=demo.convention, status=status)
        case.source_name = name
        return case
    _say(status, "Generating the synthetic phantom…")
    image, vertebrae = phantom_images(demo.case_id)
    key = f"phantom:{demo.case_id}:{dict(demo.phantom or {})!r}"
    case = _new_case(key, image, _phantom_meta(image), name, synthetic=True)
    _check_and_measure(case, vertebrae, demo.convention, keys=(key, key + ":vert", None),
                       status=status)
    return case


# ------------------------------------------------------------------- corrections


def apply_correction(case: MeasuredCase, corrected: CorrectedLevels) -> MeasuredCase:
    """A new case: ``case`` with the corrected level map, checked and measured again
    (``convention="verse"``), and the correction added to its ``corrections``."""
    fresh = replace(case, corrections=[*case.corrections, corrected.correction.audit_details()])
    study = measure_study(fresh.image, corrected.vertebrae, fresh.lesion_input,
                          convention=corrected.convention, meta=fresh.meta,
                          sequence=fresh.sequence, input_sha256=fresh.input_sha256)
    fresh.apply_study(study)
    return fresh


# ------------------------------------------------------------------- engines


def engine_problem(name: str) -> str | None:
    """``None`` when the engine is installed here, else the sentence saying how the site
    installs it (:class:`core.engines.EngineError`)."""
    try:
        find_engine(name)
    except EngineError as exc:
        return str(exc)
    return None


def _run_in_thread(name: str, image: sitk.Image, task: str | None, timeout_s: float,
                   on_line: Callable[[str], None]) -> EngineResult:
    """:func:`core.engines.run_engine` in a worker thread; its output lines are passed to
    ``on_line`` from *this* thread (Streamlit elements can only be written here)."""
    lines: queue.Queue[str] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = run_engine(name, image, task=task, timeout_s=timeout_s,
                                           progress=lines.put)
        except (EngineError, ValueError, OSError) as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work, name=f"engine-{name}", daemon=True)
    worker.start()
    while worker.is_alive() or not lines.empty():
        try:
            on_line(lines.get(timeout=0.2))
        except queue.Empty:
            continue
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def segment_case(case: MeasuredCase, name: str, *, task: str | None = None,
                 timeout_s: float, on_line: Callable[[str], None] | None = None
                 ) -> MeasuredCase:
    """A new case: the engine's level map of ``case``'s image, named (``total_mr``) and
    checked, and measured when QA allows it.

    Raises
    ------
    core.engines.EngineError
        Not installed (with the install hint), failed, timed out or wrote no map.
    """
    result = _run_in_thread(name, case.image, task, timeout_s, on_line or (lambda _: None))
    fresh = replace(case, engine=result.provenance(), corrections=[])
    study = measure_study(fresh.image, result.label_map, fresh.lesion_input,
                          convention=result.convention, meta=fresh.meta,
                          sequence=fresh.sequence, input_sha256=fresh.input_sha256)
    fresh.apply_study(study)
    return fresh
