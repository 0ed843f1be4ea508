"""The layout rules of docs/ARCHITECTURE.md, checked statically with :mod:`ast`.

Every import of ``core/``, ``ui/``, ``pages/`` and ``app.py`` is read, function-local ones
included (they count: a function-local import hides a cycle, it does not remove it):

* no import cycles among project modules;
* ``app.py`` and ``pages/`` import only ``ui`` (plus streamlit and the standard library);
* ``ui`` never imports a private ``_name`` from ``core``;
* ``core`` never imports streamlit, ``ui`` or ``pages``;
* the bottom ``ui`` modules import no other ``ui`` module;
* no module in ``core/`` or ``ui/`` over 700 lines and no function over 80 lines.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80
#: ``ui`` modules at the bottom of the ui layers: they import no other ui module.
UI_BOTTOM = ("ui.components", "ui.session", "ui.router", "ui.charts", "ui.slice_render",
             "ui.inputs", "ui.cohort", "ui.registry")


@dataclass(frozen=True)
class Import:
    """One imported module (and, for ``from m import a``, the names ``a``)."""

    line: int
    module: str
    names: tuple[str, ...] = ()


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path = REPO) -> dict[str, Path]:
    paths = [*root.glob("core/**/*.py"), *root.glob("ui/**/*.py"), *root.glob("pages/*.py"),
             root / "app.py"]
    return {module_name(p, root): p for p in sorted(paths)}


def imports_of(source: str, name: str, *, package: bool = False) -> list[Import]:
    """Every import statement of a module, at any depth, absolute module names."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = name.split(".") if package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([module] if module else [])])
            found.append(Import(node.lineno, module, tuple(a.name for a in node.names)))
    return found


def resolve(target: str, modules: Iterable[str]) -> str | None:
    """The project module an import refers to (the longest known prefix), if any."""
    known = set(modules)
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def dependencies(imp: Import, modules: Iterable[str]) -> set[str]:
    """Project modules one import statement depends on (``from ui import cache`` is
    ``ui.cache``; ``from core.vocab import REGIONS`` is ``core.vocab``)."""
    modules = set(modules)
    targets = {resolve(f"{imp.module}.{n}", modules) for n in imp.names} if imp.names else set()
    targets.add(resolve(imp.module, modules))
    return {t for t in targets if t}


def import_graph(sources: Mapping[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """``{module: modules it imports}`` of ``{module: (source, is_package)}``."""
    graph: dict[str, set[str]] = {}
    for name, (source, package) in sources.items():
        deps: set[str] = set()
        for imp in imports_of(source, name, package=package):
            deps |= dependencies(imp, sources)
        graph[name] = {d for d in deps if d != name and not name.startswith(d + ".")}
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        return list(exc.args[1])
    return None


def _sources() -> dict[str, tuple[str, bool]]:
    return {name: (path.read_text(encoding="utf-8"), path.name == "__init__.py")
            for name, path in project_modules().items()}


SOURCES = _sources()
GRAPH = import_graph(SOURCES)
ALLOWED_OUTSIDE = frozenset(sys.stdlib_module_names) | {"streamlit", "__future__"}


def _all_imports(prefix: str) -> list[tuple[str, Import]]:
    return [(name, imp) for name, (source, package) in SOURCES.items()
            if name == prefix or name.startswith(prefix + ".")
            for imp in imports_of(source, name, package=package)]


# ------------------------------------------------------------------------- rules


def test_every_layer_is_found() -> None:
    for prefix in ("core", "ui", "pages", "app"):
        assert any(n == prefix or n.startswith(prefix + ".") for n in GRAPH), prefix


def test_no_import_cycles() -> None:
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


@pytest.mark.parametrize("prefix", ["pages", "app"])
def test_app_and_pages_import_only_ui(prefix: str) -> None:
    bad = [f"{name}:{imp.line} imports {imp.module}" for name, imp in _all_imports(prefix)
           if imp.module.split(".")[0] != "ui" and imp.module.split(".")[0] not in ALLOWED_OUTSIDE]
    assert not bad, bad


def test_ui_never_imports_a_private_name_from_core() -> None:
    bad = [f"{name}:{imp.line} {imp.module} {n}" for name, imp in _all_imports("ui")
           if imp.module.split(".")[0] == "core"
           for n in (*imp.names, *imp.module.split("."))
           if n.startswith("_") and n != "__future__"]
    assert not bad, bad


def test_core_never_imports_streamlit_ui_or_pages() -> None:
    bad = [f"{name}:{imp.line} imports {imp.module}" for name, imp in _all_imports("core")
           if imp.module.split(".")[0] in ("streamlit", "ui", "pages", "app")]
    assert not bad, bad


@pytest.mark.parametrize("module", UI_BOTTOM)
def test_bottom_ui_modules_import_no_other_ui_module(module: str) -> None:
    assert module in GRAPH, module
    assert not {d for d in GRAPH[module] if d.startswith("ui")}, GRAPH[module]


def test_module_and_function_sizes() -> None:
    problems = []
    for name, (source, _) in SOURCES.items():
        if not name.startswith(("core", "ui")):
            continue
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            problems.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{name}.{node.name}: {length} lines")
    assert not problems, problems


# ----------------------------------------------------------- the checker itself


def test_checker_finds_function_local_and_relative_imports() -> None:
    source = ("import os\nfrom . import sibling\nfrom ..core import vocab\n"
              "def f():\n    from ui.cache import get_store\n")
    found = imports_of(source, "ui.sub.mod")
    assert [i.module for i in found] == ["os", "ui.sub", "ui.core", "ui.cache"]
    assert found[-1].names == ("get_store",)
    assert imports_of("from . import x\n", "ui", package=True)[0].module == "ui"


def test_checker_finds_a_cycle_hidden_in_a_function() -> None:
    sources = {
        "ui.a": ("from ui import b\n", False),
        "ui.b": ("def f():\n    from ui.c import thing\n", False),
        "ui.c": ("import ui.a\n", False),
        "ui.d": ("from ui.a import x\n", False),
    }
    graph = import_graph(sources)
    assert graph["ui.b"] == {"ui.c"}
    assert set(find_cycle(graph) or []) == {"ui.a", "ui.b", "ui.c"}
    del sources["ui.c"]
    assert find_cycle(import_graph(sources)) is None
