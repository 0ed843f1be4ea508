"""Study pickers that never offer every stored study: a search on the pseudonymous patient
id and at most :data:`PICK_LIMIT` matches from SQL (studies with an image first, each
group newest first), cached per store revision and search."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from core.store import StudyFilter
from ui import components as c
from ui.session import KEEP
from ui.stores import get_store

#: Most studies a picker offers.
PICK_LIMIT = 50
_COLUMNS = ["study_id", "patient_id", "study_date", "synthetic", "has_image"]


@st.cache_data(show_spinner=False, max_entries=32)
def _matches(url: str, revision: int, search: str, limit: int) -> pd.DataFrame:
    store = get_store()
    wanted = StudyFilter(search=search)
    imaging = store.scored_studies(None, dataclasses.replace(wanted, has_image=True),
                                   order_by="recent", limit=limit)
    rest = store.scored_studies(None, dataclasses.replace(wanted, has_image=False),
                                order_by="recent", limit=max(0, limit - len(imaging)))
    return pd.concat([imaging[_COLUMNS], rest[_COLUMNS]], ignore_index=True)


def warm_views(model_dir: Path) -> None:
    """The pickers' first list (no search) into its cache (:mod:`ui.warmup`)."""
    study_labels("")


def search_box(key: str, *, label: str = "Search pseudonymous ID") -> str:
    """The patient id search above a picker (kept across page switches)."""
    return str(st.text_input(label, key=key, persist_state=KEEP,
                             placeholder="part of the patient ID, e.g. DEMO-IMG",
                             help=f"The picker lists at most {PICK_LIMIT} matching "
                                  "studies: those with an image first, newest first.")
               or "").strip()


def _label_of(study_id: int) -> str | None:
    try:
        record = get_store().get_study(int(study_id))
    except ValueError:
        return None
    return c.study_label({"study_id": record.study_id, "patient_id": record.patient_id,
                          "study_date": record.study_date, "synthetic": record.synthetic,
                          "has_image": record.image_path is not None})


def study_labels(search: str, *, keep: Sequence[object] = ()) -> dict[int, str]:
    """``{study_id: label}`` of the studies whose patient id contains ``search`` (at most
    :data:`PICK_LIMIT`), then the studies of ``keep`` (e.g. the one chosen before) that
    still exist."""
    store = get_store()
    frame = _matches(store.url, store.data_revision(), search.strip(), PICK_LIMIT)
    labels = c.study_labels(frame)
    for study_id in keep:
        if isinstance(study_id, int) and study_id not in labels:
            label = _label_of(study_id)
            if label is not None:
                labels[study_id] = label
    return labels
