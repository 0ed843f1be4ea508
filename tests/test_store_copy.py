"""The bulk writes' PostgreSQL fast paths (:mod:`core.store.pg_copy`: ``COPY`` of the rows,
ids from the sequences, array parameters, one ``unnest`` upsert of scores) store what the
portable paths store, on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from core.demo import generate_cohort
from core.model import load_model
from core.store import SCORE_COLUMNS, CaseStore, StudyFilter
from core.store.schema import Study, StudyFeatures
from core.store.scores import score_params, upsert


def test_copied_rows_keep_awkward_text_json_and_row_order(db_url, data_dir):
    """Text that ``COPY`` escapes (backslash, tab, new line) comes back as given, the
    ``metrics`` JSON of a table row is JSON ``null`` as an ``INSERT`` writes it, ids
    follow the rows' order, and the tables' own numbering goes on after the import."""
    cohort = generate_cohort(12, seed=21)
    source = "site\\export\t2024\nfinal.csv"
    with CaseStore() as store:
        summary = store.import_cohort(cohort, source=source, actor="dr-a")
        assert summary["studies_added"] == len(cohort)
        listed = store.list_studies()
        with store.engine.connect() as conn:
            sources = set(conn.scalars(select(Study.source)))
            metrics = conn.execute(select(StudyFeatures.metrics.is_(None),
                                          StudyFeatures.metrics)).all()
        assert sources == {source}
        assert source in store.audit_log()["target"].tolist()
        assert metrics and all(not is_null and value is None for is_null, value in metrics)
        by_row = listed.sort_values("study_id")
        expected = cohort.assign(study_date=pd.to_datetime(cohort["study_date"]))
        assert by_row["patient_id"].tolist() == expected["patient_id"].tolist()
        assert by_row["study_date"].tolist() == expected["study_date"].tolist()
        new_id = store.save_case("P-7001", "2024-03-03", clinical={"vas": 5}, actor="dr-a")
        assert new_id > int(listed["study_id"].max())


def test_the_scores_upsert_replaces_keeps_the_last_and_skips_deleted_studies(db_url,
                                                                            data_dir):
    model = load_model()
    cohort = generate_cohort(6, seed=22)
    with CaseStore() as store:
        store.import_cohort(cohort, source="c.csv", actor="dr-a", model=model)
        page = store.scored_studies(model.version, StudyFilter(), order_by="patient",
                                    limit=None)
        ids = page["study_id"].tolist()
        store.delete_study(ids[-1], actor="dr-a")
        assessed = page[["study_id", *SCORE_COLUMNS]]
        twice = pd.concat([assessed.assign(headline="first"), assessed.assign(
            headline="second \\ with\ttab")], ignore_index=True)
        params = score_params(twice, model.version)
        with store.engine.begin() as conn:
            written = upsert(conn, params)
        assert written == len(ids) - 1
        again = store.scored_studies(model.version, StudyFilter(), order_by="patient",
                                     limit=None)
        assert again["study_id"].tolist() == ids[:-1]
        assert set(again["headline"]) == {"second \\ with\ttab"}
        for column in ("category", "tier", "urgency", "expected_vas", "p_mild"):
            assert again[column].tolist() == page[column].tolist()[:-1], column
