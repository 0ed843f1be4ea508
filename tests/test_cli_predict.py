"""``python -m core predict`` / ``train``: golden JSON with the shipped demo model, bad input.

The goldens depend on ``models/demo``. After retraining it (``make train``), review the
change and regenerate with ``SPINEPAIN_UPDATE_GOLDEN=1 pytest tests/test_cli_predict.py``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import model as cm
from core.assess import canonical_json_sha256
from core.cli import main
from tests.test_model import make_cohort

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
CASES = ("lumbar", "partial", "context")
KEYS = ["model_version", "category", "probabilities", "expected_vas", "shap", "base_value",
        "output_value", "output_units", "features", "imputed", "tier", "overrides", "notice",
        "provenance", "prediction_set", "coverage", "ood", "recorded_vas", "discordant",
        "discordance", "context_warnings"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def comparable(payload: dict) -> dict:
    """The payload without the fields that legitimately vary (versions, time)."""
    payload = json.loads(json.dumps(payload))
    payload["provenance"].pop("versions")
    payload["provenance"].pop("created_utc")
    return payload


def assert_close(actual: object, expected: object, path: str = "$") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), path
        for key in expected:
            assert_close(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_close(a, e, f"{path}[{i}]")
    elif isinstance(expected, float) and not isinstance(expected, bool):
        assert isinstance(actual, float) and math.isclose(actual, expected, rel_tol=1e-9,
                                                          abs_tol=1e-12), path
    else:
        assert actual == expected, path


@pytest.mark.parametrize("name", CASES)
def test_predict_golden(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    case_file = GOLDEN / f"predict_input_{name}.json"
    code, out, err = run(["predict", "--features", str(case_file)], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert list(payload) == KEYS
    golden_file = GOLDEN / f"predict_{name}.json"
    got = comparable(payload)
    if os.environ.get("SPINEPAIN_UPDATE_GOLDEN") == "1":
        golden_file.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n",
                               encoding="utf-8")
    assert_close(got, json.loads(golden_file.read_text(encoding="utf-8")))


def test_predict_payload_is_consistent(capsys: pytest.CaptureFixture[str]) -> None:
    case_file = GOLDEN / "predict_input_partial.json"
    code, out, _ = run(["predict", "--features", str(case_file), "--model",
                        str(REPO / "models" / "demo")], capsys)
    assert code == 0
    p = json.loads(out)
    assert set(p["probabilities"]) == {"mild", "moderate", "severe"}
    assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-12)
    assert p["category"] == max(p["probabilities"], key=p["probabilities"].get)
    assert p["base_value"] + sum(p["shap"].values()) == pytest.approx(p["output_value"],
                                                                       abs=1e-6)
    assert "lesion_count" in p["imputed"] and "age" not in p["imputed"]
    # Bilsky 2 with a (yes/no, so new or progressive) deficit is suspected MSCC.
    assert {o["rule"] for o in p["overrides"]} == {"mscc"}
    assert p["tier"]["urgency"] == "urgent"
    assert p["tier"]["headline_source"] == "override"
    assert p["tier"]["headline"] == p["overrides"][0]["headline"]
    assert p["tier"]["headline"].startswith("URGENT")
    codes = [r["code"] for r in p["tier"]["recommendations"]]
    assert codes[:2] == ["mscc_pathway", "dexamethasone"]
    assert set(p["overrides"][0]["codes"]) <= set(codes)
    assert all(r["reference"] for r in p["tier"]["recommendations"])
    assert any("yes/no" in w for w in p["context_warnings"])
    assert set(p["prediction_set"]) <= {"mild", "moderate", "severe"} and p["prediction_set"]
    assert p["coverage"] is None or 0 < p["coverage"] <= 1
    assert isinstance(p["ood"], list)
    assert p["recorded_vas"] is None and p["discordant"] is None and p["discordance"] is None
    assert p["notice"].startswith("Decision support, not a diagnosis.")
    assert "not for clinical use" in p["notice"]
    case = json.loads(case_file.read_text(encoding="utf-8"))
    assert p["provenance"]["input_sha256"] == canonical_json_sha256(case)
    assert p["provenance"]["model_version"] == p["model_version"]
    assert p["provenance"]["versions"]["scikit-learn"]


def test_input_hash_ignores_formatting(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    case = json.loads((GOLDEN / "predict_input_partial.json").read_text(encoding="utf-8"))
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(dict(reversed(list(case.items())))), encoding="utf-8")
    _, out, _ = run(["predict", "--features", str(compact)], capsys)
    _, out2, _ = run(["predict", "--features", str(GOLDEN / "predict_input_partial.json")],
                     capsys)
    assert (json.loads(out)["provenance"]["input_sha256"]
            == json.loads(out2)["provenance"]["input_sha256"])


def test_module_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "core", "predict", "--features",
         str(GOLDEN / "predict_input_lumbar.json")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    golden = json.loads((GOLDEN / "predict_lumbar.json").read_text(encoding="utf-8"))
    assert_close(comparable(json.loads(proc.stdout)), golden)


@pytest.mark.parametrize(("content", "match"), [
    (None, "does not exist"),
    ("{not json", "not valid JSON"),
    ('{"age": NaN}', "not valid JSON"),
    ("[1, 2]", "one JSON object"),
    ('{"high_intensity_ratio": 1.4}', "high_intensity_ratio"),
    ('{"age": "old"}', "age"),
    ('{"bilsky_grade": "4"}', "bilsky_grade"),
    (b"\xff\xfe\x00bad", "UTF-8"),
    # validated like import-cohort: one line naming the field
    ('{"vas": 11}', "vas 11"),
    ('{"vas": -1}', "vas -1"),
    ('{"vas": 7.25}', "vas 7.25"),
    ('{"high_intensity_ratio": 0.5, "max_level_high_intensity_ratio": 0.2}',
     "max_level_high_intensity_ratio 0.2 is below high_intensity_ratio"),
    ('{"involved_levels": ["L3", "L9"]}', "involved_levels contains 'L9'"),
    ('{"levels": [{"level": "X1", "region": "lumbar"}]}', "levels contains 'X1'"),
    ('{"lesion_count_by_region": {"lumbar": 1, "neck": 2}}', "lesion_count_by_region"),
    ('{"primary_tumor": "=HYPERLINK(\\"x\\")"}', "primary_tumor"),
    ('{"sex": "@SUM(A1)"}', "sex"),
    ('{"primary_tumor": "+cmd"}', "primary_tumor"),
    ('{"primary_tumor": "-cmd"}', "primary_tumor"),
    ('{"primary_tumor": "\\tbreast"}', "primary_tumor"),
    ('{"provenance": {"image": {"sequence": "\\rT2"}}}', "provenance.image.sequence"),
    ('{"ecog": 5}', "ecog 5"),
    ('{"analgesic_step": 4}', "analgesic_step 4"),
    ('{"lesion_count": 501}', "lesion_count 501"),
    ('{"lesion_count": 2, "lesion_count_by_region": {"cervical": 1, "thoracic": 1, '
     '"lumbar": 1, "sacral": 0}}', "lesion_count"),
    ('{"sins_pain": 2}', "sins_pain"),
    ('{"sins_location": 3, "sins_pain": 3, "sins_bone_lesion": 2, "sins_alignment": 4, '
     '"sins_collapse": 3, "sins_posterolateral": 3, "sins_total": 12}', "sins_total"),
    ('{"sins_location": 0, "sins_total": 18}', "sins_total 18 cannot be reached"),
    ('{"neurologic_deficit": "maybe"}', "neurologic_deficit"),
    ('{"neuropathic_pain": "sometimes"}', "neuropathic_pain"),
    ('{"prior_radiotherapy": "twice"}', "prior_radiotherapy"),
])
def test_predict_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   content: str | bytes | None, match: str) -> None:
    path = tmp_path / "case.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = run(["predict", "--features", str(path)], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert match in err


def test_predict_refuses_deep_or_large_json_before_parsing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", encoding="utf-8")
    code, out, err = run(["predict", "--features", str(deep)], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "nested 50001 levels deep" in err
    shallow = tmp_path / "shallow.json"  # brackets inside strings do not count
    shallow.write_text('{"note": "' + "[" * 40 + '", "lesion_count": 1}', encoding="utf-8")
    assert run(["predict", "--features", str(shallow)], capsys)[0] == 0
    large = tmp_path / "large.json"
    large.write_text('{"note": "' + "x" * 1_000_001 + '"}', encoding="utf-8")
    code, out, err = run(["predict", "--features", str(large)], capsys)
    assert code == 2 and err.count("\n") == 1 and "1000000 bytes" in err


@pytest.mark.parametrize(("deficit", "state", "warned"), [
    ("true", "new_or_progressive", True), (False, "none", True), (1, "new_or_progressive", True),
    ("stable", "stable", False), ("new_or_progressive", "new_or_progressive", False),
    ("none", "none", False)])
def test_deficit_three_states_and_yes_no_with_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], deficit: object, state: str,
        warned: bool) -> None:
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"lesion_count": 2, "neurologic_deficit": deficit}),
                    encoding="utf-8")
    code, out, err = run(["predict", "--features", str(case)], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["features"]["neurologic_deficit"] == ["none", "stable",
                                                         "new_or_progressive"].index(state)
    assert ("mscc" in {o["rule"] for o in payload["overrides"]}) == (
        state == "new_or_progressive")
    assert bool(payload["context_warnings"]) == warned
    assert ("warning: The neurologic deficit was recorded as yes/no" in err) == warned


def test_sins_as_six_components_or_a_total(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    parts = {"sins_location": 3, "sins_pain": 3, "sins_bone_lesion": 2, "sins_alignment": 2,
             "sins_collapse": 2, "sins_posterolateral": 1}
    rules = []
    for case in (parts, {"sins_total": 13}, {**parts, "sins_total": 13}):
        path = tmp_path / "case.json"
        path.write_text(json.dumps({"lesion_count": 1, **case}), encoding="utf-8")
        code, out, err = run(["predict", "--features", str(path)], capsys)
        assert code == 0, err
        rules.append([o["rule"] for o in json.loads(out)["overrides"]])
    assert rules == [["sins_unstable"]] * 3


def test_recorded_vas_and_discordance(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"lesion_count": 1, "vas": 0}), encoding="utf-8")
    _, out, _ = run(["predict", "--features", str(path)], capsys)
    p = json.loads(out)
    assert p["recorded_vas"] == 0
    assert p["discordant"] == (p["category"] != "mild")
    assert p["discordance"].startswith("Recorded VAS 0 (mild)")


def test_predict_directory_and_missing_model(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["predict", "--features", str(tmp_path)], capsys)
    assert code == 2 and err.count("\n") == 1
    case = tmp_path / "case.json"
    case.write_text("{}", encoding="utf-8")
    code, _, err = run(["predict", "--features", str(case), "--model",
                        str(tmp_path / "nope")], capsys)
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


def test_train_cli_prints_the_card(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cohort = tmp_path / "cohort.csv"
    make_cohort(45, seed=5).to_csv(cohort, index=False)
    out_dir = tmp_path / "models" / "site"
    code, out, err = run(["train", "--cohort", str(cohort), "--out", str(out_dir),
                          "--seed", "3"], capsys)
    assert code == 0, err
    card = json.loads(out)
    assert card == json.loads((out_dir / cm.CARD_FILE).read_text(encoding="utf-8"))
    assert card["synthetic"] is False and card["seed"] == 3
    assert card["data"].startswith("site data")
    assert card["cross_validation"] == {
        "scheme": "repeated StratifiedGroupKFold, groups = patient_id", "n_splits": 5,
        "n_repeats": 5, "random_states": [3, 4, 5, 6, 7]}
    assert (out_dir / cm.MODEL_FILE).is_file() and (out_dir / cm.BACKGROUND_FILE).is_file()
    case = tmp_path / "case.json"
    case.write_text('{"lesion_count_lumbar": 3}', encoding="utf-8")
    code, out, _ = run(["predict", "--features", str(case), "--model", str(out_dir)], capsys)
    assert code == 0 and json.loads(out)["model_version"] == card["version"]


def test_train_cli_bad_cohort(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["train", "--cohort", str(tmp_path / "none.csv"), "--out",
                        str(tmp_path / "m")], capsys)
    assert code == 2 and err.count("\n") == 1
    bad = tmp_path / "bad.csv"
    frame = make_cohort(30, seed=1)
    frame.loc[3, "vas"] = 11
    frame.to_csv(bad, index=False)
    code, _, err = run(["train", "--cohort", str(bad), "--out", str(tmp_path / "m")], capsys)
    assert code == 2 and "invalid value" in err and "vas" in err
    assert not (tmp_path / "m").exists()
