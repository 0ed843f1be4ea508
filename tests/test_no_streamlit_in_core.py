"""``core/`` is pure logic: no module in it may import streamlit, directly or by name.

Checked statically with :mod:`ast` so that a lazy import inside a function, an
``importlib.import_module("streamlit")`` or an ``__import__("streamlit...")`` is found
too, without importing anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "core"
FORBIDDEN = "streamlit"


def _is_forbidden(module: str | None) -> bool:
    return bool(module) and (module == FORBIDDEN or module.startswith(FORBIDDEN + "."))


def _dynamic_import_target(call: ast.Call) -> str | None:
    """The constant module name of ``import_module("x")`` / ``__import__("x")``, if any."""
    func = call.func
    name = None
    if isinstance(func, ast.Name):
        name = func.id
    elif isinstance(func, ast.Attribute):
        name = func.attr
    if name not in ("import_module", "__import__") or not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def streamlit_imports(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """Return ``(line, statement)`` for every way ``source`` imports streamlit."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if _is_forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and _is_forbidden(node.module):
                found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Call):
            target = _dynamic_import_target(node)
            if target is not None and _is_forbidden(target):
                found.append((node.lineno, f"import_module({target!r})"))
    return found


@pytest.mark.parametrize(
    "path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(REPO))
)
def test_core_module_does_not_import_streamlit(path: Path) -> None:
    hits = streamlit_imports(path.read_text(encoding="utf-8"), str(path))
    assert not hits, f"{path.relative_to(REPO)} imports streamlit: {hits}"


@pytest.mark.parametrize(
    "source",
    [
        "import streamlit as st",
        "import os, streamlit.components.v1",
        "from streamlit import cache_data",
        "from streamlit.testing.v1 import AppTest",
        "def f():\n    import streamlit\n",
        "import importlib\nst = importlib.import_module('streamlit')",
        "from importlib import import_module\nst = import_module('streamlit.runtime')",
        "st = __import__('streamlit')",
    ],
)
def test_checker_detects_streamlit_imports(source: str) -> None:
    assert streamlit_imports(source), source


@pytest.mark.parametrize(
    "source",
    [
        "import streamlit_like_but_not",
        "from .streamlit import x",  # a relative module of that name is not the package
        "name = 'streamlit'",
        "import importlib\nm = importlib.import_module('json')",
    ],
)
def test_checker_ignores_non_imports(source: str) -> None:
    assert not streamlit_imports(source), source
