"""The server process's Python heap between script runs.

Streamlit's own ``gc.collect(2)`` after every run is off (``runner.postScriptGC`` in
``.streamlit/config.toml``): with the app's stack imported (pandas, scikit-learn, Altair,
SQLAlchemy: about 390,000 objects the cyclic collector tracks) each full collection took
0.3-0.4 s on a 2-core server, and it ran while the run's messages were still on their way
to the browser. Python still collects on its own, and a full collection still scans every
tracked object; so after the first run of each page (which imports that page's modules
and fills its caches) :func:`settled_after` collects once and then freezes what is left
(:func:`gc.freeze`): those long-lived objects are never scanned again. Frozen objects are
still freed by reference counting when they go; only a reference cycle among them would
stay, and the collection just before the freeze leaves none.

Before the first run, the C allocator is told to keep freed memory for the next run
(:func:`core.allocator.keep_freed_memory`: the arrays of a whole-cohort page are not
faulted in again page by page on every run).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

from core.allocator import keep_freed_memory

_SETTLED: set[str] = set()
_LOCK = threading.Lock()


def _first_time(page: str) -> bool:
    with _LOCK:
        if page in _SETTLED:
            return False
        _SETTLED.add(page)
        return True


@contextlib.contextmanager
def settled_after(page: str) -> Iterator[None]:
    """Run a page; when it is that page's first run in this process, collect garbage and
    freeze the surviving objects afterwards (also when the run stops or reruns early). The
    process's first run sets the allocator's thresholds first (:func:`keep_freed_memory`;
    later calls return at once)."""
    keep_freed_memory()
    try:
        yield
    finally:
        if _first_time(page):
            gc.collect()
            gc.freeze()
