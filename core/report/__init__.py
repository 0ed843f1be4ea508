"""Case report as self-contained HTML and as PDF (fpdf2).

The report gathers, for one study: first the assessment (the advice's headline, an
override before anything else; the model's estimate beneath it with its prediction set
and coverage; the recorded VAS beside it with the discordance sentence; reasons the case
lies outside the training data), then a key image with overlays, the clinical findings,
the measurements per vertebral level, the pain prediction, its explanation (SHAP
waterfall), the advice with its codes' texts, notes, overrides and references, the model
version and the provenance. It always carries the decision-support notice and, for
synthetic cases, a ``SYNTHETIC DATA`` mark.

Everything here is pure: inputs are plain dicts (the ``to_dict()`` output of
:class:`core.lesions.StudyMetrics`, :class:`core.model.Prediction`,
:class:`core.explain.Explanation` and :class:`core.tiers.TierDecision`) and PNG bytes;
outputs are a ``str`` (HTML) or ``bytes`` (PDF).

Modules
-------
* :mod:`~core.report.context`: :class:`ReportContext` (the input) and the file name.
* :mod:`~core.report.document`: builds ONE :class:`~core.report.blocks.ReportDocument`
  from the context; every content decision (rows, labels, value display, missing-value
  wording, reference numbering, PDF cell truncation) lives there.
* :mod:`~core.report.blocks`: the frozen block types of that document.
* :mod:`~core.report.html`, :mod:`~core.report.pdf`: renderers that only lay it out.
* :mod:`~core.report.trend`: the trend across a patient's studies (table, pain bars and
  this study's surveillance alerts), a section only for patients with more than one study.
* :mod:`~core.report.png`: PNG encoding of rendered slices.
"""

from core import DECISION_SUPPORT_NOTICE
from core.report.blocks import ReportDocument
from core.report.context import ReportContext, report_filename
from core.report.document import (
    FIELD_LABELS,
    PDF_CELL_MAX_LINES,
    PDF_TRUNCATED,
    SECTIONS,
    SYNTHETIC_MARK,
    build_document,
    waterfall_block,
)
from core.report.html import build_report_html, render_html, waterfall_svg
from core.report.pdf import (
    UNICODE_FONT_CANDIDATES,
    WATERFALL_ROW_MM,
    build_report_pdf,
    find_unicode_font,
    render_pdf,
)
from core.report.png import PNG_SIGNATURE, png_size, rgb_to_png
from core.report.trend import TREND_KEYS, TREND_SECTION, trend_blocks, trend_context

__all__ = [
    "DECISION_SUPPORT_NOTICE",
    "FIELD_LABELS",
    "PDF_CELL_MAX_LINES",
    "PDF_TRUNCATED",
    "PNG_SIGNATURE",
    "SECTIONS",
    "SYNTHETIC_MARK",
    "TREND_KEYS",
    "TREND_SECTION",
    "UNICODE_FONT_CANDIDATES",
    "WATERFALL_ROW_MM",
    "ReportContext",
    "ReportDocument",
    "build_document",
    "build_report_html",
    "build_report_pdf",
    "find_unicode_font",
    "png_size",
    "render_html",
    "render_pdf",
    "report_filename",
    "rgb_to_png",
    "trend_blocks",
    "trend_context",
    "waterfall_block",
    "waterfall_svg",
]
