"""Case store on SQLite files and PostgreSQL databases: round trips, transactions, audit,
export, CLI import.

``db_url`` (tests/conftest.py) runs a test once per backend: a SQLite file in the data
directory and a fresh database of the session's throwaway PostgreSQL cluster, given as
``SPINEPAIN_DB_URL`` so ``CaseStore()`` opens it. The few tests about SQLite itself (its
default file, in-memory URLs, an old SQLite store) have PostgreSQL counterparts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from sqlalchemy import inspect, text

from core.clinical import COHORT_COLUMNS, export_csv, load_clinical_table
from core.demo import generate_cohort
from core.lesions import extract
from core.phantom import LesionSpec, make_spine_phantom
from core.provenance import sha256_bytes, sha256_file
from core.store import HISTORY_COLUMNS, LIST_COLUMNS, CaseStore

REPO = Path(__file__).resolve().parents[1]
BAD = Path(__file__).parent / "data" / "bad_csv"

CLINICAL = {
    "age": 61, "sex": "F", "primary_tumor": "breast", "vas": 7, "ecog": 1,
    "analgesic_step": 2, "bone_modifying_agent": True, "prior_radiotherapy": False,
    "pathologic_fracture": True, "neurologic_deficit": "stable", "neuropathic_pain": True,
    "sins_location": 3,
    "sins_pain": 3, "sins_bone_lesion": 2, "sins_alignment": 0, "sins_collapse": 2,
    "sins_posterolateral": 1, "bilsky_grade": "1b",
}


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return generate_cohort(12, seed=7)


@pytest.fixture(scope="module")
def phantom_case():
    phantom = make_spine_phantom(seed=11, levels=("T12", "L1", "L2"), spacing_mm=(2, 2, 2),
                                 lesions=[LesionSpec("L1", 6.0)], noise_sd=3.0)
    result = extract(phantom.image, phantom.vertebrae, convention="verse")
    return phantom, result


def test_default_store_is_a_sqlite_file_in_the_data_dir(data_dir):
    with CaseStore() as store:
        assert store.data_dir == data_dir
        assert store.url == f"sqlite:///{(data_dir / 'cases.sqlite').resolve()}"
        names = set(inspect(store.engine).get_table_names())
    assert (data_dir / "cases.sqlite").is_file()
    assert names == {"patients", "studies", "clinical_values", "study_features",
                     "level_features", "predictions", "scores", "audit_log",
                     "board_agenda"}


def test_db_url_from_environment(data_dir, tmp_path, monkeypatch):
    target = tmp_path / "elsewhere" / "other.sqlite"
    monkeypatch.setenv("SPINEPAIN_DB_URL", f"sqlite:///{target}")
    with CaseStore() as store:
        assert store.counts()["patients"] == 0
    assert target.is_file()
    assert not (data_dir / "cases.sqlite").exists()
    with pytest.raises(ValueError, match="is not a SQLAlchemy URL"):
        CaseStore("not a url")


@pytest.mark.parametrize("url", ["postgresql://clinic:s3cret@db.example:port/cases",
                                 "postgres ql://clinic:s3cret@db.example/cases"])
def test_an_unparsable_database_url_is_refused_without_echoing_it(url):
    # a site URL carries a password: the sentence names the problem, never the URL
    with pytest.raises(ValueError, match=r"^the database URL is not a SQLAlchemy URL") as err:
        CaseStore(url)
    assert "s3cret" not in str(err.value) and "\n" not in str(err.value)


def test_no_identifying_columns_in_the_schema(db_url, data_dir):
    with CaseStore() as store:
        inspector = inspect(store.engine)
        columns = {c["name"] for t in inspector.get_table_names()
                   for c in inspector.get_columns(t)}
    assert {c for c in columns if any(w in c for w in (
        "name", "birth", "address", "mrn", "phone", "email", "ssn"))} == set()
    assert {c["name"] for c in inspector.get_columns("patients")} == {
        "id", "patient_id", "synthetic", "sex", "primary_tumor", "created_at"}


# ----------------------------------------------------------------- import


def test_import_round_trip_equals_input(db_url, data_dir, cohort):
    with CaseStore() as store:
        summary = store.import_cohort(cohort, source="cohort.csv", actor="tester")
        assert summary == {"source": "cohort.csv", "rows": len(cohort), "patients_added": 12,
                           "studies_added": len(cohort), "studies_replaced": 0,
                           "warnings": []}
        pd.testing.assert_frame_equal(store.cohort_frame(), cohort)
        counts = store.counts()
        log = store.audit_log()
    assert counts["studies"] == counts["clinical_values"] == counts["study_features"] == len(cohort)
    assert log[["actor", "action", "target"]].values.tolist() == [
        ["tester", "import", "cohort.csv"]]
    assert log.loc[0, "details"]["studies_added"] == len(cohort)


def test_csv_import_round_trip_through_the_loader(db_url, data_dir, cohort, tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_bytes(export_csv(cohort))
    table = load_clinical_table(path)
    assert table.errors == ()
    with CaseStore() as store:
        store.import_cohort(table.rows, source=path.name, actor="tester")
        exported = store.export_csv("tester")
        pd.testing.assert_frame_equal(store.cohort_frame(), table.rows.reset_index(drop=True))
        assert store.audit_log()["action"].tolist() == ["import", "export"]
    assert exported == path.read_bytes()


def test_duplicates_with_the_store_are_an_error_unless_replace(db_url, data_dir, cohort):
    with CaseStore() as store:
        store.import_cohort(cohort, source="a.csv", actor="tester")
        before = store.counts()
        changed = cohort.iloc[[0]].copy()
        changed["vas"] = 0.0
        fresh = cohort.iloc[[1]].assign(study_date=pd.Timestamp("2018-01-01"))
        with pytest.raises(ValueError, match=r"patient DEMO-0001 already has a study on "):
            store.import_cohort(pd.concat([fresh, changed]), source="b.csv", actor="tester")
        assert store.counts() == before
        summary = store.import_cohort(changed, source="c.csv", actor="tester",
                                      on_duplicate="replace")
        assert summary["studies_replaced"] == 1
        assert store.cohort_frame().loc[0, "vas"] == 0.0
        assert store.counts()["studies"] == before["studies"]


def test_import_refuses_invalid_frames_before_writing(db_url, data_dir, cohort):
    with CaseStore() as store:
        bad = cohort.copy()
        bad.loc[3, "ecog"] = 7.5
        with pytest.raises(ValueError, match=r"^cohort row 4: ecog 7\.5 is not a whole number"):
            store.import_cohort(bad, source="x.csv", actor="tester")
        dup = pd.concat([cohort, cohort.iloc[[2]]], ignore_index=True)
        with pytest.raises(ValueError, match="is duplicated"):
            store.import_cohort(dup, source="x.csv", actor="tester")
        real = cohort.iloc[[1]].assign(synthetic=False, study_date=pd.Timestamp("2018-01-01"))
        store.import_cohort(cohort.iloc[[1]], source="x.csv", actor="tester")
        with pytest.raises(ValueError, match="synthetic and real data are never mixed"):
            store.import_cohort(real, source="y.csv", actor="tester")
        with pytest.raises(ValueError, match="actor"):
            store.import_cohort(cohort, source="x.csv", actor=" ")
        with pytest.raises(ValueError, match=r"unknown column\(s\) 'name'"):
            store.import_cohort(cohort.assign(name="Jane"), source="x.csv", actor="tester")
        assert store.counts()["studies"] == 1


def test_import_failing_half_way_leaves_the_store_unchanged(db_url, data_dir, cohort):
    with CaseStore() as store:
        store.import_cohort(cohort.iloc[:3], source="first.csv", actor="tester")
        before = store.counts()
        frame_before = store.cohort_frame()
        victim = cohort.iloc[8]["patient_id"]
        # A real database failure part-way: the trigger aborts when the 9th row's
        # patient is inserted, after earlier rows of this import were written.
        fail_on_insert(store, "patients", f"NEW.patient_id = '{victim}'", "disk on fire")
        with pytest.raises(Exception, match="disk on fire"):
            store.import_cohort(cohort.iloc[3:], source="second.csv", actor="tester")
        assert store.counts() == before
        pd.testing.assert_frame_equal(store.cohort_frame(), frame_before)
        assert store.audit_log()["target"].tolist() == ["first.csv"]


# ----------------------------------------------------------------- cases


def fail_on_insert(store: CaseStore, table: str, condition: str, message: str,
                   sqlstate: str = "P0001") -> None:
    """A trigger that makes the database refuse an insert into ``table`` when
    ``condition`` holds (on PostgreSQL with ``sqlstate``)."""
    with store.engine.begin() as conn:
        if store.backend == "sqlite":
            conn.execute(text(
                f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} WHEN {condition} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"))
        else:
            conn.execute(text(
                f"CREATE FUNCTION fail_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF {condition} THEN RAISE EXCEPTION '{message}' USING ERRCODE = "
                f"'{sqlstate}'; END IF; RETURN NEW; END $$"))
            conn.execute(text(
                f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} FOR EACH ROW "
                f"EXECUTE FUNCTION fail_{table}()"))


def test_save_case_round_trip_with_deidentified_image(db_url, data_dir, phantom_case):
    phantom, result = phantom_case
    metrics = result.metrics.to_dict()
    image = sitk.Image(phantom.image)
    image.SetMetaData("descrip", "Jane Doe 1963-02-01")
    with CaseStore() as store:
        study_id = store.save_case(
            "P-0001", "2024-03-01", clinical=CLINICAL, metrics=metrics, image=image,
            image_meta={"modality": "MR", "sequence": "STIR", "spacing_mm": [2.0, 2.0, 2.0]},
            vertebrae=result.vertebrae, lesion_mask=result.lesion_mask, actor="dr-a",
        )
        record = store.get_study(study_id)
        listed = store.list_studies()
    assert record.patient_id == "P-0001"
    assert record.study_date == dt.date(2024, 3, 1)
    assert record.synthetic is False
    assert record.clinical == {**CLINICAL, "vas": 7.0, "sins_total": 11}
    assert record.metrics == json.loads(json.dumps(metrics))
    assert [lv["level"] for lv in record.levels] == [lv["level"] for lv in metrics["levels"]]
    assert record.levels == tuple(metrics["levels"])
    assert record.imaging["lesion_count"] == metrics["lesion_count"] == 1
    assert record.imaging["lesion_count_lumbar"] == 1
    assert record.imaging["involved_levels"] == 1
    assert record.image_meta["modality"] == "MR"
    assert record.image_meta["size"] == list(phantom.image.GetSize())
    # The stored image: same pixels and geometry, no header text, content-addressed.
    assert record.image_path.parent == data_dir / "images"
    assert sha256_file(record.image_path) == record.image_sha256
    assert record.image_path.name == f"{record.image_sha256}.nii.gz"
    stored = sitk.ReadImage(str(record.image_path))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(stored),
                                  sitk.GetArrayFromImage(phantom.image))
    assert stored.GetSpacing() == phantom.image.GetSpacing()
    assert stored.GetMetaData("descrip") == ""
    mask = sitk.ReadImage(str(record.lesion_mask_path))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(mask),
                                  sitk.GetArrayFromImage(result.lesion_mask))
    assert record.vertebrae_path.is_file()
    row = listed.iloc[0]
    assert list(listed.columns) == list(LIST_COLUMNS)
    assert bool(row["has_image"]) and row["lumbar_involved"] == 1.0
    assert row["sins_total"] == 11


def test_save_case_rejects_bad_input_and_leaves_no_files(db_url, data_dir, phantom_case):
    phantom = phantom_case[0]
    with CaseStore() as store:
        store.save_case("P-0001", "2024-03-01", clinical={"vas": 3}, actor="dr-a")
        with pytest.raises(ValueError, match="already has a study on 2024-03-01"):
            store.save_case("P-0001", "2024-03-01", clinical={"vas": 4}, image=phantom.image,
                            actor="dr-a")
        with pytest.raises(ValueError, match="unknown field"):
            store.save_case("P-0002", "2024-03-01", clinical={"weight": 70}, actor="dr-a")
        with pytest.raises(ValueError, match="ecog"):
            store.save_case("P-0002", "2024-03-01", clinical={"ecog": 5}, actor="dr-a")
        with pytest.raises(ValueError, match="patient_id"):
            store.save_case("Jane Doe", "2024-03-01", clinical={}, actor="dr-a")
        assert store.counts()["studies"] == 1
        assert store.audit_log()["action"].tolist() == ["save"]
    assert list((data_dir / "images").glob("*")) == []


def test_predictions_history_edit_delete_and_audit(db_url, data_dir, phantom_case):
    phantom, result = phantom_case
    with CaseStore() as store:
        first = store.save_case("P-0001", "2024-01-10", clinical=CLINICAL,
                                metrics={"lesion_count": 2, "lesion_count_cervical": 0,
                                         "lesion_count_thoracic": 2, "lesion_count_lumbar": 0,
                                         "lesion_count_sacral": 0, "involved_levels": 1,
                                         "high_intensity_ratio": 0.05,
                                         "max_level_high_intensity_ratio": 0.2},
                                actor="dr-a")
        second = store.save_case("P-0001", "2024-06-10", clinical={**CLINICAL, "vas": 4},
                                 metrics=result.metrics.to_dict(), image=phantom.image,
                                 actor="dr-a")
        store.record_prediction(second, {"category": "moderate", "probabilities": {
            "mild": 0.2, "moderate": 0.5, "severe": 0.3}, "expected_vas": 5.1,
            "tier": {"tier": "2", "tier_label": "x"}}, "spinepain-ordinal-1", "dr-a")
        store.record_prediction(second, {"category": "severe", "probabilities": {
            "mild": 0.1, "moderate": 0.2, "severe": 0.7}}, "spinepain-ordinal-2", "dr-b")
        with pytest.raises(ValueError, match="probability"):
            store.record_prediction(second, {"category": "severe",
                                             "probabilities": {"severe": 1.5}}, "v", "dr-b")

        history = store.patient_history("P-0001")
        assert list(history.columns) == list(HISTORY_COLUMNS)
        assert history["study_id"].tolist() == [first, second]
        assert history["vas"].tolist() == [7.0, 4.0]
        assert history["lesion_count"].tolist() == [2.0, 1.0]
        assert history["predicted_category"].tolist()[1] == "severe"
        listed = store.list_studies(has_image=True)
        assert listed["study_id"].tolist() == [second]
        assert listed["predicted_model_version"].tolist() == ["spinepain-ordinal-2"]
        assert store.list_studies(date_to="2024-02-01")["study_id"].tolist() == [first]
        assert len(store.get_study(second).predictions) == 2
        with pytest.raises(ValueError, match="is not in the store"):
            store.patient_history("P-9999")

        after = store.update_clinical(first, {"sins_collapse": 0, "sex": "other"}, "dr-b")
        assert after["sins_total"] == 9 and after["sex"] == "other"
        assert store.get_study(second).clinical["sex"] == "other"
        with pytest.raises(ValueError, match="sins_total 3 does not equal"):
            store.update_clinical(first, {"sins_total": 3}, "dr-b")
        with pytest.raises(ValueError, match="cannot edit 'lesion_count'"):
            store.update_clinical(first, {"lesion_count": 3}, "dr-b")
        assert store.get_study(first).clinical["sins_total"] == 9

        image_file = store.get_study(second).image_path
        assert image_file.is_file()
        store.delete_study(second, "dr-c")
        assert not image_file.exists()
        with pytest.raises(ValueError, match=f"study {second} does not exist"):
            store.get_study(second)
        assert store.counts()["predictions"] == 0
        assert store.counts()["level_features"] == 0
        store.delete_study(first, "dr-c")
        assert store.counts()["patients"] == 0

        log = store.audit_log()
    assert log["action"].tolist() == ["save", "save", "predict", "predict", "edit", "delete",
                                      "delete"]
    assert log["actor"].tolist()[-3:] == ["dr-b", "dr-c", "dr-c"]
    assert log.loc[4, "details"]["changes"] == {"sex": ["F", "other"],
                                                "sins_collapse": [2, 0],
                                                "sins_total": [11, 9]}
    assert log.loc[6, "details"] == {"patient_id": "P-0001", "study_date": "2024-01-10",
                                     "patient_deleted": True}
    assert str(log["at"].dt.tz) == "UTC"


def test_follow_up_inherits_patient_fields(db_url, data_dir):
    with CaseStore() as store:
        store.save_case("P-0009", "2024-01-10", clinical={"vas": 3, "sex": "M",
                                                          "primary_tumor": "lung"}, actor="dr-a")
        follow_up = store.save_case("P-0009", "2024-05-10", clinical={"vas": 6}, actor="dr-a")
        assert store.get_study(follow_up).clinical["primary_tumor"] == "lung"
        blank = store.save_case("P-0009", "2024-07-10", clinical={
            "vas": 6, "sex": None, "primary_tumor": ""}, actor="dr-a")
        assert store.get_study(blank).clinical["sex"] == "M"
        with pytest.raises(ValueError, match="stored with primary tumour 'lung', not 'breast'"):
            store.save_case("P-0009", "2024-09-10",
                            clinical={"vas": 6, "primary_tumor": "breast"}, actor="dr-a")


def test_export_is_audited_and_in_the_cohort_csv_format(db_url, data_dir):
    with CaseStore() as store:
        store.save_case("P-0001", "2024-01-10", clinical={"vas": 3, "primary_tumor": "lung"},
                        actor="dr-a")
        data = store.export_csv("dr-a")
        log = store.audit_log()
    assert data.decode().splitlines() == [
        ",".join(COHORT_COLUMNS), "P-0001,2024-01-10,,,lung,3,,,,,,,,,,,,,,,,,,,,,,,,false"]
    assert log.iloc[-1]["action"] == "export"
    assert log.iloc[-1]["details"]["rows"] == 1


def test_report_export_is_audited_with_its_hash(db_url, data_dir):
    with CaseStore() as store:
        study = store.save_case("P-0001", "2024-01-10", clinical={"vas": 3}, actor="dr-a")
        store.record_export(study, actor="dr-b", kind="report-pdf", content=b"%PDF-1.7 x")
        with pytest.raises(ValueError, match="study 999 does not exist"):
            store.record_export(999, actor="dr-b", kind="report-pdf", content=b"x")
        log = store.audit_log()
    entry = log.iloc[-1]
    assert (entry["actor"], entry["action"], entry["target"]) == ("dr-b", "export",
                                                                  f"study {study}")
    assert entry["details"] == {"kind": "report-pdf", "bytes": 10,
                                "sha256": sha256_bytes(b"%PDF-1.7 x")}
    assert (log["action"] == "export").sum() == 1  # the refused export wrote nothing


# ----------------------------------------------------------------- CLI


def _cli(*args: str, data_dir: Path, db_url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPINEPAIN_DATA_DIR": str(data_dir)}
    env.pop("SPINEPAIN_DB_URL", None)
    if db_url:
        env["SPINEPAIN_DB_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_import_cohort_ok_and_errors(db_url, data_dir, cohort, tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(export_csv(cohort))
    done = _cli("import-cohort", str(good), "--actor", "cli-test", data_dir=data_dir,
                db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["studies_added"] == len(cohort)

    bad = _cli("import-cohort", str(BAD / "vas_out_of_range.csv"), data_dir=data_dir,
               db_url=db_url)
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "row 2, column vas: '11' is not a number from 0 to 10 with at most one decimal",
        "row 3, column vas: '-1' is not a number from 0 to 10 with at most one decimal",
        "row 4, column vas: '7.25' is not a number from 0 to 10 with at most one decimal",
        "row 5, column vas: required value is missing",
        "error: vas_out_of_range.csv has 4 invalid value(s) in 4 row(s); nothing was "
        "imported (use --valid-rows-only to import the valid rows).",
    ]
    with CaseStore() as store:
        assert store.counts()["studies"] == len(cohort)

    partial = _cli("import-cohort", str(BAD / "vas_out_of_range.csv"), "--valid-rows-only",
                   data_dir=data_dir, db_url=db_url)
    assert partial.returncode == 0, partial.stderr
    assert partial.stderr.splitlines()[0].startswith("skipped row 2, column vas:")
    summary = json.loads(partial.stdout)
    assert (summary["studies_added"], summary["rows_skipped"]) == (1, 4)
    # the file records the deficit as yes/no: the imported row 6 is named, once, in the
    # JSON summary and on stderr
    assert len(summary["warnings"]) == 1 and "row(s) 6:" in summary["warnings"][0]
    assert partial.stderr.splitlines()[-1] == f"warning: {summary['warnings'][0]}"

    empty = _cli("import-cohort", str(BAD / "utf16.csv"), data_dir=data_dir, db_url=db_url)
    assert empty.returncode == 2
    assert empty.stderr == "error: utf16.csv is UTF-16 encoded; save it as CSV UTF-8.\n"
    again = _cli("import-cohort", str(good), data_dir=data_dir, db_url=db_url)
    assert again.returncode == 2
    assert "already has a study on" in again.stderr
    with CaseStore() as store:
        assert store.counts()["studies"] == len(cohort) + 1
        assert store.audit_log()["actor"].tolist() == ["cli-test", "cli"]


# ----------------------------------------------------------------- review: edge cases


def test_in_memory_database_is_shared_by_threads(data_dir):
    # Streamlit serves a session from several threads; an in-memory URL (e.g.
    # SPINEPAIN_DB_URL=sqlite://) must be one database, not one empty database per thread.
    import threading

    with CaseStore("sqlite://") as store:
        study = store.save_case("P-0001", "2024-01-10", clinical={"vas": 3}, actor="dr-a")
        seen: dict[str, object] = {}

        def read() -> None:
            try:
                seen["patient"] = store.get_study(study).patient_id
            except Exception as exc:  # reported below
                seen["error"] = repr(exc)

        worker = threading.Thread(target=read)
        worker.start()
        worker.join()
    assert seen == {"patient": "P-0001"}


def test_numpy_scalars_are_stored_as_plain_json(db_url, data_dir):
    with CaseStore() as store:
        study = store.save_case(
            "P-0001", "2024-01-10", clinical={"vas": np.float64(3), "ecog": np.int64(1)},
            metrics={"lesion_count": np.int64(2), "lesion_count_cervical": np.int64(0),
                     "lesion_count_thoracic": np.int64(2), "lesion_count_lumbar": 0,
                     "lesion_count_sacral": 0, "involved_levels": np.int64(1),
                     "high_intensity_ratio": np.float32(0.25),
                     "max_level_high_intensity_ratio": np.float64(0.5)},
            image_meta={"spacing_mm": np.array([1.0, 1.0, 2.0]), "modality": "MR"},
            actor="dr-a")
        store.record_prediction(study, {"category": "mild", "probabilities": {
            "mild": np.float32(0.75), "moderate": np.float64(0.25)},
            "expected_vas": np.float32(2.5), "features": {"vas": np.float64(3)}},
            "v1", "dr-a")
        record = store.get_study(study)
        with pytest.raises(ValueError, match="NaN"):
            store.record_prediction(study, {"category": "mild", "probabilities": {
                "mild": 1.0}, "features": {"x": np.float64("nan")}}, "v1", "dr-a")
    assert record.imaging["lesion_count"] == 2
    assert record.imaging["high_intensity_ratio"] == 0.25
    assert record.image_meta["spacing_mm"] == [1.0, 1.0, 2.0]
    assert record.predictions[0]["probabilities"] == {"mild": 0.75, "moderate": 0.25}
    assert record.predictions[0]["expected_vas"] == 2.5


def _ras_copy(image: sitk.Image) -> sitk.Image:
    """The same voxels with an RAS direction (x and y flipped), as many NIfTI files are."""
    flipped = sitk.Image(image)
    flipped.SetDirection((-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))
    return flipped


def test_image_files_are_read_through_core_io_in_canonical_lps(db_url, data_dir, phantom_case,
                                                               tmp_path):
    from core.io import read_image, read_label_map

    phantom, result = phantom_case
    image_file, vert_file = tmp_path / "t2_ras.nii.gz", tmp_path / "vert_ras.nii.gz"
    sitk.WriteImage(_ras_copy(phantom.image), str(image_file))
    sitk.WriteImage(_ras_copy(result.vertebrae), str(vert_file))
    expected = read_image(image_file)
    assert expected.meta.orientation == "RAS"
    expected_vert = read_label_map(vert_file, reference=expected.image)
    with CaseStore() as store:
        study = store.save_case("P-0001", "2024-03-01", clinical={"vas": 5},
                                image=image_file, vertebrae=vert_file.read_bytes(),
                                actor="dr-a")
        record = store.get_study(study)
    stored = sitk.ReadImage(str(record.image_path))
    assert stored.GetDirection() == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    np.testing.assert_allclose(stored.GetOrigin(), expected.image.GetOrigin())
    np.testing.assert_array_equal(sitk.GetArrayFromImage(stored),
                                  sitk.GetArrayFromImage(expected.image))
    assert record.image_meta["orientation"] == "RAS"
    assert record.image_meta["size"] == list(expected.meta.size)
    vert = sitk.ReadImage(str(record.vertebrae_path))
    assert vert.GetDirection() == stored.GetDirection()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(vert),
                                  sitk.GetArrayFromImage(expected_vert))


def test_label_maps_core_io_refuses_are_refused_by_the_store(db_url, data_dir, phantom_case,
                                                             tmp_path):
    phantom = phantom_case[0]
    fractional = sitk.Cast(phantom.image, sitk.sitkFloat32) * 0.0 + 0.5
    mask_file = tmp_path / "mask.nii.gz"
    sitk.WriteImage(fractional, str(mask_file))
    flat_file = tmp_path / "flat.nii.gz"
    sitk.WriteImage(sitk.Cast(phantom.image, sitk.sitkFloat32) * 0.0 + 7.0, str(flat_file))
    with CaseStore() as store:
        with pytest.raises(ValueError, match=r"^The label map has non-integer values .*\.$"):
            store.save_case("P-0001", "2024-03-01", clinical={"vas": 5},
                            image=phantom.image, lesion_mask=mask_file, actor="dr-a")
        with pytest.raises(ValueError, match=r"^The image has the same value .*\.$"):
            store.save_case("P-0001", "2024-03-01", clinical={"vas": 5},
                            image=flat_file.read_bytes(), image_filename="flat.nii.gz",
                            actor="dr-a")
        assert store.counts()["studies"] == 0
    assert list((data_dir / "images").glob("*")) == []


# ----------------------------------------------------------------- neurologic deficit


def test_deficit_states_and_neuropathic_pain_are_stored(db_url, data_dir):
    with CaseStore() as store:
        ids = [store.save_case(f"P-000{i}", "2024-01-10",
                               clinical={"vas": 5, "neurologic_deficit": state,
                                         "neuropathic_pain": pain}, actor="dr-a")
               for i, (state, pain) in enumerate([("none", False), ("stable", None),
                                                  ("new_or_progressive", True)])]
        listed = store.list_studies()
        types = {c["name"]: str(c["type"]) for c in
                 inspect(store.engine).get_columns("clinical_values")}
        edited = store.update_clinical(ids[1], {"neurologic_deficit": "new or progressive"},
                                       "dr-b")
        with pytest.raises(ValueError, match="'worse' is not one of none, stable"):
            store.update_clinical(ids[1], {"neurologic_deficit": "worse"}, "dr-b")
    assert types["neurologic_deficit"].startswith("VARCHAR")
    assert types["neuropathic_pain"] == "BOOLEAN"
    assert listed["neurologic_deficit"].tolist() == ["none", "stable", "new_or_progressive"]
    assert listed["neuropathic_pain"].tolist() == [False, None, True]
    assert edited["neurologic_deficit"] == "new_or_progressive"


def test_import_of_a_yes_no_frame_reports_the_rows(db_url, data_dir, cohort):
    old = cohort.iloc[:4].assign(neurologic_deficit=[True, False, "stable", "1"])
    with CaseStore() as store:
        summary = store.import_cohort(old, source="old.csv", actor="tester")
        stored = store.cohort_frame()["neurologic_deficit"].tolist()
    assert stored == ["new_or_progressive", "none", "stable", "new_or_progressive"]
    assert len(summary["warnings"]) == 1
    assert "row(s) 1-2, 4:" in summary["warnings"][0]


def test_a_store_from_before_the_three_deficit_states_is_upgraded(data_dir, tmp_path):
    """An old SQLite store (yes/no deficit, no neuropathic_pain column) opens, gains the
    column, and its stored yes/no reads as yes/no (new_or_progressive with a warning)."""
    from core.context import context_from_case
    from core.features import features_from_case

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    with CaseStore(url) as store:
        study = store.save_case("P-0001", "2024-01-10", clinical={"vas": 5}, actor="dr-a")
        with store.engine.begin() as connection:  # the old table: BOOLEAN deficit
            for statement in (
                    "ALTER TABLE clinical_values DROP COLUMN neuropathic_pain",
                    "ALTER TABLE clinical_values DROP COLUMN neurologic_deficit",
                    "ALTER TABLE clinical_values ADD COLUMN neurologic_deficit BOOLEAN",
                    "UPDATE clinical_values SET neurologic_deficit = 1"):
                connection.execute(text(statement))
            stored = connection.execute(text(
                "SELECT neurologic_deficit, typeof(neurologic_deficit) FROM clinical_values"
            )).one()
        assert tuple(stored) == (1, "integer")
    with CaseStore(url) as store:
        columns = {c["name"] for c in inspect(store.engine).get_columns("clinical_values")}
        record = store.get_study(study)
        assert store.list_studies()["neurologic_deficit"].tolist() == ["yes"]
        again = store.save_case("P-0001", "2024-02-10",
                                clinical={"vas": 5, "neurologic_deficit": "stable",
                                          "neuropathic_pain": True}, actor="dr-a")
        assert store.get_study(again).clinical["neurologic_deficit"] == "stable"
    assert "neuropathic_pain" in columns
    assert record.clinical["neurologic_deficit"] == "yes"
    assert record.clinical["neuropathic_pain"] is None
    assert features_from_case(record.clinical)["neurologic_deficit"] == 2.0
    context = context_from_case(record.clinical)
    assert context.neurologic_deficit == "new_or_progressive"
    assert any("yes/no" in w for w in context.warnings)


def test_a_postgresql_store_from_before_the_three_deficit_states_is_upgraded(
        data_dir, pg_cluster, request):
    """The PostgreSQL branch of ``upgrade_schema``: a BOOLEAN ``neurologic_deficit`` (true,
    false, NULL) becomes text holding yes / no / NULL, the stored values read as before
    (yes/no with a warning), and the column takes the three states afterwards."""
    from core.store import upgrade_schema

    url = pg_cluster.new_database()
    request.addfinalizer(lambda: pg_cluster.drop_database(url))
    with CaseStore(url, data_dir=data_dir) as store:
        ids = [store.save_case(f"P-000{i}", "2024-01-10", clinical={"vas": 5}, actor="dr-a")
               for i in range(3)]
        with store.engine.begin() as connection:  # the old table: BOOLEAN deficit
            for statement in (
                    "ALTER TABLE clinical_values DROP COLUMN neuropathic_pain",
                    "ALTER TABLE clinical_values DROP COLUMN neurologic_deficit",
                    "ALTER TABLE clinical_values ADD COLUMN neurologic_deficit BOOLEAN",
                    f"UPDATE clinical_values SET neurologic_deficit = true "
                    f"WHERE study_id = {ids[0]}",
                    f"UPDATE clinical_values SET neurologic_deficit = false "
                    f"WHERE study_id = {ids[1]}"):
                connection.execute(text(statement))
        before = {c["name"]: str(c["type"]) for c in
                  inspect(store.engine).get_columns("clinical_values")}
    assert before["neurologic_deficit"] == "BOOLEAN" and "neuropathic_pain" not in before
    with CaseStore(url, data_dir=data_dir) as store:
        types = {c["name"]: str(c["type"]) for c in
                 inspect(store.engine).get_columns("clinical_values")}
        assert upgrade_schema(store.engine) == []  # idempotent
        listed = store.list_studies()
        records = [store.get_study(i).clinical for i in ids]
        again = store.save_case("P-0001", "2024-02-10",
                                clinical={"vas": 5, "neurologic_deficit": "stable",
                                          "neuropathic_pain": True}, actor="dr-a")
        assert store.get_study(again).clinical["neurologic_deficit"] == "stable"
        edited = store.update_clinical(ids[0], {"neurologic_deficit": "none"}, "dr-b")
    assert types["neurologic_deficit"].startswith("VARCHAR")
    assert types["neuropathic_pain"] == "BOOLEAN"
    assert listed["neurologic_deficit"].fillna("(blank)").tolist() == ["yes", "no", "(blank)"]
    assert [r["neurologic_deficit"] for r in records] == ["yes", "no", None]
    assert edited["neurologic_deficit"] == "none"


def test_a_postgresql_url_from_the_environment(data_dir, pg_cluster, request, monkeypatch):
    """``SPINEPAIN_DB_URL=postgresql+psycopg://...`` is the store; the password is hidden
    in ``store.url`` and no SQLite file appears."""
    url = pg_cluster.new_database()
    request.addfinalizer(lambda: pg_cluster.drop_database(url))
    with_password = url.replace("spinepain@", "spinepain:s3cret@")
    monkeypatch.setenv("SPINEPAIN_DB_URL", with_password)
    with CaseStore() as store:
        assert store.backend == "postgresql"
        assert "s3cret" not in store.url and "***" in store.url
        assert set(inspect(store.engine).get_table_names()) >= {"patients", "scores"}
        store.save_case("P-0001", "2024-01-10", clinical={"vas": 3}, actor="dr-a")
        assert store.counts()["studies"] == 1
    assert not (data_dir / "cases.sqlite").exists()


def test_save_case_keeps_the_label_qc_of_a_measured_study(db_url, data_dir, phantom_case):
    """``core.measure.measure_study(...).payload()`` (the extract JSON with ``label_qc``)
    is stored as given and read back."""
    from core.measure import measure_study

    phantom, _ = phantom_case
    measured = measure_study(phantom.image, phantom.vertebrae, convention="verse")
    payload = measured.payload()
    assert "label_qc" in payload
    with CaseStore() as store:
        study_id = store.save_case("P-0003", "2024-03-02", clinical={"vas": 4},
                                   metrics=payload, actor="dr-a")
        record = store.get_study(study_id)
    assert record.metrics["label_qc"] == json.loads(json.dumps(payload["label_qc"]))
    assert record.imaging["lesion_count"] == payload["lesion_count"]


def test_level_corrections_are_an_audit_action():
    from core.level_correction import AUDIT_ACTION
    from core.store import AUDIT_ACTIONS

    assert AUDIT_ACTION in AUDIT_ACTIONS
