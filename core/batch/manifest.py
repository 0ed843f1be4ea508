"""The batch manifest: one CSV row per study, validated once at the edge.

Columns (all required in the header, in any order): ``patient_id, study_date, image,
vertebrae, lesions, convention``. ``lesions`` may be empty (detection); paths are
relative to the manifest's folder (absolute paths are used as given) and must name
files. ``patient_id`` and ``study_date`` follow the clinical schema's rules
(:func:`core.clinical.validate_clinical`); ``convention`` is a key of
:data:`core.conventions.LABEL_CONVENTIONS`. A ``(patient_id, study_date)`` appears once.

Every bad row is reported with one plain sentence (:class:`ManifestError`); sentences
never contain the file paths, which may carry patient names.

The clinical schema (:mod:`core.clinical`, which imports pandas) is imported when a
manifest is read, not with this module: the batch's worker processes import it for
:class:`BatchRow` only, and start faster without pandas.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from core.conventions import LABEL_CONVENTIONS
from core.vocab import quote_names

#: Columns of a manifest, in the documented order.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "patient_id", "study_date", "image", "vertebrae", "lesions", "convention",
)
#: Largest manifest accepted (a 100k-study manifest is about 20 MB).
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_PATH_COLUMNS = ("image", "vertebrae", "lesions")


@dataclass(frozen=True)
class BatchRow:
    """One validated manifest row: a study to measure.

    Attributes
    ----------
    row : int
        Spreadsheet row number in the manifest (the header is row 1).
    patient_id : str
    study_date : str
        ISO date.
    image, vertebrae : str
        Absolute paths of the MRI and the level map.
    lesions : str or None
        Absolute path of the lesion mask, ``None`` for detection.
    convention : str
        Label convention of ``vertebrae``.
    """

    row: int
    patient_id: str
    study_date: str
    image: str
    vertebrae: str
    lesions: str | None
    convention: str

    @property
    def key(self) -> tuple[str, str]:
        """``(patient_id, study_date)``: the study's identity in ``features.csv``."""
        return (self.patient_id, self.study_date)


class ManifestError(ValueError):
    """A manifest with bad rows; ``problems`` holds one sentence per bad row (the
    message is the first)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems[0])


def _text(path: Path) -> str:
    if not path.is_file():
        raise ValueError("The manifest does not exist or is not a file.")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ValueError(
            f"The manifest is over {MAX_MANIFEST_BYTES // (1 << 20)} MiB; split it."
        )
    from core.clinical import check_line_lengths

    data = path.read_bytes()
    check_line_lengths(data, "The manifest")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("The manifest is not UTF-8 text.") from None


def _header(reader: csv.reader) -> list[str]:
    header = next(reader, None)
    if not header:
        raise ValueError("The manifest is empty; its first line must name the columns "
                         f"{', '.join(MANIFEST_COLUMNS)}.")
    names = [h.strip() for h in header]
    unknown = [n for n in names if n not in MANIFEST_COLUMNS]
    if unknown:
        raise ValueError(f"The manifest has unknown column(s) "
                         f"{quote_names(unknown)}; expected "
                         f"{', '.join(MANIFEST_COLUMNS)}.")
    missing = [c for c in MANIFEST_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"The manifest lacks the column(s) {', '.join(missing)}.")
    if len(set(names)) != len(names):
        raise ValueError("The manifest names a column twice.")
    return names


def _file(folder: Path, cell: str, column: str) -> str:
    """The absolute path of a manifest cell; ``ValueError`` when it is not a file."""
    path = (folder / cell).resolve()
    if not path.is_file():
        raise ValueError(f"the {column} file does not exist or is not a file "
                         "(paths are relative to the manifest's folder)")
    return str(path)


def _row(number: int, cells: dict[str, str], folder: Path) -> BatchRow:
    """One validated row; ``ValueError`` with the first problem (no row prefix)."""
    from core.clinical import validate_clinical

    try:
        ids = validate_clinical({"patient_id": cells["patient_id"] or None,
                                 "study_date": cells["study_date"] or None})
    except ValueError as exc:
        raise ValueError(str(exc).rstrip(".")) from None
    convention = cells["convention"]
    if not convention:
        raise ValueError(f"convention is missing; give one of {', '.join(LABEL_CONVENTIONS)}")
    if convention not in LABEL_CONVENTIONS:
        raise ValueError(f"convention {convention!r} is not one of "
                         f"{', '.join(LABEL_CONVENTIONS)}")
    for column in ("image", "vertebrae"):
        if not cells[column]:
            raise ValueError(f"{column} is missing")
    paths = {c: _file(folder, cells[c], c) for c in _PATH_COLUMNS if cells[c]}
    return BatchRow(row=number, patient_id=ids["patient_id"],
                    study_date=ids["study_date"].isoformat(), image=paths["image"],
                    vertebrae=paths["vertebrae"], lesions=paths.get("lesions"),
                    convention=convention)


def read_manifest(path: str | Path) -> list[BatchRow]:
    """Read and validate a batch manifest.

    Parameters
    ----------
    path : str or Path
        The manifest CSV (UTF-8, optional BOM).

    Returns
    -------
    list of BatchRow
        In file order; blank lines are ignored.

    Raises
    ------
    ManifestError
        One sentence per bad row (``"row 3: the image file does not exist ..."``).
    ValueError
        For a file-level problem (missing, not UTF-8, unknown or missing columns, no rows).
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(_text(path), newline=""))
    try:
        names = _header(reader)
        records = list(enumerate(reader, start=2))  # spreadsheet row numbers
    except csv.Error as exc:
        raise ValueError(f"The manifest is not a valid CSV file ({exc}).") from None
    folder = path.resolve().parent
    rows: list[BatchRow] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in records:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            problems.append(f"row {number}: has {len(cells)} cells, the header has "
                            f"{len(names)}.")
            continue
        try:
            row = _row(number, {n: c.strip() for n, c in zip(names, cells, strict=True)},
                       folder)
        except ValueError as exc:
            problems.append(f"row {number}: {exc}.")
            continue
        if row.key in seen:
            problems.append(f"row {number}: patient {row.patient_id} on {row.study_date} "
                            f"is already listed in row {seen[row.key]}.")
            continue
        seen[row.key] = number
        rows.append(row)
    if problems:
        raise ManifestError(problems)
    if not rows:
        raise ValueError("The manifest lists no studies.")
    return rows
