"""The model's feature vector: the feature registry and the one typed model input.

A *case* is a raw mapping that merges the JSON of ``python -m core extract`` (keys
``lesion_count``, ``lesion_count_by_region``, ``involved_levels``, ``high_intensity_ratio``,
``max_level_high_intensity_ratio``) with clinical fields (see :mod:`core.clinical`). Cases
without images may carry flat columns instead (``lesion_count_lumbar``, ``involved_levels``
as a count, ...).

:data:`FEATURES` is the registry of model features: name, label, unit, range, monotone
constraint, how a clinician reads the value (``display``) and which widget edits it
(``widget``). Training, prediction, explanation, the model card, the clinical form and the
what-if page all read this one list; adding a feature touches only this table (and the
model must be retrained).

:class:`FeatureVector` is the parsed, range-checked input of the model, the tier rules and
the explanation. It is made only by :func:`features_from_case` (one constructor, one
validation at the edge); :func:`core.model.predict`, :func:`core.explain.explain_case` and
:func:`core.tiers.decide_tier` accept nothing else, so a vector is never parsed twice and
raw values and model codes cannot be confused (Bilsky ``"2"`` is grade 2; its model code
is 4).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from core.metrics import ImagingSummary, imaging_summary
from core.vocab import (
    ANALGESIC_STEPS,
    BILSKY_GRADES,
    ECOG_GRADES,
    REGIONS,
    SINS_COMPONENTS,
    BilskyGrade,
    DisplayKind,
    check_sins_points,
    display,
    finite_float,
    is_missing,
)

Kind = Literal["count", "ratio", "binary", "ordinal", "continuous"]
Widget = Literal["count", "percent", "yes_no", "bilsky", "choice", "sins_total", "age"]


@dataclass(frozen=True)
class FeatureSpec:
    """One model feature.

    Attributes
    ----------
    name : str
        Column name in feature frames and JSON.
    label : str
        Short human label for charts, tables and widgets.
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
    display : str
        How :func:`core.vocab.display` renders a value (``percent``, ``yes_no``, ...).
    widget : str
        Which input edits it on the clinical form and the what-if page.
    choices : mapping of int to str
        Labels of the choices of an ordinal ``choice`` widget (empty otherwise).
    derived : bool
        Computed from other features when not given (no widget of its own).
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
    display: DisplayKind = "number"
    widget: Widget = "count"
    choices: Mapping[int, str] = field(default_factory=dict)
    derived: bool = False

    def render(self, value: object) -> str:
        """The value as a clinician reads it (``"1b"``, ``"yes"``, ``"12.3%"``)."""
        return display(self.display, value)


def _count(name: str, label: str, hi: float, description: str, *,
           derived: bool = False) -> FeatureSpec:
    return FeatureSpec(name, label, "count", "count", 0, hi, 1, "imaging", description,
                       display="count", widget="count", derived=derived)


FEATURES: tuple[FeatureSpec, ...] = (
    _count("lesion_count_cervical", "Cervical lesions", 200, "Metastatic lesions in C1-C7."),
    _count("lesion_count_thoracic", "Thoracic lesions", 200, "Metastatic lesions in T1-T13."),
    _count("lesion_count_lumbar", "Lumbar lesions", 200, "Metastatic lesions in L1-L6."),
    _count("lesion_count_sacral", "Sacral lesions", 200, "Metastatic lesions in the sacrum."),
    _count("lesion_count", "Total lesions", 500,
           "Number of metastatic sites across all levels.", derived=True),
    _count("involved_levels", "Involved levels", 30,
           "Number of vertebral levels with at least one lesion."),
    FeatureSpec("lumbar_involved", "Lumbar involvement", "yes/no", "binary", 0, 1, 1,
                "imaging", "1 when any lumbar level carries a lesion.",
                display="yes_no", widget="yes_no", derived=True),
    FeatureSpec("high_intensity_ratio", "HI ratio (overall)", "fraction 0-1", "ratio", 0, 1, 1,
                "imaging", "Total high-intensity volume / total labelled vertebral volume.",
                display="percent", widget="percent"),
    FeatureSpec("max_level_high_intensity_ratio", "HI ratio (worst level)", "fraction 0-1",
                "ratio", 0, 1, 1, "imaging", "Largest per-level high-intensity ratio.",
                display="percent", widget="percent"),
    FeatureSpec("age", "Age", "years", "continuous", 18, 110, 0,
                "clinical", "Age at the study date.", display="integer", widget="age"),
    FeatureSpec("ecog", "ECOG", "0-4", "ordinal", 0, 4, 0,
                "clinical", "ECOG performance status.", display="integer", widget="choice",
                choices=ECOG_GRADES),
    FeatureSpec("sins_total", "SINS total", "points 0-18", "ordinal", 0, 18, 1,
                "clinical", "Spinal Instability Neoplastic Score (Fisher 2010).",
                display="points", widget="sins_total"),
    FeatureSpec("bilsky_grade", "Bilsky grade", "0,1a,1b,1c,2,3 -> 0-5", "ordinal", 0, 5, 1,
                "clinical", "Epidural spinal cord compression grade (Bilsky 2010), ordinal.",
                display="bilsky", widget="bilsky"),
    FeatureSpec("pathologic_fracture", "Pathologic fracture", "yes/no", "binary", 0, 1, 1,
                "clinical", "Pathologic vertebral fracture present.",
                display="yes_no", widget="yes_no"),
    FeatureSpec("neurologic_deficit", "Neurologic deficit", "yes/no", "binary", 0, 1, 1,
                "clinical", "New or progressive neurologic deficit.",
                display="yes_no", widget="yes_no"),
    FeatureSpec("prior_radiotherapy", "Prior radiotherapy", "yes/no", "binary", 0, 1, 0,
                "clinical", "Radiotherapy to the spine before this study.",
                display="yes_no", widget="yes_no"),
    FeatureSpec("analgesic_step", "WHO analgesic step", "0-3", "ordinal", 0, 3, 0,
                "clinical", "Current WHO analgesic ladder step (0 none).",
                display="integer", widget="choice", choices=ANALGESIC_STEPS),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURES_BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}
_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}


def bilsky_to_ordinal(value: object) -> float | None:
    """A Bilsky grade as the model's 0-5 code (``None`` when missing).

    See :meth:`core.vocab.BilskyGrade.parse` for what is accepted.
    """
    grade = BilskyGrade.parse(value)
    return None if grade is None else float(grade.code)


def ordinal_to_bilsky(code: float) -> str:
    """The grade of a model code: ``0..5 -> "0".."3"``."""
    return BilskyGrade.from_code(code).label


def display_feature(name: str, value: object) -> str:
    """A feature value (model units, Bilsky as its code) as a clinician reads it."""
    return FEATURES_BY_NAME[name].render(value)


# ----------------------------------------------------------------- the typed vector

_CONSTRUCTOR_TOKEN = object()


@dataclass(frozen=True, eq=False)
class FeatureVector(Mapping[str, float | None]):
    """The validated model input: one value per :data:`FEATURE_NAMES`, ``None`` = missing.

    Values are in model units (counts, [0, 1] ratios, yes/no as 1/0, Bilsky as its 0-5
    code). It reads like a mapping (``fv["lesion_count"]``, ``dict(fv)``) and is made only
    by :func:`features_from_case`.
    """

    values: tuple[float | None, ...]
    _token: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._token is not _CONSTRUCTOR_TOKEN:
            raise TypeError("make a FeatureVector with core.features.features_from_case.")
        if len(self.values) != len(FEATURE_NAMES):
            raise ValueError(f"a feature vector has {len(FEATURE_NAMES)} values, "
                             f"not {len(self.values)}.")

    def __getitem__(self, name: str) -> float | None:
        return self.values[_INDEX[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(FEATURE_NAMES)

    def __len__(self) -> int:
        return len(FEATURE_NAMES)

    def __hash__(self) -> int:
        return hash(self.values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FeatureVector):
            return self.values == other.values
        return Mapping.__eq__(self, other)

    @property
    def missing(self) -> tuple[str, ...]:
        """Features that were not recorded (the model imputes them)."""
        return tuple(n for n, v in zip(FEATURE_NAMES, self.values, strict=True) if v is None)

    @property
    def bilsky(self) -> BilskyGrade | None:
        """The Bilsky grade, or ``None`` when not recorded."""
        code = self["bilsky_grade"]
        return None if code is None else BilskyGrade.from_code(code)

    def row(self) -> np.ndarray:
        """``(1, n_features)`` float array, NaN for missing values."""
        return np.asarray([[np.nan if v is None else v for v in self.values]],
                          dtype=np.float64)

    def display(self, name: str) -> str:
        """One value as a clinician reads it."""
        return display_feature(name, self[name])

    def to_dict(self) -> dict[str, float | None]:
        """``{feature: value}`` in :data:`FEATURE_NAMES` order (JSON-serialisable)."""
        return dict(zip(FEATURE_NAMES, self.values, strict=True))


# ----------------------------------------------------------------- the constructor


def _number(name: str, value: object) -> float | None:
    """A finite number (or None for missing); yes/no words and booleans only for binaries.

    Counts, ordinals and binaries must be whole numbers: a SINS of 12.5 would fall between
    the 7-12 and >= 13 safety overrides and a deficit of 0.5 would fire neither.
    """
    if is_missing(value):
        return None
    spec = FEATURES_BY_NAME.get(name)
    binary = spec is not None and spec.kind == "binary"
    if isinstance(value, (bool, np.bool_)):
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
    if finite_float(number) is None:
        raise ValueError(f"{name} {value!r} is not a finite number.")
    if (spec is None or spec.kind in ("count", "ordinal", "binary")) and not number.is_integer():
        raise ValueError(f"{name} {value!r} is not a whole number.")
    if spec is not None:
        _check_range(spec, number)
    return number


def _sins(case: Mapping[str, object]) -> float | None:
    """``sins_total``, or the sum of the six components; refuses a total that contradicts
    complete components and component values outside the published points."""
    total = _number("sins_total", case.get("sins_total"))
    parts: list[float] = []
    for component in SINS_COMPONENTS:
        value = _number(component, case.get(component))
        if value is None:
            continue
        check_sins_points(component, value)
        parts.append(value)
    if len(parts) == len(SINS_COMPONENTS):
        summed = float(sum(parts))
        if total is None:
            return summed
        if total != summed:
            raise ValueError(f"sins_total {total:g} contradicts its components, which add up "
                             f"to {summed:g}.")
    return total


def _region_counts(summary: ImagingSummary, out: dict[str, float | None]) -> None:
    """Regional counts from flat columns or the nested ``lesion_count_by_region``."""
    for region in REGIONS:
        key = f"lesion_count_{region}"
        out[key] = _number(key, summary.lesion_count_by_region[region])


def _total_count(summary: ImagingSummary, out: dict[str, float | None]) -> None:
    """``lesion_count``: given (checked against the regions) or their complete sum."""
    out["lesion_count"] = _number("lesion_count", summary.lesion_count)
    region_counts = [out[f"lesion_count_{r}"] for r in REGIONS]
    known = float(sum(v for v in region_counts if v is not None))
    complete = all(v is not None for v in region_counts)
    total = out["lesion_count"]
    if total is None:
        if complete:
            out["lesion_count"] = known
        return
    if (complete and known != total) or known > total:
        raise ValueError(f"lesion_count {total:g} contradicts the regional lesion counts "
                         f"({'sum' if complete else 'known sum'} {known:g}).")
    if total == 0:  # no lesion anywhere: every region is 0, not unknown
        for region in REGIONS:
            out[f"lesion_count_{region}"] = 0.0


def _involved(summary: ImagingSummary, out: dict[str, float | None]) -> None:
    """``involved_levels``: a count, or distinct names of a list; checked against the total."""
    out["involved_levels"] = _number("involved_levels", summary.involved_levels)
    total, levels = out["lesion_count"], out["involved_levels"]
    if total is None:
        return
    if levels is None and total == 0:
        out["involved_levels"] = 0.0
    elif levels is not None and (levels > total or (levels == 0) != (total == 0)):
        raise ValueError(f"involved_levels {levels:g} contradicts lesion_count {total:g} "
                         "(every involved level holds at least one lesion).")


def _lumbar(case: Mapping[str, object], out: dict[str, float | None]) -> None:
    """``lumbar_involved``: given (checked against the lumbar count) or derived from it."""
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


def _check_range(spec: FeatureSpec, value: float) -> None:
    if not spec.min_value <= value <= spec.max_value:
        raise ValueError(f"{spec.name} = {value:g} is outside its range "
                         f"{spec.min_value:g}-{spec.max_value:g} ({spec.unit}).")


def _check_ranges(values: Mapping[str, float | None]) -> None:
    """Derived values (sums, list lengths) are checked too."""
    for name, value in values.items():
        if value is not None:
            _check_range(FEATURES_BY_NAME[name], value)


#: Features read directly (no derivation) with :func:`_number`.
_DIRECT: tuple[str, ...] = ("high_intensity_ratio", "max_level_high_intensity_ratio", "age",
                            "ecog", "pathologic_fracture", "neurologic_deficit",
                            "prior_radiotherapy", "analgesic_step")


def features_from_case(case: Mapping[str, object]) -> FeatureVector:
    """The one constructor of :class:`FeatureVector`: parse and check a raw case.

    Parameters
    ----------
    case : mapping
        Output of ``core extract`` (nested ``lesion_count_by_region`` and a list
        ``involved_levels``), or flat columns (``lesion_count_<region>``,
        ``involved_levels`` as a count), merged with clinical fields. A
        :class:`FeatureVector` is returned unchanged (never parsed twice).

    Returns
    -------
    FeatureVector
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
    if isinstance(case, FeatureVector):
        return case
    out: dict[str, float | None] = {}
    summary = imaging_summary(case)
    _region_counts(summary, out)
    _total_count(summary, out)
    _involved(summary, out)
    _lumbar(case, out)
    for key in _DIRECT:
        out[key] = _number(key, case.get(key))
    out["sins_total"] = _sins(case)
    out["bilsky_grade"] = bilsky_to_ordinal(case.get("bilsky_grade"))
    ordered = {name: out[name] for name in FEATURE_NAMES}
    _check_ranges(ordered)
    return FeatureVector(tuple(ordered.values()), _CONSTRUCTOR_TOKEN)


__all__ = [
    "BILSKY_GRADES",
    "FEATURES",
    "FEATURES_BY_NAME",
    "FEATURE_NAMES",
    "REGIONS",
    "FeatureSpec",
    "FeatureVector",
    "bilsky_to_ordinal",
    "display_feature",
    "features_from_case",
    "ordinal_to_bilsky",
]
