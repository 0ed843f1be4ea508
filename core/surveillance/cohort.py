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

import itertools
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.surveillance.alerts import study_alerts
from core.surveillance.changes import level_changes, timeline


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


def _spliced(old: pd.DataFrame, new: pd.DataFrame, patients: Collection[str]
             ) -> pd.DataFrame:
    """``old`` without the rows of ``patients``, with ``new`` (their rows), in the
    frame's own order; rows of one patient keep their order.

    Every frame's order starts with the patient (:data:`~core.surveillance.changes.
    TIMELINE_ORDER`, :data:`~core.surveillance.changes.LEVEL_CHANGE_ORDER`,
    :data:`~core.surveillance.alerts.ALERT_ORDER`), so each new row goes just before the
    first row of ``old`` of a later patient, and the result is the runs of ``old`` that
    are kept with the new rows between them, copied once (sorting every row again took
    0.3 s at 100,000 studies)."""
    removed = old["patient_id"].isin(list(patients)).to_numpy()
    if not len(new):
        return old[~removed].reset_index(drop=True)
    if not len(old):
        return new.reset_index(drop=True)
    at = old["patient_id"].searchsorted(new["patient_id"].to_numpy(), side="left")
    runs = np.flatnonzero(np.diff(removed.astype(np.int8), prepend=0, append=0))
    cuts = np.unique(np.concatenate([[0, len(old)], at, runs]))
    pieces = []
    for a, b in itertools.pairwise(cuts):
        first, stop = np.searchsorted(at, a, side="left"), np.searchsorted(at, a, side="right")
        pieces += [new.iloc[first:stop]] if stop > first else []
        pieces += [] if removed[a] else [old.iloc[a:b]]
    pieces.append(new.iloc[np.searchsorted(at, len(old), side="left"):])
    return pd.concat([piece for piece in pieces if len(piece)], ignore_index=True)


def with_patients_replaced(old: CohortSurveillance, part: CohortSurveillance,
                           patients: Collection[str]) -> CohortSurveillance:
    """``old`` with every row of ``patients`` replaced by ``part`` (their surveillance
    computed from their studies alone): equal to :func:`cohort_surveillance` of the whole
    cohort as it now is."""
    return CohortSurveillance(
        _spliced(old.timeline, part.timeline, patients),
        _spliced(old.changes, part.changes, patients),
        _spliced(old.alerts, part.alerts, patients))


__all__ = ["CohortSurveillance", "cohort_surveillance", "with_patients_replaced"]
