"""The report's trend section: the patient's studies up to this one, with this study's
alerts (:mod:`core.surveillance`).

:func:`trend_context` turns the patient's assessed studies (one row per study, e.g.
:func:`core.assess.assess_frame` of ``CaseStore.list_studies(patient_id=...)``) into the
plain dict :attr:`~core.report.ReportContext.trend` holds; :func:`trend_blocks` writes
it as a small table, a bar chart of the recorded pain per study and the alerts in
sentences. :func:`core.report.document.build_document` adds the section only when the
patient has more than one study.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import pandas as pd

from core.report.blocks import Bar, BarChart, Block, Paragraph, Subheading, Table
from core.surveillance import DEFAULT_THRESHOLDS, Thresholds, level_changes, study_alerts, timeline
from core.vocab import category_colour, finite_float, percent, vas_to_category

#: Section id and title (HTML ``<section id="trend">``); placed after the measurements.
TREND_SECTION: tuple[str, str] = ("trend", "Trend across studies")
#: Keys of each study in :attr:`ReportContext.trend` ``["studies"]``.
TREND_KEYS: tuple[str, ...] = (
    "study_id", "study_date", "lesion_count", "lesion_count_lumbar", "involved_levels",
    "high_intensity_ratio", "max_level_high_intensity_ratio", "vas", "expected_vas",
    "category", "alerts", "current",
)
_MISSING = "-"


def _plain(value: Any) -> Any:
    """JSON-friendly scalars: NaN/NA -> None, numpy numbers -> float/int."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def trend_context(studies: pd.DataFrame, study_id: int, *,
                  levels: pd.DataFrame | None = None,
                  thresholds: Thresholds = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    """The trend of one patient up to (and including) the reported study.

    Parameters
    ----------
    studies : pandas.DataFrame
        The patient's assessed studies (``study_id``, ``patient_id``, ``study_date``,
        imaging columns, ``vas``, ``expected_vas``, ``category``, findings).
    study_id : int
        The reported study; later studies are left out (the report states what was
        known at this study).
    levels : pandas.DataFrame, optional
        The patient's per-level rows (``CaseStore.patient_levels``) for level-by-level
        alerts.

    Returns
    -------
    dict
        ``studies`` (list of dicts with :data:`TREND_KEYS`, oldest first), ``alerts``
        (this study's alerts: ``title``, ``priority``, ``sentence``; empty lists when
        the study is not among ``studies``) and ``thresholds`` (the
        :class:`~core.surveillance.Thresholds` used, as a dict).
    """
    if studies.empty or int(study_id) not in set(studies["study_id"].astype(int)):
        return {"studies": [], "alerts": [], "thresholds": asdict(thresholds)}
    tl = timeline(studies)
    cut = int(tl.index[tl["study_id"].astype(int) == int(study_id)][0])
    tl = tl.iloc[: cut + 1]
    changes = level_changes(levels, tl, thresholds) if levels is not None and len(levels) \
        else None
    alerts = study_alerts(tl, changes, thresholds)
    counts = alerts.groupby("study_id").size()
    rows = []
    for record in tl.to_dict(orient="records"):
        row = {k: _plain(record.get(k)) for k in TREND_KEYS if k not in ("alerts", "current")}
        row["study_date"] = pd.Timestamp(record["study_date"]).date().isoformat()
        row["alerts"] = int(counts.get(record["study_id"], 0))
        row["current"] = int(record["study_id"]) == int(study_id)
        rows.append(row)
    mine = alerts[alerts["study_id"].astype(int) == int(study_id)]
    return {"studies": rows,
            "alerts": [{"title": a.title, "priority": a.priority, "sentence": a.sentence}
                       for a in mine.itertuples()],
            "thresholds": asdict(thresholds)}


def _number(value: object, digits: int = 1) -> str:
    x = finite_float(value)
    if x is None:
        return _MISSING
    return str(int(x)) if x.is_integer() else f"{x:.{digits}f}"


def _ratio(value: object) -> str:
    return _MISSING if finite_float(value) is None else percent(value)


def trend_blocks(trend: Mapping[str, Any]) -> list[Block]:
    """The trend section's blocks: a table of the studies, recorded pain per study as
    bars, and this study's alerts."""
    studies = list(trend.get("studies") or [])
    table = Table(
        ("Study date", "Lesions (lumbar)", "Involved levels", "HI ratio", "Worst level",
         "Recorded VAS", "Expected VAS", "Alerts"),
        tuple((s["study_date"] + (" (this report)" if s.get("current") else ""),
               f"{_number(s.get('lesion_count'))} ({_number(s.get('lesion_count_lumbar'))})",
               _number(s.get("involved_levels")), _ratio(s.get("high_intensity_ratio")),
               _ratio(s.get("max_level_high_intensity_ratio")), _number(s.get("vas")),
               _number(s.get("expected_vas")), str(s.get("alerts", 0)))
              for s in studies),
        numeric=(1, 2, 3, 4, 5, 6, 7), widths_mm=(34, 24, 20, 20, 20, 22, 22, 18))
    bars = []
    for s in studies:
        vas = finite_float(s.get("vas"))
        colour = category_colour(vas_to_category(vas)) if vas is not None else "#9e9e9e"
        bars.append(Bar(s["study_date"], _number(vas),
                        None if vas is None else vas / 10.0, colour))
    blocks: list[Block] = [
        Paragraph(f"{len(studies)} studies of this patient up to this report, oldest first; "
                  "later studies are not shown."),
        table,
        Subheading("Recorded pain per study"),
        BarChart(("Study date", "VAS (0-10)"), tuple(bars)),
        Subheading("Alerts at this study"),
    ]
    alerts = list(trend.get("alerts") or [])
    if not alerts:
        blocks.append(Paragraph("No surveillance alert fired at this study."))
    for alert in alerts:
        style = "warn" if alert.get("priority") in ("urgent", "soon") else "body"
        blocks.append(Paragraph(f"{alert['title']} ({alert['priority']}): ",
                                strong=str(alert["sentence"]), style=style))
    blocks.append(Paragraph(thresholds_text(trend.get("thresholds") or {}), style="caption"))
    return blocks


def thresholds_text(values: Mapping[str, Any]) -> str:
    """The alert thresholds in one sentence (defaults for keys not given)."""
    t = Thresholds(**{k: v for k, v in values.items()
                      if k in Thresholds.__dataclass_fields__})
    return (f"Alert thresholds (not validated cut-offs): overall HI ratio up by at least "
            f"{100 * t.hi_rise_points:g} percentage points and {100 * t.hi_rise_relative:g} %; "
            f"one level {100 * t.level_hi_rise_points:g} points and "
            f"{100 * t.level_hi_rise_relative:g} %; recorded VAS at least "
            f"{t.pain_above_expected_vas:g} points above the expected VAS; any new lumbar "
            "involvement, involved level, pathologic fracture or new/progressive deficit.")
