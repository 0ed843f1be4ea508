"""Pain categories, VAS bands, colours and urgency."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a frame is handled, not with the vocabulary
    import pandas as pd

# ================================================================ pain categories

#: Ordered pain categories (index = ordinal class code).
CATEGORIES: tuple[str, ...] = ("mild", "moderate", "severe")

#: VAS boundaries on the 0-10 scale: ``mild < 4 <= moderate < 7 <= severe``.
VAS_CUTOFFS: tuple[float, float] = (4.0, 7.0)

#: What each category means on the VAS, for labels and legends.
CATEGORY_VAS_BANDS: Mapping[str, str] = MappingProxyType({
    "mild": "VAS 0-3", "moderate": "VAS 4-6", "severe": "VAS 7-10",
})

#: Colours: mild green, moderate orange, severe red (pages, charts, HTML and PDF report).
CATEGORY_COLOURS: Mapping[str, str] = MappingProxyType({
    "mild": "#2e7d32", "moderate": "#ef6c00", "severe": "#c62828",
})

#: Where the cut-offs come from (written to the model card).
CUTOFF_SOURCES: tuple[str, ...] = (
    "Common clinical NRS/VAS bands 1-3 mild, 4-6 moderate, 7-10 severe "
    "(e.g. NCCN Clinical Practice Guidelines, Adult Cancer Pain); VAS 0 is counted as mild.",
    "Serlin RC, Mendoza TR, Nakamura Y, Edwards KR, Cleeland CS. When is cancer pain mild, "
    "moderate or severe? Grading pain severity by its interference with function. "
    "Pain 1995;61:277-284 (data-derived cut-points 5 and 7: the severe boundary matches; "
    "their mild band is 1-4).",
)

#: SHAP / change colours: a push towards more pain, and towards less.
UP_COLOUR = "#c62828"
DOWN_COLOUR = "#1976d2"


def vas_to_category(vas: object) -> str:
    """Band a VAS score into ``mild`` / ``moderate`` / ``severe``.

    ``mild`` if ``vas < 4``, ``moderate`` if ``4 <= vas < 7``, else ``severe``
    (:data:`VAS_CUTOFFS`; non-integer scores are banded on the continuous scale).

    Raises
    ------
    ValueError
        When ``vas`` is not a number in 0-10.
    """
    try:
        value = float(vas)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"vas {vas!r} is not a number.") from None
    if not 0.0 <= value <= 10.0:  # also rejects NaN
        raise ValueError(f"vas {vas!r} is outside 0-10.")
    return CATEGORIES[bisect.bisect_right(VAS_CUTOFFS, value)]


def vas_categories(values: pd.Series) -> pd.Series:
    """:func:`vas_to_category` over a whole column (NaN stays missing, as ``None``)."""
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    codes = np.searchsorted(VAS_CUTOFFS, numbers, side="right")
    out = np.asarray(CATEGORIES, dtype=object)[np.clip(codes, 0, len(CATEGORIES) - 1)]
    out[np.isnan(numbers)] = None
    return pd.Series(out, index=values.index, dtype=object)


def in_category_order(names: Iterable[object]) -> list[str]:
    """``names`` (e.g. the keys of a probability mapping) with the pain categories first,
    in clinical order (mild, moderate, severe), then any other name as given."""
    given = [str(n) for n in names]
    return [c for c in CATEGORIES if c in given] + [n for n in given if n not in CATEGORIES]


def category_colour(category: str) -> str:
    """Colour of a pain category (grey for anything else)."""
    return CATEGORY_COLOURS.get(category, "#9e9e9e")


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#c62828"`` -> ``(198, 40, 40)`` (for the PDF renderer)."""
    text = colour.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


# ========================================================================= urgency

Urgency = Literal["routine", "soon", "urgent"]
#: Urgency levels, least to most urgent.
URGENCY_ORDER: tuple[str, ...] = ("routine", "soon", "urgent")

#: Colours of the urgency levels (the pain-category hues: green, orange, red).
URGENCY_COLOURS: Mapping[str, str] = MappingProxyType({
    "routine": CATEGORY_COLOURS["mild"], "soon": CATEGORY_COLOURS["moderate"],
    "urgent": CATEGORY_COLOURS["severe"],
})


def most_urgent(*levels: str) -> str:
    """The most urgent of several urgency levels."""
    return max(levels, key=URGENCY_ORDER.index)
