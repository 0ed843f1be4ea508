"""The model's feature vector: names, units, ranges and how a case maps onto it.

A *case* is a mapping that merges the JSON of ``python -m core extract`` (keys
``lesion_count``, ``lesion_count_by_region``, ``involved_levels``,
``high_intensity_ratio``, ``max_level_high_intensity_ratio``) with clinical fields
(see :mod:`core.clinical`). Cases without images may instead carry flat columns
with the same names (``lesion_count_lumbar``, ``involved_levels`` as a count, ...).

This module is the single definition of the feature list used by training,
prediction, explanation, the what-if page and the model card.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

REGIONS: tuple[str, ...] = ("cervical", "thoracic", "lumbar", "sacral")

#: Bilsky epidural spinal cord compression grades (Bilsky et al., J Neurosurg Spine
#: 2010;13:324-328) in ascending severity, encoded 0..5 as a model feature.
BILSKY_GRADES: tuple[str, ...] = ("0", "1a", "1b", "1c", "2", "3")

Kind = Literal["count", "ratio", "binary", "ordinal", "continuous"]


@dataclass(frozen=True)
class FeatureSpec:
    """One model feature.

    Attributes
    ----------
    name : str
        Column name in feature frames and JSON.
    label : str
        Short human label for charts and sliders.
    unit : str
        Unit (``"count"``, ``"fraction 0-1"``, ``"years"``, ...).
    kind : str
        ``count``, ``ratio``, ``binary``, ``ordinal`` or ``continuous``.
    min_value, max_value : float
        Admissible range; values outside raise ``ValueError``.
    monotone : int
        ``+1`` when a higher value must never lower predicted pain (enforced by the
        model), ``0`` when unconstrained.
    group : str
        ``imaging`` or ``clinical``.
    description : str
        One sentence for the model card.
    """

    name: str
    label: str
    unit: str
    kind: Kind
    min_value: float
    max_value: float
    monotone: int
    group: Literal["imaging", "clinical"]
    description: str


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("lesion_count_cervical", "Cervical lesions", "count", "count", 0, 200, 1,
                "imaging", "Metastatic lesions in C1-C7."),
    FeatureSpec("lesion_count_thoracic", "Thoracic lesions", "count", "count", 0, 200, 1,
                "imaging", "Metastatic lesions in T1-T13."),
    FeatureSpec("lesion_count_lumbar", "Lumbar lesions", "count", "count", 0, 200, 1,
                "imaging", "Metastatic lesions in L1-L6."),
    FeatureSpec("lesion_count_sacral", "Sacral lesions", "count", "count", 0, 200, 1,
                "imaging", "Metastatic lesions in the sacrum."),
    FeatureSpec("lesion_count", "Total lesions", "count", "count", 0, 500, 1,
                "imaging", "Number of metastatic sites across all levels."),
    FeatureSpec("involved_levels", "Involved levels", "count", "count", 0, 30, 1,
                "imaging", "Number of vertebral levels with at least one lesion."),
    FeatureSpec("lumbar_involved", "Lumbar involvement", "yes/no", "binary", 0, 1, 1,
                "imaging", "1 when any lumbar level carries a lesion."),
    FeatureSpec("high_intensity_ratio", "HI ratio (overall)", "fraction 0-1", "ratio", 0, 1, 1,
                "imaging", "Total high-intensity volume / total labelled vertebral volume."),
    FeatureSpec("max_level_high_intensity_ratio", "HI ratio (worst level)", "fraction 0-1",
                "ratio", 0, 1, 1, "imaging", "Largest per-level high-intensity ratio."),
    FeatureSpec("age", "Age", "years", "continuous", 18, 110, 0,
                "clinical", "Age at the study date."),
    FeatureSpec("ecog", "ECOG", "0-4", "ordinal", 0, 4, 0,
                "clinical", "ECOG performance status."),
    FeatureSpec("sins_total", "SINS total", "points 0-18", "ordinal", 0, 18, 1,
                "clinical", "Spinal Instability Neoplastic Score (Fisher 2010)."),
    FeatureSpec("bilsky_grade", "Bilsky grade", "0,1a,1b,1c,2,3 -> 0-5", "ordinal", 0, 5, 1,
                "clinical", "Epidural spinal cord compression grade (Bilsky 2010), ordinal."),
    FeatureSpec("pathologic_fracture", "Pathologic fracture", "yes/no", "binary", 0, 1, 1,
                "clinical", "Pathologic vertebral fracture present."),
    FeatureSpec("neurologic_deficit", "Neurologic deficit", "yes/no", "binary", 0, 1, 1,
                "clinical", "New or progressive neurologic deficit."),
    FeatureSpec("prior_radiotherapy", "Prior radiotherapy", "yes/no", "binary", 0, 1, 0,
                "clinical", "Radiotherapy to the spine before this study."),
    FeatureSpec("analgesic_step", "WHO analgesic step", "0-3", "ordinal", 0, 3, 0,
                "clinical", "Current WHO analgesic ladder step (0 none)."),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURES_BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}


def bilsky_to_ordinal(value: object) -> float | None:
    """Encode a Bilsky grade (``"0"``, ``"1a"``, ``"1b"``, ``"1c"``, ``"2"``, ``"3"``) as 0..5.

    The 0..5 code is internal to the model. Numbers given by users are read as Bilsky
    *grades*, never as codes: ``0``, ``2`` and ``3`` are grades 0, 2 and 3; a bare ``1``
    is ambiguous (write 1a, 1b or 1c). ``None``/NaN/empty means missing.

    Raises
    ------
    ValueError
        For anything else, naming the value.
    """
    if _is_missing(value):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if number in (0.0, 2.0, 3.0):
            return float(BILSKY_GRADES.index(str(int(number))))
        if number == 1.0:
            raise ValueError("bilsky_grade 1 is ambiguous; write 1a, 1b or 1c.")
        raise ValueError(f"bilsky_grade {value!r} is not one of {', '.join(BILSKY_GRADES)}.")
    text = str(value).strip().lower()
    if text in BILSKY_GRADES:
        return float(BILSKY_GRADES.index(text))
    if text == "1":
        raise ValueError("bilsky_grade 1 is ambiguous; write 1a, 1b or 1c.")
    raise ValueError(f"bilsky_grade {value!r} is not one of {', '.join(BILSKY_GRADES)}.")


def ordinal_to_bilsky(code: float) -> str:
    """Inverse of :func:`bilsky_to_ordinal`: ``0..5 -> "0".."3"``."""
    return BILSKY_GRADES[round(code)]


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _number(name: str, value: object) -> float | None:
    """A finite number (or None for missing); yes/no words and booleans only for binaries.

    Counts, ordinals and binaries must be whole numbers: a SINS of 12.5 would fall between
    the 7-12 and >= 13 safety overrides and a deficit of 0.5 would fire neither.
    """
    if _is_missing(value):
        return None
    spec = FEATURES_BY_NAME.get(name)
    binary = spec is not None and spec.kind == "binary"
    if isinstance(value, bool):
        if not binary:
            raise ValueError(f"{name} {value!r} is not a number.")
        return float(value)
    if isinstance(value, str) and binary:
        text = value.strip().lower()
        if text in ("true", "yes", "y"):
            return 1.0
        if text in ("false", "no", "n"):
            return 0.0
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number.") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} {value!r} is not a finite number.")
    if (spec is None or spec.kind in ("count", "ordinal", "binary")) and not number.is_integer():
        raise ValueError(f"{name} {value!r} is not a whole number.")
    return number


#: Published SINS points per component (Fisher et al., Spine 2010;35:E1221); the same
#: table as :data:`core.clinical.SINS_POINTS` (checked by the tests).
SINS_COMPONENT_POINTS: dict[str, tuple[int, ...]] = {
    "sins_location": (0, 1, 2, 3),
    "sins_pain": (0, 1, 3),
    "sins_bone_lesion": (0, 1, 2),
    "sins_alignment": (0, 2, 4),
    "sins_collapse": (0, 1, 2, 3),
    "sins_posterolateral": (0, 1, 3),
}


def _sins(case: Mapping[str, object]) -> float | None:
    """``sins_total``, or the sum of the six components; refuses a total that contradicts
    complete components and component values outside the published points."""
    total = _number("sins_total", case.get("sins_total"))
    parts: list[float] = []
    for component, points in SINS_COMPONENT_POINTS.items():
        value = _number(component, case.get(component))
        if value is None:
            continue
        if value not in points:
            raise ValueError(f"{component} {value:g} is not one of the SINS points "
                             f"{', '.join(map(str, points))}.")
        parts.append(value)
    if len(parts) == len(SINS_COMPONENT_POINTS):
        summed = float(sum(parts))
        if total is None:
            return summed
        if total != summed:
            raise ValueError(f"sins_total {total:g} contradicts its components, which add up "
                             f"to {summed:g}.")
    return total


def features_from_case(case: Mapping[str, object]) -> dict[str, float | None]:
    """Map an extraction result merged with clinical fields onto the feature vector.

    Parameters
    ----------
    case : mapping
        Output of ``core extract`` (nested ``lesion_count_by_region`` and a list
        ``involved_levels``), or flat columns (``lesion_count_<region>``,
        ``involved_levels`` as a count), merged with clinical fields.

    Returns
    -------
    dict of str to float or None
        One entry per :data:`FEATURE_NAMES`, in order; ``None`` marks a missing value
        (the model imputes it and the page shows that it did).

    Raises
    ------
    ValueError
        When a value is not a number or lies outside its feature's range, naming it.

    Notes
    -----
    Derived features when not given directly:
    ``lesion_count = sum(lesion_count_<region>)`` when all four regions are known (a region
    absent from ``lesion_count_by_region`` is missing, not 0);
    ``lumbar_involved = 1 if lesion_count_lumbar > 0 else 0``;
    ``sins_total = sum(sins_<component>)`` when all six components are present;
    ``lesion_count == 0`` makes every regional count and ``involved_levels`` 0, and
    ``lumbar_involved == 0`` makes ``lesion_count_lumbar`` 0. A list ``involved_levels``
    counts distinct level names.

    Contradictions raise ``ValueError`` (the same rules as :mod:`core.clinical`): a total
    other than the sum of complete regional counts or below the sum of known ones,
    ``involved_levels`` above ``lesion_count`` or zero exactly when it is not, a
    ``lumbar_involved`` flag that disagrees with the lumbar count, a ``sins_total`` that
    differs from its six components, and SINS components outside the published points.
    Counts, ordinals and yes/no features must be whole numbers; yes/no words and booleans
    are accepted for yes/no features only.
    """
    out: dict[str, float | None] = {}
    by_region = case.get("lesion_count_by_region")
    if not _is_missing(by_region) and not isinstance(by_region, Mapping):
        raise ValueError(f"lesion_count_by_region {by_region!r} is not a mapping of region "
                         "to count.")
    for region in REGIONS:
        key = f"lesion_count_{region}"
        value = case.get(key)
        if _is_missing(value) and isinstance(by_region, Mapping):
            value = by_region.get(region)  # a region absent from the mapping is missing
        out[key] = _number(key, value)

    out["lesion_count"] = _number("lesion_count", case.get("lesion_count"))
    region_counts = [out[f"lesion_count_{r}"] for r in REGIONS]
    known = float(sum(v for v in region_counts if v is not None))
    if out["lesion_count"] is None and all(v is not None for v in region_counts):
        out["lesion_count"] = known
    elif out["lesion_count"] is not None:
        total = out["lesion_count"]
        complete = all(v is not None for v in region_counts)
        if (complete and known != total) or known > total:
            raise ValueError(f"lesion_count {total:g} contradicts the regional lesion counts "
                             f"({'sum' if complete else 'known sum'} {known:g}).")
        if total == 0:  # no lesion anywhere: every region is 0, not unknown
            for region in REGIONS:
                out[f"lesion_count_{region}"] = 0.0

    involved = case.get("involved_levels")
    if isinstance(involved, (list, tuple, set, frozenset)):
        out["involved_levels"] = float(len({str(v).strip() for v in involved}))
    else:
        out["involved_levels"] = _number("involved_levels", involved)
    total = out["lesion_count"]
    levels = out["involved_levels"]
    if total is not None:
        if levels is None and total == 0:
            out["involved_levels"] = 0.0
        elif levels is not None and (levels > total or (levels == 0) != (total == 0)):
            raise ValueError(f"involved_levels {levels:g} contradicts lesion_count {total:g} "
                             "(every involved level holds at least one lesion).")

    lumbar = _number("lumbar_involved", case.get("lumbar_involved"))
    lumbar_count = out["lesion_count_lumbar"]
    if lumbar is None and lumbar_count is not None:
        lumbar = 1.0 if lumbar_count > 0 else 0.0
    elif lumbar is not None and lumbar_count is not None and lumbar != (lumbar_count > 0):
        raise ValueError(f"lumbar_involved {lumbar:g} contradicts lesion_count_lumbar "
                         f"{lumbar_count:g}.")
    elif lumbar == 0.0 and lumbar_count is None:
        out["lesion_count_lumbar"] = 0.0
    out["lumbar_involved"] = lumbar

    for key in ("high_intensity_ratio", "max_level_high_intensity_ratio", "age", "ecog",
                "pathologic_fracture", "neurologic_deficit", "prior_radiotherapy",
                "analgesic_step"):
        out[key] = _number(key, case.get(key))

    out["sins_total"] = _sins(case)
    out["bilsky_grade"] = bilsky_to_ordinal(case.get("bilsky_grade"))

    ordered = {name: out[name] for name in FEATURE_NAMES}
    for name, value in ordered.items():
        spec = FEATURES_BY_NAME[name]
        if value is not None and not spec.min_value <= value <= spec.max_value:
            raise ValueError(
                f"{name} = {value:g} is outside its range "
                f"{spec.min_value:g}-{spec.max_value:g} ({spec.unit})."
            )
    return ordered
