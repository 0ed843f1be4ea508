"""Synthetic demonstration cohort and demo case store.

The cohort's generative model lives in :mod:`core.demo_cohort` (re-exported here:
:func:`generate_cohort`, :data:`DEFAULT_SEED`, ...): pain from the metastatic burden
(per-lesion effect lumbar and sacral > thoracic > cervical, lesion count and HI ratio
correlated), pain-independent findings and noise; treatment (analgesic step, prior
radiotherapy) generated *from* the pain, never the other way round. **Every row is
synthetic; nothing here describes a real person and the effect sizes are illustrative.**
This module writes the committed CSV, summarises a cohort (:func:`cohort_statistics`)
and builds the demo case store.

Demo store
----------
:func:`build_demo_store` writes the cohort (patients / studies / clinical values /
study features) plus imaging cases ``DEMO-IMG-01`` ...: real MRI from the Spinal Cord
Toolbox testing data bundled in ``data/demo/images/sct`` (MIT) and seeded phantoms from
:func:`core.phantom.make_spine_phantom`, both taken from
:func:`core.demo_imaging.demo_case_images` (the images the New case page measures),
each measured with :func:`core.lesions.extract` and stored de-identified with its
per-level metrics; their clinical values come from
the same model as the cohort. Rebuilding replaces every synthetic patient (real data in
the same store are untouched). :data:`SURVEILLANCE_DEMO_PATIENT` is a patient with
three studies whose alerts fire (the surveillance page's demo).

Regenerate the committed cohort with ``python -m core.demo --write-csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from core.clinical import export_csv
from core.demo_cohort import (
    DEFAULT_PATIENTS,
    DEFAULT_SEED,
    LESION_PAIN_WEIGHT,
    LEVELS,
    REGION_PROPENSITY,
    Course,
    Imaging,
    generate_cohort,
    make_patient,
    study_values,
)
from core.demo_imaging import (
    IMAGING_CASES,
    UNMEASURED_METRICS,
    ImagingCaseSpec,
    demo_case_images,
    measure_demo_case,
)
from core.demo_imaging import SCT_DIR as SCT_DIR  # re-exported: callers of core.demo use it
from core.vocab import DEFICIT_STATES, SINS_NON_PAIN_COMPONENTS, paper_region_group

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "data" / "demo"
DEMO_CSV = DEMO_DIR / "cohort.csv"
DEMO_ACTOR = "demo-builder"
DEMO_SOURCE = "demo"
#: A demo patient with three studies for the surveillance page: a new involved level and a
#: new pathologic fracture at the second study (the generator draws each patient from its
#: own seed, so this holds for every cohort size >= 3 with :data:`DEFAULT_SEED`).
SURVEILLANCE_DEMO_PATIENT = "DEMO-0003"

__all__ = [
    "DEFAULT_PATIENTS", "DEFAULT_SEED", "DEMO_ACTOR",
    "DEMO_CSV", "DEMO_DIR", "DEMO_SOURCE", "IMAGING_CASES", "LESION_PAIN_WEIGHT", "LEVELS",
    "REGION_PROPENSITY", "SCT_DIR", "build_demo_store", "cohort_statistics", "demo_csv_bytes",
    "generate_cohort", "main", "write_demo_csv",
]


def demo_csv_bytes(n_patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED) -> bytes:
    """The exact bytes of ``data/demo/cohort.csv`` (via :func:`core.clinical.export_csv`)."""
    return export_csv(generate_cohort(n_patients, seed))


def write_demo_csv(path: str | Path = DEMO_CSV, *, n_patients: int = DEFAULT_PATIENTS,
                   seed: int = DEFAULT_SEED) -> Path:
    """Write the demo cohort CSV (deterministic bytes) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(demo_csv_bytes(n_patients, seed))
    return path


def cohort_statistics(frame: pd.DataFrame) -> dict[str, object]:
    """Summary figures of a cohort: sizes, mean VAS by region group and by deficit state,
    Spearman r between burden, findings, treatment and VAS, missingness."""
    from scipy.stats import spearmanr

    groups = paper_region_group(frame)
    by_group = frame.groupby(groups)["vas"].agg(["mean", "count"])
    by_deficit = frame.groupby("neurologic_deficit")["vas"].agg(["mean", "count"])
    sins_np = frame[list(SINS_NON_PAIN_COMPONENTS)].sum(axis=1, min_count=5)

    def rho(a: pd.Series, b: pd.Series) -> float:
        pair = pd.concat([a, b], axis=1).dropna()
        return round(float(spearmanr(pair.iloc[:, 0], pair.iloc[:, 1]).statistic), 3)

    vas = frame["vas"]
    return {
        "patients": int(frame["patient_id"].nunique()),
        "studies": len(frame),
        "mean_vas": round(float(vas.mean()), 2),
        "mean_vas_by_region_group": {g: round(float(v), 2) for g, v in by_group["mean"].items()},
        "studies_by_region_group": {g: int(v) for g, v in by_group["count"].items()},
        "mean_vas_by_deficit": {d: round(float(by_deficit["mean"][d]), 2)
                                for d in DEFICIT_STATES if d in by_deficit.index},
        "studies_by_deficit": {d: int(by_deficit["count"][d])
                               for d in DEFICIT_STATES if d in by_deficit.index},
        "spearman_count_hi_ratio": rho(frame["lesion_count"], frame["high_intensity_ratio"]),
        "spearman_count_vas": rho(frame["lesion_count"], vas),
        "spearman_hi_ratio_vas": rho(frame["high_intensity_ratio"], vas),
        "spearman_sins_without_pain_vas": rho(sins_np, vas),
        "spearman_analgesic_step_vas": rho(frame["analgesic_step"], vas),
        "missing_sins_total": round(float(frame["sins_total"].isna().mean()), 3),
        "missing_bilsky_grade": round(float(frame["bilsky_grade"].isna().mean()), 3),
    }


# --------------------------------------------------------------------------- imaging cases


def _imaging_from_metrics(metrics: dict[str, object]) -> Imaging:
    """The clinical model's imaging inputs from a ``StudyMetrics.to_dict()``; the worst
    level is the one with the highest HI ratio (none without lesions)."""
    levels = metrics["levels"]
    counts = dict(metrics["lesion_count_by_region"])
    return Imaging(
        counts={r: int(counts.get(r, 0)) for r in REGION_PROPENSITY},
        lesion_count=int(metrics["lesion_count"]),
        involved_levels=len(metrics["involved_levels"]),
        hi_ratio=float(metrics["high_intensity_ratio"]),
        max_ratio=float(metrics["max_level_high_intensity_ratio"]),
        worst_level=(max(levels, key=lambda lv: lv["high_intensity_ratio"])["level"]
                     if metrics["lesion_count"] else None),
    )


def _imaging_case_input(seed: int, number: int, spec: ImagingCaseSpec):
    """Measure demo imaging case ``number`` (1-based) and give it clinical values from
    patient ``100000 + number`` of the cohort model; returns a ``CaseInput``."""
    from core.store import CaseInput

    images = demo_case_images(spec.patient_id)
    # Label QA first: the SCT cord-level cases are stored with their image, labels and QA
    # result (in image_meta["label_qc"]) but no bone measurement (issue 10).
    study = measure_demo_case(spec, images)
    metrics = study.result.metrics.to_dict() if study.result is not None else None
    patient = make_patient(seed, 100_000 + number)
    clinical = study_values(patient, _imaging_from_metrics(metrics or UNMEASURED_METRICS),
                            Course(bone_modifying_agent=True), patient.age, first=True)
    clinical.update(age=patient.age, sex=patient.sex, primary_tumor=patient.primary)
    study_date = (dt.date(2024, 1, 8) + dt.timedelta(days=7 * number)).isoformat()
    return CaseInput(
        patient_id=spec.patient_id, study_date=study_date, clinical=clinical,
        metrics=metrics, image=images.image,
        image_meta={**images.meta, "label_qc": study.qc.to_list()},
        vertebrae=study.vertebrae,
        lesion_mask=study.result.lesion_mask if study.result is not None else None,
        synthetic=True,
    )


def _imaging_case_inputs(seed: int) -> tuple[list, list[dict[str, object]]]:
    """Extract every demo imaging case; return (CaseInput list, summary list)."""
    inputs, summary = [], []
    for number, spec in enumerate(IMAGING_CASES, start=1):
        case = _imaging_case_input(seed, number, spec)
        inputs.append(case)
        measured = case.metrics is not None
        summary.append({"patient_id": spec.patient_id, "description": spec.description,
                        "measured": measured,
                        "lesion_count": case.metrics["lesion_count"] if measured else None,
                        "involved_levels": case.metrics["involved_levels"] if measured
                        else None,
                        "label_qc": [f["code"] for f in case.image_meta["label_qc"]]})
    return inputs, summary


def build_demo_store(url: str | None = None, *, seed: int = DEFAULT_SEED,
                     n_patients: int = DEFAULT_PATIENTS,
                     data_dir: str | Path | None = None) -> dict[str, object]:
    """Build (or rebuild) the demo case store.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL (default: the store's default SQLite file).
    seed, n_patients
        Passed to :func:`generate_cohort`; the imaging cases' clinical values use
        ``seed`` too.
    data_dir : str or Path, optional
        The store's data directory (images); see :class:`core.store.CaseStore`.

    Returns
    -------
    dict
        ``url`` (password hidden), ``data_dir``, ``patients``, ``studies``,
        ``imaging_cases`` (id, description, ``measured``, lesion count and involved
        levels or ``None`` when label QA refused the map, ``label_qc`` codes),
        ``studies_removed`` (synthetic studies replaced), ``cohort`` statistics.

    Notes
    -----
    Idempotent: every synthetic patient in the store is replaced in one transaction,
    real patients are untouched; the audit log gets one ``build-demo`` entry.
    """
    from core.store import CaseStore

    cohort = generate_cohort(n_patients, seed)
    cases, imaging_summary = _imaging_case_inputs(seed)
    store = CaseStore(url, data_dir=data_dir)
    try:
        result = store.replace_synthetic(
            cohort, cases, source=DEMO_SOURCE, actor=DEMO_ACTOR,
            details={"seed": seed, "n_patients": n_patients},
        )
        counts = store.counts()
    finally:
        store.close()
    return {
        "url": store.url,
        "data_dir": str(store.data_dir),
        "patients": n_patients + len(cases),
        "studies": len(cohort) + len(cases),
        "imaging_cases": imaging_summary,
        "studies_removed": result["studies_removed"],
        "store_counts": counts,
        "cohort": cohort_statistics(cohort),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m core.demo --write-csv [PATH]``: regenerate the committed cohort."""
    parser = argparse.ArgumentParser(prog="python -m core.demo",
                                     description="Regenerate the synthetic demo cohort.")
    parser.add_argument("--write-csv", nargs="?", const=str(DEMO_CSV), metavar="PATH",
                        help=f"write the cohort CSV (default {DEMO_CSV.relative_to(REPO)})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
    args = parser.parse_args(argv)
    if not args.write_csv:
        parser.print_help()
        return 2
    path = write_demo_csv(args.write_csv, n_patients=args.patients, seed=args.seed)
    frame = generate_cohort(args.patients, args.seed)
    sys.stdout.write(f"wrote {path}\n")
    sys.stdout.write(f"{cohort_statistics(frame)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
