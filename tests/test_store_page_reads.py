"""The store's page reads (issue 12): the whole cohort with its stored scores in one
query, typed as ``list_studies`` types it; the scores of a few studies; the studies a
version could not assess; the date span and the stored values of a score column."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.store import SCORE_COLUMNS, CaseStore
from tests.conftest import store_env_cleared


@pytest.fixture(scope="module")
def scored_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CaseStore, str]]:
    from core.demo import generate_cohort
    from core.model import load_model

    folder = tmp_path_factory.mktemp("page_reads")
    with store_env_cleared():
        store = CaseStore(f"sqlite:///{folder / 'cases.sqlite'}", data_dir=folder)
    store.import_cohort(generate_cohort(15, seed=9), source="t.csv", actor="test")
    model = load_model()
    ids = store.list_studies()["study_id"].astype(int).tolist()
    store.recompute_scores(model, study_ids=ids[:-3])  # three studies left unscored
    yield store, model.version
    store.close()


def test_scored_cohort_is_list_studies_plus_the_stored_scores(
        scored_store: tuple[CaseStore, str]) -> None:
    store, version = scored_store
    cohort = store.scored_cohort(version)
    listed = store.list_studies().sort_values("study_id").reset_index(drop=True)
    assert list(cohort["study_id"]) == list(listed["study_id"])
    shared = [c for c in listed.columns if c in cohort.columns]
    assert len(shared) >= 30
    pd.testing.assert_frame_equal(cohort[shared], listed[shared])
    scores = store.scores_of(version, cohort["study_id"].tolist())
    assert len(scores) == len(cohort) - 3
    merged = cohort.merge(scores, on="study_id", suffixes=("", "_stored"))
    for column in SCORE_COLUMNS:
        pd.testing.assert_series_equal(merged[column], merged[f"{column}_stored"],
                                       check_names=False)
    unscored = cohort[~cohort["study_id"].isin(scores["study_id"])]
    assert unscored["category"].isna().all() and unscored["expected_vas"].isna().all()
    assert cohort["category"].dtype == object and cohort["expected_vas"].dtype == "float64"
    assert store.scored_cohort("no-such-version")["category"].isna().all()


def test_scores_of_leaves_out_unknown_studies_and_keeps_types(
        scored_store: tuple[CaseStore, str]) -> None:
    store, version = scored_store
    first = int(store.scored_cohort(version)["study_id"].iloc[0])
    frame = store.scores_of(version, [first, first, 10**9])
    assert list(frame["study_id"]) == [first]
    assert list(frame.columns) == ["study_id", *SCORE_COLUMNS]
    empty = store.scores_of(version, [])
    assert empty.empty and list(empty.columns) == ["study_id", *SCORE_COLUMNS]


def test_errors_dates_and_values(scored_store: tuple[CaseStore, str], tmp_path: Path) -> None:
    store, version = scored_store
    listed = store.list_studies()
    low, high = store.study_date_range()
    assert (low, high) == (listed["study_date"].min().date(), listed["study_date"].max().date())
    assert isinstance(low, dt.date)
    cohort = store.scored_cohort(version)
    assert store.score_values(version, "tier") == sorted(set(cohort["tier"].dropna()))
    with pytest.raises(ValueError, match="score column 'headline'"):
        store.score_values(version, "headline")
    assert store.assessment_errors(version).empty
    # A stored assessment error is listed with its patient.
    bad = cohort.iloc[[0]].copy()
    bad["assessment_error"] = "involved_levels 45 is above 24."
    store.record_assessments(bad, version)
    errors = store.assessment_errors(version)
    assert list(errors["study_id"]) == [int(bad["study_id"].iloc[0])]
    assert list(errors["patient_id"]) == [bad["patient_id"].iloc[0]]
    assert list(errors["assessment_error"]) == ["involved_levels 45 is above 24."]
    with store_env_cleared():
        empty = CaseStore(f"sqlite:///{tmp_path / 'empty.sqlite'}", data_dir=tmp_path)
    assert empty.study_date_range() == (None, None)
    assert empty.scored_cohort(version).empty
    empty.close()
