"""A ``progress(done, total)`` callback drawn as an ``st.progress`` bar.

Long core operations (bulk validation, import, scoring) report their progress through
such a callback; this is its Streamlit form. Imports no other ``ui`` module.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

#: ``progress(done, total)``, as :mod:`core.clinical.bulk_tables` and
#: :class:`core.store.CaseStore` call it.
Progress = Callable[[int, int], None]


def progress_bar(verb: str, unit: str) -> Progress:
    """A new bar (empty, labelled "<verb>…") and the callback that moves it:
    "<verb>: 1,200 of 5,000 <unit>"; a total of zero shows a full bar."""
    bar = st.progress(0.0, text=f"{verb}…")

    def update(done: int, total: int) -> None:
        fraction = 1.0 if total <= 0 else min(1.0, max(0.0, done / total))
        bar.progress(fraction, text=f"{verb}: {done:,} of {total:,} {unit}")

    return update
