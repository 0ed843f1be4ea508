"""core.surveillance: the timeline, per-level changes, alerts at and around their
thresholds, and the worklist."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core import surveillance as sv

T = sv.DEFAULT_THRESHOLDS


def study(patient: str, study_id: int, date: str, **values: object) -> dict:
    base = {"patient_id": patient, "study_id": study_id, "study_date": date,
            "synthetic": True, "lesion_count": 2, "lesion_count_cervical": 0,
            "lesion_count_thoracic": 2, "lesion_count_lumbar": 0, "lesion_count_sacral": 0,
            "involved_levels": 2, "high_intensity_ratio": 0.08,
            "max_level_high_intensity_ratio": 0.30, "vas": 5.0, "expected_vas": 4.0,
            "pathologic_fracture": False, "neurologic_deficit": "none"}
    return {**base, **values}


def codes_by_study(alerts: pd.DataFrame) -> dict[int, list[str]]:
    return {int(k): list(v) for k, v in alerts.groupby("study_id")["code"]}


# ---------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(("before", "after", "fires"), [
    (0.08, 0.10, True),      # exactly 2 points and exactly 25 %
    (0.08, 0.0999, False),   # 1.99 points
    (0.10, 0.12, False),     # 2 points but only 20 %
    (0.10, 0.1250, True),    # 2.5 points and 25 %
    (0.0, 0.02, True),       # from none: any relative rise; 2 points
    (0.0, 0.0199, False),
    (0.10, 0.05, False),     # a fall
    (math.nan, 0.5, False),
    (0.1, math.nan, False),
])
def test_overall_hi_rise_needs_both_parts_and_fires_at_the_threshold(
        before: float, after: float, fires: bool) -> None:
    got = sv.rise_meets(np.array([before]), np.array([after]), T.hi_rise_points,
                        T.hi_rise_relative)
    assert bool(got[0]) is fires


def test_default_thresholds_are_the_stated_ones() -> None:
    assert (T.hi_rise_points, T.hi_rise_relative) == (0.02, 0.25)
    assert (T.level_hi_rise_points, T.level_hi_rise_relative) == (0.10, 0.25)
    assert T.pain_above_expected_vas == 2.0
    rules = {r.code: r.rule for r in sv.alert_rules()}
    assert "2 percentage points" in rules["hi_rise"] and "25 %" in rules["hi_rise"]
    assert "10 percentage points" in rules["level_hi_rise"]
    assert "2 points" in rules["pain_above_expected"]
    custom = {r.code: r.rule for r in sv.alert_rules(sv.Thresholds(pain_above_expected_vas=3))}
    assert "3 points" in custom["pain_above_expected"]


@pytest.mark.parametrize("bad", [{"hi_rise_points": -0.1}, {"hi_rise_points": 2.0},
                                 {"pain_above_expected_vas": math.nan},
                                 {"hi_rise_relative": True}])
def test_thresholds_refuse_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError, match="threshold"):
        sv.Thresholds(**bad)


# ------------------------------------------------------------------------- alerts


def three_studies() -> pd.DataFrame:
    return pd.DataFrame([
        study("P1", 1, "2024-01-10"),
        # every alert exactly at its threshold
        study("P1", 2, "2024-04-10", lesion_count=3, lesion_count_lumbar=1, involved_levels=3,
              high_intensity_ratio=0.10, max_level_high_intensity_ratio=0.40, vas=7.0,
              expected_vas=5.0, pathologic_fracture=True, neurologic_deficit="stable"),
        # every alert just below its threshold, but a new or progressive deficit
        study("P1", 3, "2024-07-10", lesion_count=3, lesion_count_lumbar=1, involved_levels=3,
              high_intensity_ratio=0.1199, max_level_high_intensity_ratio=0.4999, vas=6.9,
              expected_vas=4.91, pathologic_fracture=True,
              neurologic_deficit="new_or_progressive"),
    ])


def test_alerts_fire_at_their_thresholds_and_not_just_below() -> None:
    tl = sv.timeline(three_studies())
    got = codes_by_study(sv.study_alerts(tl))
    assert 1 not in got  # first study: gap 1, no deficit
    assert got[2] == ["new_deficit", "new_fracture", "pain_above_expected", "new_lumbar",
                      "new_level", "hi_rise", "level_hi_rise"]
    assert got[3] == ["new_deficit"]


def test_alert_sentences_are_plain_and_state_their_numbers() -> None:
    tl = sv.timeline(three_studies())
    alerts = sv.study_alerts(tl).set_index(["study_id", "code"])["sentence"]
    assert alerts[(2, "hi_rise")] == ("Overall HI ratio rose from 8.0% to 10.0% (+2.0 "
                                      "percentage points, +25%; threshold 2 points and 25 %).")
    assert "Recorded VAS 7 is 2.0 points above the model's expected VAS 5.0" in alerts[
        (2, "pain_above_expected")]
    assert "1 lumbar lesion(s) now, none at the previous study (2024-01-10)" in alerts[
        (2, "new_lumbar")]
    assert alerts[(2, "new_level")].startswith("Involved levels 2 \u2192 3. First lesion in "
                                               "the lumbar region.")
    assert "Worst-level HI ratio rose from 30.0% to 40.0%" in alerts[(2, "level_hi_rise")]
    assert "the previous study (2024-01-10) recorded none" in alerts[(2, "new_fracture")]
    assert "same-day MSCC" in alerts[(3, "new_deficit")]
    assert "recorded (as stable) where the previous study recorded none" in alerts[
        (2, "new_deficit")]


def test_missing_values_never_fire() -> None:
    frame = pd.DataFrame([
        study("P1", 1, "2024-01-10", pathologic_fracture=None, high_intensity_ratio=None,
              lesion_count_lumbar=None, involved_levels=None),
        study("P1", 2, "2024-04-10", pathologic_fracture=True, high_intensity_ratio=0.5,
              lesion_count_lumbar=3, involved_levels=None, vas=None,
              neurologic_deficit=None),
    ])
    assert sv.study_alerts(sv.timeline(frame)).empty


def test_first_study_fires_only_what_needs_no_previous_study() -> None:
    frame = pd.DataFrame([study("P1", 1, "2024-01-10", vas=8.0, expected_vas=5.5,
                                neurologic_deficit="new_or_progressive",
                                pathologic_fracture=True, lesion_count_lumbar=2)])
    assert codes_by_study(sv.study_alerts(sv.timeline(frame))) == {
        1: ["new_deficit", "pain_above_expected"]}


def test_pain_alert_uses_the_stated_threshold() -> None:
    frame = pd.DataFrame([study("P1", 1, "2024-01-10", vas=7.0, expected_vas=4.5)])
    tl = sv.timeline(frame)
    assert codes_by_study(sv.study_alerts(tl)) == {1: ["pain_above_expected"]}
    assert sv.study_alerts(tl, thresholds=sv.Thresholds(pain_above_expected_vas=2.6)).empty


def test_timeline_orders_studies_and_puts_the_previous_one_beside() -> None:
    frame = three_studies().iloc[[2, 0, 1]]
    tl = sv.timeline(frame)
    assert list(tl["study_id"]) == [1, 2, 3]
    assert list(tl["study_number"]) == [1, 2, 3] and set(tl["n_studies"]) == {3}
    assert pd.isna(tl.loc[0, "prev_study_id"]) and tl.loc[2, "prev_study_id"] == 2
    assert tl.loc[1, "days_since_first"] == 91
    assert tl.loc[1, "hi_change_points"] == pytest.approx(0.02)
    assert tl.loc[1, "pain_gap"] == pytest.approx(2.0)


# ------------------------------------------------------------------- level changes


def levels_frame() -> pd.DataFrame:
    rows = [
        (1, "T12", "thoracic", 0.20, 1), (1, "L1", "lumbar", 0.0, 0), (1, "L2", "lumbar", 0.0, 0),
        (1, "T11", "thoracic", 0.05, 1),
        (2, "T12", "thoracic", 0.31, 1), (2, "L1", "lumbar", 0.05, 1), (2, "L2", "lumbar", 0.0, 0),
        (2, "L3", "lumbar", 0.0, 0), (2, "T11", "thoracic", 0.0, 0),
    ]
    return pd.DataFrame(rows, columns=["study_id", "level", "region", "high_intensity_ratio",
                                       "lesion_count"])


def test_level_changes_name_each_level_status() -> None:
    tl = sv.timeline(pd.DataFrame([study("P1", 1, "2024-01-10"),
                                   study("P1", 2, "2024-03-01", lesion_count_lumbar=1)]))
    changes = sv.level_changes(levels_frame(), tl)
    status = dict(zip(changes["level"], changes["status"], strict=True))
    assert status == {"T11": "resolved", "T12": "persisting", "L1": "new", "L2": "uninvolved",
                      "L3": "not measured before"}
    assert list(changes["level"]) == ["T11", "T12", "L1", "L2", "L3"]  # craniocaudal
    rise = dict(zip(changes["level"], changes["hi_rise"], strict=True))
    assert rise["T12"] and not rise["L1"] and not rise["T11"]  # L1 +5 points < 10
    t12 = changes[changes["level"] == "T12"].iloc[0]
    assert t12["hi_change_points"] == pytest.approx(0.11)
    assert t12["hi_change_relative"] == pytest.approx(0.55)


def test_alerts_name_levels_when_both_studies_have_them() -> None:
    tl = sv.timeline(pd.DataFrame([study("P1", 1, "2024-01-10"),
                                   study("P1", 2, "2024-03-01", lesion_count_lumbar=1,
                                         max_level_high_intensity_ratio=0.31)]))
    changes = sv.level_changes(levels_frame(), tl)
    alerts = sv.study_alerts(tl, changes).set_index("code")["sentence"]
    assert alerts["new_level"] == "New involved level(s): L1 (involved levels 2 \u2192 2)."
    assert "\u2014 new: L1." in alerts["new_lumbar"]
    assert alerts["level_hi_rise"].startswith("HI ratio rose at T12 (20.0% \u2192 31.0%)")


def test_level_changes_need_levels_in_both_studies() -> None:
    tl = sv.timeline(pd.DataFrame([study("P1", 1, "2024-01-10"), study("P1", 2, "2024-03-01")]))
    only_second = levels_frame()[lambda f: f["study_id"] == 2]
    assert sv.level_changes(only_second, tl).empty
    assert list(sv.level_changes(only_second, tl).columns) == list(sv.LEVEL_CHANGE_COLUMNS)


def test_region_changes_of_a_study_without_levels() -> None:
    tl = sv.timeline(three_studies())
    regions = sv.region_changes(tl.iloc[1]).set_index("region")
    assert regions.loc["lumbar", "before"] == 0 and regions.loc["lumbar", "after"] == 1
    assert regions.loc["lumbar", "change"] == 1 and regions.loc["thoracic", "change"] == 0


# ----------------------------------------------------------------------- worklist


def cohort() -> pd.DataFrame:
    return pd.concat([
        three_studies(),
        pd.DataFrame([study("P2", 4, "2024-02-01"),
                      study("P2", 5, "2024-05-01", high_intensity_ratio=0.2),
                      study("P3", 6, "2024-02-01", vas=9.0, expected_vas=5.0),
                      study("P3", 7, "2024-06-01"),
                      study("Q4", 8, "2024-02-01", synthetic=False)]),
    ], ignore_index=True)


def test_worklist_latest_and_any_study() -> None:
    tl = sv.timeline(cohort())
    alerts = sv.study_alerts(tl)
    latest = sv.worklist(alerts, tl)
    assert list(latest["patient_id"]) == ["P1", "P2"]  # urgent first; P3 fired earlier only
    assert latest.loc[0, "priority"] == "urgent" and latest.loc[1, "priority"] == "routine"
    assert latest.loc[0, "alerts"] == "New or progressive neurologic deficit"
    assert bool(latest.loc[1, "has_hi_rise"]) and not bool(latest.loc[1, "has_new_deficit"])
    every = sv.worklist(alerts, tl, scope="any")
    assert list(every["patient_id"]) == ["P1", "P3", "P2"]  # soon before routine
    assert every.loc[0, "n_alerts"] == 8
    with pytest.raises(ValueError, match="scope"):
        sv.worklist(alerts, tl, scope="all")


def test_worklist_filters_and_pages() -> None:
    tl = sv.timeline(cohort())
    frame = sv.worklist(sv.study_alerts(tl), tl, scope="any")
    assert list(sv.filter_worklist(frame, codes=("hi_rise",))["patient_id"]) == ["P1", "P2"]
    assert list(sv.filter_worklist(frame, priorities=("soon",))["patient_id"]) == ["P3"]
    assert list(sv.filter_worklist(frame, search="p3")["patient_id"]) == ["P3"]
    assert sv.filter_worklist(frame, data="site").empty
    with pytest.raises(ValueError, match="alert code"):
        sv.filter_worklist(frame, codes=("bogus",))
    rows, page, n_pages = sv.page_of(frame, 2, 2)
    assert (list(rows["patient_id"]), page, n_pages) == (["P2"], 2, 2)
    rows, page, _ = sv.page_of(frame, 9, 2)
    assert page == 2 and len(rows) == 1
    assert sv.page_of(frame.iloc[0:0], 1, 20)[1:] == (1, 1)
    with pytest.raises(ValueError, match="page size"):
        sv.page_of(frame, 1, 0)


def test_patient_surveillance_is_one_patient() -> None:
    ps = sv.patient_surveillance(three_studies(), levels_frame().iloc[0:0])
    assert ps.patient_id == "P1" and len(ps.timeline) == 3
    assert list(ps.latest_alerts["code"]) == ["new_deficit"]
    with pytest.raises(ValueError, match="one patient"):
        sv.patient_surveillance(cohort())
