"""Synthetic demonstration cohort and demo case store.

There is no public patient cohort for this question, so the demo runs on a seeded
synthetic cohort whose generative model follows the published directions (Kong et al.,
Int J Med Sci 2025;22(3):708-715: bone pain is higher with lumbar than thoracic or
cervical spinal metastases; the number of metastatic sites and the high-intensity (HI)
ratio on MRI are correlated and both go with worse pain). **Every row is synthetic
(``synthetic = true``, ids ``DEMO-0001`` ...); nothing here describes a real person and
the effect sizes are illustrative, not estimates.**

Generative model (per patient *i*, its own ``numpy`` generator seeded ``[seed, i]``, so
a patient's data do not depend on ``n_patients``)
-----------------------------------------------------------------------------------
Patient:

* primary tumour: breast 85 %, lung 5 %, prostate 5 %, kidney 5 %; sex F for breast
  (M 1 %), M for prostate, F/M 50/50 otherwise; bone lesion type (SINS): blastic /
  mixed / lytic with probabilities 0.20/0.35/0.45 (prostate 0.70/0.20/0.10);
* age at the first study ``round(N(58, 11))`` clipped to 28-90 (90 = "90 or older");
* latent disease burden ``u ~ N(0, 1)`` and pain sensitivity ``s ~ N(0, 1)``;
* studies: 1, 2, 3 or 4 with probabilities 0.50/0.20/0.18/0.12, ``U(2, 8)`` months
  apart; the first study is dated uniformly so that the last falls in 2019-2024.

Imaging (whole-spine MRI, 25 labelled levels C1-C7, T1-T12, L1-L5, sacrum; vertebral
body volumes 6 ml cervical, 12-28.5 ml thoracic, 35-43 ml lumbar, 60 ml sacrum):

* first study: ``K0 = 1 + Poisson(exp(0.5 + 0.9 u))`` lesions; each lesion lands on a
  level with probability proportional to a per-level propensity (cervical 0.5,
  thoracic 1.0, lumbar 1.3, sacrum 1.5: about 15 / 50 / 28 / 6 % of lesions by
  region) and occupies a fraction ``f = clip(LogNormal(log 0.12 + 0.35 u, 0.8),
  0.01, 0.9)`` of its vertebral body;
* follow-up: each lesion grows ``f *= LogNormal(0.12, 0.2)`` (irradiated levels shrink
  ``* 0.6`` once), and ``Poisson(0.5 exp(0.5 u) months / 6)`` new lesions appear;
* per level: HI volume ``min(0.95, sum f) * volume``, lesion count = lesions there;
  then the :mod:`core.lesions` definitions: ``lesion_count`` = sum, regional counts,
  ``involved_levels`` = levels with a lesion, ``high_intensity_ratio`` = HI volume /
  total vertebral volume, ``max_level_high_intensity_ratio`` = worst level's ratio
  (rounded to 4 decimals). Count and HI ratio share ``u`` and the lesion number, so
  they are strongly correlated.

Clinical values at each study (``expit`` = logistic function, worst level = highest
level HI ratio):

* pathologic fracture (stays once present):
  ``P = expit(-3.5 + 6 max_ratio + 0.3 log(1 + K))``;
* SINS: location from the worst level (junctional C1-C2, C7-T2, T11-L1, L5, sacrum 3;
  mobile C3-C6, L2-L4 2; semi-rigid T3-T10 1); bone lesion from the patient; collapse
  3 or 2 (0.4/0.6) with a fracture, else 1 when ``max_ratio > 0.5``, else 0; alignment
  with a fracture 4/2/0 (0.1/0.3/0.6), else 2 with 3 %; posterolateral 3 with
  ``expit(-3 + 4 max_ratio)``, else 1 with 25 %, else 0; pain from the untreated pain
  ``P*`` below: mechanical 3 with ``expit(-2 + 0.5 (P* - 4) + 1.5 fracture)``, else
  occasional 1 when ``P* >= 2.5``, else 0; total = sum;
* Bilsky grade: ``b = -2.5 + 4 max_ratio + 0.8 [posterolateral = 3] + N(0, 1)`` cut at
  0, 0.5, 1, 1.4, 2 into 0 / 1a / 1b / 1c / 2 / 3;
* neurologic deficit: ``P = expit(-4 + bilsky_ordinal (0-5) + 0.5 fracture)``;
* ECOG: ``clip(round(0.6 + 0.6 u + 0.25 log(1 + K) + 0.5 deficit + N(0, 0.6)), 0, 4)``;
* bone-modifying agent: 60 % at the first study, then started with 50 % per follow-up
  (kept once started); radiotherapy: 20 % before the first study; after a study with
  VAS >= 5, 60 % are irradiated (to the worst level) before the next study;
* untreated pain::

      P* = 2.2 + max(1.8 [lumbar], 1.0 [thoracic], 0.7 [sacral], 0.2 [cervical])
           + 0.45 log(1 + K) + 8 hi_ratio + 1.5 max_ratio + 1.2 fracture
           + 0.18 (SINS alignment + collapse + posterolateral + bone lesion points)
           + 0.9 deficit + 0.25 ECOG + s + N(0, 1.8)

  (``[region]`` = at least one lesion there; the most painful involved region counts,
  so lumbar > thoracic > cervical);
* WHO analgesic step ``clip(round((P* - 2) / 1.8 + N(0, 0.7)), 0, 3)`` (treatment
  follows pain), and analgesics *partially* control it::

      VAS = clip(round(P* - 0.45 step - 0.3 bone_modifying_agent - RT relief), 0, 10)

  with RT relief 1.5 at the first study after irradiation and 0.4 afterwards (and for
  radiotherapy before the first study). VAS is an integer 0-10.
* missing values: 10 % of studies have no SINS assessment (all six components and
  the total blank), 4 % one component blank (total blank), 20 % no Bilsky grade, 5 %
  no ECOG, 3 % no age.

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
the same store are untouched).

Regenerate the committed cohort with ``python -m core.demo --write-csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.clinical import COHORT_COLUMNS, as_cohort_frame, export_csv
from core.demo_imaging import (
    IMAGING_CASES,
    UNMEASURED_METRICS,
    ImagingCaseSpec,
    demo_case_images,
    measure_demo_case,
)
from core.demo_imaging import SCT_DIR as SCT_DIR  # re-exported: callers of core.demo use it
from core.vocab import BilskyGrade, level_region, paper_region_group, sins_location_points

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "data" / "demo"
DEMO_CSV = DEMO_DIR / "cohort.csv"
DEFAULT_SEED = 20250301
DEFAULT_PATIENTS = 300
DEMO_ACTOR = "demo-builder"
DEMO_SOURCE = "demo"

LEVELS: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "sacrum",
)
LEVEL_REGION: dict[str, str] = {name: level_region(name) for name in LEVELS}
LEVEL_VOLUME_ML: dict[str, float] = {
    **{f"C{i}": 6.0 for i in range(1, 8)},
    **{f"T{i}": 12.0 + 1.5 * (i - 1) for i in range(1, 13)},
    **{f"L{i}": 35.0 + 2.0 * (i - 1) for i in range(1, 6)},
    "sacrum": 60.0,
}
REGION_PROPENSITY: dict[str, float] = {
    "cervical": 0.5, "thoracic": 1.0, "lumbar": 1.3, "sacral": 1.5,
}
REGION_EFFECT: dict[str, float] = {
    "lumbar": 1.8, "thoracic": 1.0, "cervical": 0.2, "sacral": 0.7,
}
_FIRST_DAY = dt.date(2019, 1, 1)
_LAST_DAY = dt.date(2024, 12, 31)


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class _Patient:
    index: int
    rng: np.random.Generator
    sex: str
    primary: str
    age: int
    u: float
    s: float
    bone_lesion: int


def _make_patient(seed: int, index: int) -> _Patient:
    rng = np.random.default_rng([seed, index])
    primary = str(rng.choice(["breast", "lung", "prostate", "kidney"],
                             p=[0.85, 0.05, 0.05, 0.05]))
    if primary == "breast":
        sex = "M" if rng.random() < 0.01 else "F"
    elif primary == "prostate":
        sex = "M"
    else:
        sex = "F" if rng.random() < 0.5 else "M"
    lesion_p = [0.70, 0.20, 0.10] if primary == "prostate" else [0.20, 0.35, 0.45]
    return _Patient(
        index=index,
        rng=rng,
        sex=sex,
        primary=primary,
        age=int(np.clip(round(rng.normal(58, 11)), 28, 90)),
        u=float(rng.normal()),
        s=float(rng.normal(0, 1.0)),
        bone_lesion=int(rng.choice([0, 1, 2], p=lesion_p)),
    )


@dataclass(frozen=True)
class _Imaging:
    """Flat imaging values plus what the clinical model needs."""

    counts: dict[str, int]  # region -> lesions
    lesion_count: int
    involved_levels: int
    hi_ratio: float
    max_ratio: float
    worst_level: str | None

    def columns(self) -> dict[str, object]:
        return {
            "lesion_count": self.lesion_count,
            **{f"lesion_count_{r}": self.counts[r] for r in REGION_PROPENSITY},
            "involved_levels": self.involved_levels,
            "high_intensity_ratio": self.hi_ratio,
            "max_level_high_intensity_ratio": self.max_ratio,
        }


def _imaging_from_lesions(lesions: list[list]) -> _Imaging:
    per_level_f: dict[str, float] = {}
    per_level_n: dict[str, int] = {}
    for level, frac in lesions:
        per_level_f[level] = per_level_f.get(level, 0.0) + frac
        per_level_n[level] = per_level_n.get(level, 0) + 1
    hi_ml = {lv: min(0.95, f) * LEVEL_VOLUME_ML[lv] for lv, f in per_level_f.items()}
    ratios = {lv: hi_ml[lv] / LEVEL_VOLUME_ML[lv] for lv in hi_ml}
    total_ml = sum(LEVEL_VOLUME_ML.values())
    counts = dict.fromkeys(REGION_PROPENSITY, 0)
    for lv, n in per_level_n.items():
        counts[LEVEL_REGION[lv]] += n
    worst = max(ratios, key=lambda lv: (ratios[lv], -LEVELS.index(lv))) if ratios else None
    return _Imaging(
        counts=counts,
        lesion_count=sum(per_level_n.values()),
        involved_levels=len(per_level_n),
        hi_ratio=round(sum(hi_ml.values()) / total_ml, 4),
        max_ratio=round(max(ratios.values()), 4) if ratios else 0.0,
        worst_level=worst,
    )


def _clinical(
    rng: np.random.Generator,
    patient: _Patient,
    imaging: _Imaging,
    *,
    fracture_before: bool,
    prior_rt: bool,
    new_rt: bool,
    bma: bool,
) -> dict[str, object]:
    """One study's clinical values from imaging (the module docstring's formulas)."""
    k = imaging.lesion_count
    max_ratio = imaging.max_ratio
    fracture = fracture_before or rng.random() < _expit(-3.5 + 6 * max_ratio
                                                        + 0.3 * math.log1p(k))
    location = sins_location_points(imaging.worst_level) if imaging.worst_level else 1
    if fracture:
        collapse = 3 if rng.random() < 0.4 else 2
        alignment = int(rng.choice([4, 2, 0], p=[0.1, 0.3, 0.6]))
    else:
        collapse = 1 if max_ratio > 0.5 else 0
        alignment = 2 if rng.random() < 0.03 else 0
    if rng.random() < _expit(-3 + 4 * max_ratio):
        posterolateral = 3
    else:
        posterolateral = 1 if rng.random() < 0.25 else 0
    b = -2.5 + 4 * max_ratio + 0.8 * (posterolateral == 3) + rng.normal()
    bilsky_code = int(np.searchsorted([0.0, 0.5, 1.0, 1.4, 2.0], b, side="right"))
    deficit = rng.random() < _expit(-4 + bilsky_code + 0.5 * fracture)
    ecog = int(np.clip(round(0.6 + 0.6 * patient.u + 0.25 * math.log1p(k) + 0.5 * deficit
                             + rng.normal(0, 0.6)), 0, 4))
    involved = {r for r, n in imaging.counts.items() if n > 0}
    structural = alignment + collapse + posterolateral + patient.bone_lesion
    untreated = (
        2.2
        + max((REGION_EFFECT[r] for r in involved), default=0.0)
        + 0.45 * math.log1p(k)
        + 8 * imaging.hi_ratio
        + 1.5 * max_ratio
        + 1.2 * fracture
        + 0.18 * structural
        + 0.9 * deficit
        + 0.25 * ecog
        + patient.s
        + rng.normal(0, 1.8)
    )
    if rng.random() < _expit(-2 + 0.5 * (untreated - 4) + 1.5 * fracture):
        sins_pain = 3
    else:
        sins_pain = 1 if untreated >= 2.5 else 0
    step = int(np.clip(round((untreated - 2.0) / 1.8 + rng.normal(0, 0.7)), 0, 3))
    relief = 0.45 * step + 0.3 * bma + (1.5 if new_rt else 0.4 if prior_rt else 0.0)
    vas = int(np.clip(round(untreated - relief), 0, 10))
    return {
        "vas": vas,
        "ecog": ecog,
        "analgesic_step": step,
        "bone_modifying_agent": bool(bma),
        "prior_radiotherapy": bool(prior_rt),
        "pathologic_fracture": bool(fracture),
        "neurologic_deficit": bool(deficit),
        "sins_location": location,
        "sins_pain": sins_pain,
        "sins_bone_lesion": patient.bone_lesion,
        "sins_alignment": alignment,
        "sins_collapse": collapse,
        "sins_posterolateral": posterolateral,
        "sins_total": location + sins_pain + patient.bone_lesion + alignment + collapse
        + posterolateral,
        "bilsky_grade": BilskyGrade(bilsky_code).label,
    }


def _apply_missing(rng: np.random.Generator, row: dict[str, object]) -> None:
    sins = ["sins_location", "sins_pain", "sins_bone_lesion", "sins_alignment",
            "sins_collapse", "sins_posterolateral"]
    draw = rng.random()
    if draw < 0.10:
        for column in [*sins, "sins_total"]:
            row[column] = None
    elif draw < 0.14:
        row[sins[int(rng.integers(len(sins)))]] = None
        row["sins_total"] = None
    if rng.random() < 0.20:
        row["bilsky_grade"] = None
    if rng.random() < 0.05:
        row["ecog"] = None
    if rng.random() < 0.03:
        row["age"] = None


def _patient_rows(seed: int, index: int) -> list[dict[str, object]]:
    patient = _make_patient(seed, index)
    rng = patient.rng
    n_studies = int(rng.choice([1, 2, 3, 4], p=[0.50, 0.20, 0.18, 0.12]))
    gaps = [round(30.44 * rng.uniform(2, 8)) for _ in range(n_studies - 1)]
    latest_start = (_LAST_DAY - _FIRST_DAY).days - sum(gaps)
    day = _FIRST_DAY + dt.timedelta(days=int(rng.integers(0, latest_start + 1)))
    first_day = day

    names = list(LEVELS)
    weights = np.array([REGION_PROPENSITY[LEVEL_REGION[n]] for n in names])
    weights = weights / weights.sum()

    def new_lesions(n: int) -> list[list]:
        spots = rng.choice(len(names), size=n, p=weights)
        fracs = np.clip(rng.lognormal(math.log(0.12) + 0.35 * patient.u, 0.8, size=n),
                        0.01, 0.9)
        return [[names[int(i)], float(f)] for i, f in zip(spots, fracs, strict=True)]

    lesions = new_lesions(1 + int(rng.poisson(math.exp(0.5 + 0.9 * patient.u))))
    bma = bool(rng.random() < 0.6)
    prior_rt = bool(rng.random() < 0.2)
    new_rt = False
    fracture = False
    rows: list[dict[str, object]] = []
    for t in range(n_studies):
        if t > 0:
            months = gaps[t - 1] / 30.44
            day = day + dt.timedelta(days=gaps[t - 1])
            growth = rng.lognormal(0.12, 0.2, size=len(lesions))
            for lesion, g in zip(lesions, growth, strict=True):
                lesion[1] = float(min(0.9, lesion[1] * g))
            lesions += new_lesions(int(rng.poisson(0.5 * math.exp(0.5 * patient.u)
                                                   * months / 6)))
            bma = bma or bool(rng.random() < 0.5)
        imaging = _imaging_from_lesions(lesions)
        clinical = _clinical(rng, patient, imaging, fracture_before=fracture,
                             prior_rt=prior_rt, new_rt=new_rt, bma=bma)
        fracture = bool(clinical["pathologic_fracture"])
        age = min(90, patient.age + (day - first_day).days // 365)
        row: dict[str, object] = {
            "patient_id": f"DEMO-{index + 1:04d}",
            "study_date": day.isoformat(),
            "age": age,
            "sex": patient.sex,
            "primary_tumor": patient.primary,
            **clinical,
            **imaging.columns(),
            "synthetic": True,
        }
        _apply_missing(rng, row)
        rows.append(row)
        # Radiotherapy between this study and the next one.
        new_rt = False
        if int(clinical["vas"]) >= 5 and rng.random() < 0.6 and imaging.worst_level:
            new_rt = prior_rt = True
            for lesion in lesions:
                if lesion[0] == imaging.worst_level:
                    lesion[1] *= 0.6
    return rows


def generate_cohort(n_patients: int = DEFAULT_PATIENTS,
                    seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The synthetic demo cohort, one row per study (see the module docstring).

    Parameters
    ----------
    n_patients : int
        Number of synthetic patients (1-100000); each has 1-4 studies.
    seed : int
        Seed; patient *i* uses its own generator seeded ``[seed, i]``.

    Returns
    -------
    pandas.DataFrame
        :data:`core.clinical.COHORT_COLUMNS`, typed as
        :func:`core.clinical.as_cohort_frame`, ordered by patient then date, every
        row ``synthetic = True``.
    """
    if isinstance(n_patients, bool) or not isinstance(n_patients, int) or not (
            1 <= n_patients <= 100_000):
        raise ValueError(f"n_patients {n_patients!r} must be a whole number from 1 to 100000.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed {seed!r} must be a whole number >= 0.")
    rows = [row for i in range(n_patients) for row in _patient_rows(seed, i)]
    return as_cohort_frame(rows)[list(COHORT_COLUMNS)]


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
    """Summary figures of a cohort: sizes, mean VAS by region group, Spearman r."""
    from scipy.stats import spearmanr

    groups = paper_region_group(frame)
    by_group = frame.groupby(groups)["vas"].agg(["mean", "count"])

    def rho(a: str, b: str) -> float:
        pair = frame[[a, b]].dropna()
        return round(float(spearmanr(pair[a], pair[b]).statistic), 3)

    return {
        "patients": int(frame["patient_id"].nunique()),
        "studies": len(frame),
        "mean_vas": round(float(frame["vas"].mean()), 2),
        "mean_vas_by_region_group": {g: round(float(v), 2) for g, v in by_group["mean"].items()},
        "studies_by_region_group": {g: int(v) for g, v in by_group["count"].items()},
        "spearman_count_hi_ratio": rho("lesion_count", "high_intensity_ratio"),
        "spearman_count_vas": rho("lesion_count", "vas"),
        "spearman_hi_ratio_vas": rho("high_intensity_ratio", "vas"),
        "missing_sins_total": round(float(frame["sins_total"].isna().mean()), 3),
        "missing_bilsky_grade": round(float(frame["bilsky_grade"].isna().mean()), 3),
    }


# --------------------------------------------------------------------------- imaging cases


def _imaging_from_metrics(metrics: dict[str, object]) -> _Imaging:
    """The clinical model's imaging inputs from a ``StudyMetrics.to_dict()``; the worst
    level is the one with the highest HI ratio (none without lesions)."""
    levels = metrics["levels"]
    counts = dict(metrics["lesion_count_by_region"])
    return _Imaging(
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
    patient = _make_patient(seed, 100_000 + number)
    clinical = _clinical(patient.rng, patient,
                         _imaging_from_metrics(metrics or UNMEASURED_METRICS),
                         fracture_before=False, prior_rt=False, new_rt=False, bma=True)
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
