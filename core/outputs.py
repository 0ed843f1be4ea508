"""Output paths checked before any work starts, and files written all-or-nothing.

Every command that writes (``extract --out/--save-levels``, ``train --out``, ``batch
--out/--json-dir``, ``--db`` of ``import-cohort``, ``demo`` and ``batch``) calls these
checks first, so a wrong path costs a second, not a training run, and leaves nothing
half-written. Messages name the flag, never the path (a path may be long or carry a
name).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def check_writable_folder(folder: Path, what: str) -> None:
    """Refuse a folder that does not exist or cannot be written into (``what`` names it)."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{what} is a file, not a folder.")
    if not folder.is_dir():
        raise ValueError(f"{what} does not exist.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what} is not writable.")


def check_output_file(path: str | Path, flag: str) -> Path:
    """Refuse a file path that cannot be written: a folder, something that is not a
    regular file (a FIFO, a device), a read-only file, or a missing or read-only folder.

    Returns
    -------
    Path
        ``path`` as a Path.
    """
    out = Path(path)
    if out.is_dir():
        raise ValueError(f"{flag} is a folder; give a file path.")
    if out.exists() and not out.is_file():
        raise ValueError(f"{flag} exists and is not a regular file.")
    check_writable_folder(out.parent, f"the folder of {flag}")
    if out.exists() and not os.access(out, os.W_OK):
        raise ValueError(f"{flag} is not writable.")
    return out


def check_output_folder(path: str | Path, flag: str, *, force: bool = False) -> Path:
    """Refuse a folder path that cannot be written: an existing file (unless ``force``:
    it is replaced when the results are saved), a path below a file, or a read-only
    folder (missing folders are fine: they are created when saving).

    Returns
    -------
    Path
        ``path`` as a Path.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        if not force or not out.is_file():
            raise ValueError(f"{flag} is an existing file, not a folder; give a folder "
                             "(or add --force to replace the file).")
        check_writable_folder(out.parent, f"the folder of {flag}")
        return out
    if out.is_dir():
        check_writable_folder(out, flag)
        return out
    ancestor = out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent  # missing folders are created when saving
    check_writable_folder(ancestor, f"the folder that would hold {flag}")
    return out


def check_database_url(url: str | None, flag: str = "--db") -> None:
    """Refuse a SQLite URL whose file cannot be created or written (another database's
    URL is checked when it is opened)."""
    if not url:
        return
    from sqlalchemy.engine import make_url  # lazy: the CLI's other commands skip it
    from sqlalchemy.exc import ArgumentError

    try:  # the file SQLAlchemy will open: driver names, query and %-escapes understood
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return  # the store refuses it, in its own sentence, when it opens the URL
    database = parsed.database
    if (parsed.get_backend_name() != "sqlite" or not database or database == ":memory:"
            or parsed.query.get("uri") == "true"):
        return
    target = Path(database).expanduser()
    if target.is_dir():
        raise ValueError(f"{flag} names a folder, not a database file.")
    if target.exists() and not target.is_file():
        raise ValueError(f"{flag} names something that is not a regular file.")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the store creates missing folders
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"the folder of the {flag} database is not writable.")
    if target.exists() and not os.access(target, os.R_OK | os.W_OK):
        raise ValueError(f"the {flag} database file is not writable.")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over
    ``path`` (a reader sees the old or the new file, never a part)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


__all__ = ["check_database_url", "check_output_file", "check_output_folder",
           "check_writable_folder", "write_atomic"]
