"""The alerts of every study, vectorised over the cohort: :func:`study_alerts`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.surveillance.changes import (
    _deficit_states,
    _int_text,
    _num,
    _numbers,
    _pct,
    _truth,
)
from core.surveillance.rules import (
    ALERT_CODES,
    DEFAULT_THRESHOLDS,
    RULES_BY_CODE,
    TOLERANCE,
    Thresholds,
    rise_meets,
)
from core.vocab import REGIONS

#: Columns of :func:`study_alerts`.
ALERT_COLUMNS: tuple[str, ...] = ("patient_id", "study_id", "study_date", "code", "title",
                                  "priority", "sentence")
#: The alerts' sort keys; within them, the rules most urgent first (:func:`study_alerts`).
ALERT_ORDER: tuple[str, ...] = ("patient_id", "study_date")
# ------------------------------------------------------------------------ alerts


def _fired(tl: pd.DataFrame, mask: np.ndarray, code: str,
           sentences: np.ndarray | pd.Series) -> pd.DataFrame:
    mask = np.asarray(mask, dtype=bool)
    return pd.DataFrame({
        "patient_id": tl["patient_id"].to_numpy()[mask],
        "study_id": tl["study_id"].to_numpy()[mask],
        "study_date": tl["study_date"].to_numpy()[mask],
        "code": code,
        "sentence": np.asarray(sentences, dtype=object)[mask],
    })


def _prev_date_text(tl: pd.DataFrame) -> np.ndarray:
    dates = pd.to_datetime(tl["prev_study_date"]).dt.strftime("%Y-%m-%d")
    return dates.fillna("-").to_numpy(dtype=str)


def _deficit_alerts(tl: pd.DataFrame) -> pd.DataFrame:
    if "neurologic_deficit" not in tl.columns:
        return pd.DataFrame()
    now = _deficit_states(tl["neurologic_deficit"])
    before = _deficit_states(tl["prev_neurologic_deficit"])
    new = now == "new_or_progressive"
    newly = (now == "stable") & (before == "none")
    sentence = np.where(
        new, "New or progressive neurologic deficit recorded: suspected spinal cord "
             "compression, same-day MSCC assessment (NICE NG234).",
        "A neurologic deficit is recorded (as stable) where the previous study recorded "
        "none: confirm whether it is new.")
    return _fired(tl, new | newly, "new_deficit", sentence)


def _fracture_alerts(tl: pd.DataFrame) -> pd.DataFrame:
    if "pathologic_fracture" not in tl.columns:
        return pd.DataFrame()
    yes_now, _ = _truth(tl["pathologic_fracture"])
    _, no_before = _truth(tl["prev_pathologic_fracture"])
    sentence = np.char.add(np.char.add(
        "Pathologic fracture recorded; the previous study (", _prev_date_text(tl)),
        ") recorded none.")
    return _fired(tl, yes_now & no_before, "new_fracture", sentence)


def _pain_alerts(tl: pd.DataFrame, t: Thresholds) -> pd.DataFrame:
    gap = _numbers(tl["pain_gap"])
    fire = np.isfinite(gap) & (gap >= t.pain_above_expected_vas - TOLERANCE)
    parts = ["Recorded VAS ", _num(tl["vas"], "%g"), " is ", _num(gap), " points above the "
             "model's expected VAS ", _num(tl["expected_vas"]),
             f" (threshold {t.pain_above_expected_vas:g} points): look for another pain "
             "source or an unmeasured finding."]
    return _fired(tl, fire, "pain_above_expected", _join(parts))


def _join(parts: list) -> np.ndarray:
    out = np.asarray(parts[0], dtype=str)
    for part in parts[1:]:
        out = np.char.add(out, np.asarray(part, dtype=str))
    return out


def _names_by_study(changes: pd.DataFrame | None, mask: pd.Series | None,
                    tl: pd.DataFrame, *, detail: bool = False) -> np.ndarray:
    """Level names (craniocaudal) per :func:`timeline` row where ``mask`` holds, ``""``
    for the others; ``detail`` adds ``(before -> after)`` HI ratios."""
    if changes is None or changes.empty or mask is None or not mask.any():
        return np.full(len(tl), "", dtype=object)
    hit = changes[mask]
    text = hit["level"].astype(str)
    if detail:
        text = text + " (" + _pct(hit["hi_before"]) + " \u2192 " + _pct(hit["hi_after"]) + ")"
    names = text.groupby(hit["study_id"], sort=False).agg(", ".join)
    return tl["study_id"].map(names).fillna("").to_numpy(dtype=object)


def _compared(changes: pd.DataFrame | None, tl: pd.DataFrame) -> np.ndarray:
    """Rows whose study was compared level by level with the previous one."""
    if changes is None or changes.empty:
        return np.zeros(len(tl), dtype=bool)
    return tl["study_id"].isin(set(changes["study_id"])).to_numpy()


def _lumbar_alerts(tl: pd.DataFrame, changes: pd.DataFrame | None) -> pd.DataFrame:
    now = _numbers(tl.get("lesion_count_lumbar", pd.Series(np.nan, index=tl.index)))
    before = _numbers(tl.get("prev_lesion_count_lumbar", pd.Series(np.nan, index=tl.index)))
    by_count = (before == 0) & (now > 0)
    new_lumbar = None if changes is None or changes.empty else (
        (changes["status"] == "new") & (changes["region"] == "lumbar"))
    names = _names_by_study(changes, new_lumbar, tl)
    by_level = names != ""
    count_text = np.where(np.isfinite(now), _int_text(now), "some")
    sentence = _join(["Lumbar involvement is new: ", count_text, " lumbar lesion(s) now, none "
                      "at the previous study (", _prev_date_text(tl), ")",
                      np.where(by_level, np.char.add(" \u2014 new: ", names.astype(str)), ""),
                      ". Lumbar metastases went with the most pain (Kong et al. 2025)."])
    return _fired(tl, by_count | by_level, "new_lumbar", sentence)


def _level_alerts(tl: pd.DataFrame, changes: pd.DataFrame | None) -> pd.DataFrame:
    compared = _compared(changes, tl)
    new = None if changes is None or changes.empty else changes["status"] == "new"
    names = _names_by_study(changes, new, tl)
    by_name = compared & (names != "")
    rose = _numbers(tl["involved_change"]) > 0
    first_region = np.zeros(len(tl), dtype=bool)
    regions_text = np.full(len(tl), "", dtype=object)
    for region in REGIONS:
        column = f"lesion_count_{region}"
        if column not in tl.columns:
            continue
        hit = (_numbers(tl[f"prev_{column}"]) == 0) & (_numbers(tl[column]) > 0)
        first_region |= hit
        regions_text = np.where(hit, np.where(regions_text == "", region,
                                              regions_text + ", " + region), regions_text)
    by_count = ~compared & (rose | first_region)
    levels_text = _join(["involved levels ", _int_text(tl["prev_involved_levels"]), " \u2192 ",
                         _int_text(tl["involved_levels"])])
    by_name_text = _join(["New involved level(s): ", names.astype(str), " (", levels_text, ")."])
    count_text = _join([
        np.where(rose, np.char.add(np.char.capitalize(levels_text.astype(str)), "."), ""),
        np.where(first_region, _join([np.where(rose, " ", ""), "First lesion in the ",
                                      regions_text.astype(str), " region."]), ""),
        " Level names are not stored for these studies (table values)."])
    sentence = np.where(by_name, by_name_text, count_text)
    return _fired(tl, by_name | by_count, "new_level", sentence)


def _hi_alerts(tl: pd.DataFrame, t: Thresholds) -> pd.DataFrame:
    before = _numbers(tl["prev_high_intensity_ratio"])
    after = _numbers(tl["high_intensity_ratio"])
    fire = rise_meets(before, after, t.hi_rise_points, t.hi_rise_relative)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(before > 0, 100 * (after - before) / before, np.nan)
    rel_text = np.where(np.isfinite(rel), np.char.add(np.char.mod("+%.0f", rel), "%"),
                        "from none")
    sentence = _join(["Overall HI ratio rose from ", _pct(before), " to ", _pct(after), " (",
                      np.char.mod("%+.1f", 100 * (after - before)), " percentage points, ",
                      rel_text, f"; threshold {100 * t.hi_rise_points:g} points and "
                      f"{100 * t.hi_rise_relative:g} %)."])
    return _fired(tl, fire, "hi_rise", sentence)


def _level_hi_alerts(tl: pd.DataFrame, changes: pd.DataFrame | None,
                     t: Thresholds) -> pd.DataFrame:
    compared = _compared(changes, tl)
    rising = None if changes is None or changes.empty else changes["hi_rise"].astype(bool)
    names = _names_by_study(changes, rising, tl, detail=True)
    by_level = compared & (names != "")
    before = _numbers(tl["prev_max_level_high_intensity_ratio"])
    after = _numbers(tl["max_level_high_intensity_ratio"])
    worst = ~compared & rise_meets(before, after, t.level_hi_rise_points,
                                   t.level_hi_rise_relative)
    rule = (f" (threshold {100 * t.level_hi_rise_points:g} points and "
            f"{100 * t.level_hi_rise_relative:g} %).")
    sentence = np.where(
        by_level, _join(["HI ratio rose at ", names.astype(str), rule]),
        _join(["Worst-level HI ratio rose from ", _pct(before), " to ", _pct(after), rule]))
    return _fired(tl, by_level | worst, "level_hi_rise", sentence)


def study_alerts(tl: pd.DataFrame, changes: pd.DataFrame | None = None,
                 thresholds: Thresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Every alert fired at every study (vectorised over the cohort).

    Parameters
    ----------
    tl : pandas.DataFrame
        :func:`timeline` output (it needs ``study_id``).
    changes : pandas.DataFrame, optional
        :func:`level_changes` output; without it (or for studies it does not cover) the
        regional counts, the number of involved levels and the worst level's HI ratio are
        compared instead.
    thresholds : Thresholds

    Returns
    -------
    pandas.DataFrame
        :data:`ALERT_COLUMNS`, one row per fired alert: ordered by patient, study date and
        rule (most urgent first). A patient's first study can fire only the alerts that
        need no previous study (a new or progressive deficit, pain above expectation).
    """
    if "study_id" not in tl.columns or "prev_study_id" not in tl.columns:
        raise ValueError("study_alerts needs the timeline() of studies with a study_id.")
    parts = [_deficit_alerts(tl), _fracture_alerts(tl), _pain_alerts(tl, thresholds),
             _lumbar_alerts(tl, changes), _level_alerts(tl, changes),
             _hi_alerts(tl, thresholds), _level_hi_alerts(tl, changes, thresholds)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    out["title"] = out["code"].map({c: r.title for c, r in RULES_BY_CODE.items()})
    out["priority"] = out["code"].map({c: r.priority for c, r in RULES_BY_CODE.items()})
    out["_rule"] = out["code"].map({c: i for i, c in enumerate(ALERT_CODES)})
    out = out.sort_values([*ALERT_ORDER, "_rule"], kind="stable")
    return out.reset_index(drop=True)[list(ALERT_COLUMNS)]
