"""Teaching mode: the paper's three findings, an anonymised case library, a seeded quiz
and the SHAP difference of two cases.

Pure: frames and :class:`~core.explain.Explanation` in, frames and frozen dataclasses
out; every draw takes a ``seed``.

* :data:`FINDINGS`: Kong et al.'s three findings, each with the claim, the citation,
  what to look for on the loaded cohort's chart, and :func:`caution` (the demo cohort
  is synthetic; the paper reports 45 patients).
* :func:`case_library`: one anonymised row per assessed study with a recorded VAS: a
  seeded case label (``Case 017``), no patient id, study id shown or date; age in
  decades; tags (:data:`TAGS`) and a difficulty (:data:`DIFFICULTY_RULE`).
* :func:`draw_quiz`: cases drawn without replacement with a seed;
  :func:`expected_action` reads the action from the advice; :func:`grade` scores an
  answer.
* :func:`suggest_pairs`: a lumbar and a thoracic-only case with similar burden;
  :func:`shap_difference` / :func:`grouped_difference`: where their SHAP values differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from core.explain import GROUP_LABELS, Explanation, grouped_shap
from core.features import FEATURES_BY_NAME, display_feature
from core.tiers import TierDecision
from core.vocab import CATEGORIES, paper_region_group, vas_categories

PAPER_CITATION = "Kong et al., Int J Med Sci 2025;22(3):708-715"
#: Patients in the paper (breast cancer with spinal metastases).
PAPER_PATIENTS = 45
DEFAULT_SEED = 2025


@dataclass(frozen=True)
class Finding:
    """One of the paper's findings for the guided walk-through.

    ``chart`` names the cohort chart the page draws for it (``region``,
    ``burden_correlation``, ``burden_pain``).
    """

    key: str
    title: str
    claim: str
    look_for: tuple[str, ...]
    chart: str
    citation: str = PAPER_CITATION


FINDINGS: tuple[Finding, ...] = (
    Finding(
        "region", "1 · Lumbar metastases hurt most",
        "Bone pain was higher with lumbar than with thoracic or cervical spinal metastases.",
        ("The lumbar box sits higher than the thoracic-only and cervical-only boxes.",
         "The pairwise tests: each pair's Holm-adjusted p and its effect size r (how often a "
         "lumbar study has more pain than a thoracic one, minus the reverse).",
         "Group sizes: a group of a handful of studies gives a wide interval, whatever its "
         "median."),
        "region"),
    Finding(
        "burden_correlation", "2 · More sites, more high-intensity marrow",
        "The number of metastatic sites and the MRI high-intensity (HI) ratio were "
        "correlated.",
        ("Points rise from left to right; Spearman's rho and its interval say how tightly.",
         "The Theil-Sen line follows the bulk of the points, not the outliers.",
         "Counts are whole numbers: the points are jittered sideways so they do not hide "
         "each other."),
        "burden_correlation"),
    Finding(
        "burden_pain", "3 · Both predict worse pain",
        "Both the number of metastatic sites and the HI ratio were associated with worse "
        "pain.",
        ("Mean pain climbs across the bins of lesion count and of HI ratio.",
         "The error bars are 95 % intervals (Student t); bins with few studies have wide "
         "bars.",
         "Count and HI ratio move together (finding 2), so their associations with pain "
         "overlap: neither is shown to act alone."),
        "burden_pain"),
)
FINDINGS_BY_KEY: Mapping[str, Finding] = MappingProxyType({f.key: f for f in FINDINGS})


def caution(n_patients: int, synthetic_share: float) -> str:
    """What the loaded cohort is, next to what the paper studied."""
    if synthetic_share > 0:
        share = "all" if synthetic_share >= 1 else f"{100 * synthetic_share:.0f} %"
        return (f"Caution: {share} of the loaded cohort ({n_patients} patients) is "
                "synthetic demo data generated to follow the paper's directions, so it "
                "shows them by construction; it is no evidence. The paper reports "
                f"{PAPER_PATIENTS} patients with breast cancer ({PAPER_CITATION}).")
    return (f"The loaded cohort has {n_patients} patients; the paper reports "
            f"{PAPER_PATIENTS} patients with breast cancer ({PAPER_CITATION}). Associations "
            "in one cohort are not causes.")


# ----------------------------------------------------------------------- library

#: Tags of the case library: name -> what it means.
TAGS: Mapping[str, str] = MappingProxyType({
    "lumbar": "any lumbar lesion",
    "thoracic only": "lesions in the thoracic spine only",
    "cervical only": "lesions in the cervical spine only",
    "override": "a safety override leads the advice",
    "no lesion": "no lesion measured: confirm the pain source first",
    "discordant": "recorded pain category differs from the model's",
    "fracture": "pathologic fracture recorded",
})
DIFFICULTY_LEVELS: tuple[str, ...] = ("easy", "medium", "hard")
DIFFICULTY_RULE = ("hard: the recorded pain category differs from the model's, or the "
                   "model's most likely category has a probability below 50 %; easy: "
                   "neither, and that probability is at least 70 %; medium: the rest.")
#: Columns of :func:`case_library` a page may show (no identifier among them).
LIBRARY_DISPLAY_COLUMNS: tuple[str, ...] = (
    "case", "difficulty", "tags", "age_band", "sex", "primary_tumor", "region_group",
    "lesion_count", "involved_levels", "high_intensity_ratio",
)
_NEEDED = ("study_id", "patient_id", "vas", "category", "headline_source",
           *(f"p_{c}" for c in CATEGORIES))


def _age_band(age: pd.Series) -> pd.Series:
    """Age in decades (``"50-59"``, ``"90 or older"``, ``"not recorded"``)."""
    years = pd.to_numeric(age, errors="coerce")
    low = (np.floor(years / 10) * 10).clip(upper=90)
    names = {d: (f"{int(d)}-{int(d) + 9}" if d < 90 else "90 or older")
             for d in pd.unique(low.dropna())}
    return low.map(names).fillna("not recorded").astype(object)


def case_library(scored: pd.DataFrame, *, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The anonymised case library of assessed studies with a recorded VAS.

    Parameters
    ----------
    scored : pandas.DataFrame
        :func:`core.assess.assess_frame` of the stored studies.
    seed : int
        Seeds the case labels' order (labels do not follow store order).

    Returns
    -------
    pandas.DataFrame
        Sorted by ``case``; :data:`LIBRARY_DISPLAY_COLUMNS` plus ``study_id`` (for the
        page to fetch the case; never shown), ``patient_key`` (an anonymous integer per
        patient), ``recorded_category``, ``category``, ``tag_<name>`` booleans and the
        imaging and clinical columns of ``scored``.
    """
    missing = [c for c in _NEEDED if c not in scored.columns]
    if missing:
        raise ValueError(f"the scored studies lack the column {missing[0]!r}.")
    ok = scored["category"].notna() & pd.to_numeric(scored["vas"], errors="coerce").notna()
    if "assessment_error" in scored.columns:
        ok &= scored["assessment_error"].isna()
    lib = scored[ok].copy()
    lib["recorded_category"] = vas_categories(lib["vas"])
    lib["region_group"] = paper_region_group(lib)
    top = lib[[f"p_{c}" for c in CATEGORIES]].max(axis=1)
    discordant = lib["recorded_category"] != lib["category"]
    tags = {
        "lumbar": pd.to_numeric(lib["lesion_count_lumbar"], errors="coerce").fillna(0) > 0,
        "thoracic only": lib["region_group"] == "thoracic only",
        "cervical only": lib["region_group"] == "cervical only",
        "override": lib["headline_source"] == "override",
        "no lesion": lib["headline_source"] == "no_lesion",
        "discordant": discordant,
        "fracture": lib["pathologic_fracture"].astype("boolean").fillna(False).astype(bool)
        if "pathologic_fracture" in lib.columns else pd.Series(False, index=lib.index),
    }
    text = pd.Series("", index=lib.index)
    for name, hit in tags.items():
        lib[f"tag_{name}"] = hit.to_numpy(dtype=bool)
        text = text.where(~hit, text.where(text == "", text + ", ") + name)
    lib["tags"] = text
    hard = discordant | (top < 0.5)
    lib["difficulty"] = np.where(hard, "hard", np.where(top >= 0.7, "easy", "medium"))
    lib["age_band"] = _age_band(lib.get("age", pd.Series(np.nan, index=lib.index)))
    lib["patient_key"] = pd.factorize(lib["patient_id"])[0]
    order = np.random.default_rng(seed).permutation(len(lib))
    lib["case"] = [f"Case {i + 1:03d}" for i in order]
    lib = lib.drop(columns=["patient_id", "study_date"], errors="ignore")
    return lib.sort_values("case").reset_index(drop=True)


def filter_library(library: pd.DataFrame, *, tags: Sequence[str] = (),
                   difficulty: Sequence[str] = ()) -> pd.DataFrame:
    """Cases with **all** of ``tags`` and one of ``difficulty`` (empty = any)."""
    unknown = [t for t in tags if t not in TAGS]
    if unknown:
        raise ValueError(f"tag {unknown[0]!r} is not one of {', '.join(TAGS)}.")
    keep = np.ones(len(library), dtype=bool)
    for tag in tags:
        keep &= library[f"tag_{tag}"].to_numpy(dtype=bool)
    if difficulty:
        keep &= library["difficulty"].isin(difficulty).to_numpy()
    return library[keep]


def draw_quiz(library: pd.DataFrame, n: int, *, seed: int, tags: Sequence[str] = (),
              difficulty: Sequence[str] = ()) -> tuple[str, ...]:
    """``n`` distinct case labels drawn with ``seed`` (fewer when fewer match).

    Raises
    ------
    ValueError
        When ``n < 1`` or no case matches the filters.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"number of quiz cases {n!r} is not a whole number >= 1.")
    pool = filter_library(library, tags=tags, difficulty=difficulty)["case"].to_numpy()
    if pool.size == 0:
        raise ValueError("no case in the library matches the chosen tags and difficulty.")
    picked = np.random.default_rng(seed).choice(pool, size=min(n, pool.size), replace=False)
    return tuple(str(c) for c in picked)


# -------------------------------------------------------------------------- quiz

#: The actions a learner chooses from: code -> what it says.
ACTIONS: Mapping[str, str] = MappingProxyType({
    "mscc_pathway": "Same-day MSCC pathway (spinal team today, dexamethasone, MRI within 24 h)",
    "urgent_spine_review": "Urgent spine-surgery and radiation-oncology review",
    "spine_consult": "Spine-surgery consultation before radiotherapy planning",
    "confirm_pain_source": "Confirm the pain source before metastasis-directed treatment",
    "escalate": "Escalate analgesia to the next WHO step",
    "continue": "Continue today's analgesia",
    "review_no_deescalation": "Review analgesia; do not step down",
    "record_regimen": "Record today's analgesic regimen first",
})
#: The action of each override rule (:data:`core.tiers.OVERRIDE_RULES`).
OVERRIDE_ACTIONS: Mapping[str, str] = MappingProxyType({
    "mscc": "mscc_pathway", "high_grade_escc": "urgent_spine_review",
    "sins_unstable": "urgent_spine_review", "sins_potentially_unstable": "spine_consult",
})
#: The action of each analgesic recommendation code.
ANALGESIC_ACTIONS: Mapping[str, str] = MappingProxyType({
    "analgesic_escalate": "escalate", "analgesic_continue": "continue",
    "analgesic_review_no_deescalation": "review_no_deescalation",
    "analgesic_record_regimen": "record_regimen",
})


def expected_action(tier: TierDecision) -> str:
    """The action code (:data:`ACTIONS`) the advice leads with: the most urgent
    override's, else "confirm the pain source" without a lesion, else the analgesic one.

    Raises
    ------
    ValueError
        When the decision names no action this quiz knows (a new rule or code).
    """
    if tier.overrides:
        action = OVERRIDE_ACTIONS.get(tier.overrides[0].rule)
    elif tier.headline_source == "no_lesion":
        action = "confirm_pain_source"
    else:
        action = next((ANALGESIC_ACTIONS[c] for c in tier.codes if c in ANALGESIC_ACTIONS),
                      None)
    if action is None:
        raise ValueError("the advice leads with an action the quiz does not list.")
    return action


@dataclass(frozen=True)
class QuizResult:
    """One answer against the truth: the recorded pain category and the advice's action."""

    case: str
    category_guess: str
    action_guess: str
    recorded_category: str
    predicted_category: str
    action: str

    @property
    def category_correct(self) -> bool:
        return self.category_guess == self.recorded_category

    @property
    def action_correct(self) -> bool:
        return self.action_guess == self.action

    @property
    def points(self) -> int:
        """One point for the category, one for the action."""
        return int(self.category_correct) + int(self.action_correct)


def grade(case: str, category_guess: str, action_guess: str, *, recorded_category: str,
          predicted_category: str, action: str) -> QuizResult:
    """Score an answer.

    Raises
    ------
    ValueError
        For a category or action that is not offered.
    """
    for value in (category_guess, recorded_category, predicted_category):
        if value not in CATEGORIES:
            raise ValueError(f"pain category {value!r} is not one of {', '.join(CATEGORIES)}.")
    for value in (action_guess, action):
        if value not in ACTIONS:
            raise ValueError(f"action {value!r} is not one of the quiz's actions.")
    return QuizResult(case, category_guess, action_guess, recorded_category,
                      predicted_category, action)


# -------------------------------------------------------------------- comparison

#: Cases per group considered for pairs (a seeded sample beyond this).
PAIR_POOL = 1000


def suggest_pairs(library: pd.DataFrame, *, group_a: str = "lumbar",
                  group_b: str = "thoracic only", k: int = 5,
                  seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Pairs of cases from two region groups with similar burden, closest first.

    Distance = |difference in lesion count| / SD + |difference in HI ratio| / SD (SDs of
    the library); each case appears once; cases of the same patient are not paired.

    Returns
    -------
    pandas.DataFrame
        ``case_a``, ``case_b``, ``lesions_a``, ``lesions_b``, ``hi_a``, ``hi_b``,
        ``distance`` (at most ``k`` rows).
    """
    cols = ["case", "patient_key", "lesion_count", "high_intensity_ratio"]
    pools = []
    for group in (group_a, group_b):
        pool = library.loc[library["region_group"] == group, cols].dropna()
        if len(pool) > PAIR_POOL:
            pool = pool.sample(PAIR_POOL, random_state=seed)
        pools.append(pool)
    pairs = pools[0].merge(pools[1], how="cross", suffixes=("_a", "_b"))
    pairs = pairs[pairs["patient_key_a"] != pairs["patient_key_b"]]
    sd_count = float(pd.to_numeric(library["lesion_count"]).std()) or 1.0
    sd_hi = float(pd.to_numeric(library["high_intensity_ratio"]).std()) or 1.0
    pairs = pairs.assign(distance=(pairs["lesion_count_a"] - pairs["lesion_count_b"]).abs()
                         / sd_count + (pairs["high_intensity_ratio_a"]
                                       - pairs["high_intensity_ratio_b"]).abs() / sd_hi)
    pairs = pairs.sort_values(["distance", "case_a", "case_b"], kind="stable")
    pairs = pairs.drop_duplicates("case_a").drop_duplicates("case_b").head(k)
    return pd.DataFrame({
        "case_a": pairs["case_a"], "case_b": pairs["case_b"],
        "lesions_a": pairs["lesion_count_a"], "lesions_b": pairs["lesion_count_b"],
        "hi_a": pairs["high_intensity_ratio_a"], "hi_b": pairs["high_intensity_ratio_b"],
        "distance": pairs["distance"]}).reset_index(drop=True)


def _value_text(name: str, value: float) -> str:
    try:
        return display_feature(name, value)
    except (KeyError, ValueError):
        return f"{value:g}"


def shap_difference(a: Explanation, b: Explanation) -> pd.DataFrame:
    """Per-feature SHAP values of two cases and their difference (``a - b``), largest
    difference first; values written as a clinician reads them. The differences add up
    to ``a.output_value - b.output_value`` (both share the base value)."""
    if a.feature_names != b.feature_names:
        raise ValueError("the two explanations come from models with different features.")
    names = list(a.feature_names)
    frame = pd.DataFrame({
        "feature": names,
        "label": [FEATURES_BY_NAME[n].label if n in FEATURES_BY_NAME else n for n in names],
        "group": [GROUP_LABELS.get(FEATURES_BY_NAME[n].group, "") if n in FEATURES_BY_NAME
                  else "" for n in names],
        "value_a": [_value_text(n, v) + (" (imputed)" if n in a.imputed else "")
                    for n, v in zip(names, a.values, strict=True)],
        "value_b": [_value_text(n, v) + (" (imputed)" if n in b.imputed else "")
                    for n, v in zip(names, b.values, strict=True)],
        "shap_a": np.asarray(a.shap_values), "shap_b": np.asarray(b.shap_values),
    })
    frame["difference"] = frame["shap_a"] - frame["shap_b"]
    frame["_abs"] = frame["difference"].abs()
    return frame.sort_values(["_abs", "feature"], ascending=[False, True],
                             kind="stable").drop(columns="_abs").reset_index(drop=True)


def grouped_difference(a: Explanation, b: Explanation) -> pd.DataFrame:
    """SHAP values summed per group (imaging burden, clinical findings) of two cases and
    the difference ``a - b`` (exact: SHAP values add)."""
    ga, gb = grouped_shap(a).iloc[0], grouped_shap(b).iloc[0]
    frame = pd.DataFrame({"group": list(ga.index),
                          "label": [GROUP_LABELS[g] for g in ga.index],
                          "shap_a": ga.to_numpy(), "shap_b": gb.to_numpy()})
    frame["difference"] = frame["shap_a"] - frame["shap_b"]
    return frame
