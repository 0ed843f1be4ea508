"""The scored cohort refreshed from the audit log (issue 12, :mod:`core.store.cohort_refresh`):
after saves, edits, deletions and predictions, reading again only the changed patients'
studies gives exactly the full read (rows, order, values, dtypes), on SQLite and
PostgreSQL; whatever it cannot follow study by study (an import, a rescore, a late
entry, another store at the same address, another model version) is read in full."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from core.clinical import BOOLEAN_COLUMNS
from core.store import CaseStore
from core.store.cohort_refresh import CohortSnapshot, _merged
from core.store.schema import AuditEntry

ACTOR = "test"
YES_NO = "prior_radiotherapy"
assert YES_NO in BOOLEAN_COLUMNS


@pytest.fixture
def scored(db_url: str):
    from core.demo import generate_cohort
    from core.model import load_model

    store = CaseStore(db_url)
    store.import_cohort(generate_cohort(12, seed=4), source="t.csv", actor=ACTOR)
    model = load_model()
    store.recompute_scores(model)
    yield store, model
    store.close()


def _same_as_full_read(store: CaseStore, snapshot: CohortSnapshot) -> None:
    full = store.scored_cohort(snapshot.model_version)
    pd.testing.assert_frame_equal(snapshot.frame, full, check_exact=True)


def _refreshed(store: CaseStore, snapshot: CohortSnapshot) -> CohortSnapshot:
    out = store.scored_snapshot(snapshot.model_version, snapshot)
    _same_as_full_read(store, out)
    return out


def _studies(store: CaseStore) -> pd.DataFrame:
    return store.list_studies().sort_values("study_id").reset_index(drop=True)


def test_saves_edits_deletions_and_predictions_are_patched(scored) -> None:
    store, model = scored
    snap = store.scored_snapshot(model.version)
    assert snap.patched == -1 and len(snap.frame) == len(store.list_studies())
    assert store.scored_snapshot(model.version, snap).patched == 0  # nothing changed

    # a new patient, then a second study of an existing patient (scored in the save)
    store.save_case("NEW-001", "2024-05-01", actor=ACTOR, model=model,
                    clinical={"age": 61, "sex": "F", "primary_tumor": "breast", "vas": 7})
    first = _studies(store).iloc[0]
    store.save_case(str(first["patient_id"]), "2025-01-02", actor=ACTOR, model=model,
                    clinical={"vas": 3}, synthetic=True)
    snap = _refreshed(store, snap)
    assert 2 <= snap.patched < len(snap.frame)

    # an edit of the patient's primary tumour changes every study of that patient
    store.update_clinical(int(first["study_id"]), {"primary_tumor": "lung"}, ACTOR,
                          model=model)
    snap = _refreshed(store, snap)
    assert (snap.frame.loc[snap.frame["patient_id"] == first["patient_id"],
                           "primary_tumor"] == "lung").all()

    # an edit without a model leaves the study unscored, as a full read shows it
    other = _studies(store).iloc[5]
    store.update_clinical(int(other["study_id"]), {"vas": 9}, ACTOR)
    snap = _refreshed(store, snap)
    assert pd.isna(snap.frame.loc[snap.frame["study_id"] == other["study_id"],
                                  "category"]).all()

    # a prediction, a study deleted, a patient's only study deleted (patient gone too)
    store.record_prediction(int(first["study_id"]), {"category": "mild",
                            "probabilities": {"mild": 1.0}}, model.version, ACTOR)
    store.delete_study(int(_studies(store).iloc[3]["study_id"]), ACTOR)
    new = _studies(store).query("patient_id == 'NEW-001'")
    store.delete_study(int(new["study_id"].iloc[0]), ACTOR)
    snap = _refreshed(store, snap)
    assert "NEW-001" not in set(snap.frame["patient_id"])
    assert snap.patched >= 0


def test_a_yes_no_column_is_typed_as_a_full_read_types_it(scored) -> None:
    store, model = scored
    for study_id in _studies(store).query(f"{YES_NO}.isna()")["study_id"]:
        store.update_clinical(int(study_id), {YES_NO: False}, ACTOR, model=model)
    snap = store.scored_snapshot(model.version)
    assert snap.frame[YES_NO].dtype == bool  # complete: boolean
    study_id = int(_studies(store)["study_id"].iloc[2])
    store.update_clinical(study_id, {YES_NO: None}, ACTOR, model=model)
    snap = _refreshed(store, snap)
    assert snap.patched >= 1 and snap.frame[YES_NO].dtype == object  # one missing
    store.update_clinical(study_id, {YES_NO: True}, ACTOR, model=model)
    snap = _refreshed(store, snap)
    assert snap.patched >= 1 and snap.frame[YES_NO].dtype == bool  # complete again


def test_what_is_not_one_study_at_a_time_is_read_in_full(scored, tmp_path: Path) -> None:
    from core.demo import generate_cohort

    store, model = scored
    snap = store.scored_snapshot(model.version)
    store.recompute_scores(model)  # a rescore: "scores <version>"
    snap = store.scored_snapshot(model.version, snap)
    assert snap.patched == -1
    extra = generate_cohort(2, seed=8)
    extra["patient_id"] = "IMP-" + extra["patient_id"].astype(str)
    store.import_cohort(extra, source="u.csv", actor=ACTOR)
    snap = store.scored_snapshot(model.version, snap)
    assert snap.patched == -1
    _same_as_full_read(store, snap)
    # another model version's snapshot is not patched
    other = CohortSnapshot(snap.frame, "other-version", snap.position, snap.seen,
                           snap.origin)
    assert store.scored_snapshot(model.version, other).patched == -1


def test_an_entry_committed_late_below_the_position_forces_a_full_read(scored) -> None:
    store, model = scored
    study_id = int(_studies(store)["study_id"].iloc[0])
    store.agenda_add(dt.date(2024, 1, 1), [study_id], actor=ACTOR)  # not a data entry
    store.update_clinical(study_id, {"vas": 2}, ACTOR, model=model)
    snap = store.scored_snapshot(model.version)
    # PostgreSQL can commit an id below one already read: turn the earlier agenda entry
    # into an edit, as if it had committed only now
    with store.engine.begin() as conn:
        late = conn.execute(AuditEntry.__table__.select().where(
            AuditEntry.action == "board-agenda")).first()
        conn.execute(update(AuditEntry).where(AuditEntry.id == late.id).values(
            action="edit", target=f"study {study_id}"))
    assert late.id < snap.position
    assert store.scored_snapshot(model.version, snap).patched == -1


def test_a_store_built_again_at_the_same_address_is_read_in_full(
        scored, db_url: str) -> None:
    store, model = scored
    snap = store.scored_snapshot(model.version)
    moved = CohortSnapshot(snap.frame, snap.model_version, snap.position, snap.seen,
                           (snap.origin[0], dt.datetime(2000, 1, 1)))
    assert store.scored_snapshot(model.version, moved).patched == -1
    assert store.scored_snapshot(model.version, snap).patched == 0


def test_a_snapshot_names_the_patients_changed_since_any_snapshot_of_its_line(
        scored, monkeypatch) -> None:
    """Views made from an earlier snapshot (the surveillance frames) are patched for the
    patients every refresh since replaced: the union over the line, nothing for the
    snapshot itself, ``None`` (make again in full) off the line or beyond its memory."""
    from core.store import cohort_refresh

    store, model = scored
    studies = _studies(store)
    first, second = studies.iloc[0], studies[studies["patient_id"]
                                             != studies["patient_id"].iloc[0]].iloc[0]
    s0 = store.scored_snapshot(model.version)
    assert s0.replaced_since(s0.mark) == frozenset() and s0.history == ()
    store.update_clinical(int(first["study_id"]), {"vas": 1}, ACTOR, model=model)
    s1 = _refreshed(store, s0)
    store.update_clinical(int(second["study_id"]), {"vas": 9}, ACTOR, model=model)
    s2 = _refreshed(store, s1)
    s3 = _refreshed(store, s2)  # nothing changed in between
    both = {str(first["patient_id"]), str(second["patient_id"])}
    assert s3.replaced_since(s0.mark) == both
    assert s3.replaced_since(s1.mark) == {str(second["patient_id"])}
    assert s3.replaced_since(s2.mark) == s3.replaced_since(s3.mark) == frozenset()
    # a full read starts a new line; another store's snapshot at the same position is not
    # of the line
    full = store.scored_snapshot(model.version)
    assert full.patched == -1 and full.replaced_since(s0.mark) is None
    assert s3.replaced_since((("elsewhere",), s0.position, s0.seen)) is None
    # a line remembers HISTORY_STEPS refreshes
    monkeypatch.setattr(cohort_refresh, "HISTORY_STEPS", 2)
    store.update_clinical(int(first["study_id"]), {"vas": 2}, ACTOR, model=model)
    s4 = _refreshed(store, s3)
    assert len(s4.history) == 2
    assert s4.replaced_since(s3.mark) == {str(first["patient_id"])}
    assert s4.replaced_since(s2.mark) == {str(first["patient_id"])}
    assert s4.replaced_since(s1.mark) is None


@settings(max_examples=150, deadline=None)
@given(ids=st.lists(st.integers(1, 400), max_size=40, unique=True),
       drop_bits=st.lists(st.booleans(), min_size=40, max_size=40),
       fresh_ids=st.lists(st.integers(1, 450), max_size=12, unique=True))
def test_merged_rows_equal_a_stable_sort_of_the_kept_and_fresh_rows(
        ids: list[int], drop_bits: list[bool], fresh_ids: list[int]) -> None:
    """``_merged`` places the fresh rows by binary search; the reference is the stable
    sort by study id of the kept rows followed by the fresh ones (fresh rows given out
    of order, empty parts, ids equal to a kept one)."""
    def frame(study_ids: list[int], tag: str) -> pd.DataFrame:
        return pd.DataFrame({"study_id": np.asarray(study_ids, dtype=np.int64),
                             "tag": pd.Series([f"{tag}{i}" for i in study_ids], dtype=object)})

    old, fresh = frame(sorted(ids), "old"), frame(fresh_ids, "new")
    drop = np.asarray(drop_bits[:len(old)], dtype=bool)
    parts = [part for part in (old[~drop], fresh) if len(part)]
    expected = (pd.concat(parts, ignore_index=True) if parts else old[~drop]).sort_values(
        "study_id", kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(_merged(old, fresh, drop), expected)
