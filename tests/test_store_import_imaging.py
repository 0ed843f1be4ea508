"""``CaseStore.import_imaging``: imaging-only rows (the ``batch --db`` import), all or
nothing, clinical values kept."""

from __future__ import annotations

import pandas as pd
import pytest

from core.clinical import DEFAULT_PRIMARY_TUMOR
from core.store import CaseStore


def _rows(*rows: dict) -> pd.DataFrame:
    base = {"lesion_count": 2, "lesion_count_cervical": 0, "lesion_count_thoracic": 1,
            "lesion_count_lumbar": 1, "lesion_count_sacral": 0, "involved_levels": 2,
            "high_intensity_ratio": 0.05, "max_level_high_intensity_ratio": 0.2}
    return pd.DataFrame([{**base, **r} for r in rows])


@pytest.fixture()
def store(data_dir):
    with CaseStore() as s:
        yield s


def test_new_patients_and_studies(store):
    summary = store.import_imaging(
        _rows({"patient_id": "B1", "study_date": "2024-01-02"},
              {"patient_id": "B1", "study_date": "2024-02-02", "lesion_count": 3,
               "lesion_count_sacral": 1},
              {"patient_id": "B2", "study_date": "2023-05-06"}),
        source="manifest.csv", actor="research")
    assert summary == {"source": "manifest.csv", "rows": 3, "patients_added": 2,
                       "studies_added": 3, "studies_replaced": 0}
    listed = store.list_studies()
    assert list(listed["patient_id"]) == ["B1", "B1", "B2"]
    assert list(listed["lesion_count"]) == [2, 3, 2]
    assert listed["vas"].isna().all() and listed["sex"].isna().all()
    assert set(listed["primary_tumor"]) == {DEFAULT_PRIMARY_TUMOR}
    assert not listed["synthetic"].any()
    record = store.get_study(int(listed["study_id"].iloc[0]))
    assert record.source == "manifest.csv" and record.imaging["high_intensity_ratio"] == 0.05
    entry = store.audit_log().iloc[-1]
    assert entry["action"] == "import" and entry["actor"] == "research"
    assert entry["details"] == {"rows": 3, "patients_added": 2, "studies_added": 3,
                                "studies_replaced": 0, "imaging_only": True}


def test_stored_study_keeps_its_clinical_values(store):
    study_id = store.save_case("C1", "2024-01-02",
                               clinical={"age": 70, "sex": "M", "primary_tumor": "lung",
                                         "vas": 7.5, "ecog": 2},
                               metrics={"lesion_count": 0, "involved_levels": 0},
                               actor="nurse")
    summary = store.import_imaging(_rows({"patient_id": "C1", "study_date": "2024-01-02"}),
                                   source="m.csv", actor="research")
    assert summary["studies_replaced"] == 1 and summary["patients_added"] == 0
    record = store.get_study(study_id)
    assert record.clinical["vas"] == 7.5 and record.clinical["age"] == 70
    assert record.clinical["primary_tumor"] == "lung" and record.clinical["sex"] == "M"
    assert record.imaging["lesion_count"] == 2 and record.imaging["involved_levels"] == 2


@pytest.mark.parametrize(("rows", "words"), [
    ([{"patient_id": "D1", "study_date": "2024-01-02", "vas": 3}], "may have only"),
    ([{"study_date": "2024-01-02"}], "need the columns patient_id"),
    ([{"patient_id": "D1", "study_date": "2024-01-02", "lesion_count": 5}],
     "imaging row 1: lesion_count 5 does not equal"),
    ([{"patient_id": "D1", "study_date": "2024-01-02"},
      {"patient_id": "D1", "study_date": "2024-01-02"}], "imaging row 2"),
    ([{"patient_id": "D1", "study_date": "2024-01-02"},
      {"patient_id": "D2", "study_date": "2024-01-02", "high_intensity_ratio": 1.5}],
     "imaging row 2: high_intensity_ratio"),
])
def test_invalid_rows_import_nothing(store, rows, words):
    before = store.counts()
    with pytest.raises(ValueError, match=words):
        store.import_imaging(_rows(*rows), source="m.csv", actor="research")
    assert store.counts() == before


def test_synthetic_patient_refuses_the_whole_import(store):
    store.replace_synthetic(pd.DataFrame([{"patient_id": "S1", "study_date": "2020-01-01",
                                           "synthetic": True}]), source="demo", actor="demo")
    before = store.counts()
    with pytest.raises(ValueError, match="S1 is stored as synthetic"):
        store.import_imaging(_rows({"patient_id": "N1", "study_date": "2024-01-02"},
                                   {"patient_id": "S1", "study_date": "2024-01-02"}),
                             source="m.csv", actor="research")
    assert store.counts() == before
    with pytest.raises(ValueError, match="actor"):
        store.import_imaging(_rows({"patient_id": "N1", "study_date": "2024-01-02"}),
                             source="m.csv", actor=" ")
