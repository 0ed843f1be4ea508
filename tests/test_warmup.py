"""The server's background warm-up (ui.warmup): after the first run it imports every
page's ``ui`` modules and loads the default model, once per process; off with
``SPINEPAIN_WARMUP=0`` (the test session's setting, see conftest)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
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
