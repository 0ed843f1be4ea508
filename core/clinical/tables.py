"""Reading a clinical table file (CSV UTF-8 or .xlsx) into validated rows:
:func:`load_clinical_table` -> :class:`ClinicalImport`.

File-level problems raise ``ValueError``; row problems become :class:`RowError` entries.
The size limits guard against huge uploads and zip bombs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.clinical.bulk import ValidatedCohort
from core.clinical.cells import (
    deficit_from_yes_no,
    parse_study_date,
    plain_cell,
)
from core.clinical.frames import as_cohort_frame
from core.clinical.ids import parse_patient_id
from core.clinical.rows import RowError, deficit_warning, row_problems
from core.clinical.schema import COHORT_COLUMNS, PATIENT_COLUMNS, REQUIRED_COLUMNS, ROW_COLUMN
from core.vocab import quote_names, quote_value

MAX_TABLE_BYTES = 50 * 1024 * 1024
#: A workbook whose parts unpack to more than this is refused (zip bombs).
MAX_XLSX_UNPACKED_BYTES = 4 * MAX_TABLE_BYTES
#: A worksheet whose used range (rows x columns) exceeds this is refused: reading it
#: would walk every cell of the range even when it is almost empty.
MAX_XLSX_CELLS = 5_000_000
#: Longest line of a CSV table (bytes): a cohort row is a few hundred; a longer line
#: (a runaway quote, millions of cells) is refused before the csv module splits it.
MAX_LINE_BYTES = 256 * 1024

#: One record of a file: (spreadsheet row number, cells).
Record = tuple[int, list[object]]


@dataclass(frozen=True, eq=False)
class ClinicalImport:
    """Result of :func:`load_clinical_table`.

    Attributes
    ----------
    rows : pandas.DataFrame
        The valid rows only, typed as :func:`~core.clinical.as_cohort_frame`, indexed by
        their spreadsheet row number (index name ``"row"``); ``rows.attrs["warnings"]``
        repeats :attr:`warnings` (``CaseStore.import_cohort`` reports them).
    errors : tuple of RowError
        Every problem found, sorted by row then column order. A row with any error is
        not in ``rows``. The caller decides whether to import ``rows`` when there are
        errors (the CLI and the import page import nothing unless asked to).
    n_rows : int
        Data rows read (blank rows excluded).
    columns : tuple of str
        The (normalised) columns of the file.
    warnings : tuple of str
        Plain sentences about values that were read but should be recorded differently,
        each naming its rows: today, valid rows whose ``neurologic_deficit`` is an old
        yes/no value (read as ``new_or_progressive`` / ``none``).
    validated : ValidatedCohort or None
        :attr:`rows` with the values their validation produced, from the bulk loader
        (:func:`~core.clinical.bulk_tables.load_clinical_table_bulk`); pass it to
        ``CaseStore.import_cohort`` instead of :attr:`rows` to skip validating the
        rows a second time. ``None`` from the row-by-row loader.
    """

    rows: pd.DataFrame
    errors: tuple[RowError, ...]
    n_rows: int
    columns: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())
    validated: ValidatedCohort | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when every row is valid."""
        return not self.errors

    @property
    def invalid_rows(self) -> tuple[int, ...]:
        """Row numbers with at least one error."""
        return tuple(sorted({e.row for e in self.errors}))

    def error_frame(self) -> pd.DataFrame:
        """The errors as a table with columns ``row``, ``column``, ``reason``."""
        return pd.DataFrame(
            [(e.row, e.column, e.reason) for e in self.errors],
            columns=["row", "column", "reason"],
        )


# --------------------------------------------------------------------------- reading


def _read_source(source: str | Path | bytes, filename: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        name = filename or "the file"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist or is not a file.")
        if path.stat().st_size > MAX_TABLE_BYTES:
            raise ValueError(f"{path.name} is larger than {MAX_TABLE_BYTES // 2**20} MB.")
        data = path.read_bytes()
        name = filename or path.name
    if len(data) > MAX_TABLE_BYTES:
        raise ValueError(f"{name} is larger than {MAX_TABLE_BYTES // 2**20} MB.")
    return data, name


def _kind(data: bytes, name: str) -> str:
    suffix = Path(name).suffix.lower() if name != "the file" else ""
    if suffix in (".xls", ".xlsm", ".xlsb", ".ods", ".numbers"):
        raise ValueError(f"{name} is a {suffix} file; save it as .xlsx or CSV UTF-8.")
    if suffix == ".xlsx" or (not suffix and data[:4] == b"PK\x03\x04"):
        return "xlsx"
    if suffix in ("", ".csv", ".txt"):
        return "csv"
    raise ValueError(f"{name} is not a .csv or .xlsx file.")


def _decode_csv(data: bytes, name: str) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ValueError(f"{name} is UTF-16 encoded; save it as CSV UTF-8.")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        raise ValueError(
            f"{name} contains NUL bytes (UTF-16 without a byte-order mark, or not a text "
            "file); save it as CSV UTF-8."
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"{name} is not UTF-8 encoded (byte 0x{data[exc.start]:02x} on line {line}); "
            "save it as CSV UTF-8."
        ) from None


def check_line_lengths(data: bytes, name: str) -> None:
    """Refuse a line longer than :data:`MAX_LINE_BYTES` (CR, LF or CRLF line ends)."""
    codes = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero((codes == 10) | (codes == 13))
    lengths = np.diff(np.concatenate(([-1], ends, [codes.size]))) - 1
    longest = int(lengths.argmax())
    if lengths[longest] > MAX_LINE_BYTES:
        line = int(np.count_nonzero(codes[: ends[longest - 1] + 1] == 10)) + 1 if longest else 1
        raise ValueError(f"{name} has a line longer than {MAX_LINE_BYTES // 1024} KB (line "
                         f"{line}); a clinical table's lines are short.")


def _csv_records(data: bytes, name: str) -> list[Record]:
    check_line_lengths(data, name)
    text = _decode_csv(data, name)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ValueError(f"{name} is not a readable CSV file ({exc}).") from None
    return [(index, list(cells)) for index, cells in enumerate(records, start=1)]


def _check_unpacked_size(data: bytes, name: str) -> None:
    """Refuse a workbook whose parts unpack to more than :data:`MAX_XLSX_UNPACKED_BYTES`."""
    try:
        # Declared sizes bound what zipfile will inflate, so this is a real limit.
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{name} is not a readable .xlsx workbook ({exc}).") from None
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise ValueError(
            f"{name} unpacks to more than {MAX_XLSX_UNPACKED_BYTES // 2**20} MB; "
            "save the table as CSV UTF-8."
        )


def _xlsx_records(data: bytes, name: str) -> list[Record]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_unpacked_size(data, name)
    try:
        book = load_workbook(io.BytesIO(data), read_only=False, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, InvalidFileException) as exc:
        raise ValueError(f"{name} is not a readable .xlsx workbook ({exc}).") from None
    sheet = book.worksheets[0]
    if sheet.max_row * sheet.max_column > MAX_XLSX_CELLS:
        raise ValueError(
            f"{name} has cells up to row {sheet.max_row}, column {sheet.max_column} "
            f"(more than {MAX_XLSX_CELLS:,} cells); delete the unused rows and columns "
            "or save the table as CSV UTF-8."
        )
    return [
        (index, list(cells))
        for index, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
    ]


def _read_records(
    source: str | Path | bytes, filename: str | None
) -> tuple[str, str, list[Record]]:
    """(name, kind ``"csv"``/``"xlsx"``, records) of a file, refusing an empty one."""
    data, name = _read_source(source, filename)
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ValueError(f"{name} is empty.")
    kind = _kind(data, name)
    records = _xlsx_records(data, name) if kind == "xlsx" else _csv_records(data, name)
    return name, kind, records


# --------------------------------------------------------------------------- header


def _blank(cells: list[object]) -> bool:
    return all(plain_cell(c) is None for c in cells)


def _split_header(records: list[Record], name: str) -> tuple[list[str], list[Record]]:
    """The normalised header (first non-blank record) and the non-blank records after it."""
    header_at = next((i for i, (_, cells) in enumerate(records) if not _blank(cells)), None)
    if header_at is None:
        raise ValueError(f"{name} is empty.")
    header = [("" if plain_cell(c) is None else str(c).strip().lower())
              for c in records[header_at][1]]
    body = [(row, cells) for row, cells in records[header_at + 1:] if not _blank(cells)]
    return header, body


def _check_header(header: list[str], body: list[Record], name: str) -> list[int]:
    """Indices of the named columns; refuses a header the schema cannot read."""
    if len(header) == 1 and ";" in header[0]:
        raise ValueError(f"{name} looks semicolon-separated; save it comma-separated (CSV).")
    named = [i for i, h in enumerate(header) if h]
    for i, h in enumerate(header):
        if not h and any(i < len(cells) and plain_cell(cells[i]) is not None
                         for _, cells in body):
            raise ValueError(f"{name} has values in column {i + 1}, which has no header.")
    seen: set[str] = set()
    for i in named:
        if header[i] in seen:
            raise ValueError(f"{name} has the column {quote_value(header[i])} twice.")
        seen.add(header[i])
    unknown = [header[i] for i in named if header[i] not in COHORT_COLUMNS]
    if unknown:
        raise ValueError(
            f"{name} has unknown column(s) {quote_names(unknown)}; only the "
            "documented columns are accepted (extra columns may carry identifying data)."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        raise ValueError(f"{name} is missing required column(s): {', '.join(missing)}.")
    if not body:
        raise ValueError(f"{name} has a header but no data rows.")
    return named


# --------------------------------------------------------------------------- rows


@dataclass
class _Checked:
    """What validating the data rows found so far."""

    errors: list[RowError] = field(default_factory=list)
    valid: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: (patient_id, study_date) -> rows carrying it.
    keys: dict[tuple[str, dt.date], list[int]] = field(default_factory=dict)
    #: patient_id -> (first valid row, its patient-level values).
    patient_first: dict[str, tuple[int, dict[str, object]]] = field(default_factory=dict)
    #: Rows whose neurologic_deficit is an old yes/no value.
    yes_no_deficit: list[int] = field(default_factory=list)


def _study_key(raw: dict[str, object]) -> tuple[str, dt.date] | None:
    """(patient_id, study_date) of a row whose two cells are valid, else None."""
    try:
        return (parse_patient_id(plain_cell(raw["patient_id"])),
                parse_study_date(plain_cell(raw["study_date"])))
    except (ValueError, TypeError):
        return None


def _check_rows(body: list[Record], header: list[str], named: list[int], kind: str, *,
                require_vas: bool) -> _Checked:
    """Validate every data row on its own; remember study keys and patients' first rows."""
    checked = _Checked()
    width = len(header)
    for row, cells in body:
        extra = [c for c in cells[width:] if plain_cell(c) is not None]
        if extra or (kind == "csv" and len(cells) < width):
            checked.errors.append(RowError(row, ROW_COLUMN,
                                           f"has {len(cells)} cells but the header has {width}"))
            continue
        raw = {header[i]: (cells[i] if i < len(cells) else None) for i in named}
        clean, problems = row_problems(raw, require_vas=require_vas)
        checked.errors.extend(RowError(row, column, reason) for column, reason in problems)
        if clean is not None:
            checked.valid[row] = clean
            if deficit_from_yes_no(raw.get("neurologic_deficit")):
                checked.yes_no_deficit.append(row)
        key = _study_key(raw)
        if key is None:
            continue
        checked.keys.setdefault(key, []).append(row)
        if key[0] not in checked.patient_first and clean is not None:
            checked.patient_first[key[0]] = (row, {c: clean[c] for c in PATIENT_COLUMNS})
    return checked


def _check_duplicates(checked: _Checked) -> None:
    """Every row of a duplicated (patient_id, study_date) pair gets an error."""
    for (pid, day), rows in checked.keys.items():
        if len(rows) > 1:
            for row in rows:
                others = ", ".join(str(r) for r in rows if r != row)
                checked.errors.append(RowError(
                    row, "study_date",
                    f"{day.isoformat()} for patient {pid} is duplicated (also row {others})",
                ))
                checked.valid.pop(row, None)


def _check_patients(checked: _Checked) -> None:
    """A row whose patient-level values differ from the patient's first row gets an error."""
    for row, clean in sorted(checked.valid.items()):
        first_row, first = checked.patient_first[clean["patient_id"]]
        if first_row == row:
            continue
        for column in PATIENT_COLUMNS:
            if clean[column] != first[column]:
                checked.errors.append(RowError(
                    row, column,
                    f"{quote_value(clean[column])} differs from row {first_row} of the same "
                    f"patient ({quote_value(first[column])})",
                ))
                checked.valid.pop(row, None)


# --------------------------------------------------------------------------- import


def load_clinical_table(
    source: str | Path | bytes,
    filename: str | None = None,
    *,
    require_vas: bool = True,
) -> ClinicalImport:
    """Read and validate a clinical table (CSV UTF-8 with or without BOM, or .xlsx).

    Parameters
    ----------
    source : str, Path or bytes
        A file path, or the file's bytes (an upload).
    filename : str, optional
        Name used in messages and to tell CSV from Excel for bytes (``.xlsx`` or a zip
        signature means Excel, otherwise CSV).
    require_vas : bool
        Every row must carry ``vas`` (default: cohorts are for analysis and training).

    Returns
    -------
    ClinicalImport
        Valid rows (typed) and every row error; see :mod:`core.clinical` for the schema
        and the row-number convention. Duplicate ``(patient_id, study_date)`` pairs are
        errors on every row involved; a patient whose rows disagree on ``sex``,
        ``primary_tumor`` or ``synthetic`` gets an error on each row that differs from
        the patient's first row.

    Raises
    ------
    ValueError
        For file-level problems: not UTF-8 / UTF-16, not a workbook, a workbook too
        large once unpacked, empty, no data rows, missing required columns, unknown or
        duplicate columns.
    FileNotFoundError
        When a path does not exist.
    """
    name, kind, records = _read_records(source, filename)
    header, body = _split_header(records, name)
    named = _check_header(header, body, name)
    checked = _check_rows(body, header, named, kind, require_vas=require_vas)
    _check_duplicates(checked)
    _check_patients(checked)

    order = {c: k for k, c in enumerate(COHORT_COLUMNS)}
    errors = sorted(checked.errors, key=lambda e: (e.row, order.get(e.column, -1)))
    valid = checked.valid
    rows_frame = as_cohort_frame([valid[r] for r in sorted(valid)])
    rows_frame.index = pd.Index(sorted(valid), name="row", dtype="int64")
    warning = deficit_warning([r for r in checked.yes_no_deficit if r in valid])
    # travels with the rows, so CaseStore.import_cohort can report it in its summary
    rows_frame.attrs["warnings"] = [warning] if warning else []
    return ClinicalImport(
        rows=rows_frame,
        errors=tuple(errors),
        n_rows=len(body),
        columns=tuple(header[i] for i in named),
        warnings=(warning,) if warning else (),
    )
