"""The case store as a Streamlit resource, one per database URL and data directory.

Split from :mod:`ui.cache` so that Home can count the store's studies without importing
the model, SHAP and the image pipeline that the other cached views need;
:mod:`ui.cache` re-exports :func:`get_store` and :func:`store_key`.
"""

from __future__ import annotations

import os

import streamlit as st

from core.store import CaseStore


@st.cache_resource(show_spinner=False)
def _store(url: str | None, data_dir: str | None) -> CaseStore:
    return CaseStore(url, data_dir=data_dir)


def get_store() -> CaseStore:
    """The case store (``SPINEPAIN_DB_URL`` / ``SPINEPAIN_DATA_DIR``), one per URL."""
    url = os.environ.get("SPINEPAIN_DB_URL", "").strip() or None
    data_dir = os.environ.get("SPINEPAIN_DATA_DIR", "").strip() or None
    return _store(url, data_dir)


def store_key() -> tuple[str, tuple[tuple[str, int], ...]]:
    """Cheap fingerprint of the store: its URL and the row counts of every table. Cached
    views of the store are recomputed when a case, prediction or edit is added, and two
    stores never share them."""
    store = get_store()
    return store.url, tuple(sorted(store.counts().items()))


__all__ = ["get_store", "store_key"]
