"""The cohort worklist (:func:`worklist`, :func:`filter_worklist`, :func:`page_of`) and one
patient's surveillance (:func:`patient_surveillance`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.surveillance.alerts import study_alerts
from core.surveillance.changes import LEVEL_CHANGE_COLUMNS, _numbers, level_changes, timeline
from core.surveillance.rules import ALERT_CODES, DEFAULT_THRESHOLDS, Thresholds
from core.vocab import URGENCY_ORDER

# ----------------------------------------------------------------------- worklist

#: Columns of :func:`worklist` (plus one ``has_<code>`` column per alert code).
WORKLIST_COLUMNS: tuple[str, ...] = (
    "patient_id", "synthetic", "n_studies", "last_study_date", "priority", "n_alerts",
    "alerts", "last_vas", "last_expected_vas",
)
WORKLIST_SCOPES: tuple[str, ...] = ("latest", "any")


def worklist(alerts: pd.DataFrame, tl: pd.DataFrame, *, scope: str = "latest"
             ) -> pd.DataFrame:
    """Patients whose alerts fired, most urgent first, then the most recent study.

    Parameters
    ----------
    alerts : pandas.DataFrame
        :func:`study_alerts` output.
    tl : pandas.DataFrame
        The :func:`timeline` the alerts came from.
    scope : str
        ``"latest"``: alerts of each patient's latest study (what needs attention now);
        ``"any"``: alerts of any study.

    Returns
    -------
    pandas.DataFrame
        :data:`WORKLIST_COLUMNS` and ``has_<code>`` (bool) per alert code; ``alerts`` lists
        the fired alerts' titles, most urgent first.
    """
    if scope not in WORKLIST_SCOPES:
        raise ValueError(f"worklist scope {scope!r} is not one of {', '.join(WORKLIST_SCOPES)}.")
    last = tl.groupby("patient_id", sort=False).tail(1).set_index("patient_id")
    chosen = alerts
    if scope == "latest":
        chosen = alerts[alerts["study_id"].to_numpy() == last.loc[
            alerts["patient_id"], "study_id"].to_numpy()] if len(alerts) else alerts
    columns = [*WORKLIST_COLUMNS, *(f"has_{c}" for c in ALERT_CODES)]
    if chosen.empty:
        return pd.DataFrame(columns=columns)
    rank = chosen["priority"].map({p: i for i, p in enumerate(URGENCY_ORDER)})
    rule = chosen["code"].map({c: i for i, c in enumerate(ALERT_CODES)})
    ordered = chosen.assign(_rank=rank, _rule=rule).sort_values(["patient_id", "_rule"])
    distinct = ordered.drop_duplicates(["patient_id", "code"])
    grouped = distinct.groupby("patient_id", sort=False)
    out = pd.DataFrame({
        "n_alerts": ordered.groupby("patient_id", sort=False).size(),
        "alerts": grouped["title"].agg("; ".join),
        "_rank": grouped["_rank"].max(),
    })
    flags = pd.crosstab(distinct["patient_id"], distinct["code"]).reindex(
        columns=list(ALERT_CODES), fill_value=0) > 0
    out = out.join(flags.add_prefix("has_"))
    info = last.loc[out.index]
    out["synthetic"] = info.get("synthetic", pd.Series(False, index=info.index)).astype(bool)
    out["n_studies"] = info["n_studies"].astype(int)
    out["last_study_date"] = info["study_date"]
    out["last_vas"] = _numbers(info["vas"])
    out["last_expected_vas"] = _numbers(info["expected_vas"])
    out["priority"] = np.asarray(URGENCY_ORDER, dtype=object)[out["_rank"].astype(int)]
    out = out.reset_index().sort_values(["_rank", "last_study_date", "patient_id"],
                                        ascending=[False, False, True], kind="stable")
    return out.reset_index(drop=True)[columns]


def filter_worklist(frame: pd.DataFrame, *, codes: tuple[str, ...] = (),
                    priorities: tuple[str, ...] = (), search: str = "",
                    data: str = "all") -> pd.DataFrame:
    """Worklist rows with any of ``codes``, one of ``priorities``, a patient id containing
    ``search`` (case-insensitive) and ``data`` ``all`` / ``synthetic`` / ``site``."""
    unknown = set(codes) - set(ALERT_CODES)
    if unknown:
        raise ValueError(f"alert code {sorted(unknown)[0]!r} is not one of "
                         f"{', '.join(ALERT_CODES)}.")
    keep = np.ones(len(frame), dtype=bool)
    if codes:
        keep &= frame[[f"has_{c}" for c in codes]].to_numpy(dtype=bool).any(axis=1)
    if priorities:
        keep &= frame["priority"].isin(priorities).to_numpy()
    if search.strip():
        keep &= frame["patient_id"].astype(str).str.contains(
            search.strip(), case=False, regex=False).to_numpy()
    if data == "synthetic":
        keep &= frame["synthetic"].to_numpy(dtype=bool)
    elif data == "site":
        keep &= ~frame["synthetic"].to_numpy(dtype=bool)
    return frame[keep].reset_index(drop=True)


def page_of(frame: pd.DataFrame, page: int, size: int = 20) -> tuple[pd.DataFrame, int, int]:
    """Rows of page ``page`` (1-based, clamped to the pages there are) of ``size`` rows;
    returns ``(rows, page, n_pages)`` (an empty frame has one empty page)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"page size {size!r} is not a whole number >= 1.")
    n_pages = max(1, -(-len(frame) // size))
    page = min(max(int(page), 1), n_pages)
    return frame.iloc[(page - 1) * size: page * size], page, n_pages


@dataclass(frozen=True)
class PatientSurveillance:
    """One patient's surveillance: :func:`timeline` rows, :func:`level_changes` and
    :func:`study_alerts`."""

    patient_id: str
    timeline: pd.DataFrame
    changes: pd.DataFrame
    alerts: pd.DataFrame

    @property
    def latest_alerts(self) -> pd.DataFrame:
        """The alerts of the latest study."""
        if self.timeline.empty or self.alerts.empty:
            return self.alerts.iloc[0:0]
        return self.alerts[self.alerts["study_id"] == self.timeline["study_id"].iloc[-1]]


def patient_surveillance(studies: pd.DataFrame, levels: pd.DataFrame | None = None,
                         thresholds: Thresholds = DEFAULT_THRESHOLDS) -> PatientSurveillance:
    """:func:`timeline`, :func:`level_changes` and :func:`study_alerts` of one patient.

    Raises
    ------
    ValueError
        When ``studies`` is empty or holds more than one patient.
    """
    ids = pd.unique(studies["patient_id"]) if "patient_id" in studies.columns else []
    if len(ids) != 1:
        raise ValueError(f"patient_surveillance needs the studies of one patient, not "
                         f"{len(ids)}.")
    tl = timeline(studies)
    changes = (level_changes(levels, tl, thresholds) if levels is not None and len(levels)
               else pd.DataFrame(columns=list(LEVEL_CHANGE_COLUMNS)))
    return PatientSurveillance(str(ids[0]), tl, changes, study_alerts(tl, changes, thresholds))
