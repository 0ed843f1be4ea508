"""Typed measurement results and the one decoder of imaging values in a case.

:class:`LevelMetrics` and :class:`StudyMetrics` are what :func:`core.lesions.extract`
returns (``StudyMetrics.to_dict()`` is the ``python -m core extract`` JSON, and
:meth:`StudyMetrics.from_dict` reads it back, validated). :func:`imaging_summary` is the
one place that reads the imaging values of a *case*, whichever form they come in: the
nested extract JSON (``lesion_count_by_region``, ``involved_levels`` as level names,
``levels``) or flat table columns (``lesion_count_<region>``, ``involved_levels`` as a
count). The feature vector, the store, the report and the pages all read imaging values
through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.vocab import REGION_COUNT_COLUMNS, REGIONS, is_missing, require_finite


@dataclass(frozen=True)
class LevelMetrics:
    """Metrics of one vertebral level.

    Attributes
    ----------
    level : str
        Level name (``"L3"``).
    region : str
        ``cervical``, ``thoracic``, ``lumbar`` or ``sacral``.
    vertebra_volume_ml : float
        ``N_vertebra * voxel_mm3 / 1000``, ``N_vertebra`` = labelled voxels.
    high_intensity_volume_ml : float
        ``N_HI * voxel_mm3 / 1000``, ``N_HI`` = voxels of this level's counted lesion
        components (those that pass the minimum volume and, when detected, the edge
        margin).
    high_intensity_ratio : float
        ``N_HI / N_vertebra`` (= HI volume / vertebra volume), in [0, 1].
    lesion_count : int
        Connected components (26-connectivity) of HI voxels inside this vertebra with
        volume ``>= min_lesion_volume_mm3`` (and, when detected, reaching deeper than
        ``edge_margin_mm``).
    """

    level: str
    region: str
    vertebra_volume_ml: float
    high_intensity_volume_ml: float
    high_intensity_ratio: float
    lesion_count: int

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable dict with the attribute names as keys."""
        return {
            "level": self.level,
            "region": self.region,
            "vertebra_volume_ml": self.vertebra_volume_ml,
            "high_intensity_volume_ml": self.high_intensity_volume_ml,
            "high_intensity_ratio": self.high_intensity_ratio,
            "lesion_count": self.lesion_count,
        }


@dataclass(frozen=True)
class StudyMetrics:
    """Metrics of one study (the ``python -m core extract`` JSON).

    Attributes
    ----------
    levels : tuple of LevelMetrics
        Labelled levels in craniocaudal order.
    lesion_count : int
        ``sum(level.lesion_count)``: number of metastatic sites (a lesion spanning two
        vertebrae counts twice).
    lesion_count_by_region : dict of str to int
        ``sum(level.lesion_count)`` per region, all four regions present (zeros too).
    involved_levels : tuple of str
        Names of the levels with ``lesion_count >= 1``, craniocaudal.
    high_intensity_ratio : float
        ``sum(HI volume) / sum(vertebra volume)`` over all labelled levels, in [0, 1].
    max_level_high_intensity_ratio : float
        ``max(level.high_intensity_ratio)``.
    vertebra_volume_ml : float
        ``sum(level.vertebra_volume_ml)``.
    high_intensity_volume_ml : float
        ``sum(level.high_intensity_volume_ml)``.
    provenance : dict
        Versions, time, ``input_sha256``, ``parameters`` (the DetectionParams),
        ``convention`` and ``lesion_source`` (``"detection"`` or ``"lesion_mask"``).
    """

    levels: tuple[LevelMetrics, ...]
    lesion_count: int
    lesion_count_by_region: dict[str, int]
    involved_levels: tuple[str, ...]
    high_intensity_ratio: float
    max_level_high_intensity_ratio: float
    vertebra_volume_ml: float
    high_intensity_volume_ml: float
    provenance: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The ``core extract`` JSON: keys ``levels``, ``lesion_count``,
        ``lesion_count_by_region``, ``involved_levels``, ``high_intensity_ratio``,
        ``max_level_high_intensity_ratio``, ``vertebra_volume_ml``,
        ``high_intensity_volume_ml``, ``provenance``."""
        return {
            "levels": [lv.to_dict() for lv in self.levels],
            "lesion_count": self.lesion_count,
            "lesion_count_by_region": dict(self.lesion_count_by_region),
            "involved_levels": list(self.involved_levels),
            "high_intensity_ratio": self.high_intensity_ratio,
            "max_level_high_intensity_ratio": self.max_level_high_intensity_ratio,
            "vertebra_volume_ml": self.vertebra_volume_ml,
            "high_intensity_volume_ml": self.high_intensity_volume_ml,
            "provenance": dict(self.provenance),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudyMetrics:
        """Read an extract JSON back (the inverse of :meth:`to_dict`), validated.

        Raises
        ------
        ValueError
            For a missing or malformed value, naming it.
        """
        if not isinstance(data, Mapping):
            raise ValueError("metrics must be a mapping (StudyMetrics.to_dict()).")
        return _study_from_dict(data)




def _level_from_dict(item: object, seen: set[str]) -> LevelMetrics:
    """One validated level of the extract JSON."""
    if not isinstance(item, Mapping):
        raise ValueError("metrics['levels'] must be a list of level dicts.")
    name, region = item.get("level"), item.get("region")
    if not isinstance(name, str) or not name or len(name) > 8 or name in seen:
        raise ValueError(f"level name {name!r} is missing, too long or repeated.")
    if region not in REGIONS:
        raise ValueError(f"level {name} has unknown region {region!r}.")
    seen.add(name)
    count = item.get("lesion_count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"level {name} lesion_count {count!r} is not a whole number >= 0.")
    ratio = require_finite(item.get("high_intensity_ratio"), f"level {name} high_intensity_ratio")
    if not 0 <= ratio <= 1:
        raise ValueError(f"level {name} high_intensity_ratio {ratio!r} is not in [0, 1].")
    return LevelMetrics(
        level=name, region=str(region),
        vertebra_volume_ml=require_finite(item.get("vertebra_volume_ml"),
                                   f"level {name} vertebra_volume_ml"),
        high_intensity_volume_ml=require_finite(item.get("high_intensity_volume_ml"),
                                         f"level {name} high_intensity_volume_ml"),
        high_intensity_ratio=ratio, lesion_count=count)


def levels_from_dicts(levels: object) -> tuple[LevelMetrics, ...]:
    """The ``levels`` list of an extract JSON as validated :class:`LevelMetrics`.

    Raises
    ------
    ValueError
        For a malformed list, a missing, long or repeated level name, an unknown region, a
        count that is not a whole number >= 0, a ratio outside [0, 1] or a non-finite volume.
    """
    if levels is None:
        return ()
    if not isinstance(levels, (list, tuple)):
        raise ValueError("metrics['levels'] must be a list of level dicts.")
    seen: set[str] = set()
    return tuple(_level_from_dict(item, seen) for item in levels)


@dataclass(frozen=True)
class ImagingSummary:
    """The imaging values of one case, as given (nested or flat), not yet validated.

    Attributes
    ----------
    lesion_count : object
        ``lesion_count`` as given (``None`` when absent).
    lesion_count_by_region : dict of str to object
        One entry per region: from ``lesion_count_by_region`` when the case has that
        mapping (a region absent from it is ``None``), else the flat
        ``lesion_count_<region>`` columns.
    involved_level_names : tuple of str or None
        The involved level names when the case lists them (extract JSON), else ``None``.
    involved_levels : object
        The number of involved levels: the count of distinct names of a list, else the
        value as given.
    high_intensity_ratio, max_level_high_intensity_ratio : object
    vertebra_volume_ml, high_intensity_volume_ml : object
    levels : tuple of LevelMetrics
        Per-level rows when the case carries them (validated), else empty.
    """

    lesion_count: object
    lesion_count_by_region: dict[str, object]
    involved_level_names: tuple[str, ...] | None
    involved_levels: object
    high_intensity_ratio: object
    max_level_high_intensity_ratio: object
    vertebra_volume_ml: object = None
    high_intensity_volume_ml: object = None
    levels: tuple[LevelMetrics, ...] = field(default_factory=tuple)

    def flat_columns(self) -> dict[str, object]:
        """The flat imaging columns of a cohort table (``import-cohort``)."""
        flat: dict[str, object] = {"lesion_count": self.lesion_count}
        for column, region in zip(REGION_COUNT_COLUMNS, REGIONS, strict=True):
            flat[column] = self.lesion_count_by_region[region]
        flat["involved_levels"] = self.involved_levels
        flat["high_intensity_ratio"] = self.high_intensity_ratio
        flat["max_level_high_intensity_ratio"] = self.max_level_high_intensity_ratio
        return flat


def imaging_summary(case: Mapping[str, object]) -> ImagingSummary:
    """Read the imaging values of a case, nested extract JSON or flat columns.

    Raises
    ------
    ValueError
        When ``lesion_count_by_region`` is present but not a mapping, or ``levels`` is
        malformed (see :func:`levels_from_dicts`).
    """
    by_region = case.get("lesion_count_by_region")
    if not is_missing(by_region) and not isinstance(by_region, Mapping):
        raise ValueError(f"lesion_count_by_region {by_region!r} is not a mapping of region "
                         "to count.")
    counts: dict[str, object] = {}
    for region, column in zip(REGIONS, REGION_COUNT_COLUMNS, strict=True):
        value = case.get(column)
        if is_missing(value) and isinstance(by_region, Mapping):
            value = by_region.get(region)  # a region absent from the mapping is missing
        counts[region] = value
    involved = case.get("involved_levels")
    names: tuple[str, ...] | None = None
    if isinstance(involved, (list, tuple, set, frozenset)):
        names = tuple(dict.fromkeys(str(v).strip() for v in involved))
        involved = len(names)
    return ImagingSummary(
        lesion_count=case.get("lesion_count"),
        lesion_count_by_region=counts,
        involved_level_names=names,
        involved_levels=involved,
        high_intensity_ratio=case.get("high_intensity_ratio"),
        max_level_high_intensity_ratio=case.get("max_level_high_intensity_ratio"),
        vertebra_volume_ml=case.get("vertebra_volume_ml"),
        high_intensity_volume_ml=case.get("high_intensity_volume_ml"),
        levels=levels_from_dicts(case.get("levels")),
    )


def _study_from_dict(data: Mapping[str, Any]) -> StudyMetrics:
    levels = levels_from_dicts(data.get("levels"))
    summary = imaging_summary(data)
    by_region = {r: int(require_finite(v if v is not None else 0, f"lesion_count_{r}"))
                 for r, v in summary.lesion_count_by_region.items()}
    return StudyMetrics(
        levels=levels,
        lesion_count=int(require_finite(data.get("lesion_count"), "lesion_count")),
        lesion_count_by_region=by_region,
        involved_levels=summary.involved_level_names or (),
        high_intensity_ratio=require_finite(data.get("high_intensity_ratio"),
                                            "high_intensity_ratio"),
        max_level_high_intensity_ratio=require_finite(data.get("max_level_high_intensity_ratio"),
                                               "max_level_high_intensity_ratio"),
        vertebra_volume_ml=require_finite(data.get("vertebra_volume_ml"), "vertebra_volume_ml"),
        high_intensity_volume_ml=require_finite(data.get("high_intensity_volume_ml"),
                                         "high_intensity_volume_ml"),
        provenance=dict(data.get("provenance") or {}),
    )
