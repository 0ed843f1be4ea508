"""Scores per (study, model version) and the SQL reads of the board and cohort pages, on
SQLite and PostgreSQL (``db_url``, tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from core.assess import ASSESSMENT_COLUMNS, assess_frame
from core.demo import generate_cohort
from core.model import load_model
from core.store import (
    AUDIT_ACTIONS,
    DATA_ACTIONS,
    NON_DATA_ACTIONS,
    PAGE_COLUMNS,
    SCORE_COLUMNS,
    CaseStore,
    StudyFilter,
)
from core.store.scores import OVERRIDE
from core.tiers import HEADLINE_SOURCES
from core.vocab import URGENCY_ORDER


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return generate_cohort(30, seed=5)


def _expected(model, store: CaseStore) -> pd.DataFrame:
    """Row-by-row reference: the assessment of every listed study."""
    listed = store.list_studies()
    return assess_frame(model, listed).set_index("study_id")


def test_score_columns_are_the_assessment_columns():
    assert SCORE_COLUMNS == ASSESSMENT_COLUMNS
    assert OVERRIDE in HEADLINE_SOURCES


def test_import_with_a_model_stores_the_scores_pages_read(db_url, data_dir, model, cohort):
    seen: list[tuple[int, int]] = []
    with CaseStore() as store:
        summary = store.import_cohort(cohort, source="c.csv", actor="dr-a", model=model,
                                      score_progress=lambda d, t: seen.append((d, t)))
        assert summary["scores"]["studies"] == len(cohort)
        assert seen[0] == (0, len(cohort)) and seen[-1] == (len(cohort), len(cohort))
        status = store.score_status(model.version)
        assert status == {"scored": len(cohort), "unscored": 0,
                          "versions": {model.version: len(cohort)}}
        expected = _expected(model, store)
        page = store.scored_studies(model.version, order_by="patient", limit=None)
    assert list(page.columns) == list(PAGE_COLUMNS)
    assert len(page) == len(cohort) and page["score_computed_at"].notna().all()
    got = page.set_index("study_id").loc[expected.index]
    for column in ("category", "tier", "urgency", "headline_source", "headline",
                   "region_of_involvement"):
        assert got[column].tolist() == expected[column].tolist(), column
    for column in ("expected_vas", *(c for c in SCORE_COLUMNS if c.startswith("p_"))):
        np.testing.assert_allclose(got[column].to_numpy(float),
                                   expected[column].to_numpy(float), rtol=1e-9)


def test_filters_counts_orders_and_pages_in_sql(db_url, data_dir, model, cohort):
    with CaseStore() as store:
        store.import_cohort(cohort, source="c.csv", actor="dr-a", model=model)
        full = store.scored_studies(model.version, order_by="board", limit=None)
        version = model.version
        # pages of 7 put together are the whole ordered list, nothing twice
        pages = [store.scored_studies(version, order_by="board", limit=7, offset=o)
                 for o in range(0, len(full), 7)]
        assert pd.concat(pages)["study_id"].tolist() == full["study_id"].tolist()
        assert store.count_studies() == len(full) == len(cohort)
        category = full["category"].dropna().iloc[0]
        wanted = StudyFilter(categories=[category])
        hits = store.scored_studies(version, wanted, limit=None)
        assert set(hits["study_id"]) == set(full.loc[full["category"] == category,
                                                     "study_id"])
        assert store.count_studies(wanted, model_version=version) == len(hits)
        overrides = store.count_studies(StudyFilter(overrides_only=True),
                                        model_version=version)
        assert overrides == int((full["headline_source"] == OVERRIDE).sum())
        day = sorted(full["study_date"])[len(full) // 2]
        recent = store.scored_studies(version, StudyFilter(date_from=day), order_by="recent",
                                      limit=None)
        assert (recent["study_date"] >= day).all()
        assert recent["study_date"].tolist() == sorted(recent["study_date"], reverse=True)
        assert len(recent) == int((full["study_date"] >= day).sum())
        pid = full["patient_id"].iloc[0]
        assert set(store.scored_studies(version, StudyFilter(search=pid.lower()),
                                        limit=None)["patient_id"]) >= {pid}
        with pytest.raises(ValueError, match="give the model version"):
            store.count_studies(wanted)
        with pytest.raises(ValueError, match="order_by 'x'"):
            store.scored_studies(version, order_by="x")
    # board order: most urgent first, a fired override first within an urgency
    rank = {u: i for i, u in enumerate(reversed(URGENCY_ORDER))}
    keys = [(rank.get(u, len(rank)), 0 if h == OVERRIDE else 1)
            for u, h in zip(full["urgency"], full["headline_source"], strict=True)]
    assert keys == sorted(keys)


def test_revision_changes_with_writes_only(db_url, data_dir, model, cohort):
    with CaseStore() as store:
        first = store.store_revision()
        assert store.store_revision() == first
        store.study_counts()
        store.scored_studies(model.version)
        assert store.store_revision() == first
        store.import_cohort(cohort.iloc[:3], source="c.csv", actor="dr-a")
        second = store.store_revision()
        assert second != first
        assert store.study_counts() == {"patients": cohort.iloc[:3]["patient_id"].nunique(),
                                        "studies": 3, "studies_with_image": 0,
                                        "synthetic_studies": 3}
        store.recompute_scores(model)
        assert store.store_revision() not in (first, second)


def test_the_data_actions_are_every_audited_action_but_exports_and_the_board() -> None:
    assert set(DATA_ACTIONS) | set(NON_DATA_ACTIONS) == set(AUDIT_ACTIONS)
    assert not set(DATA_ACTIONS) & set(NON_DATA_ACTIONS)
    assert set(NON_DATA_ACTIONS) == {"export", "board-agenda", "board-note"}


def test_data_revision_moves_with_data_writes_not_board_decisions_or_exports(
        db_url, data_dir, model, cohort):
    """The views of the studies are keyed by the data revision: the board's agenda entries,
    decisions and an export leave it (and the views) as they are; every write to the
    studies or their scores moves it. The store revision moves with every write."""
    day = dt.date(2026, 12, 2)
    with CaseStore() as store:
        store.import_cohort(cohort.iloc[:3], source="c.csv", actor="dr-a")
        data, every = store.data_revision(), store.store_revision()
        study_id = int(store.list_studies()["study_id"].iloc[0])
        store.agenda_add(day, [study_id], actor="chair")
        store.agenda_note(day, study_id, note="SBRT 24 Gy/2", discussed=True, actor="chair")
        store.agenda_remove(day, study_id, actor="chair")
        store.export_csv("dr-a")
        assert store.data_revision() == data
        assert store.store_revision() != every
        store.update_clinical(study_id, {"vas": 2}, actor="dr-a")
        edited = store.data_revision()
        assert edited != data
        store.recompute_scores(model)
        assert store.data_revision() not in (data, edited)


def _unscored_by_anti_join(store: CaseStore, version: str) -> int:
    """The studies that have no score of ``version``, counted one by one (the reference)."""
    from sqlalchemy import exists, func, select

    from core.store.schema import Study, scores

    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Study).where(~exists().where(
            scores.c.study_id == Study.id, scores.c.model_version == version))))


def test_unscored_equals_counting_the_studies_without_a_score(db_url, data_dir, model,
                                                              cohort):
    """``unscored`` is every study less the version's scores (a score names a stored
    study, once per version): through imports with and without the model, an edit
    (its score dropped), deletions of a scored and an unscored study (their scores go
    with them), a replacing import and a recompute, it equals the anti-join; a version
    never scored has every study unscored."""
    with CaseStore() as store:
        def check(expected: int) -> None:
            status = store.score_status(model.version)
            assert status["unscored"] == _unscored_by_anti_join(store, model.version)
            assert status["unscored"] == expected
            assert status["scored"] + status["unscored"] == len(store.list_studies())

        check(0)
        store.import_cohort(cohort.iloc[:10], source="a.csv", actor="dr-a", model=model)
        check(0)
        store.import_cohort(cohort.iloc[10:14], source="b.csv", actor="dr-a")
        check(4)
        ids = store.list_studies().sort_values("study_id")["study_id"].astype(int).tolist()
        store.update_clinical(ids[0], {"vas": 2}, actor="dr-a")
        check(5)
        store.delete_study(ids[0], actor="dr-a")  # unscored
        check(4)
        store.delete_study(ids[1], actor="dr-a")  # scored: its score goes with it
        check(4)
        store.import_cohort(cohort.iloc[2:4], source="again.csv", actor="dr-a",
                            on_duplicate="replace")
        check(6)
        assert store.score_status("never-used")["unscored"] == len(store.list_studies())
        store.recompute_scores(model, missing_only=True)
        check(0)


def test_edits_drop_stale_scores_and_recompute_fills_them(db_url, data_dir, model, cohort):
    with CaseStore() as store:
        store.import_cohort(cohort.iloc[:10], source="c.csv", actor="dr-a", model=model)
        study_id = int(store.list_studies()["study_id"].iloc[0])
        store.update_clinical(study_id, {"vas": 2}, actor="dr-a")
        assert store.score_status(model.version)["unscored"] == 1
        page = store.scored_studies(model.version, StudyFilter(), order_by="patient",
                                    limit=None)
        assert page.loc[page["study_id"] == study_id, "score_computed_at"].isna().all()
        seen: list[tuple[int, int]] = []
        done = store.recompute_scores(model, missing_only=True, batch=4,
                                      progress=lambda d, t: seen.append((d, t)))
        assert done["studies"] == 1 and seen == [(0, 1), (1, 1)]
        assert store.score_status(model.version)["unscored"] == 0
        # an edit with the model writes the new score in the same transaction
        store.update_clinical(study_id, {"vas": 9}, actor="dr-a", model=model)
        assert store.score_status(model.version)["unscored"] == 0
        # a replacing import drops the replaced studies' scores
        store.import_cohort(cohort.iloc[:2], source="again.csv", actor="dr-a",
                            on_duplicate="replace")
        assert store.score_status(model.version)["unscored"] == 2
        # a saved case is scored in its own transaction with the model
        new_id = store.save_case("P-9001", "2024-02-02", clinical={"vas": 6}, actor="dr-a",
                                 model=model)
        row = store.scored_studies(model.version, StudyFilter(patient_id="P-9001"))
        assert row["study_id"].tolist() == [new_id]
        assert row["score_computed_at"].notna().all()
        store.delete_study(new_id, actor="dr-a")
        assert store.score_status(model.version)["versions"][model.version] == 8
