"""The one workaround for Streamlit's router: every page runs through ``app.py``.

Why
---
The page scripts live in ``pages/`` (the product's design names that folder). Streamlit
therefore starts in its legacy (v1) multipage mode, "pages directory" mode, until the
entry point has called ``st.navigation`` once: ``PagesManager.uses_pages_directory`` is
set from the existence of ``pages/`` when the first session starts and only
``st.navigation`` clears it. A deep link opened before that (e.g. ``/tumor_board`` right
after the server starts) would run the page file alone, without the page configuration
and the app's navigation. :func:`ensure_router` notices that, switches the legacy mode
off and reruns, so the run goes through ``app.py``.

Streamlit has no public switch for this. The class attribute is private API; what it
relies on is listed in :data:`STREAMLIT_INTERNALS` and checked by :func:`check_streamlit`
(``tests/test_ui_units.py`` calls it and fails loudly after a Streamlit upgrade that
renames or removes any of it; then revisit this module: the workaround may be
unnecessary, or need the new name). At run time a missing internal only disables the
workaround: the app still works, a deep link on a fresh server just shows the
file-name navigation until the first rerun.
"""

from __future__ import annotations

import inspect

import streamlit as st
from streamlit import config

try:  # private modules: see the module docstring
    from streamlit.commands import navigation as navigation_module
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # pragma: no cover - reported by check_streamlit in the tests
    PagesManager = None  # type: ignore[assignment,misc]
    navigation_module = None  # type: ignore[assignment]

#: The class attribute of ``PagesManager`` that selects the legacy pages-directory mode.
LEGACY_FLAG = "uses_pages_directory"

#: What the workaround relies on, as (what, where) pairs for the error message.
STREAMLIT_INTERNALS: tuple[tuple[str, str], ...] = (
    ("class PagesManager", "streamlit.runtime.pages_manager"),
    (f"class attribute PagesManager.{LEGACY_FLAG}", "streamlit.runtime.pages_manager"),
    (f"st.navigation clears PagesManager.{LEGACY_FLAG}", "streamlit.commands.navigation"),
    ("config option global.appTest", "streamlit.config"),
)


def check_streamlit() -> list[str]:
    """The internals of :data:`STREAMLIT_INTERNALS` the installed Streamlit lacks
    (empty when the workaround still applies)."""
    missing: list[str] = []
    if PagesManager is None or navigation_module is None:
        return [what for what, _ in STREAMLIT_INTERNALS[:3]]
    if LEGACY_FLAG not in vars(PagesManager):
        missing.append(STREAMLIT_INTERNALS[1][0])
    source = inspect.getsource(navigation_module.navigation)
    if f"PagesManager.{LEGACY_FLAG} = False" not in source:
        missing.append(STREAMLIT_INTERNALS[2][0])
    try:
        config.get_option("global.appTest")
    except RuntimeError:
        missing.append(STREAMLIT_INTERNALS[3][0])
    return missing


def ensure_router() -> None:
    """Rerun through ``app.py`` when Streamlit is still in its legacy pages-directory mode
    (see the module docstring). Call first on every page (``ui.layout.page_header`` does).
    """
    if PagesManager is None or config.get_option("global.appTest"):
        # AppTest resets the mode before every run; a rerun there would drop the
        # button clicks of that run, and the pages behave the same either way.
        return
    if getattr(PagesManager, LEGACY_FLAG, None):
        setattr(PagesManager, LEGACY_FLAG, False)
        st.rerun()
