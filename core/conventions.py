"""Label conventions of vertebra label maps: the registry.

A vertebra label map stores one integer per vertebra. What the integer means depends
on the tool that produced the map; :data:`LABEL_CONVENTIONS` lists the ones supported:

``"verse"``
    VerSe challenge (Sekuboyina et al., Med Image Anal 2021; Löffler et al., Radiol AI
    2020): 1-7 = C1-C7, 8-19 = T1-T12, 20-25 = L1-L6, 26 = sacrum, 27 = coccyx,
    28 = T13 (transitional vertebra, placed between T12 and L1).
``"totalsegmentator"``
    TotalSegmentator v2 CT ``total`` task (``class_map["total"]`` in
    ``totalsegmentator/map_to_binary.py``): 25 = sacrum, 26 = vertebrae_S1,
    27 = L5 ... 31 = L1, 32 = T12 ... 43 = T1, 44 = C7 ... 50 = C1. The other ids
    (1-24, 51-117: organs, vessels, muscles, ribs, ...) are valid classes of that map
    and are ignored; ids above 117 are not TotalSegmentator classes and are an error.
``"totalsegmentator_mr"``
    TotalSegmentator's MR vertebra ids. The MR ``total_mr`` task has **no levels**: it
    labels all vertebrae as one class (19 = ``vertebrae``, 18 = ``sacrum``). Levels come
    from the MR ``vertebrae_mr`` task (``class_map["vertebrae_mr"]``): 1 = sacrum,
    2 = L5 ... 6 = L1, 7 = T12 ... 18 = T1, 19 = C7 ... 25 = C1; this convention reads
    those ids. A map with ids above 25 is a ``total_mr`` (or other) map and is rejected
    with a message saying so, rather than misread (``total_mr``'s 19 would be C7).
``"sct"``
    Spinal Cord Toolbox vertebral levels (``sct_label_vertebrae`` output, PAM50
    ``PAM50_levels``): numbered consecutively from the top, 1-7 = C1-C7,
    8-19 = T1-T12, 20-24 = L1-L5, and 25 = S1 (the sacrum). SCT numbers a disc after
    the vertebra below it (C2/C3 -> 3), so the L5/S1 disc is 25 and S1 is 25. SCT
    defines no vertebral-level value for the coccyx; 26 and above are an error.
    These labels mark **spinal-cord segments** (``structure="spinal_cord_levels"``), not
    vertebral bodies: :mod:`core.level_qc` refuses to measure bone on them
    (``cord_level_map``); they can still *name* the bodies of a plain mask
    (:mod:`core.level_naming`).
``"binary"``
    Any mask whose non-zero voxels are vertebral bodies, without level names
    (``needs_naming``): :mod:`core.level_naming` splits it into bodies, orders them
    craniocaudally and names them (lowest / highest level, a cord-level or disc map, or
    a sacrum label) into a VerSe map.
``"total_mr"``
    TotalSegmentator MR ``total_mr`` task (``class_map["total_mr"]``): 18 = sacrum,
    19 = vertebrae (all vertebrae in one class), 20 = intervertebral discs; its other
    classes are ignored. Unnamed (``needs_naming``) like ``"binary"``; the discs help
    split touching bodies and the sacrum names the body above it L5.

This module imports only the standard library: the command line offers the conventions
(``--convention``) and a batch manifest is checked against them without importing the
measurement code (numpy, SciPy, SimpleITK). :mod:`core.levels` maps labels onto levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["CONVENTIONS", "LABEL_CONVENTIONS", "LabelConvention", "get_convention"]


def _verse() -> dict[int, str]:
    table = {i: f"C{i}" for i in range(1, 8)}
    table.update({7 + i: f"T{i}" for i in range(1, 13)})
    table.update({19 + i: f"L{i}" for i in range(1, 7)})
    table.update({26: "sacrum", 27: "coccyx", 28: "T13"})
    return table


#: L5 up to C1: TotalSegmentator numbers its vertebra classes caudocranially.
_L5_TO_C1: tuple[str, ...] = (*(f"L{i}" for i in range(5, 0, -1)),
                              *(f"T{i}" for i in range(12, 0, -1)),
                              *(f"C{i}" for i in range(7, 0, -1)))


def _totalsegmentator() -> dict[int, str]:
    # class_map["total"]: 25 sacrum, 26 vertebrae_S1, 27 vertebrae_L5 ... 50 vertebrae_C1.
    table = {25: "sacrum", 26: "S1"}
    table.update({27 + i: name for i, name in enumerate(_L5_TO_C1)})
    return table


def _totalsegmentator_mr() -> dict[int, str]:
    # class_map["vertebrae_mr"]: 1 sacrum, 2 vertebrae_L5 ... 25 vertebrae_C1.
    table = {1: "sacrum"}
    table.update({2 + i: name for i, name in enumerate(_L5_TO_C1)})
    return table


def _sct() -> dict[int, str]:
    table = {i: f"C{i}" for i in range(1, 8)}
    table.update({7 + i: f"T{i}" for i in range(1, 13)})
    table.update({19 + i: f"L{i}" for i in range(1, 6)})
    table[25] = "S1"
    return table


@dataclass(frozen=True)
class LabelConvention:
    """One label convention of vertebra label maps (an entry of the registry).

    Attributes
    ----------
    name : str
        Registry key and CLI value (``--convention``).
    title : str
        What the New case page and the README call it.
    description : str
        Where the map comes from and what its ids mean, one sentence.
    labels : mapping of int to str
        Label id -> level name (:data:`core.vocab.LEVEL_NAMES`).
    ignored : frozenset of int
        Valid classes of the map that are not vertebrae (skipped, not errors).
    unknown_hint : str
        Added to the message when ids above the convention's range appear.
    structure : str
        What the labelled voxels are: ``"vertebra"`` (whole vertebrae or bodies, the
        measured structure), ``"vertebral_body"`` (bodies only) or
        ``"spinal_cord_levels"`` (spinal-cord segments named by vertebral level, which
        label QA refuses to measure bone on).
    needs_naming : bool
        The map has no level names (a plain body mask): :mod:`core.level_naming` must
        name its bodies before anything is measured; ``labels`` is empty.
    body_ids, sacrum_ids, disc_ids : frozenset of int
        For an unnamed map: the ids that are vertebral bodies (empty: every non-zero id
        not otherwise listed), the sacrum, and intervertebral discs (used to split
        touching bodies).
    """

    name: str
    title: str
    description: str
    labels: Mapping[int, str]
    ignored: frozenset[int] = frozenset()
    unknown_hint: str = ""
    structure: str = "vertebra"
    needs_naming: bool = False
    body_ids: frozenset[int] = frozenset()
    sacrum_ids: frozenset[int] = frozenset()
    disc_ids: frozenset[int] = frozenset()


def _registry(*conventions: LabelConvention) -> Mapping[str, LabelConvention]:
    return MappingProxyType({c.name: c for c in conventions})


#: The label conventions, in the order the CLI and the New case page offer them. Adding a
#: convention touches only this table (and the README table, which a test compares).
LABEL_CONVENTIONS: Mapping[str, LabelConvention] = _registry(
    LabelConvention(
        "verse", "VerSe",
        "VerSe challenge labels: 1-7 C1-C7, 8-19 T1-T12, 20-25 L1-L6, 26 sacrum, "
        "27 coccyx, 28 T13.",
        MappingProxyType(_verse())),
    LabelConvention(
        "totalsegmentator", "TotalSegmentator (CT, total task)",
        "TotalSegmentator v2 CT total task: 25 sacrum, 26 S1, 27-31 L5-L1, 32-43 T12-T1, "
        "44-50 C7-C1; its other classes are ignored.",
        MappingProxyType(_totalsegmentator()),
        ignored=frozenset(set(range(1, 118)) - set(range(25, 51)))),
    LabelConvention(
        "totalsegmentator_mr", "TotalSegmentator (MR, vertebrae_mr task)",
        "TotalSegmentator MR vertebrae_mr task: 1 sacrum, 2-6 L5-L1, 7-18 T12-T1, "
        "19-25 C7-C1.",
        MappingProxyType(_totalsegmentator_mr()),
        unknown_hint=(" (ids above 25 suggest a TotalSegmentator total_mr map, which has one "
                      "pooled 'vertebrae' class and no levels; read it with --convention total_mr, "
                      "which names its bodies, or use the vertebrae_mr task)")),
    LabelConvention(
        "sct", "Spinal Cord Toolbox",
        "Spinal Cord Toolbox vertebral levels (sct_label_vertebrae, PAM50): 1-7 C1-C7, "
        "8-19 T1-T12, 20-24 L1-L5, 25 S1.",
        MappingProxyType(_sct()), structure="spinal_cord_levels"),
    LabelConvention(
        "binary", "Vertebral-body mask without names",
        "Any mask whose non-zero voxels are vertebral bodies: the bodies are split, "
        "ordered craniocaudally and named (--lowest, --highest, --level-names-from).",
        MappingProxyType({}), structure="vertebral_body", needs_naming=True),
    LabelConvention(
        "total_mr", "TotalSegmentator (MR, total_mr task)",
        "TotalSegmentator MR total_mr task: 19 vertebrae (one class, bodies named by the "
        "app), 18 sacrum, 20 intervertebral discs; its other classes are ignored.",
        MappingProxyType({}), ignored=frozenset(set(range(1, 51)) - {18, 19, 20}),
        needs_naming=True, body_ids=frozenset({19}), sacrum_ids=frozenset({18}),
        disc_ids=frozenset({20})),
)

#: Convention name -> {label: level name} of the conventions whose labels name levels
#: (the unnamed ``binary`` / ``total_mr`` are not here). Read-only (a view of
#: :data:`LABEL_CONVENTIONS`).
CONVENTIONS: Mapping[str, Mapping[int, str]] = MappingProxyType(
    {name: c.labels for name, c in LABEL_CONVENTIONS.items() if not c.needs_naming})


def get_convention(convention: str) -> LabelConvention:
    """The registry entry of a convention name.

    Raises
    ------
    ValueError
        For a name that is not in :data:`LABEL_CONVENTIONS`.
    """
    try:
        return LABEL_CONVENTIONS[convention]
    except (KeyError, TypeError):
        raise ValueError(
            f"Label convention {convention!r} is not one of {', '.join(LABEL_CONVENTIONS)}."
        ) from None
