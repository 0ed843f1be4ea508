"""Unit tests of ui modules that need no running page: the one model cache, the router
workaround's Streamlit internals, the page registry, and the forms and what-if widgets
generated from the feature registry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit import config

from core.clinical import load_clinical_table
from core.features import FEATURE_NAMES, FEATURES, features_from_case
from core.model import clear_cache, load_model
from ui import cache, forms, registry, router, whatif

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "models" / "demo"


# ----------------------------------------------------------------- model cache


def test_ui_uses_the_one_model_cache_of_core(tmp_path: Path) -> None:
    """ui has no model cache of its own: it returns core's cached model, and a model that
    core reloads (cache cleared, files rewritten) is what the pages get next."""
    folder = tmp_path / "demo"
    shutil.copytree(DEMO_MODEL, folder)
    first = cache.get_model(folder)
    assert first is load_model(folder)
    clear_cache()
    second = cache.get_model(folder)
    assert second is not first
    assert second is load_model(folder)
    card = folder / "model_card.json"
    card.write_text(card.read_text(encoding="utf-8"), encoding="utf-8")  # new file time
    third = cache.get_model(folder)
    assert third is not second and third is load_model(folder)


def test_missing_model_folder_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^model folder nothing does not exist"):
        cache.get_model(tmp_path / "nothing")


# ----------------------------------------------------------------------- router


def test_streamlit_still_has_what_the_router_workaround_relies_on() -> None:
    """Fails (never skips) after a Streamlit upgrade that renames or removes an internal
    that ui/router.py uses; then revisit the workaround there."""
    missing = router.check_streamlit()
    assert missing == [], ("Streamlit changed what ui/router.py relies on: "
                           + "; ".join(missing))


def test_router_check_reports_a_renamed_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    class Renamed:
        uses_pages_dir = None

    monkeypatch.setattr(router, "PagesManager", Renamed)
    assert router.check_streamlit() == [
        f"class attribute PagesManager.{router.LEGACY_FLAG}"]


def test_router_leaves_legacy_mode_and_reruns(monkeypatch: pytest.MonkeyPatch) -> None:
    class RerunCalledError(Exception):
        pass

    def rerun() -> None:
        raise RerunCalledError

    manager = router.PagesManager
    previous_flag = getattr(manager, router.LEGACY_FLAG)
    previous_option = config.get_option("global.appTest")
    monkeypatch.setattr(st, "rerun", rerun)
    config.set_option("global.appTest", False)
    try:
        setattr(manager, router.LEGACY_FLAG, True)
        with pytest.raises(RerunCalledError):
            router.ensure_router()
        assert getattr(manager, router.LEGACY_FLAG) is False
        router.ensure_router()  # already routed: no rerun
    finally:
        setattr(manager, router.LEGACY_FLAG, previous_flag)
        config.set_option("global.appTest", previous_option)


# --------------------------------------------------------------------- registry


def test_page_registry_lists_every_page_script_once() -> None:
    scripts = {f"pages/{p.name}" for p in (REPO / "pages").glob("*.py")}
    paths = [p.path for p in registry.PAGES]
    assert sorted(paths) == sorted(scripts)
    assert len(set(paths)) == len(paths)
    assert [p.name for p in registry.PAGES if p.default] == ["home"]
    assert all(p.title and p.blurb and p.icon.startswith(":material/") for p in registry.PAGES)
    assert registry.page("tumor_board").title == "Tumor board"


# ------------------------------------------------------------ forms and what-if


def test_clinical_form_covers_every_clinical_feature_once() -> None:
    wanted = {f.name for f in FEATURES if f.group == "clinical" and not f.derived}
    groups = [forms.form_features("age"), forms.form_features(*forms.STATUS_WIDGETS),
              forms.form_features("sins_total")]
    shown = [spec.name for group in groups for spec in group]
    assert sorted(shown) == sorted(wanted)


def test_what_if_has_a_widget_for_every_input_feature() -> None:
    assert set(whatif.widget_features()) == {f.name for f in FEATURES if not f.derived}
    assert set(FEATURE_NAMES) - set(whatif.widget_features()) == {"lesion_count",
                                                                  "lumbar_involved"}


@pytest.fixture(scope="module")
def vectors() -> list:
    rows = load_clinical_table((REPO / "data" / "demo" / "cohort.csv").read_bytes(),
                               "cohort.csv").rows.head(60)
    return [features_from_case(r) for r in rows.to_dict(orient="records")]


def test_what_if_widget_values_round_trip(vectors: list) -> None:
    """Widget values of a case give the case back (Bilsky 1b stays 1b, yes stays yes)."""
    model = load_model()
    grades = {v.bilsky.label for v in vectors if v.bilsky is not None}
    assert {"1b", "2"} <= grades  # the round trip would confuse these with model codes
    for vector in vectors:
        values = whatif.widget_values(vector, model)
        again, notes = whatif.features_from_values(values)
        assert not notes
        expected = vector.to_dict()
        if expected["age"] is None:  # the age slider starts at the training median
            expected["age"] = float(values[whatif.key("age")])
        for spec in FEATURES:  # ratios are shown to 0.1 percentage point
            if spec.widget == "percent" and expected[spec.name] is not None:
                expected[spec.name] = round(expected[spec.name], 3)
        assert again.to_dict() == expected


def test_what_if_passes_clinical_values_not_model_codes(
        vectors: list, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict] = []

    def spy(case: dict):
        seen.append(dict(case))
        return features_from_case(case)

    vector = next(v for v in vectors if v.bilsky is not None and v.bilsky.label == "1b"
                  and v["pathologic_fracture"] is not None)
    monkeypatch.setattr(whatif, "features_from_case", spy)
    whatif.features_from_values(whatif.widget_values(vector, load_model()))
    case = seen[-1]
    assert case["bilsky_grade"] == "1b"
    assert case["pathologic_fracture"] in ("yes", "no")
    assert "lesion_count" not in case and "lumbar_involved" not in case
