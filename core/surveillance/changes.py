"""A patient's studies side by side with the previous one (:func:`timeline`), per-level
changes (:func:`level_changes`) and the small vectorised helpers the alerts share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.surveillance.rules import DEFAULT_THRESHOLDS, Thresholds, rise_meets
from core.vocab import REGION_COUNT_COLUMNS, REGIONS, level_order, parse_deficit

#: Study columns compared with the previous study (``prev_<name>`` in :func:`timeline`).
COMPARED_COLUMNS: tuple[str, ...] = (
    "study_id", "study_date", "lesion_count", *REGION_COUNT_COLUMNS, "involved_levels",
    "high_intensity_ratio", "max_level_high_intensity_ratio", "vas", "expected_vas",
    "pathologic_fracture", "neurologic_deficit",
)


#: Columns of :func:`level_changes`.
LEVEL_CHANGE_COLUMNS: tuple[str, ...] = (
    "patient_id", "study_id", "study_date", "prev_study_id", "prev_study_date", "level",
    "region", "order", "lesions_before", "lesions_after", "hi_before", "hi_after",
    "hi_change_points", "hi_change_relative", "status", "hi_rise",
)


# ----------------------------------------------------------------------- helpers


def _numbers(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


def _truth(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(is_yes, is_no)`` of a yes/no column (missing is neither); each distinct stored
    value is read once."""
    words = {"yes": 1.0, "true": 1.0, "1": 1.0, "no": 0.0, "false": 0.0, "0": 0.0}
    codes = {}
    for value in pd.unique(series.dropna()):
        if isinstance(value, str):
            codes[value] = words.get(value.strip().lower(), np.nan)
        else:
            codes[value] = 1.0 if bool(value) else 0.0
    numbers = _numbers(series.map(codes))
    return numbers == 1.0, numbers == 0.0


def _deficit_states(series: pd.Series) -> np.ndarray:
    """Deficit state names (``none``/``stable``/``new_or_progressive``/None) of a column;
    each distinct stored value is parsed once (:func:`core.vocab.parse_deficit`)."""
    states = {}
    for value in pd.unique(series.dropna()):
        try:
            states[value] = parse_deficit(value).state
        except ValueError:
            states[value] = None
    return series.map(states).to_numpy(dtype=object)


def _pct(values: np.ndarray | pd.Series) -> np.ndarray:
    """Ratios as ``"12.5%"`` (vectorised)."""
    return np.char.add(np.char.mod("%.1f", 100.0 * np.asarray(values, dtype=np.float64)), "%")


def _num(values: np.ndarray | pd.Series, fmt: str = "%.1f") -> np.ndarray:
    return np.char.mod(fmt, np.asarray(values, dtype=np.float64))


def _int_text(values: np.ndarray | pd.Series) -> np.ndarray:
    return np.char.mod("%d", np.nan_to_num(np.asarray(values, dtype=np.float64)).astype(int))


# ----------------------------------------------------------------------- timeline


#: The row order of :func:`timeline` (``study_id`` when the studies have one) and of
#: :func:`level_changes` (a stable sort).
TIMELINE_ORDER: tuple[str, ...] = ("patient_id", "study_date", "study_id")
LEVEL_CHANGE_ORDER: tuple[str, ...] = ("patient_id", "study_date", "order", "level")


def timeline(studies: pd.DataFrame) -> pd.DataFrame:
    """The studies in date order per patient with the previous study beside each.

    Parameters
    ----------
    studies : pandas.DataFrame
        One row per study with ``patient_id``, ``study_id``, ``study_date`` and any of
        :data:`COMPARED_COLUMNS` (e.g. :func:`core.assess.assess_frame` of
        ``CaseStore.list_studies()``, which adds ``expected_vas``).

    Returns
    -------
    pandas.DataFrame
        The rows sorted by patient and date (new index) plus ``study_number`` (1, 2, ...),
        ``n_studies``, ``days_since_first``, ``prev_<column>`` for every compared column
        present (missing on a patient's first study), ``hi_change_points``,
        ``max_hi_change_points`` (ratio units), ``involved_change`` and ``pain_gap``
        (recorded VAS minus expected VAS).
    """
    if "patient_id" not in studies.columns or "study_date" not in studies.columns:
        raise ValueError("studies must have patient_id and study_date columns.")
    out = studies.copy()
    out["study_date"] = pd.to_datetime(out["study_date"])
    sort = [c for c in TIMELINE_ORDER if c in out.columns]
    out = out.sort_values(sort, kind="stable").reset_index(drop=True)
    groups = out.groupby("patient_id", sort=False)
    out["study_number"] = groups.cumcount() + 1
    out["n_studies"] = groups["study_date"].transform("size")
    out["days_since_first"] = (out["study_date"] - groups["study_date"].transform("min")).dt.days
    for column in COMPARED_COLUMNS:
        if column in out.columns:
            out[f"prev_{column}"] = groups[column].shift(1)
    for column in ("high_intensity_ratio", "max_level_high_intensity_ratio", "involved_levels",
                   "vas", "expected_vas"):
        if column not in out.columns:
            out[column] = np.nan
            out[f"prev_{column}"] = np.nan
    out["hi_change_points"] = (_numbers(out["high_intensity_ratio"])
                               - _numbers(out["prev_high_intensity_ratio"]))
    out["max_hi_change_points"] = (_numbers(out["max_level_high_intensity_ratio"])
                                   - _numbers(out["prev_max_level_high_intensity_ratio"]))
    out["involved_change"] = (_numbers(out["involved_levels"])
                              - _numbers(out["prev_involved_levels"]))
    out["pain_gap"] = _numbers(out["vas"]) - _numbers(out["expected_vas"])
    return out


# ------------------------------------------------------------------ level changes


def level_changes(levels: pd.DataFrame, studies: pd.DataFrame,
                  thresholds: Thresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Each level of each follow-up study against the previous study of the patient.

    Parameters
    ----------
    levels : pandas.DataFrame
        Per-level rows: ``study_id``, ``level``, ``region``, ``high_intensity_ratio``,
        ``lesion_count`` (``core.store.surveillance`` queries give them).
    studies : pandas.DataFrame
        :func:`timeline` output (``patient_id``, ``study_id``, ``study_date``,
        ``prev_study_id``, ``prev_study_date``).

    Returns
    -------
    pandas.DataFrame
        :data:`LEVEL_CHANGE_COLUMNS`, one row per level measured in either study of a
        pair in which **both** studies have per-level rows; craniocaudal within a study.
        ``status``: ``new`` (a lesion now, none before), ``resolved``, ``persisting``,
        ``uninvolved``, ``not measured before`` / ``not measured now`` (the level lies
        outside one study's labels). ``hi_rise``: the per-level threshold is met.
    """
    if "prev_study_id" not in studies.columns:
        studies = timeline(studies)
    measured = set(pd.to_numeric(levels["study_id"]).astype("int64")) if len(levels) else set()
    pairs = studies.loc[studies["prev_study_id"].notna(),
                        ["patient_id", "study_id", "study_date", "prev_study_id",
                         "prev_study_date"]].copy()
    pairs["prev_study_id"] = pairs["prev_study_id"].astype("int64")
    pairs = pairs[pairs["study_id"].isin(measured) & pairs["prev_study_id"].isin(measured)]
    if pairs.empty:
        return pd.DataFrame(columns=list(LEVEL_CHANGE_COLUMNS))
    cols = ["study_id", "level", "region", "high_intensity_ratio", "lesion_count"]
    rows = levels[cols].copy()
    rows["study_id"] = rows["study_id"].astype("int64")
    after = pairs.merge(rows, on="study_id")
    before = pairs.merge(rows.rename(columns={"study_id": "prev_study_id"}),
                         on="prev_study_id")
    keys = ["patient_id", "study_id", "study_date", "prev_study_id", "prev_study_date", "level"]
    merged = after.merge(before, on=keys, how="outer", suffixes=("_after", "_before"))
    merged["region"] = merged["region_after"].fillna(merged["region_before"])
    lesions_after = _numbers(merged["lesion_count_after"])
    lesions_before = _numbers(merged["lesion_count_before"])
    hi_after = _numbers(merged["high_intensity_ratio_after"])
    hi_before = _numbers(merged["high_intensity_ratio_before"])
    now, was = lesions_after > 0, lesions_before > 0
    status = np.select(
        [np.isnan(lesions_before), np.isnan(lesions_after), now & ~was, ~now & was, now & was],
        ["not measured before", "not measured now", "new", "resolved", "persisting"],
        default="uninvolved")
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(hi_before > 0, (hi_after - hi_before) / hi_before, np.nan)
    out = pd.DataFrame({
        **{k: merged[k] for k in keys[:5]}, "level": merged["level"],
        "region": merged["region"], "order": [level_order(n) for n in merged["level"]],
        "lesions_before": lesions_before, "lesions_after": lesions_after,
        "hi_before": hi_before, "hi_after": hi_after, "hi_change_points": hi_after - hi_before,
        "hi_change_relative": relative, "status": status,
        "hi_rise": rise_meets(hi_before, hi_after, thresholds.level_hi_rise_points,
                              thresholds.level_hi_rise_relative),
    })
    out = out.sort_values(list(LEVEL_CHANGE_ORDER), kind="stable")
    return out.reset_index(drop=True)[list(LEVEL_CHANGE_COLUMNS)]


def region_changes(row: pd.Series) -> pd.DataFrame:
    """Lesions per region in one :func:`timeline` row against the previous study (for
    studies without per-level measurements): ``region, before, after, change``."""
    before = [row.get(f"prev_lesion_count_{r}") for r in REGIONS]
    after = [row.get(f"lesion_count_{r}") for r in REGIONS]
    frame = pd.DataFrame({"region": list(REGIONS),
                          "before": pd.to_numeric(pd.Series(before), errors="coerce"),
                          "after": pd.to_numeric(pd.Series(after), errors="coerce")})
    frame["change"] = frame["after"] - frame["before"]
    return frame
