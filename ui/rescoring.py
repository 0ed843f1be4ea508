"""Stored scores of the session's model: how many stored studies lack them and a
"Rescore stored studies" control that computes them in the background with a progress
bar (:meth:`core.store.CaseStore.recompute_scores`, ``missing_only``), so that after a
model change or an import the pages read stored scores instead of computing them.

The recompute runs in a thread of the server, one per store and model version whoever
starts it (a second click, or another session, follows the running one). Each batch
commits on its own, so the scores written so far stay if the server stops, and the next
rescore carries on with the studies still missing. The page shows the thread's progress
in a fragment that refreshes itself every second while the thread runs; the user may
leave the page meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import streamlit as st

from ui import components, scores, session
from ui.stores import get_store

if TYPE_CHECKING:
    from core.model import TrainedModel
    from core.store import CaseStore

LOG = logging.getLogger(__name__)
#: Seconds between two refreshes of the progress while a rescore runs.
REFRESH_S = 1.0
#: Guards the job registry and a job's end (its ``again`` / ``closed`` flags).
_JOBS_LOCK = threading.Lock()


def active_model() -> tuple[TrainedModel | None, str | None]:
    """The session's model, or ``None`` and the one sentence saying why it could not be
    loaded."""
    from ui.cache import get_model  # lazy: the image and SHAP stack comes with it

    try:
        return get_model(), None
    except components.USER_ERRORS as exc:
        return None, components.plain_sentence(exc)


# ------------------------------------------------------------------ background job


@dataclass
class RescoreJob:
    """One background recompute of the missing scores of a model version in a store.

    ``done`` / ``total`` follow the store's progress callback; ``summary`` is
    :meth:`~core.store.CaseStore.recompute_scores`'s result once it finished, ``error``
    one sentence if it stopped."""

    version: str
    actor: str
    started: float = field(default_factory=time.time)
    done: int = 0
    total: int = 0
    summary: dict[str, Any] | None = None
    error: str | None = None
    thread: threading.Thread | None = None
    #: Asked again while running (e.g. an import added studies after the job had listed
    #: the missing ones): one more pass over the missing studies when this one ends.
    again: bool = False
    #: Set (under the lock) once the summary or the error is; no more passes then.
    closed: bool = False

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and not self.closed

    def update(self, done: int, total: int) -> None:
        """The store's ``progress(studies_done, studies_total)``."""
        self.done, self.total = int(done), int(total)

    def run(self, store: CaseStore, model: TrainedModel) -> None:
        """The thread's work (no Streamlit call in here): passes over the missing scores
        until no pass was asked for meanwhile; ``summary`` adds them up. The job counts
        as finished (``running`` false) only once its summary or error is set, and from
        then on a new request starts a new job instead of waiting on this one."""
        total: dict[str, Any] = {"model_version": self.version, "studies": 0,
                                 "not_assessable": 0, "seconds": 0.0}
        try:
            while True:
                done = store.recompute_scores(model, missing_only=True, actor=self.actor,
                                              progress=self.update)
                for name in ("studies", "not_assessable", "seconds"):
                    total[name] += done.get(name, 0)
                with _JOBS_LOCK:
                    if not self.again:
                        self.summary = {**total, "seconds": round(total["seconds"], 3)}
                        self.closed = True
                        return
                    self.again = False
        except components.USER_ERRORS as exc:
            self.error = components.plain_sentence(exc)
        except Exception as exc:  # reported on the page, logged in full
            LOG.exception("rescoring %s stopped", self.version)
            self.error = f"an unexpected {type(exc).__name__} stopped it; see the server log."
        finally:
            with _JOBS_LOCK:
                self.closed = True


@st.cache_resource(show_spinner=False)
def _jobs() -> dict[tuple[str, str], RescoreJob]:
    """The server's rescore jobs by (store URL, model version): the running one or the
    last one that finished."""
    return {}


def current_job(store: CaseStore, version: str) -> RescoreJob | None:
    """The running or last finished rescore of ``version`` in ``store``, if any."""
    return _jobs().get((store.url, version))


def start_rescore(store: CaseStore, model: TrainedModel) -> RescoreJob:
    """Start scoring, in a background thread, every stored study without a score of
    ``model``'s version (audited ``predict`` under the session's name). A rescore of that
    version already running is returned instead of starting a second one; it makes one
    more pass when it ends, for the studies added since it listed the missing ones."""
    key = (store.url, model.version)
    with _JOBS_LOCK:
        job = _jobs().get(key)
        if job is not None and job.running:
            job.again = True
            return job
        job = RescoreJob(model.version, session.actor())
        job.thread = threading.Thread(target=job.run, args=(store, model), daemon=True,
                                      name=f"rescore {model.version}")
        _jobs()[key] = job
        job.thread.start()
    return job


# ------------------------------------------------------------------ rendering


def status_text(status: Mapping[str, Any], version: str) -> tuple[str, str]:
    """``(kind, sentence)`` about :meth:`~core.store.CaseStore.score_status`:
    ``"empty"``, ``"complete"`` or ``"missing"``."""
    scored, missing = int(status.get("scored", 0)), int(status.get("unscored", 0))
    total = scored + missing
    if not total:
        return "empty", "The store has no studies yet."
    if not missing:
        return "complete", (f"All {total:,} stored studies have stored scores of model "
                            f"{version}.")
    return "missing", (f"{missing:,} of {total:,} stored studies have no stored score of "
                       f"model {version}. Rescore them once so that the pages read their "
                       "scores instead of computing them.")


def _show_status(status: Mapping[str, Any], version: str) -> None:
    kind, text = status_text(status, version)
    {"empty": st.info, "complete": st.success, "missing": st.warning}[kind](text)
    others = {v: n for v, n in (status.get("versions") or {}).items() if v != version}
    if others:
        st.caption("Also stored: scores of " + ", ".join(
            f"model {v} ({n:,} studies)" for v, n in others.items()) + ".")


def _show_finished(job: RescoreJob) -> None:
    """What the last rescore of this version did."""
    when = time.strftime("%H:%M:%S", time.localtime(job.started))
    if job.error:
        st.error(f"The scoring started at {when} stopped after {job.done:,} of "
                 f"{job.total:,} studies: {job.error} Rescore again to carry on.",
                 icon=":material/warning:")
        return
    summary = job.summary or {}
    text = (f"Scoring started at {when}: scored {summary.get('studies', 0):,} studies with "
            f"model {job.version} in {summary.get('seconds', 0):g} s; their scores are "
            "stored, so the pages need not compute them.")
    if summary.get("not_assessable"):
        text += (f" {summary['not_assessable']:,} could not be assessed (missing values the "
                 "model needs).")
    st.success(text, icon=":material/check_circle:")


@st.fragment(run_every=REFRESH_S)
def _running(store_url: str, version: str) -> None:
    """The running job's progress, redrawn every :data:`REFRESH_S`; the whole page is
    rerun once the job has finished (its status changed)."""
    job = _jobs().get((store_url, version))
    if job is None or not job.running:
        st.rerun(scope="app")
    if job.total <= 0:  # the thread has not yet listed the studies without a score
        st.progress(0.0, text="Scoring in the background: finding the studies without a "
                              "stored score…")
    else:
        st.progress(min(1.0, job.done / job.total),
                    text=f"Scoring in the background: {job.done:,} of {job.total:,} studies")
    st.caption("You may leave this page; the scores are stored batch by batch.")


def render_rescore(*, key: str, model: TrainedModel | None = None) -> None:
    """The "Stored scores" section: status for the session's model (or ``model``), the
    "Rescore stored studies" button (enabled when studies lack scores and no rescore of
    this version runs) and the background rescore's progress or last result."""
    st.subheader("Stored scores")
    error = None
    if model is None:
        model, error = active_model()
    if model is None:
        st.error(f"The pain model could not be loaded: {error}", icon=":material/warning:")
        return
    store = components.run_safely(get_store, prefix="The case store could not be opened:")
    if store is None:
        return
    status = components.run_safely(scores.score_status, model.version,
                                   prefix="The stored scores could not be read:")
    if status is None:
        return
    job = current_job(store, model.version)  # started by the button's callback, if clicked
    running = job is not None and job.running
    box = st.container()
    st.button("Rescore stored studies", key=key, icon=":material/refresh:",
              disabled=running or not status["unscored"], on_click=start_rescore,
              args=(store, model),
              help="Compute and store, in the background, the scores of the studies that "
                   "have none for this model.")
    with box:
        if running:
            _running(store.url, model.version)
        else:
            if job is not None:
                _show_finished(job)
            _show_status(status, model.version)
