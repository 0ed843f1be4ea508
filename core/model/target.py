"""The prediction target: bone pain on the 0-10 VAS banded into ordered categories.

The bands and their sources are described in the :mod:`core.model` docstring
(section *Target*); :data:`CUTOFF_SOURCES` is written to the model card.
"""

from __future__ import annotations

import numpy as np

#: Ordered pain categories (index = ordinal class code).
CATEGORIES: tuple[str, ...] = ("mild", "moderate", "severe")

#: VAS boundaries on the 0-10 scale: ``mild < 4 <= moderate < 7 <= severe``.
VAS_CUTOFFS: tuple[float, float] = (4.0, 7.0)

#: Where the cut-offs come from (written to the model card).
CUTOFF_SOURCES: tuple[str, ...] = (
    "Common clinical NRS/VAS bands 1-3 mild, 4-6 moderate, 7-10 severe "
    "(e.g. NCCN Clinical Practice Guidelines, Adult Cancer Pain); VAS 0 is counted as mild.",
    "Serlin RC, Mendoza TR, Nakamura Y, Edwards KR, Cleeland CS. When is cancer pain mild, "
    "moderate or severe? Grading pain severity by its interference with function. "
    "Pain 1995;61:277-284 (data-derived cut-points 5 and 7: the severe boundary matches; "
    "their mild band is 1-4).",
)


def vas_to_category(vas: float) -> str:
    """Band a VAS score into ``mild`` / ``moderate`` / ``severe``.

    Parameters
    ----------
    vas : float
        Pain on the 0-10 VAS.

    Returns
    -------
    str
        ``mild`` if ``vas < 4``, ``moderate`` if ``4 <= vas < 7``, else ``severe``.

    Raises
    ------
    ValueError
        When ``vas`` is not a number in 0-10.
    """
    try:
        value = float(vas)
    except (TypeError, ValueError):
        raise ValueError(f"vas {vas!r} is not a number.") from None
    if not 0.0 <= value <= 10.0:  # also rejects NaN
        raise ValueError(f"vas {vas!r} is outside 0-10.")
    return CATEGORIES[int(np.searchsorted(VAS_CUTOFFS, value, side="right"))]
