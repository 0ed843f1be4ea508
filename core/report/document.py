"""The case report as ONE document: every content decision of the HTML and PDF reports.

:func:`build_document` turns a :class:`~core.report.context.ReportContext` into a
:class:`~core.report.blocks.ReportDocument` in :data:`SECTIONS` order: which rows and
labels appear, how each value is written, what is said when something is missing, how
references are numbered and how the PDF shortens over-long cells. The renderers
(:mod:`core.report.html`, :mod:`core.report.pdf`) only lay the blocks out.

Values are written as clinicians read them, through :mod:`core.vocab` and
:func:`core.features.display_feature`: Bilsky grades as ``"1b"`` (never the model code),
yes/no rather than 1/0, ratios in %. Missing values read ``-``. Dict readers are
tolerant: a missing key or an odd value is shown, never raised, so a partial case still
gives a report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import numpy as np

from core import DECISION_SUPPORT_NOTICE
from core.explain import WaterfallStep, shap_contributions, waterfall_steps
from core.features import FEATURES_BY_NAME, display_feature
from core.metrics import ImagingSummary, imaging_summary
from core.provenance import utc_now_iso
from core.report.blocks import (
    Bar,
    BarChart,
    Block,
    CategoryBadge,
    CitedList,
    Image,
    KeyValueTable,
    Notice,
    NumberedList,
    Paragraph,
    ReportDocument,
    Section,
    Subheading,
    Table,
    Waterfall,
    WaterfallBar,
)
from core.report.context import ReportContext
from core.report.trend import TREND_SECTION, trend_blocks
from core.tiers import discordance
from core.vocab import (
    ANALGESIC_STEPS,
    CATEGORIES,
    CATEGORY_VAS_BANDS,
    DOWN_COLOUR,
    NOT_RECORDED,
    SINS_TITLES,
    UP_COLOUR,
    BilskyGrade,
    category_colour,
    finite_float,
    in_category_order,
    is_missing,
    number_text,
    percent,
    vas_to_category,
    yes_no,
)

#: Mark shown on every page of a report built from synthetic (demo) data.
SYNTHETIC_MARK = "SYNTHETIC DATA"

#: Section ids (HTML ``<section id=...>``) and titles, in report order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("assessment", "Assessment"),
    ("key-image", "Key image"),
    ("clinical", "Clinical findings"),
    ("measurements", "Measurements"),
    ("prediction", "Prediction"),
    ("explanation", "Explanation"),
    ("tier", "Management tier"),
    ("model", "Model"),
    ("provenance", "Provenance"),
)

#: Most wrapped lines one PDF table cell may take (fpdf2 refuses a row taller than a page);
#: longer text is cut and marked with :data:`PDF_TRUNCATED`, the HTML keeps it whole.
PDF_CELL_MAX_LINES = 40
PDF_TRUNCATED = " ... [truncated; the HTML report has the full text]"

#: How a missing value reads in the report.
MISSING = "-"

#: Labels of clinical fields that are neither model features nor SINS components.
FIELD_LABELS: dict[str, str] = {
    "vas": "Recorded pain (VAS 0-10)",
    "sins_total": "SINS total",
    "analgesic_step": "Current WHO analgesic step",
    "prior_radiotherapy": "Prior radiotherapy",
    "neuropathic_pain": "Neuropathic pain",
    "sex": "Sex",
    "primary_tumor": "Primary tumour",
    "bone_modifying_agent": "Bone-modifying agent",
    "patient_id": "Patient",
    "study_date": "Study date",
}

_NO_SHAP = "No SHAP values available."


# --------------------------------------------------------------------------- values


def number(value: object, digits: int = 2) -> str:
    """A measured or model number: whole numbers without decimals, others with
    ``digits`` fixed decimals (columns of volumes line up); missing as ``-``."""
    x = finite_float(value)
    if x is None:
        return MISSING
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.{digits}f}"


def ratio_text(value: object) -> str:
    """A ratio in [0, 1] in % (:func:`core.vocab.percent`); missing as ``-``."""
    return MISSING if finite_float(value) is None else percent(value)


def signed(value: float, digits: int = 3) -> str:
    """A SHAP value with its sign: ``+0.500``."""
    return f"{value:+.{digits}f}"


def plain(value: object, digits: int = 2) -> str:
    """Any other value: truth values yes/no, numbers as :func:`number`, lists and
    mappings joined, text as given; missing as ``-``."""
    if is_missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return yes_no(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return number(value, digits)
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(v, digits) for v in value) or MISSING
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {plain(v, digits)}" for k, v in value.items()) or MISSING
    return str(value)


def field_label(name: str) -> str:
    """Label of a feature (:data:`core.features.FEATURES`), SINS component or clinical
    field; other names are turned into words."""
    spec = FEATURES_BY_NAME.get(name)
    if spec is not None:
        return spec.label
    if name in SINS_TITLES:
        return SINS_TITLES[name]
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def feature_value(name: str, value: object) -> str:
    """A value in model units (a Bilsky grade as its code, yes/no as 1/0) as a clinician
    reads it: ``"1b"``, yes/no, % (:func:`core.features.display_feature`); names that are
    not features, and values it cannot read, as :func:`plain`."""
    if is_missing(value):
        return MISSING
    if name in FEATURES_BY_NAME and not isinstance(value, (list, tuple, Mapping)):
        try:
            text = display_feature(name, value)
        except ValueError:
            text = NOT_RECORDED
        if text != NOT_RECORDED:
            return text
    return plain(value)


def clinical_value(name: str, value: object) -> str:
    """A recorded clinical field. As :func:`feature_value`, except that a Bilsky grade is
    read as written clinically (a recorded ``2`` is grade 2, not a model code) and the
    analgesic step with its name (``2 weak opioid``)."""
    step = finite_float(value)
    if name == "analgesic_step" and step is not None and step in ANALGESIC_STEPS:
        return ANALGESIC_STEPS[int(step)]
    spec = FEATURES_BY_NAME.get(name)
    if spec is None or spec.display != "bilsky" or is_missing(value):
        return feature_value(name, value)
    try:
        grade = BilskyGrade.parse(value)
    except ValueError:
        return plain(value)
    return MISSING if grade is None else grade.label


# --------------------------------------------------------------------------- readers


def _totals(summary: ImagingSummary) -> dict[str, float | None]:
    """Study totals: taken from the metrics when present, else summed over levels."""
    rows = summary.levels

    def total(key: str) -> float | None:
        given = finite_float(getattr(summary, key))
        if given is not None:
            return given
        return float(sum(getattr(r, key) for r in rows)) if rows else None

    vertebra = total("vertebra_volume_ml")
    high = total("high_intensity_volume_ml")
    ratio = finite_float(summary.high_intensity_ratio)
    if ratio is None and vertebra and high is not None:
        ratio = high / vertebra
    return {"vertebra_volume_ml": vertebra, "high_intensity_volume_ml": high,
            "high_intensity_ratio": ratio, "lesion_count": total("lesion_count")}


def _involved_levels(summary: ImagingSummary) -> str:
    if summary.involved_level_names is not None:
        return ", ".join(summary.involved_level_names) or "none"
    return plain(summary.involved_levels)


def _probabilities(prediction: Mapping[str, Any]) -> list[tuple[str, float | None]]:
    probs = prediction.get("probabilities") or {}
    if not isinstance(probs, Mapping):
        return []
    return [(name, finite_float(probs.get(name))) for name in in_category_order(probs)]


def _imputed(result: Mapping[str, Any]) -> list[str]:
    value = result.get("imputed")
    if isinstance(value, Mapping):
        return [str(k) for k, v in value.items() if v]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return []


def _split_refs(reference: object) -> list[str]:
    """One reference field may hold several citations joined by ``" | "``."""
    if is_missing(reference):
        return []
    return [part.strip() for part in str(reference).split(" | ") if part.strip()]


def _references(tier: Mapping[str, Any]) -> list[str]:
    """Every cited reference of the tier decision, once, numbered in order of first use."""
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
    return f"[{', '.join(numbers)}]" if numbers else MISSING


_OVERRIDE_KEYS: tuple[str, ...] = ("rule", "reason", "urgency", "action", "reference")


def _override_row(item: object, refs: Sequence[str]) -> tuple[str, ...]:
    if not isinstance(item, Mapping):
        return tuple(plain(item) if k == "reason" else MISSING for k in _OVERRIDE_KEYS)
    return tuple(_ref_marks(item.get(k), refs) if k == "reference" else plain(item.get(k))
                 for k in _OVERRIDE_KEYS)


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, plain(value, digits=6)))
    return rows


def _input_hashes(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            found.extend(_input_hashes(value, f"{prefix}{key}."))
        elif "sha256" in str(key) and not is_missing(value):
            found.append((f"{prefix}{key}", str(value)))
    return found


def _report_versions() -> dict[str, str]:
    versions = {}
    for dist in ("fpdf2",):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


# --------------------------------------------------------------------------- sections


def _headline(tier: Mapping[str, Any]) -> list[Block]:
    """The advice's headline first: an override or a missing lesion in red."""
    headline = tier.get("headline") or tier.get("tier_label")
    if is_missing(headline):
        return [Paragraph("No advice was given for this case.")]
    source = str(tier.get("headline_source") or "")
    style = "warn" if source in ("override", "no_lesion") else "body"
    blocks: list[Block] = [Paragraph("", strong=str(headline), style=style, anchor="headline")]
    if not is_missing(tier.get("urgency")):
        blocks.append(Paragraph("Urgency: ", strong=plain(tier.get("urgency"))))
    return blocks


def _prediction_set(extras: Mapping[str, Any]) -> Paragraph:
    categories = extras.get("prediction_set")
    if not isinstance(categories, (list, tuple)) or not categories:
        return Paragraph("Prediction set: not available.", style="caption")
    coverage = finite_float(extras.get("coverage"))
    stated = (f" (coverage {percent(coverage, 0)})" if coverage is not None
              else " (coverage not stated by this model)")
    return Paragraph(f"Prediction set{stated}: ", strong=", ".join(map(str, categories)))


def _recorded(ctx: ReportContext) -> list[Block]:
    """The recorded VAS next to the prediction, with the discordance sentence."""
    extras = ctx.assessment
    vas = finite_float(extras.get("recorded_vas", ctx.clinical.get("vas")))
    if vas is None or not 0 <= vas <= 10:
        return [Paragraph("Recorded pain (VAS 0-10): ", strong="not recorded")]
    blocks: list[Block] = [Paragraph("Recorded pain (VAS 0-10): ",
                                     strong=f"{number_text(vas, 1)} ({vas_to_category(vas)})")]
    sentence = extras.get("discordance")
    category = ctx.prediction.get("category")
    if is_missing(sentence) and category in CATEGORIES:
        found = discordance(vas, str(category))
        sentence = None if found is None else found.sentence
        discordant = bool(found and found.discordant)
    else:
        discordant = bool(extras.get("discordant"))
    if not is_missing(sentence):
        blocks.append(Paragraph(str(sentence), style="warn" if discordant else "body",
                                anchor="discordance"))
    return blocks


def _ood(extras: Mapping[str, Any]) -> list[Block]:
    reasons = extras.get("ood")
    if not isinstance(reasons, (list, tuple)):
        return [Paragraph("Out-of-distribution check: not available.", style="caption")]
    if not reasons:
        return [Paragraph("Within the range of the model's training data.", style="caption")]
    return [Paragraph("Outside the model's training data \u2014 interpret with caution:",
                      style="warn", anchor="ood"),
            *(Paragraph(f"- {reason}") for reason in reasons)]


def _assessment(ctx: ReportContext) -> list[Block]:
    """Headline first, the model's estimate beneath, the recorded VAS beside it."""
    pred, extras = ctx.prediction, ctx.assessment
    category = plain(pred.get("category"))
    band = CATEGORY_VAS_BANDS.get(category, "")
    blocks: list[Block] = [*_headline(ctx.tier), Subheading("Model estimate"),
                           CategoryBadge(f"Predicted pain category{f' ({band})' if band else ''}: ",
                                         category, category_colour(category.lower())),
                           Paragraph("Expected pain (VAS 0-10): ",
                                     strong=number(pred.get("expected_vas"), 1)),
                           _prediction_set(extras), *_recorded(ctx), *_ood(extras)]
    blocks += [Paragraph(str(w), style="caption") for w in extras.get("context_warnings") or []]
    return blocks


def _key_image(ctx: ReportContext) -> list[Block]:
    if ctx.key_image_png is None:
        return [Paragraph("No key image was attached to this report.")]
    return [Image(ctx.key_image_png, ctx.key_image_caption or "Key slice with overlays.")]


def _clinical(ctx: ReportContext) -> list[Block]:
    rows = tuple((field_label(str(k)), clinical_value(str(k), v)) for k, v in ctx.clinical.items())
    if not rows:
        return [Paragraph("No clinical fields.")]
    return [Table(("Field", "Value"), rows, widths_mm=(60, 120))]


def _measurements(ctx: ReportContext) -> list[Block]:
    summary = imaging_summary(ctx.metrics)
    rows = summary.levels
    totals = _totals(summary)
    blocks: list[Block] = [Subheading("Per level")]
    if rows:
        blocks.append(Table(
            ("Level", "Region", "Vertebra volume (ml)", "High-intensity volume (ml)",
             "HI ratio", "Lesions"),
            tuple((r.level, r.region, number(r.vertebra_volume_ml),
                   number(r.high_intensity_volume_ml), ratio_text(r.high_intensity_ratio),
                   number(r.lesion_count)) for r in rows),
            numeric=(2, 3, 4, 5), widths_mm=(20, 28, 35, 40, 30, 27),
            total=("Total", "", number(totals["vertebra_volume_ml"]),
                   number(totals["high_intensity_volume_ml"]),
                   ratio_text(totals["high_intensity_ratio"]), number(totals["lesion_count"])),
        ))
    else:
        blocks.append(Paragraph("No per-level measurements."))
    by_region = {k: v for k, v in summary.lesion_count_by_region.items() if v is not None}
    blocks.append(Subheading("Lesions by region"))
    blocks.append(Table(("Region", "Lesions"),
                        tuple((str(k), plain(v)) for k, v in by_region.items()),
                        numeric=(1,), widths_mm=(40, 25))
                  if by_region else Paragraph("No lesion counts by region."))
    blocks.append(Subheading("Summary"))
    blocks.append(KeyValueTable((
        (field_label("lesion_count"),
         plain(summary.lesion_count if summary.lesion_count is not None
               else totals["lesion_count"])),
        (field_label("involved_levels"), _involved_levels(summary)),
        (field_label("high_intensity_ratio"), ratio_text(totals["high_intensity_ratio"])),
        (field_label("max_level_high_intensity_ratio"),
         ratio_text(summary.max_level_high_intensity_ratio)),
    )))
    blocks.append(Paragraph("HI ratio = high-intensity volume / labelled vertebral volume.",
                            style="caption"))
    return blocks


def _prediction(ctx: ReportContext) -> list[Block]:
    pred = ctx.prediction
    category = plain(pred.get("category"))
    bars = tuple(Bar(name, ratio_text(p), None if p is None else min(max(p, 0.0), 1.0),
                     category_colour(name)) for name, p in _probabilities(pred))
    blocks: list[Block] = [
        CategoryBadge("Predicted pain category: ", category,
                      category_colour(category.lower())),
        BarChart(("Category", "Probability"), bars),
        Paragraph("Expected pain (VAS 0-10): ", strong=number(pred.get("expected_vas"), 1)),
    ]
    imputed = _imputed(pred)
    if imputed:
        blocks.append(Paragraph("Missing values imputed by the model: "
                                + ", ".join(field_label(n) for n in imputed) + "."))
    return blocks


def _with_imputed(text: str, imputed: bool) -> str:
    return f"{text} (imputed)" if imputed else text


def _step_label(step: WaterfallStep, imputed: set[str]) -> str:
    """``Bilsky grade = 1b``: the feature's label and its value as a clinician reads it."""
    if step.feature is None:
        return step.label
    label = field_label(step.feature)
    flagged = step.feature in imputed
    if is_missing(step.value):
        return _with_imputed(label, flagged)
    return _with_imputed(f"{label} = {feature_value(step.feature, step.value)}", flagged)


def waterfall_block(explanation: Mapping[str, Any], imputed: set[str] | None = None
                    ) -> Block:
    """The SHAP waterfall of ``explanation`` (``Explanation.to_dict()``) as a
    :class:`Waterfall` block (a :class:`Paragraph` saying so when it has no SHAP
    values): one bar per feature, largest first, labelled with the clinical value
    (``(imputed)`` for the features in ``imputed``, default the explanation's own)."""
    if imputed is None:
        imputed = set(_imputed(explanation))
    base, steps, output = waterfall_steps(explanation)
    if base is None or not steps:
        return Paragraph(_NO_SHAP)
    points = [base, *(s.end for s in steps)] + ([output] if output is not None else [])
    span = (max(points) - min(points)) or 1.0
    low, high = min(points) - 0.05 * span, max(points) + 0.05 * span  # 5 % padding
    return Waterfall(
        title="SHAP waterfall",
        bars=tuple(WaterfallBar(_step_label(s, imputed), s.start, s.end, signed(s.shap),
                                UP_COLOUR if s.shap >= 0 else DOWN_COLOUR) for s in steps),
        base=base, output=output, low=low, high=high,
        base_text=f"base {number(base, 3)}", output_label="Prediction f(x)",
        output_text=number(output, 3), low_text=number(low, 2), high_text=number(high, 2),
    )


def _explanation(ctx: ReportContext) -> list[Block]:
    expl = ctx.explanation
    imputed = set(_imputed(ctx.prediction)) | set(_imputed(expl))
    blocks: list[Block] = [
        KeyValueTable((("Base value (average prediction)", number(expl.get("base_value"), 3)),
                       ("Output value (this case)", number(expl.get("output_value"), 3)),
                       ("Output units", plain(expl.get("output_units")))),
                      widths_mm=(70, 110)),
        waterfall_block(expl, imputed),
    ]
    contributions = shap_contributions(expl)
    if contributions:
        blocks.append(Table(
            ("Feature", "Value", "SHAP"),
            tuple((field_label(c.name), _with_imputed(feature_value(c.name, c.value),
                                                      c.name in imputed), signed(c.shap))
                  for c in contributions),
            numeric=(1, 2), widths_mm=(80, 50, 50)))
    blocks.append(Paragraph("Red bars raise the predicted output, blue bars lower it; SHAP "
                            "values add up from the base value to the output value.",
                            style="caption"))
    return blocks


def _missing_safety(tier: Mapping[str, Any]) -> list[Block]:
    missing = tier.get("missing_safety_inputs") or []
    if not missing:
        return []
    names = ", ".join(field_label(str(m)) for m in missing)
    return [Paragraph(f"Not recorded, so their safety overrides could not be checked: {names}. "
                      "Record them before relying on this tier.", style="warn",
                      anchor="missing-safety-inputs")]


def _recommendation_text(item: Mapping[str, Any]) -> str:
    """A recommendation's sentence, led by its urgency when an override brought it."""
    text = plain(item.get("text"))
    urgency = item.get("urgency")
    return f"{str(urgency).upper()}: {text}" if urgency in ("soon", "urgent") else text


def _tier(ctx: ReportContext) -> list[Block]:
    tier = ctx.tier
    refs = _references(tier)
    rows = [("Tier", plain(tier.get("tier"))), ("Label", plain(tier.get("tier_label"))),
            ("Urgency", plain(tier.get("urgency")))]
    if "category" in tier:
        rows.append(("From pain category", plain(tier.get("category"))))
    if "headline" in tier:
        rows.append(("Headline", plain(tier.get("headline"))))
    recs = tuple(
        (_recommendation_text(item), _ref_marks(item.get("reference"), refs))
        if isinstance(item, Mapping) else (plain(item), MISSING)
        for item in tier.get("recommendations") or [])
    notes = [Paragraph(str(n)) for n in tier.get("notes") or []]
    overrides = tuple(_override_row(item, refs) for item in tier.get("overrides") or [])
    return [
        KeyValueTable(tuple(rows), widths_mm=(40, 140)),
        *_missing_safety(tier),
        Subheading("Recommendations"),
        CitedList(recs, ("Recommendation", "Ref.")) if recs else Paragraph("None."),
        *([Subheading("Notes"), *notes] if notes else []),
        Subheading("Overrides (outrank the tier)"),
        Table(("Rule", "Reason", "Urgency", "Action", "Ref."), overrides,
              widths_mm=(32, 55, 20, 55, 18)) if overrides
        else Paragraph("No override rule fired."),
        Subheading("References"),
        NumberedList(tuple(refs)) if refs else Paragraph("None."),
    ]


def _model(ctx: ReportContext) -> list[Block]:
    made_by = ctx.prediction.get("model_version", ctx.model_version)
    return [KeyValueTable((("Model version", plain(ctx.model_version)),
                           ("Prediction made by", plain(made_by))))]


def _provenance(ctx: ReportContext) -> list[Block]:
    rows = _flatten(ctx.provenance)
    rows.append(("report.generated_utc", utc_now_iso()))
    rows.extend((f"report.versions.{k}", v) for k, v in _report_versions().items())
    hashes = tuple(_input_hashes(ctx.provenance))
    blocks: list[Block] = []
    if hashes:
        blocks += [Subheading("Input hash"), KeyValueTable(hashes, mono=True)]
    return [*blocks, Subheading("Record"),
            Table(("Field", "Value"), tuple(rows), widths_mm=(60, 120), mono=True)]


_SECTION_BUILDERS = {
    "assessment": _assessment, "key-image": _key_image, "clinical": _clinical,
    "measurements": _measurements,
    "prediction": _prediction, "explanation": _explanation, "tier": _tier,
    "model": _model, "provenance": _provenance,
}


def _sections(ctx: ReportContext) -> tuple[Section, ...]:
    """:data:`SECTIONS` in order, and the trend (:data:`TREND_SECTION`) after the
    measurements when the patient has more than one study up to this one."""
    out = []
    for sid, name in SECTIONS:
        out.append(Section(sid, name, tuple(_SECTION_BUILDERS[sid](ctx))))
        if sid == "measurements" and len(ctx.trend.get("studies") or ()) > 1:
            out.append(Section(*TREND_SECTION, tuple(trend_blocks(ctx.trend))))
    return tuple(out)


def build_document(ctx: ReportContext) -> ReportDocument:
    """The report of one case as renderer-neutral blocks, sections in :data:`SECTIONS`
    order (plus the trend section for a patient with more than one study).

    Parameters
    ----------
    ctx : ReportContext
        The case.

    Returns
    -------
    ReportDocument
    """
    title = f"Case report {ctx.study_id}"
    meta = KeyValueTable((("Study", plain(ctx.study_id)), ("Patient", plain(ctx.patient_id)),
                          ("Study date", plain(ctx.study_date)),
                          ("Model version", plain(ctx.model_version))), widths_mm=(35, 145))
    return ReportDocument(
        title=title,
        heading=f"Spinal metastasis bone pain \u2014 {title}",
        meta=meta,
        notice=Notice(DECISION_SUPPORT_NOTICE),
        sections=_sections(ctx),
        synthetic_banner=(f"{SYNTHETIC_MARK} \u2014 demo case, not a real patient"
                          if ctx.synthetic else None),
        synthetic_mark=SYNTHETIC_MARK if ctx.synthetic else None,
        running_footer=(DECISION_SUPPORT_NOTICE, f"Study {ctx.study_id}",
                        f"Model {ctx.model_version}"),
    )
