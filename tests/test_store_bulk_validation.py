"""The bulk validators give the row-by-row results: :func:`load_clinical_table_bulk`
against :func:`load_clinical_table` on the committed cohort and every bad-CSV fixture,
and :meth:`CaseStore.import_cohort`'s frame-level checks against the row-by-row messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hyp

from core.clinical import COHORT_COLUMNS, ValidatedCohort, as_cohort_frame, load_clinical_table
from core.clinical.bulk import typed_cohort_frame
from core.clinical.bulk_tables import load_clinical_table_bulk
from core.clinical.schema import BOOLEAN_COLUMNS, TEXT_COLUMNS
from core.demo import generate_cohort
from core.store import CaseStore, importing

REPO = Path(__file__).resolve().parents[1]
TABLES = [REPO / "data" / "demo" / "cohort.csv",
          *sorted((Path(__file__).parent / "data" / "bad_csv").glob("*.csv"))]


def _load(loader, path: Path, **kwargs):
    try:
        return loader(path, **kwargs), None
    except ValueError as exc:
        return None, str(exc)


@pytest.mark.parametrize("require_vas", [True, False])
@pytest.mark.parametrize("path", TABLES, ids=[p.name for p in TABLES])
def test_bulk_loader_equals_the_row_by_row_loader(path, require_vas):
    rows, error = _load(load_clinical_table, path, require_vas=require_vas)
    seen: list[tuple[int, int]] = []
    bulk, bulk_error = _load(load_clinical_table_bulk, path, require_vas=require_vas,
                             chunk_rows=3, progress=lambda d, t: seen.append((d, t)))
    assert bulk_error == error
    if error is not None:
        return
    pd.testing.assert_frame_equal(bulk.rows, rows.rows)
    assert bulk.rows.attrs == rows.rows.attrs
    assert (bulk.errors, bulk.n_rows, bulk.columns, bulk.warnings) == (
        rows.errors, rows.n_rows, rows.columns, rows.warnings)
    if rows.n_rows:
        assert seen[-1] == (rows.n_rows, rows.n_rows)


def test_import_checks_name_the_first_bad_row_as_row_by_row():
    """Rows are numbered 1, 2, ... for a plain frame (as before the bulk checks)."""
    frame = generate_cohort(20, seed=4).reset_index(drop=True)
    assert len(importing.validated_rows(frame)) == len(frame)
    bad = frame.copy()
    bad.loc[5, "vas"] = 12
    bad.loc[9, "ecog"] = 7
    with pytest.raises(ValueError, match=r"^cohort row 6: vas 12 is not a number from 0 to 10"):
        importing.validated_rows(bad)
    repeated = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)
    with pytest.raises(ValueError, match=rf"^cohort row {len(frame) + 1}: patient "
                                         rf"{frame.loc[2, 'patient_id']} on .* is duplicated "
                                         r"\(row 3\)\.$"):
        importing.validated_rows(repeated)
    later = frame.copy()
    counts = later["patient_id"].value_counts()
    pid = counts.index[counts > 1][0]  # a patient with several studies
    first, other = later.index[later["patient_id"] == pid][[0, -1]]
    later.loc[other, "primary_tumor"] = "lung" if later.loc[first, "primary_tumor"] != "lung" \
        else "breast"
    with pytest.raises(ValueError, match=rf"^cohort row {other + 1}: primary_tumor .* "
                                         rf"differs from an earlier row of patient {pid}"):
        importing.validated_rows(later)


@pytest.mark.parametrize("path", TABLES, ids=[p.name for p in TABLES])
def test_the_bulk_loaders_validated_rows_are_the_rows_the_store_validates(path):
    """``ClinicalImport.validated`` holds exactly what ``import_cohort`` would get by
    validating ``ClinicalImport.rows`` again, so the store can skip that second pass."""
    bulk, error = _load(load_clinical_table_bulk, path, require_vas=False)
    if error is not None:
        return
    assert isinstance(bulk.validated, ValidatedCohort)
    assert bulk.validated.frame is bulk.rows and len(bulk.validated) == len(bulk.rows)
    given, given_warnings = importing.cohort_rows(bulk.validated)
    again, again_warnings = importing.cohort_rows(bulk.rows)
    assert given_warnings == again_warnings
    assert list(given.columns) == list(again.columns) == list(COHORT_COLUMNS)
    for column in COHORT_COLUMNS:
        assert given.columns[column].tolist() == again.columns[column].tolist(), column


def test_a_validated_cohort_needs_every_column_and_one_value_per_row():
    table = load_clinical_table_bulk(TABLES[0])
    values = dict(table.validated.values)
    values.pop("vas")
    with pytest.raises(ValueError, match="every cohort column"):
        ValidatedCohort(table.rows, values)
    short = {c: v[:-1] for c, v in table.validated.values.items()}
    with pytest.raises(ValueError, match="one value per row"):
        ValidatedCohort(table.rows, short)


def test_import_takes_the_loaders_validated_rows_without_validating_again(
        db_url, data_dir, monkeypatch):
    """Validate once, at the edge: the bulk loader's rows go in as they are, and store
    what importing its typed frame (validated again) stores; a plain frame is still
    validated."""
    table = load_clinical_table_bulk(TABLES[0])
    calls: list[int] = []
    validate = importing.validate_cells

    def counting(cells, **kwargs):
        calls.append(len(cells))
        return validate(cells, **kwargs)

    monkeypatch.setattr(importing, "validate_cells", counting)
    with CaseStore() as store:
        summary = store.import_cohort(table.validated, source="a.csv", actor="dr-a")
        assert calls == []
        assert summary["studies_added"] == len(table.rows)
        assert summary["warnings"] == list(table.warnings)
        stored = store.list_studies()
        again = store.import_cohort(table.rows, source="a.csv", actor="dr-a",
                                    on_duplicate="replace")
        assert calls == [len(table.rows)]
        assert again["studies_replaced"] == len(table.rows)
        pd.testing.assert_frame_equal(store.list_studies()[list(COHORT_COLUMNS)],
                                      stored[list(COHORT_COLUMNS)])
        bad = table.rows.copy()
        bad.iloc[0, bad.columns.get_loc("vas")] = 12
        with pytest.raises(ValueError, match="vas 12 is not a number from 0 to 10"):
            store.import_cohort(bad, source="b.csv", actor="dr-a", on_duplicate="replace")


def test_an_empty_cohort_validates_to_no_rows():
    """A table without valid rows (e.g. ``--valid-rows-only`` of a file whose rows all
    fail) used to fail inside the cross-column checks with an IndexError."""
    empty = generate_cohort(3, seed=4).iloc[:0]
    rows, warnings = importing.cohort_rows(empty)
    assert len(rows) == 0 and warnings == []


# ------------------------------------------------ typed_cohort_frame == as_cohort_frame

_MISSING = [None, float("nan"), pd.NA, pd.NaT, np.float64("nan")]
#: Cells each kind of cohort column may hold before typing: text with spaces, blanks,
#: each spelling of missing, numbers of several types (``1``, ``1.0`` and ``True`` are
#: different cells: a text column keeps them as "1", "1.0" and "True"), dates as text,
#: dates and timestamps.
_CELLS = {
    "text": [*_MISSING, "", "  ", " P1 ", "P1", "P2", "female", "1b", "none", "yes", "0",
             1, 1.0, True, np.int64(1), np.bool_(True), -0.0, 0.0, 0],
    "number": [*_MISSING, 1, 1.0, True, False, 0, -0.0, 0.0, 2.5, np.float64(3.0),
               np.int64(4), np.bool_(True), "2.5", " 7 "],
    "date": [*_MISSING, "2024-01-02", dt.date(2024, 1, 2), pd.Timestamp("2024-01-03"),
             dt.datetime(2024, 1, 2)],
    "bool": [*_MISSING, True, False, np.bool_(False), 1, 0, 1.0],
}


def _kind(column: str) -> str:
    if column in TEXT_COLUMNS:
        return "text"
    if column == "study_date":
        return "date"
    return "bool" if column in BOOLEAN_COLUMNS else "number"


def _same_frames(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for column in want.columns:
        if want[column].dtype == object:
            assert [type(v) for v in got[column]] == [type(v) for v in want[column]], column


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=hyp.data(), n=hyp.integers(min_value=0, max_value=12))
def test_typed_cohort_frame_equals_as_cohort_frame_on_mixed_cells(data, n) -> None:
    """Each distinct cell is typed once and spread over its rows: the frame is
    as_cohort_frame's, cell for cell (types of object cells too), or both refuse it."""
    columns = data.draw(hyp.lists(hyp.sampled_from(COHORT_COLUMNS), unique=True))
    cells = {c: data.draw(hyp.lists(hyp.sampled_from(_CELLS[_kind(c)]), min_size=n,
                                    max_size=n)) for c in columns}
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in cells.items()},
                         index=pd.RangeIndex(n))
    try:
        want = as_cohort_frame(frame)
    except (ValueError, TypeError) as exc:
        with pytest.raises(type(exc)):
            typed_cohort_frame(frame)
        return
    _same_frames(typed_cohort_frame(frame), want)


def test_typed_cohort_frame_equals_as_cohort_frame_on_the_demo_cohort() -> None:
    """Typed columns are taken as they are, the others typed per distinct cell."""
    raw = pd.read_csv(REPO / "data" / "demo" / "cohort.csv")
    _same_frames(typed_cohort_frame(raw), as_cohort_frame(raw))
    typed = as_cohort_frame(raw)
    _same_frames(typed_cohort_frame(typed), typed)


def test_typed_cohort_frame_types_only_the_columns_asked_for() -> None:
    """``columns`` types those columns exactly as the whole frame's typing does (the
    scored cohort's refresh types again only its object columns)."""
    raw = pd.read_csv(REPO / "data" / "demo" / "cohort.csv")
    whole = typed_cohort_frame(raw)
    asked = ["neuropathic_pain", "bilsky_grade", "age"]
    part = typed_cohort_frame(raw, columns=asked)
    assert list(part.columns) == asked
    _same_frames(part, whole[asked])
    with pytest.raises(ValueError, match="'study_id' is not a cohort column"):
        typed_cohort_frame(raw, columns=["study_id"])
