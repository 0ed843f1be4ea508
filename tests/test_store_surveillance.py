"""core.store.surveillance: per-patient / per-level reads over time and the indexes their
SQLite query plans use; the report's trend section built from them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.dialects import sqlite

from core.assess import assess_frame
from core.model import load_model
from core.report import (
    SECTIONS,
    TREND_SECTION,
    build_document,
    build_report_html,
    build_report_pdf,
    trend_context,
)
from core.store import LEVEL_HISTORY_COLUMNS, STUDY_COUNT_COLUMNS, CaseStore
from core.store import surveillance as q
from tests.test_report import make_context

CLINICAL = {"age": 60, "sex": "F", "primary_tumor": "breast", "vas": 5, "ecog": 1,
            "analgesic_step": 1, "bone_modifying_agent": False, "prior_radiotherapy": False,
            "pathologic_fracture": False, "neurologic_deficit": "none"}


def level(name: str, region: str, ratio: float, lesions: int, volume: float = 30.0) -> dict:
    return {"level": name, "region": region, "vertebra_volume_ml": volume,
            "high_intensity_volume_ml": ratio * volume, "high_intensity_ratio": ratio,
            "lesion_count": lesions}


def metrics(levels: list[dict]) -> dict:
    by_region = {r: sum(lv["lesion_count"] for lv in levels if lv["region"] == r)
                 for r in ("cervical", "thoracic", "lumbar", "sacral")}
    volume = sum(lv["vertebra_volume_ml"] for lv in levels)
    hi = sum(lv["high_intensity_volume_ml"] for lv in levels)
    return {"levels": levels, "lesion_count": sum(by_region.values()),
            "lesion_count_by_region": by_region,
            "involved_levels": [lv["level"] for lv in levels if lv["lesion_count"] > 0],
            "high_intensity_ratio": hi / volume, "vertebra_volume_ml": volume,
            "high_intensity_volume_ml": hi,
            "max_level_high_intensity_ratio": max(lv["high_intensity_ratio"] for lv in levels)}


FIRST = [level("T12", "thoracic", 0.20, 1), level("L1", "lumbar", 0.0, 0),
         level("L2", "lumbar", 0.0, 0)]
SECOND = [level("T12", "thoracic", 0.35, 1), level("L1", "lumbar", 0.12, 1),
          level("L2", "lumbar", 0.0, 0)]


@pytest.fixture()
def store(data_dir: Path):
    with CaseStore() as s:
        s.save_case("SV-1", "2024-01-10", clinical=CLINICAL, metrics=metrics(FIRST),
                    actor="test")
        s.save_case("SV-1", "2024-04-10", clinical={**CLINICAL, "vas": 8},
                    metrics=metrics(SECOND), actor="test")
        s.save_case("SV-2", "2024-02-01", clinical=CLINICAL, metrics=metrics(FIRST),
                    actor="test")
        yield s


def test_patient_levels_over_time(store: CaseStore) -> None:
    levels = store.patient_levels("SV-1")
    assert list(levels.columns) == list(LEVEL_HISTORY_COLUMNS)
    assert len(levels) == 6 and levels["study_date"].is_monotonic_increasing
    assert list(levels["level"][:3]) == ["T12", "L1", "L2"]  # craniocaudal within a study
    assert levels["high_intensity_ratio"].iloc[3] == pytest.approx(0.35)
    assert store.patient_levels("nobody").empty


def test_cohort_levels_only_for_patients_with_several_studies(store: CaseStore) -> None:
    levels = store.cohort_levels(min_studies=2)
    assert set(levels["patient_id"]) == {"SV-1"}
    assert set(store.cohort_levels(min_studies=1)["patient_id"]) == {"SV-1", "SV-2"}
    assert store.cohort_levels(min_studies=2, synthetic=True).empty
    with pytest.raises(ValueError, match="min_studies"):
        store.cohort_levels(min_studies=0)


def test_study_counts(store: CaseStore) -> None:
    counts = store.patient_study_counts()
    assert list(counts.columns) == list(STUDY_COUNT_COLUMNS)
    row = counts.set_index("patient_id").loc["SV-1"]
    assert row["n_studies"] == 2 and str(row["last_study_date"].date()) == "2024-04-10"


def plan(store: CaseStore, query) -> str:
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
    return "\n".join(str(r[-1]) for r in rows)


def test_surveillance_queries_use_the_indexes(store: CaseStore) -> None:
    patient = plan(store, q.patient_levels_query("SV-1"))
    assert "USING COVERING INDEX ix_patients_patient_id (patient_id=?)" in patient
    assert "SEARCH studies USING COVERING INDEX sqlite_autoindex_studies_1 (patient_pk=?)" \
        in patient  # uq_patient_date (patient_pk, study_date)
    assert "SEARCH level_features USING INDEX" in patient and "(study_id=?)" in patient
    cohort = plan(store, q.cohort_levels_query())
    assert "SEARCH level_features USING INDEX" in cohort
    for text in (patient, cohort, plan(store, q.study_counts_query())):
        # never a full read of a table (a SCAN only of an index that covers the query)
        scans = [line for line in text.splitlines() if line.startswith("SCAN ")]
        assert all(" USING " in line and "INDEX" in line for line in scans), text


# ------------------------------------------------------------------- report trend


def test_trend_context_stops_at_the_reported_study(store: CaseStore) -> None:
    studies = assess_frame(load_model(), store.list_studies(patient_id="SV-1"))
    first, second = (int(s) for s in studies["study_id"])
    trend = trend_context(studies, second, levels=store.patient_levels("SV-1"))
    assert [s["current"] for s in trend["studies"]] == [False, True]
    assert trend["studies"][1]["vas"] == 8 and trend["studies"][1]["alerts"] >= 2
    titles = {a["title"] for a in trend["alerts"]}
    assert {"New lumbar involvement", "New involved level", "HI ratio rise (one level)"} <= titles
    assert any("L1" in a["sentence"] for a in trend["alerts"])
    early = trend_context(studies, first)
    assert len(early["studies"]) == 1 and early["alerts"] == []
    assert trend_context(studies, 999_999)["studies"] == []


def test_report_gains_the_trend_only_with_more_than_one_study(store: CaseStore) -> None:
    studies = assess_frame(load_model(), store.list_studies(patient_id="SV-1"))
    trend = trend_context(studies, int(studies["study_id"].iloc[-1]),
                          levels=store.patient_levels("SV-1"))
    ctx = make_context(trend=trend)
    ids = [s.id for s in build_document(ctx).sections]
    assert ids.index(TREND_SECTION[0]) == ids.index("measurements") + 1
    assert set(ids) == {sid for sid, _ in SECTIONS} | {TREND_SECTION[0]}
    html = build_report_html(ctx)
    assert f'<section id="{TREND_SECTION[0]}">' in html
    assert "2024-04-10 (this report)" in html and "New lumbar involvement" in html
    assert "2 percentage points" in html
    pdf = " ".join(p.extract_text() or "" for p in PdfReader(
        io.BytesIO(build_report_pdf(ctx))).pages)
    assert "Trend across studies" in pdf
    single = make_context(trend=trend_context(studies, int(studies["study_id"].iloc[0])))
    assert TREND_SECTION[0] not in [s.id for s in build_document(single).sections]
    assert TREND_SECTION[0] not in [s.id for s in build_document(make_context()).sections]
    with pytest.raises(ValueError, match="trend"):
        make_context(trend=["not", "a", "dict"])
