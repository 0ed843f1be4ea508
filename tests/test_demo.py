"""Synthetic demo cohort (published directions, determinism, committed CSV) and demo store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from scipy.stats import mannwhitneyu, spearmanr

from core.clinical import COHORT_COLUMNS, load_clinical_table
from core.demo import (
    DEFAULT_SEED,
    DEMO_CSV,
    IMAGING_CASES,
    SURVEILLANCE_DEMO_PATIENT,
    build_demo_store,
    cohort_statistics,
    demo_csv_bytes,
    generate_cohort,
)
from core.io import read_image, read_label_map
from core.lesions import extract
from core.measure import measure_study
from core.store import CaseStore
from core.vocab import DEFICIT_STATES, SINS_NON_PAIN_COMPONENTS, BilskyGrade, paper_region_group

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return generate_cohort(300, DEFAULT_SEED)


def test_committed_csv_equals_the_generator_output(cohort):
    assert DEMO_CSV.read_bytes() == demo_csv_bytes(300, DEFAULT_SEED)
    table = load_clinical_table(DEMO_CSV)
    assert table.errors == ()
    pd.testing.assert_frame_equal(table.rows.reset_index(drop=True), cohort)


def test_cohort_shape_ids_and_flags(cohort):
    assert list(cohort.columns) == list(COHORT_COLUMNS)
    assert cohort["patient_id"].nunique() == 300
    assert len(cohort) == 564
    assert cohort["patient_id"].str.fullmatch(r"DEMO-\d{4}").all()
    assert cohort["synthetic"].all()
    vas = cohort["vas"]
    assert vas.notna().all() and (vas == vas.round()).all() and vas.between(0, 10).all()
    per_patient = cohort.groupby("patient_id").size()
    assert set(per_patient) == {1, 2, 3, 4}
    assert (per_patient >= 2).sum() > 100
    gaps = cohort.groupby("patient_id")["study_date"].diff().dropna().dt.days
    assert gaps.between(55, 250).all()
    assert cohort.groupby("patient_id")["study_date"].apply(
        lambda s: s.is_monotonic_increasing).all()
    # Realistic missingness: ~10 % no SINS (+4 % one component), ~20 % no Bilsky.
    assert 0.08 <= cohort["sins_location"].isna().mean() <= 0.16
    assert 0.10 <= cohort["sins_total"].isna().mean() <= 0.20
    assert 0.15 <= cohort["bilsky_grade"].isna().mean() <= 0.28
    complete = cohort.dropna(subset=["sins_location", "sins_pain", "sins_bone_lesion",
                                     "sins_alignment", "sins_collapse", "sins_posterolateral"])
    assert complete["sins_total"].notna().all()
    regional = cohort[[f"lesion_count_{r}" for r in
                       ("cervical", "thoracic", "lumbar", "sacral")]].sum(axis=1)
    assert (regional == cohort["lesion_count"]).all()
    assert (cohort["max_level_high_intensity_ratio"] >= cohort["high_intensity_ratio"]).all()
    # the deficit in its three states; the optional neuropathic-pain entry often blank
    assert set(cohort["neurologic_deficit"]) == set(DEFICIT_STATES)
    assert 0.25 <= cohort["neuropathic_pain"].isna().mean() <= 0.35
    assert set(cohort["neuropathic_pain"].dropna()) == {True, False}


def test_published_directions_hold(cohort):
    groups = paper_region_group(cohort)
    vas = cohort["vas"]
    lumbar, thoracic, cervical = (vas[groups == g] for g in
                                  ("lumbar", "thoracic only", "cervical only"))
    assert len(cervical) >= 20 and len(thoracic) >= 50
    assert lumbar.mean() > thoracic.mean() > cervical.mean()
    assert mannwhitneyu(lumbar, thoracic, alternative="greater").pvalue < 0.001
    assert mannwhitneyu(thoracic, cervical, alternative="greater").pvalue < 0.05
    count_hi = spearmanr(cohort["lesion_count"], cohort["high_intensity_ratio"])
    assert count_hi.statistic > 0.5
    for column in ("lesion_count", "high_intensity_ratio"):
        rho = spearmanr(cohort[column], vas)
        assert rho.statistic > 0.2 and rho.pvalue < 1e-6


def test_clinical_effects_are_sensible(cohort):
    vas = cohort["vas"]
    fracture = cohort["pathologic_fracture"].astype(bool)
    assert vas[fracture].mean() > vas[~fracture].mean() + 1.0
    deficit = cohort.groupby("neurologic_deficit")["vas"].mean()
    assert deficit["new_or_progressive"] > deficit["stable"] > deficit["none"] + 1.0
    sins = cohort[["sins_total", "vas"]].dropna()
    assert spearmanr(sins["sins_total"], sins["vas"]).statistic > 0.3
    without_pain = cohort[list(SINS_NON_PAIN_COMPONENTS)].sum(axis=1, min_count=5)
    pair = pd.concat([without_pain, vas], axis=1).dropna()
    assert spearmanr(pair.iloc[:, 0], pair.iloc[:, 1]).statistic > 0.3
    bilsky = cohort[["bilsky_grade", "vas"]].dropna()
    codes = bilsky["bilsky_grade"].map(lambda g: BilskyGrade.parse(g).code)
    assert spearmanr(codes, bilsky["vas"]).statistic > 0.2
    # Treatment follows pain: the step rises with VAS; pain is not abolished on step 3
    # (analgesics do not enter the generated pain) ...
    assert spearmanr(cohort["analgesic_step"], vas).statistic > 0.5
    assert vas[cohort["analgesic_step"] == 3].mean() > 6
    # ... and radiotherapy follows a painful study: after VAS >= 5, more follow-ups have
    # had radiotherapy than after VAS < 5
    previous = cohort.groupby("patient_id")["vas"].shift()
    follow = previous.notna()
    after_pain = cohort["prior_radiotherapy"][follow & (previous >= 5)].astype(bool).mean()
    after_less = cohort["prior_radiotherapy"][follow & (previous < 5)].astype(bool).mean()
    assert after_pain > after_less + 0.2


def test_pain_is_generated_without_treatment(monkeypatch):
    """No treatment-follows-pain leakage in reverse: the VAS does not depend on how the
    analgesic step or the bone-modifying agent are drawn (they use their own generator),
    so the step is context, never a cause of the recorded pain."""
    import core.demo_cohort as demo_cohort

    before = generate_cohort(40, DEFAULT_SEED)
    monkeypatch.setattr(demo_cohort, "analgesic_step", lambda rng, vas: 0)
    after = generate_cohort(40, DEFAULT_SEED)
    assert (after["analgesic_step"] == 0).all() and (before["analgesic_step"] > 0).any()
    pd.testing.assert_series_equal(before["vas"], after["vas"])
    pd.testing.assert_frame_equal(before.drop(columns="analgesic_step"),
                                  after.drop(columns="analgesic_step"))


def test_every_lesion_raises_the_generated_pain_lumbar_most():
    """The generator's own pain model: one more lesion never lowers it, and one lumbar
    (or sacral) lesion raises it more than a thoracic one, which beats a cervical one."""
    from core.demo_cohort import Imaging, pain_score

    findings = {"sins_alignment": 0, "sins_collapse": 0, "sins_posterolateral": 0,
                "sins_bone_lesion": 1, "pathologic_fracture": False, "bilsky_code": 0,
                "neurologic_deficit": "none", "ecog": 1}

    class Fixed:
        s = 0.0

    class Zero:
        @staticmethod
        def normal(*_args):
            return 0.0

    def pain(counts: dict) -> float:
        imaging = Imaging(counts=counts, lesion_count=sum(counts.values()),
                          involved_levels=2, hi_ratio=0.05, max_ratio=0.3, worst_level="T8")
        return pain_score(Zero(), Fixed(), imaging, findings, 58)

    for base in ({"cervical": 0, "thoracic": 2, "lumbar": 0, "sacral": 0},
                 {"cervical": 1, "thoracic": 1, "lumbar": 1, "sacral": 1},
                 {"cervical": 3, "thoracic": 0, "lumbar": 0, "sacral": 0}):
        added = {r: pain({**base, r: base[r] + 1}) - pain(base) for r in base}
        assert min(added.values()) > 0
        assert added["lumbar"] > added["thoracic"] > added["cervical"]
        assert added["sacral"] > added["thoracic"]


def test_generator_is_deterministic_and_per_patient_stable(cohort):
    small = generate_cohort(20, DEFAULT_SEED)
    pd.testing.assert_frame_equal(small, generate_cohort(20, DEFAULT_SEED))
    ids = small["patient_id"].unique()
    pd.testing.assert_frame_equal(small, cohort[cohort["patient_id"].isin(ids)]
                                  .reset_index(drop=True))
    other = generate_cohort(20, DEFAULT_SEED + 1)
    assert not other["vas"].equals(small["vas"].iloc[: len(other)])
    for bad in (0, -3, 1.5, True):
        with pytest.raises(ValueError, match="n_patients"):
            generate_cohort(bad)


def test_cohort_statistics_report(cohort):
    stats = cohort_statistics(cohort)
    assert stats["patients"] == 300 and stats["studies"] == 564
    groups = stats["mean_vas_by_region_group"]
    assert groups["lumbar"] > groups["thoracic only"] > groups["cervical only"]
    assert stats["spearman_count_hi_ratio"] > 0.5


# ----------------------------------------------------------------- demo store


def test_build_demo_store_is_idempotent_and_keeps_real_data(data_dir, sct_data):
    with CaseStore() as store:
        real = store.save_case("SITE-001", "2024-02-02", clinical={"vas": 5}, actor="dr-a")
    summary = build_demo_store(n_patients=25)
    cohort = generate_cohort(25, DEFAULT_SEED)
    assert summary["patients"] == 25 + len(IMAGING_CASES)
    assert summary["studies"] == len(cohort) + len(IMAGING_CASES)
    assert summary["data_dir"] == str(data_dir)
    assert [c["patient_id"] for c in summary["imaging_cases"]] == [
        f"DEMO-IMG-{i:02d}" for i in range(1, len(IMAGING_CASES) + 1)]
    with CaseStore() as store:
        first_counts = store.counts()
        files = sorted(p.name for p in (data_dir / "images").iterdir())
        listed = store.list_studies(synthetic=True)
        imaging = listed[listed["patient_id"].str.startswith("DEMO-IMG")]
        assert imaging["has_image"].all() and len(imaging) == len(IMAGING_CASES)
        lumbar_case = store.get_study(int(imaging["study_id"].iloc[2]))
        assert lumbar_case.image_path.is_file() and lumbar_case.vertebrae_path.is_file()
        assert [lv["level"] for lv in lumbar_case.levels] == ["T11", "T12", "L1", "L2", "L3"]
        assert lumbar_case.imaging["lesion_count_lumbar"] >= 2
        real_case = store.get_study(int(imaging["study_id"].iloc[0]))
        assert real_case.image_meta["source"] == "SCT testing data: t2/t2.nii.gz"
        # SCT labels are spinal-cord segments: the image and the QA result, no bone
        # measurement (issue 10).
        assert real_case.levels == ()
        assert real_case.imaging["lesion_count"] is None
        assert [f["code"] for f in real_case.image_meta["label_qc"]] == ["cord_level_map"]
        assert real_case.image_path.is_file() and real_case.vertebrae_path.is_file()
    unmeasured = [c for c in summary["imaging_cases"] if not c["measured"]]
    assert [c["patient_id"] for c in unmeasured] == ["DEMO-IMG-01", "DEMO-IMG-02"]
    assert all(c["label_qc"] == ["cord_level_map"] and c["lesion_count"] is None
               for c in unmeasured)
    assert all(c["measured"] and c["label_qc"] == [] for c in summary["imaging_cases"][2:])
    with CaseStore() as store:
        pd.testing.assert_frame_equal(
            store.cohort_frame(synthetic=True).iloc[: len(cohort)].reset_index(drop=True),
            cohort)

    again = build_demo_store(n_patients=25)
    assert again["studies_removed"] == summary["studies"]
    with CaseStore() as store:
        assert store.counts() == {**first_counts, "audit_log": first_counts["audit_log"] + 1}
        assert sorted(p.name for p in (data_dir / "images").iterdir()) == files
        assert store.get_study(real).patient_id == "SITE-001"
        assert store.list_studies(synthetic=False)["patient_id"].tolist() == ["SITE-001"]
        assert store.audit_log()["action"].tolist() == ["save", "build-demo", "build-demo"]


def test_cli_demo_builds_a_store_into_a_tmp_dir(data_dir, sct_data, tmp_path):
    db = tmp_path / "demo" / "cases.sqlite"
    env = {**os.environ, "SPINEPAIN_DATA_DIR": str(data_dir)}
    env.pop("SPINEPAIN_DB_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "core", "demo", "--db", f"sqlite:///{db}", "--patients", "15"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["url"] == f"sqlite:///{db}"
    assert summary["store_counts"]["studies"] == summary["studies"]
    assert db.is_file()
    with CaseStore(f"sqlite:///{db}") as store:
        assert store.counts()["patients"] == 15 + len(IMAGING_CASES)
        followed = store.list_studies(patient_id=SURVEILLANCE_DEMO_PATIENT)
    assert len(followed) == 3  # the surveillance page's demo patient


@pytest.mark.parametrize("n_patients", [3, 25, 40, 300])
def test_the_surveillance_demo_patient_has_three_studies_with_alerts(n_patients):
    from core.surveillance import study_alerts, timeline

    cohort = generate_cohort(n_patients, DEFAULT_SEED)
    rows = cohort[cohort["patient_id"] == SURVEILLANCE_DEMO_PATIENT]
    assert len(rows) == 3 and rows["study_date"].is_monotonic_increasing
    studies = rows.assign(study_id=range(1, 4), expected_vas=rows["vas"])
    alerts = study_alerts(timeline(studies))
    second = alerts[alerts["study_id"] == 2]
    assert {"new_fracture", "new_level"} <= set(second["code"])


def test_cli_write_csv_regenerates_the_committed_file(tmp_path):
    out = tmp_path / "cohort.csv"
    done = subprocess.run([sys.executable, "-m", "core.demo", "--write-csv", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == DEMO_CSV.read_bytes()
    assert re.search(r"'studies': 564", done.stdout)


def test_readme_states_the_committed_statistics(cohort):
    stats = cohort_statistics(cohort)
    readme = (REPO / "data" / "demo" / "README.md").read_text(encoding="utf-8")
    groups = stats["mean_vas_by_region_group"]
    counts = stats["studies_by_region_group"]
    for group, label in (("lumbar", "any lumbar lesion"),
                         ("thoracic only", "thoracic lesions only"),
                         ("cervical only", "cervical lesions only")):
        assert f"{label} (n = {counts[group]}) | {groups[group]:.2f}" in readme
    assert f"| {stats['spearman_count_hi_ratio']:.3f} |" in readme
    # The README's own figures, not a recomputation checked against itself.
    assert f"| mean VAS, all studies | {stats['mean_vas']:.2f} |" in readme
    assert (f"| {stats['spearman_count_vas']:.3f} / {stats['spearman_hi_ratio_vas']:.3f} |"
            in readme)
    assert (f"| {100 * stats['missing_sins_total']:.1f} % / "
            f"{100 * stats['missing_bilsky_grade']:.1f} % |" in readme)
    deficit, deficit_n = stats["mean_vas_by_deficit"], stats["studies_by_deficit"]
    for state, label in (("none", "no neurologic deficit"), ("stable", "stable deficit"),
                         ("new_or_progressive", "new or progressive deficit")):
        assert f"{label} (n = {deficit_n[state]}) | {deficit[state]:.2f} |" in readme
    assert f"other patterns (n = {counts['other']}) | {groups['other']:.2f} |" in readme
    assert (f"| Spearman SINS without pain vs VAS | "
            f"{stats['spearman_sins_without_pain_vas']:.3f} |" in readme)
    assert (f"| Spearman analgesic step vs VAS (treatment follows pain) | "
            f"{stats['spearman_analgesic_step_vas']:.3f} |" in readme)
    sizes = cohort.groupby("patient_id").size()
    assert (f"564 studies ({(sizes == 1).sum()} patients with one\n  study, "
            f"{(sizes > 1).sum()} with 2-4 studies" in readme)


# ------------------------------------------------- demo imaging cases, store vs New case


@pytest.fixture(scope="module")
def small_demo_store(tmp_path_factory) -> CaseStore:
    """A demo store with two cohort patients and every imaging case."""
    folder = tmp_path_factory.mktemp("demo_store")
    url = f"sqlite:///{folder / 'cases.sqlite'}"
    build_demo_store(url, n_patients=2, data_dir=folder)
    store = CaseStore(url, data_dir=folder)
    yield store
    store.close()


def _stored_case(store: CaseStore, patient_id: str):
    studies = store.list_studies(synthetic=True)
    return store.get_study(int(studies[studies["patient_id"] == patient_id]["study_id"].iloc[0]))


def _comparable(metrics) -> dict:
    """Metrics JSON with the provenance cut to what does not depend on time or input hash."""
    data = metrics.to_dict() if hasattr(metrics, "to_dict") else dict(metrics)
    provenance = data.pop("provenance")
    data["provenance"] = {k: provenance[k] for k in ("parameters", "convention",
                                                     "lesion_source")}
    return json.loads(json.dumps(data))


def _assert_same_image(a, b) -> None:
    assert a.GetPixelID() == b.GetPixelID()
    assert a.GetSize() == b.GetSize()
    assert a.GetSpacing() == b.GetSpacing()
    assert a.GetOrigin() == b.GetOrigin()
    assert a.GetDirection() == b.GetDirection()
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b))


def test_real_demo_cases_are_read_through_core_io(small_demo_store):
    """The bundled SCT files reach the store as core.io reads them: canonical LPS
    float32 with core.io's metadata, checked exactly like an upload of the same files
    (label QA refuses their cord-level labels: no bone measurement is stored)."""
    sct = REPO / "data" / "demo" / "images" / "sct"
    real = [spec for spec in IMAGING_CASES if spec.phantom is None]
    assert len(real) == 2
    for spec in real:
        record = _stored_case(small_demo_store, spec.patient_id)
        loaded = read_image(sct / spec.image)
        vertebrae = read_label_map(sct / spec.vertebrae, reference=loaded.image)
        assert loaded.meta.orientation in ("PSR", "LAS")  # neither file is stored as LPS
        stored = read_image(record.image_path)
        _assert_same_image(stored.image, loaded.image)
        assert stored.meta.orientation == "LPS"
        assert record.image_meta["orientation"] == loaded.meta.orientation
        assert record.image_meta["input_sha256"] == loaded.meta.input_sha256
        stored_labels = read_label_map(record.vertebrae_path, reference=stored.image)
        _assert_same_image(stored_labels, vertebrae)
        expected = measure_study(loaded.image, vertebrae, convention=spec.convention,
                                 meta=loaded.meta)
        assert not expected.measured
        assert record.image_meta["label_qc"] == expected.qc.to_list()
        assert record.levels == () and record.lesion_mask_path is None


def test_demo_case_images_refuse_what_core_io_refuses(tmp_path, monkeypatch):
    """A demo file that core.io would refuse (here NaN voxels) is refused, not read."""
    import core.demo_imaging as demo_imaging

    source = REPO / "data" / "demo" / "images" / "sct" / "t2"
    (tmp_path / "t2").mkdir()
    image = sitk.Cast(sitk.ReadImage(str(source / "t2.nii.gz")), sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(image)
    array[10, 10, 10] = np.nan
    broken = sitk.GetImageFromArray(array)
    broken.CopyInformation(image)
    sitk.WriteImage(broken, str(tmp_path / "t2" / "t2.nii.gz"))
    labels = "t2_seg-manual_labeled.nii.gz"
    (tmp_path / "t2" / labels).write_bytes((source / labels).read_bytes())
    monkeypatch.setattr(demo_imaging, "SCT_DIR", tmp_path)
    with pytest.raises(ValueError, match="NaN"):
        demo_imaging.demo_case_images("DEMO-IMG-01")


def test_demo_phantoms_measure_the_same_in_the_store_and_on_the_new_case_page(
        small_demo_store):
    """One demo phantom, one image: the stored copy read back through core.io and the
    New case page's own build are the same image (pixel type, values, grid) and give
    the same StudyMetrics as the demo store recorded."""
    from ui.measure import demo_images, measure_demo

    phantoms = [d for d in demo_images() if not d.real]
    assert [d.case_id for d in phantoms] == ["DEMO-IMG-03", "DEMO-IMG-04", "DEMO-IMG-05"]
    for demo in phantoms:
        record = _stored_case(small_demo_store, demo.case_id)
        stored = read_image(record.image_path).image
        vertebrae = read_label_map(record.vertebrae_path, reference=stored)
        from_store = extract(stored, vertebrae, convention=demo.convention)
        on_page = measure_demo(demo)
        _assert_same_image(on_page.image, stored)
        _assert_same_image(on_page.vertebrae, vertebrae)
        assert _comparable(on_page.metrics) == _comparable(
            from_store.metrics)
        assert _comparable(record.metrics) == _comparable(from_store.metrics)
