"""The frame of every page: router check, shared style, sidebar and title."""

from __future__ import annotations

import streamlit as st

from ui import components, session
from ui.router import ensure_router


def sidebar() -> None:
    """Sidebar on every page: the active model and the name written to the audit log."""
    with st.sidebar:
        session.default_widget(session.ACTOR_WIDGET_KEY,
                               st.session_state.get(session.ACTOR_KEY) or "")
        st.text_input("Your name or role (audit log)", key=session.ACTOR_WIDGET_KEY,
                      placeholder=session.DEFAULT_ACTOR, on_change=session.remember_actor,
                      max_chars=64)
        st.caption(f"Model in use: **{session.active_model_dir().name}** (change it on the "
                   "Model page).")
        st.caption("Decision support, not a diagnosis.")


def page_header(title: str, subtitle: str | None = None) -> None:
    """Router check, the shared style, the sidebar and the title (call first on every
    page)."""
    ensure_router()
    components.page_style()
    sidebar()
    st.title(title)
    if subtitle:
        st.caption(subtitle)
