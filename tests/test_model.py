"""core.model: ordinal estimator, training, card, persistence, monotonicity."""

from __future__ import annotations

import importlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import check_grad
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core import model as cm
from core.features import (
    EXCLUDED_PREDICTORS,
    FEATURE_NAMES,
    FEATURES,
    FEATURES_BY_NAME,
    FeatureVector,
    features_from_case,
    ordinal_to_bilsky,
)
from core.vocab import BILSKY_GRADES, DEFICIT_STATES

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "models" / "demo"
MONOTONE_NAMES = [f.name for f in FEATURES if f.monotone == 1]
FLOOR_NAMES = [f.name for f in FEATURES if f.floor]


def vector(units: dict) -> FeatureVector:
    """A FeatureVector from model-unit values (Bilsky as its 0-5 code, the deficit as its
    0-2 code), via the one constructor: the codes are turned back into their grades and
    states first."""
    raw = dict(units)
    code = raw.get("bilsky_grade")
    if code is not None and not (isinstance(code, float) and math.isnan(code)):
        raw["bilsky_grade"] = ordinal_to_bilsky(code)
    deficit = raw.get("neurologic_deficit")
    if deficit is not None and not (isinstance(deficit, float) and math.isnan(deficit)):
        raw["neurologic_deficit"] = DEFICIT_STATES[int(deficit)]
    return features_from_case(raw)


def make_cohort(n_patients: int = 150, seed: int = 0) -> pd.DataFrame:
    """Seeded synthetic cohort (one row per study, 1-3 studies per patient).

    Pain rises with every lesion (lumbar and sacral most, then thoracic, cervical least),
    the HI ratio and SINS without pain. Two artefacts a constrained model must not learn:
    the excess of the worst-level HI ratio over the overall ratio is *protective* (its
    floor holds the weight at ``WEIGHT_FLOOR``) and so is the Bilsky grade (its ``>= 0``
    bound holds the weight at 0). Treatment follows pain: the analgesic step and prior
    radiotherapy are drawn from the VAS, as is the SINS pain part. Some values are
    missing. Rows pass :func:`core.clinical.load_clinical_table`.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        frailty = rng.normal()
        sex = "F" if rng.random() < 0.5 else "M"
        for s in range(int(rng.integers(1, 4))):
            c, t, lum, sac = (int(rng.poisson(m)) for m in (0.8, 2.0, 1.2, 0.3))
            hi = float(np.clip(rng.beta(2, 8) + 0.03 * (c + t + lum), 0, 1))
            excess = float(rng.beta(2, 5)) * (1 - hi)
            worst = hi + excess
            sins_np = int(rng.integers(0, 16))
            bilsky = int(rng.integers(0, 6))
            eta = (0.5 * (lum + sac) + 0.2 * t + 0.1 * (c + t + lum + sac) + 4.0 * hi
                   + 0.12 * sins_np - 4.0 * excess - 0.3 * bilsky + frailty + rng.logistic())
            vas = int(np.clip(np.round(2.2 + eta), 0, 10))
            sins_pain = 3 if vas >= 6 else 1 if vas >= 3 else 0
            sins_known = rng.random() > 0.1
            rows.append({
                "patient_id": f"P{p:04d}", "study_date": f"2024-02-{s + 1:02d}",
                "age": int(rng.integers(35, 90)), "sex": sex, "vas": vas,
                "ecog": int(rng.integers(0, 5)),
                "analgesic_step": int(np.clip(round((vas - 2) / 2 + rng.normal(0, 0.5)), 0, 3)),
                "bone_modifying_agent": int(rng.random() < 0.4),
                "prior_radiotherapy": int(vas >= 6 and rng.random() < 0.6),
                "pathologic_fracture": int(rng.random() < 0.2),
                "neurologic_deficit": str(rng.choice(DEFICIT_STATES, p=[0.85, 0.1, 0.05])),
                "sins_pain": sins_pain if sins_known else np.nan,
                "sins_total": sins_np + sins_pain if sins_known else np.nan,
                "bilsky_grade": BILSKY_GRADES[bilsky] if rng.random() > 1 / 7 else "",
                "lesion_count_cervical": c, "lesion_count_thoracic": t,
                "lesion_count_lumbar": lum, "lesion_count_sacral": sac,
                "involved_levels": min(c + t + lum + sac, 30),
                "high_intensity_ratio": hi if rng.random() > 0.05 else np.nan,
                "max_level_high_intensity_ratio": worst, "synthetic": True,
            })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return make_cohort(150, seed=3)


@pytest.fixture(scope="module")
def trained(cohort: pd.DataFrame) -> cm.TrainedModel:
    return cm.train(cohort, seed=0, synthetic=True, n_repeats=1, n_splits=3)


@pytest.fixture(scope="module")
def demo_model() -> cm.TrainedModel:
    return cm.load_model()


# ---------------------------------------------------------------------------- target


@pytest.mark.parametrize(("vas", "category"), [
    (0, "mild"), (3, "mild"), (3.9, "mild"), (4, "moderate"), (6, "moderate"),
    (6.99, "moderate"), (7, "severe"), (10, "severe"),
])
def test_vas_bands(vas: float, category: str) -> None:
    assert cm.vas_to_category(vas) == category


@pytest.mark.parametrize("vas", [-0.1, 10.5, float("nan"), "high", None])
def test_vas_rejects(vas: object) -> None:
    with pytest.raises(ValueError, match="vas"):
        cm.vas_to_category(vas)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ estimator


def test_objective_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = rng.integers(0, 3, 60)
    for start in (np.array([0.1, -0.2, 0.3, 0.0, -0.5, 1.0]),
                  np.array([1.0, 0.5, -1.0, 2.0, 0.3, 0.05])):
        err = check_grad(lambda p: cm._ordinal_objective(p, X, y, 1.0, 2)[0],
                         lambda p: cm._ordinal_objective(p, X, y, 1.0, 2)[1], start)
        norm = np.linalg.norm(cm._ordinal_objective(start, X, y, 1.0, 2)[1])
        assert err < 1e-5 * max(norm, 1.0)


def test_ordinal_fit_recovers_known_model() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    X = rng.normal(size=(n, 3))
    true_w, true_theta = np.array([1.0, -0.7, 0.0]), np.array([-0.5, 1.2])
    latent = X @ true_w + rng.logistic(size=n)
    y = np.searchsorted(true_theta, latent)
    est = cm.OrdinalLogisticRegression(alpha=1e-6).fit(X, y)
    np.testing.assert_allclose(est.coef_, true_w, atol=0.1)
    np.testing.assert_allclose(est.thresholds_, true_theta, atol=0.1)
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert (proba > 0).all()
    assert set(est.predict(X)) <= {0, 1, 2}


def test_bounds_enforce_sign_that_the_data_contradict() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(800, 2))
    y = np.searchsorted([-0.5, 0.5], -1.0 * X[:, 0] + 0.8 * X[:, 1] + rng.logistic(size=800))
    free = cm.OrdinalLogisticRegression().fit(X, y)
    assert free.coef_[0] < -0.5  # the data really say "negative"
    bounded = cm.OrdinalLogisticRegression(monotone=(1, 0)).fit(X, y)
    assert bounded.coef_[0] == 0.0
    assert bounded.coef_[1] > 0.5
    negative = cm.OrdinalLogisticRegression(monotone=(0, -1)).fit(X, y)
    assert negative.coef_[1] == 0.0
    # a floor holds the weight at the positive floor, not at 0
    floored = cm.OrdinalLogisticRegression(monotone=(1, 0), floor=(True, False)).fit(X, y)
    assert floored.coef_[0] == cm.WEIGHT_FLOOR
    assert floored.coef_[1] > 0.5
    higher = cm.OrdinalLogisticRegression(monotone=(1, 0), floor=(True, False),
                                          weight_floor=0.2).fit(X, y)
    assert higher.coef_[0] == 0.2


def test_candidate_registry_is_the_one_list() -> None:
    assert cm.CANDIDATES == tuple(cm.REGISTRY) == (
        "ordinal_logit", "multinomial_logit", "hist_gradient_boosting")
    assert cm.DEPLOYED_CANDIDATE in cm.REGISTRY
    for name in cm.CANDIDATES:
        first, second = cm.make_estimator(name, seed=3), cm.make_estimator(name, seed=3)
        assert first is not second and hasattr(first, "predict_proba")
        assert clone(first).get_params(deep=False).keys() == first.get_params(deep=False).keys()
    deployed = cm.make_estimator()
    assert isinstance(deployed.named_steps["model"], cm.OrdinalLogisticRegression)
    assert deployed.named_steps["model"].monotone == cm.MONOTONE
    assert deployed.named_steps["model"].floor == cm.FLOOR
    assert [n for n, f in zip(FEATURE_NAMES, cm.FLOOR, strict=True) if f] == [
        "lesion_count", "lesion_count_noncervical", "lesion_count_lumbosacral",
        "high_intensity_ratio", "max_level_high_intensity_ratio"]
    with pytest.raises(ValueError, match="unknown candidate 'svm'"):
        cm.make_estimator("svm")


def test_model_package_never_imports_explain() -> None:
    """core.explain imports core.model, never the reverse (no cycle, not even lazily)."""
    code = ("import sys, core.model as m; m.load_model(); "
            "assert 'core.explain' not in sys.modules, 'core.explain'; "
            "assert 'core.assess' not in sys.modules, 'core.assess'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


def test_estimator_is_sklearn_compatible() -> None:
    est = cm.OrdinalLogisticRegression(alpha=2.0, monotone=(1, 0))
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(ValueError, match="monotone"):
        cm.OrdinalLogisticRegression(monotone=(1,)).fit(np.zeros((6, 2)), [0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="two classes"):
        cm.OrdinalLogisticRegression().fit(np.zeros((4, 2)), [1, 1, 1, 1])
    data = (np.zeros((6, 2)), [0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="floor applies only to features with monotone"):
        cm.OrdinalLogisticRegression(monotone=(0, 1), floor=(True, False)).fit(*data)
    with pytest.raises(ValueError, match="floor must hold 2 values"):
        cm.OrdinalLogisticRegression(monotone=(1, 1), floor=(True,)).fit(*data)
    with pytest.raises(ValueError, match=r"weight_floor 0\.0 must be positive"):
        cm.OrdinalLogisticRegression(monotone=(1, 1), floor=(True, True),
                                     weight_floor=0.0).fit(*data)


# ------------------------------------------------------------------------- training


def test_cv_splits_never_share_a_patient(cohort: pd.DataFrame) -> None:
    data = cm.cohort_to_arrays(cohort)
    assert len(np.unique(data.groups)) < data.y.size  # several studies per patient
    repeats = cm.cv_splits(data, seed=0, n_repeats=2, n_splits=3)
    assert len(repeats) == 2
    for folds in repeats:
        seen = np.concatenate([test for _, test in folds])
        assert sorted(seen) == list(range(data.y.size))
        for train_idx, test_idx in folds:
            assert not set(data.groups[train_idx]) & set(data.groups[test_idx])


def test_card_contents(trained: cm.TrainedModel, cohort: pd.DataFrame) -> None:
    card = trained.card
    assert card["data"] == "synthetic demonstration cohort — not for clinical use"
    assert card["intended_use"].startswith("Decision support, not diagnosis")
    assert card["target"]["cutoff_values"] == [4.0, 7.0]
    td = card["training_data"]
    assert td["n_rows"] == len(cohort) == sum(td["class_counts"].values())
    assert td["n_patients"] == cohort["patient_id"].nunique()
    assert len(td["sha256"]) == 64
    assert [f["name"] for f in card["features"]] == list(FEATURE_NAMES)
    assert all(f["unit"] and f["description"] and f["inclusion"] for f in card["features"])
    # predictors that contain the outcome are out, each with its reason
    excluded = {e["name"]: e["reason"] for e in card["excluded_predictors"]["fields"]}
    assert excluded == dict(EXCLUDED_PREDICTORS)
    assert {"analgesic_step", "prior_radiotherapy", "sins_total"} <= set(excluded)
    assert "treatment follows pain" in excluded["analgesic_step"]
    assert "pain component" in excluded["sins_total"]
    assert not set(excluded) & set(FEATURE_NAMES)
    assert card["library_versions"]["scikit-learn"]
    assert card["seed"] == 0
    means = card["target"]["class_mean_vas"]
    assert means["mild"] < 4 <= means["moderate"] < 7 <= means["severe"]
    for name in cm.CANDIDATES:
        metrics = card["selection"]["candidates"][name]
        for key in ("balanced_accuracy", "auc_mild", "auc_moderate", "auc_severe",
                    "auc_macro", "brier"):
            assert metrics[key]["mean"] is not None
        assert 0 <= metrics["brier"]["mean"] <= 2
    assert card["selection"]["chosen"] == "ordinal_logit"
    calib = card["calibration"]["classes"]
    for cat in cm.CATEGORIES:
        assert len(calib[cat]["bins"]) == 10
        assert sum(b["n"] for b in calib[cat]["bins"]) == td["n_rows"]
    coefs = {c["feature"]: c for c in card["model"]["coefficients"]}
    assert all(coefs[n]["weight_per_sd"] >= 0 for n in MONOTONE_NAMES)
    assert all(coefs[n]["weight_per_sd"] >= cm.WEIGHT_FLOOR for n in FLOOR_NAMES)
    assert card["model"]["weight_floor"] == cm.WEIGHT_FLOOR
    # the synthetic "protective" worst-level HI ratio is held at its floor, the
    # protective Bilsky grade at 0
    assert coefs["max_level_high_intensity_ratio"]["weight_per_sd"] == cm.WEIGHT_FLOOR
    assert coefs["max_level_high_intensity_ratio"]["at_bound"] is True
    assert coefs["max_level_high_intensity_ratio"]["lower_bound"] == cm.WEIGHT_FLOOR
    assert coefs["bilsky_grade"]["weight_per_sd"] == 0.0
    assert coefs["bilsky_grade"]["at_bound"] is True
    # the lumbar/sacral effect is learnt above the floor
    assert coefs["lesion_count_lumbosacral"]["weight_per_sd"] > cm.WEIGHT_FLOOR
    assert coefs["lesion_count_lumbosacral"]["at_bound"] is False
    assert coefs["age"]["lower_bound"] is None and coefs["age"]["at_bound"] is False
    # the ridge penalty was chosen by CV on the grid and is the deployed one
    alphas = card["model"]["alpha_selection"]
    assert [row["alpha"] for row in alphas["table"]] == list(cm.ALPHA_GRID)
    best = min(alphas["table"], key=lambda row: row["log_loss"])
    assert alphas["chosen"] == best["alpha"] == card["model"]["alpha"]
    assert trained.estimator.alpha == alphas["chosen"]
    json.dumps(card, allow_nan=False)


def test_training_rejects_bad_cohorts(cohort: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="patient_id"):
        cm.train(cohort.drop(columns="patient_id"), seed=0, synthetic=True)
    bad = cohort.copy()
    bad.loc[bad.index[5], "vas"] = 12
    with pytest.raises(ValueError, match="row 6"):
        cm.train(bad, seed=0, synthetic=True)
    few = cohort[cohort["vas"] < 7].copy()
    few = pd.concat([few, cohort[cohort["vas"] >= 7].head(1)])
    with pytest.raises(ValueError, match="severe"):
        cm.train(few, seed=0, synthetic=True, n_splits=3)
    empty = cohort.copy()
    empty["age"] = np.nan
    with pytest.raises(ValueError, match="age"):
        cm.train(empty, seed=0, synthetic=True)


def test_rows_without_vas_are_excluded_and_counted(cohort: pd.DataFrame) -> None:
    frame = cohort.copy()
    frame["vas"] = frame["vas"].astype(float)
    frame.loc[frame.index[:4], "vas"] = np.nan
    data = cm.cohort_to_arrays(frame)
    assert data.n_excluded_missing_vas == 4
    assert data.y.size == len(frame) - 4


# ------------------------------------------------------------------------ predicting


def _rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lows = np.array([f.min_value for f in FEATURES])
    highs = np.array([min(f.max_value, 12) if f.kind == "count" else f.max_value
                      for f in FEATURES])
    X = lows + rng.random((n, len(FEATURES))) * (highs - lows)
    X[rng.random(X.shape) < 0.15] = np.nan
    return X


def test_fast_path_matches_pipeline(trained: cm.TrainedModel) -> None:
    X = _rows(40, seed=4)
    expected = trained.pipeline.predict_proba(X)
    rows = cm.predict_rows(trained, X)
    means = trained.cache["arrays"]["class_mean_vas"]
    np.testing.assert_allclose(rows.probabilities, expected, rtol=0, atol=1e-12)
    assert list(rows.categories) == [cm.CATEGORIES[int(np.argmax(p))] for p in expected]
    np.testing.assert_allclose(rows.expected_vas, expected @ means, rtol=0, atol=1e-12)
    # one case through the typed path gives the same numbers as its row
    whole = np.round(np.nan_to_num(X[0], nan=0.0))
    case = vector({n: float(v) for n, v in zip(FEATURE_NAMES, whole, strict=True)
                   if FEATURES_BY_NAME[n].kind != "ratio" and not FEATURES_BY_NAME[n].derived})
    pred = cm.predict(trained, case)
    single = cm.predict_rows(trained, case.row())
    np.testing.assert_allclose([pred.probabilities[c] for c in cm.CATEGORIES],
                               single.probabilities[0], rtol=0, atol=0)


def test_prediction_reports_imputation(trained: cm.TrainedModel) -> None:
    pred = cm.predict(trained, vector({"lesion_count_lumbar": 2, "lesion_count_sacral": 1,
                                       "high_intensity_ratio": None, "age": float("nan")}))
    assert "high_intensity_ratio" in pred.imputed and "age" in pred.imputed
    # lumbar + sacral known: the lumbosacral count is derived; the totals are not known
    assert "lesion_count_lumbosacral" not in pred.imputed
    assert {"lesion_count", "lesion_count_noncervical"} <= set(pred.imputed)
    assert len(pred.imputed) == len(FEATURE_NAMES) - 1
    medians = trained.pipeline.named_steps["impute"].statistics_
    assert pred.features["age"] == medians[FEATURE_NAMES.index("age")]
    assert pred.features["lesion_count_lumbosacral"] == 3.0
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-12)
    assert pred.model_version == trained.version
    out = pred.to_dict()
    assert json.loads(json.dumps(out)) == out


@pytest.mark.parametrize(("features", "match"), [
    ({"high_intensity_ratio": 1.5}, "outside its range"),
    ({"age": "old"}, "not a number"),
    ({"lesion_count": -1}, "outside its range"),
])
def test_predict_rejects_bad_features(trained: cm.TrainedModel, features: dict,
                                      match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cm.predict(trained, features_from_case(features))


def test_predict_takes_only_a_feature_vector(trained: cm.TrainedModel) -> None:
    # a plain dict could hold raw values or model codes; only the typed vector is read
    with pytest.raises(TypeError, match="FeatureVector"):
        cm.predict(trained, {"lesion_count_lumbosacral": 3})


# ------------------------------------------------------------------ monotonicity


@st.composite
def _case_and_step(draw: st.DrawFn) -> tuple[dict[str, float | None], str, float]:
    case: dict[str, float | None] = {}
    for spec in FEATURES:
        high = min(spec.max_value, 40.0)
        if spec.kind in ("count", "binary", "ordinal"):
            value = float(draw(st.integers(int(spec.min_value), int(high))))
        else:
            value = draw(st.floats(spec.min_value, high, allow_nan=False))
        case[spec.name] = draw(st.one_of(st.none(), st.just(value)))
    name = draw(st.sampled_from(MONOTONE_NAMES))
    spec = FEATURES_BY_NAME[name]
    start = case[name] if case[name] is not None else spec.min_value
    case[name] = start
    top = spec.max_value
    step = draw(st.floats(0.0, top - start, allow_nan=False)) if top > start else 0.0
    if spec.kind != "ratio":
        step = float(math.floor(step))
    return case, name, step


def _check_monotone(model: cm.TrainedModel, case: dict, name: str, step: float) -> None:
    # the model's property on model-unit rows (any combination, consistent or not)
    row = np.array([[np.nan if case[n] is None else case[n] for n in FEATURE_NAMES]])
    moved = row.copy()
    moved[0, FEATURE_NAMES.index(name)] += step
    before, after = cm.predict_rows(model, row), cm.predict_rows(model, moved)
    tol = 1e-12
    severe, mild = cm.CATEGORIES.index("severe"), cm.CATEGORIES.index("mild")
    assert after.probabilities[0, severe] >= before.probabilities[0, severe] - tol
    assert after.probabilities[0, mild] <= before.probabilities[0, mild] + tol
    assert after.expected_vas[0] >= before.expected_vas[0] - tol


@settings(max_examples=150, deadline=None)
@given(_case_and_step())
def test_monotone_features_never_lower_predicted_pain(trained: cm.TrainedModel,
                                                      sample: tuple) -> None:
    _check_monotone(trained, *sample)


@settings(max_examples=150, deadline=None)
@given(_case_and_step())
def test_shipped_model_is_monotone(demo_model: cm.TrainedModel, sample: tuple) -> None:
    _check_monotone(demo_model, *sample)


def test_unconstrained_model_would_break_monotonicity(cohort: pd.DataFrame) -> None:
    """The property test has teeth: without bounds the synthetic artefact is learnt."""
    data = cm.cohort_to_arrays(cohort)
    free = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                     ("model", cm.OrdinalLogisticRegression())]).fit(data.X, data.y)
    j = FEATURE_NAMES.index("max_level_high_intensity_ratio")
    assert free.named_steps["model"].coef_[j] < 0


# -------------------------------------------------------------- persistence / load


def _write_cohort(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    return path


def test_training_is_reproducible(tmp_path: Path, cohort: pd.DataFrame) -> None:
    source = _write_cohort(tmp_path, cohort)
    out = tmp_path / "model"
    kwargs = {"out_dir": out, "seed": 7, "synthetic": True, "n_repeats": 1, "n_splits": 3}
    card1 = cm.train_from_file(source, **kwargs)
    first = {f: (out / f).read_bytes() for f in (cm.MODEL_FILE, cm.BACKGROUND_FILE)}
    card2 = cm.train_from_file(source, **kwargs)
    second = {f: (out / f).read_bytes() for f in (cm.MODEL_FILE, cm.BACKGROUND_FILE)}
    assert first == second
    card1.pop("trained_utc")
    card2.pop("trained_utc")
    assert card1 == card2
    assert card1["training_data"]["source"] == "cohort.csv"
    assert "--seed 7 --synthetic" in card1["retrain_command"]
    assert card1["version"].endswith("-seed7")
    import zipfile
    with zipfile.ZipFile(out / cm.MODEL_FILE) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_save_load_roundtrip(tmp_path: Path, trained: cm.TrainedModel) -> None:
    cm.save(trained, tmp_path / "m")
    loaded = cm.load_model(tmp_path / "m")
    X = _rows(20, seed=9)
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(X),
                                  trained.pipeline.predict_proba(X))
    assert loaded.version == trained.version
    assert cm.load_model(tmp_path / "m") is loaded  # cached
    card_file = tmp_path / "m" / cm.CARD_FILE
    os.utime(card_file, ns=(card_file.stat().st_atime_ns, card_file.stat().st_mtime_ns + 10**9))
    assert cm.load_model(tmp_path / "m") is not loaded  # mtime changed -> reloaded


def _doctor(folder: Path, change) -> None:
    card_path = folder / cm.CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8"))
    change(card)
    card_path.write_text(json.dumps(card), encoding="utf-8")


def test_refuses_other_sklearn_version(tmp_path: Path, trained: cm.TrainedModel) -> None:
    folder = cm.save(trained, tmp_path / "m")
    _doctor(folder, lambda c: c["library_versions"].__setitem__("scikit-learn", "1.4.2"))
    with pytest.raises(ValueError, match=r"scikit-learn 1\.4\.2.*python -m core train --cohort"):
        cm.load_model(folder)


def test_refuses_changed_feature_list(tmp_path: Path, trained: cm.TrainedModel) -> None:
    folder = cm.save(trained, tmp_path / "m")
    _doctor(folder, lambda c: c["features"].pop())
    with pytest.raises(ValueError, match="different feature list"):
        cm.load_model(folder)


def test_refuses_tampered_files(tmp_path: Path, trained: cm.TrainedModel) -> None:
    folder = cm.save(trained, tmp_path / "m")
    with open(folder / cm.BACKGROUND_FILE, "a", encoding="utf-8") as fh:
        fh.write("0\n")
    with pytest.raises(ValueError, match="checksums"):
        cm.load_model(folder)


class Sneaky(TransformerMixin, BaseEstimator):
    """A type that is not on the trusted list."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def test_refuses_unexpected_types(tmp_path: Path, trained: cm.TrainedModel) -> None:
    folder = cm.save(trained, tmp_path / "m")
    steps = list(trained.pipeline.steps)
    evil = Pipeline([steps[0], ("sneaky", Sneaky()), *steps[1:]])
    blob = cm._canonical_skops(evil)
    assert "tests.test_model.Sneaky" in sio.get_untrusted_types(data=blob)
    (folder / cm.MODEL_FILE).write_bytes(blob)
    _doctor(folder, lambda c: c["artifacts"].__setitem__(cm.MODEL_FILE, cm.sha256_bytes(blob)))
    with pytest.raises(ValueError, match=r"unexpected type\(s\) tests\.test_model\.Sneaky"):
        cm.load_model(folder)


def test_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        cm.load_model(tmp_path / "nothing")


# ------------------------------------------------------------------ shipped model


def test_shipped_demo_model(demo_model: cm.TrainedModel) -> None:
    card = demo_model.card
    assert card["synthetic"] is True
    assert card["data"] == "synthetic demonstration cohort — not for clinical use"
    assert sorted(sio.get_untrusted_types(file=DEMO_MODEL / cm.MODEL_FILE)) == sorted(
        cm.TRUSTED_TYPES)
    assert card["cross_validation"]["n_repeats"] == 5
    assert set(card["selection"]["candidates"]) == set(cm.CANDIDATES)
    coefs = {c["feature"]: c["weight_per_sd"] for c in card["model"]["coefficients"]}
    assert all(coefs[n] >= 0 for n in MONOTONE_NAMES)
    assert all(coefs[n] >= cm.WEIGHT_FLOOR for n in FLOOR_NAMES)
    assert [c["feature"] for c in card["model"]["coefficients"]] == list(FEATURE_NAMES)
    assert card["uncertainty"]["prediction_set"]["coverage"] == cm.CONFORMAL_COVERAGE
    cohort_csv = REPO / "data" / "demo" / "cohort.csv"
    if cohort_csv.is_file():
        assert card["training_data"]["sha256"] == cm.sha256_file(cohort_csv), (
            "data/demo/cohort.csv changed: retrain with `make train` and refresh the goldens")


def test_trusted_type_and_card_name_the_estimator_class(trained: cm.TrainedModel) -> None:
    # skops records a class by its defining module: moving it must update TRUSTED_TYPES.
    path = trained.card["model"]["estimator"]
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name) is cm.OrdinalLogisticRegression
    assert path == "core.model.ordinal.OrdinalLogisticRegression"
    assert path in cm.TRUSTED_TYPES
    assert path in sio.get_untrusted_types(data=cm._canonical_skops(trained.pipeline))


def test_canonical_skops_loads_like_skops(trained: cm.TrainedModel, tmp_path: Path) -> None:
    blob = cm._canonical_skops(trained.pipeline)
    assert blob == cm._canonical_skops(trained.pipeline)
    back = sio.loads(blob, trusted=list(cm.TRUSTED_TYPES))
    X = _rows(10, seed=1)
    np.testing.assert_array_equal(back.predict_proba(X), trained.pipeline.predict_proba(X))
    shutil.rmtree(tmp_path, ignore_errors=True)


# ------------------------------------------------------------ review: loading edge cases


def _with_sklearn_version(blob: bytes, version: str) -> bytes:
    """``blob`` with every ``_sklearn_version`` in its schema set to ``version``."""
    import io
    import zipfile

    def walk(node: object) -> None:
        if isinstance(node, dict):
            stamp = node.get("_sklearn_version")
            if isinstance(stamp, dict):
                stamp["content"] = json.dumps(version)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    src = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "schema.json":
                schema = json.loads(data)
                walk(schema)
                data = json.dumps(schema).encode()
            dst.writestr(info, data)
    return out.getvalue()


def test_refuses_artifact_pickled_by_other_sklearn_even_if_card_agrees(
        tmp_path: Path, trained: cm.TrainedModel) -> None:
    # The card is plain JSON (it holds the checksums); the version inside model.skops is
    # what scikit-learn actually unpickles, so it is checked too.
    folder = cm.save(trained, tmp_path / "m")
    blob = _with_sklearn_version((folder / cm.MODEL_FILE).read_bytes(), "1.4.2")
    assert b"1.4.2" in blob
    (folder / cm.MODEL_FILE).write_bytes(blob)
    _doctor(folder, lambda c: c["artifacts"].__setitem__(cm.MODEL_FILE, cm.sha256_bytes(blob)))
    with pytest.raises(ValueError, match=r"scikit-learn 1\.4\.2.*retrain it with"):
        cm.load_model(folder)


def test_model_cache_keeps_one_entry_per_folder(tmp_path: Path,
                                                trained: cm.TrainedModel) -> None:
    # A long-running app reloads after every retrain; stale models must not pile up.
    folder = cm.save(trained, tmp_path / "m")
    key_path = str(folder.resolve())
    card_file = folder / cm.CARD_FILE
    for i in range(3):
        os.utime(card_file, ns=(card_file.stat().st_atime_ns,
                                card_file.stat().st_mtime_ns + (i + 1) * 10**9))
        cm.load_model(folder)
    assert sum(1 for k in cm._CACHE if k[0] == key_path) == 1


@st.composite
def _raw_case_and_region(draw: st.DrawFn) -> tuple[dict, str]:
    regions = ("cervical", "thoracic", "lumbar", "sacral")
    region = draw(st.sampled_from(regions))
    counts = {r: draw(st.one_of(st.none(), st.integers(0, 15))) for r in regions}
    counts[region] = counts[region] or 0  # from "unknown" to a value is not adding a lesion
    case: dict = {f"lesion_count_{r}": c for r, c in counts.items()}
    if draw(st.booleans()):
        complete = all(c is not None for c in counts.values())
        case["lesion_count"] = (sum(c or 0 for c in counts.values())
                                + (0 if complete else draw(st.integers(0, 5))))
    case["high_intensity_ratio"] = draw(st.one_of(st.none(), st.floats(0, 1)))
    case["sins_total"] = draw(st.one_of(st.none(), st.integers(0, 18)))
    return case, region


@settings(max_examples=200, deadline=None)
@given(_raw_case_and_region())
def test_adding_a_lesion_to_a_raw_case_never_lowers_pain(demo_model: cm.TrainedModel,
                                                         sample: tuple) -> None:
    """Through features_from_case's derivations (total, lumbar flag) and imputation."""
    from core.features import features_from_case

    case, region = sample
    key = f"lesion_count_{region}"
    after_case = {**case, key: case[key] + 1}
    if "lesion_count" in case:
        after_case["lesion_count"] = case["lesion_count"] + 1
    before = cm.predict(demo_model, features_from_case(case))
    after = cm.predict(demo_model, features_from_case(after_case))
    assert after.probabilities["severe"] >= before.probabilities["severe"] - 1e-12
    assert after.expected_vas >= before.expected_vas - 1e-12


@settings(max_examples=100, deadline=None)
@given(_raw_case_and_region())
def test_adding_a_lesion_never_lowers_pain_trained_model(trained: cm.TrainedModel,
                                                         sample: tuple) -> None:
    test_adding_a_lesion_to_a_raw_case_never_lowers_pain.hypothesis.inner_test(trained, sample)
