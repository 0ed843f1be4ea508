"""The prediction target: bone pain on the 0-10 VAS banded into ordered categories.

The bands, colours and sources are vocabulary and live in :mod:`core.vocab`; they are
re-exported here because the model card and training read them as the model's target.
"""

from __future__ import annotations

from core.vocab import CATEGORIES, CUTOFF_SOURCES, VAS_CUTOFFS, vas_to_category

__all__ = ["CATEGORIES", "CUTOFF_SOURCES", "VAS_CUTOFFS", "vas_to_category"]
