"""Stored scores of the session's model: how many stored studies lack them and a
"Rescore stored studies" control that computes them with a progress bar
(:meth:`core.store.CaseStore.recompute_scores`, ``missing_only``), so that after a model
change or an import the pages read stored scores instead of computing them.

Scoring runs in the page's script run, in batches that each commit on their own: leaving
the page stops it after the current batch, and the next rescore carries on with the
studies still missing (nothing is scored twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import streamlit as st

from ui import components, session
from ui.progress import progress_bar
from ui.stores import get_store

if TYPE_CHECKING:
    from core.model import TrainedModel


def active_model() -> tuple[TrainedModel | None, str | None]:
    """The session's model, or ``None`` and the one sentence saying why it could not be
    loaded."""
    from ui.cache import get_model  # lazy: the image and SHAP stack comes with it

    try:
        return get_model(), None
    except components.USER_ERRORS as exc:
        return None, components.plain_sentence(exc)


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


def rescore(model: TrainedModel) -> dict[str, Any]:
    """Score every stored study that has no score of ``model``'s version, with a progress
    bar, audited ``predict`` under the session's name; returns
    :meth:`~core.store.CaseStore.recompute_scores`'s summary."""
    return get_store().recompute_scores(model, missing_only=True, actor=session.actor(),
                                        progress=progress_bar("Scoring", "studies"))


def render_rescore(*, key: str, model: TrainedModel | None = None) -> None:
    """The "Stored scores" section: status for the session's model (or ``model``) and the
    "Rescore stored studies" button, enabled when studies lack scores."""
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
    status = components.run_safely(store.score_status, model.version,
                                   prefix="The stored scores could not be read:")
    if status is None:
        return
    box = st.container()
    clicked = st.button("Rescore stored studies", key=key, icon=":material/refresh:",
                        disabled=not status["unscored"],
                        help="Compute and store the scores of the studies that have none "
                             "for this model.")
    if clicked:
        summary = components.run_safely(rescore, model, prefix="Rescoring stopped:")
        if summary is not None:
            text = (f"Scored {summary['studies']:,} studies with model "
                    f"{summary['model_version']} in {summary['seconds']:g} s.")
            if summary.get("not_assessable"):
                text += (f" {summary['not_assessable']:,} could not be assessed (missing "
                         "values the model needs).")
            st.success(text, icon=":material/check_circle:")
        status = components.run_safely(store.score_status, model.version) or status
    with box:
        _show_status(status, model.version)
