""":func:`load_clinical_table_bulk`: :func:`~core.clinical.load_clinical_table` with the
bulk validator of :mod:`core.clinical.bulk`, reading a CSV in chunks.

The result is the same :class:`~core.clinical.ClinicalImport` (valid rows typed and
indexed by spreadsheet row, every :class:`~core.clinical.RowError` in the same order,
``n_rows``, ``columns``, ``warnings``) and the same file-level ``ValueError``, raised in the
same order: an unreadable CSV before an empty file, before header problems. A CSV is read
twice as a stream of records (a first pass checks its syntax and header and counts its
rows; the second validates ``chunk_rows`` records at a time), so memory holds the
decoded text, one chunk of cells and the compact validated values, never every cell as a
Python object. The cross-row checks (a repeated patient and date, a patient whose sex,
primary tumour or synthetic flag varies) run on all rows at the end.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.clinical.bulk import CellCheck, ValidatedCohort, validate_cells
from core.clinical.cells import plain_cell
from core.clinical.frames import _typed_column
from core.clinical.rows import RowError, deficit_warning
from core.clinical.schema import COHORT_COLUMNS, PATIENT_COLUMNS, ROW_COLUMN
from core.clinical.tables import (
    ClinicalImport,
    Record,
    _blank,
    _check_header,
    _decode_csv,
    _kind,
    _read_source,
    _xlsx_records,
    check_line_lengths,
)
from core.vocab import quote_value

#: Records validated at a time.
DEFAULT_CHUNK_ROWS = 20_000
#: ``progress(rows_done, rows_total)``.
Progress = Callable[[int, int], None]


@dataclass
class _Scan:
    """The first pass over a file: its header and how many data rows follow."""

    header: list[str] | None = None
    n_body: int = 0
    #: Columns without a header that hold a value in some row.
    headerless_values: set[int] = field(default_factory=set)

    def probe_body(self) -> list[Record]:
        """A one-record stand-in for the data rows that makes
        :func:`core.clinical.tables._check_header` judge the file as it would the rows
        themselves (it asks only whether there are rows and which headerless columns
        hold values)."""
        if not self.n_body:
            return []
        assert self.header is not None
        width = max([len(self.header), *(i + 1 for i in self.headerless_values)])
        probe: list[object] = [None] * width
        for i in self.headerless_values:
            probe[i] = "x"
        return [(0, probe)]


def _is_blank(cells: list[object]) -> bool:
    """:func:`core.clinical.tables._blank`, quick for a CSV record (text cells only)."""
    try:
        return not "".join(cells).strip()  # type: ignore[arg-type]
    except TypeError:  # an Excel record holds numbers, dates, None
        return _blank(cells)


def _normalised_header(cells: list[object]) -> list[str]:
    return [("" if plain_cell(c) is None else str(c).strip().lower()) for c in cells]


def _scan(records: Iterable[Record], name: str) -> _Scan:
    """First pass: CSV syntax errors, the header, the data rows' count."""
    scan = _Scan()
    empty: list[int] = []
    try:
        for _, cells in records:
            if scan.header is None:
                if not _is_blank(cells):
                    scan.header = _normalised_header(cells)
                    empty = [i for i, h in enumerate(scan.header) if not h]
                continue
            if _is_blank(cells):
                continue
            scan.n_body += 1
            for i in empty:
                if i < len(cells) and plain_cell(cells[i]) is not None:
                    scan.headerless_values.add(i)
    except csv.Error as exc:
        raise ValueError(f"{name} is not a readable CSV file ({exc}).") from None
    if scan.header is None:
        raise ValueError(f"{name} is empty.")
    return scan


def _body(records: Iterable[Record]) -> Iterator[Record]:
    """The non-blank records after the header."""
    seen_header = False
    for row, cells in records:
        if _is_blank(cells):
            continue
        if seen_header:
            yield row, cells
        seen_header = True


@dataclass
class _Found:
    """What the chunks found: errors, the valid rows' values, the study keys."""

    errors: list[RowError] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    values: dict[str, list[np.ndarray]] = field(
        default_factory=lambda: {c: [] for c in COHORT_COLUMNS})
    yes_no: list[np.ndarray] = field(default_factory=list)
    key_rows: list[np.ndarray] = field(default_factory=list)
    key_ids: list[np.ndarray] = field(default_factory=list)
    key_dates: list[np.ndarray] = field(default_factory=list)

    def add(self, row_numbers: np.ndarray, check: CellCheck) -> None:
        for i in sorted(check.problems):
            self.errors.extend(RowError(int(row_numbers[i]), column, reason)
                               for column, reason in check.problems[i])
        valid = np.flatnonzero(check.valid)
        self.rows.append(row_numbers[valid])
        for column in COHORT_COLUMNS:
            self.values[column].append(check.columns[column][valid])
        self.yes_no.append(check.yes_no_deficit[valid])
        keyed = np.flatnonzero(check.key_ok)
        self.key_rows.append(row_numbers[keyed])
        self.key_ids.append(check.columns["patient_id"][keyed])
        self.key_dates.append(check.columns["study_date"][keyed])


def _chunk_frame(chunk: list[Record], header: list[str], named: list[int]) -> pd.DataFrame:
    """The named columns of a chunk of well-shaped records as object columns."""
    width = len(header)
    table = np.empty((len(chunk), width), dtype=object)
    if all(len(cells) == width for _, cells in chunk):
        table[:] = [cells for _, cells in chunk]
    else:
        for k, (_, cells) in enumerate(chunk):
            table[k, :min(width, len(cells))] = cells[:width]
    data = {header[i]: pd.Series(table[:, i], dtype=object) for i in named}
    return pd.DataFrame(data, index=pd.RangeIndex(len(chunk)))


def _validate_chunks(body: Iterable[Record], header: list[str], named: list[int], kind: str,
                     *, require_vas: bool, chunk_rows: int, total: int,
                     progress: Progress | None) -> _Found:
    """Second pass: shape errors, then every chunk through :func:`validate_cells`."""
    found = _Found()
    width = len(header)
    chunk: list[Record] = []
    done = 0

    def flush() -> None:
        nonlocal done
        if chunk:
            check = validate_cells(_chunk_frame(chunk, header, named), require_vas=require_vas)
            found.add(np.array([r for r, _ in chunk], dtype=np.int64), check)
        done += len(chunk)
        chunk.clear()
        if progress is not None:
            progress(done, total)

    for row, cells in body:
        extra = len(cells) > width and not _is_blank(cells[width:])
        if extra or (kind == "csv" and len(cells) < width):
            found.errors.append(RowError(row, ROW_COLUMN,
                                         f"has {len(cells)} cells but the header has {width}"))
            done += 1
            continue
        chunk.append((row, cells))
        if len(chunk) >= chunk_rows:
            flush()
    flush()
    return found


def _concat(parts: list[np.ndarray], dtype: object = object) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _duplicate_errors(found: _Found) -> tuple[list[RowError], set[int]]:
    """Every row of a repeated (patient_id, study_date) gets an error."""
    keys = pd.DataFrame({"pid": _concat(found.key_ids), "day": _concat(found.key_dates),
                         "row": _concat(found.key_rows, np.int64)})
    repeated = keys[keys.duplicated(["pid", "day"], keep=False)]
    errors: list[RowError] = []
    for (pid, day), group in repeated.groupby(["pid", "day"], sort=False):
        rows = group["row"].tolist()
        for row in rows:
            others = ", ".join(str(r) for r in rows if r != row)
            errors.append(RowError(int(row), "study_date",
                                   f"{day.isoformat()} for patient {pid} is duplicated "
                                   f"(also row {others})"))
    return errors, {int(e.row) for e in errors}


def _patient_errors(rows: np.ndarray, values: dict[str, np.ndarray], keep: np.ndarray
                    ) -> list[RowError]:
    """A kept row whose patient-level values differ from the patient's first valid row."""
    pids = pd.Series(values["patient_id"])
    first = pids.groupby(pids, sort=False).cumcount() == 0
    first_at = pd.Series(np.flatnonzero(first.to_numpy()),
                         index=pids[first.to_numpy()].to_numpy())
    ref = first_at.reindex(pids.to_numpy()).to_numpy().astype(np.int64)
    errors: list[RowError] = []
    differs = np.zeros(len(rows), dtype=bool)
    for column in PATIENT_COLUMNS:
        differs |= values[column] != values[column][ref]
    for i in np.flatnonzero(differs & keep & (ref != np.arange(len(rows)))).tolist():
        j = int(ref[i])
        for column in PATIENT_COLUMNS:
            mine, theirs = values[column][i], values[column][j]
            if mine != theirs:
                errors.append(RowError(int(rows[i]), column,
                                       f"{quote_value(mine)} differs from row {int(rows[j])} "
                                       f"of the same patient ({quote_value(theirs)})"))
    return errors


def _records(data: bytes, name: str, kind: str) -> Callable[[], Iterable[Record]]:
    """A function giving a fresh stream of the file's records each call."""
    if kind == "xlsx":
        records = _xlsx_records(data, name)
        return lambda: iter(records)
    check_line_lengths(data, name)
    text = _decode_csv(data, name)
    return lambda: enumerate(csv.reader(io.StringIO(text, newline="")), start=1)


def load_clinical_table_bulk(
    source: str | Path | bytes,
    filename: str | None = None,
    *,
    require_vas: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Progress | None = None,
) -> ClinicalImport:
    """:func:`~core.clinical.load_clinical_table`, validated in bulk (same result).

    ``progress(rows_done, rows_total)`` is called after each chunk of ``chunk_rows``
    data rows. See :func:`~core.clinical.load_clinical_table` for the parameters, the
    result and the errors.
    """
    data, name = _read_source(source, filename)
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ValueError(f"{name} is empty.")
    kind = _kind(data, name)
    records = _records(data, name, kind)
    del data
    scan = _scan(records(), name)
    header = scan.header
    assert header is not None
    named = _check_header(header, scan.probe_body(), name)
    found = _validate_chunks(_body(records()), header, named, kind, require_vas=require_vas,
                             chunk_rows=max(1, int(chunk_rows)), total=scan.n_body,
                             progress=progress)
    rows = _concat(found.rows, np.int64)
    values = {c: _concat(v) for c, v in found.values.items()}
    dup_errors, dup_rows = _duplicate_errors(found)
    not_dup = ~np.isin(rows, list(dup_rows))
    patient_errors = _patient_errors(rows, values, not_dup)
    bad_patient = np.isin(rows, [e.row for e in patient_errors])
    keep = np.flatnonzero(not_dup & ~bad_patient)
    order = {c: k for k, c in enumerate(COHORT_COLUMNS)}
    errors = sorted([*found.errors, *dup_errors, *patient_errors],
                    key=lambda e: (e.row, order.get(e.column, -1)))
    frame = pd.DataFrame(index=pd.RangeIndex(len(keep)))
    for column in COHORT_COLUMNS:
        frame[column] = _typed_column(column, values[column][keep].tolist())
    frame.index = pd.Index(rows[keep], name="row", dtype="int64")
    yes_no = _concat(found.yes_no, bool)[keep]
    warning = deficit_warning(rows[keep][yes_no].tolist())
    frame.attrs["warnings"] = [warning] if warning else []
    validated = ValidatedCohort(frame, {c: values[c][keep] for c in COHORT_COLUMNS})
    return ClinicalImport(rows=frame, errors=tuple(errors), n_rows=scan.n_body,
                          columns=tuple(header[i] for i in named),
                          warnings=(warning,) if warning else (), validated=validated)
