"""Model card rendering and retraining on an uploaded cohort."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.clinical import ClinicalImport, load_clinical_table
from core.model import load_model, save, train
from core.provenance import sha256_bytes
from core.vocab import percent, yes_no
from ui import charts, model_design, session
from ui import components as c
from ui.tables import static_table

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
CV_CHOICES = {"quick": (1, 3), "full": (5, 5)}


#: Column titles of the CV metrics (the card stores the metric names).
METRIC_LABELS = {
    "balanced_accuracy": "Balanced accuracy", "auc_mild": "AUC mild",
    "auc_moderate": "AUC moderate", "auc_severe": "AUC severe",
    "auc_macro": "AUC macro", "brier": "Brier (lower is better)",
}
CANDIDATE_LABELS = {
    "ordinal_logit": "Ordinal logistic", "multinomial_logit": "Multinomial logistic",
    "hist_gradient_boosting": "Gradient boosting",
}


def metrics_table(card: Mapping[str, Any]) -> pd.DataFrame:
    """Cross-validated metrics of every candidate: mean ± SD per metric."""
    rows = []
    chosen = card.get("selection", {}).get("chosen")
    for name, metrics in (card.get("selection", {}).get("candidates") or {}).items():
        row: dict[str, Any] = {"Candidate": CANDIDATE_LABELS.get(name, name)
                               + (" (deployed)" if name == chosen else "")}
        for metric, summary in metrics.items():
            mean, sd = summary.get("mean"), summary.get("sd")
            row[METRIC_LABELS.get(metric, metric.replace("_", " ").capitalize())] = (
                "-" if mean is None else f"{mean:.3f} ± {sd or 0:.3f}")
        rows.append(row)
    return pd.DataFrame(rows)


def features_table(card: Mapping[str, Any]) -> pd.DataFrame:
    """Features with units, ranges, monotonicity, missing fraction and weights."""
    coefs = {r["feature"]: r for r in card.get("model", {}).get("coefficients", [])}
    missing = card.get("training_data", {}).get("missing_fraction", {})
    rows = []
    for f in card.get("features", []):
        coef = coefs.get(f["name"], {})
        rows.append({
            "Feature": f.get("label", f["name"]),
            "Name": f["name"],
            "Unit": f.get("unit", ""),
            "Range": "–".join(f"{v:g}" for v in f.get("range", [])),
            "Group": f.get("group", ""),
            "Monotone (more → never less pain)": yes_no(True) if f.get("monotone") == 1 else "",
            "Lower bound": coef.get("lower_bound"),
            "Weight per SD": coef.get("weight_per_sd"),
            "OR per SD": coef.get("odds_ratio_per_sd"),
            "Median (imputation)": coef.get("median_imputation_value"),
            "Missing in training": (None if missing.get(f["name"]) is None
                                    else percent(missing[f["name"]])),
            "Description": f.get("description", ""),
        })
    return pd.DataFrame(rows)


#: Drawn width (px) of the card's figures.
FIGURE_WIDTH = {"reliability": 380, "coefficients": 300}


def _build_card_chart(card: Mapping[str, Any], name: str) -> Any:
    if name == "reliability":
        chart = charts.reliability_diagram(card.get("calibration", {}).get("classes", {}))
    else:
        labels = {f["name"]: f.get("label", f["name"]) for f in card.get("features", [])}
        chart = charts.coefficient_bars(card.get("model", {}).get("coefficients", []), labels)
    return chart.properties(width=FIGURE_WIDTH[name])


@st.cache_data(show_spinner=False, max_entries=32)
def _card_chart(version: str, trained_utc: str, name: str, _card: Mapping[str, Any]) -> str:
    return charts.chart_spec(_build_card_chart(_card, name))


@st.cache_data(show_spinner=False, max_entries=32)
def _card_figure(version: str, trained_utc: str, name: str, _card: Mapping[str, Any]) -> str:
    return charts.chart_svg(_card_chart(version, trained_utc, name, _card))


def _check_name(name: str) -> None:
    if name not in FIGURE_WIDTH:
        raise ValueError(f"card chart {name!r} is not 'reliability' or 'coefficients'.")


def card_figure(card: Mapping[str, Any], name: str) -> str:
    """A card's ``reliability`` diagram or ``coefficients`` bars as SVG text (its
    Vega-Lite spec, :func:`ui.charts.chart_spec`, drawn by vl-convert), once per model
    version. The
    card's figures are documentation of a fixed model, so the page shows them as images:
    each interactive chart cost the browser about as much as the rest of the page."""
    _check_name(name)
    return _card_figure(str(card.get("version", "")), str(card.get("trained_utc", "")),
                        name, card)


#: The Model page's parts below the model in use (key -> label); one is drawn per run.
SECTIONS: dict[str, str] = {"card": "Model card", "design": "How it was designed",
                            "train": "Train a site model"}
SECTION_KEY = "model_section"


def section_choice() -> str:
    """The part of the Model page to draw (kept across page switches): the card, its
    design in plain words, or retraining. All three at once were about 70 elements,
    nine tables and two charts for the browser to draw on every visit."""
    return str(st.segmented_control(
        "Part", list(SECTIONS), default="card", required=True, key=SECTION_KEY,
        format_func=SECTIONS.get, persist_state=session.KEEP, label_visibility="collapsed"))


def render_design(card: Mapping[str, Any]) -> None:
    """The card's design sections for clinicians (:func:`ui.model_design.render_design`)."""
    model_design.render_design(card)


def reliability_table(classes: Mapping[str, Any]) -> pd.DataFrame:
    """The reliability diagram's points as a table (category, bin, studies, mean
    predicted probability, observed fraction)."""
    rows = charts.reliability_frame(classes)
    return pd.DataFrame({
        "Category": rows["category"],
        "Bin": [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(rows["lower"], rows["upper"],
                                                        strict=True)],
        "Studies": rows["n"],
        "Mean predicted": rows["mean_predicted"].round(3),
        "Observed fraction": rows["observed_fraction"].round(3),
    })


def render_identity(card: Mapping[str, Any]) -> None:
    """The model's name and version and whether it was trained on synthetic or site
    data (above every part of the Model page)."""
    synthetic = bool(card.get("synthetic"))
    st.html(f'<div class="dss-mid" data-testid="model-card-version">{card.get("name", "")} · '
            f'{card.get("version", "?")}</div>')
    if synthetic:
        c.synthetic_badge(True, "model trained on synthetic data")
        st.warning("Demo model trained on a SYNTHETIC cohort: illustrative only, not for "
                   "clinical use.", icon=":material/science:")
    else:
        st.success("Site model: trained on local data. Validate it locally before use.",
                   icon=":material/local_hospital:")


def warm_views(model_dir: Path) -> None:
    """Draw the card figures of the model in ``model_dir`` into their cache
    (:mod:`ui.warmup`; vl-convert takes about half a second a figure)."""
    card = load_model(model_dir).card
    for name in FIGURE_WIDTH:
        card_figure(card, name)


def render_card(card: Mapping[str, Any]) -> None:
    """The model card: intended use, data, metrics, calibration, features (its identity:
    :func:`render_identity`)."""
    st.markdown(f"**Training data:** {card.get('data', '-')}  \n"
                f"**Trained:** {card.get('trained_utc', '-')} · **seed** {card.get('seed', '-')}")

    st.subheader("Intended use")
    st.markdown(card.get("intended_use", "-"))
    cols = st.columns(2)
    with cols[0]:
        st.markdown("**Not intended for**")
        for item in card.get("not_intended_for", []):
            st.markdown(f"- {item}")
    with cols[1]:
        st.markdown("**Limitations**")
        for item in card.get("limitations", []):
            st.markdown(f"- {item}")

    st.subheader("Training data")
    data = card.get("training_data", {})
    t = card.get("target", {})
    m1, m2, m3 = st.columns(3)
    m1.metric("Studies", data.get("n_rows", "-"))
    m2.metric("Patients", data.get("n_patients", "-"))
    m3.metric("Excluded (no VAS)", data.get("n_rows_excluded_missing_vas", "-"))
    counts = data.get("class_counts", {})
    st.markdown("**Pain categories:** " + ", ".join(
        f"{k} {t.get('cutoffs', {}).get(k, '')}: {v}" for k, v in counts.items()))
    st.caption(f"Source {data.get('source', '-')} · SHA-256 {str(data.get('sha256', '-'))[:16]}…")

    st.subheader("Performance (cross-validated)")
    cv = card.get("cross_validation", {})
    st.caption(f"{cv.get('scheme', '')}: {cv.get('n_repeats', '?')} × {cv.get('n_splits', '?')}"
               f" folds. {card.get('selection', {}).get('metrics_note', '')}")
    static_table(metrics_table(card), key="model_metrics")
    for warning in card.get("selection", {}).get("warnings", []):
        st.warning(warning)
    with st.expander("Why this model"):
        for reason in card.get("selection", {}).get("reasons", []):
            st.markdown(f"- {reason}")

    st.subheader("Calibration")
    calib = card.get("calibration", {})
    a, b = st.columns([1.4, 1])
    with a:
        st.image(card_figure(card, "reliability"), width="content")
    with b:
        st.caption(f"{calib.get('source', '')}; {calib.get('bins', '?')} equal-width bins. "
                   "Points on the diagonal are perfectly calibrated; size = studies in bin.")
        ece = {k: v.get("ece") for k, v in calib.get("classes", {}).items()}
        static_table(pd.DataFrame({"Category": list(ece),
                                   "Expected calibration error": list(ece.values())}),
                     key="model_ece")
        with st.expander("The diagram's bins"):
            static_table(reliability_table(calib.get("classes", {})),
                         key="model_reliability_bins")

    st.subheader("Features and weights")
    st.markdown(f"`{card.get('model', {}).get('equation', '')}`")
    a, b = st.columns([1, 1.4])
    with a:
        st.image(card_figure(card, "coefficients"), width="content")
    with b:
        static_table(features_table(card), key="model_features", max_height_px=430)
    with st.expander("Explanation method and reproducibility"):
        st.markdown(f"**SHAP:** {card.get('explanation', {}).get('method', '-')}  \n"
                    f"**Output units:** {card.get('explanation', {}).get('output_units', '-')}  \n"
                    f"**Background:** {card.get('explanation', {}).get('background', '-')}  \n"
                    f"**Retrain:** `{card.get('retrain_command', '-')}`")
        st.json(card.get("library_versions", {}), expanded=False)


def check_model_name(name: str) -> Path:
    """Folder for a new model; refuses bad names and existing folders (one sentence)."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise ValueError(f"model name {name!r} must be 1-40 letters, digits, '-' or '_', "
                         "starting with a letter or digit.")
    folder = session.new_model_dir(name)
    if folder.exists():
        raise ValueError(f"a model named {name!r} already exists; choose a new name "
                         "(models are versioned, never overwritten).")
    return folder


def read_training_table(data: bytes, filename: str) -> ClinicalImport:
    """A cohort table for training, validated (:func:`core.clinical.load_clinical_table`:
    valid rows and every invalid cell). Raises ``ValueError`` for an unreadable file."""
    return load_clinical_table(data, filename)


def train_and_save(rows: pd.DataFrame, *, name: str, seed: int, synthetic: bool, cv: str,
                   source: str, data: bytes) -> dict[str, Any]:
    """Train a new model on validated rows and save it under ``models/<name>``; returns
    its card. ``data`` are the uploaded file's bytes (their SHA-256 goes on the card)."""
    folder = check_model_name(name)
    repeats, splits = CV_CHOICES[cv]
    model = train(rows.reset_index(drop=True), seed=int(seed), synthetic=bool(synthetic),
                  n_repeats=repeats, n_splits=splits, data_sha256=sha256_bytes(data),
                  source=source,
                  retrain_command=(f"python -m core train --cohort {source} --out "
                                   f"models/{name} --seed {int(seed)}"
                                   + (" --synthetic" if synthetic else "")))
    save(model, folder)
    return model.card
