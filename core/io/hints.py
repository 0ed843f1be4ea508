"""Sequence and modality hints from free text: series descriptions and file names.

Only hints: they label an image for the clinician (``T1``, ``T2``, ``STIR``, ``-FS``;
``MR``/``CT``) and are never used as evidence of anything else.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_STIR = re.compile(r"stir|tirm|(?<![a-z])tir(?![a-z])")
_FAT_SAT = re.compile(
    r"(?<![a-z])(fs|fatsat|fat[ _-]?sat\w*|spair|spir|fsat|fat[ _-]?supp?\w*)(?![a-z])"
)
_T1 = re.compile(r"(?<![a-z0-9])t1(?![0-9])|mprage")
_T2 = re.compile(r"(?<![a-z0-9])t2(?![0-9])")
_CT = re.compile(r"(?<![a-z])ct(?![a-z])")


def basename(name: str) -> str:
    """Last component of a file name (``/`` or ``\\`` separated); never used as a path."""
    return PurePosixPath(name.replace("\\", "/")).name


def sequence_hint(text: str) -> str:
    """Sequence hint from free text (description, protocol name or file name).

    ``STIR`` when STIR/TIRM is named; else ``T1``/``T2`` (one of them only), with
    ``-FS`` when fat saturation (FS, fat sat, SPAIR, SPIR) is named; else ``unknown``.
    """
    lower = text.lower()
    if _STIR.search(lower):
        return "STIR"
    t1, t2 = bool(_T1.search(lower)), bool(_T2.search(lower))
    if t1 == t2:
        return "unknown"
    base = "T1" if t1 else "T2"
    return base + "-FS" if _FAT_SAT.search(lower) else base


def modality_hint(name: str, sequence: str) -> str:
    """``"CT"`` for a ``ct`` token in the file name, ``"MR"`` for a known sequence."""
    if _CT.search(name.lower()):
        return "CT"
    return "MR" if sequence != "unknown" else "unknown"
