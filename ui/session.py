"""Per-session state: the audit actor, widget defaults kept across page switches, and the
model this session uses.

Imports no other ``ui`` module; :mod:`ui.cache` and everything above it build on it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import streamlit as st

REPO = Path(__file__).resolve().parents[1]
#: Model folders (``models/<name>/``); tests point it at a temporary copy.
MODELS_DIR = REPO / "models"
DEFAULT_MODEL_NAME = "demo"

ACTIVE_MODEL_KEY = "active_model_dir"
ACTOR_KEY = "audit_actor"
#: Key of the sidebar's name field; :func:`remember_actor` copies it to :data:`ACTOR_KEY`.
ACTOR_WIDGET_KEY = "sidebar_actor"
DEFAULT_ACTOR = "dashboard"

#: ``persist_state`` of the widgets whose values must survive a visit to another page
#: (tumor board filters and presented case, what-if inputs, New case form and viewer,
#: cohort filters, report study). Without it Streamlit dropped them on a page switch:
#: the board fell back to its first case, the what-if lost its starting case and the
#: New case form emptied while its old prediction stayed on screen.
KEEP = "session"


# ------------------------------------------------------------------------- actor


def actor() -> str:
    """Name recorded in the audit log for writes from this session."""
    return str(st.session_state.get(ACTOR_KEY) or DEFAULT_ACTOR)


def remember_actor() -> None:
    """``on_change`` of the sidebar's name field: keep it (64 characters at most)."""
    value = str(st.session_state.get(ACTOR_WIDGET_KEY, "")).strip()[:64]
    st.session_state[ACTOR_KEY] = value or None


# --------------------------------------------------------------- widget defaults


def default_widget(name: str, value: Any) -> None:
    """Initial value of a widget set through the session (instead of ``value=``)."""
    if name not in st.session_state:
        st.session_state[name] = value


def default_date_range(name: str, full: tuple[dt.date, dt.date]) -> None:
    """A date-range widget starts on ``full``; it follows the data (e.g. a case saved
    today) while the user has not narrowed it."""
    ss = st.session_state
    seen_key = f"{name}_full_range"
    current = ss.get(name)
    previous = ss.get(seen_key)
    if current is None or (previous is not None and tuple(current) == tuple(previous)):
        ss[name] = full
    ss[seen_key] = full


# ------------------------------------------------------------------- model choice


def available_models() -> list[Path]:
    """Model folders under ``models/`` that hold a model card, demo first."""
    if not MODELS_DIR.is_dir():
        return []
    found = sorted(p for p in MODELS_DIR.iterdir() if (p / "model_card.json").is_file())
    return sorted(found, key=lambda p: (p.name != DEFAULT_MODEL_NAME, p.name))


def default_model_dir() -> Path:
    """``models/demo`` of the repository."""
    return REPO / "models" / DEFAULT_MODEL_NAME


def active_model_dir() -> Path:
    """The model this session uses (chosen on the Model page; default ``models/demo``)."""
    chosen = st.session_state.get(ACTIVE_MODEL_KEY)
    if chosen and (Path(chosen) / "model_card.json").is_file():
        return Path(chosen)
    return default_model_dir()


def set_active_model(path: str | Path) -> None:
    """Use the model in ``path`` for this session."""
    st.session_state[ACTIVE_MODEL_KEY] = str(Path(path))


def new_model_dir(name: str) -> Path:
    """Folder of a new model called ``name`` (under :data:`MODELS_DIR`)."""
    return MODELS_DIR / name.strip()
