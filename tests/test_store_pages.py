"""Pages of scored studies (:meth:`CaseStore.scored_studies`) at any offset, on SQLite and
PostgreSQL (``db_url``, tests/conftest.py): every page, deep ones included, is the same
slice of the whole ordered list (the same values; a yes/no column is ``bool``, or
``object`` when one of the rows lacks the value, as in ``list_studies``), and that list
is the documented order (checked against a pandas sort of the same rows). The page query
orders and cuts the study ids first and reads the page's rows after; these tests pin
that the two steps give what one ordered query gave."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from core.demo import generate_cohort
from core.model import load_model
from core.store import ORDERS, CaseStore, StudyFilter
from core.store.scores import OVERRIDE
from core.vocab import URGENCY_ORDER
from tests.conftest import database_url

PAGE = 7


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    """Demo rows, some under lower-case patient ids (code-point order puts every upper
    case letter before every lower case one, whatever the database's locale)."""
    frame = generate_cohort(24, seed=11)
    lower = frame["patient_id"].isin(frame["patient_id"].unique()[::3])
    frame.loc[lower, "patient_id"] = frame.loc[lower, "patient_id"].str.replace(
        "DEMO-", "demo-", regex=False)
    return frame


def _reference(full: pd.DataFrame, order_by: str) -> list[int]:
    """Study ids in the documented order of ``order_by``, sorted by pandas."""
    frame = full.assign(
        rank=full["urgency"].map({u: i for i, u in enumerate(reversed(URGENCY_ORDER))})
        .fillna(len(URGENCY_ORDER)),
        override=(full["headline_source"] != OVERRIDE).astype(int),
        no_vas=full["expected_vas"].isna().astype(int),
        neg_vas=-full["expected_vas"].fillna(0.0),
        day=-(full["study_date"] - pd.Timestamp("1970-01-01")).dt.days,
        pid=[[ord(c) for c in p] for p in full["patient_id"]],
    )
    keys = {"board": ["rank", "override", "day", "pid", "study_id"],
            "patient": ["pid", "study_date", "study_id"],
            "recent": ["day", "pid", "study_id"],
            "expected_vas": ["no_vas", "neg_vas", "day", "pid", "study_id"]}[order_by]
    rows = sorted(frame[keys].itertuples(index=False, name=None))
    return [int(r[-1]) for r in rows]


def test_every_page_at_any_offset_is_the_slice_of_the_ordered_list(db_url, data_dir, model,
                                                                    cohort):
    with CaseStore() as store:
        # scored studies, and a few without a score of the version (NULL scores)
        scored = cohort.iloc[:-5]
        store.import_cohort(scored, source="c.csv", actor="dr-a", model=model)
        store.import_cohort(cohort.iloc[-5:], source="late.csv", actor="dr-a")
        version = model.version
        n = store.count_studies()
        assert n == len(cohort)
        filters = [StudyFilter(),
                   StudyFilter(regions=["lumbar", "thoracic"]),
                   StudyFilter(urgencies=list(URGENCY_ORDER), date_from="2020-01-01")]
        for order in ORDERS:
            full = store.scored_studies(version, order_by=order, limit=None)
            assert full["study_id"].tolist() == _reference(full, order), order
            for wanted in filters:
                whole = store.scored_studies(version, wanted, order_by=order, limit=None)
                total = store.count_studies(wanted, model_version=version)
                assert len(whole) == total
                for offset in (0, 1, total // 2, max(total - PAGE, 0), total - 1,
                               total, total + 3):
                    offset = max(offset, 0)
                    page = store.scored_studies(version, wanted, order_by=order,
                                                limit=PAGE, offset=offset)
                    pd.testing.assert_frame_equal(
                        page, whole.iloc[offset:offset + PAGE].reset_index(drop=True),
                        obj=f"{order} page at {offset} of {wanted}", check_dtype=False)
                rest = store.scored_studies(version, wanted, order_by=order, limit=None,
                                            offset=total // 2)
                pd.testing.assert_frame_equal(
                    rest, whole.iloc[total // 2:].reset_index(drop=True), check_dtype=False)


def test_bulk_writes_refresh_the_postgresql_planner_statistics(request, data_dir, model,
                                                               cohort):
    """Right after a first import the planner had no statistics (autovacuum analyses a
    while later) and joined a board page's studies with their scores by scanning every
    score per study: 20-80 s for a page of 20,000 studies. Imports and score recomputes
    now ``ANALYZE`` the tables they filled."""
    with CaseStore(database_url(request, "postgresql", data_dir)) as store:
        store.import_cohort(cohort, source="c.csv", actor="dr-a")
        analysed = """SELECT relname FROM pg_stat_user_tables
                      WHERE last_analyze IS NOT NULL"""
        rows = "SELECT reltuples FROM pg_class WHERE relname = :name"
        with store.engine.connect() as conn:
            names = set(conn.execute(text(analysed)).scalars())
            studies = conn.execute(text(rows), {"name": "studies"}).scalar()
        assert {"patients", "studies", "clinical_values", "study_features"} <= names
        assert studies == len(cohort)
        store.recompute_scores(model)
        with store.engine.connect() as conn:
            scored = conn.execute(text(rows), {"name": "scores"}).scalar()
        assert scored == len(cohort)
