"""The model card's design sections in plain words for clinicians (the Model page):
what the model reads and leaves out, the imposed directions (weight floors), the ridge
penalty's choice, the prediction set's coverage and the out-of-distribution checks.

Every number comes from the card (``excluded_predictors``, ``features[].inclusion``,
``model.weight_floor``, ``model.alpha_selection``, ``uncertainty``); values are shown as a
clinician reads them (:func:`core.features.display_feature`, field labels).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from core.features import FEATURES_BY_NAME, display_feature
from core.report.document import field_label
from core.vocab import number_text, percent
from ui.tables import static_table


def _labels(card: Mapping[str, Any]) -> dict[str, str]:
    return {f["name"]: f.get("label", field_label(f["name"])) for f in card.get("features", [])}


def excluded_frame(card: Mapping[str, Any]) -> pd.DataFrame:
    """What the model deliberately does not read, and why (clinical labels)."""
    fields = card.get("excluded_predictors", {}).get("fields", [])
    return pd.DataFrame({"Left out of the model": [field_label(f["name"]) for f in fields],
                         "Why": [f.get("reason", "") for f in fields]})


def inclusion_frame(card: Mapping[str, Any]) -> pd.DataFrame:
    """Each predictor and the rule that lets it in."""
    rows = card.get("features", [])
    return pd.DataFrame({"Predictor": [f.get("label", f["name"]) for f in rows],
                         "Why it may predict pain": [f.get("inclusion", "") for f in rows]})


def floor_frame(card: Mapping[str, Any]) -> pd.DataFrame:
    """Predictors with an imposed direction: their lower bound and fitted weight."""
    labels = _labels(card)
    rows = [r for r in card.get("model", {}).get("coefficients", [])
            if r.get("lower_bound") is not None]
    return pd.DataFrame({
        "Predictor": [labels.get(r["feature"], r["feature"]) for r in rows],
        "Never below (weight per SD)": [r["lower_bound"] for r in rows],
        "Fitted weight per SD": [r.get("weight_per_sd") for r in rows],
        "At its bound": ["yes" if r.get("at_bound") else "no" for r in rows],
    })


def alpha_frame(card: Mapping[str, Any]) -> pd.DataFrame:
    """The ridge penalties tried, with their cross-validated scores."""
    selection = card.get("model", {}).get("alpha_selection", {})
    chosen = selection.get("chosen")
    rows = selection.get("table", [])
    return pd.DataFrame({
        "Penalty α": [f"{r['alpha']:g}" + (" (chosen)" if r["alpha"] == chosen else "")
                      for r in rows],
        "Log loss (lower is better)": [r.get("log_loss") for r in rows],
        "Brier (lower is better)": [r.get("brier") for r in rows],
        "AUC macro": [r.get("auc_macro") for r in rows],
        "Balanced accuracy": [r.get("balanced_accuracy") for r in rows],
    })


def ranges_frame(card: Mapping[str, Any]) -> pd.DataFrame:
    """The training data's range of each predictor, as a clinician reads the values."""
    ranges = card.get("uncertainty", {}).get("out_of_distribution", {}).get("feature_ranges", {})
    labels = _labels(card)

    def shown(name: str, value: object) -> str:
        try:
            return display_feature(name, value) if name in FEATURES_BY_NAME else str(value)
        except ValueError:
            return str(value)

    return pd.DataFrame({
        "Predictor": [labels.get(n, n) for n in ranges],
        "Lowest in training": [shown(n, lo) for n, (lo, _) in ranges.items()],
        "Highest in training": [shown(n, hi) for n, (_, hi) in ranges.items()],
    })


def _pct(value: object) -> str:
    return "-" if value is None else percent(value)


def _num(value: object, digits: int) -> str:
    return "-" if value is None else number_text(value, digits)


def _uncertainty(card: Mapping[str, Any]) -> None:
    ps = card.get("uncertainty", {}).get("prediction_set", {})
    st.subheader("Uncertainty: the prediction set beside each category")
    if not ps:
        st.info("This model card states no prediction-set coverage.")
        return
    sizes = ps.get("set_size_fraction", {})
    st.markdown(
        f"Beside the predicted category every screen shows a **set of categories** that "
        f"holds the patient's true pain category for about **{_pct(ps.get('coverage'))}** "
        "of patients like the training ones (e.g. \"90 % set: moderate or severe\"). A "
        f"category enters the set when its probability is at least "
        f"**{_pct(ps.get('probability_threshold'))}** (conformal quantile "
        f"{_num(ps.get('quantile'), 3)}, from {ps.get('n_calibration', '-')} cross-validated "
        "studies). A wider set means the model is less sure; it says nothing about a "
        "single patient's true pain, which the recorded VAS does.")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Target coverage", _pct(ps.get("coverage")))
    m2.metric("Coverage measured", _pct(ps.get("empirical_coverage")),
              help="Share of the cross-validated studies whose true category was in the set.")
    m3.metric("On held-out patients", _pct(ps.get("coverage_held_out_patients")),
              help="The same on patients left out of the calibration.")
    m4.metric("Mean set size", f"{ps.get('mean_set_size', '-')}",
              help="Average number of categories in a set (1-3).")
    if sizes:
        st.caption("Sets of " + ", ".join(f"{k} categor{'y' if k == '1' else 'ies'}: "
                                          f"{percent(v)}" for k, v in sizes.items()) + ". "
                   + ps.get("method", "").capitalize() + ".")


def _ood(card: Mapping[str, Any]) -> None:
    ood = card.get("uncertainty", {}).get("out_of_distribution", {})
    st.subheader("When a case is unlike the training data")
    if not ood:
        st.info("This model card states no out-of-distribution checks.")
        return
    maha = ood.get("mahalanobis", {})
    seqs = ood.get("sequences", {})
    fov = ood.get("field_of_view", {})
    st.markdown(
        "A warning appears beside the estimate when a case lies outside what the model "
        "learnt from: a value beyond the training range below; an unusual **combination** "
        f"of values (Mahalanobis distance above {_num(maha.get('threshold'), 1)}, the "
        f"{maha.get('percentile', 99):g}th percentile of the training studies); or an image "
        f"sequence other than {', '.join(seqs.get('seen', [])) or '-'} or a field of view "
        f"outside the {', '.join(fov.get('regions', [])) or '-'} spine. The estimate is then "
        "an extrapolation: rely on the recorded findings and the overrides.")
    static_table(ranges_frame(card), key="model_ood_ranges")
    source = seqs.get("source") or fov.get("source")
    if source:
        st.caption(f"Sequences and field of view: {source}.")


def render_design(card: Mapping[str, Any]) -> None:
    """The design sections of the card, for clinicians."""
    st.subheader("What the model reads, and what it leaves out")
    rule = card.get("excluded_predictors", {}).get("rule")
    st.markdown("The model predicts pain from the **imaging burden** and findings that are "
                "**not themselves a response to pain or a pain score**. Today's analgesic "
                "step, prior radiotherapy, a bone-modifying agent, the SINS pain part, "
                "neuropathic pain and the recorded VAS shape the **advice** only: they would "
                "otherwise predict pain from pain." + (f" Rule: *{rule}*." if rule else ""))
    a, b = st.columns(2)
    with a:
        static_table(excluded_frame(card), key="model_excluded")
    with b:
        static_table(inclusion_frame(card), key="model_inclusion")

    model = card.get("model", {})
    st.subheader("Directions the model must respect")
    floor = model.get("weight_floor")
    st.markdown(
        "More metastatic sites or a higher HI ratio never lower the predicted pain, and a "
        "lumbar or sacral lesion counts more than a thoracic one, which counts more than a "
        "cervical one (Kong et al. 2025). The model keeps the weights of the site counts and "
        f"both HI ratios at or above a small floor ({floor if floor is not None else '-'} per "
        "SD) and every other finding that can only add pain at or above 0; age and ECOG are "
        "free. " + (model.get("weight_floor_reason", "").capitalize()
                    + "." if model.get("weight_floor_reason") else ""))
    static_table(floor_frame(card), key="model_floors")

    selection = model.get("alpha_selection", {})
    st.subheader("How much the model is smoothed")
    st.markdown(
        f"A ridge penalty (α = {model.get('alpha', '-')}) shrinks the weights so that "
        "correlated findings share them instead of one taking all. It was chosen by "
        f"repeated patient-grouped cross-validation: {selection.get('criterion', '-')}.")
    static_table(alpha_frame(card), key="model_alpha")

    _uncertainty(card)
    _ood(card)
