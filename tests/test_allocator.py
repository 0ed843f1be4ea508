"""core.allocator: freed memory is kept for the next whole-frame step (glibc thresholds).

Each check runs in a fresh interpreter (the settings are process-wide and set once) and
counts minor page faults (``ru_minflt``) of a step that allocates and frees twelve 1 MB
arrays, the size of a 10,000-case feature matrix, twenty times.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_FAULTS = textwrap.dedent("""
    import json, resource, runpy, sys
    import numpy as np
    from core import allocator

    mode = sys.argv[1]
    set_ = None
    if mode == "call":
        set_ = allocator.keep_freed_memory()
    elif mode == "cli":
        sys.argv = ["core", "--help"]
        try:
            runpy.run_module("core", run_name="__main__")
        except SystemExit:
            pass
        # set by the entry point: its call was the one miss, this call a hit
        first = allocator.keep_freed_memory.cache_info().misses
        set_ = [first, allocator.keep_freed_memory()]

    def step():
        arrays = [np.ones(125_000) for _ in range(12)]
        return sum(float(a[0]) for a in arrays)

    step(); step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    print(json.dumps({"set": set_, "faults_per_step": (after - before) / 20}))
""")


def _faults(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _FAULTS, mode], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_default_glibc_faults_the_freed_arrays_in_again():
    # the control: without the setting every step maps its 12 MB afresh (about 2,900
    # pages); if this stops holding, the test below proves nothing
    assert _faults("none")["faults_per_step"] > 1_000


def test_keep_freed_memory_reuses_the_heap():
    result = _faults("call")
    assert result["set"] is True
    assert result["faults_per_step"] < 50


def test_the_command_line_entry_point_sets_it():
    result = _faults("cli")
    assert result["set"] == [1, True]
    assert result["faults_per_step"] < 50


def test_a_second_call_returns_the_first_result(monkeypatch):
    from core import allocator

    allocator.keep_freed_memory.cache_clear()
    try:
        monkeypatch.setattr(allocator, "_glibc", lambda: None)
        assert allocator.keep_freed_memory() is False
        monkeypatch.setattr(allocator, "_glibc", lambda: pytest.fail("set twice"))
        assert allocator.keep_freed_memory() is False
    finally:
        allocator.keep_freed_memory.cache_clear()  # the next call reads the real library


def test_the_app_sets_it_before_the_first_page_runs(monkeypatch):
    import ui.heap as heap

    calls: list[str] = []
    monkeypatch.setattr(heap, "keep_freed_memory", lambda: calls.append("set") or True)
    monkeypatch.setattr(heap, "_SETTLED", set())
    try:
        with heap.settled_after("some_page"):
            calls.append("page")
    finally:
        gc.unfreeze()  # the first run froze the test process's heap
    assert calls == ["set", "page"]
