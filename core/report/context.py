"""What one case report shows: :class:`ReportContext`, and the report's file name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.report.png import png_size


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
        Clinical fields of the case (name -> value); model features are shown as a
        clinician reads them (Bilsky ``"1b"``, yes/no, ratios in %), other fields as given.
    metrics : dict
        ``StudyMetrics.to_dict()``: ``levels`` (list of ``{level, region,
        vertebra_volume_ml, high_intensity_volume_ml, high_intensity_ratio,
        lesion_count}``), ``lesion_count``, ``lesion_count_by_region``,
        ``involved_levels``, ``high_intensity_ratio``, ``max_level_high_intensity_ratio``.
    prediction : dict
        ``Prediction.to_dict()``: ``category``, ``probabilities`` (category ->
        probability), ``expected_vas``, ``imputed``, ``model_version``.
    explanation : dict
        ``Explanation.to_dict()``: ``feature_names``, ``values`` (model units),
        ``shap_values``, ``base_value``, ``output_value``, ``output_units``.
    tier : dict
        ``TierDecision.to_dict()``: ``headline``, ``headline_source``, ``tier``,
        ``tier_label``, ``urgency``, ``recommendations`` (``{code, text, reference}``,
        ``urgency`` when an override brought it), ``overrides`` (``{rule, reason, urgency,
        action, reference, codes}``), ``notes``, ``missing_safety_inputs``.
    model_version : str
        Version string of the model that made the prediction.
    provenance : dict
        Package versions, input hash (``input_sha256``), parameters, times.
    key_image_png : bytes or None
        PNG of the key slice with overlays (see :func:`core.report.rgb_to_png`), or None.
    key_image_caption : str
        Optional caption under the key image (plane, slice, overlay legend).
    assessment : dict
        What the assessment adds (:meth:`core.assess.Assessment.extras`):
        ``prediction_set``, ``coverage``, ``ood``, ``recorded_vas``, ``discordant``,
        ``discordance`` (sentence), ``context_warnings``. Empty by default: the report
        then reads the recorded VAS from ``clinical["vas"]`` and says that the prediction
        set and the out-of-distribution check are not available.
    trend : dict
        The patient's studies up to this one (:func:`core.report.trend.trend_context`:
        ``studies``, ``alerts``, ``thresholds``). With more than one study the report
        gains the "Trend across studies" section; empty by default.

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
    assessment: dict = field(default_factory=dict)
    trend: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("clinical", "metrics", "prediction", "explanation", "tier", "provenance",
                     "assessment", "trend"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                kind = type(value).__name__
                raise ValueError(f"ReportContext.{name} must be a dict, not {kind}.")
        if self.key_image_png is not None:
            png_size(self.key_image_png)


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
