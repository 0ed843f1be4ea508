"""Warm a new server in the background once its first page has run.

A page's first visit in a server process imports that page's modules and loads the model:
scikit-learn, skops (whose import lists every scikit-learn estimator), SciPy, SimpleITK,
Altair. Home imports none of it and starts fast (issue 12); the first New case took
5-6.6 s on this 2-core machine, 0.6 s with the warm-up done (10 s on Home first). The
first visits of the data pages are then mostly their data: the scored cohort and the
views made from it, read once per store revision (at 100,000 studies cohort analytics
took 4.8 s, surveillance 3.0 s, the board 2.5 s after 15 s on Home). So the warm-up then
runs each page module's :data:`HOOK`, which reads the views that page's first visit shows
into the same caches (0.3-0.6 s for every page after 25 s on Home; about 15 s of work in
this thread at 100,000 studies, a fraction of a second on the demo store). A page visited
while its view is being made waits for it (Streamlit's per-key compute lock) instead of
making it twice. A store with unscored studies is left to the pages, which score them
behind a progress bar; a later write (a new store revision) is read by the next visit.

:func:`warmed_after` (the router wraps every run in it) starts one daemon thread per
process after the first run has ended. The thread waits :data:`DELAY_S` so that run's
messages go out first, imports the ``ui`` modules of every registered page (read from
the page scripts, so a new page is warmed with no list to keep; :func:`page_modules`)
and loads the default model into :func:`core.model.load_model`'s cache (a lock guards
it), then runs the hooks. A page that needs a module the thread is importing waits for
it on Python's import lock; nothing is imported twice. A failure is logged, never
raised: the page that needs the module (or the view) raises it itself.
``SPINEPAIN_WARMUP=0`` turns the warm-up off (the tests do, except those that test it).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ui.registry import PAGES

#: Environment variable; ``0`` turns the warm-up off.
ENV = "SPINEPAIN_WARMUP"
#: Seconds between the end of the first run and the start of the warm-up.
DELAY_S = 1.0
#: The warm-up thread's name.
THREAD_NAME = "spinepain-warmup"
#: A page's ``ui`` module may define ``warm_views(model_dir)``: it reads the views the
#: page's first visit shows (with the model of ``model_dir``) into their caches.
HOOK = "warm_views"

_REPO = Path(__file__).resolve().parents[1]
_LOCK = threading.Lock()
_started = False
log = logging.getLogger(__name__)


def page_modules() -> list[str]:
    """The ``ui`` modules the registered pages import (``from ui import board``,
    ``from ui.session import KEEP``), in page order, each once."""
    found: list[str] = []
    for spec in PAGES:
        tree = ast.parse((_REPO / spec.path).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "ui":
                    found += [f"ui.{alias.name}" for alias in node.names]
                elif node.module.startswith("ui."):
                    found.append(node.module)
            elif isinstance(node, ast.Import):
                found += [a.name for a in node.names if a.name.startswith("ui.")]
    return list(dict.fromkeys(found))


def warm(modules: list[str], model_dir: Path | None) -> list[str]:
    """Import ``modules``, then load the model of ``model_dir`` (if given) and run the
    :data:`HOOK` of each module that has one; returns the names of what failed (each
    logged, never raised)."""
    failed = []
    imported = []
    for name in modules:
        try:
            imported.append(importlib.import_module(name))
        except Exception:  # the page that imports it raises it to its user
            log.warning("warm-up: importing %s failed", name, exc_info=True)
            failed.append(name)
    if model_dir is None:
        return failed
    try:
        from core.model import load_model

        load_model(model_dir)
    except Exception:  # the page that needs the model shows why it cannot load
        log.warning("warm-up: loading the model %s failed", model_dir.name, exc_info=True)
        return [*failed, str(model_dir)]
    for module in imported:
        hook = getattr(module, HOOK, None)
        if not callable(hook):
            continue
        try:
            hook(model_dir)
        except Exception:  # the page reads the view itself and shows why it cannot
            log.warning("warm-up: %s.%s failed", module.__name__, HOOK, exc_info=True)
            failed.append(f"{module.__name__}.{HOOK}")
    return failed


def _run(delay_s: float) -> None:
    time.sleep(delay_s)
    from ui.session import default_model_dir

    warm(page_modules(), default_model_dir())


def start(*, delay_s: float = DELAY_S) -> threading.Thread | None:
    """Start the warm-up thread unless it has started in this process or
    ``SPINEPAIN_WARMUP=0``; returns the thread it started."""
    global _started
    if os.environ.get(ENV, "").strip() == "0":
        return None
    with _LOCK:
        if _started:
            return None
        _started = True
    thread = threading.Thread(target=_run, args=(delay_s,), name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def warmed_after() -> Iterator[None]:
    """Run a page, then :func:`start` the warm-up (also when the run stops or reruns)."""
    try:
        yield
    finally:
        start()
