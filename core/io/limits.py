"""Size, spacing and tolerance limits of image reading, and the checks shared by readers.

Modules of :mod:`core.io` read these as ``limits.NAME`` at call time, so a test may
lower a limit with ``monkeypatch.setattr(core.io.limits, NAME, value)``.
"""

from __future__ import annotations

#: Largest input accepted (file, upload, sum of slices), in bytes: 1 GiB.
DEFAULT_MAX_BYTES: int = 1 << 30
#: Largest total uncompressed size of a zip archive, DICOM folder or gzip stream: 2 GiB.
DEFAULT_MAX_UNCOMPRESSED_BYTES: int = 2 << 30
#: Largest number of members in a zip archive (or files in a DICOM folder / list).
MAX_ZIP_MEMBERS: int = 5000
#: Largest decoded volume, voxels times components (2 GiB as float32).
MAX_VOXELS: int = 1 << 29
#: Accepted voxel spacing range, mm.
MIN_SPACING_MM: float = 0.01
MAX_SPACING_MM: float = 50.0
#: Slice gaps of a DICOM series may differ from their mean by this fraction.
SLICE_GAP_TOLERANCE: float = 0.01
#: Read size of streamed files and archive members, bytes.
CHUNK_BYTES: int = 1 << 20


def check_size(n_bytes: int, max_bytes: int, what: str) -> None:
    """Refuse an input over ``max_bytes`` bytes or an empty one."""
    if n_bytes > max_bytes:
        raise ValueError(
            f"The {what} input is {n_bytes} bytes, over the limit of {max_bytes} bytes."
        )
    if n_bytes == 0:
        raise ValueError(f"The {what} file is empty (0 bytes).")


def spacing_error(value: float, what: str) -> ValueError:
    """The error for a voxel spacing outside ``[MIN_SPACING_MM, MAX_SPACING_MM]``."""
    return ValueError(
        f"The {what} voxel spacing {value:g} mm is outside the accepted "
        f"{MIN_SPACING_MM:g} to {MAX_SPACING_MM:g} mm range."
    )
