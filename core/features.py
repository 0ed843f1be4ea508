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
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
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
    return number


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
    ``lesion_count = sum(lesion_count_<region>)``;
    ``lumbar_involved = 1 if lesion_count_lumbar > 0 else 0``;
    ``sins_total = sum(sins_<component>)`` when all six components are present.
    """
    out: dict[str, float | None] = {}
    by_region = case.get("lesion_count_by_region")
    for region in REGIONS:
        key = f"lesion_count_{region}"
        value = case.get(key)
        if _is_missing(value) and isinstance(by_region, Mapping):
            value = by_region.get(region, 0)
        out[key] = _number(key, value)

    out["lesion_count"] = _number("lesion_count", case.get("lesion_count"))
    region_counts = [out[f"lesion_count_{r}"] for r in REGIONS]
    if out["lesion_count"] is None and all(v is not None for v in region_counts):
        out["lesion_count"] = float(sum(region_counts))  # type: ignore[arg-type]

    involved = case.get("involved_levels")
    if isinstance(involved, (list, tuple)):
        out["involved_levels"] = float(len(involved))
    else:
        out["involved_levels"] = _number("involved_levels", involved)

    lumbar = case.get("lumbar_involved")
    if _is_missing(lumbar) and out["lesion_count_lumbar"] is not None:
        out["lumbar_involved"] = 1.0 if out["lesion_count_lumbar"] > 0 else 0.0
    else:
        out["lumbar_involved"] = _number("lumbar_involved", lumbar)

    for key in ("high_intensity_ratio", "max_level_high_intensity_ratio", "age", "ecog",
                "pathologic_fracture", "neurologic_deficit", "prior_radiotherapy",
                "analgesic_step"):
        out[key] = _number(key, case.get(key))

    sins = _number("sins_total", case.get("sins_total"))
    if sins is None:
        parts = [case.get(f"sins_{p}") for p in
                 ("location", "pain", "bone_lesion", "alignment", "collapse", "posterolateral")]
        if not any(_is_missing(p) for p in parts):
            sins = float(sum(_number("sins component", p) for p in parts))  # type: ignore[misc]
    out["sins_total"] = sins
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
