"""The model card: what a trained model is for, how it was trained and how well it did.

:func:`build_card` turns one :class:`TrainingRun` into the JSON-serialisable card that
:func:`core.model.artifacts.save` writes as ``model_card.json`` (it adds the artifact
checksums). The key order of the card is part of the file format and stays fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

import core
from core.features import EXCLUDED_PREDICTORS, FEATURE_NAMES, FEATURES
from core.model.artifacts import BACKGROUND_FILE
from core.model.candidates import DEPLOYED_CANDIDATE
from core.model.cohort import CohortData
from core.model.evaluation import CALIBRATION_BINS, reliability_table, rounded
from core.model.ordinal import OUTPUT_UNITS, OrdinalLogisticRegression
from core.model.target import CATEGORIES, CUTOFF_SOURCES, VAS_CUTOFFS
from core.provenance import package_versions, utc_now_iso

#: Name of the deployed model family (prefix of the model version).
MODEL_NAME = "spinepain-ordinal"
#: Card warning when the ordinal model's CV macro AUC trails the best candidate by more.
AUC_WARNING_MARGIN = 0.03


@dataclass(frozen=True)
class TrainingRun:
    """Everything a training run produced that the card reports.

    Attributes
    ----------
    data : CohortData
        The training rows.
    cv : dict
        :func:`core.model.evaluation.cross_validate` output.
    pipeline : sklearn.pipeline.Pipeline
        The deployed pipeline fitted on all rows.
    background : pandas.DataFrame
        The SHAP background.
    seed, synthetic, n_repeats, n_splits, candidates
        The training arguments.
    data_sha256 : str
        Hash of the training file (or of the data frame).
    source, retrain_command : str or None
        File name and command recorded in the card.
    alpha_selection : dict
        :func:`core.model.evaluation.alpha_search` output (the ridge penalty's choice).
    uncertainty : dict
        ``prediction_set`` (:func:`core.model.uncertainty.calibrate_conformal`) and
        ``out_of_distribution`` (:func:`core.model.uncertainty.ood_reference`).
    """

    data: CohortData
    cv: dict[str, Any]
    pipeline: Pipeline
    background: pd.DataFrame
    seed: int
    synthetic: bool
    n_repeats: int
    n_splits: int
    candidates: Sequence[str]
    data_sha256: str
    source: str | None
    retrain_command: str | None
    alpha_selection: dict[str, Any]
    uncertainty: dict[str, Any]


def model_version(data_sha256: str, seed: int) -> str:
    """``spinepain-ordinal-<core version>-<data hash[:10]>-seed<seed>``."""
    return f"{MODEL_NAME}-{core.__version__}-{data_sha256[:10]}-seed{seed}"


def _purpose(synthetic: bool) -> dict[str, Any]:
    return {
        "data": ("synthetic demonstration cohort — not for clinical use" if synthetic
                 else "site data (see training_data); validate locally before use"),
        "synthetic": bool(synthetic),
        "intended_use": (
            "Decision support, not diagnosis: estimates the bone-pain category (VAS bands) of "
            "adults with spinal metastases from MRI lesion features and clinical fields, to "
            "prompt pain-management review. A clinician makes every decision."),
        "not_intended_for": [
            "diagnosing metastases, fractures or spinal cord compression",
            "replacing a pain assessment with the patient",
            "patients under 18 or pain not caused by spinal metastases",
        ],
        "limitations": [
            "Trained on " + (
                "synthetic data: the associations are illustrative only." if synthetic
                else "one data source; performance elsewhere is unknown."),
            "Lesion counts, involved levels and HI ratios are strongly correlated (Kong et al., "
            "Int J Med Sci 2025;22:708-715); weights are shared between them and a single "
            "weight should not be read as an independent effect.",
            "Association, not causation. Treatment (current analgesic step, prior radiotherapy, "
            "bone-modifying agent) is not an input because it follows pain (see "
            "excluded_predictors): the estimate is the pain expected from the imaging burden "
            "and pain-independent findings, not the pain under today's regimen; the advice "
            "compares it with the regimen.",
            "Missing features are replaced by training medians (reported per prediction).",
            "Proportional-odds assumption: one set of weights for both category boundaries.",
            "Studies of the same patient are correlated; CV groups by patient but the final fit "
            "treats studies as independent.",
        ],
    }


def _target(data: CohortData) -> dict[str, Any]:
    class_means = {c: rounded(float(data.vas[data.y == k].mean()))
                   for k, c in enumerate(CATEGORIES)}
    return {
        "name": "bone pain category from VAS (0-10)",
        "categories": list(CATEGORIES),
        "cutoffs": {"mild": "VAS < 4 (0-3)", "moderate": "4 <= VAS < 7 (4-6)",
                    "severe": "VAS >= 7 (7-10)"},
        "cutoff_values": list(VAS_CUTOFFS),
        "sources": list(CUTOFF_SOURCES),
        "expected_vas": "sum_k P(k) * class_mean_vas[k] (mean VAS of training studies "
                        "in each category)",
        "class_mean_vas": class_means,
        "predicted_category": "most probable category",
    }


def _training_data(run: TrainingRun) -> dict[str, Any]:
    data = run.data
    counts = np.bincount(data.y, minlength=len(CATEGORIES))
    return {
        "source": run.source or "data frame",
        "sha256": run.data_sha256,
        "n_rows": int(data.y.size),
        "n_rows_excluded_missing_vas": int(data.n_excluded_missing_vas),
        "n_patients": int(np.unique(data.groups).size),
        "class_counts": {c: int(counts[k]) for k, c in enumerate(CATEGORIES)},
        "missing_fraction": {n: rounded(float(np.isnan(data.X[:, j]).mean()), 4)
                             for j, n in enumerate(FEATURE_NAMES)},
    }


def _features() -> list[dict[str, Any]]:
    return [
        {"name": f.name, "label": f.label, "unit": f.unit, "kind": f.kind,
         "group": f.group, "range": [f.min_value, f.max_value],
         "monotone": f.monotone, "floor": f.floor, "description": f.description,
         "inclusion": f.inclusion}
        for f in FEATURES
    ]


def _excluded() -> dict[str, Any]:
    return {
        "rule": "a predictor describes the metastatic burden on imaging or pain-independent "
                "clinical context; nothing that is a response to pain (treatment) or scores "
                "pain is an input",
        "fields": [{"name": n, "reason": r} for n, r in EXCLUDED_PREDICTORS.items()],
    }


def _coefficients(pipeline: Pipeline) -> list[dict[str, Any]]:
    est = pipeline.named_steps["model"]
    scaler = pipeline.named_steps["scale"]
    imputer = pipeline.named_steps["impute"]
    out = []
    floor = float(est.weight_floor)
    for j, spec in enumerate(FEATURES):
        w = float(est.coef_[j])
        lower = floor if spec.floor else 0.0 if spec.monotone > 0 else None
        out.append({
            "feature": spec.name,
            "weight_per_sd": rounded(w),
            "weight_per_unit": rounded(w / scaler.scale_[j]),
            "odds_ratio_per_sd": rounded(float(np.exp(w))),
            "monotone": spec.monotone,
            "lower_bound": lower,
            "at_bound": bool(lower is not None and w <= lower + 1e-12),
            "median_imputation_value": rounded(float(imputer.statistics_[j])),
            "training_mean": rounded(float(scaler.mean_[j])),
            "training_sd": rounded(float(scaler.scale_[j])),
        })
    return out


def _model(pipeline: Pipeline) -> dict[str, Any]:
    est = pipeline.named_steps["model"]
    return {
        "type": "ordinal cumulative-logit (proportional-odds) model",
        "estimator": f"{OrdinalLogisticRegression.__module__}."
                     f"{OrdinalLogisticRegression.__qualname__}",
        "equation": "P(pain <= k) = sigmoid(theta_k - eta), eta = sum_j w_j * z_j, "
                    "z_j = (x_j - training_mean_j) / training_sd_j",
        "fit": "penalised maximum likelihood, scipy L-BFGS-B; bounds w_j >= weight_floor for "
               "floor features (nested site counts, HI ratios), w_j >= 0 for the other "
               "monotone features, free for age and ECOG",
        "weight_floor": float(est.weight_floor),
        "weight_floor_reason": (
            "the literature's direction is imposed on standardised weights (so raw-unit "
            "weights are > 0 too): the nested counts and the HI ratios are collinear, and "
            "with plain >= 0 bounds one of them takes the weight and the others are clipped "
            "to 0, so a finding would change nothing; the floor is small beside the fitted "
            "weights"),
        "alpha": est.alpha,
        "preprocessing": "median imputation (training medians) then standardisation",
        "coefficients": _coefficients(pipeline),
        "thresholds": {f"{CATEGORIES[k]}|{CATEGORIES[k + 1]}": rounded(float(t))
                       for k, t in enumerate(est.thresholds_)},
        "n_iter": est.n_iter_,
        "output_units": OUTPUT_UNITS,
    }


def _selection_warnings(cv: dict[str, Any], candidates: Sequence[str]) -> list[str]:
    """A warning when a candidate's CV macro AUC beats the deployed model's by a margin."""
    chosen_auc = cv["candidates"][DEPLOYED_CANDIDATE]["auc_macro"]["mean"]
    best_name = max(candidates, key=lambda c: cv["candidates"][c]["auc_macro"]["mean"] or -1.0)
    best_auc = cv["candidates"][best_name]["auc_macro"]["mean"]
    if (chosen_auc is not None and best_auc is not None
            and best_auc - chosen_auc > AUC_WARNING_MARGIN):
        return [
            f"{best_name} has a cross-validated macro AUC {best_auc - chosen_auc:.3f} higher than "
            "the deployed ordinal model; the monotone, interpretable model was kept by design - "
            "review before clinical use."]
    return []


def _selection(run: TrainingRun) -> dict[str, Any]:
    return {
        "chosen": DEPLOYED_CANDIDATE,
        "reasons": [
            "respects the order mild < moderate < severe with one weight per feature",
            "monotonicity of lesion counts, HI ratios, SINS without pain, Bilsky grade, "
            "fracture and deficit is enforced by bounds, with a positive floor for the "
            "nested site counts and HI ratios (HistGradientBoosting cannot constrain "
            "multiclass targets; multinomial logistic regression has unconstrained "
            "per-class weights)",
            "exact SHAP values on a single output (the latent eta) with "
            "shap.LinearExplainer",
        ],
        "warnings": _selection_warnings(run.cv, run.candidates),
        "metrics_note": "per-repeat metrics on out-of-fold predictions; AUC one-vs-rest; "
                        "Brier = mean_i sum_k (p_ik - y_ik)^2 (0 best, 2 worst)",
        "candidates": run.cv["candidates"],
    }


def _validation(run: TrainingRun) -> dict[str, Any]:
    """The cross-validation scheme and the pooled out-of-fold reliability table."""
    oof = np.vstack(run.cv["oof"][DEPLOYED_CANDIDATE])
    oof_y = np.tile(run.data.y, run.n_repeats)
    return {
        "cross_validation": {
            "scheme": "repeated StratifiedGroupKFold, groups = patient_id",
            "n_splits": run.n_splits,
            "n_repeats": run.n_repeats,
            "random_states": [run.seed + r for r in range(run.n_repeats)],
        },
        "calibration": {
            "model": DEPLOYED_CANDIDATE,
            "source": "pooled out-of-fold predictions of all repeats",
            "bins": CALIBRATION_BINS,
            "classes": reliability_table(oof_y, oof),
        },
    }


def build_card(run: TrainingRun) -> dict[str, Any]:
    """The model card of a training run (without ``artifacts``, which :func:`save` adds)."""
    return {
        "name": MODEL_NAME,
        "version": model_version(run.data_sha256, run.seed),
        "trained_utc": utc_now_iso(),
        **_purpose(run.synthetic),
        "target": _target(run.data),
        "training_data": _training_data(run),
        "features": _features(),
        "excluded_predictors": _excluded(),
        "model": {**_model(run.pipeline), "alpha_selection": run.alpha_selection},
        "selection": _selection(run),
        **_validation(run),
        "uncertainty": run.uncertainty,
        "explanation": {
            "method": "shap.LinearExplainer (interventional; exact for a linear eta)",
            "output_units": OUTPUT_UNITS,
            "background": f"{BACKGROUND_FILE}: {len(run.background)} weighted k-means "
                          "centroids of the imputed training rows (no individual rows stored)",
        },
        "library_versions": package_versions(),
        "seed": run.seed,
        "retrain_command": run.retrain_command or (
            "python -m core train --cohort COHORT.csv --out models/NAME --seed "
            f"{run.seed}{' --synthetic' if run.synthetic else ''}"),
    }
