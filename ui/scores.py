"""Stored scores of the active model: make sure they exist, and the views of the store
that pages read instead of scoring studies themselves.

* :func:`ensure_scores` scores the studies that have no score of the active model yet
  (:meth:`core.store.CaseStore.recompute_scores` with ``missing_only=True``) behind a
  progress bar and a sentence; the check is cached per (store, store revision, model
  version), so a warm rerun costs one cheap query. The store revision of every view
  here is :meth:`~core.store.CaseStore.data_revision`: it moves with every write to the
  studies or their scores, not with an export or a board agenda entry or decision.
* :func:`scored_cohort` is every study with its stored score (one SQL query per store
  revision and model version, kept as a shared read-only frame: callers never modify
  it; after a case is saved, edited or deleted only that patient's studies are read
  again, :mod:`core.store.cohort_refresh`); :func:`assessment_errors`,
  :func:`date_range` and :func:`score_values` are small cached reads;
  :func:`importance` and :func:`grouped_importance` are the model's mean |SHAP| over a
  set of studies, cached on a digest of their ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from core.explain import global_importance
from core.explain import grouped_importance as core_grouped_importance
from core.store.cohort_refresh import CohortSnapshot
from ui import cohort, session
from ui.cache import get_model
from ui.stores import get_store

#: ``(store URL, data revision, model version)``: the key of every view below.
ViewKey = tuple[str, int, str]


def view_key(model_dir: Path | None = None) -> ViewKey:
    """The store's URL and data revision (one read of an index) and the version of the
    model in ``model_dir`` (default: the session's active model)."""
    store = get_store()
    return store.url, store.data_revision(), get_model(model_dir).version


@st.cache_data(show_spinner=False, max_entries=16)
def _status(url: str, revision: int, version: str) -> dict[str, Any]:
    return get_store().score_status(version)


def score_status(version: str) -> dict[str, Any]:
    """:meth:`core.store.CaseStore.score_status` of the store for ``version``, counted
    once per store revision (every write to the studies or scores, a rescore's batches
    included, is audited and so moves the revision) instead of on every run: on 100k
    studies the count was most of the Model page's run."""
    store = get_store()
    return _status(store.url, store.data_revision(), version)


def _unscored(url: str, revision: int, version: str) -> int:
    return int(_status(url, revision, version)["unscored"])


def scoring_sentence(n: int, version: str) -> str:
    """``Scoring 1,234 studies with model v…`` (the progress bar's text)."""
    return f"Scoring {n:,} {'study' if n == 1 else 'studies'} with model {version}…"


def ensure_scores() -> ViewKey:
    """Score every study that has no score of the active model yet, with a progress bar
    and a sentence, and return the :func:`view_key` after it."""
    key = view_key()
    if not _unscored(*key):
        return key
    model = get_model()
    total = _unscored(*key)
    bar = st.progress(0.0, text=scoring_sentence(total, model.version))

    def progress(done: int, of: int) -> None:
        bar.progress(min(1.0, done / of) if of else 1.0,
                     text=f"{scoring_sentence(of, model.version)} {done:,} done.")

    done = get_store().recompute_scores(model, missing_only=True, progress=progress,
                                        batch=10_000)
    bar.empty()
    _status.clear()
    st.caption(scored_sentence(int(done["studies"]), model.version, float(done["seconds"])))
    return view_key()


def scored_sentence(n: int, version: str, seconds: float) -> str:
    """What :func:`ensure_scores` did, shown once under where its progress bar was."""
    return (f"Scored {n:,} {'study' if n == 1 else 'studies'} with model {version} "
            f"({seconds:.1f} s); the pages read the stored scores from now on.")


def warm_key(model_dir: Path) -> ViewKey | None:
    """The :func:`view_key` of the store with the model in ``model_dir``, for the server's
    warm-up (:mod:`ui.warmup`, no session: the default model); ``None`` while a study has
    no score of it, since scoring is a page's, behind its progress bar."""
    key = view_key(model_dir)
    return None if _unscored(*key) else key


def warm_range(model_dir: Path) -> tuple[ViewKey, dt.date, dt.date] | None:
    """:func:`warm_key` and the store's first and last study date (a page's default
    date range); ``None`` when there is no key or no study."""
    key = warm_key(model_dir)
    if key is None:
        return None
    first, last = date_range(key)
    return None if first is None or last is None else (key, first, last)


def warm_views(model_dir: Path) -> None:
    """Read the views every data page starts from (the scored cohort, the date range,
    the assessment errors and the study count) into their caches (:mod:`ui.warmup`)."""
    key = warm_key(model_dir)
    if key is None:
        return
    scored_cohort(key)
    date_range(key)
    assessment_errors(key)
    study_count(key)


# ------------------------------------------------------------- whole-cohort views


#: The latest scored-cohort snapshot per (store URL, model version), refreshed from (only
#: the changed studies read again) when the data revision moves; the two most recent.
_SNAPSHOTS: OrderedDict[tuple[str, str], CohortSnapshot] = OrderedDict()
_SNAPSHOTS_LOCK = threading.Lock()


@st.cache_resource(show_spinner=False, max_entries=2)
def _cohort(url: str, revision: int, version: str) -> CohortSnapshot:
    with _SNAPSHOTS_LOCK:
        previous = _SNAPSHOTS.get((url, version))
    snapshot = get_store().scored_snapshot(version, previous)
    with _SNAPSHOTS_LOCK:
        latest = _SNAPSHOTS.get((url, version))
        if latest is None or snapshot.position >= latest.position:
            _SNAPSHOTS[(url, version)] = snapshot
            _SNAPSHOTS.move_to_end((url, version))
            while len(_SNAPSHOTS) > 2:
                _SNAPSHOTS.popitem(last=False)
    return snapshot


def scored_cohort(key: ViewKey | None = None) -> pd.DataFrame:
    """Every stored study with its stored score of the active model (the columns of
    :meth:`core.store.CaseStore.list_studies` plus those of
    :func:`core.assess.assess_frame`), scoring missing studies first (``key``: the
    :func:`ensure_scores` key the caller already has). Shared between sessions: never
    modify the frame in place."""
    return _cohort(*(key or ensure_scores())).frame


def scored_snapshot(key: ViewKey) -> CohortSnapshot:
    """:func:`scored_cohort` of ``key`` with where it came from: the snapshot it was
    refreshed from and the patients whose rows were read again (views per patient, such
    as surveillance, compute only those again)."""
    return _cohort(*key)


@st.cache_data(show_spinner=False, max_entries=16)
def _errors(url: str, revision: int, version: str) -> pd.DataFrame:
    return get_store().assessment_errors(version)


def assessment_errors(key: ViewKey | None = None) -> pd.DataFrame:
    """``study_id, patient_id, assessment_error`` of the studies the active model could
    not assess (cached per store revision and model; ``key``: the :func:`ensure_scores`
    key the page already has, so the store is not asked again)."""
    return _errors(*(key or ensure_scores()))


@st.cache_data(show_spinner=False, max_entries=16)
def _dates(url: str, revision: int) -> tuple[dt.date | None, dt.date | None]:
    return get_store().study_date_range()


def date_range(key: ViewKey | None = None) -> tuple[dt.date | None, dt.date | None]:
    """The first and last study date of the store (SQL, cached per revision; ``key`` as
    in :func:`assessment_errors`)."""
    url, revision, _ = key or view_key()
    return _dates(url, revision)


@st.cache_data(show_spinner=False, max_entries=16)
def _values(url: str, revision: int, version: str, column: str) -> list[str]:
    return get_store().score_values(version, column)


def score_values(column: str, key: ViewKey | None = None) -> list[str]:
    """Distinct stored values of a score column (e.g. ``tier``) of the active model
    (``key`` as in :func:`assessment_errors`)."""
    return _values(*(key or ensure_scores()), column)


def scores_of(study_ids: Sequence[int]) -> pd.DataFrame:
    """The stored scores of the active model of a few studies (``study_id`` and the
    assessment columns)."""
    return get_store().scores_of(get_model().version, list(study_ids))


@st.cache_data(show_spinner=False, max_entries=16)
def _study_count(url: str, revision: int) -> int:
    return int(get_store().study_counts()["studies"])


def study_count(key: ViewKey | None = None) -> int:
    """The number of studies in the store (SQL, cached per store revision; ``key`` as in
    :func:`assessment_errors`)."""
    url, revision, _ = key or view_key()
    return _study_count(url, revision)


@st.cache_resource(show_spinner=False, max_entries=8)
def _cohort_view(url: str, revision: int, version: str, f: cohort.CohortFilter, unit: str,
                 assessed_only: bool) -> pd.DataFrame:
    frame = _cohort(url, revision, version).frame
    if assessed_only:
        frame = frame[frame["assessment_error"].isna()]
    view = cohort.with_bins(cohort.analysis_unit(cohort.apply_filter(frame, f), unit))
    _VIEW_KEYS[id(view)] = (weakref.ref(view), (url, revision, version),
                            ids_digest(view["study_id"].to_numpy()))
    return view


def cohort_view(f: cohort.CohortFilter, unit: str = "studies", *,
                assessed_only: bool = False, key: ViewKey | None = None) -> pd.DataFrame:
    """The scored cohort filtered (:func:`ui.cohort.apply_filter`), at the unit of
    analysis (:func:`ui.cohort.analysis_unit`) with the paper's groups and bins
    (:func:`ui.cohort.with_bins`); ``assessed_only`` leaves out the studies the model
    could not assess. Cached per store revision, model and arguments (shared: never
    modified in place; ``key`` as in :func:`scored_cohort`)."""
    return _cohort_view(*(key or ensure_scores()), f, unit, bool(assessed_only))


T = TypeVar("T")
#: ``id(view) -> (weak reference, view key, ids digest)`` of the frames of
#: :func:`_cohort_view` (its cache keeps them alive; a dead reference is never used).
_VIEW_KEYS: dict[int, tuple[weakref.ref, ViewKey, str]] = {}


@st.cache_data(show_spinner=False, max_entries=128)
def _memo(name: str, key: ViewKey, digest: str, _fn: Callable[[pd.DataFrame], Any],
          _frame: pd.DataFrame) -> Any:
    return _fn(_frame)


def memo(name: str, fn: Callable[[pd.DataFrame], T], frame: pd.DataFrame) -> T:
    """``fn(frame)`` for a frame of :func:`cohort_view` rows, cached per store revision,
    model version and the frame's study ids (``name`` tells the functions apart). A
    frame :func:`cohort_view` returned carries its key: no query, no digest."""
    known = _VIEW_KEYS.get(id(frame))
    if known is not None and known[0]() is frame:
        key, digest = known[1], known[2]
    else:
        key, digest = view_key(), ids_digest(frame["study_id"].to_numpy())
    return _memo(name, key, digest, fn, frame)


# ------------------------------------------------------------------ importance


def ids_digest(study_ids: Sequence[int] | np.ndarray) -> str:
    """A short digest of a sequence of study ids, in their order (a cache key without
    hashing each id in Python)."""
    ids = np.ascontiguousarray(np.asarray(study_ids, dtype=np.int64))
    return hashlib.blake2b(ids.tobytes(), digest_size=12).hexdigest()


def _studies(study_ids: Sequence[int] | np.ndarray) -> pd.DataFrame:
    frame = scored_cohort()
    return frame[frame["study_id"].isin(np.asarray(study_ids, dtype=np.int64))
                 ].reset_index(drop=True)


@st.cache_data(show_spinner=False, max_entries=8)
def _importance(url: str, revision: int, version: str, model_dir: str, digest: str,
                _ids: np.ndarray) -> pd.DataFrame:
    return global_importance(get_model(model_dir), _studies(_ids))


@st.cache_data(show_spinner=False, max_entries=8)
def _grouped(url: str, revision: int, version: str, model_dir: str, digest: str,
             _ids: np.ndarray) -> pd.DataFrame:
    return core_grouped_importance(get_model(model_dir), _studies(_ids))


def importance(study_ids: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """Mean |SHAP| per feature of the active model over the given studies (cached)."""
    ids = np.asarray(study_ids, dtype=np.int64)
    return _importance(*view_key(), str(session.active_model_dir().resolve()),
                       ids_digest(ids), ids)


def grouped_importance(study_ids: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """Mean |SHAP| per feature group of the active model over the given studies
    (:func:`core.explain.grouped_importance`, cached)."""
    ids = np.asarray(study_ids, dtype=np.int64)
    return _grouped(*view_key(), str(session.active_model_dir().resolve()),
                    ids_digest(ids), ids)
