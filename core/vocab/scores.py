"""Scores: SINS (Fisher 2010) and the Bilsky grade (Bilsky 2010)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

import numpy as np

from core.vocab.anatomy import level_region
from core.vocab.numbers import finite_float, is_missing, quote_value

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
