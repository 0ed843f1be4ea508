"""Alert thresholds and rules of the surveillance (see :mod:`core.surveillance`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Comparisons at a threshold fire; this absorbs floating-point rounding (0.12 - 0.10).
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Thresholds:
    """When an alert fires (the reasons: :mod:`core.surveillance`).

    Attributes
    ----------
    hi_rise_points : float
        Overall HI-ratio rise, absolute, in ratio units (``0.02`` = 2 percentage points).
    hi_rise_relative : float
        Overall HI-ratio rise relative to the previous value (``0.25`` = 25 %).
    level_hi_rise_points, level_hi_rise_relative : float
        The same for one vertebral level (and the worst level).
    pain_above_expected_vas : float
        Recorded VAS minus the model's expected VAS, in VAS points.

    Raises
    ------
    ValueError
        For a threshold that is not a finite number >= 0 (ratios also <= 1).
    """

    hi_rise_points: float = 0.02
    hi_rise_relative: float = 0.25
    level_hi_rise_points: float = 0.10
    level_hi_rise_relative: float = 0.25
    pain_above_expected_vas: float = 2.0

    def __post_init__(self) -> None:
        for name in ("hi_rise_points", "hi_rise_relative", "level_hi_rise_points",
                     "level_hi_rise_relative", "pain_above_expected_vas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and value >= 0):
                raise ValueError(f"threshold {name} = {value!r} is not a number >= 0.")
        for name in ("hi_rise_points", "level_hi_rise_points"):
            if getattr(self, name) > 1:
                raise ValueError(f"threshold {name} = {getattr(self, name)!r} is a ratio "
                                 "rise and must be at most 1 (100 percentage points).")


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class AlertRule:
    """One alert: its code, title, priority (an urgency of :data:`core.vocab.URGENCY_ORDER`),
    the rule with its threshold in words, and why."""

    code: str
    title: str
    priority: str
    rule: str
    rationale: str


def _pp(ratio: float) -> str:
    return f"{100 * ratio:g} percentage points"


def alert_rules(thresholds: Thresholds = DEFAULT_THRESHOLDS) -> tuple[AlertRule, ...]:
    """The alert rules with their thresholds written out, most urgent first."""
    t = thresholds
    return (
        AlertRule("new_deficit", "New or progressive neurologic deficit", "urgent",
                  "A new or progressive deficit is recorded, or a deficit is recorded where "
                  "the previous study had none.",
                  "The MSCC pathway's trigger (NICE NG234 2023): same-day assessment."),
        AlertRule("new_fracture", "New pathologic fracture", "soon",
                  "A pathologic fracture is recorded where the previous study recorded none.",
                  "A new fracture changes SINS and often the pain (Fisher 2010)."),
        AlertRule("pain_above_expected", "Pain above the model's expectation", "soon",
                  f"Recorded VAS at least {t.pain_above_expected_vas:g} points above the "
                  "model's expected VAS.",
                  "Two VAS points is the clinically important difference in cancer pain "
                  "(Farrar 2001; Chow 2012): look for another pain source or an unmeasured "
                  "finding."),
        AlertRule("new_lumbar", "New lumbar involvement", "routine",
                  "Lumbar lesions now, none at the previous study.",
                  "Lumbar metastases went with the most pain (Kong et al. 2025)."),
        AlertRule("new_level", "New involved level", "routine",
                  "A vertebral level with a lesion that had none at the previous study (by "
                  "name when both studies have per-level measurements; otherwise the number "
                  "of involved levels rose or a region gained its first lesion).",
                  "More metastatic sites went with more pain (Kong et al. 2025)."),
        AlertRule("hi_rise", "HI ratio rise (overall)", "routine",
                  f"Overall HI ratio up by at least {_pp(t.hi_rise_points)} and at least "
                  f"{100 * t.hi_rise_relative:g} % of the previous value.",
                  "A higher HI ratio went with more pain (Kong et al. 2025); two-part rule "
                  "as in RECIST 1.1, relative part as in the MD Anderson bone criteria."),
        AlertRule("level_hi_rise", "HI ratio rise (one level)", "routine",
                  f"A level's HI ratio (or the worst level's, without per-level "
                  f"measurements) up by at least {_pp(t.level_hi_rise_points)} and at least "
                  f"{100 * t.level_hi_rise_relative:g} % of the previous value.",
                  "One vertebra varies more than the whole spine, so the floor is higher."),
    )


RULES_BY_CODE: dict[str, AlertRule] = {r.code: r for r in alert_rules()}
#: Alert codes, most urgent first.
ALERT_CODES: tuple[str, ...] = tuple(RULES_BY_CODE)

def rise_meets(before: np.ndarray, after: np.ndarray, points: float,
               relative: float) -> np.ndarray:
    """Whether ``after`` rose from ``before`` by at least ``points`` (absolute) **and**
    ``relative`` (a fraction of ``before``; any rise from 0 meets it). NaN never meets."""
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    rise = after - before
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(before > 0, rise / np.where(before > 0, before, 1.0), np.inf)
    ok = np.isfinite(before) & np.isfinite(after) & (rise > 0)
    return ok & (rise >= points - TOLERANCE) & (rel >= relative - TOLERANCE)
