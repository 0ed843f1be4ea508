"""The synthetic demonstration cohort's generative model (:func:`generate_cohort`).

There is no public patient cohort for this question, so the demo runs on a seeded
synthetic cohort whose generative model follows the published directions (Kong et al.,
Int J Med Sci 2025;22(3):708-715: bone pain is higher with lumbar than thoracic, and
thoracic than cervical, spinal metastases; the number of metastatic sites and the
high-intensity (HI) ratio on MRI are correlated and both go with worse pain). **Every
row is synthetic (``synthetic = true``, ids ``DEMO-0001`` ...); nothing here describes a
real person and the effect sizes are illustrative, not estimates.**

Pain is generated from the metastatic burden, pain-independent clinical findings and
noise, never from treatment; treatment is generated *from* pain (as in reality: the
analgesic step follows the pain, radiotherapy follows painful studies). A model trained
on this cohort must therefore not read the analgesic step or prior radiotherapy as
predictors (they would predict pain from pain), and :mod:`core.features` does not.

Generative model (per patient *i*: a findings generator seeded ``[seed, i]``, an
analgesic-step generator ``[seed, i, 1]`` and a radiotherapy / bone-modifying-agent
generator ``[seed, i, 2]``, so a patient's data do not depend on ``n_patients`` and how
the analgesic step is drawn cannot change anything else)
----------------------------------------------------------------------------------
Patient:

* primary tumour: breast 85 %, lung 5 %, prostate 5 %, kidney 5 %; sex F for breast
  (M 1 %), M for prostate, F/M 50/50 otherwise; bone lesion type (SINS): blastic /
  mixed / lytic with probabilities 0.20/0.35/0.45 (prostate 0.70/0.20/0.10);
* age at the first study ``round(N(58, 11))`` clipped to 28-90 (90 = "90 or older");
* latent disease burden ``u ~ N(0, 1)`` and pain sensitivity ``s ~ N(0, 1)``;
* studies: 1, 2, 3 or 4 with probabilities 0.50/0.20/0.18/0.12, ``U(2, 8)`` months
  apart; the first study is dated uniformly so that the last falls in 2019-2024.

Imaging (whole-spine STIR / T2 fat-sat MRI, which the model card records as the training
sequences and field of view; 25 labelled levels C1-C7, T1-T12, L1-L5, sacrum; vertebral
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

Clinical findings at each study (``expit`` = logistic function, worst level = highest
level HI ratio), none of them a function of pain:

* pathologic fracture (stays once present):
  ``P = expit(-3.5 + 6 max_ratio + 0.3 log(1 + K))``;
* SINS without its pain part: location from the worst level (junctional C1-C2, C7-T2,
  T11-L1, L5, sacrum 3; mobile C3-C6, L2-L4 2; semi-rigid T3-T10 1); bone lesion from
  the patient; collapse 3 or 2 (0.4/0.6) with a fracture, else 1 when
  ``max_ratio > 0.5``, else 0; alignment with a fracture 4/2/0 (0.1/0.3/0.6), else 2
  with 3 %; posterolateral 3 with ``expit(-3 + 4 max_ratio)``, else 1 with 25 %, else 0;
* Bilsky grade: ``b = -2.5 + 4 max_ratio + 0.8 [posterolateral = 3] + N(0, 1)`` cut at
  0, 0.5, 1, 1.4, 2 into 0 / 1a / 1b / 1c / 2 / 3 (code 0-5);
* neurologic deficit, three states: a patient without a deficit develops one with
  ``P = expit(-4 + Bilsky code + 0.5 fracture)``, ``new_or_progressive`` (at the first
  study 35 % of them are a known ``stable`` deficit); a deficit persists, ``stable`` with
  70 % and ``new_or_progressive`` (progression) with 30 % at each follow-up;
* ECOG: ``clip(round(0.6 + 0.6 u + 0.25 log(1 + K) + 0.5 [deficit] + N(0, 0.6)), 0, 4)``.

Pain (the VAS at the study, an integer 0-10)::

    pain = 0.5 + R + 1.0 log(1 + B) + 7 hi_ratio + 1.5 max_ratio + 1.0 fracture
           + 0.15 (SINS alignment + collapse + posterolateral + bone lesion points)
           + 0.2 Bilsky code + D[deficit] + 0.2 ECOG - 0.015 (age - 58) + s + N(0, 1.6)
    VAS  = clip(round(pain), 0, 10)

with the *burden* ``B = sum over lesions of w[region]``, ``w`` = 1.0 lumbar and sacral
(weight-bearing), 0.6 thoracic, 0.2 cervical (:data:`LESION_PAIN_WEIGHT`), and ``R``
the most painful involved region, 1.4 lumbar, 1.2 sacral, 1.0 thoracic, 0 cervical
(:data:`REGION_PAIN`): every lesion raises pain, a lumbar or sacral one most and a
cervical one least, with diminishing increments; ``D`` = 0 none, 0.5 stable, 1.2 new
or progressive.

What follows from the pain (never an input to it):

* SINS pain: mechanical 3 with ``expit(-2 + 0.5 (pain - 4) + 1.5 fracture)``, else
  occasional 1 when ``pain >= 2.5``, else 0; ``sins_total`` = the six parts;
* neuropathic (radicular) pain component: ``P = expit(-2.5 + 1.2 [deficit] +
  0.8 [posterolateral = 3] + 0.25 (VAS - 5))``;
* WHO analgesic step ``clip(round((VAS - 2) / 1.8 + N(0, 0.7)), 0, 3)`` (its own
  generator);
* radiotherapy: 20 % before the first study; after a study with VAS >= 5, 60 % are
  irradiated (to the worst level, whose lesions shrink) before the next study
  (``prior_radiotherapy`` from then on); bone-modifying agent: 60 % at the first study,
  then started with 50 % per follow-up (kept once started); both from the treatment
  generator ``[seed, i, 2]`` (radiotherapy acts on later pain only through the imaging
  burden it shrinks).

Missing values: 10 % of studies have no SINS assessment (all six components and the
total blank), 4 % one component blank (total blank), 20 % no Bilsky grade, 5 % no
ECOG, 3 % no age, 30 % no neuropathic-pain entry.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.clinical import COHORT_COLUMNS, as_cohort_frame
from core.vocab import SINS_COMPONENTS, BilskyGrade, level_region, sins_location_points

DEFAULT_SEED = 20250301
DEFAULT_PATIENTS = 300

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
#: Pain weight of one lesion by region in the burden ``B`` (module docstring).
LESION_PAIN_WEIGHT: dict[str, float] = {
    "cervical": 0.2, "thoracic": 0.6, "lumbar": 1.0, "sacral": 1.0,
}
#: Pain of the most painful involved region, ``R`` (module docstring).
REGION_PAIN: dict[str, float] = {
    "cervical": 0.0, "thoracic": 1.0, "lumbar": 1.4, "sacral": 1.2,
}
#: Pain added by the neurologic deficit state.
DEFICIT_PAIN: dict[str, float] = {"none": 0.0, "stable": 0.5, "new_or_progressive": 1.2}
_FIRST_DAY = dt.date(2019, 1, 1)
_LAST_DAY = dt.date(2024, 12, 31)


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class _Patient:
    index: int
    rng: np.random.Generator  # findings and pain
    step_rng: np.random.Generator  # the analgesic step only
    treatment_rng: np.random.Generator  # radiotherapy and bone-modifying agent
    sex: str
    primary: str
    age: int
    u: float
    s: float
    bone_lesion: int


def make_patient(seed: int, index: int) -> _Patient:
    """Synthetic patient ``index``: its two generators and fixed characteristics."""
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
        index=index, rng=rng, step_rng=np.random.default_rng([seed, index, 1]),
        treatment_rng=np.random.default_rng([seed, index, 2]),
        sex=sex, primary=primary, age=int(np.clip(round(rng.normal(58, 11)), 28, 90)),
        u=float(rng.normal()), s=float(rng.normal(0, 1.0)),
        bone_lesion=int(rng.choice([0, 1, 2], p=lesion_p)),
    )


@dataclass(frozen=True)
class Imaging:
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


def _imaging_from_lesions(lesions: list[list]) -> Imaging:
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
    return Imaging(
        counts=counts,
        lesion_count=sum(per_level_n.values()),
        involved_levels=len(per_level_n),
        hi_ratio=round(sum(hi_ml.values()) / total_ml, 4),
        max_ratio=round(max(ratios.values()), 4) if ratios else 0.0,
        worst_level=worst,
    )


@dataclass
class Course:
    """What carries over from one study of a patient to the next."""

    fracture: bool = False
    deficit: str = "none"
    bone_modifying_agent: bool = False
    prior_radiotherapy: bool = False


def _deficit(rng: np.random.Generator, before: str, bilsky_code: int, fracture: bool, *,
             first: bool) -> str:
    """The neurologic-deficit state (module docstring)."""
    if before != "none":
        return "stable" if rng.random() < 0.7 else "new_or_progressive"
    if rng.random() >= _expit(-4 + bilsky_code + 0.5 * fracture):
        return "none"
    return "stable" if first and rng.random() < 0.35 else "new_or_progressive"


def _findings(rng: np.random.Generator, patient: _Patient, imaging: Imaging, course: Course,
              *, first: bool) -> dict[str, object]:
    """Fracture, SINS without pain, Bilsky code, deficit and ECOG: not functions of pain."""
    k, max_ratio = imaging.lesion_count, imaging.max_ratio
    fracture = course.fracture or bool(
        rng.random() < _expit(-3.5 + 6 * max_ratio + 0.3 * math.log1p(k)))
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
    deficit = _deficit(rng, course.deficit, bilsky_code, fracture, first=first)
    ecog = int(np.clip(round(0.6 + 0.6 * patient.u + 0.25 * math.log1p(k)
                             + 0.5 * (deficit != "none") + rng.normal(0, 0.6)), 0, 4))
    return {
        "pathologic_fracture": fracture, "bilsky_code": bilsky_code,
        "neurologic_deficit": deficit, "ecog": ecog,
        "sins_location": (sins_location_points(imaging.worst_level)
                          if imaging.worst_level else 1),
        "sins_bone_lesion": patient.bone_lesion, "sins_alignment": alignment,
        "sins_collapse": collapse, "sins_posterolateral": posterolateral,
    }


def pain_score(rng: np.random.Generator, patient: _Patient, imaging: Imaging,
               findings: dict[str, object], age: int) -> float:
    """The (unrounded) pain of a study from burden, findings and noise (module docstring).

    No treatment enters it; the noise is the last draw of the findings generator.
    """
    burden = sum(LESION_PAIN_WEIGHT[r] * n for r, n in imaging.counts.items())
    region = max((REGION_PAIN[r] for r, n in imaging.counts.items() if n), default=0.0)
    structural = sum(int(findings[c]) for c in ("sins_alignment", "sins_collapse",  # type: ignore[call-overload]
                                                "sins_posterolateral", "sins_bone_lesion"))
    return (0.5 + region + math.log1p(burden) + 7 * imaging.hi_ratio + 1.5 * imaging.max_ratio
            + 1.0 * bool(findings["pathologic_fracture"]) + 0.15 * structural
            + 0.2 * int(findings["bilsky_code"])  # type: ignore[call-overload]
            + DEFICIT_PAIN[str(findings["neurologic_deficit"])]
            + 0.2 * int(findings["ecog"])  # type: ignore[call-overload]
            - 0.015 * (age - 58) + patient.s + rng.normal(0, 1.6))


def analgesic_step(step_rng: np.random.Generator, vas: int) -> int:
    """The WHO step the patient is on: it follows the pain (module docstring)."""
    return int(np.clip(round((vas - 2.0) / 1.8 + step_rng.normal(0, 0.7)), 0, 3))


def study_values(patient: _Patient, imaging: Imaging, course: Course, age: int, *,
                 first: bool) -> dict[str, object]:
    """Clinical values of one study (findings, pain, what follows from pain); updates
    ``course`` (fracture and deficit persist)."""
    rng = patient.rng
    findings = _findings(rng, patient, imaging, course, first=first)
    pain = pain_score(rng, patient, imaging, findings, age)
    vas = int(np.clip(round(pain), 0, 10))
    fracture = bool(findings["pathologic_fracture"])
    if rng.random() < _expit(-2 + 0.5 * (pain - 4) + 1.5 * fracture):
        sins_pain = 3
    else:
        sins_pain = 1 if pain >= 2.5 else 0
    deficit = str(findings.pop("neurologic_deficit"))
    neuropathic = bool(rng.random() < _expit(
        -2.5 + 1.2 * (deficit != "none") + 0.8 * (findings["sins_posterolateral"] == 3)
        + 0.25 * (vas - 5)))
    course.fracture, course.deficit = fracture, deficit
    bilsky = BilskyGrade(int(findings.pop("bilsky_code"))).label  # type: ignore[call-overload]
    parts = {**{c: findings[c] for c in SINS_COMPONENTS if c != "sins_pain"},
             "sins_pain": sins_pain}
    return {
        "vas": vas, "ecog": findings["ecog"],
        "analgesic_step": analgesic_step(patient.step_rng, vas),
        "bone_modifying_agent": course.bone_modifying_agent,
        "prior_radiotherapy": course.prior_radiotherapy,
        "pathologic_fracture": fracture, "neurologic_deficit": deficit,
        "neuropathic_pain": neuropathic,
        **{c: parts[c] for c in SINS_COMPONENTS},
        "sins_total": sum(int(v) for v in parts.values()),  # type: ignore[call-overload]
        "bilsky_grade": bilsky,
    }


def _apply_missing(rng: np.random.Generator, row: dict[str, object]) -> None:
    draw = rng.random()
    if draw < 0.10:
        for column in [*SINS_COMPONENTS, "sins_total"]:
            row[column] = None
    elif draw < 0.14:
        row[SINS_COMPONENTS[int(rng.integers(len(SINS_COMPONENTS)))]] = None
        row["sins_total"] = None
    if rng.random() < 0.20:
        row["bilsky_grade"] = None
    if rng.random() < 0.05:
        row["ecog"] = None
    if rng.random() < 0.03:
        row["age"] = None
    if rng.random() < 0.30:
        row["neuropathic_pain"] = None


def _dates(rng: np.random.Generator, n_studies: int) -> list[dt.date]:
    gaps = [round(30.44 * rng.uniform(2, 8)) for _ in range(n_studies - 1)]
    latest_start = (_LAST_DAY - _FIRST_DAY).days - sum(gaps)
    day = _FIRST_DAY + dt.timedelta(days=int(rng.integers(0, latest_start + 1)))
    days = [day]
    for gap in gaps:
        days.append(days[-1] + dt.timedelta(days=gap))
    return days


def _patient_rows(seed: int, index: int) -> list[dict[str, object]]:
    patient = make_patient(seed, index)
    rng, trng = patient.rng, patient.treatment_rng
    n_studies = int(rng.choice([1, 2, 3, 4], p=[0.50, 0.20, 0.18, 0.12]))
    days = _dates(rng, n_studies)
    weights = np.array([REGION_PROPENSITY[LEVEL_REGION[n]] for n in LEVELS])
    weights = weights / weights.sum()

    def new_lesions(n: int) -> list[list]:
        spots = rng.choice(len(LEVELS), size=n, p=weights)
        fracs = np.clip(rng.lognormal(math.log(0.12) + 0.35 * patient.u, 0.8, size=n),
                        0.01, 0.9)
        return [[LEVELS[int(i)], float(f)] for i, f in zip(spots, fracs, strict=True)]

    lesions = new_lesions(1 + int(rng.poisson(math.exp(0.5 + 0.9 * patient.u))))
    course = Course(bone_modifying_agent=bool(trng.random() < 0.6),
                    prior_radiotherapy=bool(trng.random() < 0.2))
    rows: list[dict[str, object]] = []
    for t, day in enumerate(days):
        if t > 0:
            months = (day - days[t - 1]).days / 30.44
            growth = rng.lognormal(0.12, 0.2, size=len(lesions))
            for lesion, g in zip(lesions, growth, strict=True):
                lesion[1] = float(min(0.9, lesion[1] * g))
            lesions += new_lesions(int(rng.poisson(0.5 * math.exp(0.5 * patient.u)
                                                   * months / 6)))
            course.bone_modifying_agent = course.bone_modifying_agent or bool(
                trng.random() < 0.5)
        imaging = _imaging_from_lesions(lesions)
        age = min(90, patient.age + (day - days[0]).days // 365)
        clinical = study_values(patient, imaging, course, age, first=t == 0)
        row: dict[str, object] = {
            "patient_id": f"DEMO-{index + 1:04d}", "study_date": day.isoformat(),
            "age": age, "sex": patient.sex, "primary_tumor": patient.primary,
            **clinical, **imaging.columns(), "synthetic": True,
        }
        _apply_missing(rng, row)
        rows.append(row)
        # Radiotherapy between this study and the next one follows a painful study.
        if int(clinical["vas"]) >= 5 and trng.random() < 0.6 and imaging.worst_level:  # type: ignore[call-overload]
            course.prior_radiotherapy = True
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
        Seed; patient *i* uses its own generators seeded ``[seed, i]`` (findings, pain),
        ``[seed, i, 1]`` (analgesic step) and ``[seed, i, 2]`` (radiotherapy,
        bone-modifying agent).

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
