"""Clinical context: analgesic steps, ECOG, sex, neurologic deficit, radiosensitivity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from core.vocab.numbers import is_missing, quote_value

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
