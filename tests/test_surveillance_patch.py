"""The cohort's surveillance with a few patients computed again
(:mod:`core.surveillance.cohort`, issue 12): after saves, edits and deletions, replacing
the patients the scored cohort's refresh read again gives exactly what computing the
whole cohort again gives (timeline, level changes, alerts: rows, order, values, dtypes),
on a demo store with per-level measurements."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.store import CaseStore
from core.surveillance.cohort import (
    CohortSurveillance,
    cohort_surveillance,
    with_patients_replaced,
)
from tests.conftest import store_env_cleared
from tests.test_store_surveillance import CLINICAL, FIRST, SECOND, level, metrics

ACTOR = "test"
LEVELS_PATIENT = "SV-LEVELS-1"
THIRD = [level("T12", "thoracic", 0.36, 1), level("L1", "lumbar", 0.13, 1),
         level("L2", "lumbar", 0.0, 0)]


@pytest.fixture
def demo(tmp_path: Path):
    from core.demo import build_demo_store
    from core.model import load_model

    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    with store_env_cleared():
        build_demo_store(url, n_patients=10, data_dir=tmp_path)
        store = CaseStore(url, data_dir=tmp_path)
    for date, levels, vas in (("2024-01-10", FIRST, 4), ("2024-04-10", SECOND, 8),
                              ("2024-07-10", THIRD, 8)):  # three studies measured by level
        store.save_case(LEVELS_PATIENT, date, clinical={**CLINICAL, "vas": vas},
                        metrics=metrics(levels), synthetic=True, actor=ACTOR)
    model = load_model()
    store.recompute_scores(model, missing_only=True)
    yield store, model
    store.close()


def _full(store: CaseStore, frame: pd.DataFrame) -> CohortSurveillance:
    return cohort_surveillance(frame, store.cohort_levels(min_studies=2))


def _patched(store: CaseStore, previous: CohortSurveillance, snapshot,
             patients: frozenset[str] | None = None) -> CohortSurveillance:
    patients = sorted(snapshot.replaced if patients is None else patients)
    rows = snapshot.frame[snapshot.frame["patient_id"].isin(patients)]
    part = cohort_surveillance(rows, store.cohort_levels(min_studies=2, patient_ids=patients))
    return with_patients_replaced(previous, part, patients)


def _assert_same(got: CohortSurveillance, want: CohortSurveillance) -> None:
    for name in ("timeline", "changes", "alerts"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name),
                                      check_exact=True, obj=name)


def test_replacing_the_changed_patients_equals_computing_everything_again(demo) -> None:
    store, model = demo
    snap = store.scored_snapshot(model.version)
    current = _full(store, snap.frame)
    assert len(current.changes) and len(current.alerts)  # levels compared, alerts fired
    with_levels = LEVELS_PATIENT
    studies = store.list_studies().sort_values("study_id").reset_index(drop=True)
    mine = studies[studies["patient_id"] == with_levels]
    others = studies[studies["patient_id"] != with_levels]

    def write_then_check(write) -> None:
        nonlocal snap, current
        write()
        snap = store.scored_snapshot(model.version, snap)
        assert snap.base >= 0 and snap.replaced, snap.patched
        current = _patched(store, current, snap)
        _assert_same(current, _full(store, snap.frame))

    # pain far above the expected VAS at a study with per-level rows, then back down
    study = int(mine["study_id"].iloc[-1])
    write_then_check(lambda: store.update_clinical(study, {"vas": 10}, ACTOR, model=model))
    write_then_check(lambda: store.update_clinical(study, {"vas": 0}, ACTOR, model=model))
    # a new deficit and a fracture on another patient; a later study for a third one
    other = int(others["study_id"].iloc[0])
    write_then_check(lambda: store.update_clinical(
        other, {"neurologic_deficit": "new_or_progressive", "pathologic_fracture": True},
        ACTOR, model=model))
    third = others.iloc[-1]
    write_then_check(lambda: store.save_case(
        str(third["patient_id"]), "2025-06-01", clinical={"vas": 9}, actor=ACTOR,
        model=model, synthetic=bool(third["synthetic"])))
    # a study in the middle of the patient's series deleted: the next one compares anew
    before = len(current.changes)
    write_then_check(lambda: store.delete_study(int(mine["study_id"].iloc[1]), ACTOR))
    assert len(current.changes) != before


def test_nothing_changed_and_no_patient_leave_the_frames_as_they_were(demo) -> None:
    store, model = demo
    snap = store.scored_snapshot(model.version)
    current = _full(store, snap.frame)
    same = with_patients_replaced(current, _full(store, snap.frame.iloc[:0]), [])
    _assert_same(same, current)


def test_after_several_refreshes_the_patients_of_every_one_are_replaced(demo) -> None:
    """The cohort page can refresh the scored cohort more than once between two visits
    of the surveillance page: the patients of every refresh since are computed again."""
    store, model = demo
    s0 = store.scored_snapshot(model.version)
    before = _full(store, s0.frame)
    studies = store.list_studies().sort_values("study_id").reset_index(drop=True)
    mine = int(studies.loc[studies["patient_id"] == LEVELS_PATIENT, "study_id"].iloc[-1])
    other = studies[studies["patient_id"] != LEVELS_PATIENT].iloc[0]
    store.update_clinical(mine, {"vas": 10}, ACTOR, model=model)
    s1 = store.scored_snapshot(model.version, s0)
    store.update_clinical(int(other["study_id"]), {"neurologic_deficit": "new_or_progressive"},
                          ACTOR, model=model)
    s2 = store.scored_snapshot(model.version, s1)
    changed = s2.replaced_since(s0.mark)
    assert changed == {LEVELS_PATIENT, str(other["patient_id"])}
    want = _full(store, s2.frame)
    _assert_same(_patched(store, before, s2, changed), want)
    # the last refresh's patients alone would keep the first edit's stale alerts
    with pytest.raises(AssertionError):
        _assert_same(_patched(store, before, s2), want)


@settings(max_examples=150, deadline=None)
@given(old_rows=st.lists(st.tuples(st.sampled_from("ABCDEFG"), st.integers(0, 9)),
                         max_size=30),
       new_rows=st.lists(st.tuples(st.sampled_from("ABCDEFGH"), st.integers(0, 9)),
                         max_size=12),
       also_removed=st.sets(st.sampled_from("ABCDEFGH"), max_size=3))
def test_a_splice_equals_sorting_the_kept_and_new_rows(old_rows, new_rows,
                                                       also_removed) -> None:
    """Splicing (each frame ordered by patient first; the new rows are the replaced
    patients' rows) equals a stable sort by patient of the kept rows followed by the new
    rows: patients new to the frame, removed without new rows, first, last, repeated."""
    from core.surveillance.cohort import _spliced

    def frame(rows: list[tuple[str, int]], tag: str) -> pd.DataFrame:
        out = pd.DataFrame(rows, columns=["patient_id", "value"]).astype(
            {"patient_id": "str", "value": "int64"})
        out["source"] = tag
        return out.sort_values("patient_id", kind="stable", ignore_index=True)

    old, new = frame(old_rows, "old"), frame(new_rows, "new")
    patients = set(new["patient_id"]) | also_removed
    kept = old[~old["patient_id"].isin(list(patients))]
    want = pd.concat([kept, new], ignore_index=True).sort_values(
        "patient_id", kind="stable", ignore_index=True)
    if not len(new):
        want = kept.reset_index(drop=True)
    elif not len(old):
        want = new.reset_index(drop=True)
    pd.testing.assert_frame_equal(_spliced(old, new, patients), want)


def test_every_surveillance_frame_is_ordered_by_patient_first() -> None:
    """The splice's premise: the timeline, the level changes and the alerts are each
    sorted by patient first."""
    from core.surveillance.alerts import ALERT_ORDER
    from core.surveillance.changes import LEVEL_CHANGE_ORDER, TIMELINE_ORDER

    assert TIMELINE_ORDER[0] == LEVEL_CHANGE_ORDER[0] == ALERT_ORDER[0] == "patient_id"
