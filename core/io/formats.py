"""File formats: recognising them, checking their headers, reading single files.

* :func:`format_from_name` (extension) and :func:`sniff` (content) name the format.
* NIfTI (``.nii``, ``.nii.gz``): header, data length, NaN voxels, memory budget and the
  streamed gzip are checked by :mod:`core.io.nifti` before ITK reads the file.
* NRRD (attached data only) and MetaImage (``.mha`` with ``LOCAL`` data; ``.mhd`` from a
  path with its data file beside it): declared spacings must be positive.
* Every format: volumes over ``MAX_VOXELS`` voxel values, complex or vector voxels and
  reads over the memory budget (:mod:`core.io.budget`) are refused from the header,
  before the data is decoded.

Bytes are written to a private ``tempfile.TemporaryDirectory`` under a fixed safe name,
read by SimpleITK and deleted; a path is streamed (hashed and checked chunk by chunk,
never held whole) and read by ITK in place when its extension already names the format,
otherwise copied there. Messages never quote file names or header values.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar

import SimpleITK as sitk

from core.io import budget, limits, parallel_gzip
from core.io.background import FileHasher, Hasher, ReadAhead, read_threads
from core.io.nifti import GZIP_MAGIC, read_nifti
from core.io.orient import Volume

T = TypeVar("T")
Format = Literal["nifti", "nrrd", "mha", "mhd", "dicom", "zip"]

_EXTENSIONS: tuple[tuple[str, Format], ...] = (
    (".nii.gz", "nifti"),
    (".nii", "nifti"),
    (".nrrd", "nrrd"),
    (".mha", "mha"),
    (".mhd", "mhd"),
    (".zip", "zip"),
    (".dcm", "dicom"),
    (".dicom", "dicom"),
)
_SITK_IO = {"nifti": "NiftiImageIO", "nrrd": "NrrdImageIO", "mha": "MetaImageIO",
            "mhd": "MetaImageIO"}
#: Format names as shown in messages.
FORMAT_LABEL = {"nifti": "NIfTI", "nrrd": "NRRD", "mha": "MetaImage (.mha)",
                "mhd": "MetaImage (.mhd)", "dicom": "DICOM", "zip": "zip"}


def format_from_name(name: str) -> Format | None:
    """Format from a file name's extension, or ``None``."""
    lower = name.lower()
    for ext, fmt in _EXTENSIONS:
        if lower.endswith(ext):
            return fmt
    return None


def sniff(data: bytes, *, deep: bool) -> Format | None:
    """Format from content: DICOM always; with ``deep`` (no file name) also the others."""
    if data[128:132] == b"DICM":
        return "dicom"
    if not deep:
        return None
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if data.startswith(b"NRRD000"):
        return "nrrd"
    if re.match(rb"\s*(ObjectType|NDims)\s*=", data[:64]):
        return "mha"
    head = data[:540]
    if data[:2] == b"\x1f\x8b":
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(data)).read(540)
        except (EOFError, OSError, zlib.error):
            return None
    if head[344:348] == b"n+1\x00" or head[4:8] == b"n+2\x00":
        return "nifti"
    return None


#: Bytes per voxel value of SimpleITK's scalar pixel types (budget estimates).
_ITEMSIZE = {
    sitk.sitkUInt8: 1, sitk.sitkInt8: 1, sitk.sitkUInt16: 2, sitk.sitkInt16: 2,
    sitk.sitkUInt32: 4, sitk.sitkInt32: 4, sitk.sitkUInt64: 8, sitk.sitkInt64: 8,
    sitk.sitkFloat32: 4, sitk.sitkFloat64: 8,
}
_COMPLEX_IDS = {sitk.sitkComplexFloat32, sitk.sitkComplexFloat64}
_SUFFIX = {"nrrd": ".nrrd", "mha": ".mha"}


class _HashingReader(io.RawIOBase):
    """A read-only file wrapper that hashes every byte read through it."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = self.handle.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.digest.update(memoryview(buffer)[:n])
        return n or 0

    def hexdigest(self) -> str:
        """SHA-256 of the whole file (the rest is read and hashed first)."""
        while chunk := self.read(limits.CHUNK_BYTES):
            del chunk
        return self.digest.hexdigest()


def read_single(blob: bytes | Path, fmt: Format, *, what: str, label_map: bool,
                convert: Callable[[sitk.Image | Volume], T]) -> tuple[T, str]:
    """Check a NIfTI, NRRD or .mha file (bytes, or a path read in streams), decode it and
    ``convert`` it (the canonical conversion of :mod:`core.io.orient`).

    Returns the converted volume and the SHA-256 of the input. Nothing volume-sized is
    held besides the decoded buffer and the output: a path is streamed, a NIfTI (plain
    or gzip) is inflated straight into its buffer by :mod:`core.io.nifti`. A ``.nii.gz``
    is inflated in a worker thread while ``convert`` runs on the slabs already inflated,
    and its SHA-256 is computed in a third thread (:mod:`core.io.background`), so the
    inflater, the slowest step, does nothing else.
    """
    with tempfile.TemporaryDirectory(prefix="spinepain-io-") as tmp:
        if isinstance(blob, Path):
            decoded, digest = _read_path(blob, fmt, tmp, what=what, label_map=label_map,
                                         convert=convert)
        else:
            decoded, digest = _read_bytes(blob, fmt, tmp, what=what, label_map=label_map,
                                          convert=convert)
        if isinstance(decoded, _ItkFile):
            return convert(_sitk_read(decoded.path, fmt, what=what, label_map=label_map)), digest
        return decoded, digest


def _read_bytes(blob: bytes, fmt: Format, tmp: str, *, what: str, label_map: bool,
                convert: Callable[[Volume], T]) -> tuple[T | _ItkFile, str]:
    """Decode bytes held in memory; a .nii.gz is hashed in a thread while it inflates."""
    if fmt != "nifti" or blob[:2] != GZIP_MAGIC or not read_threads():
        digest = hashlib.sha256(blob).hexdigest()
        return _decode(io.BytesIO(blob), fmt, tmp, what=what, label_map=label_map,
                       original=None, convert=convert), digest
    hasher = Hasher()
    try:
        hasher.update(blob)
        decoded = _decode(io.BytesIO(blob), fmt, tmp, what=what, label_map=label_map,
                          original=None, convert=convert)
        return decoded, hasher.hexdigest()
    finally:
        hasher.close()


def _read_path(path: Path, fmt: Format, tmp: str, *, what: str, label_map: bool,
               convert: Callable[[Volume], T]) -> tuple[T | _ItkFile, str]:
    """Stream a file, hashed on the way, into :func:`_decode`.

    A .nii.gz is hashed in a worker thread (:func:`_hashing`), so that the inflater only
    inflates.
    """
    try:
        with open(path, "rb") as handle:
            gz = fmt == "nifti" and handle.read(2) == GZIP_MAGIC and read_threads()
            handle.seek(0)
            stream, hashing = _hashing(handle, gz=gz, what=what)
            try:
                decoded = _decode(stream, fmt, tmp, what=what, label_map=label_map,
                                  original=path, convert=convert)
                return decoded, hashing.hexdigest()
            finally:
                hashing.close()
    except OSError:
        raise ValueError(f"The {what} file cannot be read.") from None


def _hashing(handle: BinaryIO, *, gz: bool,
             what: str) -> tuple[BinaryIO, ReadAhead | FileHasher | _HashingReader]:
    """The stream the decoder reads and what hashes the file on its way: read and hashed
    ahead in a thread (a .nii.gz for isal: the decoder reads the read-ahead), hashed in a
    thread that reads the file on its own (a .nii.gz large enough for the parallel
    inflater, which needs the file itself, seekable), or hashed as it is read (anything
    else)."""
    if not gz:
        hashing = _HashingReader(handle)
        return io.BufferedReader(hashing, buffer_size=limits.CHUNK_BYTES), hashing
    if parallel_gzip.may_use(os.fstat(handle.fileno()).st_size):
        return handle, FileHasher(handle, what=what, chunk_bytes=parallel_gzip.CHUNK_BYTES)
    ahead = ReadAhead(handle, chunk_bytes=limits.CHUNK_BYTES)
    return ahead, ahead  # type: ignore[return-value]


@dataclass(frozen=True)
class _ItkFile:
    """A checked NRRD/.mha file for ITK to read."""

    path: str


def _decode(stream: BinaryIO, fmt: Format, tmp: str, *, what: str, label_map: bool,
            original: Path | None, convert: Callable[[Volume], T]) -> T | _ItkFile:
    """A converted NIfTI, or the checked NRRD/.mha file for ITK to read."""
    head = _peek(stream, 65536)
    if fmt == "nifti":
        return read_nifti(stream, compressed=head[:2] == GZIP_MAGIC, what=what,
                          label_map=label_map, scratch=tmp, convert=convert)
    if fmt == "nrrd":
        _check_nrrd_header(head, what=what)
    else:
        _check_metaimage_header(head, local=True, what=what)
    if original is not None and original.name.lower().endswith(_SUFFIX[fmt]):
        return _ItkFile(str(original))
    target = os.path.join(tmp, "input" + _SUFFIX[fmt])
    with open(target, "wb") as sink:
        shutil.copyfileobj(stream, sink, limits.CHUNK_BYTES)
    return _ItkFile(target)


def _peek(stream: BinaryIO, n: int) -> bytes:
    """The first ``n`` bytes of a stream without consuming them."""
    if isinstance(stream, (io.BufferedReader, ReadAhead)):
        return stream.peek(n)[:n]
    position = stream.tell()
    head = stream.read(n)
    stream.seek(position)
    return head


def _sitk_read(path: str, fmt: Format, *, what: str, label_map: bool) -> sitk.Image:
    """Read a file with the given ITK reader after checking its size and memory need."""
    label = FORMAT_LABEL[fmt]
    reader = sitk.ImageFileReader()
    reader.SetImageIO(_SITK_IO[fmt])
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise ValueError(f"The {what} file is not a valid {label} file.") from None
    pixel_id = reader.GetPixelID()
    if pixel_id in _COMPLEX_IDS:
        raise ValueError(f"The {what} has complex voxel values; a real-valued volume is needed.")
    components = reader.GetNumberOfComponents()
    if components != 1:
        raise ValueError(
            f"The {what} has {components} values per voxel (a 4-D or vector image); one "
            "3-D volume is needed."
        )
    n_values = math.prod(reader.GetSize())
    if n_values > limits.MAX_VOXELS:
        raise ValueError(
            f"The {what} has {n_values} voxel values, over the limit of {limits.MAX_VOXELS}."
        )
    itemsize = _ITEMSIZE.get(pixel_id)
    if itemsize is None:
        raise ValueError(f"The {what} {label} voxel type is not supported.")
    budget.check_budget(budget.image_working_bytes(n_values, itemsize, label_map=label_map),
                        what)
    try:
        return reader.Execute()
    except RuntimeError:
        raise ValueError(f"The {what} {label} file is truncated or corrupt.") from None

def _check_declared_spacing(values: Iterable[float], *, what: str) -> None:
    """Spacings written in a header must be positive (readers would repair them silently)."""
    for value in values:
        if not math.isfinite(value) or value <= 0:
            raise limits.spacing_error(value, what)


def _header_text(data: bytes, limit: int = 65536) -> str:
    return data[:limit].decode("latin-1")


def _check_nrrd_header(data: bytes, *, what: str) -> None:
    if not data.startswith(b"NRRD000"):
        raise ValueError(f"The {what} file is not a valid NRRD file.")
    fields: dict[str, str] = {}
    for line in _header_text(data).split("\n")[1:]:
        line = line.strip("\r")
        if not line:
            break
        key, _, value = line.partition(":")
        key = key.strip().lower()
        fields[key] = value
        if key == "spacings":
            # NRRD writes nan for non-spatial axes
            spacings = [v for v in _numbers(value, what=what) if not math.isnan(v)]
            _check_declared_spacing(spacings, what=what)
        if key == "space directions":
            _check_declared_spacing(_direction_lengths(value, what=what), what=what)
        if key in ("data file", "datafile"):
            raise ValueError(
                f"The {what} NRRD header points to a separate data file; use a .nrrd file "
                "with attached data."
            )
    _check_dimensions(fields.get("dimension", ""), fields.get("sizes", ""), "NRRD",
                      what=what)


#: Largest dimension count and channel count a header may declare (readers loop on them).
_MAX_DIMS = 8
_MAX_CHANNELS = 64


def _check_dimensions(dims_text: str, sizes_text: str, label: str, *, what: str) -> None:
    """Dimension count and sizes, checked before ITK parses them (a count of 2^32 hangs it)."""
    try:
        n_dims = int(dims_text.strip())
        sizes = [int(v) for v in sizes_text.split()]
    except ValueError:
        raise ValueError(f"The {what} {label} header is corrupt.") from None
    if not 1 <= n_dims <= _MAX_DIMS or len(sizes) != n_dims or any(n < 0 for n in sizes):
        raise ValueError(f"The {what} {label} header is corrupt.")
    n_values = math.prod(sizes)
    if n_values > limits.MAX_VOXELS:
        raise ValueError(
            f"The {what} has {n_values} voxel values, over the limit of {limits.MAX_VOXELS}."
        )


def _direction_lengths(text: str, *, what: str) -> list[float]:
    """Lengths (the spacings) of the NRRD space direction vectors; ``none`` is skipped."""
    lengths = []
    for vector in re.findall(r"\(([^)]*)\)", text):
        lengths.append(math.hypot(*_numbers(vector.replace(",", " "), what=what)))
    return lengths


def _numbers(text: str, *, what: str) -> list[float]:
    try:
        return [float(v) for v in text.split()]
    except ValueError:
        raise ValueError(f"The {what} header has a malformed spacing field.") from None


def _metaimage_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.split("\n"):
        if "=" not in line:
            continue
        key, value = line.split("=", 1)
        fields[key.strip().lower()] = value.strip()
        if key.strip().lower() == "elementdatafile":
            break
    return fields


def _check_metaimage_header(data: bytes, *, local: bool, what: str) -> dict[str, str]:
    fields = _metaimage_fields(_header_text(data))
    if "ndims" not in fields or "elementdatafile" not in fields:
        raise ValueError(f"The {what} file is not a valid MetaImage file.")
    _check_dimensions(fields["ndims"], fields.get("dimsize", ""), "MetaImage", what=what)
    channels = fields.get("elementnumberofchannels", "1").strip()
    if not channels.isdigit() or not 1 <= int(channels) <= _MAX_CHANNELS:
        raise ValueError(f"The {what} MetaImage header is corrupt.")
    for key in ("elementspacing", "elementsize"):
        if key in fields:
            _check_declared_spacing(_numbers(fields[key], what=what), what=what)
    data_file = fields["elementdatafile"]
    if local and data_file.upper() != "LOCAL":
        raise ValueError(
            f"The {what} .mha header points to a separate data file; a .mha file must hold "
            "its data (ElementDataFile = LOCAL)."
        )
    return fields


def read_mhd(path: Path, *, max_bytes: int, what: str,
             label_map: bool) -> tuple[sitk.Image, str]:
    """A .mhd header read from disk with its data file, which must sit beside it."""
    try:
        header = path.read_bytes()
    except OSError:
        raise ValueError(f"The {what} .mhd file cannot be read.") from None
    fields = _check_metaimage_header(header, local=False, what=what)
    data_name = fields["elementdatafile"]
    if (data_name.upper() in ("LOCAL", "LIST") or "%" in data_name or " " in data_name
            or "/" in data_name or "\\" in data_name or data_name in ("", ".", "..")):
        raise ValueError(
            f"The {what} .mhd header must name one data file in the same folder."
        )
    data_path = path.parent / data_name
    if not data_path.is_file():
        raise ValueError(f"The data file named by the {what} .mhd header is missing.")
    limits.check_size(path.stat().st_size + data_path.stat().st_size, max_bytes, what)
    digest = hashlib.sha256(header)
    with open(data_path, "rb") as handle:
        for chunk in iter(lambda: handle.read(limits.CHUNK_BYTES), b""):
            digest.update(chunk)
    return (_sitk_read(str(path), "mhd", what=what, label_map=label_map),
            digest.hexdigest())
