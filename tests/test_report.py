"""Case report: HTML (self-contained, escaped) and PDF (parsable, notice on every page)."""

from __future__ import annotations

import base64
import html
import io
import itertools
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from core.explain import waterfall_steps
from core.report import (
    DECISION_SUPPORT_NOTICE,
    SECTIONS,
    SYNTHETIC_MARK,
    ReportContext,
    build_report_html,
    build_report_pdf,
    find_unicode_font,
    png_size,
    report_filename,
    rgb_to_png,
)

NOTICE_HEAD = "Decision support, not a diagnosis"
INJECTION = "<script>alert('x')</script>"


def _key_image() -> bytes:
    rgb = np.zeros((40, 64, 3), dtype=np.uint8)
    rgb[..., 1] = np.arange(64, dtype=np.uint8)[None, :] * 3
    rgb[10:20, 30:40] = (255, 0, 0)
    return rgb_to_png(rgb)


def make_context(**changes: object) -> ReportContext:
    ctx = ReportContext(
        study_id="S-0042",
        patient_id="P-0007",
        study_date="2025-03-01",
        synthetic=True,
        clinical={"age": 67, "ecog": 2, "bilsky_grade": "1b", "pathologic_fracture": True,
                  "sins_total": None, "primary_tumour": "breast"},
        metrics={
            "levels": [
                {"level": "C3", "region": "cervical", "vertebra_volume_ml": 5.2,
                 "high_intensity_volume_ml": 1.1, "high_intensity_ratio": 0.2115,
                 "lesion_count": 1},
                {"level": "L2", "region": "lumbar", "vertebra_volume_ml": 30.0,
                 "high_intensity_volume_ml": 0.0, "high_intensity_ratio": 0.0,
                 "lesion_count": 0},
            ],
            "lesion_count": 1,
            "lesion_count_by_region": {"cervical": 1, "thoracic": 0, "lumbar": 0, "sacral": 0},
            "involved_levels": ["C3"],
            "high_intensity_ratio": 1.1 / 35.2,
            "max_level_high_intensity_ratio": 0.2115,
        },
        prediction={"category": "moderate",
                    "probabilities": {"mild": 0.2, "moderate": 0.5, "severe": 0.3},
                    "expected_vas": 5.43, "imputed": ["sins_without_pain"],
                    "model_version": "demo-7"},
        explanation={"feature_names": ["age", "ecog", "sins_without_pain", "lesion_count"],
                     "values": [67, 2, None, 1], "shap_values": [0.1, -0.3, 0.5, 0.2],
                     "base_value": 4.9, "output_value": 5.4, "output_units": "expected VAS"},
        tier={"tier": 2, "tier_label": "Urgent review", "urgency": "within 1 week",
              "recommendations": [{"text": "Consider single-fraction radiotherapy 8 Gy",
                                   "reference": "Lutz 2017 ASTRO guideline"}],
              "overrides": [{"rule": "neuro_deficit", "reason": "New neurologic deficit",
                             "urgency": "same day", "action": "Whole-spine MRI",
                             "reference": "NICE NG234"}]},
        model_version="demo-7",
        provenance={"versions": {"numpy": "2.4.6"}, "input_sha256": "ab" * 32,
                    "image": {"input_sha256": "cd" * 32}},
        key_image_png=_key_image(),
        key_image_caption="Sagittal slice 20, lesions in red",
    )
    return replace(ctx, **changes) if changes else ctx


def _pdf_pages(data: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(data))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


# --------------------------------------------------------------------------- images


def test_rgb_to_png_round_trips_rgb_grey_and_rgba() -> None:
    rng = np.random.default_rng(0)
    for shape in ((7, 11, 3), (5, 9), (6, 4, 4)):
        array = rng.integers(0, 256, size=shape, dtype=np.uint8)
        png = rgb_to_png(array)
        assert png_size(png) == (shape[1], shape[0])
        decoded = np.asarray(Image.open(io.BytesIO(png)))
        np.testing.assert_array_equal(decoded, array)


def test_rgb_to_png_rejects_bad_arrays() -> None:
    with pytest.raises(ValueError, match="uint8"):
        rgb_to_png(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        rgb_to_png(np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="empty"):
        rgb_to_png(np.zeros((0, 4, 3), dtype=np.uint8))


def test_context_rejects_non_png_key_image_and_non_dict_fields() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        make_context(key_image_png=b"GIF89a" + b"\0" * 40)
    with pytest.raises(ValueError, match="metrics"):
        make_context(metrics=[1, 2])


# --------------------------------------------------------------------------- waterfall


def test_waterfall_steps_are_sorted_and_cumulative() -> None:
    base, steps, output = waterfall_steps(make_context().explanation)
    assert base == pytest.approx(4.9)
    assert [s.label for s in steps] == ["SINS without pain", "ECOG",
                                        "Metastatic sites (all levels)", "Age"]
    assert [round(s.shap, 6) for s in steps] == [0.5, -0.3, 0.2, 0.1]
    assert steps[0].start == pytest.approx(4.9)
    for before, after in itertools.pairwise(steps):
        assert after.start == pytest.approx(before.end)
    assert steps[-1].end == pytest.approx(5.4)
    assert output == pytest.approx(5.4)


def test_waterfall_groups_the_smallest_features() -> None:
    _, steps, _ = waterfall_steps(make_context().explanation, max_rows=2)
    assert [s.label for s in steps] == ["SINS without pain", "ECOG", "2 other features"]
    assert steps[-1].shap == pytest.approx(0.3)
    assert steps[-1].end == pytest.approx(5.4)


def test_waterfall_accepts_dicts_keyed_by_feature() -> None:
    base, steps, output = waterfall_steps(
        {"shap_values": {"age": -0.2, "ecog": 0.4}, "values": {"age": 70, "ecog": 3},
         "base_value": 1.0}
    )
    assert base == 1.0
    assert [s.label for s in steps] == ["ECOG", "Age"]
    assert output == pytest.approx(1.2)


# --------------------------------------------------------------------------- HTML


def test_html_has_every_section_notice_and_synthetic_mark() -> None:
    text = build_report_html(make_context())
    assert text.startswith("<!DOCTYPE html>")
    for section_id, title in SECTIONS:
        assert f'<section id="{section_id}">' in text
        assert f"<h2>{title}</h2>" in text
    assert text.count(DECISION_SUPPORT_NOTICE) == 2  # banner at the top and footer
    assert text.index(DECISION_SUPPORT_NOTICE) < text.index('<section id="key-image">')
    assert 'id="synthetic-mark"' in text and SYNTHETIC_MARK in text


def test_html_without_synthetic_flag_has_no_mark() -> None:
    text = build_report_html(make_context(synthetic=False))
    assert SYNTHETIC_MARK not in text
    assert DECISION_SUPPORT_NOTICE in text


def test_html_escapes_user_text() -> None:
    ctx = make_context(
        study_id='S1"><img src=x onerror=alert(1)>',
        clinical={"notes": INJECTION, "primary_tumour": "lung & <b>bone</b>"},
        tier={**make_context().tier,
              "overrides": [{"rule": "r", "reason": INJECTION, "urgency": "u",
                             "action": "a", "reference": "ref"}]},
    )
    text = build_report_html(ctx)
    assert "<script" not in text.lower()
    assert "<img src=x" not in text
    assert "<b>bone</b>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert text.count("&lt;script&gt;") == 2
    assert "lung &amp; &lt;b&gt;bone&lt;/b&gt;" in text
    assert "S1&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in text


def test_html_is_self_contained_with_the_key_image_inline() -> None:
    ctx = make_context()
    text = build_report_html(ctx)
    assert "<link" not in text and "<script" not in text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", text)
    assert urls and all(u.startswith("data:") for u in urls)
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert match is not None
    assert base64.b64decode(match.group(1)) == ctx.key_image_png
    assert "Sagittal slice 20, lesions in red" in text


def test_html_without_key_image_says_so() -> None:
    text = build_report_html(make_context(key_image_png=None))
    assert "No key image was attached" in text
    assert "data:image/png" not in text


def test_html_measurements_prediction_explanation_tier_and_provenance() -> None:
    text = build_report_html(make_context())
    measurements = text[text.index('<section id="measurements">'):
                        text.index('<section id="prediction">')]
    assert "<td>C3</td><td>cervical</td>" in measurements
    assert "<td>L2</td><td>lumbar</td>" in measurements
    # totals row: 5.2 + 30 ml, 1.1 ml, ratio 1.1 / 35.2 = 3.125 % -> 3.1%
    assert re.search(r'<tr class="total"><td>Total</td><td></td><td class="num">35.20</td>'
                     r'<td class="num">1.10</td><td class="num">3.1%</td>'
                     r'<td class="num">1</td></tr>', measurements)
    assert "21.1%" in measurements  # worst level
    assert '<td>cervical</td><td class="num">1</td>' in measurements
    prediction = text[text.index('<section id="prediction">'):
                      text.index('<section id="explanation">')]
    assert ">moderate</span>" in prediction
    for share in ("20.0%", "50.0%", "30.0%"):
        assert share in prediction
    assert "<b>5.4</b>" in prediction
    assert "imputed by the model: SINS without pain" in prediction
    explanation = text[text.index('<section id="explanation">'):
                       text.index('<section id="tier">')]
    assert "<svg" in explanation and explanation.count("<rect") == 4
    assert ("<td>SINS without pain</td><td class=\"num\">- (imputed)</td>"
            "<td class=\"num\">+0.500</td>") in explanation
    assert "4.900" in explanation and "expected VAS" in explanation
    tier = text[text.index('<section id="tier">'):text.index('<section id="model">')]
    for needle in ("Urgent review", "within 1 week", "New neurologic deficit",
                   "Whole-spine MRI", "Lutz 2017 ASTRO guideline", "NICE NG234"):
        assert needle in tier
    assert "demo-7" in text[text.index('<section id="model">'):]
    provenance = text[text.index('<section id="provenance">'):]
    assert "ab" * 32 in provenance and "cd" * 32 in provenance and "2.4.6" in provenance


def test_html_handles_empty_results() -> None:
    ctx = make_context(metrics={}, prediction={}, explanation={}, tier={}, clinical={},
                       provenance={}, key_image_png=None)
    text = build_report_html(ctx)
    assert "No per-level measurements." in text
    assert "No SHAP values available." in text
    assert "No override rule fired." in text
    assert DECISION_SUPPORT_NOTICE in text


# --------------------------------------------------------------------------- PDF


@pytest.mark.parametrize("unicode_font", [True, False], ids=["dejavu", "core-font"])
def test_pdf_parses_with_notice_on_every_page(unicode_font: bool) -> None:
    data = build_report_pdf(make_context(), unicode_font=unicode_font)
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata is not None and reader.metadata.title == "Case report S-0042"
    pages = _pdf_pages(data)
    assert len(pages) >= 2
    for page in pages:
        assert NOTICE_HEAD in page
        assert SYNTHETIC_MARK in page
    text = " ".join(pages)
    for needle in ("Key image", "Measurements", "Prediction", "Explanation",
                   "Management tier", "Provenance", "demo-7", "S-0042", "C3", "L2",
                   "35.20", "3.1%", "moderate", "50.0%", "5.4", "SINS without pain", "+0.500",
                   "Prediction f(x)", "NICE NG234", "New neurologic deficit", "ab" * 32):
        assert needle in text, needle
    images = [img for page in reader.pages for img in page.images]
    assert len(images) == 1


def test_pdf_without_synthetic_flag_or_image() -> None:
    data = build_report_pdf(make_context(synthetic=False, key_image_png=None))
    text = " ".join(_pdf_pages(data))
    assert SYNTHETIC_MARK not in text
    assert NOTICE_HEAD in text
    assert "No key image was attached" in text
    assert sum(len(p.images) for p in PdfReader(io.BytesIO(data)).pages) == 0


def test_pdf_core_font_replaces_non_latin_text() -> None:
    ctx = make_context(clinical={"notes": "肺癌 Ωμέγα café — ≥2 levels 😀"})
    text = " ".join(_pdf_pages(build_report_pdf(ctx, unicode_font=False)))
    assert "café - >=2 levels" in text
    assert "Ω" not in text and "肺" not in text


def test_pdf_unicode_font_keeps_greek_and_replaces_missing_glyphs() -> None:
    if find_unicode_font() is None:
        pytest.fail("DejaVu Sans is not installed: `make sysdeps` installs fonts-dejavu-core.",
                    pytrace=False)
    ctx = make_context(clinical={"notes": "肺癌 Ωμέγα café — ≥2 levels"})
    text = " ".join(_pdf_pages(build_report_pdf(ctx)))
    assert "Ωμέγα café — ≥2 levels" in text
    assert "肺" not in text


def test_pdf_uncompressed_and_empty_results() -> None:
    ctx = make_context(metrics={}, prediction={}, explanation={}, tier={}, clinical={},
                       provenance={}, key_image_png=None)
    data = build_report_pdf(ctx, unicode_font=False, compress=False)
    assert b"(No per-level measurements.) Tj" in data  # page streams are plain text
    compressed = build_report_pdf(ctx, unicode_font=False)
    assert b"No per-level measurements." not in compressed
    assert "No per-level measurements." in " ".join(_pdf_pages(compressed))
    text = " ".join(_pdf_pages(data))
    assert "No per-level measurements." in text
    assert "No SHAP values available." in text
    assert NOTICE_HEAD in text


def test_report_filename_is_safe() -> None:
    ctx = make_context(study_id="../S 1/<x>")
    assert report_filename(ctx, "pdf") == "spinepain-report-S_1_x.pdf"
    assert report_filename(ctx, ".HTML") == "spinepain-report-S_1_x.html"
    with pytest.raises(ValueError, match="extension"):
        report_filename(ctx, "exe")


def test_tier_references_are_split_numbered_and_missing_safety_inputs_shown() -> None:
    tier = {"tier": "2", "tier_label": "Moderate pain", "urgency": "soon",
            "category": "moderate",
            "recommendations": [{"text": "Step 2 analgesia", "reference": "WHO 2018 | ESMO 2018"},
                                {"text": "Radiotherapy", "reference": "ASTRO 2024"}],
            "overrides": [{"rule": "sins_unstable", "reason": "SINS total 14",
                           "urgency": "urgent", "action": "Spine surgery review",
                           "reference": "Fisher 2010 | WHO 2018"}],
            "missing_safety_inputs": ["bilsky_grade", "neurologic_deficit"]}
    text = build_report_html(make_context(tier=tier))
    section = text[text.index('<section id="tier">'):text.index('<section id="model">')]
    assert ("<ol><li>WHO 2018</li><li>ESMO 2018</li><li>ASTRO 2024</li>"
            "<li>Fisher 2010</li></ol>") in section
    assert "<li>Step 2 analgesia <i>[1, 2]</i></li>" in section
    assert "<td>Spine surgery review</td><td>[4, 1]</td>" in section
    assert "could not be checked: Bilsky grade, Neurologic deficit" in section
    pdf_text = " ".join(_pdf_pages(build_report_pdf(make_context(tier=tier))))
    assert "could not be checked: Bilsky grade, Neurologic deficit" in pdf_text
    assert "4. Fisher 2010" in pdf_text


def test_report_from_real_pipeline_outputs() -> None:
    """Phantom -> extract -> assess (model, explanation, advice) -> report, real dict shapes."""
    from core.assess import assess
    from core.lesions import extract
    from core.model import load_model
    from core.phantom import LesionSpec, make_spine_phantom

    phantom = make_spine_phantom(seed=3, levels=("L1", "L2", "L3"),
                                 lesions=(LesionSpec("L2", radius_mm=6.0),))
    metrics = extract(phantom.image, phantom.vertebrae, input_sha256="ef" * 32).metrics
    clinical = {"age": 61, "ecog": 1, "sins_total": 8, "bilsky_grade": "1a",
                "pathologic_fracture": False, "neurologic_deficit": "none",
                "prior_radiotherapy": False, "analgesic_step": 2, "vas": 6}
    case = {**metrics.to_dict(), **clinical}
    model = load_model()
    result = assess(model, case)
    prediction, explanation, tier = result.prediction, result.explanation, result.tier
    array = sitk_slice_rgb(phantom.image)
    ctx = ReportContext(
        study_id="PH-3", patient_id="PH", study_date="2025-01-01", synthetic=True,
        clinical=clinical, metrics=metrics.to_dict(), prediction=prediction.to_dict(),
        explanation=explanation.to_dict(), tier=tier.to_dict(),
        model_version=prediction.model_version,
        provenance=metrics.to_dict().get("provenance", {}), key_image_png=rgb_to_png(array),
        assessment=result.extras(),
    )
    html_text = build_report_html(ctx)
    for level in ("L1", "L2", "L3"):
        assert f"<td>{level}</td><td>lumbar</td>" in html_text
    assert prediction.model_version in html_text
    assert f">{prediction.category}</span>" in html_text
    assert "ef" * 32 in html_text
    _, steps, output = waterfall_steps(ctx.explanation)
    assert steps[-1].end == pytest.approx(explanation.output_value, abs=1e-6)
    assert output == pytest.approx(explanation.output_value)
    # SINS 8: the potentially-unstable override is the headline, first in the report
    assert tier.headline_source == "override"
    assessment = _section(html_text, "assessment")
    assert assessment.index(html.escape(tier.headline, quote=True)) < assessment.index(
        "Model estimate")
    assert "Recorded pain (VAS 0-10): <b>6 (moderate)</b>" in assessment
    pages = _pdf_pages(build_report_pdf(ctx))
    text = " ".join(pages)
    assert all(NOTICE_HEAD in page and SYNTHETIC_MARK in page for page in pages)
    assert prediction.model_version in text and "L2" in text
    assert tier.tier_label in text
    assert " ".join(tier.headline.split()) in text


def sitk_slice_rgb(image: object) -> np.ndarray:
    """Middle coronal slice of a phantom, windowed to uint8 RGB."""
    import SimpleITK as sitk

    array = sitk.GetArrayFromImage(image)  # type: ignore[arg-type]
    plane = array[:, array.shape[1] // 2, :]
    scaled = np.clip(plane / max(float(plane.max()), 1.0) * 255.0, 0, 255).astype(np.uint8)
    return np.repeat(scaled[::-1, :, None], 3, axis=2)


def test_flat_table_metrics_without_levels() -> None:
    metrics = {"levels": [], "lesion_count_cervical": 0, "lesion_count_thoracic": 2,
               "lesion_count_lumbar": 3, "lesion_count_sacral": 0, "lesion_count": 5,
               "involved_levels": 4, "high_intensity_ratio": 0.125,
               "max_level_high_intensity_ratio": 0.4}
    text = build_report_html(make_context(metrics=metrics))
    section = text[text.index('<section id="measurements">'):
                   text.index('<section id="prediction">')]
    assert "No per-level measurements." in section
    assert '<td>thoracic</td><td class="num">2</td><td>lumbar</td>' not in section
    assert '<tr><td>lumbar</td><td class="num">3</td></tr>' in section
    assert "<tr><td>Involved levels</td><td>4</td></tr>" in section
    assert "<tr><td>HI ratio (overall)</td><td>12.5%</td></tr>" in section
    assert "<tr><td>HI ratio (worst level)</td><td>40.0%</td></tr>" in section
    pdf_text = " ".join(_pdf_pages(build_report_pdf(make_context(metrics=metrics))))
    assert "lumbar 3" in pdf_text and "12.5%" in pdf_text


# ------------------------------------------------------------ review: PDF robustness


@pytest.mark.parametrize("unicode_font", [True, False], ids=["dejavu", "core-font"])
def test_pdf_survives_a_cell_taller_than_a_page(unicode_font: bool) -> None:
    # fpdf2 raises "row ... too high ... single page" for a table cell taller than a page
    # (a pasted clinical note, a long provenance value); the PDF shortens such cells, the
    # HTML keeps them whole.
    note = "pain since March " * 900
    lines = "\n".join(f"line {i}" for i in range(400))
    levels = [{"level": f"T{i}", "region": "thoracic", "vertebra_volume_ml": 20.0 + i,
               "high_intensity_volume_ml": 1.0, "high_intensity_ratio": 0.05,
               "lesion_count": 1} for i in range(25)]
    ctx = make_context(clinical={"notes": note, "history": lines},
                       metrics={"levels": levels, "lesion_count": 25},
                       provenance={"input_sha256": "ab" * 32, "parameters": {"note": "x" * 9000}},
                       tier={"tier": "2", "overrides": [{"rule": "r", "reason": "why " * 2000,
                                                         "urgency": "soon", "action": "a",
                                                         "reference": "ref"}]})
    data = build_report_pdf(ctx, unicode_font=unicode_font)
    text = " ".join(_pdf_pages(data))
    assert "T24" in text and "truncated" in text
    assert all(NOTICE_HEAD in page for page in _pdf_pages(data))
    assert note.strip() in build_report_html(ctx)


# ------------------------------------------------ clinical values, never model codes

_CODED = {"feature_names": ["bilsky_grade", "pathologic_fracture", "high_intensity_ratio", "age"],
          "values": [2.0, 1.0, 0.25, 70.0],  # Bilsky 1b is model code 2; yes is 1
          "shap_values": [0.4, 0.3, 0.2, -0.1],
          "base_value": 1.0, "output_value": 1.8, "output_units": "log-odds"}


def test_shap_table_shows_bilsky_grade_not_its_model_code_in_html_and_pdf() -> None:
    ctx = make_context(explanation=_CODED)
    text = build_report_html(ctx)
    section = text[text.index('<section id="explanation">'):text.index('<section id="tier">')]
    assert '<td>Bilsky grade</td><td class="num">1b</td><td class="num">+0.400</td>' in section
    assert '<td>Bilsky grade</td><td class="num">2</td>' not in section
    assert '<td>Pathologic fracture</td><td class="num">yes</td>' in section
    assert '<td>HI ratio (overall)</td><td class="num">25.0%</td>' in section
    assert ">Bilsky grade = 1b</text>" in section  # waterfall label
    assert "Bilsky grade = 2" not in section
    for unicode_font in (True, False):
        pdf_text = " ".join(_pdf_pages(build_report_pdf(ctx, unicode_font=unicode_font)))
        assert "Bilsky grade 1b +0.400" in pdf_text
        assert "Bilsky grade 2" not in pdf_text
        assert "Pathologic fracture yes +0.300" in pdf_text
        assert "HI ratio (overall) 25.0% +0.200" in pdf_text
        assert "Bilsky grade = 1b" in pdf_text


def test_clinical_fields_read_bilsky_as_recorded_and_truth_values_as_yes_no() -> None:
    for recorded, shown in (("1b", "1b"), ("2", "2"), (2, "2"), (0, "0")):
        ctx = make_context(clinical={"bilsky_grade": recorded, "pathologic_fracture": 1,
                                     "neurologic_deficit": False})
        section = build_report_html(ctx).split('<section id="clinical">')[1].split("</section>")[0]
        assert f"<tr><td>Bilsky grade</td><td>{shown}</td></tr>" in section, recorded
        assert "<tr><td>Pathologic fracture</td><td>yes</td></tr>" in section
        assert "<tr><td>Neurologic deficit</td><td>no</td></tr>" in section


# ------------------------------------------------ the assessment section: headline first

_ADVICE = {
    "tier": "2", "tier_label": "Tier 2 - moderate pain", "urgency": "urgent",
    "category": "moderate",
    "headline": "URGENT \u2014 suspected metastatic spinal cord compression: same-day spinal "
                "team / MSCC coordinator, dexamethasone 16 mg unless contraindicated, "
                "whole-spine MRI within 24 h",
    "headline_source": "override",
    "recommendations": [
        {"code": "mscc_pathway", "text": "Suspected MSCC: spinal team today.",
         "reference": "NICE NG234", "urgency": "urgent"},
        {"code": "analgesic_continue", "text": "Continue WHO step 2 (weak opioid).",
         "reference": "WHO 2018"}],
    "overrides": [{"rule": "mscc", "reason": "Neurologic deficit = new or progressive",
                   "urgency": "urgent", "action": "Spinal team today.",
                   "reference": "NICE NG234", "codes": ["mscc_pathway"]}],
    "notes": ["Known note: read the deficit as new or progressive."],
    "missing_safety_inputs": [],
}
_EXTRAS = {"prediction_set": ["moderate", "severe"], "coverage": 0.9,
           "ood": ["HI ratio (overall) 95.0% is above the training range (0-60%)."],
           "recorded_vas": 9.0, "discordant": True,
           "discordance": "Recorded VAS 9 (severe) is higher than the predicted moderate "
                          "pain: the recorded pain is what counts; check for another pain "
                          "source or a missing finding.",
           "context_warnings": ["neurologic_deficit was recorded as yes/no."]}


def _section(text: str, section_id: str) -> str:
    return text.split(f'<section id="{section_id}">')[1].split("</section>")[0]


def test_assessment_section_comes_first_with_the_override_headline_on_top() -> None:
    text = build_report_html(make_context(tier=_ADVICE, assessment=_EXTRAS))
    assert SECTIONS[0] == ("assessment", "Assessment")
    assert text.index('<section id="assessment">') < text.index('<section id="key-image">')
    section = _section(text, "assessment")
    first = section.split("</h2>", 1)[1]
    assert first.startswith('<p class="warn" id="headline"><b>URGENT \u2014 suspected')
    assert section.index("URGENT") < section.index("Model estimate") < section.index(
        ">moderate</span>")
    assert "Prediction set (coverage 90%): <b>moderate, severe</b>" in section
    assert "Recorded pain (VAS 0-10): <b>9 (severe)</b>" in section
    assert '<p class="warn" id="discordance">Recorded VAS 9 (severe) is higher' in section
    assert section.index("Recorded pain") < section.index("Recorded VAS 9")
    assert 'id="ood"' in section and "above the training range" in section
    assert "recorded as yes/no" in section
    pdf_text = " ".join(_pdf_pages(build_report_pdf(make_context(tier=_ADVICE,
                                                                 assessment=_EXTRAS))))
    assert pdf_text.index("URGENT") < pdf_text.index("Key image")
    for needle in ("Prediction set (coverage 90%): moderate, severe",
                   "Recorded pain (VAS 0-10): 9 (severe)", "Recorded VAS 9 (severe) is higher",
                   "above the training range"):
        assert needle in pdf_text, needle


def test_a_model_headline_is_not_a_warning_and_missing_extras_are_said() -> None:
    tier = {**_ADVICE, "headline": "Predicted moderate pain (VAS 4-6): continue the current "
                                   "regimen (WHO step 2)", "headline_source": "model",
            "overrides": [], "urgency": "routine"}
    ctx = make_context(tier=tier, clinical={"vas": 2, "bilsky_grade": "1b"})
    section = _section(build_report_html(ctx), "assessment")
    assert '<p id="headline"><b>Predicted moderate pain' in section
    assert "Prediction set: not available." in section
    assert "Out-of-distribution check: not available." in section
    # without the assessment's extras the recorded VAS comes from the clinical fields
    assert "Recorded pain (VAS 0-10): <b>2 (mild)</b>" in section
    assert '<p class="warn" id="discordance">Recorded VAS 2 (mild) is lower than the ' \
           "predicted moderate pain" in section
    agree = _section(build_report_html(make_context(tier=tier, clinical={"vas": 5},
                                                    assessment={"ood": []})), "assessment")
    assert '<p id="discordance">Recorded VAS 5 (moderate) agrees' in agree
    assert "Within the range of the model&#x27;s training data." in agree
    none = _section(build_report_html(make_context(tier=tier, clinical={})), "assessment")
    assert "Recorded pain (VAS 0-10): <b>not recorded</b>" in none
    assert "discordance" not in none


def test_tier_section_lists_headline_urgent_codes_first_notes_and_references() -> None:
    text = build_report_html(make_context(tier=_ADVICE, assessment=_EXTRAS))
    section = _section(text, "tier")
    assert "<td>Headline</td>" in section
    assert "<li>URGENT: Suspected MSCC: spinal team today. <i>[1]</i></li>" in section
    assert "<li>Continue WHO step 2 (weak opioid). <i>[2]</i></li>" in section
    assert "Known note: read the deficit as new or progressive." in section
    assert "<ol><li>NICE NG234</li><li>WHO 2018</li></ol>" in section


def test_clinical_fields_show_steps_and_deficit_states_in_words() -> None:
    ctx = make_context(clinical={"analgesic_step": 2, "neurologic_deficit": "stable",
                                 "sins_total": 9, "prior_radiotherapy": True})
    section = _section(build_report_html(ctx), "clinical")
    assert "<tr><td>Current WHO analgesic step</td><td>2 weak opioid</td></tr>" in section
    assert "<tr><td>Neurologic deficit</td><td>stable (known, unchanged)</td></tr>" in section
    assert "<tr><td>SINS total</td><td>9</td></tr>" in section
    assert "<tr><td>Prior radiotherapy</td><td>yes</td></tr>" in section


def test_context_rejects_a_non_dict_assessment() -> None:
    with pytest.raises(ValueError, match="assessment"):
        make_context(assessment=["moderate"])
