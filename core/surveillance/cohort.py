"""The whole cohort's surveillance (timeline, level changes, alerts) and the same with a
few patients computed again.

Every surveillance frame is per patient: a study is compared only with the patient's
previous study, and the frames are ordered by patient first. So after some patients'
studies changed (a case saved or edited), computing those patients alone and putting
their rows in place of the old ones gives what computing the whole cohort again gives
(:func:`with_patients_replaced`), at the cost of those patients instead of 100,000
studies.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import pandas as pd

from core.surveillance.alerts import ordered_alerts, study_alerts
from core.surveillance.changes import (
    LEVEL_CHANGE_ORDER,
    TIMELINE_ORDER,
    level_changes,
    timeline,
)


def _sorted_by(keys: Sequence[str]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda rows: rows.sort_values(list(keys), kind="stable", ignore_index=True)


@dataclass(frozen=True, eq=False)
class CohortSurveillance:
    """:func:`timeline`, :func:`level_changes` and :func:`study_alerts` of the assessed
    studies of a cohort (shared, read-only)."""

    timeline: pd.DataFrame
    changes: pd.DataFrame
    alerts: pd.DataFrame


def cohort_surveillance(scored: pd.DataFrame, levels: pd.DataFrame) -> CohortSurveillance:
    """The surveillance of every study of ``scored`` (the scored cohort: studies with an
    ``assessment_error`` are left out) with the per-level rows ``levels``."""
    ok = scored[scored["assessment_error"].isna()] if "assessment_error" in scored else scored
    tl = timeline(ok)
    changes = level_changes(levels, tl)
    return CohortSurveillance(tl, changes, study_alerts(tl, changes))


def _spliced(old: pd.DataFrame, new: pd.DataFrame, patients: Collection[str],
             order: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """``old`` without the rows of ``patients``, with ``new`` (their rows), put in the
    frame's own ``order``; rows of one patient keep their order."""
    kept = old[~old["patient_id"].isin(list(patients))]
    parts = [part for part in (kept, new) if len(part)]
    if len(parts) < 2:
        rows = parts[0] if parts else kept
        return rows.reset_index(drop=True)
    return order(pd.concat(parts, ignore_index=True))


def with_patients_replaced(old: CohortSurveillance, part: CohortSurveillance,
                           patients: Collection[str]) -> CohortSurveillance:
    """``old`` with every row of ``patients`` replaced by ``part`` (their surveillance
    computed from their studies alone): equal to :func:`cohort_surveillance` of the whole
    cohort as it now is."""
    return CohortSurveillance(
        _spliced(old.timeline, part.timeline, patients, _sorted_by(TIMELINE_ORDER)),
        _spliced(old.changes, part.changes, patients, _sorted_by(LEVEL_CHANGE_ORDER)),
        _spliced(old.alerts, part.alerts, patients, ordered_alerts))


__all__ = ["CohortSurveillance", "cohort_surveillance", "with_patients_replaced"]
