"""Sequence, plane and modality hints, and the controlled series description.

Only hints: they label an image for the clinician (``T1``, ``T2``, ``STIR``, ``-FS``;
``MR``/``CT``; ``sagittal``/``coronal``/``axial``) and are never used as evidence of
anything else. Free text (descriptions, file names) is only *matched* against closed
vocabularies here; the result is one of those vocabulary words, never the text itself
(:func:`controlled_description`, used by :mod:`core.io.deid`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
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


def sequence_from_timing(tr_ms: float | None, te_ms: float | None, ti_ms: float | None,
                         *, inversion: bool) -> str:
    """MR sequence family from coded timing: ``STIR``, ``T1``, ``T2`` or ``unknown``.

    Inversion recovery with TI 80-250 ms is STIR; without inversion, TR < 1000 ms and
    TE < 30 ms is T1-weighted, TR > 1500 ms and TE > 60 ms T2-weighted.
    """
    if inversion and ti_ms is not None and 80.0 <= ti_ms <= 250.0:
        return "STIR"
    if tr_ms is not None and te_ms is not None and not inversion:
        if tr_ms < 1000.0 and te_ms < 30.0:
            return "T1"
        if tr_ms > 1500.0 and te_ms > 60.0:
            return "T2"
    return "unknown"


def plane_from_orientation(iop: Sequence[float] | None) -> str:
    """``sagittal``, ``coronal`` or ``axial`` from ImageOrientationPatient (row, column).

    The plane is named by the patient axis closest to the slice normal (L: sagittal,
    P: coronal, S: axial); ``""`` when the orientation is missing or degenerate.
    """
    if iop is None or len(iop) != 6 or not all(math.isfinite(v) for v in iop):
        return ""
    r, c = iop[:3], iop[3:]
    normal = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
    magnitudes = [abs(v) for v in normal]
    if max(magnitudes) < 1e-6:
        return ""
    return ("sagittal", "coronal", "axial")[magnitudes.index(max(magnitudes))]


def controlled_description(sequence: str, plane: str, *, modality: str,
                           contrast: bool) -> str:
    """A series description built only from coded values, e.g. ``"STIR sagittal"``.

    Words come from closed vocabularies: the sequence family (``T1``, ``T2``, ``STIR``,
    ``T1-FS``, ``T2-FS``; ``CT`` for CT), the plane and ``post-contrast``; nothing typed
    by a person can appear in it.
    """
    words = []
    if sequence != "unknown":
        words.append(sequence)
    elif modality == "CT":
        words.append("CT")
    if plane:
        words.append(plane)
    if contrast:
        words.append("post-contrast")
    return " ".join(words)
