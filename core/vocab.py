"""The one clinical vocabulary: pure data and small queries.

In the spirit of TotalSegmentator's ``map_to_binary.py``: everything the product names
(regions, vertebral levels and their order, pain categories and their colours, VAS bands,
SINS components and points, Bilsky grades, urgency, regions of involvement) is defined
here once, with the small functions that read it. Nothing else in the code base
re-encodes these; modules import them from here. Display formatting of clinical values
(grade ``"1b"``, ``"yes"``/``"no"``, ratios in %) lives here too, so a page, a report and
the command line show a value the same way.

Sources
-------
* Vertebral levels and regions: standard anatomy; transitional T13 / L6 and the sacrum
  as VerSe labels them (Sekuboyina et al., Med Image Anal 2021).
* Pain bands: common clinical NRS/VAS bands 1-3 mild, 4-6 moderate, 7-10 severe (e.g.
  NCCN Adult Cancer Pain; VAS 0 counted as mild); Serlin et al., Pain 1995;61:277-284.
* SINS: Fisher CG et al., Spine 2010;35:E1221-E1229.
* Bilsky epidural spinal cord compression scale: Bilsky MH et al., J Neurosurg Spine
  2010;13:324-328.
* Region grouping for the published comparison: Kong et al., Int J Med Sci
  2025;22(3):708-715 (lumbar vs thoracic vs cervical spinal metastases).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

# =========================================================================== regions

#: Spinal regions in craniocaudal order (the coccyx is counted as sacral).
REGIONS: tuple[str, ...] = ("cervical", "thoracic", "lumbar", "sacral")

#: One colour per region (charts, spine diagram, report).
REGION_COLOURS: Mapping[str, str] = MappingProxyType({
    "cervical": "#1f77b4", "thoracic": "#2ca02c", "lumbar": "#d62728", "sacral": "#9467bd",
})

#: Per-region lesion-count column of flat tables (``lesion_count_lumbar`` ...).
REGION_COUNT_COLUMNS: tuple[str, ...] = tuple(f"lesion_count_{r}" for r in REGIONS)


def region_count_column(region: str) -> str:
    """Flat column name of a region's lesion count (``"lumbar"`` -> ``lesion_count_lumbar``).

    Raises
    ------
    ValueError
        For a name that is not one of :data:`REGIONS`.
    """
    if region not in REGIONS:
        raise ValueError(f"region {region!r} is not one of {', '.join(REGIONS)}.")
    return f"lesion_count_{region}"


# ============================================================================ levels


def _level_names() -> tuple[str, ...]:
    names = [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 14)]
    names += [f"L{i}" for i in range(1, 7)] + ["S1", "sacrum", "coccyx"]
    return tuple(names)


#: Every level name in craniocaudal order (T13 and L6 are transitional vertebrae).
LEVEL_NAMES: tuple[str, ...] = _level_names()

#: Transitional vertebrae: present in some people, a reason to check the counting.
TRANSITIONAL_LEVELS: frozenset[str] = frozenset({"T13", "L6"})

_PREFIX_REGION = {"C": "cervical", "T": "thoracic", "L": "lumbar"}

#: Level name -> (region, craniocaudal order): C1 = 1 ... T12 = 19, T13 = 20, L1 = 21 ...
#: L6 = 26, S1 = 27, sacrum = 28, coccyx = 29. Read-only.
ANATOMY: Mapping[str, tuple[str, int]] = MappingProxyType({
    name: (_PREFIX_REGION.get(name[0], "sacral"), order)
    for order, name in enumerate(LEVEL_NAMES, start=1)
})

#: Sort key of an unknown level name: after every known level.
UNKNOWN_LEVEL_ORDER = 1000


def is_level(name: object) -> bool:
    """Whether ``name`` is a known level name (exact spelling, e.g. ``"L3"``, ``"sacrum"``)."""
    return isinstance(name, str) and name in ANATOMY


def level_region(name: str) -> str:
    """Region of a level name.

    Raises
    ------
    ValueError
        For an unknown level name.
    """
    try:
        return ANATOMY[name][0]
    except (KeyError, TypeError):
        raise ValueError(f"level {name!r} is not a vertebral level name.") from None


def level_order(name: object) -> int:
    """Craniocaudal rank of a level name; unknown names sort last
    (:data:`UNKNOWN_LEVEL_ORDER`)."""
    entry = ANATOMY.get(name) if isinstance(name, str) else None
    return entry[1] if entry else UNKNOWN_LEVEL_ORDER


def sort_levels(names: object) -> list[str]:
    """Distinct level names in craniocaudal order (unknown names last, by name)."""
    unique = {str(n) for n in names}  # type: ignore[union-attr]
    return sorted(unique, key=lambda n: (level_order(n), n))


def check_level_names(names: object, *, field: str = "involved_levels") -> tuple[str, ...]:
    """Validate a list of level names; return them in craniocaudal order, distinct.

    Raises
    ------
    ValueError
        Naming the first unknown level.
    """
    ordered = sort_levels(names)
    unknown = [n for n in ordered if n not in ANATOMY]
    if unknown:
        raise ValueError(f"{field} contains {unknown[0]!r}, which is not a vertebral level "
                         "name (C1-C7, T1-T13, L1-L6, S1, sacrum, coccyx).")
    return tuple(ordered)


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
    return CATEGORIES[int(np.searchsorted(VAS_CUTOFFS, value, side="right"))]


def vas_categories(values: pd.Series) -> pd.Series:
    """:func:`vas_to_category` over a whole column (NaN stays missing, as ``None``)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    codes = np.searchsorted(VAS_CUTOFFS, numbers, side="right")
    out = np.asarray(CATEGORIES, dtype=object)[np.clip(codes, 0, len(CATEGORIES) - 1)]
    out[np.isnan(numbers)] = None
    return pd.Series(out, index=values.index, dtype=object)


def category_colour(category: str) -> str:
    """Colour of a pain category (grey for anything else)."""
    return CATEGORY_COLOURS.get(category, "#9e9e9e")


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#c62828"`` -> ``(198, 40, 40)`` (for the PDF renderer)."""
    text = colour.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


# ================================================================ clinical context

#: WHO analgesic ladder steps (0 = no analgesic), as forms and tables show them.
ANALGESIC_STEPS: Mapping[int, str] = MappingProxyType({
    0: "0 none", 1: "1 non-opioid", 2: "2 weak opioid", 3: "3 strong opioid",
})

#: ECOG performance status grades (Oken et al., Am J Clin Oncol 1982;5:649-655).
ECOG_GRADES: Mapping[int, str] = MappingProxyType({
    0: "0 fully active", 1: "1 restricted in strenuous activity", 2: "2 ambulatory, self-care",
    3: "3 limited self-care", 4: "4 completely disabled",
})

#: Recorded sex values.
SEXES: tuple[str, ...] = ("F", "M", "other", "unknown")

#: Neurologic deficit, three states (the model code is the index). Only a *new or
#: progressive* deficit triggers the same-day MSCC pathway (NICE NG234, 2023); a known,
#: unchanged deficit does not.
DEFICIT_STATES: tuple[str, ...] = ("none", "stable", "new_or_progressive")
DEFICIT_LABELS: Mapping[str, str] = MappingProxyType({
    "none": "none", "stable": "stable (known, unchanged)",
    "new_or_progressive": "new or progressive",
})
_DEFICIT_WORDS = {
    **{s: s for s in DEFICIT_STATES},
    "new or progressive": "new_or_progressive", "new-or-progressive": "new_or_progressive",
    "new": "new_or_progressive", "progressive": "new_or_progressive",
}
_YES_WORDS = frozenset({"yes", "true", "y", "1", "1.0"})
_NO_WORDS = frozenset({"no", "false", "n", "0", "0.0"})


@dataclass(frozen=True)
class DeficitReading:
    """A parsed neurologic-deficit value: the state, and whether it came from the old
    yes/no format (read as ``new_or_progressive`` / ``none``, which callers warn about)."""

    state: str | None
    from_yes_no: bool = False


def parse_deficit(value: object) -> DeficitReading:
    """Read a neurologic-deficit value.

    Accepts ``none``, ``stable``, ``new_or_progressive`` (also ``new or progressive``,
    ``new``, ``progressive``; any letter case), and the old yes/no values (``yes``/``no``,
    ``true``/``false``, ``1``/``0``, booleans), which become ``new_or_progressive`` /
    ``none`` with ``from_yes_no`` set: a yes/no table cannot tell a stable deficit from a
    new one, so the safer reading is taken.

    Raises
    ------
    ValueError
        For anything else, naming the value.
    """
    if is_missing(value):
        return DeficitReading(None)
    if isinstance(value, (bool, np.bool_)):
        return DeficitReading("new_or_progressive" if value else "none", True)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return DeficitReading("new_or_progressive" if value == 1 else "none", True)
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in _DEFICIT_WORDS:
        return DeficitReading(_DEFICIT_WORDS[text])
    if text in _YES_WORDS or text in _NO_WORDS:
        return DeficitReading("new_or_progressive" if text in _YES_WORDS else "none", True)
    raise ValueError(f"neurologic_deficit {quote_value(value)} is not one of none, stable, "
                     "new_or_progressive.")


#: Radiosensitivity of the primary tumour to conventional external-beam radiotherapy, the
#: oncologic arm of NOMS (Laufer et al., Oncologist 2013;18:744-751): lymphoma, myeloma,
#: seminoma radiosensitive, breast and prostate moderately sensitive (grouped with the
#: sensitive ones, as NOMS treats them with conventional RT); renal, thyroid,
#: hepatocellular, colorectal and other gastrointestinal cancers, non-small-cell lung,
#: sarcoma and melanoma radioresistant. Matched as words in the recorded tumour name.
RADIORESISTANT_TERMS: tuple[str, ...] = (
    "renal", "kidney", "melanoma", "sarcoma", "thyroid", "hepatocellular", "liver", "colon",
    "colorectal", "rectal", "rectum", "gastric", "stomach", "oesophag", "esophag", "pancrea",
    "gastrointestinal", "non-small", "non small", "nsclc",
)
RADIOSENSITIVE_TERMS: tuple[str, ...] = (
    "breast", "prostate", "lymphoma", "myeloma", "plasmacytoma", "seminoma", "germ cell",
    "small cell", "sclc",
)
RADIOSENSITIVITY_VALUES: tuple[str, ...] = ("radiosensitive", "radioresistant", "unknown")


def radiosensitivity(primary_tumor: object) -> str:
    """``radiosensitive``, ``radioresistant`` or ``unknown`` for a recorded primary tumour
    name (radioresistant terms are checked first, so "non-small cell" is not read as
    "small cell")."""
    if is_missing(primary_tumor) or not isinstance(primary_tumor, str):
        return "unknown"
    text = primary_tumor.strip().lower()
    if any(term in text for term in RADIORESISTANT_TERMS):
        return "radioresistant"
    if any(term in text for term in RADIOSENSITIVE_TERMS):
        return "radiosensitive"
    return "unknown"


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


# ============================================================================ SINS

#: Published SINS point values per component (Fisher et al., Spine 2010;35:E1221).
SINS_POINTS: Mapping[str, tuple[int, ...]] = MappingProxyType({
    "sins_location": (0, 1, 2, 3),
    "sins_pain": (0, 1, 3),
    "sins_bone_lesion": (0, 1, 2),
    "sins_alignment": (0, 2, 4),
    "sins_collapse": (0, 1, 2, 3),
    "sins_posterolateral": (0, 1, 3),
})
SINS_COMPONENTS: tuple[str, ...] = tuple(SINS_POINTS)
SINS_MAX: int = sum(max(v) for v in SINS_POINTS.values())  # 18

#: The five SINS components that do not score pain (the pain model must not read the
#: pain component: pain would predict pain) and their maximum total.
SINS_NON_PAIN_COMPONENTS: tuple[str, ...] = tuple(c for c in SINS_COMPONENTS if c != "sins_pain")
SINS_WITHOUT_PAIN_MAX: int = SINS_MAX - max(SINS_POINTS["sins_pain"])  # 15

#: Title of each SINS component, as on the published calculator.
SINS_TITLES: Mapping[str, str] = MappingProxyType({
    "sins_location": "SINS location",
    "sins_pain": "SINS pain",
    "sins_bone_lesion": "SINS bone lesion",
    "sins_alignment": "SINS alignment",
    "sins_collapse": "SINS vertebral collapse",
    "sins_posterolateral": "SINS posterolateral involvement",
})

#: What each point value of each component means (Fisher 2010, table 1).
SINS_CHOICES: Mapping[str, Mapping[int, str]] = MappingProxyType({
    "sins_location": MappingProxyType({
        0: "0 rigid (S2-S5)", 1: "1 semi-rigid (T3-T10)", 2: "2 mobile (C3-C6, L2-L4)",
        3: "3 junctional (O-C2, C7-T2, T11-L1, L5-S1)"}),
    "sins_pain": MappingProxyType({
        0: "0 pain-free", 1: "1 occasional, not mechanical", 3: "3 mechanical"}),
    "sins_bone_lesion": MappingProxyType({0: "0 blastic", 1: "1 mixed", 2: "2 lytic"}),
    "sins_alignment": MappingProxyType({
        0: "0 normal", 2: "2 de novo deformity", 4: "4 subluxation/translation"}),
    "sins_collapse": MappingProxyType({
        0: "0 none", 1: "1 none, >50% body involved", 2: "2 <50% collapse",
        3: "3 >50% collapse"}),
    "sins_posterolateral": MappingProxyType({0: "0 none", 1: "1 unilateral", 3: "3 bilateral"}),
})

#: SINS stability bands: (lowest total, category).
SINS_BANDS: tuple[tuple[int, str], ...] = (
    (0, "stable"), (7, "potentially unstable"), (13, "unstable"),
)

#: SINS location points of each level (Fisher 2010): junctional O-C2, C7-T2, T11-L1,
#: L5-S1 = 3; mobile C3-C6, L2-L4 = 2; semi-rigid T3-T10 = 1; rigid S2-S5 = 0. A lesion
#: named only "sacrum" is counted as S1 (junctional, the higher score) because the level
#: map does not say which sacral segment it is in; transitional T13 / L6 are junctional.
SINS_LOCATION_JUNCTIONAL: frozenset[str] = frozenset(
    {"C1", "C2", "C7", "T1", "T2", "T11", "T12", "T13", "L1", "L5", "L6", "S1", "sacrum"})
SINS_LOCATION_MOBILE: frozenset[str] = frozenset({"C3", "C4", "C5", "C6", "L2", "L3", "L4"})


def sins_location_points(level: str) -> int:
    """SINS location points of the level carrying the lesion (see the sets above): 3
    junctional, 2 mobile, 1 semi-rigid thoracic, 0 rigid (the coccyx).

    Raises
    ------
    ValueError
        For an unknown level name.
    """
    if level in SINS_LOCATION_JUNCTIONAL:
        return 3
    if level in SINS_LOCATION_MOBILE:
        return 2
    if level_region(level) == "thoracic":
        return 1
    return 0


def sins_category(total: object) -> str:
    """SINS stability category: 0-6 ``"stable"``, 7-12 ``"potentially unstable"``,
    13-18 ``"unstable"`` (Fisher et al., Spine 2010).

    Raises
    ------
    ValueError
        When ``total`` is not a whole number from 0 to 18.
    """
    number = finite_float(total)
    if number is None or not number.is_integer() or not 0 <= number <= SINS_MAX:
        raise ValueError(f"sins_total {total!r} is not a whole number from 0 to {SINS_MAX}.")
    return [name for low, name in SINS_BANDS if number >= low][-1]


def check_sins_points(component: str, value: float) -> None:
    """Refuse a component value that is not one of its published points.

    Raises
    ------
    ValueError
        Naming the component and its allowed points.
    """
    allowed = SINS_POINTS[component]
    if value not in allowed:
        raise ValueError(f"{component} {value:g} is not one of the SINS points "
                         f"{', '.join(map(str, allowed))}.")


# ========================================================================== Bilsky

#: Bilsky grades in ascending severity; the index is the ordinal code 0-5.
BILSKY_GRADES: tuple[str, ...] = ("0", "1a", "1b", "1c", "2", "3")

#: What each grade means (Bilsky 2010).
BILSKY_MEANINGS: Mapping[str, str] = MappingProxyType({
    "0": "bone-only disease",
    "1a": "epidural impingement without deformation of the thecal sac",
    "1b": "deformation of the thecal sac without abutting the cord",
    "1c": "deformation of the thecal sac abutting the cord, without compression",
    "2": "spinal cord compression with CSF visible around the cord",
    "3": "spinal cord compression without CSF around the cord",
})

#: Lowest code of high-grade epidural spinal cord compression (grade 2).
BILSKY_HIGH_GRADE_CODE = BILSKY_GRADES.index("2")


@dataclass(frozen=True, order=True)
class BilskyGrade:
    """A Bilsky epidural spinal cord compression grade.

    The one place where grade text and the model's ordinal code meet: ``code`` is 0-5 in
    :data:`BILSKY_GRADES` order (``0, 1a, 1b, 1c, 2, 3``), ``label`` is what a clinician
    reads. Numbers given by users are *grades*, never codes: ``0``, ``2`` and ``3`` are
    grades 0, 2 and 3; a bare ``1`` is ambiguous (write 1a, 1b or 1c).
    """

    code: int

    def __post_init__(self) -> None:
        if not isinstance(self.code, int) or not 0 <= self.code < len(BILSKY_GRADES):
            raise ValueError(f"Bilsky code {self.code!r} is not 0-{len(BILSKY_GRADES) - 1}.")

    @property
    def label(self) -> str:
        """The grade as written clinically: ``"0"``, ``"1a"`` ... ``"3"``."""
        return BILSKY_GRADES[self.code]

    @property
    def high_grade(self) -> bool:
        """Grade 2 or 3: high-grade epidural spinal cord compression."""
        return self.code >= BILSKY_HIGH_GRADE_CODE

    def __str__(self) -> str:
        return self.label

    @classmethod
    def from_code(cls, code: object) -> BilskyGrade:
        """From the model's 0-5 code (a whole number, numpy scalars included).

        Raises
        ------
        ValueError
            For a code that is not a whole number 0-5.
        """
        number = finite_float(code)
        if number is None or not number.is_integer():
            raise ValueError(f"Bilsky code {code!r} is not a whole number 0-5.")
        return cls(int(number))

    @classmethod
    def parse(cls, value: object) -> BilskyGrade | None:
        """A grade from clinical text or a number; ``None`` for a missing value.

        Accepts ``"0"``, ``"1a"``, ``"1b"``, ``"1c"``, ``"2"``, ``"3"`` in any letter case
        with surrounding spaces, and the numbers 0, 2, 3 (``2.0`` as spreadsheets store it).

        Raises
        ------
        ValueError
            For anything else, naming the value (a bare 1 is ambiguous).
        """
        if is_missing(value):
            return None
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"bilsky_grade {quote_value(value)} is not one of "
                             f"{', '.join(BILSKY_GRADES)}.")
        number = finite_float(value) if not isinstance(value, str) else _number_text(value)
        if number is not None:
            if number == 1.0:
                raise ValueError(f"bilsky_grade {quote_value(value)} is ambiguous; "
                                 "write 1a, 1b or 1c.")
            if number in (0.0, 2.0, 3.0):
                return cls(BILSKY_GRADES.index(str(int(number))))
        elif isinstance(value, str) and value.strip().lower() in BILSKY_GRADES:
            return cls(BILSKY_GRADES.index(value.strip().lower()))
        raise ValueError(f"bilsky_grade {quote_value(value)} is not one of "
                         f"{', '.join(BILSKY_GRADES)}.")


#: A plain decimal number in ASCII digits: no exponent, ``_``, ``inf`` or other scripts.
_PLAIN_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)


def _number_text(text: str) -> float | None:
    """A plain decimal number written as text (``"2"``, ``"2.0"``), else None.

    Only text a float holds exactly counts (``"2.0000000000000000001"`` is not 2).
    """
    stripped = text.strip()
    if not _PLAIN_DECIMAL.match(stripped):
        return None
    exact = Decimal(stripped)
    number = float(exact)
    return number if Decimal(number) == exact else None


# ============================================================= region of involvement

#: Where a study's lesions are, for lists and filters: one region, several, none, or
#: unknown (regional counts not recorded).
INVOLVEMENT_VALUES: tuple[str, ...] = (*REGIONS, "multiple", "none", "unknown")

#: The paper's comparison groups (Kong 2025): any lumbar lesion; thoracic only; cervical
#: only; everything else with lesions (thoracic + cervical, sacral). Studies without a
#: lesion, or without regional counts, are ``"none"`` / ``"unknown"`` and leave the
#: comparison.
PAPER_GROUPS: tuple[str, ...] = ("cervical only", "thoracic only", "lumbar", "other")

#: Colours of involvement values and paper groups (same hue per region).
GROUP_COLOURS: Mapping[str, str] = MappingProxyType({
    "cervical only": REGION_COLOURS["cervical"], "cervical": REGION_COLOURS["cervical"],
    "thoracic only": REGION_COLOURS["thoracic"], "thoracic": REGION_COLOURS["thoracic"],
    "lumbar": REGION_COLOURS["lumbar"], "sacral": REGION_COLOURS["sacral"],
    "other": "#7f7f7f", "multiple": "#7f7f7f", "none": "#bdbdbd", "unknown": "#e0e0e0",
})


def _region_counts(frame: pd.DataFrame) -> np.ndarray:
    """``(n, 4)`` float array of the regional counts (NaN where missing or absent)."""
    columns = [
        pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
        if c in frame.columns else np.full(len(frame), np.nan)
        for c in REGION_COUNT_COLUMNS
    ]
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def involvement(frame: pd.DataFrame) -> pd.Series:
    """Region of involvement of every row (vectorised).

    ``cervical`` / ``thoracic`` / ``lumbar`` / ``sacral`` when all lesions are in that
    region, ``multiple`` when in several, ``none`` without lesions, ``unknown`` when any
    regional count is missing.
    """
    counts = _region_counts(frame)
    unknown = np.isnan(counts).any(axis=1)
    positive = np.nan_to_num(counts) > 0
    n_regions = positive.sum(axis=1)
    single = np.asarray(REGIONS, dtype=object)[positive.argmax(axis=1)]
    out = np.where(n_regions == 0, "none", np.where(n_regions == 1, single, "multiple"))
    out = np.where(unknown, "unknown", out).astype(object)
    return pd.Series(out, index=frame.index, name="region_of_involvement", dtype=object)


def involvement_of(counts: Mapping[str, object]) -> str:
    """:func:`involvement` of one case given as a mapping with the regional counts."""
    row = pd.DataFrame([{c: counts.get(c) for c in REGION_COUNT_COLUMNS}])
    return str(involvement(row).iloc[0])


def paper_region_group(frame: pd.DataFrame) -> pd.Series:
    """The paper's region group of every row (vectorised, see :data:`PAPER_GROUPS`).

    ``"lumbar"``: any lumbar lesion; ``"thoracic only"``: thoracic and no other lesion;
    ``"cervical only"``: cervical only; ``"other"``: any other combination with lesions;
    ``"none"`` without lesions and ``"unknown"`` when a needed regional count is missing.
    """
    counts = _region_counts(frame)
    c, t, lu, s = (np.nan_to_num(counts[:, i]) > 0 for i in range(4))
    out = np.where(lu, "lumbar",
                   np.where(t & ~c & ~s, "thoracic only",
                            np.where(c & ~t & ~s, "cervical only",
                                     np.where(c | t | s, "other", "none"))))
    unknown = np.isnan(counts).any(axis=1) & ~lu
    out = np.where(unknown, "unknown", out).astype(object)
    return pd.Series(out, index=frame.index, name="region_group", dtype=object)


# ========================================================================= numbers


def is_missing(value: object) -> bool:
    """``None``, NaN (float, numpy, pandas NA/NaT) or blank text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return False


def finite_float(value: object) -> float | None:
    """``value`` as a finite Python float, or ``None``.

    Numbers (numpy scalars included) that are finite give a float; ``None``, NaN,
    infinities, booleans, text and anything else give ``None``. The one finite-number
    helper: callers that must *refuse* a bad value check for ``None`` and raise.
    """
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def quote_value(value: object) -> str:
    """How a bad value is quoted in an error message.

    Text in quotes (cut to 40 characters), booleans as a spreadsheet shows them
    (``TRUE`` / ``FALSE``), floats without a needless ``.0`` (``7.5``, ``2``), dates and
    times in ISO form, anything else as its ``repr``; numpy scalars as Python scalars.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return repr(value)


def require_finite(value: object, what: str) -> float:
    """``value`` as a finite float, or a one-sentence ``ValueError`` naming ``what``.

    The refusing twin of :func:`finite_float`: booleans and text are "not a number",
    NaN and infinity "not a finite number".
    """
    number = finite_float(value)
    if number is not None:
        return number
    if isinstance(value, (float, np.floating)):
        raise ValueError(f"{what} {value!r} is not a finite number.")
    raise ValueError(f"{what} {value!r} is not a number.")


# ========================================================================= display

#: How a missing value reads.
NOT_RECORDED = "not recorded"

DisplayKind = Literal["count", "percent", "yes_no", "bilsky", "deficit", "number", "integer",
                      "points", "category", "text"]


def yes_no(value: object) -> str:
    """``"yes"`` / ``"no"`` for a truth value (``1``/``0``, ``True``/``False``)."""
    if is_missing(value):
        return NOT_RECORDED
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("yes", "true", "y", "1"):
            return "yes"
        if text in ("no", "false", "n", "0"):
            return "no"
        return value
    return "yes" if bool(value) else "no"


def percent(ratio: object, digits: int = 1) -> str:
    """A ratio in [0, 1] as a percentage: ``0.123 -> "12.3%"`` (written as the charts and
    the case report have always written it)."""
    number = finite_float(ratio)
    if number is None:
        return NOT_RECORDED
    return f"{100.0 * number:.{digits}f}%"


def number_text(value: object, digits: int = 2) -> str:
    """A number with at most ``digits`` decimals and no trailing zeros (``7``, ``7.5``)."""
    number = finite_float(value)
    if number is None:
        return NOT_RECORDED
    if number.is_integer():
        return f"{int(number)}"
    return f"{number:.{digits}f}".rstrip("0").rstrip(".")


def bilsky_text(value: object) -> str:
    """A Bilsky grade for display from its model code (0-5), a grade or a BilskyGrade."""
    if is_missing(value):
        return NOT_RECORDED
    if isinstance(value, BilskyGrade):
        return value.label
    if isinstance(value, str):
        grade = BilskyGrade.parse(value)
        return grade.label if grade else NOT_RECORDED
    return BilskyGrade.from_code(value).label


def deficit_text(value: object) -> str:
    """A neurologic-deficit state for display, from its model code (0-2) or its name."""
    if is_missing(value):
        return NOT_RECORDED
    if isinstance(value, str):
        state = parse_deficit(value).state
    else:
        number = finite_float(value)
        if number is None or number not in (0.0, 1.0, 2.0):
            raise ValueError(f"neurologic deficit code {value!r} is not 0, 1 or 2.")
        state = DEFICIT_STATES[int(number)]
    return NOT_RECORDED if state is None else DEFICIT_LABELS[state]


def display(kind: DisplayKind, value: object) -> str:
    """Render one clinical value for a clinician.

    ``count``/``integer``: whole number; ``percent``: a [0, 1] ratio in %; ``yes_no``;
    ``bilsky``: the grade (``"1b"``) from the model code; ``deficit``: the neurologic
    deficit state from its code; ``number``: up to two decimals; ``points``: SINS points;
    ``category``/``text``: as written. Missing values read :data:`NOT_RECORDED`.
    """
    if is_missing(value):
        return NOT_RECORDED
    if kind == "deficit":
        return deficit_text(value)
    if kind == "percent":
        return percent(value)
    if kind == "yes_no":
        return yes_no(value)
    if kind == "bilsky":
        return bilsky_text(value)
    if kind in ("count", "integer", "points", "number"):
        return number_text(value)
    return str(value)
