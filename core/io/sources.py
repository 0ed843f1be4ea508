"""Sources: turning bytes, a path, a list of slices, a folder or a zip into a format.

:func:`resolve` accepts ``bytes`` plus a file name (the name only tells the format and
the sequence hint; without one the format is recognised from the content), a
``str``/``Path`` to a file or a DICOM folder, or a list of ``(filename, bytes)`` pairs
(DICOM slices, any names). It enforces the input size limit (``max_bytes``) and, for
archives and folders, the safety limits:

* zip slip: member paths that are absolute or contain ``..`` are refused; member names
  are only inspected, never used as paths;
* zip bombs: more than ``MAX_ZIP_MEMBERS`` members or more than
  :func:`unpacked_limit` uncompressed (``DEFAULT_MAX_UNCOMPRESSED_BYTES``, or half the
  read budget of :mod:`core.io.budget` when lower), checked from the central directory
  and again while decompressing (headers can lie); encrypted members are refused;
* folders: symbolic links are not followed; the same file count and byte limits apply.

Messages never contain file names, paths or member names.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from core.io import budget, limits
from core.io.formats import Format, format_from_name, sniff

#: Accepted sources: file content, a path (file or DICOM folder), DICOM slices.
Source = bytes | str | Path | list[tuple[str, bytes]]


@dataclass
class Resolved:
    """A source turned into one single-file format's bytes, a .mhd path or DICOM files."""

    fmt: Format
    name: str  # used for format and sequence hints only, never as a path or in messages
    data: bytes | None = None
    path: Path | None = None  # .mhd, or a single file read in streams
    dicom_files: list[bytes] | None = None


def resolve(source: Source, filename: str | None, *, max_bytes: int, what: str) -> Resolved:
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


def _resolve_bytes(data: bytes, name: str, *, max_bytes: int, what: str) -> Resolved:
    limits.check_size(len(data), max_bytes, what)
    fmt = format_from_name(name)
    if fmt is None:
        sniffed = sniff(data, deep=not name)
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
        return Resolved(fmt="dicom", name=name, dicom_files=members)
    if fmt == "dicom":
        return Resolved(fmt="dicom", name=name, dicom_files=[data])
    return Resolved(fmt=fmt, name=name, data=data)


def _resolve_path(path: Path, filename: str | None, *, max_bytes: int, what: str) -> Resolved:
    try:
        info = path.stat()
    except OSError:
        raise ValueError(f"The {what} path does not exist or cannot be read.") from None
    name = filename or path.name
    if stat.S_ISDIR(info.st_mode):
        return Resolved(fmt="dicom", name=name,
                         dicom_files=_folder_files(path, max_bytes=max_bytes, what=what))
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"The {what} path is not a regular file or folder.")
    limits.check_size(info.st_size, max_bytes, what)
    fmt = format_from_name(name)
    if fmt == "mhd":
        return Resolved(fmt="mhd", name=name, path=path)
    if fmt == "zip":
        try:
            with open(path, "rb") as handle:
                members = _zip_members(handle, what=what)
        except OSError:
            raise ValueError(f"The {what} zip archive cannot be read.") from None
        return Resolved(fmt="dicom", name=name, dicom_files=members)
    if fmt in ("nifti", "nrrd", "mha"):
        return Resolved(fmt=fmt, name=name, path=path)  # streamed later, never held whole
    try:
        data = path.read_bytes()
    except OSError:
        raise ValueError(f"The {what} file cannot be read.") from None
    return _resolve_bytes(data, name, max_bytes=max_bytes, what=what)


def _resolve_list(items: list | tuple, filename: str | None, *, max_bytes: int,
                  what: str) -> Resolved:
    if not items:
        raise ValueError(f"The list of {what} files is empty.")
    if len(items) > limits.MAX_ZIP_MEMBERS:
        raise ValueError(
            f"{len(items)} files were given, over the limit of {limits.MAX_ZIP_MEMBERS} files."
        )
    files: list[tuple[str, bytes]] = []
    for item in items:
        if (not isinstance(item, (tuple, list)) or len(item) != 2
                or not isinstance(item[0], str)
                or not isinstance(item[1], (bytes, bytearray, memoryview))):
            raise ValueError(f"Each {what} file must be given as a (filename, bytes) pair.")
        files.append((item[0], bytes(item[1])))
    limits.check_size(sum(len(data) for _, data in files), max_bytes, what)
    if len(files) == 1:
        name, data = files[0]
        if format_from_name(name) not in (None, "dicom"):
            return _resolve_bytes(data, name, max_bytes=max_bytes, what=what)
    for name, _ in files:
        if format_from_name(name) not in (None, "dicom"):
            raise ValueError(
                f"Several {what} files can only be DICOM slices; give other formats one "
                "at a time."
            )
    return Resolved(fmt="dicom", name=filename or files[0][0],
                     dicom_files=[data for _, data in files])


def _folder_files(folder: Path, *, max_bytes: int, what: str) -> list[bytes]:
    """All regular files under a DICOM folder (symbolic links are not followed)."""
    out: list[bytes] = []
    total = 0
    limit = min(max_bytes, unpacked_limit())
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            if len(out) >= limits.MAX_ZIP_MEMBERS:
                raise ValueError(
                    f"The {what} folder holds more than {limits.MAX_ZIP_MEMBERS} files."
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


def unpacked_limit() -> int:
    """Largest total of DICOM files held in memory: ``DEFAULT_MAX_UNCOMPRESSED_BYTES``,
    or half the read budget (files plus pydicom's pixel-data copies) when lower."""
    return min(limits.DEFAULT_MAX_UNCOMPRESSED_BYTES, budget.read_budget_bytes() // 2)


_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe_member(name: str) -> bool:
    """Absolute, drive-letter, NUL-containing or ``..`` member paths (zip slip)."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm) or "\x00" in norm:
        return True
    return ".." in norm.split("/")


def _check_zip_directory(infos: list[zipfile.ZipInfo], *, limit: int, what: str) -> None:
    """Member count, member paths and declared total size, from the central directory."""
    if len(infos) > limits.MAX_ZIP_MEMBERS:
        raise ValueError(
            f"The {what} zip archive has {len(infos)} members, over the limit of "
            f"{limits.MAX_ZIP_MEMBERS}."
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
    limit = unpacked_limit()
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
                    while chunk := stream.read(limits.CHUNK_BYTES):
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
