"""The server's background warm-up (ui.warmup): after the first run it imports every
page's ``ui`` modules and loads the default model, once per process; off with
``SPINEPAIN_WARMUP=0`` (the test session's setting, see conftest)."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ui import warmup
from ui.registry import PAGES

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("sklearn", "skops.io", "SimpleITK", "scipy.stats", "altair", "core.store")


def _python(code: str, *, warm: str | None, data_dir: Path) -> list[str]:
    """Run ``code`` in a fresh interpreter (the warm-up is once per process); it prints a
    JSON list as its last line."""
    env = {k: v for k, v in os.environ.items() if k != warmup.ENV}
    if warm is not None:
        env[warmup.ENV] = warm
    env["SPINEPAIN_DATA_DIR"] = str(data_dir)
    env.pop("SPINEPAIN_DB_URL", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, text=True,
                          capture_output=True, check=True, timeout=300)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_page_modules_are_every_ui_import_of_every_page() -> None:
    listed = warmup.page_modules()
    assert len(listed) == len(set(listed))
    for spec in PAGES:
        text = (REPO / spec.path).read_text(encoding="utf-8")
        for names in re.findall(r"^from ui import ([\w, ]+)$", text, re.M):
            for name in names.split(","):
                assert f"ui.{name.split(' as ')[0].strip()}" in listed, (spec.path, name)
        for module in re.findall(r"^from (ui\.\w+) import", text, re.M):
            assert module in listed, (spec.path, module)
    # a multi-line "from ui import (...)" is read too (the board's)
    assert {"ui.board", "ui.board_fold", "ui.board_list", "ui.board_nav"} <= set(listed)
    assert "ui.whatif" in listed and "ui.viewer" in listed


def test_start_imports_the_pages_and_loads_the_model_once(tmp_path: Path) -> None:
    code = ("import json, sys\n"
            "from ui import warmup\n"
            f"before = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "thread = warmup.start(delay_s=0)\n"
            "thread.join(300)\n"
            "from core.model.artifacts import _CACHE\n"
            f"after = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "print(json.dumps([before, after, thread.name, len(_CACHE),\n"
            "                  warmup.start() is None]))\n")
    before, after, name, cached, again = _python(code, warm=None, data_dir=tmp_path)
    assert before == []
    assert after == list(HEAVY)
    assert name == warmup.THREAD_NAME
    assert cached == 1  # the default model
    assert again  # once per process


def test_spinepain_warmup_0_turns_it_off(tmp_path: Path) -> None:
    code = ("import json, sys, time\n"
            "from ui import warmup\n"
            "started = warmup.start(delay_s=0)\n"
            "time.sleep(0.5)\n"
            f"print(json.dumps([started is None, [m for m in {HEAVY!r} if m in sys.modules]]))\n")
    assert _python(code, warm="0", data_dir=tmp_path) == [True, []]


def test_the_app_starts_it_after_its_first_run(tmp_path: Path) -> None:
    """The router (app.py) starts the warm-up after Home's first run; Home itself imports
    none of the heavy libraries, the warm-up does."""
    code = ("import json, sys, threading\n"
            "from streamlit.testing.v1 import AppTest\n"
            "at = AppTest.from_file('app.py', default_timeout=120)\n"
            "at.run()\n"
            f"home = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "thread = next(t for t in threading.enumerate() if t.name == 'spinepain-warmup')\n"
            "thread.join(300)\n"
            f"print(json.dumps([not at.exception, home, [m for m in {HEAVY!r} "
            "if m in sys.modules]]))\n")
    ok, home, after = _python(code, warm=None, data_dir=tmp_path)
    assert ok
    assert "sklearn" not in home and "skops.io" not in home
    assert after == list(HEAVY)


def test_a_failed_import_is_logged_and_returned_not_raised(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level(logging.WARNING, logger="ui.warmup"):
        failed = warmup.warm(["ui.no_such_module", "ui.components"], tmp_path / "no_model")
    assert failed == ["ui.no_such_module", str(tmp_path / "no_model")]
    assert "ui.no_such_module" in caplog.text and "no_model" in caplog.text


def test_each_modules_hook_runs_after_the_model_and_a_failure_is_logged(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """``warm_views(model_dir)`` of each imported module, in order, once the model loads;
    a hook that raises is logged and named, and the next hook still runs."""
    from core.model.artifacts import _CACHE
    from ui.session import default_model_dir

    seen: list[tuple[str, Path, bool]] = []

    def module(name: str, fail: bool = False) -> types.ModuleType:
        mod = types.ModuleType(name)

        def hook(model_dir: Path) -> None:
            seen.append((name, model_dir, model_dir.resolve() in {p.resolve() for p in
                                                                   _cache_dirs(_CACHE)}))
            if fail:
                raise RuntimeError("boom")

        setattr(mod, warmup.HOOK, hook)
        monkeypatch.setitem(sys.modules, name, mod)
        return mod

    module("warm_test_a", fail=True)
    module("warm_test_b")
    monkeypatch.setitem(sys.modules, "warm_test_plain", types.ModuleType("warm_test_plain"))
    model_dir = default_model_dir()
    with caplog.at_level(logging.WARNING, logger="ui.warmup"):
        failed = warmup.warm(["warm_test_a", "warm_test_plain", "warm_test_b"], model_dir)
    assert failed == ["warm_test_a.warm_views"]
    assert "warm_test_a.warm_views failed" in caplog.text and "boom" in caplog.text
    assert seen == [("warm_test_a", model_dir, True), ("warm_test_b", model_dir, True)]


def _cache_dirs(cache: dict) -> list[Path]:
    """The model folders in :func:`core.model.load_model`'s cache (its keys start with the
    folder)."""
    return [Path(key[0]) for key in cache]


def test_no_hook_runs_when_the_model_cannot_load(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    mod = types.ModuleType("warm_test_c")
    ran: list[Path] = []
    setattr(mod, warmup.HOOK, ran.append)
    monkeypatch.setitem(sys.modules, "warm_test_c", mod)
    assert warmup.warm(["warm_test_c"], tmp_path / "no_model") == [str(tmp_path / "no_model")]
    assert ran == []


#: Store reads of the whole cohort (or of a page of it) and the surveillance alerts: what
#: a page's first visit computes unless the warm-up has.
_FIRST_VISIT_PROBE = """
import json, sys
from streamlit.testing.v1 import AppTest
from core.store import CaseStore
import core.surveillance.cohort as sv
from ui import warmup
from ui.session import default_model_dir

at = AppTest.from_file('app.py', default_timeout=300)
at.run()
failed = warmup.warm(warmup.page_modules(), default_model_dir()) if {warm} else []
calls = []

def probe(owner, name):
    original = getattr(owner, name)
    def counted(*args, **kwargs):
        calls[-1][1].append(name)
        return original(*args, **kwargs)
    setattr(owner, name, counted)

for name in ("scored_snapshot", "count_studies", "scored_studies", "score_status",
             "study_date_range"):
    probe(CaseStore, name)
probe(sv, "cohort_surveillance")
for page in {pages!r}:
    calls.append((page, []))
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
print(json.dumps([failed, calls]))
"""
_WARMED_PAGES = ("pages/tumor_board.py", "pages/what_if.py", "pages/cohort.py",
                 "pages/model.py", "pages/surveillance.py", "pages/teaching.py")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.demo import build_demo_store

    """A demo store scored with the default model (as ``import-cohort --model`` leaves
    one; the warm-up reads views only of a scored store)."""
    from core.model import load_model
    from core.store import CaseStore
    from ui.session import default_model_dir

    folder = tmp_path_factory.mktemp("warm_store")
    url = f"sqlite:///{folder / 'cases.sqlite'}"
    build_demo_store(url, n_patients=12, data_dir=folder)
    store = CaseStore(url, data_dir=folder)
    try:
        store.recompute_scores(load_model(default_model_dir()), missing_only=True)
    finally:
        store.close()
    return folder


def test_first_visits_read_the_views_the_warm_up_made(demo_store: Path) -> None:
    """After the warm-up, the first visit of every data page reads its whole-cohort views
    from the caches: no scored cohort, count, list page, score status, date range or
    alerts is computed again. Without it, the same visits compute them (the probe
    works)."""
    code = _FIRST_VISIT_PROBE.format(warm=True, pages=_WARMED_PAGES)
    failed, calls = _python(code, warm="0", data_dir=demo_store)
    assert failed == []
    assert {page: reads for page, reads in calls if reads} == {}
    code = _FIRST_VISIT_PROBE.format(warm=False, pages=_WARMED_PAGES)
    _, cold = _python(code, warm="0", data_dir=demo_store)
    cold = dict(cold)
    assert "scored_snapshot" in cold["pages/cohort.py"]
    assert "cohort_surveillance" in cold["pages/surveillance.py"]
    assert "count_studies" in cold["pages/tumor_board.py"]
    assert "scored_studies" in cold["pages/what_if.py"]


def test_the_warm_up_leaves_scoring_to_the_pages(demo_store: Path, tmp_path: Path) -> None:
    """While a study has no score of the model, the warm-up reads no view (scoring is a
    page's, behind its progress bar): the key is None and no study gets scored."""
    import shutil

    from core.store import CaseStore
    from ui import scores, stores
    from ui.session import default_model_dir

    folder = tmp_path / "store"
    shutil.copytree(demo_store, folder)
    version = scores.get_model(default_model_dir()).version
    with sqlite3.connect(folder / "cases.sqlite") as db:  # one study loses its score
        db.execute("DELETE FROM scores WHERE study_id = "
                   "(SELECT MIN(study_id) FROM scores)")
    store = CaseStore(f"sqlite:///{folder / 'cases.sqlite'}", data_dir=folder)
    unscored = int(store.score_status(version)["unscored"])
    assert unscored == 1
    os.environ["SPINEPAIN_DATA_DIR"] = str(folder)
    try:
        stores._store.clear()
        assert scores.warm_key(default_model_dir()) is None
        assert int(store.score_status(version)["unscored"]) == unscored
    finally:
        os.environ.pop("SPINEPAIN_DATA_DIR", None)
        stores._store.clear()
