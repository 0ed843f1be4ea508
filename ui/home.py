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
def _counts(store_key: tuple) -> StoreCounts:
    from ui.stores import get_store  # lazy: the store stack is heavy (see module doc)

    studies = get_store().list_studies()
    if not len(studies):
        return StoreCounts(0, 0, 0, 0)
    return StoreCounts(patients=int(studies["patient_id"].nunique()), studies=len(studies),
                       with_images=int(studies["has_image"].sum()),
                       synthetic=int(studies["synthetic"].sum()))


def store_counts() -> StoreCounts:
    """Patients, studies, studies with images and synthetic studies in the store.

    The one place Home's counts come from (switch it to SQL counts of the store when
    they exist); cached per store content (:func:`ui.stores.store_key`: the URL and the
    row counts of its tables), so a rerun does not read the case table again.

    Raises
    ------
    ValueError, FileNotFoundError, OSError
        When the store cannot be opened or read.
    """
    from ui.stores import store_key  # lazy: the store stack is heavy (see module doc)

    return _counts(store_key())


def store_counts_or_error() -> StoreCounts | None:
    """:func:`store_counts`, or ``None`` after one plain error sentence when the store
    cannot be opened or read (the rest of Home still renders)."""
    try:
        return store_counts()
    except (ValueError, FileNotFoundError, OSError) as exc:
        components.show_error(exc, "The case store could not be read:")
        return None
