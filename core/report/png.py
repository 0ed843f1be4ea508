"""PNG encoding of rendered slices and PNG header checks (pure numpy + zlib)."""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels read from a PNG header.

    Raises
    ------
    ValueError
        When ``png`` is not PNG data.
    """
    if not isinstance(png, (bytes, bytearray)) or len(png) < 24 or not png.startswith(
        PNG_SIGNATURE
    ):
        raise ValueError("key_image_png is not a PNG image.")
    if png[12:16] != b"IHDR":
        raise ValueError("key_image_png is not a PNG image (no IHDR header).")
    width, height = struct.unpack(">II", png[16:24])
    if width == 0 or height == 0:
        raise ValueError(f"key_image_png has an empty size {width}x{height}.")
    return int(width), int(height)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def rgb_to_png(rgb: np.ndarray) -> bytes:
    """Encode an 8-bit image array as PNG bytes (pure numpy + zlib).

    Parameters
    ----------
    rgb : numpy.ndarray
        ``uint8`` array of shape ``(height, width, 3)`` (RGB), ``(height, width, 4)``
        (RGBA) or ``(height, width)`` (grey), row 0 at the top.

    Returns
    -------
    bytes
        A valid PNG file.

    Raises
    ------
    ValueError
        When the array is not uint8 or its shape is not one of the above.
    """
    array = np.asarray(rgb)
    if array.dtype != np.uint8:
        raise ValueError(f"image dtype {array.dtype} is not uint8.")
    if array.ndim == 2:
        colour_type, channels = 0, 1
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        channels = int(array.shape[2])
        colour_type = 2 if channels == 3 else 6
    else:
        raise ValueError(f"image shape {array.shape} is not (h, w), (h, w, 3) or (h, w, 4).")
    height, width = int(array.shape[0]), int(array.shape[1])
    if height == 0 or width == 0:
        raise ValueError(f"image shape {array.shape} is empty.")
    rows = np.ascontiguousarray(array).reshape(height, width * channels)
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )
