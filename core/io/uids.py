"""Pseudonymous DICOM UIDs (the UID remapping of the de-identification in
:mod:`core.io.deid`).

Standard library only, so that :mod:`core.io` offers :func:`pseudonymise_uid` without
importing pydicom: reading NIfTI, NRRD or MHA (a batch's worker processes, the command
line) never loads it; :mod:`core.io.dicom` does when a DICOM series is read.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["UID_SALT_ENV", "pseudonymise_uid"]

#: Environment variable holding the salt of the pseudonymous DICOM UIDs.
UID_SALT_ENV: str = "SPINEPAIN_UID_SALT"
_DEFAULT_UID_SALT = "spinepain-dicom-uid-v1"


def _uid_salt() -> bytes:
    """``SPINEPAIN_UID_SALT`` from the environment, or the fixed default."""
    return os.environ.get(UID_SALT_ENV, _DEFAULT_UID_SALT).encode("utf-8")


def pseudonymise_uid(uid: str) -> str:
    """Deterministic pseudonymous UID ``"2.25.<128-bit int>"`` of a DICOM UID.

    Salted with ``SPINEPAIN_UID_SALT`` (or a fixed default), so a given UID always maps
    to the same pseudonym on one site and series can be selected by it.
    """
    digest = hashlib.sha256(_uid_salt() + b"\x00" + uid.strip().encode("ascii", "replace"))
    return "2.25." + str(int.from_bytes(digest.digest()[:16], "big"))
