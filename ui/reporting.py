"""Assemble :class:`core.report.ReportContext` for a stored study and build the files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.assess import assess_frame
from core.provenance import provenance
from core.report import (
    ReportContext,
    build_report_html,
    build_report_pdf,
    report_filename,
    rgb_to_png,
    trend_context,
)
from core.store import StudyRecord
from ui import session, slice_render
from ui.cache import get_model, get_store, stored_study_images
from ui.cases import Assessment, assess
from ui.scores import view_key


@dataclass(frozen=True)
class ReportFiles:
    """The report of one study: its HTML, and the context its PDF is built from when the
    PDF is downloaded (:func:`pdf_download`)."""

    html: str
    context: ReportContext
    html_name: str
    pdf_name: str
    synthetic: bool
    category: str
    tier: str
    headline: str = ""
    headline_source: str = ""


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _key_image(record: StudyRecord) -> tuple[bytes | None, str]:
    """The key image as PNG and its caption (``None``, ``""`` without a stored image)."""
    images = stored_study_images(record)
    if images is None:
        return None, ""
    render = slice_render.static_key_image(images.volume, images.spacing_xyz,
                                           vertebrae=images.vertebrae, lesions=images.lesions,
                                           level_names=images.level_names)
    caption = (f"Sagittal slice {render.index + 1} with the most lesion voxels "
               f"({render.lesion_pixels}); vertebral levels coloured and labelled, "
               "detected lesions red. Display pixel "
               f"{render.pixel_mm:.2f} mm (anisotropic voxels resampled).")
    return rgb_to_png(render.rgb), caption


def assessment(study_id: int) -> Assessment:
    """The active model's assessment of a stored study."""
    return assess(get_model(), get_store().get_study(int(study_id)).case())


def trend(record: StudyRecord) -> dict[str, Any]:
    """The patient's studies up to this one, assessed with the active model, and this
    study's surveillance alerts (:func:`core.report.trend_context`)."""
    store = get_store()
    studies = assess_frame(get_model(), store.list_studies(patient_id=record.patient_id))
    return trend_context(studies, record.study_id,
                         levels=store.patient_levels(record.patient_id))


def build_context(study_id: int) -> ReportContext:
    """The report context of a stored study with the active model's assessment (its
    headline, prediction set, OOD reasons, recorded VAS and discordance included)."""
    record = get_store().get_study(int(study_id))
    result = assess(get_model(), record.case())
    png, caption = _key_image(record)
    metric_prov = record.metrics.get("provenance") if isinstance(record.metrics, dict) else None
    prov = provenance(
        study_id=record.study_id,
        image_sha256=record.image_sha256,
        model_version=result.model_version,
        model_dir=session.active_model_dir().name,
        measurement=metric_prov or "table values (no extraction stored)",
    )
    clinical = {k: _json_value(v) for k, v in record.clinical.items()}
    return ReportContext(
        study_id=str(record.study_id),
        patient_id=record.patient_id,
        study_date=record.study_date.isoformat(),
        synthetic=bool(record.synthetic),
        clinical=clinical,
        metrics=dict(record.metrics) if record.levels else
        {**record.imaging, "levels": []},
        prediction=result.prediction.to_dict(),
        explanation=result.explanation.to_dict(),
        tier=result.tier.to_dict(),
        model_version=result.model_version,
        provenance=prov,
        key_image_png=png,
        key_image_caption=caption,
        assessment=result.extras(),
        trend=trend(record),
    )


@st.cache_data(show_spinner=False, max_entries=8)
def _files(study_id: int, url: str, revision: int, model_version: str) -> ReportFiles:
    ctx = build_context(study_id)
    return ReportFiles(
        html=build_report_html(ctx), context=ctx,
        html_name=report_filename(ctx, "html"), pdf_name=report_filename(ctx, "pdf"),
        synthetic=ctx.synthetic, category=str(ctx.prediction.get("category")),
        tier=str(ctx.tier.get("tier")), headline=str(ctx.tier.get("headline") or ""),
        headline_source=str(ctx.tier.get("headline_source") or ""))


def report_files(study_id: int) -> ReportFiles:
    """The report of a study (cached per store revision and model)."""
    return _files(int(study_id), *view_key())


@st.cache_data(show_spinner=False, max_entries=8)
def _pdf(study_id: int, url: str, revision: int, model_version: str,
         _context: ReportContext) -> bytes:
    return build_report_pdf(_context)


def pdf_download(study_id: int, files: ReportFiles) -> Callable[[], bytes]:
    """The PDF download's ``data``: the PDF is built when the button is pressed (about
    1.5 s, which every study picked on the page cost before), from the context the page
    already has, and its export is audited with the very bytes handed over."""
    key = view_key()
    return _audited_download(study_id, "report-pdf",
                             lambda: _pdf(int(study_id), *key, files.context))


def html_download(study_id: int, files: ReportFiles) -> Callable[[], bytes]:
    """The HTML download's ``data``: the page's report, its export audited when the button
    is pressed (in the download, not in a callback that reruns the page: a click on the
    other button during such a rerun was lost)."""
    content = files.html.encode("utf-8")
    return _audited_download(study_id, "report-html", lambda: content)


def _audited_download(study_id: int, kind: str,
                      make: Callable[[], bytes]) -> Callable[[], bytes]:
    """A download button's ``data`` that makes its bytes and records their export. The
    actor is read now, in the page's run: Streamlit calls ``data`` in a thread of its
    own, without the session."""
    actor = session.actor()

    def build() -> bytes:
        content = make()
        get_store().record_export(int(study_id), actor=actor, kind=kind, content=content)
        return content

    return build
