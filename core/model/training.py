"""Training: cohort -> cross-validated candidates -> fitted ordinal model with its card.

:func:`train` runs the steps in order: data (:func:`_training_data`), the ridge penalty
(:func:`core.model.evaluation.alpha_search`), cross-validation
(:func:`core.model.evaluation.cross_validate`), the final fit (:func:`fit_deployed`),
the SHAP background (:func:`shap_background`), the conformal calibration and
out-of-distribution reference (:mod:`core.model.uncertainty`) and the card
(:func:`core.model.card.build_card`). :func:`train_from_file` adds reading the cohort
file and saving the artifacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline

from core.features import FEATURE_NAMES
from core.model.artifacts import clear_cache, save
from core.model.candidates import CANDIDATES, DEPLOYED_CANDIDATE, make_estimator
from core.model.card import TrainingRun, build_card
from core.model.cohort import CohortData, cohort_to_arrays, frame_sha256, read_cohort
from core.model.evaluation import alpha_search, cross_validate
from core.model.ordinal import DEFAULT_ALPHA
from core.model.predictor import TrainedModel
from core.model.target import CATEGORIES
from core.model.uncertainty import (
    ASSUMED_REGIONS,
    ASSUMED_SEQUENCES,
    ASSUMED_SOURCE,
    calibrate_conformal,
    ood_reference,
)
from core.outputs import check_output_folder
from core.provenance import sha256_file

#: Number of weighted k-means centroids kept as SHAP background.
BACKGROUND_CENTROIDS = 20


def shap_background(pipeline: Pipeline, X: np.ndarray, seed: int) -> pd.DataFrame:
    """Weighted k-means summary of the imputed training rows (SHAP background).

    Centroids are computed on standardised rows and returned in raw units with
    ``weight`` = cluster share, so no individual patient's row is stored while the
    weighted mean (all a linear SHAP explainer uses) equals the training mean.
    """
    imputer, scaler = pipeline.named_steps["impute"], pipeline.named_steps["scale"]
    Z = scaler.transform(imputer.transform(X))
    k = int(min(BACKGROUND_CENTROIDS, len(np.unique(Z, axis=0))))
    km = KMeans(n_clusters=k, n_init=4, random_state=seed, algorithm="lloyd").fit(Z)
    counts = np.bincount(km.labels_, minlength=k)
    centres = np.vstack([Z[km.labels_ == c].mean(axis=0) for c in range(k)])
    raw = scaler.inverse_transform(centres)
    frame = pd.DataFrame(raw, columns=list(FEATURE_NAMES))
    frame["weight"] = counts / counts.sum()
    order = np.lexsort(raw.T[::-1])
    return frame.iloc[order].reset_index(drop=True)


def _training_data(cohort: pd.DataFrame, *, candidates: Sequence[str], n_repeats: int,
                   n_splits: int) -> CohortData:
    """Check the arguments, map the cohort and require enough patients per category."""
    if DEPLOYED_CANDIDATE not in candidates:
        raise ValueError(f"candidates must include {DEPLOYED_CANDIDATE!r}.")
    if n_splits < 2 or n_repeats < 1:
        raise ValueError("n_splits must be at least 2 and n_repeats at least 1.")
    data = cohort_to_arrays(cohort)
    for k, name in enumerate(CATEGORIES):
        patients = np.unique(data.groups[data.y == k]).size
        if patients < n_splits:
            raise ValueError(f"pain category {name!r} has {patients} patient(s); "
                             f"at least {n_splits} are needed for {n_splits}-fold CV.")
    return data


def fit_deployed(data: CohortData, *, seed: int, alpha: float = DEFAULT_ALPHA) -> Pipeline:
    """The deployed candidate's pipeline fitted on every training row."""
    return make_estimator(DEPLOYED_CANDIDATE, seed=seed, alpha=alpha).fit(data.X, data.y)


def _uncertainty(data: CohortData, cv: dict[str, Any], pipeline: Pipeline,
                 sequences: Sequence[str] | None,
                 regions: Sequence[str] | None) -> dict[str, Any]:
    """The card's conformal calibration and out-of-distribution reference."""
    given = sequences is not None or regions is not None
    return {
        "prediction_set": calibrate_conformal(cv["oof"][DEPLOYED_CANDIDATE], data.y,
                                              data.groups),
        "out_of_distribution": ood_reference(
            data.X, pipeline,
            sequences=ASSUMED_SEQUENCES if sequences is None else sequences,
            regions=ASSUMED_REGIONS if regions is None else regions,
            source="given at training" if given else ASSUMED_SOURCE),
    }


def train(cohort: pd.DataFrame, *, seed: int, synthetic: bool, n_repeats: int = 5,
          n_splits: int = 5, candidates: Sequence[str] = CANDIDATES,
          data_sha256: str | None = None, source: str | None = None,
          retrain_command: str | None = None, sequences: Sequence[str] | None = None,
          regions: Sequence[str] | None = None) -> TrainedModel:
    """Choose the ridge penalty, cross-validate the candidates, fit the deployed ordinal
    model and calibrate its prediction sets.

    Parameters
    ----------
    cohort : pandas.DataFrame
        One row per study: ``patient_id``, ``vas`` (0-10) and the columns
        :func:`core.features.features_from_case` reads.
    seed : int
        Seeds the CV splits, the gradient boosting candidate and the background
        k-means; the same seed and data give bit-identical artifacts.
    synthetic : bool
        Marks the card as synthetic demonstration data.
    n_repeats, n_splits : int
        Repeated stratified group k-fold (groups = ``patient_id``).
    candidates : sequence of str
        Compared models (names in :data:`core.model.candidates.REGISTRY`); must include
        ``ordinal_logit``.
    data_sha256, source, retrain_command : str, optional
        Recorded in the card (:func:`train_from_file` passes the file hash and name).
    sequences, regions : sequence of str, optional
        MRI sequences (hints such as ``STIR``, ``T2-FS``) and spine regions the training
        studies covered, for the out-of-distribution checks; default: whole-spine STIR /
        T2 fat-sat, stated in the card as assumed.

    Returns
    -------
    TrainedModel
    """
    data = _training_data(cohort, candidates=candidates, n_repeats=n_repeats,
                          n_splits=n_splits)
    alphas = alpha_search(data, seed=seed, n_repeats=n_repeats, n_splits=n_splits)
    cv = cross_validate(data, seed=seed, n_repeats=n_repeats, n_splits=n_splits,
                        candidates=candidates, alpha=alphas["chosen"])
    pipeline = fit_deployed(data, seed=seed, alpha=alphas["chosen"])
    background = shap_background(pipeline, data.X, seed)
    card = build_card(TrainingRun(
        data=data, cv=cv, pipeline=pipeline, background=background, seed=seed,
        synthetic=synthetic, n_repeats=n_repeats, n_splits=n_splits, candidates=candidates,
        data_sha256=data_sha256 or frame_sha256(cohort), source=source,
        retrain_command=retrain_command, alpha_selection=alphas,
        uncertainty=_uncertainty(data, cv, pipeline, sequences, regions)))
    return TrainedModel(pipeline=pipeline, card=card, background=background)


def train_from_file(path: str | Path, *, out_dir: str | Path, seed: int = 0,
                    synthetic: bool = False, n_repeats: int = 5,
                    n_splits: int = 5, force: bool = False) -> dict[str, Any]:
    """Train on a cohort file, save the artifacts to ``out_dir`` and return the card.

    ``out_dir`` is checked before training (:func:`core.outputs.check_output_folder`); a
    file standing at ``out_dir`` is replaced by the model folder only with ``force``.

    Raises
    ------
    ValueError
        When the file has invalid rows (the first few are named) or too few patients.
    """
    check_output_folder(out_dir, "--out", force=force)
    frame, errors = read_cohort(path)
    if errors:
        raise ValueError(f"{Path(path).name} has {len(errors)} invalid value(s), first: "
                         f"{errors[0]}; fix the file before training.")
    command = (f"python -m core train --cohort {path} --out {out_dir} --seed {seed}"
               + (" --synthetic" if synthetic else ""))
    model = train(frame, seed=seed, synthetic=synthetic, n_repeats=n_repeats,
                  n_splits=n_splits, data_sha256=sha256_file(path), source=Path(path).name,
                  retrain_command=command)
    if force and Path(out_dir).is_file():
        Path(out_dir).unlink()
    save(model, out_dir)
    clear_cache()
    return model.card
