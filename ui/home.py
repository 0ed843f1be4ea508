"""What Home shows, kept light: the active model's card and the case store's counts.

Home is the first screen of a cold start, so this module imports only Streamlit and
light ``core`` modules; the case store (SQLAlchemy, the image stack) is imported inside
:func:`store_counts`, after the rest of Home has been sent to the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.card_file import read_card
from ui import components, session


def active_card() -> dict[str, Any]:
    """The model card of this session's model (read from ``model_card.json`` without
    loading the model), or one plain error sentence and stop the page."""
    try:
        return read_card(session.active_model_dir())
    except (ValueError, FileNotFoundError, OSError) as exc:
        components.show_error(exc, "The pain model could not be read:")
        st.stop()


@dataclass(frozen=True)
class StoreCounts:
    """What Home says about the case store."""

    patients: int
    studies: int
    with_images: int
    synthetic: int


@st.cache_data(show_spinner=False, max_entries=8)
def _counts(url: str, revision: int) -> StoreCounts:
    from ui.stores import get_store  # lazy: the store stack is heavy (see module doc)

    counts = get_store().study_counts()
    return StoreCounts(patients=counts["patients"], studies=counts["studies"],
                       with_images=counts["studies_with_image"],
                       synthetic=counts["synthetic_studies"])


def store_counts() -> StoreCounts:
    """Patients, studies, studies with images and synthetic studies in the store.

    The one place Home's counts come from: SQL counts
    (:meth:`core.store.CaseStore.study_counts`), cached per store revision
    (:meth:`~core.store.CaseStore.data_revision`, one index read), so a rerun does
    not count again.

    Raises
    ------
    ValueError, FileNotFoundError, OSError
        When the store cannot be opened or read.
    """
    from ui.stores import get_store  # lazy: the store stack is heavy (see module doc)

    store = get_store()
    return _counts(store.url, store.data_revision())


def store_counts_or_error() -> StoreCounts | None:
    """:func:`store_counts`, or ``None`` after one plain error sentence when the store
    cannot be opened or read (the rest of Home still renders)."""
    try:
        return store_counts()
    except (ValueError, FileNotFoundError, OSError) as exc:
        components.show_error(exc, "The case store could not be read:")
        return None
