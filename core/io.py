"""Reading images: NIfTI, NRRD, MetaImage and DICOM series, validated and canonical.

Every reader returns a 3-D ``sitk.Image`` re-oriented with ``sitk.DICOMOrient(img, "LPS")``
(the numpy view is ``[z, y, x]`` = ``[S, P, L]``) whose ``MetaDataDictionary`` is empty, so
no header text of the input travels further. The direction is the identity for
axis-aligned inputs (float noise below 1e-6 is snapped to it); an oblique acquisition
keeps its residual rotation (each axis within 45 degrees of L, P, S), since DICOMOrient
only permutes and flips axes and nothing is resampled.

Accepted inputs
---------------
* ``bytes`` plus a file name (the name only tells the format and the sequence hint; without
  a name the format is recognised from the content), a ``str``/``Path`` to a file or a
  DICOM folder, or a list of ``(filename, bytes)`` pairs (DICOM slices, any names).
* NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd`` with attached data), MetaImage (``.mha``;
  ``.mhd`` with its data file beside it, from a path only), DICOM (a ``.zip`` of slices,
  several slices as a list, a folder given as a path, or one ``.dcm``).

Bytes are written to a private ``tempfile.TemporaryDirectory`` under a fixed safe name,
read by SimpleITK and deleted; DICOM is decoded in memory with pydicom and never written.

Validation (each failure is a ``ValueError`` with one plain sentence)
---------------------------------------------------------------------
* unknown extension, corrupt or truncated file, file over ``max_bytes``; for NIfTI the
  data length is checked against the header and float voxels are scanned for NaN before
  ITK reads it, since ITK silently zero-fills a short NIfTI and turns NaN into 0;
* not 3-D (2-D, a single slice, 4-D with more than one volume; a singleton 4th
  dimension is squeezed), vector pixels, a zero-size dimension, NaN or infinite voxels;
* spacing outside ``[MIN_SPACING_MM, MAX_SPACING_MM]`` (0.01 to 50 mm), including zero or
  negative spacings written in NIfTI/MetaImage/NRRD headers (ITK would silently turn them
  into 1 mm or a flip), a direction matrix that is not a rotation;
* images (not label maps) whose voxels all hold one value: there is nothing to analyse,
  so this is an error; an all-zero *label map* is a valid empty mask;
* zip archives: member paths that are absolute or contain ``..`` (zip slip), more than
  ``MAX_ZIP_MEMBERS`` members, more than ``DEFAULT_MAX_UNCOMPRESSED_BYTES`` uncompressed
  (checked from the directory and again while reading), encrypted members;
* decoded volumes over ``MAX_VOXELS`` voxels (checked from the header before reading).

Error messages never contain file names, paths, zip member names or header values, since
any of those can carry patient data.

DICOM de-identification (DICOM PS3.15 Annex E basic profile, applied on ingest)
-------------------------------------------------------------------------------
Each parsed slice is replaced at once by a new dataset that keeps only a white list of
pixel, geometry and acquisition attributes (``_KEEP_KEYWORDS``). Everything else is
dropped: patient name, IDs, birth date, sex, age, addresses, institution, physicians,
operators, station, accession number, study ID, all dates and times, private tags,
overlays, sequences. Patient name and ID are set empty, ``PatientIdentityRemoved`` is
``YES``. Study, series, instance and frame-of-reference UIDs are replaced by
deterministic pseudonyms ``"2.25." + int(sha256(salt + uid)[:16 bytes])``; the salt is
``SPINEPAIN_UID_SALT`` from the environment (set a site secret) or a fixed default.
Series description and protocol name are kept after cleaning (Clean Descriptors
option): values of the identifying attributes, long digit runs and date-like strings are
removed and the text is restricted to plain ASCII. Series that declare burned-in
annotation are refused. Only the original bytes are kept, for the input hash. pydicom's
value validation (whose warnings quote header values) is set to ``IGNORE`` on import,
which is thread-safe, other warnings are suppressed while DICOM is handled, and a filter
installed on import drops every record of the ``pydicom`` logger.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import math
import os
import re
import stat
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import STR_VR

from core.levels import align_mask
from core.provenance import sha256_bytes

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
#: Environment variable holding the salt of the pseudonymous DICOM UIDs.
UID_SALT_ENV: str = "SPINEPAIN_UID_SALT"
_DEFAULT_UID_SALT = "spinepain-dicom-uid-v1"

Source = bytes | str | Path | list[tuple[str, bytes]]
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
_FORMAT_LABEL = {"nifti": "NIfTI", "nrrd": "NRRD", "mha": "MetaImage (.mha)",
                 "mhd": "MetaImage (.mhd)", "dicom": "DICOM", "zip": "zip"}
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ImageMeta:
    """What was read, without any patient data.

    Attributes
    ----------
    spacing_mm : tuple of float
        Voxel spacing (x, y, z) of the returned canonical (LPS) image, mm.
    size : tuple of int
        Voxel counts (x, y, z) of the returned canonical image.
    orientation : str
        Orientation code of the *input* before re-orientation (``"PSR"``, ``"RAS"``,
        ``"LPS"`` ...), as ``sitk.DICOMOrientImageFilter`` names it.
    modality : str
        ``"MR"``, ``"CT"`` or ``"unknown"`` (DICOM Modality; for other formats a hint
        from the file name: a known MR sequence means ``"MR"``, a ``ct`` token ``"CT"``).
    sequence : str
        ``"T1"``, ``"T2"``, ``"STIR"``, ``"T1-FS"``, ``"T2-FS"`` or ``"unknown"``.
    source_format : str
        ``"nifti"``, ``"nrrd"``, ``"mha"``, ``"mhd"`` or ``"dicom"``.
    input_sha256 : str
        SHA-256 of the raw input bytes (``.mhd``: header then data file; DICOM: the
        series' slice files sorted by their bytes and concatenated).
    series_description : str
        Cleaned DICOM SeriesDescription (or ProtocolName); ``""`` for other formats.
    """

    spacing_mm: tuple[float, float, float]
    size: tuple[int, int, int]
    orientation: str
    modality: str
    sequence: str
    source_format: str
    input_sha256: str
    series_description: str

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable dict (tuples become lists)."""
        out = asdict(self)
        out["spacing_mm"] = [float(v) for v in self.spacing_mm]
        out["size"] = [int(v) for v in self.size]
        return out


@dataclass(frozen=True)
class LoadedImage:
    """A validated float32 image in canonical LPS orientation and its metadata."""

    image: sitk.Image
    meta: ImageMeta


@dataclass(frozen=True)
class DicomSeriesInfo:
    """One DICOM series found in a zip, folder or list of slices (no patient data).

    Attributes
    ----------
    series_uid : str
        Pseudonymised SeriesInstanceUID; pass it as ``series_uid`` to :func:`read_image`.
    description : str
        Cleaned SeriesDescription (or ProtocolName).
    modality : str
        ``"MR"``, ``"CT"`` or ``"unknown"``.
    sequence : str
        Sequence hint, as in :class:`ImageMeta`.
    n_slices : int
        Number of image files in the series.
    size : tuple of int
        (columns, rows, slices) of the series before re-orientation.
    """

    series_uid: str
    description: str
    modality: str
    sequence: str
    n_slices: int
    size: tuple[int, int, int]

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable dict."""
        out = asdict(self)
        out["size"] = [int(v) for v in self.size]
        return out


# --------------------------------------------------------------------------- public API


def read_image(
    source: Source,
    filename: str | None = None,
    *,
    series_uid: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedImage:
    """Read an image, validate it and return it as float32 in canonical LPS orientation.

    Parameters
    ----------
    source : bytes, str, Path or list of (str, bytes)
        File content, a path (file or DICOM folder), or DICOM slices as
        ``(filename, bytes)`` pairs.
    filename : str, optional
        Name telling the format of ``bytes`` (required for bytes without a DICOM or zip
        signature); for a path it overrides the path's own name. Never used as a path.
    series_uid : str, optional
        Pseudonymised (or original) SeriesInstanceUID to read when a DICOM source holds
        several series.
    max_bytes : int
        Largest accepted input size in bytes.

    Returns
    -------
    LoadedImage
        ``image``: 3-D ``sitk.sitkFloat32``, direction = identity for axis-aligned input,
        empty metadata dictionary; ``meta``: :class:`ImageMeta`.

    Raises
    ------
    ValueError
        One plain sentence naming the problem (see the module docstring).
    """
    raw = _read_raw(source, filename, series_uid=series_uid, max_bytes=max_bytes,
                    what="image")
    image, orientation = _canonical(raw.image, what="image", label_map=False)
    if image.GetPixelID() != sitk.sitkFloat32:
        image = sitk.Cast(image, sitk.sitkFloat32)
    _clear_metadata(image)
    meta = ImageMeta(
        spacing_mm=tuple(float(v) for v in image.GetSpacing()),
        size=tuple(int(v) for v in image.GetSize()),
        orientation=orientation,
        modality=raw.modality,
        sequence=raw.sequence,
        source_format=raw.source_format,
        input_sha256=raw.sha256,
        series_description=raw.description,
    )
    return LoadedImage(image=image, meta=meta)


def list_dicom_series(source: Source, filename: str | None = None, *,
                      max_bytes: int = DEFAULT_MAX_BYTES) -> list[DicomSeriesInfo]:
    """List the DICOM series of a zip, folder or list of slices (pixels not decoded).

    Parameters
    ----------
    source : bytes, str, Path or list of (str, bytes)
        As for :func:`read_image`.
    filename : str, optional
        File name of ``bytes`` (e.g. ``"study.zip"``).
    max_bytes : int
        Largest accepted input size in bytes.

    Returns
    -------
    list of DicomSeriesInfo
        Ordered by SeriesNumber, then pseudonymised UID.

    Raises
    ------
    ValueError
        When the source is not DICOM or holds no DICOM images.
    """
    resolved = _resolve(source, filename, max_bytes=max_bytes, what="image")
    if resolved.fmt != "dicom":
        raise ValueError(
            f"Only DICOM sources hold series; this is a {_FORMAT_LABEL[resolved.fmt]} file."
        )
    with _quiet_pydicom():
        return _series_infos(resolved)


def read_label_map(
    source: Source,
    filename: str | None = None,
    *,
    reference: sitk.Image | None = None,
    series_uid: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> sitk.Image:
    """Read an integer label map (masks, vertebra labels) in canonical LPS orientation.

    Float label maps whose values are all whole numbers (e.g. SCT's float64 labelled
    masks) are converted; fractional values are an error. The pixel type is
    ``sitkUInt16`` (``sitkUInt32`` when a label exceeds 65535). An all-zero map is a
    valid empty mask.

    Parameters
    ----------
    source, filename, series_uid, max_bytes
        As for :func:`read_image`.
    reference : sitk.Image, optional
        Image the labels belong to. When its grid differs, the map is resampled onto it
        with nearest-neighbour interpolation by :func:`core.levels.align_mask` (labels
        outside become 0); no physical overlap is a ``ValueError``.

    Returns
    -------
    sitk.Image
        Unsigned-integer label map with an empty metadata dictionary.
    """
    raw = _read_raw(source, filename, series_uid=series_uid, max_bytes=max_bytes,
                    what="label map")
    labels, _ = _canonical(raw.image, what="label map", label_map=True)
    labels = _to_label_type(labels)
    _clear_metadata(labels)
    if reference is not None:
        labels = align_mask(labels, reference, name="label map")
        _clear_metadata(labels)
    return labels


# --------------------------------------------------------------------------- input handling


@dataclass
class _Resolved:
    fmt: Format
    name: str  # used for format and sequence hints only, never as a path or in messages
    data: bytes | None = None
    path: Path | None = None  # only for .mhd
    dicom_files: list[bytes] | None = None


@dataclass
class _Raw:
    image: sitk.Image
    source_format: str
    sha256: str
    modality: str
    sequence: str
    description: str


def _format_from_name(name: str) -> Format | None:
    lower = name.lower()
    for ext, fmt in _EXTENSIONS:
        if lower.endswith(ext):
            return fmt
    return None


def _sniff(data: bytes, *, deep: bool) -> Format | None:
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


def _basename(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name


def _resolve(source: Source, filename: str | None, *, max_bytes: int, what: str) -> _Resolved:
    """Turn any accepted source into bytes (or DICOM slices) and a format."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError("max_bytes must be a positive number of bytes.")
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return _resolve_bytes(data, filename or "", max_bytes=max_bytes, what=what)
    if isinstance(source, (str, Path)):
        return _resolve_path(Path(source), filename, max_bytes=max_bytes, what=what)
    if isinstance(source, (list, tuple)):
        return _resolve_list(source, filename, max_bytes=max_bytes, what=what)
    raise ValueError(
        f"The {what} source must be bytes, a path or a list of (filename, bytes) pairs, "
        f"not {type(source).__name__}."
    )


def _check_size(n_bytes: int, max_bytes: int, what: str) -> None:
    if n_bytes > max_bytes:
        raise ValueError(
            f"The {what} input is {n_bytes} bytes, over the limit of {max_bytes} bytes."
        )
    if n_bytes == 0:
        raise ValueError(f"The {what} file is empty (0 bytes).")


def _resolve_bytes(data: bytes, name: str, *, max_bytes: int, what: str) -> _Resolved:
    _check_size(len(data), max_bytes, what)
    fmt = _format_from_name(name)
    if fmt is None:
        sniffed = _sniff(data, deep=not name)
        if sniffed is None:
            raise ValueError(
                f"The {what} file type is not recognised; use NIfTI (.nii, .nii.gz), NRRD "
                "(.nrrd), MetaImage (.mha) or DICOM (.dcm, or a .zip of a series)."
            )
        fmt = sniffed
    if fmt == "mhd":
        raise ValueError(
            "A .mhd header needs its separate data file; upload a single .mha file instead."
        )
    if fmt == "zip":
        members = _zip_members(io.BytesIO(data), what=what)
        return _Resolved(fmt="dicom", name=name, dicom_files=members)
    if fmt == "dicom":
        return _Resolved(fmt="dicom", name=name, dicom_files=[data])
    return _Resolved(fmt=fmt, name=name, data=data)


def _resolve_path(path: Path, filename: str | None, *, max_bytes: int, what: str) -> _Resolved:
    try:
        info = path.stat()
    except OSError:
        raise ValueError(f"The {what} path does not exist or cannot be read.") from None
    name = filename or path.name
    if stat.S_ISDIR(info.st_mode):
        return _Resolved(fmt="dicom", name=name,
                         dicom_files=_folder_files(path, max_bytes=max_bytes, what=what))
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"The {what} path is not a regular file or folder.")
    _check_size(info.st_size, max_bytes, what)
    fmt = _format_from_name(name)
    if fmt == "mhd":
        return _Resolved(fmt="mhd", name=name, path=path)
    if fmt == "zip":
        try:
            with open(path, "rb") as handle:
                members = _zip_members(handle, what=what)
        except OSError:
            raise ValueError(f"The {what} zip archive cannot be read.") from None
        return _Resolved(fmt="dicom", name=name, dicom_files=members)
    try:
        data = path.read_bytes()
    except OSError:
        raise ValueError(f"The {what} file cannot be read.") from None
    return _resolve_bytes(data, name, max_bytes=max_bytes, what=what)


def _resolve_list(items: list | tuple, filename: str | None, *, max_bytes: int,
                  what: str) -> _Resolved:
    if not items:
        raise ValueError(f"The list of {what} files is empty.")
    if len(items) > MAX_ZIP_MEMBERS:
        raise ValueError(
            f"{len(items)} files were given, over the limit of {MAX_ZIP_MEMBERS} files."
        )
    files: list[tuple[str, bytes]] = []
    for item in items:
        if (not isinstance(item, (tuple, list)) or len(item) != 2
                or not isinstance(item[0], str)
                or not isinstance(item[1], (bytes, bytearray, memoryview))):
            raise ValueError(f"Each {what} file must be given as a (filename, bytes) pair.")
        files.append((item[0], bytes(item[1])))
    _check_size(sum(len(data) for _, data in files), max_bytes, what)
    if len(files) == 1:
        name, data = files[0]
        if _format_from_name(name) not in (None, "dicom"):
            return _resolve_bytes(data, name, max_bytes=max_bytes, what=what)
    for name, _ in files:
        if _format_from_name(name) not in (None, "dicom"):
            raise ValueError(
                f"Several {what} files can only be DICOM slices; give other formats one "
                "at a time."
            )
    return _Resolved(fmt="dicom", name=filename or files[0][0],
                     dicom_files=[data for _, data in files])


def _folder_files(folder: Path, *, max_bytes: int, what: str) -> list[bytes]:
    """All regular files under a DICOM folder (symbolic links are not followed)."""
    out: list[bytes] = []
    total = 0
    limit = min(max_bytes, DEFAULT_MAX_UNCOMPRESSED_BYTES)
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            if len(out) >= MAX_ZIP_MEMBERS:
                raise ValueError(
                    f"The {what} folder holds more than {MAX_ZIP_MEMBERS} files."
                )
            total += path.stat().st_size
            if total > limit:
                raise ValueError(f"The {what} folder holds more than {limit} bytes.")
            try:
                out.append(path.read_bytes())
            except OSError:
                raise ValueError(f"A file in the {what} folder cannot be read.") from None
    if not out:
        raise ValueError(f"The {what} folder holds no files.")
    return out


_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe_member(name: str) -> bool:
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm) or "\x00" in norm:
        return True
    return ".." in norm.split("/")


def _check_zip_directory(infos: list[zipfile.ZipInfo], *, limit: int, what: str) -> None:
    """Member count, member paths and declared total size, from the central directory."""
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ValueError(
            f"The {what} zip archive has {len(infos)} members, over the limit of "
            f"{MAX_ZIP_MEMBERS}."
        )
    if any(_unsafe_member(info.filename) for info in infos):
        raise ValueError(
            f"The {what} zip archive has a member path that is absolute or contains "
            "'..', which is not allowed."
        )
    declared = sum(info.file_size for info in infos)
    if declared > limit:
        raise ValueError(
            f"The {what} zip archive would unpack to {declared} bytes, over the limit "
            f"of {limit} bytes."
        )


def _zip_members(handle: io.IOBase, *, what: str) -> list[bytes]:
    """Contents of a zip's file members, with zip-slip and zip-bomb checks.

    The member count and the declared uncompressed total are checked from the central
    directory, then the total is enforced again while decompressing, since headers can
    lie. Member names are only inspected, never used as paths.
    """
    limit = DEFAULT_MAX_UNCOMPRESSED_BYTES
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ValueError(f"The {what} zip archive is corrupt or truncated.") from None
    with archive:
        infos = archive.infolist()
        _check_zip_directory(infos, limit=limit, what=what)
        members: list[bytes] = []
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise ValueError(f"The {what} zip archive has encrypted members.")
            chunks = []
            try:
                with archive.open(info) as stream:
                    while chunk := stream.read(_CHUNK):
                        total += len(chunk)
                        if total > limit:
                            raise ValueError(
                                f"The {what} zip archive unpacks to more than {limit} bytes."
                            )
                        chunks.append(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
                    NotImplementedError):
                raise ValueError(
                    f"The {what} zip archive is corrupt or uses an unsupported compression."
                ) from None
            members.append(b"".join(chunks))
    if not members:
        raise ValueError(f"The {what} zip archive holds no files.")
    return members


# --------------------------------------------------------------------------- single files


def _read_raw(source: Source, filename: str | None, *, series_uid: str | None,
              max_bytes: int, what: str) -> _Raw:
    resolved = _resolve(source, filename, max_bytes=max_bytes, what=what)
    if resolved.fmt == "dicom":
        with _quiet_pydicom():
            return _read_dicom(resolved, series_uid=series_uid, what=what)
    if series_uid is not None:
        raise ValueError("series_uid applies to DICOM sources only.")
    if resolved.fmt == "mhd":
        assert resolved.path is not None
        image, digest = _read_mhd(resolved.path, max_bytes=max_bytes, what=what)
    else:
        assert resolved.data is not None
        image = _read_single(resolved.data, resolved.fmt, what=what)
        digest = sha256_bytes(resolved.data)
    sequence = _sequence_hint(_basename(resolved.name))
    return _Raw(image=image, source_format=resolved.fmt, sha256=digest,
                modality=_modality_hint(_basename(resolved.name), sequence),
                sequence=sequence, description="")


def _read_single(data: bytes, fmt: Format, *, what: str) -> sitk.Image:
    label = _FORMAT_LABEL[fmt]
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
    else:  # pragma: no cover - guarded by _resolve
        raise ValueError(f"The {what} format {label} cannot be read here.")
    with tempfile.TemporaryDirectory(prefix="spinepain-io-") as tmp:
        path = os.path.join(tmp, "input" + suffix)
        with open(path, "wb") as handle:
            handle.write(data)
        return _sitk_read(path, fmt, what=what)


def _sitk_read(path: str, fmt: Format, *, what: str) -> sitk.Image:
    label = _FORMAT_LABEL[fmt]
    reader = sitk.ImageFileReader()
    reader.SetImageIO(_SITK_IO[fmt])
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise ValueError(f"The {what} file is not a valid {label} file.") from None
    n_values = math.prod(reader.GetSize()) * reader.GetNumberOfComponents()
    if n_values > MAX_VOXELS:
        raise ValueError(
            f"The {what} has {n_values} voxel values, over the limit of {MAX_VOXELS}."
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
        while chunk := stream.read(_CHUNK):
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
            if total > DEFAULT_MAX_UNCOMPRESSED_BYTES:
                raise ValueError(
                    f"The {what} NIfTI file unpacks to more than "
                    f"{DEFAULT_MAX_UNCOMPRESSED_BYTES} bytes."
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
        if n_voxels > MAX_VOXELS:
            raise ValueError(
                f"The {what} has {n_voxels} voxel values, over the limit of {MAX_VOXELS}."
            )
        code = _NIFTI_FLOATS.get(datatype)
        return _NiftiLayout(vox_offset=vox_offset, data_bytes=n_voxels * bitpix // 8,
                            float_dtype=np.dtype(endian + code) if code else None)
    raise ValueError(f"The {what} file is not a valid NIfTI file.")


def _spacing_error(value: float, what: str) -> ValueError:
    return ValueError(
        f"The {what} voxel spacing {value:g} mm is outside the accepted "
        f"{MIN_SPACING_MM:g} to {MAX_SPACING_MM:g} mm range."
    )


def _check_declared_spacing(values: Iterable[float], *, what: str) -> None:
    """Spacings written in a header must be positive (readers would repair them silently)."""
    for value in values:
        if not math.isfinite(value) or value <= 0:
            raise _spacing_error(value, what)


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


def _read_mhd(path: Path, *, max_bytes: int, what: str) -> tuple[sitk.Image, str]:
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
    _check_size(path.stat().st_size + data_path.stat().st_size, max_bytes, what)
    digest = hashlib.sha256(header)
    with open(data_path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return _sitk_read(str(path), "mhd", what=what), digest.hexdigest()


# --------------------------------------------------------------------------- validation


def _canonical(image: sitk.Image, *, what: str, label_map: bool) -> tuple[sitk.Image, str]:
    """Validate a raw image and re-orient it to LPS; return it and the input's code."""
    image = _squeeze_to_3d(image, what=what)
    size = image.GetSize()
    if any(n == 0 for n in size):
        raise ValueError(f"The {what} is empty: one of its dimensions has size 0.")
    if any(n == 1 for n in size):
        raise ValueError(
            f"The {what} has a single slice along one axis; a 3-D volume is needed."
        )
    for value in image.GetSpacing():
        if not math.isfinite(value) or not MIN_SPACING_MM <= value <= MAX_SPACING_MM:
            raise _spacing_error(value, what)
    if not all(math.isfinite(v) for v in image.GetOrigin()):
        raise ValueError(f"The {what} origin is not a finite point.")
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    if (not np.all(np.isfinite(direction))
            or not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4)):
        raise ValueError(f"The {what} direction matrix is not a rotation.")
    array = sitk.GetArrayViewFromImage(image)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError(f"The {what} has NaN or infinite voxel values.")
    if not label_map and array.min() == array.max():
        raise ValueError(
            f"The {what} has the same value ({float(array.min()):g}) in every voxel, so it "
            "holds nothing to analyse."
        )
    orientation = sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(
        image.GetDirection()
    )
    out = image if orientation == "LPS" else sitk.DICOMOrient(image, "LPS")
    canonical_dir = np.array(out.GetDirection()).reshape(3, 3)
    if np.allclose(canonical_dir, np.eye(3), rtol=0.0, atol=1e-6):
        # float noise from the header; snap so that grids compare exactly downstream
        out.SetDirection(tuple(np.eye(3).ravel()))
    return out, orientation


def _squeeze_to_3d(image: sitk.Image, *, what: str) -> sitk.Image:
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(
            f"The {what} has {image.GetNumberOfComponentsPerPixel()} values per voxel "
            "(a 4-D or vector image); one 3-D volume is needed."
        )
    dim = image.GetDimension()
    if dim == 4:
        size = image.GetSize()
        if size[3] != 1:
            raise ValueError(
                f"The {what} is 4-D with {size[3]} volumes; one 3-D volume is needed."
            )
        return sitk.Extract(image, [size[0], size[1], size[2], 0], [0, 0, 0, 0])
    if dim != 3:
        raise ValueError(f"The {what} is {dim}-D; a 3-D volume is needed.")
    return image


def _clear_metadata(image: sitk.Image) -> None:
    for key in image.GetMetaDataKeys():
        image.EraseMetaData(key)


def _to_label_type(image: sitk.Image) -> sitk.Image:
    array = sitk.GetArrayViewFromImage(image)
    if array.dtype.kind == "f":
        fractional = array != np.round(array)
        if np.any(fractional):
            example = float(array[fractional].flat[0])
            raise ValueError(
                f"The label map has non-integer values (e.g. {example:g}); labels must be "
                "whole numbers."
            )
    if array.size and array.min() < 0:
        raise ValueError(f"The label map has a negative label ({float(array.min()):g}).")
    top = float(array.max()) if array.size else 0.0
    if top <= np.iinfo(np.uint16).max:
        return sitk.Cast(image, sitk.sitkUInt16)
    if top <= np.iinfo(np.uint32).max:
        return sitk.Cast(image, sitk.sitkUInt32)
    raise ValueError(f"The label map has a label ({top:g}) larger than 4294967295.")


# --------------------------------------------------------------------------- hints


_STIR = re.compile(r"stir|tirm|(?<![a-z])tir(?![a-z])")
_FAT_SAT = re.compile(
    r"(?<![a-z])(fs|fatsat|fat[ _-]?sat\w*|spair|spir|fsat|fat[ _-]?supp?\w*)(?![a-z])"
)
_T1 = re.compile(r"(?<![a-z0-9])t1(?![0-9])|mprage")
_T2 = re.compile(r"(?<![a-z0-9])t2(?![0-9])")
_CT = re.compile(r"(?<![a-z])ct(?![a-z])")


def _sequence_hint(text: str) -> str:
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


def _modality_hint(name: str, sequence: str) -> str:
    if _CT.search(name.lower()):
        return "CT"
    return "MR" if sequence != "unknown" else "unknown"


# --------------------------------------------------------------------------- DICOM

#: Attributes kept from each slice; everything else is dropped on ingest.
_KEEP_KEYWORDS: tuple[str, ...] = (
    "SOPClassUID", "ImageType", "Modality", "SeriesNumber", "InstanceNumber",
    "AcquisitionNumber", "EchoNumbers", "ScanningSequence", "SequenceVariant", "ScanOptions",
    "MRAcquisitionType", "RepetitionTime", "EchoTime", "InversionTime", "FlipAngle",
    "MagneticFieldStrength", "SliceThickness", "SpacingBetweenSlices", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "SamplesPerPixel", "PhotometricInterpretation",
    "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    "PlanarConfiguration", "NumberOfFrames", "RescaleSlope", "RescaleIntercept",
    "RescaleType", "BurnedInAnnotation", "LossyImageCompression", "PixelData",
)
_UID_KEYWORDS: tuple[str, ...] = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
)
_DESCRIPTOR_KEYWORDS: tuple[str, ...] = ("SeriesDescription", "ProtocolName")
#: Identifying attributes whose values are scrubbed from the kept descriptions.
_IDENTIFYING_KEYWORDS: tuple[str, ...] = (
    "PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "PatientBirthName",
    "PatientMotherBirthName", "PatientBirthDate", "PatientAddress", "PatientTelephoneNumbers",
    "IssuerOfPatientID", "InstitutionName", "InstitutionAddress",
    "InstitutionalDepartmentName", "ReferringPhysicianName", "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy", "PhysiciansOfRecord", "RequestingPhysician",
    "OperatorsName", "AccessionNumber", "StudyID", "StationName", "DeviceSerialNumber",
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate",
)
_DEID_METHOD = "PS3.15 E basic profile, clean descriptors, UIDs remapped"


@dataclass
class _Slice:
    ds: Dataset  # de-identified
    raw: bytes  # original bytes, only hashed
    series: str  # pseudonymised SeriesInstanceUID


def _uid_salt() -> bytes:
    return os.environ.get(UID_SALT_ENV, _DEFAULT_UID_SALT).encode("utf-8")


def pseudonymise_uid(uid: str) -> str:
    """Deterministic pseudonymous UID ``"2.25.<128-bit int>"`` of a DICOM UID.

    Salted with ``SPINEPAIN_UID_SALT`` (or a fixed default), so a given UID always maps
    to the same pseudonym on one site and series can be selected by it.
    """
    digest = hashlib.sha256(_uid_salt() + b"\x00" + uid.strip().encode("ascii", "replace"))
    return "2.25." + str(int.from_bytes(digest.digest()[:16], "big"))


def _values(value: object) -> Iterable[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return [str(v) for v in value]
    return [str(value)]


def _identifying_terms(ds: Dataset) -> list[str] | None:
    """Values of the identifying attributes and their parts, longest first.

    ``None`` when one of them cannot be read as text (reading it raises, or its VR is not
    a string VR, e.g. a name stored as numbers): its text is then unknown and cannot be
    scrubbed, so the caller must drop the descriptors (fail closed).
    """
    terms: set[str] = set()
    for keyword in _IDENTIFYING_KEYWORDS:
        try:
            if keyword not in ds:
                continue
            elem = ds[keyword]
            if elem.VR not in STR_VR:
                return None
            values = list(_values(elem.value))
        except Exception:
            return None
        for value in values:
            value = value.strip()
            if value:
                terms.add(value)
            for part in re.split(r"[\^=\s,]+", value):
                if len(part) >= 2:
                    terms.add(part)
    return sorted(terms, key=len, reverse=True)


def _clean_descriptor(text: str, terms: list[str]) -> str:
    """Clean Descriptors option: drop identifying values, IDs, dates and odd characters."""
    for term in terms:
        if len(term) >= 3:
            text = re.sub(re.escape(term), " ", text, flags=re.IGNORECASE)
        else:
            text = re.sub(r"(?<![A-Za-z0-9])" + re.escape(term) + r"(?![A-Za-z0-9])", " ",
                          text, flags=re.IGNORECASE)
    text = re.sub(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}", " ", text)
    text = re.sub(r"\d{5,}", " ", text)
    text = re.sub(r"[^A-Za-z0-9 _+\-*/().,:#]", " ", text)
    return " ".join(text.split())[:64]


def _deidentify(ds: Dataset) -> Dataset:
    """New dataset with only the white-listed attributes, pseudonymous UIDs, no PHI."""
    terms = _identifying_terms(ds)
    clean = Dataset()
    for keyword in _KEEP_KEYWORDS:
        if keyword in ds:
            elem = ds[keyword]
            clean[elem.tag] = elem
    for keyword in _UID_KEYWORDS:
        value = ds.get(keyword)
        if value:
            setattr(clean, keyword, pseudonymise_uid(str(value)))
    for keyword in _DESCRIPTOR_KEYWORDS if terms is not None else ():
        value = ds.get(keyword)
        if value:
            setattr(clean, keyword, _clean_descriptor(str(value), terms))
    clean.PatientName = ""
    clean.PatientID = ""
    clean.PatientIdentityRemoved = "YES"
    clean.DeidentificationMethod = _DEID_METHOD
    meta = FileMetaDataset()
    file_meta = getattr(ds, "file_meta", None)
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if syntax is None:
        implicit = getattr(ds, "original_encoding", (True, True))[0]
        syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    meta.TransferSyntaxUID = UID(str(syntax))
    if "SOPClassUID" in clean:
        meta.MediaStorageSOPClassUID = clean.SOPClassUID
    if "SOPInstanceUID" in clean:
        meta.MediaStorageSOPInstanceUID = clean.SOPInstanceUID
    clean.file_meta = meta
    return clean


class _DropRecords(logging.Filter):
    """Drops every record: pydicom's log messages can quote header values."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


_PYDICOM_LOGGER = logging.getLogger("pydicom")
if not any(type(f).__name__ == "_DropRecords" for f in _PYDICOM_LOGGER.filters):
    _PYDICOM_LOGGER.addFilter(_DropRecords())
# pydicom's value validation warns quoting the invalid header value. The warnings
# filters of _quiet_pydicom are process-global and not thread-safe (a Streamlit server
# reads in several threads: one read ending restores the filters while another is still
# converting values), so the validation itself is switched off, once, for the process.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE


@contextlib.contextmanager
def _quiet_pydicom() -> Iterator[None]:
    """Silence pydicom's warnings, which may quote header values (patient data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _read_without_preamble(raw: bytes) -> Dataset | None:
    """Old DICOM files lack the 128-byte preamble; accept them only if they are images."""
    try:
        ds = pydicom.dcmread(io.BytesIO(raw), force=True)
        if all(k in ds for k in ("SOPClassUID", "Rows", "Columns", "PixelData")):
            return ds
    except Exception:
        pass
    return None


def _parse_dicom(files: list[bytes], *, what: str) -> list[_Slice]:
    """Parse and de-identify DICOM files; non-DICOM files and non-images are skipped.

    Call inside :func:`_quiet_pydicom`.
    """
    slices: list[_Slice] = []
    n_dicom = 0
    for raw in files:
        try:
            ds = pydicom.dcmread(io.BytesIO(raw))
        except InvalidDicomError:
            ds = _read_without_preamble(raw)
            if ds is None:
                continue
        except Exception:
            raise ValueError(f"A DICOM file of the {what} is corrupt.") from None
        n_dicom += 1
        try:
            if "PixelData" not in ds:
                continue
            clean = _deidentify(ds)
        except Exception:
            raise ValueError(f"A DICOM file of the {what} is corrupt.") from None
        del ds
        slices.append(_Slice(ds=clean, raw=raw,
                             series=str(clean.get("SeriesInstanceUID", "")) or "unknown"))
    if not slices:
        if n_dicom:
            raise ValueError(f"The DICOM files of the {what} hold no images.")
        raise ValueError(f"The {what} source holds no DICOM files.")
    return slices


def _group_series(slices: list[_Slice]) -> dict[str, list[_Slice]]:
    groups: dict[str, list[_Slice]] = {}
    for item in slices:
        groups.setdefault(item.series, []).append(item)
    return groups


def _int_or(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _float_or(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _dicom_description(ds: Dataset) -> str:
    return str(ds.get("SeriesDescription", "") or ds.get("ProtocolName", "") or "")


def _dicom_modality(ds: Dataset) -> str:
    modality = str(ds.get("Modality", "")).upper()
    return modality if modality in ("MR", "CT") else "unknown"


def _dicom_sequence(ds: Dataset, name: str) -> str:
    """Sequence hint from descriptors and scan options, then timing, then the file name."""
    text = " ".join(
        [str(ds.get("SeriesDescription", "")), str(ds.get("ProtocolName", "")),
         *_values(ds.get("ScanOptions"))]
    )
    hint = _sequence_hint(text)
    if hint != "unknown" or _dicom_modality(ds) != "MR":
        return hint
    tr, te = _float_or(ds.get("RepetitionTime")), _float_or(ds.get("EchoTime"))
    ti = _float_or(ds.get("InversionTime"))
    inversion = "IR" in _values(ds.get("ScanningSequence"))
    if inversion and ti is not None and 80.0 <= ti <= 250.0:
        return "STIR"
    if tr is not None and te is not None and not inversion:
        if tr < 1000.0 and te < 30.0:
            return "T1"
        if tr > 1500.0 and te > 60.0:
            return "T2"
    return _sequence_hint(_basename(name))


def _series_infos(resolved: _Resolved) -> list[DicomSeriesInfo]:
    assert resolved.dicom_files is not None
    groups = _group_series(_parse_dicom(resolved.dicom_files, what="image"))
    infos = []
    for uid, slices in groups.items():
        first = slices[0].ds
        infos.append(
            (
                _int_or(first.get("SeriesNumber"), 0),
                DicomSeriesInfo(
                    series_uid=uid,
                    description=_dicom_description(first),
                    modality=_dicom_modality(first),
                    sequence=_dicom_sequence(first, resolved.name),
                    n_slices=len(slices),
                    size=(_int_or(first.get("Columns"), 0), _int_or(first.get("Rows"), 0),
                          len(slices)),
                ),
            )
        )
    infos.sort(key=lambda item: (item[0], item[1].series_uid))
    return [info for _, info in infos]


def _select_series(groups: dict[str, list[_Slice]], series_uid: str | None,
                   what: str) -> tuple[str, list[_Slice]]:
    if series_uid is None:
        if len(groups) > 1:
            raise ValueError(
                f"The DICOM {what} holds {len(groups)} series; choose one by its series UID "
                "(see list_dicom_series)."
            )
        return next(iter(groups.items()))
    wanted = series_uid.strip()
    for candidate in (wanted, pseudonymise_uid(wanted)):
        if candidate in groups:
            return candidate, groups[candidate]
    raise ValueError(
        f"No DICOM series has the given series UID; the {what} holds {len(groups)} series."
    )


def _read_dicom(resolved: _Resolved, *, series_uid: str | None, what: str) -> _Raw:
    assert resolved.dicom_files is not None
    groups = _group_series(_parse_dicom(resolved.dicom_files, what=what))
    _, slices = _select_series(groups, series_uid, what)
    image = _stack_series(slices, what=what)
    digest = hashlib.sha256()
    for raw in sorted(item.raw for item in slices):
        digest.update(raw)
    first = slices[0].ds
    return _Raw(image=image, source_format="dicom", sha256=digest.hexdigest(),
                modality=_dicom_modality(first), sequence=_dicom_sequence(first, resolved.name),
                description=_dicom_description(first))


def _dicom_floats(ds: Dataset, keyword: str, count: int, what: str) -> np.ndarray:
    value = ds.get(keyword)
    if value is None:
        raise ValueError(
            f"A DICOM slice of the {what} has no {keyword}, so its geometry is unknown."
        )
    try:
        numbers = np.array([float(v) for v in _values(value)], dtype=float)
    except ValueError:
        numbers = np.array([])
    if numbers.shape != (count,) or not np.all(np.isfinite(numbers)):
        raise ValueError(f"A DICOM slice of the {what} has an invalid {keyword}.")
    return numbers


def _slice_pixels(ds: Dataset, what: str) -> np.ndarray:
    syntax = ds.file_meta.TransferSyntaxUID
    try:
        pixels = ds.pixel_array
    except Exception:
        if syntax.is_compressed:
            raise ValueError(
                f"The {what} DICOM pixel data uses the compressed transfer syntax "
                f"'{syntax.name}', which cannot be decoded here."
            ) from None
        raise ValueError(f"The {what} DICOM pixel data is corrupt or truncated.") from None
    rows, cols = _int_or(ds.get("Rows"), -1), _int_or(ds.get("Columns"), -1)
    if pixels.shape != (rows, cols):
        raise ValueError(f"A DICOM slice of the {what} does not hold one {rows}x{cols} frame.")
    slope = _float_or(ds.get("RescaleSlope"))
    intercept = _float_or(ds.get("RescaleIntercept"))
    values = pixels.astype(np.float64)
    if slope is not None and slope != 1.0:
        values *= slope
    if intercept is not None and intercept != 0.0:
        values += intercept
    return values


def _stack_series(slices: list[_Slice], *, what: str) -> sitk.Image:
    """Build the volume of one series: sort along the normal, check geometry, rescale."""
    datasets = [item.ds for item in slices]
    for ds in datasets:
        if _int_or(ds.get("NumberOfFrames"), 1) > 1:
            raise ValueError(
                "Multi-frame (enhanced) DICOM is not supported; export the series as "
                "single-frame slices."
            )
        if _int_or(ds.get("SamplesPerPixel"), 1) != 1:
            raise ValueError(f"The {what} DICOM series is not greyscale.")
        if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
            raise ValueError(
                f"The {what} DICOM series declares burned-in annotation, which may show "
                "patient data, so it is refused."
            )
    if len(datasets) < 2:
        raise ValueError(
            f"The {what} DICOM series has a single slice; a 3-D volume needs at least two."
        )
    orientations = [_dicom_floats(ds, "ImageOrientationPatient", 6, what) for ds in datasets]
    spacings = [_dicom_floats(ds, "PixelSpacing", 2, what) for ds in datasets]
    positions = np.array([_dicom_floats(ds, "ImagePositionPatient", 3, what)
                          for ds in datasets])
    matrices = {(_int_or(ds.get("Rows"), -1), _int_or(ds.get("Columns"), -1))
                for ds in datasets}
    if len(matrices) > 1:
        raise ValueError(f"The {what} DICOM series mixes slices of different matrix sizes.")
    if not all(np.allclose(o, orientations[0], atol=1e-4) for o in orientations):
        raise ValueError(f"The {what} DICOM series mixes slices of different orientations.")
    if not all(np.allclose(s, spacings[0], rtol=1e-4, atol=1e-6) for s in spacings):
        raise ValueError(f"The {what} DICOM series mixes slices of different pixel spacings.")
    row_dir, col_dir = orientations[0][:3], orientations[0][3:]
    if (abs(np.linalg.norm(row_dir) - 1) > 1e-3 or abs(np.linalg.norm(col_dir) - 1) > 1e-3
            or abs(float(row_dir @ col_dir)) > 1e-3):
        raise ValueError(f"The {what} DICOM ImageOrientationPatient is not orthonormal.")
    row_dir = row_dir / np.linalg.norm(row_dir)
    col_dir = col_dir / np.linalg.norm(col_dir)
    normal = np.cross(row_dir, col_dir)
    normal /= np.linalg.norm(normal)
    order = np.argsort(positions @ normal, kind="stable")
    positions = positions[order]
    along = positions @ normal
    gaps = np.diff(along)
    spacing_xy = spacings[0]
    if np.any(gaps < 1e-3):
        raise ValueError(
            f"The {what} DICOM series has several slices at the same position (several "
            "echoes or time points?); choose a series with one slice per position."
        )
    mean_gap = float(along[-1] - along[0]) / (len(along) - 1)
    if np.any(np.abs(gaps - mean_gap) > SLICE_GAP_TOLERANCE * mean_gap):
        raise ValueError(
            f"The {what} DICOM series has uneven slice gaps ({gaps.min():.3g} to "
            f"{gaps.max():.3g} mm); missing slices or a mixed series?"
        )
    offsets = positions - positions[0]
    in_plane = offsets - np.outer(offsets @ normal, normal)
    if np.max(np.linalg.norm(in_plane, axis=1)) > 0.05 * float(np.min(spacing_xy)) + 1e-3:
        raise ValueError(
            f"The {what} DICOM slices are not stacked along their normal (tilted gantry "
            "or mixed stacks)."
        )
    volume = np.empty((len(datasets), *next(iter(matrices))), dtype=np.float32)
    for k, index in enumerate(order):
        volume[k] = _slice_pixels(datasets[index], what)
    image = sitk.GetImageFromArray(volume)
    image.SetSpacing((float(spacing_xy[1]), float(spacing_xy[0]), mean_gap))
    image.SetOrigin(tuple(float(v) for v in positions[0]))
    image.SetDirection(tuple(float(v) for v in np.column_stack([row_dir, col_dir, normal])
                             .ravel()))
    return image
