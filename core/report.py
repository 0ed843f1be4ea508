"""Case report as self-contained HTML and as PDF (fpdf2).

The report gathers, for one study: a key image with overlays, the measurements per
vertebral level, the pain prediction, its explanation (SHAP waterfall), the suggested
management tier with its overrides and references, the model version and the
provenance. It always carries the decision-support notice and, for synthetic cases, a
``SYNTHETIC DATA`` mark.

Everything here is pure: inputs are plain dicts (the ``to_dict()`` output of
:class:`core.lesions.StudyMetrics`, :class:`core.model.Prediction`,
:class:`core.explain.Explanation` and :class:`core.tiers.TierDecision`) and PNG bytes;
outputs are a ``str`` (HTML) or ``bytes`` (PDF). Dict readers are tolerant: a missing
key is shown as ``-`` rather than raising, so a partial case still gives a report.
"""

from __future__ import annotations

import base64
import html
import math
import re
import struct
import unicodedata
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from core import DECISION_SUPPORT_NOTICE
from core.features import FEATURES_BY_NAME, REGIONS
from core.provenance import utc_now_iso

#: Mark shown on every page of a report built from synthetic (demo) data.
SYNTHETIC_MARK = "SYNTHETIC DATA"

#: Section ids (HTML ``<section id=...>``) and titles, in report order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("key-image", "Key image"),
    ("clinical", "Clinical findings"),
    ("measurements", "Measurements"),
    ("prediction", "Prediction"),
    ("explanation", "Explanation"),
    ("tier", "Management tier"),
    ("model", "Model"),
    ("provenance", "Provenance"),
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Waterfall rows shown individually; the remaining features are summed into one row.
WATERFALL_MAX_ROWS = 10
WATERFALL_ROW_MM = 5.5  # PDF row height of the waterfall
#: Most wrapped lines one PDF table cell may take (fpdf2 refuses a row taller than a page);
#: longer text is cut and marked, the HTML report keeps it whole.
PDF_CELL_MAX_LINES = 40
PDF_TRUNCATED = " ... [truncated; the HTML report has the full text]"

CATEGORY_ORDER: tuple[str, ...] = ("mild", "moderate", "severe")
_CATEGORY_RGB: dict[str, tuple[int, int, int]] = {
    "mild": (46, 125, 50),
    "moderate": (239, 108, 0),
    "severe": (198, 40, 40),
}
_UP_RGB = (198, 40, 40)  # feature pushes the prediction up (more pain)
_DOWN_RGB = (25, 118, 210)  # feature pushes it down
_DASH = "-"

#: Candidate locations of a Unicode TrueType font (DejaVu Sans) for the PDF.
UNICODE_FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
)


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class ReportContext:
    """Everything one case report shows.

    Attributes
    ----------
    study_id, patient_id, study_date : str
        Identifiers (pseudonymised) and the study date as text.
    synthetic : bool
        True for demo / synthetic cases: the report then carries ``SYNTHETIC DATA``.
    clinical : dict
        Clinical fields of the case (name -> value), shown as given.
    metrics : dict
        ``StudyMetrics.to_dict()``: ``levels`` (list of ``{level, region,
        vertebra_volume_ml, high_intensity_volume_ml, high_intensity_ratio,
        lesion_count}``), ``lesion_count``, ``lesion_count_by_region``,
        ``involved_levels``, ``high_intensity_ratio``, ``max_level_high_intensity_ratio``.
    prediction : dict
        ``Prediction.to_dict()``: ``category``, ``probabilities`` (category ->
        probability), ``expected_vas``, ``imputed``, ``model_version``.
    explanation : dict
        ``Explanation.to_dict()``: ``feature_names``, ``values``, ``shap_values``,
        ``base_value``, ``output_value``, ``output_units``.
    tier : dict
        ``TierDecision.to_dict()``: ``tier``, ``tier_label``, ``urgency``,
        ``recommendations`` (``{text, reference}``), ``overrides`` (``{rule, reason,
        urgency, action, reference}``).
    model_version : str
        Version string of the model that made the prediction.
    provenance : dict
        Package versions, input hash (``input_sha256``), parameters, times.
    key_image_png : bytes or None
        PNG of the key slice with overlays (see :func:`rgb_to_png`), or None.
    key_image_caption : str
        Optional caption under the key image (plane, slice, overlay legend).

    Raises
    ------
    ValueError
        When ``key_image_png`` is not a PNG image or a dict field is not a mapping.
    """

    study_id: str
    patient_id: str
    study_date: str
    synthetic: bool
    clinical: dict
    metrics: dict
    prediction: dict
    explanation: dict
    tier: dict
    model_version: str
    provenance: dict
    key_image_png: bytes | None = None
    key_image_caption: str = field(default="")

    def __post_init__(self) -> None:
        for name in ("clinical", "metrics", "prediction", "explanation", "tier", "provenance"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                kind = type(value).__name__
                raise ValueError(f"ReportContext.{name} must be a dict, not {kind}.")
        if self.key_image_png is not None:
            png_size(self.key_image_png)


# --------------------------------------------------------------------------- images


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels read from a PNG header.

    Raises
    ------
    ValueError
        When ``png`` is not PNG data.
    """
    if not isinstance(png, (bytes, bytearray)) or len(png) < 24 or not png.startswith(
        PNG_SIGNATURE
    ):
        raise ValueError("key_image_png is not a PNG image.")
    if png[12:16] != b"IHDR":
        raise ValueError("key_image_png is not a PNG image (no IHDR header).")
    width, height = struct.unpack(">II", png[16:24])
    if width == 0 or height == 0:
        raise ValueError(f"key_image_png has an empty size {width}x{height}.")
    return int(width), int(height)


def rgb_to_png(rgb: np.ndarray) -> bytes:
    """Encode an 8-bit image array as PNG bytes (pure numpy + zlib).

    Parameters
    ----------
    rgb : numpy.ndarray
        ``uint8`` array of shape ``(height, width, 3)`` (RGB), ``(height, width, 4)``
        (RGBA) or ``(height, width)`` (grey), row 0 at the top.

    Returns
    -------
    bytes
        A valid PNG file.

    Raises
    ------
    ValueError
        When the array is not uint8 or its shape is not one of the above.
    """
    array = np.asarray(rgb)
    if array.dtype != np.uint8:
        raise ValueError(f"image dtype {array.dtype} is not uint8.")
    if array.ndim == 2:
        colour_type, channels = 0, 1
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        channels = int(array.shape[2])
        colour_type = 2 if channels == 3 else 6
    else:
        raise ValueError(f"image shape {array.shape} is not (h, w), (h, w, 3) or (h, w, 4).")
    height, width = int(array.shape[0]), int(array.shape[1])
    if height == 0 or width == 0:
        raise ValueError(f"image shape {array.shape} is empty.")
    rows = np.ascontiguousarray(array).reshape(height, width * channels)
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- formatting


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return True
    return isinstance(value, str) and not value.strip()


def _fmt(value: object, digits: int = 2) -> str:
    """Human text for a value: numbers rounded, booleans yes/no, missing as ``-``."""
    if _is_missing(value):
        return _DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.{digits}f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v, digits) for v in value) or _DASH
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_fmt(v, digits)}" for k, v in value.items()) or _DASH
    return str(value)


def _ratio_pct(value: object) -> str:
    """Ratio in [0, 1] as a percentage with one decimal."""
    number = _as_float(value)
    return _DASH if number is None else f"{100.0 * number:.1f}%"


def _as_float(value: object) -> float | None:
    if _is_missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _signed(value: float, digits: int = 3) -> str:
    return f"{value:+.{digits}f}"


#: Labels of clinical fields that are not model features (see :mod:`core.clinical`).
FIELD_LABELS: dict[str, str] = {
    "vas": "Recorded pain (VAS 0-10)",
    "sex": "Sex",
    "primary_tumor": "Primary tumour",
    "bone_modifying_agent": "Bone-modifying agent",
    "patient_id": "Patient",
    "study_date": "Study date",
    "sins_location": "SINS location",
    "sins_pain": "SINS pain",
    "sins_bone_lesion": "SINS bone lesion",
    "sins_alignment": "SINS alignment",
    "sins_collapse": "SINS vertebral collapse",
    "sins_posterolateral": "SINS posterolateral involvement",
}


def _label(name: str) -> str:
    spec = FEATURES_BY_NAME.get(name)
    if spec is not None:
        return spec.label
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def report_filename(ctx: ReportContext, extension: str) -> str:
    """Safe download name, e.g. ``spinepain-report-S0001.pdf``.

    Parameters
    ----------
    ctx : ReportContext
        The case; its ``study_id`` is reduced to letters, digits, ``-`` and ``_``.
    extension : str
        ``"html"`` or ``"pdf"``.
    """
    ext = extension.lstrip(".").lower()
    if ext not in ("html", "pdf"):
        raise ValueError(f"report extension {extension!r} is not html or pdf.")
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", str(ctx.study_id)).strip("_")[:60] or "case"
    return f"spinepain-report-{safe}.{ext}"


# --------------------------------------------------------------------------- readers


@dataclass(frozen=True)
class _LevelRow:
    level: str
    region: str
    vertebra_volume_ml: float | None
    high_intensity_volume_ml: float | None
    high_intensity_ratio: float | None
    lesion_count: int | None


def _level_rows(metrics: Mapping[str, Any]) -> list[_LevelRow]:
    rows = []
    for item in metrics.get("levels") or []:
        if not isinstance(item, Mapping):
            continue
        count = _as_float(item.get("lesion_count"))
        rows.append(
            _LevelRow(
                level=str(item.get("level", _DASH)),
                region=str(item.get("region", _DASH)),
                vertebra_volume_ml=_as_float(item.get("vertebra_volume_ml")),
                high_intensity_volume_ml=_as_float(item.get("high_intensity_volume_ml")),
                high_intensity_ratio=_as_float(item.get("high_intensity_ratio")),
                lesion_count=None if count is None else int(count),
            )
        )
    return rows


def _totals(metrics: Mapping[str, Any], rows: Sequence[_LevelRow]) -> dict[str, float | None]:
    """Study totals: taken from ``metrics`` when present, else summed over levels."""

    def total(key: str, attr: str) -> float | None:
        given = _as_float(metrics.get(key))
        if given is not None:
            return given
        values = [getattr(r, attr) for r in rows]
        if not values or any(v is None for v in values):
            return None
        return float(sum(values))

    vertebra = total("vertebra_volume_ml", "vertebra_volume_ml")
    high = total("high_intensity_volume_ml", "high_intensity_volume_ml")
    ratio = _as_float(metrics.get("high_intensity_ratio"))
    if ratio is None and vertebra and high is not None:
        ratio = high / vertebra
    return {
        "vertebra_volume_ml": vertebra,
        "high_intensity_volume_ml": high,
        "high_intensity_ratio": ratio,
        "lesion_count": total("lesion_count", "lesion_count"),
    }


def _lesions_by_region(metrics: Mapping[str, Any]) -> dict[str, object]:
    """``lesion_count_by_region``, or the flat ``lesion_count_<region>`` columns."""
    nested = metrics.get("lesion_count_by_region")
    if isinstance(nested, Mapping) and nested:
        return dict(nested)
    return {region: metrics[f"lesion_count_{region}"] for region in REGIONS
            if f"lesion_count_{region}" in metrics}


def _involved_levels(metrics: Mapping[str, Any]) -> str:
    value = metrics.get("involved_levels")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "none"
    return _fmt(value)


def _probabilities(prediction: Mapping[str, Any]) -> list[tuple[str, float | None]]:
    probs = prediction.get("probabilities") or {}
    if not isinstance(probs, Mapping):
        return []
    names = [c for c in CATEGORY_ORDER if c in probs] + [
        str(c) for c in probs if c not in CATEGORY_ORDER
    ]
    return [(name, _as_float(probs.get(name))) for name in names]


def _imputed(prediction: Mapping[str, Any]) -> list[str]:
    value = prediction.get("imputed")
    if isinstance(value, Mapping):
        return [str(k) for k, v in value.items() if v]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return []


@dataclass(frozen=True)
class _Contribution:
    name: str
    label: str
    value: object
    shap: float


def _contributions(explanation: Mapping[str, Any]) -> list[_Contribution]:
    """Per-feature SHAP values, largest magnitude first.

    Accepts ``feature_names`` with list ``values``/``shap_values``, or dicts keyed by name.
    """
    names = list(explanation.get("feature_names") or [])
    shap = explanation.get("shap_values")
    values = explanation.get("values")
    if isinstance(shap, Mapping):
        names = names or list(shap)
        shap_list = [shap.get(n) for n in names]
    else:
        shap_list = list(shap or [])
    if isinstance(values, Mapping):
        value_list = [values.get(n) for n in names]
    else:
        value_list = list(values or [])
    out = []
    for i, name in enumerate(names):
        s = _as_float(shap_list[i]) if i < len(shap_list) else None
        if s is None:
            continue
        v = value_list[i] if i < len(value_list) else None
        out.append(_Contribution(str(name), _label(str(name)), v, s))
    out.sort(key=lambda c: (-abs(c.shap), c.name))
    return out


@dataclass(frozen=True)
class WaterfallStep:
    """One bar of the SHAP waterfall: from ``start`` to ``end`` (``end - start = shap``)."""

    label: str
    start: float
    end: float

    @property
    def shap(self) -> float:
        """Contribution of this row."""
        return self.end - self.start


def _waterfall_range(base: float, steps: Sequence[WaterfallStep],
                     output: float | None) -> tuple[float, float]:
    """Axis range of a waterfall: every running total, padded by 5 % on each side."""
    points = [base, *(s.end for s in steps)]
    if output is not None:
        points.append(output)
    lo, hi = min(points), max(points)
    span = (hi - lo) or 1.0
    return lo - 0.05 * span, hi + 0.05 * span


def waterfall_steps(
    explanation: Mapping[str, Any], max_rows: int = WATERFALL_MAX_ROWS
) -> tuple[float | None, list[WaterfallStep], float | None]:
    """Waterfall of an explanation: base value, steps (largest first) and output value.

    Parameters
    ----------
    explanation : mapping
        ``Explanation.to_dict()``.
    max_rows : int
        Features shown individually; the others are summed into one
        ``"N other features"`` step.

    Returns
    -------
    base : float or None
        ``base_value`` (the model's average output).
    steps : list of WaterfallStep
        Cumulative bars starting at ``base``; the last one ends at
        ``base + sum(shap_values)``.
    output : float or None
        ``output_value`` when given, else ``base + sum(shap_values)``.
    """
    base = _as_float(explanation.get("base_value"))
    contributions = _contributions(explanation)
    output = _as_float(explanation.get("output_value"))
    if base is None:
        return None, [], output
    shown = contributions[:max_rows]
    rest = contributions[max_rows:]
    steps: list[WaterfallStep] = []
    position = base
    for c in shown:
        steps.append(WaterfallStep(c.label, position, position + c.shap))
        position += c.shap
    if rest:
        total = sum(c.shap for c in rest)
        steps.append(WaterfallStep(f"{len(rest)} other features", position, position + total))
        position += total
    return base, steps, output if output is not None else position


def _imputed_names(ctx: ReportContext) -> set[str]:
    return set(_imputed(ctx.prediction)) | set(_imputed(ctx.explanation))


def _value_text(contribution: _Contribution, imputed: set[str]) -> str:
    text = _fmt(contribution.value)
    return f"{text} (imputed)" if contribution.name in imputed else text


def _split_refs(reference: object) -> list[str]:
    """One reference field may hold several citations joined by ``" | "``."""
    if _is_missing(reference):
        return []
    return [part.strip() for part in str(reference).split(" | ") if part.strip()]


def _references(tier: Mapping[str, Any]) -> list[str]:
    """Every cited reference of the tier decision, once, in order of first use."""
    seen: list[str] = []
    cited = [item.get("reference") for key in ("recommendations", "overrides")
             for item in tier.get(key) or [] if isinstance(item, Mapping)]
    cited.extend(tier.get("references") or [])
    for ref in cited:
        for part in _split_refs(ref):
            if part not in seen:
                seen.append(part)
    return seen


def _ref_marks(reference: object, refs: Sequence[str]) -> str:
    """``[1, 3]``: numbers of the reference's citations in :func:`_references`."""
    numbers = [str(refs.index(p) + 1) for p in _split_refs(reference) if p in refs]
    return f"[{', '.join(numbers)}]" if numbers else _DASH


def _recommendations(tier: Mapping[str, Any], refs: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for item in tier.get("recommendations") or []:
        if isinstance(item, Mapping):
            out.append((_fmt(item.get("text")), _ref_marks(item.get("reference"), refs)))
        else:
            out.append((_fmt(item), _DASH))
    return out


_OVERRIDE_KEYS: tuple[str, ...] = ("rule", "reason", "urgency", "action", "reference")


def _overrides(tier: Mapping[str, Any], refs: Sequence[str]) -> list[dict[str, str]]:
    out = []
    for item in tier.get("overrides") or []:
        if isinstance(item, Mapping):
            row = {k: _fmt(item.get(k)) for k in _OVERRIDE_KEYS}
            row["reference"] = _ref_marks(item.get("reference"), refs)
            out.append(row)
        else:
            out.append({k: (_fmt(item) if k == "reason" else _DASH) for k in _OVERRIDE_KEYS})
    return out


def _tier_rows(tier: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [("Tier", _fmt(tier.get("tier"))), ("Label", _fmt(tier.get("tier_label"))),
            ("Urgency", _fmt(tier.get("urgency")))]
    if "category" in tier:
        rows.append(("From pain category", _fmt(tier.get("category"))))
    return rows


def _missing_safety_text(tier: Mapping[str, Any]) -> str | None:
    missing = tier.get("missing_safety_inputs") or []
    if not missing:
        return None
    names = ", ".join(_label(str(m)) for m in missing)
    return (f"Not recorded, so their safety overrides could not be checked: {names}. "
            "Record them before relying on this tier.")


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, _fmt(value, digits=6)))
    return rows


def _report_versions() -> dict[str, str]:
    versions = {}
    for dist in ("fpdf2",):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _provenance_rows(ctx: ReportContext) -> list[tuple[str, str]]:
    rows = _flatten(ctx.provenance)
    rows.append(("report.generated_utc", utc_now_iso()))
    rows.extend((f"report.versions.{k}", v) for k, v in _report_versions().items())
    return rows


def _input_hashes(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            found.extend(_input_hashes(value, f"{prefix}{key}."))
        elif "sha256" in str(key) and not _is_missing(value):
            found.append((f"{prefix}{key}", str(value)))
    return found


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#1a1a1a;margin:0 auto;
max-width:960px;padding:16px 24px;line-height:1.4}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;border-bottom:2px solid #ccc;
padding-bottom:2px;margin-top:1.4em}
.notice{border:3px solid #b71c1c;background:#fff3f3;padding:10px 14px;font-weight:bold;
margin:10px 0}
.synthetic{background:#6a1b9a;color:#fff;text-align:center;font-weight:bold;
letter-spacing:.2em;padding:6px;margin:8px 0}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #bbb;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f0f0f0}td.num{text-align:right}
tr.total td{font-weight:bold;background:#fafafa}
.meta td:first-child{font-weight:bold}
.cat{display:inline-block;color:#fff;padding:2px 10px;border-radius:4px;font-weight:bold}
.bar{display:inline-block;height:10px;background:#888;vertical-align:middle}
.keyimg img{width:480px;max-width:100%;height:auto;border:1px solid #999;
image-rendering:pixelated}
.caption{font-size:.9em;color:#555}
.mono{font-family:"DejaVu Sans Mono",monospace;font-size:.85em;word-break:break-all}
.warn{color:#b71c1c;font-weight:bold}
footer{margin-top:2em;font-size:.85em;color:#555;border-top:1px solid #ccc;padding-top:6px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _rgb_css(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _html_table(
    header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = (),
    css_class: str = "", total: Sequence[str] | None = None,
) -> str:
    cls = f' class="{_e(css_class)}"' if css_class else ""
    parts = [f"<table{cls}>"]
    if header:
        parts.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header)
                     + "</tr></thead>")
    parts.append("<tbody>")

    def row_html(row: Sequence[str], tr: str = "<tr>") -> str:
        cells = "".join(
            f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        return f"{tr}{cells}</tr>"

    parts.extend(row_html(r) for r in rows)
    if total is not None:
        parts.append(row_html(total, '<tr class="total">'))
    parts.append("</tbody></table>")
    return "".join(parts)


def _html_section(section_id: str, body: str) -> str:
    title = dict(SECTIONS)[section_id]
    return f'<section id="{_e(section_id)}"><h2>{_e(title)}</h2>{body}</section>'


def _html_waterfall_svg(explanation: Mapping[str, Any]) -> str:
    base, steps, output = waterfall_steps(explanation)
    if base is None or not steps:
        return "<p>No SHAP values available.</p>"
    label_w, plot_w, value_w, row_h, top = 200, 420, 80, 22, 10
    width = label_w + plot_w + value_w
    n_rows = len(steps) + 1
    height = top + n_rows * row_h + 44
    lo, hi = _waterfall_range(base, steps, output)

    def x(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * plot_w

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-size="12" '
        'font-family="DejaVu Sans, Arial, sans-serif">',
        "<title>SHAP waterfall</title>",
    ]
    bx = x(base)
    out.append(f'<line x1="{bx:.1f}" y1="{top}" x2="{bx:.1f}" y2="{top + n_rows * row_h}" '
               'stroke="#666" stroke-dasharray="4 3"/>')
    for i, step in enumerate(steps):
        y = top + i * row_h
        x0, x1 = sorted((x(step.start), x(step.end)))
        colour = _rgb_css(_UP_RGB if step.shap >= 0 else _DOWN_RGB)
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
                   f"{_e(step.label)}</text>")
        out.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1.0):.1f}" '
                   f'height="{row_h - 8}" fill="{colour}"/>')
        out.append(f'<text x="{label_w + plot_w + 6}" y="{y + 15}">'
                   f"{_e(_signed(step.shap))}</text>")
    y = top + len(steps) * row_h
    if output is not None:
        ox = x(output)
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" '
                   'font-weight="bold">Prediction f(x)</text>')
        out.append(f'<line x1="{ox:.1f}" y1="{top}" x2="{ox:.1f}" y2="{y + row_h - 4}" '
                   'stroke="#000" stroke-width="2"/>')
        out.append(f'<text x="{label_w + plot_w + 6}" y="{y + 15}" font-weight="bold">'
                   f"{_e(_fmt(output, 3))}</text>")
    axis_y = top + n_rows * row_h + 16
    out.append(f'<text x="{label_w}" y="{axis_y}">{_e(_fmt(lo, 2))}</text>')
    out.append(f'<text x="{label_w + plot_w}" y="{axis_y}" text-anchor="end">'
               f"{_e(_fmt(hi, 2))}</text>")
    out.append(f'<text x="{bx:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#666">'
               f"base {_e(_fmt(base, 3))}</text>")
    out.append("</svg>")
    return "".join(out)


def build_report_html(ctx: ReportContext) -> str:
    """The case report as one self-contained HTML document.

    Images are embedded as ``data:`` URIs and the waterfall as inline SVG; no script,
    no external resource. Every value taken from the context is HTML-escaped.

    Parameters
    ----------
    ctx : ReportContext
        The case.

    Returns
    -------
    str
        HTML5 text (UTF-8).
    """
    parts: list[str] = []
    title = f"Case report {ctx.study_id}"
    parts.append(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
    )
    if ctx.synthetic:
        parts.append(f'<div class="synthetic" id="synthetic-mark">{_e(SYNTHETIC_MARK)}'
                     " &mdash; demo case, not a real patient</div>")
    parts.append(f"<header><h1>Spinal metastasis bone pain &mdash; {_e(title)}</h1>")
    parts.append(_html_table((), [
        ("Study", _fmt(ctx.study_id)), ("Patient", _fmt(ctx.patient_id)),
        ("Study date", _fmt(ctx.study_date)), ("Model version", _fmt(ctx.model_version)),
    ], css_class="meta"))
    parts.append("</header>")
    parts.append(f'<div class="notice" id="decision-support-notice" role="note">'
                 f"{_e(DECISION_SUPPORT_NOTICE)}</div>")

    # Key image
    if ctx.key_image_png is not None:
        uri = "data:image/png;base64," + base64.b64encode(ctx.key_image_png).decode("ascii")
        caption = ctx.key_image_caption or "Key slice with overlays."
        body = (f'<figure class="keyimg"><img src="{uri}" alt="{_e(caption)}">'
                f'<figcaption class="caption">{_e(caption)}</figcaption></figure>')
    else:
        body = "<p>No key image was attached to this report.</p>"
    parts.append(_html_section("key-image", body))

    # Clinical
    clinical_rows = [(_label(k), _fmt(v)) for k, v in ctx.clinical.items()]
    parts.append(_html_section("clinical", _html_table(("Field", "Value"), clinical_rows)
                               if clinical_rows else "<p>No clinical fields.</p>"))

    # Measurements
    rows = _level_rows(ctx.metrics)
    totals = _totals(ctx.metrics, rows)
    level_table = _html_table(
        ("Level", "Region", "Vertebra volume (ml)", "High-intensity volume (ml)",
         "HI ratio", "Lesions"),
        [(r.level, r.region, _fmt(r.vertebra_volume_ml), _fmt(r.high_intensity_volume_ml),
          _ratio_pct(r.high_intensity_ratio), _fmt(r.lesion_count)) for r in rows],
        numeric=(2, 3, 4, 5),
        total=("Total", "", _fmt(totals["vertebra_volume_ml"]),
               _fmt(totals["high_intensity_volume_ml"]),
               _ratio_pct(totals["high_intensity_ratio"]), _fmt(totals["lesion_count"])),
    ) if rows else "<p>No per-level measurements.</p>"
    by_region = _lesions_by_region(ctx.metrics)
    region_table = _html_table(
        ("Region", "Lesions"),
        [(str(k), _fmt(v)) for k, v in by_region.items()] if isinstance(by_region, Mapping)
        else [], numeric=(1,),
    )
    summary = _html_table((), [
        ("Lesions (total)", _fmt(ctx.metrics.get("lesion_count", totals["lesion_count"]))),
        ("Involved levels", _involved_levels(ctx.metrics)),
        ("HI ratio (overall)", _ratio_pct(totals["high_intensity_ratio"])),
        ("HI ratio (worst level)", _ratio_pct(ctx.metrics.get("max_level_high_intensity_ratio"))),
    ], css_class="meta")
    parts.append(_html_section(
        "measurements",
        "<h3>Per level</h3>" + level_table + "<h3>Lesions by region</h3>" + region_table
        + "<h3>Summary</h3>" + summary
        + '<p class="caption">HI ratio = high-intensity volume / labelled vertebral volume.</p>',
    ))

    # Prediction
    pred = ctx.prediction
    category = _fmt(pred.get("category"))
    colour = _rgb_css(_CATEGORY_RGB.get(str(pred.get("category")).lower(), (90, 90, 90)))
    prob_rows = []
    for name, p in _probabilities(pred):
        width = 0 if p is None else max(0.0, min(1.0, p)) * 200
        bar = (f'<span class="bar" style="width:{width:.0f}px;background:'
               f'{_rgb_css(_CATEGORY_RGB.get(name, (120, 120, 120)))}"></span>')
        prob_rows.append(f"<tr><td>{_e(name)}</td><td class=\"num\">{_e(_ratio_pct(p))}</td>"
                         f"<td>{bar}</td></tr>")
    prob_table = ("<table><thead><tr><th>Category</th><th>Probability</th><th></th></tr>"
                  "</thead><tbody>" + "".join(prob_rows) + "</tbody></table>")
    imputed = _imputed(pred)
    body = (f'<p>Predicted pain category: <span class="cat" style="background:{colour}">'
            f"{_e(category)}</span></p>" + prob_table
            + f"<p>Expected pain (VAS 0-10): <b>{_e(_fmt(pred.get('expected_vas'), 1))}</b></p>")
    if imputed:
        body += ("<p>Missing values imputed by the model: "
                 f"{_e(', '.join(_label(n) for n in imputed))}.</p>")
    parts.append(_html_section("prediction", body))

    # Explanation
    expl = ctx.explanation
    contributions = _contributions(expl)
    imputed_names = _imputed_names(ctx)
    units = _fmt(expl.get("output_units"))
    body = _html_table((), [
        ("Base value (average prediction)", _fmt(expl.get("base_value"), 3)),
        ("Output value (this case)", _fmt(expl.get("output_value"), 3)),
        ("Output units", units),
    ], css_class="meta")
    body += _html_waterfall_svg(expl)
    body += _html_table(
        ("Feature", "Value", "SHAP"),
        [(c.label, _value_text(c, imputed_names), _signed(c.shap)) for c in contributions],
        numeric=(1, 2),
    ) if contributions else "<p>No SHAP values available.</p>"
    body += ('<p class="caption">Red bars raise the predicted output, blue bars lower it; '
             "SHAP values add up from the base value to the output value.</p>")
    parts.append(_html_section("explanation", body))

    # Tier
    tier = ctx.tier
    refs = _references(tier)
    body = _html_table((), _tier_rows(tier), css_class="meta")
    missing = _missing_safety_text(tier)
    if missing:
        body += f'<p class="warn" id="missing-safety-inputs">{_e(missing)}</p>'
    recs = _recommendations(tier, refs)
    body += "<h3>Recommendations</h3>" + (
        "<ul>" + "".join(f"<li>{_e(t)} <i>{_e(r)}</i></li>" for t, r in recs) + "</ul>"
        if recs else "<p>None.</p>")
    overrides = _overrides(tier, refs)
    body += "<h3>Overrides (outrank the tier)</h3>" + (
        _html_table(("Rule", "Reason", "Urgency", "Action", "Reference"),
                    [[o[k] for k in _OVERRIDE_KEYS] for o in overrides])
        if overrides else "<p>No override rule fired.</p>")
    body += "<h3>References</h3>" + (
        "<ol>" + "".join(f"<li>{_e(r)}</li>" for r in refs) + "</ol>" if refs else "<p>None.</p>")
    parts.append(_html_section("tier", body))

    # Model
    parts.append(_html_section("model", _html_table((), [
        ("Model version", _fmt(ctx.model_version)),
        ("Prediction made by", _fmt(pred.get("model_version", ctx.model_version))),
    ], css_class="meta")))

    # Provenance
    hashes = _input_hashes(ctx.provenance)
    body = ""
    if hashes:
        body += "<h3>Input hash</h3>" + _html_table(
            (), [(k, v) for k, v in hashes], css_class="meta mono")
    body += "<h3>Record</h3>" + _html_table(("Field", "Value"), _provenance_rows(ctx),
                                            css_class="mono")
    parts.append(_html_section("provenance", body))

    parts.append(f"<footer><p>{_e(DECISION_SUPPORT_NOTICE)}</p>")
    if ctx.synthetic:
        parts.append(f"<p><b>{_e(SYNTHETIC_MARK)}</b></p>")
    parts.append("</footer></body></html>")
    return "".join(parts)


# --------------------------------------------------------------------------- PDF


def find_unicode_font() -> tuple[Path, Path] | None:
    """Regular and bold DejaVu Sans TrueType files on this machine, or None."""
    for regular, bold in UNICODE_FONT_CANDIDATES:
        if Path(regular).is_file() and Path(bold).is_file():
            return Path(regular), Path(bold)
    return None


def _latin1(text: str) -> str:
    """Text the PDF core fonts can show: compatibility-decomposed, non-latin-1 -> ``?``."""
    replaced = (text.replace("\u2014", "-").replace("\u2013", "-").replace("\u2265", ">=")
                .replace("\u2264", "<=").replace("\u2192", "->").replace("\u2022", "*"))
    out = []
    for ch in replaced:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode(
                "latin-1")
            out.append(decomposed or "?")
    return "".join(out)


def build_report_pdf(
    ctx: ReportContext, *, unicode_font: bool = True, compress: bool = True
) -> bytes:
    """The case report as a PDF document (A4, fpdf2).

    Parameters
    ----------
    ctx : ReportContext
        The case.
    unicode_font : bool
        Embed DejaVu Sans when it is installed (any script it covers prints); otherwise,
        or when False, use the Helvetica core font and replace characters outside
        latin-1. Characters the chosen font lacks become ``?``; nothing raises.
    compress : bool
        Compress page streams (False only helps to inspect the file).

    Returns
    -------
    bytes
        The PDF file.
    """
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    fonts = find_unicode_font() if unicode_font else None

    class _PDF(FPDF):
        def header(self) -> None:
            if ctx.synthetic:
                self.set_font(family, "B", 11)
                self.set_fill_color(106, 27, 154)
                self.set_text_color(255, 255, 255)
                self.cell(0, 7, clean(f"{SYNTHETIC_MARK} - demo case, not a real patient"),
                          align="C", fill=True, new_x="LMARGIN", new_y="NEXT")
                self.set_text_color(0, 0, 0)
                self.ln(2)

        def footer(self) -> None:
            self.set_y(-16)
            self.set_font(family, "", 7)
            self.set_text_color(90, 90, 90)
            self.multi_cell(0, 3.2, clean(
                f"{DECISION_SUPPORT_NOTICE}  |  Study {ctx.study_id}  |  Model "
                f"{ctx.model_version}  |  Page {self.page_no()}/{{nb}}"
                + (f"  |  {SYNTHETIC_MARK}" if ctx.synthetic else "")),
                align="L", new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0, 0, 0)

    pdf = _PDF(orientation="P", unit="mm", format="A4")
    pdf.set_compression(compress)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=20)
    if fonts is not None:
        family = "DejaVu"
        pdf.add_font(family, "", str(fonts[0]))
        pdf.add_font(family, "B", str(fonts[1]))
        pdf.set_font(family, "", 10)
        cmap = set(pdf.current_font.cmap)

        def clean(text: object) -> str:
            return "".join(ch if (ord(ch) in cmap or ch == "\n") else "?" for ch in str(text))
    else:
        family = "helvetica"

        def clean(text: object) -> str:
            return _latin1(str(text))

    pdf.set_title(clean(f"Case report {ctx.study_id}"))
    pdf.set_subject(clean(DECISION_SUPPORT_NOTICE))
    pdf.set_creator("spine-pain-dss core.report")
    pdf.set_author("spine-pain-dss")
    pdf.alias_nb_pages()
    pdf.add_page()
    full_w = pdf.epw
    heading_style = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))

    def heading(text: str, keep_mm: float = 25.0) -> None:
        """Section title; starts a new page unless ``keep_mm`` fit below it."""
        if pdf.get_y() > pdf.page_break_trigger - keep_mm:
            pdf.add_page()
        pdf.ln(3)
        pdf.set_font(family, "B", 12)
        pdf.cell(0, 7, clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(180, 180, 180)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + full_w, pdf.get_y())
        pdf.ln(1.5)
        pdf.set_font(family, "", 9)

    def para(text: str, bold: bool = False, size: float = 9) -> None:
        pdf.set_font(family, "B" if bold else "", size)
        pdf.multi_cell(0, 4.6, clean(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 9)

    def table(header: Sequence[str], rows: Sequence[Sequence[str]],
              widths: Sequence[float] | None = None, numeric: Sequence[int] = (),
              bold_last: bool = False) -> None:
        if not rows:
            return
        pdf.set_font(family, "", 8.5)
        pdf.set_fill_color(255, 255, 255)
        n = len(rows[0])
        col_w = list(widths) if widths is not None else [full_w / n] * n

        def fit(text: str, width: float) -> str:
            """``text`` cut to :data:`PDF_CELL_MAX_LINES` wrapped lines (estimated)."""
            avail = max(width - 2.4, 4.0)
            kept: list[str] = []
            used = 0
            for line in text.split("\n"):
                # 1.25: margin for word wrapping, which leaves lines part-empty
                need = max(1, math.ceil(1.25 * pdf.get_string_width(line) / avail))
                if used + need > PDF_CELL_MAX_LINES:
                    room = PDF_CELL_MAX_LINES - used - 1
                    if room > 0:
                        kept.append(line[:max(0, len(line) * room // need)])
                    return "\n".join(kept).rstrip() + clean(PDF_TRUNCATED)
                kept.append(line)
                used += need
            return text

        align = ["RIGHT" if i in numeric else "LEFT" for i in range(n)]
        with pdf.table(col_widths=widths, width=full_w if widths is None else sum(widths),
                       align="LEFT", text_align=align, first_row_as_headings=bool(header),
                       headings_style=heading_style, line_height=4.4,
                       cell_fill_mode="NONE",
                       padding=(0.6, 1.2)) as tab:
            if header:
                head = tab.row()
                for h, w in zip(header, col_w, strict=False):
                    head.cell(fit(clean(h), w))
            for i, r in enumerate(rows):
                row = tab.row()
                style = FontFace(emphasis="BOLD") if bold_last and i == len(rows) - 1 else None
                for c, w in zip(r, col_w, strict=False):
                    row.cell(fit(clean(c), w), style=style)
        pdf.ln(1.5)
        pdf.set_font(family, "", 9)

    # Title block
    pdf.set_font(family, "B", 15)
    pdf.multi_cell(0, 7, clean(f"Spinal metastasis bone pain - case report {ctx.study_id}"),
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    table((), [("Study", _fmt(ctx.study_id)), ("Patient", _fmt(ctx.patient_id)),
               ("Study date", _fmt(ctx.study_date)), ("Model version", _fmt(ctx.model_version))],
          widths=(35, 145))
    # Notice box
    pdf.set_draw_color(183, 28, 28)
    pdf.set_fill_color(255, 243, 243)
    pdf.set_line_width(0.8)
    pdf.set_font(family, "B", 10)
    pdf.multi_cell(0, 5, clean(DECISION_SUPPORT_NOTICE), border=1, fill=True, align="L",
                   new_x="LMARGIN", new_y="NEXT", padding=2)
    pdf.set_line_width(0.2)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_font(family, "", 9)

    # Key image
    heading("Key image")
    if ctx.key_image_png is not None:
        import io

        w_px, h_px = png_size(ctx.key_image_png)
        max_w, max_h = 120.0, 95.0
        scale = min(max_w / w_px, max_h / h_px)
        w_mm, h_mm = w_px * scale, h_px * scale
        if pdf.get_y() + h_mm > pdf.page_break_trigger:
            pdf.add_page()
        pdf.image(io.BytesIO(ctx.key_image_png), x=pdf.l_margin, w=w_mm, h=h_mm,
                  alt_text=clean(ctx.key_image_caption or "Key slice with overlays"))
        pdf.ln(1)
        para(ctx.key_image_caption or "Key slice with overlays.", size=8)
    else:
        para("No key image was attached to this report.")

    # Clinical
    heading("Clinical findings")
    clinical_rows = [(_label(k), _fmt(v)) for k, v in ctx.clinical.items()]
    if clinical_rows:
        table(("Field", "Value"), clinical_rows, widths=(60, 120))
    else:
        para("No clinical fields.")

    # Measurements
    heading("Measurements")
    rows = _level_rows(ctx.metrics)
    totals = _totals(ctx.metrics, rows)
    if rows:
        level_rows = [(r.level, r.region, _fmt(r.vertebra_volume_ml),
                       _fmt(r.high_intensity_volume_ml), _ratio_pct(r.high_intensity_ratio),
                       _fmt(r.lesion_count)) for r in rows]
        level_rows.append(("Total", "", _fmt(totals["vertebra_volume_ml"]),
                           _fmt(totals["high_intensity_volume_ml"]),
                           _ratio_pct(totals["high_intensity_ratio"]),
                           _fmt(totals["lesion_count"])))
        table(("Level", "Region", "Vertebra (ml)", "High-intensity (ml)", "HI ratio", "Lesions"),
              level_rows, widths=(20, 28, 35, 40, 30, 27), numeric=(2, 3, 4, 5),
              bold_last=True)
    else:
        para("No per-level measurements.")
    by_region = _lesions_by_region(ctx.metrics)
    if isinstance(by_region, Mapping) and by_region:
        para("Lesions by region", bold=True)
        table(("Region", "Lesions"), [(str(k), _fmt(v)) for k, v in by_region.items()],
              widths=(40, 25), numeric=(1,))
    table((), [
        ("Lesions (total)", _fmt(ctx.metrics.get("lesion_count", totals["lesion_count"]))),
        ("Involved levels", _involved_levels(ctx.metrics)),
        ("HI ratio (overall)", _ratio_pct(totals["high_intensity_ratio"])),
        ("HI ratio (worst level)", _ratio_pct(ctx.metrics.get("max_level_high_intensity_ratio"))),
    ], widths=(50, 130))
    para("HI ratio = high-intensity volume / labelled vertebral volume.", size=8)

    # Prediction
    heading("Prediction")
    pred = ctx.prediction
    category = str(pred.get("category", _DASH))
    pdf.set_font(family, "B", 11)
    label = clean("Predicted pain category: ")
    pdf.cell(pdf.get_string_width(label) + 2, 7, label)
    pdf.set_fill_color(*_CATEGORY_RGB.get(category.lower(), (90, 90, 90)))
    pdf.set_text_color(255, 255, 255)
    pdf.cell(pdf.get_string_width(clean(category)) + 8, 7, clean(category), align="C",
             fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    pdf.set_font(family, "", 9)
    for name, p in _probabilities(pred):
        y = pdf.get_y()
        pdf.cell(30, 5, clean(name))
        pdf.cell(18, 5, clean(_ratio_pct(p)), align="R")
        bar_x = pdf.get_x() + 3
        pdf.set_fill_color(235, 235, 235)
        pdf.rect(bar_x, y + 1, 80, 3, style="F")
        if p is not None:
            pdf.set_fill_color(*_CATEGORY_RGB.get(name, (120, 120, 120)))
            pdf.rect(bar_x, y + 1, 80 * max(0.0, min(1.0, p)), 3, style="F")
        pdf.ln(5)
    pdf.ln(1)
    para(f"Expected pain (VAS 0-10): {_fmt(pred.get('expected_vas'), 1)}", bold=True)
    imputed = _imputed(pred)
    if imputed:
        para("Missing values imputed by the model: "
             + ", ".join(_label(n) for n in imputed) + ".")

    # Explanation
    expl = ctx.explanation
    _, steps, _ = waterfall_steps(expl)
    heading("Explanation", keep_mm=30.0 + (len(steps) + 1) * WATERFALL_ROW_MM + 16.0)
    table((), [("Base value (average prediction)", _fmt(expl.get("base_value"), 3)),
               ("Output value (this case)", _fmt(expl.get("output_value"), 3)),
               ("Output units", _fmt(expl.get("output_units")))], widths=(70, 110))
    _pdf_waterfall(pdf, expl, family, clean)
    contributions = _contributions(expl)
    imputed_names = _imputed_names(ctx)
    if contributions:
        table(("Feature", "Value", "SHAP"),
              [(c.label, _value_text(c, imputed_names), _signed(c.shap)) for c in contributions],
              widths=(80, 50, 50), numeric=(1, 2))
    para("Red bars raise the predicted output, blue bars lower it; SHAP values add up "
         "from the base value to the output value.", size=8)

    # Tier
    heading("Management tier", keep_mm=50.0)
    tier = ctx.tier
    refs = _references(tier)
    table((), _tier_rows(tier), widths=(40, 140))
    missing = _missing_safety_text(tier)
    if missing:
        pdf.set_text_color(183, 28, 28)
        para(missing, bold=True)
        pdf.set_text_color(0, 0, 0)
    recs = _recommendations(tier, refs)
    para("Recommendations", bold=True)
    if recs:
        table(("Recommendation", "Ref."), recs, widths=(155, 25))
    else:
        para("None.")
    overrides = _overrides(tier, refs)
    para("Overrides (outrank the tier)", bold=True)
    if overrides:
        table(("Rule", "Reason", "Urgency", "Action", "Ref."),
              [[o[k] for k in _OVERRIDE_KEYS] for o in overrides],
              widths=(32, 55, 20, 55, 18))
    else:
        para("No override rule fired.")
    para("References", bold=True)
    for i, ref in enumerate(refs, 1):
        para(f"{i}. {ref}", size=8.5)
    if not refs:
        para("None.")

    # Model + provenance
    heading("Model")
    table((), [("Model version", _fmt(ctx.model_version)),
               ("Prediction made by", _fmt(pred.get("model_version", ctx.model_version)))],
          widths=(50, 130))
    heading("Provenance")
    hashes = _input_hashes(ctx.provenance)
    for key, value in hashes:
        para(f"Input hash ({key}): {value}", size=8)
    table(("Field", "Value"), _provenance_rows(ctx), widths=(60, 120))

    return bytes(pdf.output())


def _pdf_waterfall(pdf: Any, explanation: Mapping[str, Any], family: str, clean: Any) -> None:
    """Draw the SHAP waterfall with fpdf2 primitives at the current position."""
    base, steps, output = waterfall_steps(explanation)
    if base is None or not steps:
        pdf.multi_cell(0, 5, clean("No SHAP values available."), new_x="LMARGIN",
                       new_y="NEXT")
        return
    label_w, plot_w, row_h = 55.0, 100.0, WATERFALL_ROW_MM
    n_rows = len(steps) + 1
    needed = n_rows * row_h + 16
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    x_left = pdf.l_margin + label_w
    top = pdf.get_y() + 2
    lo, hi = _waterfall_range(base, steps, output)

    def x(v: float) -> float:
        return x_left + (v - lo) / (hi - lo) * plot_w

    pdf.set_font(family, "", 7.5)
    pdf.set_draw_color(110, 110, 110)
    with pdf.local_context():
        pdf.set_dash_pattern(dash=1, gap=1)
        pdf.line(x(base), top, x(base), top + n_rows * row_h)
    for i, step in enumerate(steps):
        y = top + i * row_h
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(label_w - 2, row_h, clean(step.label), align="R")
        x0, x1 = sorted((x(step.start), x(step.end)))
        pdf.set_fill_color(*(_UP_RGB if step.shap >= 0 else _DOWN_RGB))
        pdf.rect(x0, y + 1, max(x1 - x0, 0.3), row_h - 2, style="F")
        pdf.set_xy(x_left + plot_w + 2, y)
        pdf.cell(25, row_h, clean(_signed(step.shap)))
    y = top + len(steps) * row_h
    if output is not None:
        pdf.set_font(family, "B", 7.5)
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(label_w - 2, row_h, clean("Prediction f(x)"), align="R")
        pdf.set_draw_color(0, 0, 0)
        pdf.set_line_width(0.6)
        pdf.line(x(output), top, x(output), y + row_h - 1)
        pdf.set_line_width(0.2)
        pdf.set_xy(x_left + plot_w + 2, y)
        pdf.cell(25, row_h, clean(_fmt(output, 3)))
        pdf.set_font(family, "", 7.5)
    axis_y = top + n_rows * row_h + 1
    pdf.set_draw_color(150, 150, 150)
    pdf.line(x_left, axis_y, x_left + plot_w, axis_y)
    pdf.set_xy(x_left, axis_y + 0.5)
    pdf.cell(20, 4, clean(_fmt(lo, 2)))
    pdf.set_xy(x_left + plot_w - 20, axis_y + 0.5)
    pdf.cell(20, 4, clean(_fmt(hi, 2)), align="R")
    pdf.set_xy(x(base) - 15, axis_y + 4.5)
    pdf.cell(30, 4, clean(f"base {_fmt(base, 3)}"), align="C")
    pdf.set_draw_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, axis_y + 10)
    pdf.set_font(family, "", 9)
