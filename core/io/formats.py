"""File formats: recognising them, checking their headers, reading single files.

* :func:`format_from_name` (extension) and :func:`sniff` (content) name the format.
* NIfTI (``.nii``, ``.nii.gz``): the data length is checked against the header and
  float voxels are scanned for NaN/inf before ITK reads the file, since ITK silently
  zero-fills a short NIfTI and turns NaN into 0; a gzip stream is decompressed in
  bounded chunks, once. Zero or negative pixdims are refused (ITK would turn them into
  1 mm or a flip), as are separate ``.img`` data files and offsets inside the header.
* NRRD (attached data only) and MetaImage (``.mha`` with ``LOCAL`` data; ``.mhd`` from a
  path with its data file beside it): declared spacings must be positive.
* Volumes over ``MAX_VOXELS`` voxel values are refused from the header before reading.

Bytes are written to a private ``tempfile.TemporaryDirectory`` under a fixed safe name,
read by SimpleITK and deleted. Messages never quote file names or header values.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import SimpleITK as sitk

from core.io import limits

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


def read_single(data: bytes, fmt: Format, *, what: str) -> sitk.Image:
    """Check the header of a NIfTI, NRRD or .mha file, then read it with SimpleITK."""
    label = FORMAT_LABEL[fmt]
    if fmt == "nifti":
        compressed = data[:2] == b"\x1f\x8b"
        if compressed:
            # Decompress once: the checked stream is written out for ITK as a plain .nii.
            with tempfile.TemporaryDirectory(prefix="spinepain-io-") as tmp:
                path = os.path.join(tmp, "input.nii")
                with open(path, "wb") as handle:
                    _check_nifti(data, compressed=True, what=what, sink=handle)
                return _sitk_read(path, fmt, what=what)
        _check_nifti(data, compressed=False, what=what)
        suffix = ".nii"
    elif fmt == "nrrd":
        _check_nrrd_header(data, what=what)
        suffix = ".nrrd"
    elif fmt == "mha":
        _check_metaimage_header(data, local=True, what=what)
        suffix = ".mha"
    else:  # pragma: no cover - guarded by resolve
        raise ValueError(f"The {what} format {label} cannot be read here.")
    with tempfile.TemporaryDirectory(prefix="spinepain-io-") as tmp:
        path = os.path.join(tmp, "input" + suffix)
        with open(path, "wb") as handle:
            handle.write(data)
        return _sitk_read(path, fmt, what=what)


def _sitk_read(path: str, fmt: Format, *, what: str) -> sitk.Image:
    """Read a file with the given ITK reader after checking its voxel count."""
    label = FORMAT_LABEL[fmt]
    reader = sitk.ImageFileReader()
    reader.SetImageIO(_SITK_IO[fmt])
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise ValueError(f"The {what} file is not a valid {label} file.") from None
    n_values = math.prod(reader.GetSize()) * reader.GetNumberOfComponents()
    if n_values > limits.MAX_VOXELS:
        raise ValueError(
            f"The {what} has {n_values} voxel values, over the limit of {limits.MAX_VOXELS}."
        )
    try:
        return reader.Execute()
    except RuntimeError:
        raise ValueError(f"The {what} {label} file is truncated or corrupt.") from None


@dataclass(frozen=True)
class _NiftiLayout:
    vox_offset: int
    data_bytes: int
    float_dtype: np.dtype | None  # float voxels, scanned for NaN/inf (ITK zeroes them)

    @property
    def expected_bytes(self) -> int:
        return self.vox_offset + self.data_bytes


class _FiniteScan:
    """Checks the float voxels of a NIfTI stream chunk by chunk."""

    def __init__(self, layout: _NiftiLayout, what: str) -> None:
        self.layout = layout
        self.what = what
        self.carry = b""

    def feed(self, chunk: bytes, position: int) -> None:
        dtype = self.layout.float_dtype
        if dtype is None:
            return
        lo = max(self.layout.vox_offset, position)
        hi = min(self.layout.expected_bytes, position + len(chunk))
        if hi <= lo:
            return
        buffer = self.carry + chunk[lo - position : hi - position]
        usable = len(buffer) // dtype.itemsize * dtype.itemsize
        if not np.all(np.isfinite(np.frombuffer(buffer[:usable], dtype=dtype))):
            raise ValueError(f"The {self.what} has NaN or infinite voxel values.")
        self.carry = buffer[usable:]


def _check_nifti(data: bytes, *, compressed: bool, what: str,
                 sink: BinaryIO | None = None) -> None:
    """Check a single-file NIfTI before ITK reads it.

    ITK zero-fills a truncated NIfTI and turns NaN voxels into 0 without an error, so
    the data length is checked against the header and float voxels are scanned here. A
    gzip stream is decompressed in chunks (never held whole), bounded in size, and must
    end properly. When ``sink`` is given, every checked chunk is written to it, so a
    caller reads the decompressed file instead of decompressing a second time.
    """
    stream: io.IOBase = io.BytesIO(data)
    if compressed:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    prefix = b""
    total = 0
    scan: _FiniteScan | None = None
    try:
        while chunk := stream.read(limits.CHUNK_BYTES):
            if sink is not None:
                sink.write(chunk)
            if scan is None:
                prefix += chunk
                if len(prefix) >= 540:
                    scan = _FiniteScan(_nifti_layout(prefix[:540], what=what), what)
                    scan.feed(prefix, 0)
            else:
                scan.feed(chunk, total)
            total += len(chunk)
            if total > limits.DEFAULT_MAX_UNCOMPRESSED_BYTES:
                raise ValueError(
                    f"The {what} NIfTI file unpacks to more than "
                    f"{limits.DEFAULT_MAX_UNCOMPRESSED_BYTES} bytes."
                )
    except (EOFError, OSError, zlib.error):
        raise ValueError(f"The {what} NIfTI file is truncated or corrupt.") from None
    if scan is None:
        scan = _FiniteScan(_nifti_layout(prefix, what=what), what)
        scan.feed(prefix, 0)
    expected = scan.layout.expected_bytes
    if total < expected:
        raise ValueError(
            f"The {what} NIfTI file is truncated: {total} of {expected} bytes are present."
        )


#: NIfTI datatype codes of real float voxels.
_NIFTI_FLOATS = {16: "f4", 64: "f8"}


def _nifti_layout(head: bytes, *, what: str) -> _NiftiLayout:
    if len(head) < 348:
        raise ValueError(f"The {what} NIfTI file is truncated or corrupt.")
    for endian in "<>":
        sizeof_hdr = struct.unpack(endian + "i", head[:4])[0]
        if sizeof_hdr == 348:
            magic = head[344:348]
            if magic == b"ni1\x00":
                raise ValueError(
                    f"The {what} is a NIfTI header whose data is in a separate .img file; "
                    "use a single .nii or .nii.gz file."
                )
            if magic != b"n+1\x00":
                break
            dims = struct.unpack(endian + "8h", head[40:56])
            datatype = struct.unpack(endian + "h", head[70:72])[0]
            bitpix = struct.unpack(endian + "h", head[72:74])[0]
            pixdim = struct.unpack(endian + "8f", head[76:108])
            vox_offset = int(struct.unpack(endian + "f", head[108:112])[0])
        elif sizeof_hdr == 540 and len(head) >= 540:
            if head[4:8] == b"ni2\x00":
                raise ValueError(
                    f"The {what} is a NIfTI header whose data is in a separate .img file; "
                    "use a single .nii or .nii.gz file."
                )
            if head[4:8] != b"n+2\x00":
                break
            datatype = struct.unpack(endian + "h", head[12:14])[0]
            bitpix = struct.unpack(endian + "h", head[14:16])[0]
            dims = struct.unpack(endian + "8q", head[16:80])
            pixdim = struct.unpack(endian + "8d", head[104:168])
            vox_offset = struct.unpack(endian + "q", head[168:176])[0]
        else:
            continue
        n_dim = dims[0]
        # Single-file NIfTI data start after the header (352 / 544 bytes with the
        # extension flags); ITK reads a smaller offset from byte 348, shifting every voxel.
        min_offset = 352 if sizeof_hdr == 348 else 544
        if not 1 <= n_dim <= 7 or bitpix <= 0 or vox_offset < min_offset:
            raise ValueError(f"The {what} NIfTI header is corrupt.")
        if any(d < 0 for d in dims[1 : n_dim + 1]):
            raise ValueError(f"The {what} NIfTI header has a negative dimension.")
        # ITK silently replaces a zero pixdim by 1 mm and flips a negative one
        _check_declared_spacing(pixdim[1 : min(n_dim, 3) + 1], what=what)
        n_voxels = math.prod(dims[1 : n_dim + 1])
        if n_voxels > limits.MAX_VOXELS:
            raise ValueError(
                f"The {what} has {n_voxels} voxel values, over the limit of {limits.MAX_VOXELS}."
            )
        code = _NIFTI_FLOATS.get(datatype)
        return _NiftiLayout(vox_offset=vox_offset, data_bytes=n_voxels * bitpix // 8,
                            float_dtype=np.dtype(endian + code) if code else None)
    raise ValueError(f"The {what} file is not a valid NIfTI file.")


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
    for line in _header_text(data).split("\n")[1:]:
        line = line.strip("\r")
        if not line:
            break
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "spacings":
            # NRRD writes nan for non-spatial axes
            spacings = [v for v in _numbers(value, what=what) if not math.isnan(v)]
            _check_declared_spacing(spacings, what=what)
        if key in ("data file", "datafile"):
            raise ValueError(
                f"The {what} NRRD header points to a separate data file; use a .nrrd file "
                "with attached data."
            )


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


def read_mhd(path: Path, *, max_bytes: int, what: str) -> tuple[sitk.Image, str]:
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
    return _sitk_read(str(path), "mhd", what=what), digest.hexdigest()
