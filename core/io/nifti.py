"""NIfTI-1/-2 single files: header checks, then the voxels inflated into their buffer.

ITK zero-fills a short NIfTI, replaces a zero pixdim by 1 mm, flips a negative one and
reads a ``vox_offset`` inside the header from byte 348 (every voxel shifted), all
without an error. So NIfTI voxels are not decoded by ITK: :func:`read_nifti` streams the
file once and refuses, with one plain sentence,

* a header that is not NIfTI, a separate ``.img`` data file, a corrupt ``dim`` or
  ``vox_offset`` (non-finite, inside the header or past ``MAX_VOX_OFFSET``), a
  ``bitpix`` that does not match the datatype (a header lying about its voxel type),
  complex, colour or unsupported voxel types, zero, negative or non-finite pixdims,
  more than one volume or vector voxels;
* more than ``MAX_VOXELS`` voxel values, or a working memory over the read budget
  (:mod:`core.io.budget`), both from the header, before any data is inflated;
* data shorter than the header declares (truncation) or longer by more than
  ``TRAILING_SLACK_BYTES`` (a header lying about its type or size: a gzip bomb stops
  one chunk past that point).

ITK still interprets the header, alone (written to a private scratch folder), so the
geometry (qform/sform, direction, origin, spacing) is exactly ITK's; scl_slope and
scl_inter are applied as ITK does, slab by slab, by :mod:`core.io.orient`, which also
refuses NaN or infinite voxels. A ``.nii.gz`` is inflated in bounded chunks straight
into the voxel buffer: the decompressed size is counted while streaming (the gzip ISIZE
trailer is never trusted; the inflater checks it and the CRC of every member), every
member of a multi-member stream is read and the stream must end properly. The inflater
is python-isal's ``isal.igzip`` (ISA-L); the standard ``gzip`` module is the fallback
when ``isal`` is not installed (``GZIP_BACKEND`` names the one in use). Both release
the GIL while inflating, so a ``.nii.gz`` is inflated in a worker thread while the
caller's conversion (:mod:`core.io.orient`) runs on the slabs already inflated
(:mod:`core.io.background`); every check above still completes before a result is
returned, with the same sentences. Messages never quote file names or header values.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import BinaryIO, TypeVar

import numpy as np
import SimpleITK as sitk

from core.io import budget, limits, parallel_gzip
from core.io.background import Background, Progress, read_threads
from core.io.orient import Volume, volume_from_header

try:  # ISA-L inflater (pip: isal); zlib's gzip is the fallback
    from isal import igzip as _igzip
    from isal import isal_zlib as _isal_zlib

    GZIP_BACKEND: str = "isal"
    _GZIP_ERRORS: tuple[type[BaseException], ...] = (
        EOFError, OSError, zlib.error, _isal_zlib.error)
except ImportError:  # pragma: no cover - isal is pinned in requirements.txt
    _igzip = None
    GZIP_BACKEND = "zlib"
    _GZIP_ERRORS = (EOFError, OSError, zlib.error)

#: The first two bytes of a gzip stream.
GZIP_MAGIC: bytes = b"\x1f\x8b"
#: Bytes after the declared data tolerated at the end of a NIfTI (padding).
TRAILING_SLACK_BYTES: int = 512
#: Largest data offset accepted (room for header extensions): 64 MiB.
MAX_VOX_OFFSET: int = 1 << 26
#: Read size of the streamed check (larger than ``limits.CHUNK_BYTES``: fewer calls).
STREAM_CHUNK_BYTES: int = 4 << 20

#: NIfTI datatype code -> numpy type code of the supported scalar voxel types.
_SCALAR_TYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2",
                 768: "u4", 1024: "i8", 1280: "u8"}
_COMPLEX_TYPES = {32, 1792, 2048}
_COLOUR_TYPES = {128, 2304}
T = TypeVar("T")


def open_gzip(stream: BinaryIO, *, backend: str | None = None) -> BinaryIO:
    """A decompressing reader of a gzip stream (isal unless ``backend="zlib"``)."""
    if (backend or GZIP_BACKEND) == "isal" and _igzip is not None:
        return _igzip.GzipFile(fileobj=stream, mode="rb")
    return gzip.GzipFile(fileobj=stream, mode="rb")


@dataclass(frozen=True)
class NiftiLayout:
    """What the header declares: data start and length, voxel type and count."""

    vox_offset: int
    n_voxels: int
    dtype: np.dtype
    scale: tuple[float, float] | None  # (scl_slope, scl_inter) when ITK applies them

    @property
    def data_bytes(self) -> int:
        return self.n_voxels * self.dtype.itemsize

    @property
    def expected_bytes(self) -> int:
        return self.vox_offset + self.data_bytes

    @property
    def decoded_itemsize(self) -> int:
        """Bytes per voxel of the decoded buffer (the file's type; scaling is per slab)."""
        return self.dtype.itemsize


def _header_error(what: str) -> ValueError:
    return ValueError(f"The {what} NIfTI header is corrupt.")


def _voxel_dtype(datatype: int, bitpix: int, endian: str, what: str) -> np.dtype:
    if datatype in _COMPLEX_TYPES:
        raise ValueError(f"The {what} has complex voxel values; a real-valued volume is needed.")
    if datatype in _COLOUR_TYPES:
        raise ValueError(f"The {what} has colour (RGB) voxels; a greyscale volume is needed.")
    code = _SCALAR_TYPES.get(datatype)
    if code is None:
        raise ValueError(f"The {what} NIfTI voxel type (datatype {datatype}) is not supported.")
    dtype = np.dtype(endian + code)
    if bitpix != 8 * dtype.itemsize:
        raise ValueError(
            f"The {what} NIfTI header is inconsistent: bitpix {bitpix} does not match its "
            f"{dtype.itemsize * 8}-bit voxel type."
        )
    return dtype


def _scale(slope: float, inter: float) -> tuple[float, float] | None:
    """(slope, intercept) as ITK applies scl_slope/scl_inter, or ``None`` for no scaling.

    As ITK's NIfTI reader does (and the reads before this decoder did): a zero or
    non-finite slope counts as 1, a non-finite intercept as 0.
    """
    slope = slope if math.isfinite(slope) and slope != 0.0 else 1.0
    inter = inter if math.isfinite(inter) else 0.0
    return (slope, inter) if slope != 1.0 or inter != 0.0 else None


def _fields(head: bytes, endian: str, version: int) -> tuple:
    """(dims, datatype, bitpix, pixdim, vox_offset, scl_slope, scl_inter) of a header."""
    if version == 1:
        dims = struct.unpack(endian + "8h", head[40:56])
        datatype, bitpix = struct.unpack(endian + "2h", head[70:74])
        pixdim = struct.unpack(endian + "8f", head[76:108])
        vox_offset, slope, inter = struct.unpack(endian + "3f", head[108:120])
    else:
        datatype, bitpix = struct.unpack(endian + "2h", head[12:16])
        dims = struct.unpack(endian + "8q", head[16:80])
        pixdim = struct.unpack(endian + "8d", head[104:168])
        vox_offset = struct.unpack(endian + "q", head[168:176])[0]
        slope, inter = struct.unpack(endian + "2d", head[176:192])
    return dims, datatype, bitpix, pixdim, vox_offset, slope, inter


def _version(head: bytes, endian: str, what: str) -> int | None:
    """1 or 2 for a single-file NIfTI in this byte order, ``None`` if not this order."""
    sizeof_hdr = struct.unpack(endian + "i", head[:4])[0]
    if sizeof_hdr == 348:
        magic, pair, version = head[344:348], b"ni1\x00", 1
    elif sizeof_hdr == 540 and len(head) >= 540:
        magic, pair, version = head[4:8], b"ni2\x00", 2
    else:
        return None
    if magic == pair:
        raise ValueError(
            f"The {what} is a NIfTI header whose data is in a separate .img file; "
            "use a single .nii or .nii.gz file."
        )
    if magic not in (b"n+1\x00", b"n+2\x00"):
        raise ValueError(f"The {what} file is not a valid NIfTI file.")
    return version


def nifti_layout(head: bytes, *, what: str) -> NiftiLayout:
    """Parse and check a NIfTI-1 (348-byte) or NIfTI-2 (540-byte) header."""
    if len(head) < 348:
        raise ValueError(f"The {what} NIfTI file is truncated or corrupt.")
    for endian in "<>":
        version = _version(head, endian, what)
        if version is not None:
            break
    else:
        raise ValueError(f"The {what} file is not a valid NIfTI file.")
    dims, datatype, bitpix, pixdim, vox_offset, slope, inter = _fields(head, endian, version)
    n_dim = dims[0]
    # Single-file data start after the header (352 / 544 bytes with the extension
    # flags); ITK reads a smaller offset from byte 348, shifting every voxel.
    min_offset = 352 if version == 1 else 544
    if (not 1 <= n_dim <= 7 or not math.isfinite(vox_offset)
            or not min_offset <= vox_offset <= MAX_VOX_OFFSET):
        raise _header_error(what)
    if any(d < 0 for d in dims[1 : n_dim + 1]):
        raise ValueError(f"The {what} NIfTI header has a negative dimension.")
    dtype = _voxel_dtype(datatype, bitpix, endian, what)
    # ITK silently replaces a zero pixdim by 1 mm and flips a negative one
    for value in pixdim[1 : min(n_dim, 3) + 1]:
        if not math.isfinite(value) or value <= 0:
            raise limits.spacing_error(value, what)
    n_voxels = math.prod(dims[1 : n_dim + 1])
    if n_voxels > limits.MAX_VOXELS:
        raise ValueError(
            f"The {what} has {n_voxels} voxel values, over the limit of {limits.MAX_VOXELS}."
        )
    return NiftiLayout(vox_offset=int(vox_offset), n_voxels=n_voxels, dtype=dtype,
                       scale=_scale(slope, inter))


def read_nifti(stream: BinaryIO, *, compressed: bool, what: str, label_map: bool,
               scratch: str, convert: Callable[[Volume], T]) -> T:
    """Decode a single-file NIfTI from a stream, checking it on the way; ``convert`` it.

    The header is checked (voxel limit and memory budget included) before any data is
    read; ITK interprets the header alone (written to ``scratch``) for the geometry, so
    orientation follows ITK exactly; the voxels are inflated straight into their final
    buffer (no temporary file, no second copy). ``convert`` (the canonical conversion
    of :mod:`core.io.orient`, which refuses NaN voxels slab by slab) gets the volume:
    after the whole stream is read and checked for a plain ``.nii``; for a ``.nii.gz``
    while a worker thread (:class:`core.io.background.Background`) is still inflating
    it, the volume's ``ready`` waiting for the slabs it needs. Every check of the
    stream (truncation, corruption, CRC, trailing data) still completes before the
    result is returned, and the stream's error wins over a conversion error, exactly
    as when the stream was read first.
    """
    reader = open_gzip(stream) if compressed else stream
    try:
        head, layout = _header(reader, what=what, label_map=label_map)
        if compressed:
            reader = _inflater(reader, stream, head, layout, label_map=label_map)
    except _GZIP_ERRORS:
        raise ValueError(f"The {what} NIfTI file is truncated or corrupt.") from None
    try:
        return _decode_voxels(reader, head, layout, compressed=compressed, what=what,
                              scratch=scratch, convert=convert)
    finally:
        if compressed:
            reader.close()  # the inflater only: the stream is the caller's


def _header(reader: BinaryIO, *, what: str, label_map: bool) -> tuple[bytes, NiftiLayout]:
    """The bytes up to the data offset (and possibly some beyond) and their layout,
    checked against the voxel limit and the memory budget."""
    head = _read_up_to(reader, 540)
    layout = nifti_layout(head, what=what)
    budget.check_budget(_working_bytes(layout, label_map=label_map), what)
    if len(head) < layout.vox_offset:
        head += _read_up_to(reader, layout.vox_offset - len(head))
    if len(head) < layout.vox_offset:
        raise _truncated(what, len(head), layout.expected_bytes)
    return head, layout


def _working_bytes(layout: NiftiLayout, *, label_map: bool) -> int:
    return budget.image_working_bytes(layout.n_voxels, layout.decoded_itemsize,
                                      label_map=label_map)


def _inflater(reader: BinaryIO, stream: BinaryIO, head: bytes, layout: NiftiLayout, *,
              label_map: bool) -> BinaryIO:
    """The isal reader, or a parallel one for the rest of a large stream that hardly
    compresses (:mod:`core.io.parallel_gzip`; isal still decides every error)."""
    if GZIP_BACKEND != "isal" or not parallel_gzip.worth_it(
            stream, declared_bytes=layout.expected_bytes,
            working_bytes=_working_bytes(layout, label_map=label_map)):
        return reader
    reader.close()
    return parallel_gzip.ParallelReader(stream, head, open_gzip)


def _decode_voxels(reader: BinaryIO, head: bytes, layout: NiftiLayout, *, compressed: bool,
                   what: str, scratch: str, convert: Callable[[Volume], T]) -> T:
    """The voxels after ``head``, read into their buffer and converted (see
    :func:`read_nifti`)."""
    header = _itk_header(head[: layout.vox_offset], what=what, scratch=scratch)
    _check_shape(header, layout, what=what)
    array = np.empty(layout.n_voxels, dtype=layout.dtype)
    target = memoryview(array).cast("B")
    spill = head[layout.vox_offset :]
    filled = min(len(spill), len(target))
    target[:filled] = spill[:filled]
    extra = len(spill) - len(target) if len(spill) > len(target) else 0
    volume = volume_from_header(array.reshape(tuple(reversed(header.GetSize()))), header,
                                scale=layout.scale)

    def fill(progress: Progress) -> None:
        _fill(reader, target, filled, extra, layout=layout, what=what, progress=progress)

    if not compressed or not read_threads():
        fill(_no_progress)
        return convert(volume)
    return _convert_while_inflating(fill, volume, convert, start=filled)


def _no_progress(done: int) -> None:
    """Progress reports of a fill run in the caller's thread go nowhere."""


def _fill(reader: BinaryIO, target: memoryview, filled: int, extra: int, *,
          layout: NiftiLayout, what: str, progress: Progress) -> None:
    """Read the voxels into ``target`` from ``filled`` on, then check the stream's end."""
    try:
        while filled < len(target):
            n = reader.readinto(target[filled : filled + STREAM_CHUNK_BYTES])
            if not n:
                raise _truncated(what, layout.vox_offset + filled, layout.expected_bytes)
            filled += n
            progress(filled)
        _check_end(reader, extra, what=what)
    except _GZIP_ERRORS:
        raise ValueError(f"The {what} NIfTI file is truncated or corrupt.") from None


def _convert_while_inflating(fill: Callable[[Progress], None], volume: Volume,
                             convert: Callable[[Volume], T], *, start: int) -> T:
    """``convert`` the volume while a worker thread inflates it (see :func:`read_nifti`)."""
    # bytes of one plane along the decoded order (axis 0)
    plane_bytes = volume.array.nbytes // max(1, volume.array.shape[0])
    job = Background(fill, start=start, name="spinepain-inflate")
    try:
        try:
            result = convert(replace(volume, ready=lambda planes: job.wait(planes * plane_bytes)))
        except ValueError:
            # the stream's own error first, as when it was inflated before converting
            failure = job.error()
            if failure is not None:
                raise failure from None
            raise
        job.join()
    finally:
        job.cancel()  # no-op once the task has ended; stops it on any other failure
    return result


def _read_up_to(reader: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the stream)."""
    parts, got = [], 0
    while got < n:
        chunk = reader.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _itk_header(header: bytes, *, what: str, scratch: str) -> sitk.ImageFileReader:
    """ITK's reading of the header bytes alone (geometry, dimension, components)."""
    path = os.path.join(scratch, "header.nii")
    with open(path, "wb") as handle:
        handle.write(header)
    reader = sitk.ImageFileReader()
    reader.SetImageIO("NiftiImageIO")
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise ValueError(f"The {what} file is not a valid NIfTI file.") from None
    return reader


def _check_shape(header: sitk.ImageFileReader, layout: NiftiLayout, *, what: str) -> None:
    """One 3-D scalar volume (a singleton 4th dimension allowed), before the data is read."""
    size = header.GetSize()
    if header.GetNumberOfComponents() != 1:
        raise ValueError(
            f"The {what} has {header.GetNumberOfComponents()} values per voxel (a 4-D or "
            "vector image); one 3-D volume is needed."
        )
    dim = header.GetDimension()
    if dim == 4 and size[3] != 1:
        raise ValueError(f"The {what} is 4-D with {size[3]} volumes; one 3-D volume is needed.")
    if dim not in (3, 4):
        raise ValueError(f"The {what} is {dim}-D; a 3-D volume is needed.")
    if math.prod(size) != layout.n_voxels:
        raise _header_error(what)


def _check_end(reader: BinaryIO, extra: int, *, what: str) -> None:
    """Read to the end of the stream (gzip: every member, CRC checked): little may follow.

    At most one chunk past the slack is inflated, so a gzip bomb stops here.
    """
    while extra <= TRAILING_SLACK_BYTES:
        chunk = reader.read(STREAM_CHUNK_BYTES)
        if not chunk:
            return
        extra += len(chunk)
    raise ValueError(
            f"The {what} NIfTI file holds more data than its header declares (wrong voxel "
            "type or dimensions in the header)."
        )


def _truncated(what: str, present: int, expected: int) -> ValueError:
    return ValueError(
        f"The {what} NIfTI file is truncated: {present} of {expected} bytes are present."
    )
