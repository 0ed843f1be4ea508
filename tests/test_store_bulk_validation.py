"""The bulk validators give the row-by-row results: :func:`load_clinical_table_bulk`
against :func:`load_clinical_table` on the committed cohort and every bad-CSV fixture,
and :meth:`CaseStore.import_cohort`'s frame-level checks against the row-by-row messages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.clinical import load_clinical_table
from core.clinical.bulk_tables import load_clinical_table_bulk
from core.demo import generate_cohort
from core.store import importing

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
