"""The benchmark scripts that ``make bench`` runs keep running (issue 12, item 8): each fast
one runs here at a small size and prints its figures. Not a timing test: nothing here
compares a time with a target. ``bench/predict.py`` had stopped at an API change unnoticed
until ``make bench`` was run whole."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: script, small-size arguments, a line its output must contain
SMALL_RUNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("predict.py", ("--calls", "3"), "parse + predict + explain + tier (assess): median"),
    ("assess.py", ("--cases", "300", "--row-cases", "60", "--repeat", "1"),
     "assess_many + to_frame"),
    ("import.py", ("--rows", "400", "--sample", "100", "--no-postgresql"),
     "end to end: python -m core import-cohort"),
    ("store_queries.py", ("--studies", "400", "--repeat", "1", "--sample", "100",
                          "--no-postgresql"), "page of 50 by board"),
    ("board_decision.py", ("--patients", "6", "--studies", "0", "--entries", "2"),
     "ratio (store / data revision)"),
    ("after_edit.py", ("--patients", "6", "--studies", "0", "--edits", "1"),
     "Whole-cohort pages' run after an edit"),
)


def test_make_bench_runs_every_script_in_bench() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    scripts = sorted(p.name for p in (REPO / "bench").glob("*.py")
                     if p.name not in ("cohort_data.py", "extract_accuracy.py"))
    assert [s for s in scripts if f"bench/{s}" not in recipe] == []


@pytest.mark.parametrize(("script", "args", "expect"), SMALL_RUNS,
                         ids=[s for s, _, _ in SMALL_RUNS])
def test_a_bench_script_runs_at_a_small_size(script: str, args: tuple[str, ...], expect: str,
                                             tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SPINEPAIN_DB_URL"}
    env["SPINEPAIN_DATA_DIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert expect in proc.stdout, proc.stdout[-3000:]


def _bench_module(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_read_floor_spreads_the_nii_work_and_the_better_inflater_over_the_cores() -> None:
    floor_ratio = _bench_module("read_gzip").floor_ratio
    figures = {"v nii": {"read": 0.15, "read_cpu": 0.15, "extract": 0.29},
               "v inflate isal": {"read": 0.25, "read_cpu": 0.25},
               "v inflate rapidgzip": {"read": 0.15, "read_cpu": 0.29}}
    # two cores: isal max(0.25, 0.20), rapidgzip max(0.15, 0.22): rapidgzip's 0.22 s read
    assert floor_ratio(figures, "v", 2) == pytest.approx((0.22 + 0.14) / 0.29)
    # one core: isal (0.15 + 0.25) beats rapidgzip (0.15 + 0.29)
    assert floor_ratio(figures, "v", 1) == pytest.approx((0.40 + 0.14) / 0.29)
    # inflating alone slower than the spread work: the inflater's own time is the floor
    figures["v inflate rapidgzip"]["read"] = 0.24
    assert floor_ratio(figures, "v", 2) == pytest.approx((0.24 + 0.14) / 0.29)
