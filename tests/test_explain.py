"""core.explain: exact SHAP values (additivity, formula, background, caching)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import explain as ce
from core import model as cm
from core.features import FEATURE_NAMES, features_from_case
from core.vocab import DEFICIT_STATES
from tests.test_model import make_cohort, vector


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return make_cohort(90, seed=11)


@pytest.fixture(scope="module")
def trained(cohort: pd.DataFrame) -> cm.TrainedModel:
    return cm.train(cohort, seed=1, synthetic=True, n_repeats=1, n_splits=3,
                   candidates=("ordinal_logit",))


@pytest.fixture(scope="module")
def demo_model() -> cm.TrainedModel:
    return cm.load_model()


CASES = [
    {},
    {"lesion_count_lumbar": 4, "lesion_count_sacral": 1, "lesion_count": 9,
     "high_intensity_ratio": 0.6, "sins_total": 12, "sins_pain": 3, "bilsky_grade": 4,
     "neurologic_deficit": 1},
    {"lesion_count_cervical": 0, "lesion_count_thoracic": 0, "lesion_count_lumbar": 0,
     "lesion_count_sacral": 0, "lesion_count": 0, "involved_levels": 0, "lumbar_involved": 0,
     "high_intensity_ratio": 0.0, "max_level_high_intensity_ratio": 0.0, "age": 80,
     "ecog": 1, "sins_total": 0, "bilsky_grade": 0, "pathologic_fracture": 0,
     "neurologic_deficit": 0, "prior_radiotherapy": 1, "analgesic_step": 2},
    {"age": 45, "high_intensity_ratio": 1.0, "max_level_high_intensity_ratio": 1.0,
     "lesion_count": 500, "involved_levels": 30, "neurologic_deficit": 2},
]


@pytest.mark.parametrize("model_name", ["trained", "demo_model"])
@pytest.mark.parametrize("case", CASES)
def test_single_case_additivity(request: pytest.FixtureRequest, model_name: str,
                                case: dict) -> None:
    model = request.getfixturevalue(model_name)
    features = vector(case)
    expl = ce.explain_case(model, features)
    assert expl.base_value + sum(expl.shap_values) == pytest.approx(expl.output_value, abs=1e-6)
    # the output is the model's own latent score (pipeline, not the fast path)
    X = features.row()
    eta = model.pipeline.named_steps["model"].decision_function(
        model.pipeline[:-1].transform(X))[0]
    assert expl.output_value == pytest.approx(eta, abs=1e-9)
    assert expl.feature_names == FEATURE_NAMES
    assert set(expl.imputed) == set(features.missing)
    assert not set(expl.imputed) & {n for n, v in case.items() if v is not None}
    assert "log-odds" in expl.output_units


def test_shap_is_the_exact_linear_formula(trained: cm.TrainedModel) -> None:
    case = CASES[1]
    features = vector(case)
    expl = ce.explain_case(trained, features)
    a = trained.cache["arrays"]
    bg = trained.background
    w = bg["weight"].to_numpy() / bg["weight"].sum()
    _, z_bg = trained.standardise(bg[list(FEATURE_NAMES)].to_numpy())
    _, z = trained.standardise(features.row())
    expected = a["coef"] * (z[0] - w @ z_bg)
    np.testing.assert_allclose(expl.shap_values, expected, rtol=0, atol=1e-12)
    # base value = expected latent score over the (weighted) background
    assert expl.base_value == pytest.approx(float(w @ (z_bg @ a["coef"])), abs=1e-12)
    # the background summarises the training rows: its weighted mean is the training mean
    np.testing.assert_allclose(w @ z_bg, 0.0, atol=1e-9)
    # a feature whose weight is at its 0 bound (the protective Bilsky grade of the
    # synthetic cohort) contributes nothing, though its value is recorded
    j = FEATURE_NAMES.index("bilsky_grade")
    assert features["bilsky_grade"] == 4.0
    assert a["coef"][j] == 0.0 and expl.shap_values[j] == 0.0
    # a feature at its floor still contributes: WEIGHT_FLOOR times its offset
    k = FEATURE_NAMES.index("max_level_high_intensity_ratio")
    assert a["coef"][k] == cm.WEIGHT_FLOOR
    assert expl.shap_values[k] == pytest.approx(cm.WEIGHT_FLOOR * (z[0, k] - w @ z_bg[:, k]),
                                                abs=1e-12)
    assert expl.shap_values[k] != 0.0


def test_values_include_imputed(trained: cm.TrainedModel) -> None:
    expl = ce.explain_case(trained, vector({"lesion_count_lumbar": 2, "lesion_count_sacral": 0}))
    medians = trained.pipeline.named_steps["impute"].statistics_
    j = FEATURE_NAMES.index("age")
    assert expl.values[j] == medians[j]
    assert expl.values[FEATURE_NAMES.index("lesion_count_lumbosacral")] == 2.0
    assert "age" in expl.imputed and "lesion_count_lumbosacral" not in expl.imputed
    out = expl.to_dict()
    assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_cohort_additivity_and_shape(trained: cm.TrainedModel, cohort: pd.DataFrame) -> None:
    values = ce.explain_cohort(trained, cohort)
    assert list(values.columns) == list(FEATURE_NAMES)
    assert values.index.equals(cohort.index)
    data = cm.cohort_to_arrays(cohort)
    eta = trained.pipeline.named_steps["model"].decision_function(
        trained.pipeline[:-1].transform(data.X))
    np.testing.assert_allclose(values.attrs["output_value"], eta, atol=1e-9)
    total = values.attrs["base_value"] + values.to_numpy().sum(axis=1)
    np.testing.assert_allclose(total, eta, rtol=0, atol=1e-6)
    # rows agree with single-case explanations (the raw cohort row, parsed once)
    single = ce.explain_case(trained, features_from_case(cohort.iloc[0].to_dict()))
    np.testing.assert_allclose(values.iloc[0].to_numpy(), single.shap_values, atol=1e-12)


def test_cohort_from_feature_columns(trained: cm.TrainedModel) -> None:
    # a frame of the cases' raw columns (Bilsky as its grade, the deficit as its state),
    # blank where a case has no value: the same SHAP values as each case on its own
    raw = [{**c, "bilsky_grade": vector(c).bilsky.label if vector(c).bilsky else None,
            "neurologic_deficit": (DEFICIT_STATES[int(c["neurologic_deficit"])]
                                   if "neurologic_deficit" in c else None)}
           for c in CASES]
    columns = sorted({k for c in raw for k in c})
    frame = pd.DataFrame([{k: c.get(k, np.nan) for k in columns} for c in raw],
                         index=[10, 11, 12, 13])
    values = ce.explain_cohort(trained, frame)
    for i, case in enumerate(CASES):
        np.testing.assert_allclose(values.iloc[i].to_numpy(),
                                   ce.explain_case(trained, vector(case)).shap_values,
                                   atol=1e-12)


def test_global_importance(trained: cm.TrainedModel, cohort: pd.DataFrame) -> None:
    table = ce.global_importance(trained, cohort)
    assert list(table.columns) == ["feature", "label", "mean_abs_shap", "mean_shap"]
    assert sorted(table["feature"]) == sorted(FEATURE_NAMES)
    assert table["mean_abs_shap"].is_monotonic_decreasing
    values = ce.explain_cohort(trained, cohort)
    top = table.iloc[0]
    assert top["mean_abs_shap"] == pytest.approx(values[top["feature"]].abs().mean())
    assert table["mean_abs_shap"].iloc[0] > 0


def test_explainer_is_cached(trained: cm.TrainedModel) -> None:
    assert ce.explainer(trained) is ce.explainer(trained)


def test_explain_rejects_bad_features(trained: cm.TrainedModel) -> None:
    with pytest.raises(ValueError, match="outside its range"):
        ce.explain_case(trained, features_from_case({"ecog": 7}))


def test_grouped_shap_sums_each_group_exactly(trained: cm.TrainedModel,
                                              cohort: pd.DataFrame) -> None:
    assert set(ce.FEATURE_GROUPS) == {"imaging", "clinical"}
    assert sorted(n for names in ce.FEATURE_GROUPS.values() for n in names) == sorted(
        FEATURE_NAMES)
    assert "lesion_count_lumbosacral" in ce.FEATURE_GROUPS["imaging"]
    assert "sins_without_pain" in ce.FEATURE_GROUPS["clinical"]
    values = ce.explain_cohort(trained, cohort)
    groups = ce.grouped_shap(values)
    assert list(groups.columns) == ["imaging", "clinical"]
    assert groups.index.equals(values.index)
    np.testing.assert_allclose(values.attrs["base_value"] + groups.sum(axis=1),
                               values.attrs["output_value"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(groups["imaging"],
                               values[list(ce.FEATURE_GROUPS["imaging"])].sum(axis=1),
                               rtol=0, atol=1e-12)
    one = ce.explain_case(trained, features_from_case(cohort.iloc[0].to_dict()))
    np.testing.assert_allclose(ce.grouped_shap(one).iloc[0].to_numpy(),
                               groups.iloc[0].to_numpy(), rtol=0, atol=1e-12)


def test_grouped_importance(trained: cm.TrainedModel, cohort: pd.DataFrame) -> None:
    table = ce.grouped_importance(trained, cohort)
    assert list(table.columns) == ["group", "label", "features", "mean_abs_shap", "mean_shap"]
    assert sorted(table["group"]) == ["clinical", "imaging"]
    assert set(table["label"]) == {"imaging burden", "clinical findings"}
    assert table["mean_abs_shap"].is_monotonic_decreasing
    groups = ce.grouped_shap(ce.explain_cohort(trained, cohort))
    for row in table.itertuples():
        assert row.mean_abs_shap == pytest.approx(groups[row.group].abs().mean(), abs=1e-12)
        assert row.mean_shap == pytest.approx(groups[row.group].mean(), abs=1e-12)
        assert row.features == ce.FEATURE_GROUPS[row.group]
    # imaging burden drives pain in the synthetic cohort
    assert table.set_index("group").loc["imaging", "mean_abs_shap"] > 0
