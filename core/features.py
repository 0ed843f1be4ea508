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
from types import MappingProxyType
from typing import Literal

import numpy as np

from core.metrics import ImagingSummary, imaging_summary
from core.vocab import (
    BILSKY_GRADES,
    DEFICIT_LABELS,
    DEFICIT_STATES,
    ECOG_GRADES,
    REGIONS,
    SINS_COMPONENTS,
    SINS_MAX,
    SINS_NON_PAIN_COMPONENTS,
    SINS_POINTS,
    BilskyGrade,
    DeficitReading,
    DisplayKind,
    check_sins_points,
    display,
    finite_float,
    is_missing,
    parse_deficit,
)

Kind = Literal["count", "ratio", "binary", "ordinal", "continuous"]

#: Choices of the neurologic-deficit input, by model code.
DEFICIT_CHOICES: Mapping[int, str] = {i: DEFICIT_LABELS[s] for i, s in enumerate(DEFICIT_STATES)}
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
        Computed from the case's inputs (e.g. from the regional counts), not entered.
    floor : bool
        With ``monotone == +1``: the weight is bounded below by a small positive floor
        (:data:`core.model.WEIGHT_FLOOR`), so the feature always raises predicted pain,
        the direction the literature reports.
    inclusion : str
        Why the feature is a predictor (the model card lists it): what it measures, why it
        is not itself a response to pain or a pain score, and its constraint.
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
    floor: bool = False
    inclusion: str = ""

    def render(self, value: object) -> str:
        """The value as a clinician reads it (``"1b"``, ``"yes"``, ``"12.3%"``)."""
        return display(self.display, value)


def _count(name: str, label: str, hi: float, description: str, inclusion: str) -> FeatureSpec:
    return FeatureSpec(name, label, "count", "count", 0, hi, 1, "imaging", description,
                       display="count", widget="count", derived=True, floor=True,
                       inclusion=inclusion)


_IMAGING_RULE = ("measured on MRI, not reported by the patient, so it does not contain the "
                 "pain it predicts")
_FLOOR_RULE = "weight >= the positive floor (direction imposed)"


#: The pain model's inputs. Inclusion rule: a feature describes the metastatic burden on
#: imaging or pain-independent clinical context; nothing that is itself a response to pain
#: (current analgesic step, prior radiotherapy) or scores pain (the SINS pain component)
#: is a predictor. Treatment context shapes the advice (:mod:`core.context`), not the
#: prediction. The three nested site counts make every lesion raise predicted pain, a
#: thoracic one more than a cervical one and a lumbar or sacral one more still (Kong et
#: al. 2025: lumbar > thoracic > cervical), because each of their weights is bounded below
#: by a small positive floor (``floor=True``).
FEATURES: tuple[FeatureSpec, ...] = (
    _count("lesion_count", "Metastatic sites (all levels)", 500,
           "Number of metastatic sites across all levels (each lesion counts).",
           "Imaging burden: the number of metastatic sites predicts pain (Kong et al. 2025); "
           f"{_IMAGING_RULE}; {_FLOOR_RULE}."),
    _count("lesion_count_noncervical", "Thoracic, lumbar or sacral sites", 500,
           "Metastatic sites below C7: thoracic, lumbar and sacral lesions.",
           "Imaging burden by region: a thoracic, lumbar or sacral site adds more pain than "
           "a cervical one (Kong et al. 2025: lumbar > thoracic > cervical); nested with "
           f"lesion_count; {_IMAGING_RULE}; {_FLOOR_RULE}."),
    _count("lesion_count_lumbosacral", "Lumbar or sacral sites", 400,
           "Metastatic sites in the weight-bearing lumbar spine and sacrum.",
           "Imaging burden by region: a weight-bearing lumbar or sacral site adds the most "
           "pain (Kong et al. 2025); nested with lesion_count_noncervical; "
           f"{_IMAGING_RULE}; {_FLOOR_RULE}."),
    FeatureSpec("involved_levels", "Involved levels", "count", "count", 0, 30, 1, "imaging",
                "Number of vertebral levels with at least one lesion.",
                display="count", widget="count",
                inclusion=f"Imaging burden (spread over levels); {_IMAGING_RULE}; weight >= 0."),
    FeatureSpec("high_intensity_ratio", "HI ratio (overall)", "fraction 0-1", "ratio", 0, 1, 1,
                "imaging", "Total high-intensity volume / total labelled vertebral volume.",
                display="percent", widget="percent", floor=True,
                inclusion="Marrow replacement on fluid-sensitive MRI; the HI ratio goes with "
                          f"pain (Kong et al. 2025); {_IMAGING_RULE}; {_FLOOR_RULE}."),
    FeatureSpec("max_level_high_intensity_ratio", "HI ratio (worst level)", "fraction 0-1",
                "ratio", 0, 1, 1, "imaging", "Largest per-level high-intensity ratio.",
                display="percent", widget="percent", floor=True,
                inclusion="The most replaced vertebra (local burden, fracture risk); "
                          f"{_IMAGING_RULE}; {_FLOOR_RULE}."),
    FeatureSpec("sins_without_pain", "SINS without pain", "points 0-15", "ordinal", 0, 15, 1,
                "clinical", "SINS (Fisher 2010) minus its pain component: location, bone "
                "lesion, alignment, collapse and posterolateral involvement.",
                display="points", widget="sins_total", derived=True,
                inclusion="Spinal instability from imaging (SINS, Fisher 2010) without its "
                          "pain item, which scores the outcome (mechanical pain = 3 points); "
                          "weight >= 0."),
    FeatureSpec("bilsky_grade", "Bilsky grade", "0,1a,1b,1c,2,3 -> 0-5", "ordinal", 0, 5, 1,
                "clinical", "Epidural spinal cord compression grade (Bilsky 2010), ordinal.",
                display="bilsky", widget="bilsky",
                inclusion="Epidural compression graded on MRI (Bilsky 2010), without the pain "
                          "report; weight >= 0."),
    FeatureSpec("pathologic_fracture", "Pathologic fracture", "yes/no", "binary", 0, 1, 1,
                "clinical", "Pathologic vertebral fracture present.",
                display="yes_no", widget="yes_no",
                inclusion="A structural finding on imaging that causes mechanical pain; not a "
                          "response to pain; weight >= 0."),
    FeatureSpec("neurologic_deficit", "Neurologic deficit", "none/stable/new -> 0-2",
                "ordinal", 0, 2, 1, "clinical",
                "Neurologic deficit: none, stable (known, unchanged), new or progressive.",
                display="deficit", widget="choice", choices=DEFICIT_CHOICES,
                inclusion="Examination finding of cord or root compression, recorded "
                          "independently of the pain score; weight >= 0."),
    FeatureSpec("age", "Age", "years", "continuous", 18, 110, 0,
                "clinical", "Age at the study date.", display="integer", widget="age",
                inclusion="Pain-independent patient context; direction not imposed "
                          "(unconstrained weight)."),
    FeatureSpec("ecog", "ECOG", "0-4", "ordinal", 0, 4, 0,
                "clinical", "ECOG performance status.", display="integer", widget="choice",
                choices=ECOG_GRADES,
                inclusion="Performance status, the usual prognostic context; pain can lower it, "
                          "so its direction is not imposed (unconstrained weight) and its "
                          "weight is reported."),
)

#: Case fields that are deliberately *not* predictors, and why (the model card lists
#: them). Treatment follows pain and pain scores contain pain: either would predict pain
#: from pain. They remain context for the advice (:mod:`core.context`).
EXCLUDED_PREDICTORS: Mapping[str, str] = MappingProxyType({
    "analgesic_step": "treatment follows pain: the current WHO step is chosen because of the "
                      "pain (confounding by indication), so it would predict pain from pain; "
                      "context for the advice (never a lower step)",
    "prior_radiotherapy": "treatment follows pain: painful lesions are irradiated; context for "
                          "the advice (re-irradiation wording)",
    "bone_modifying_agent": "treatment; context for the advice",
    "sins_total": "contains the SINS pain component (mechanical pain = 3 points): pain would "
                  "predict pain; replaced by sins_without_pain",
    "sins_pain": "scores pain itself",
    "neuropathic_pain": "describes the pain itself; context for the advice (adjuvant)",
    "vas": "the outcome",
})

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


# ----------------------------------------------------------------- case inputs

#: What a case may carry that the feature vector is derived from: kind, range and unit of
#: each input (validated here once; the clinical table schema in :mod:`core.clinical`
#: states the same ranges for imported rows).
INPUT_RANGES: Mapping[str, tuple[Kind, float, float, str]] = {
    **{f"lesion_count_{r}": ("count", 0, 200, "count") for r in REGIONS},
    "lesion_count": ("count", 0, 500, "count"),
    "involved_levels": ("count", 0, 30, "count"),
    "lumbar_involved": ("binary", 0, 1, "yes/no"),
    "high_intensity_ratio": ("ratio", 0, 1, "fraction 0-1"),
    "max_level_high_intensity_ratio": ("ratio", 0, 1, "fraction 0-1"),
    "sins_total": ("ordinal", 0, SINS_MAX, "points 0-18"),
    **{c: ("ordinal", 0, max(SINS_POINTS[c]), "SINS points") for c in SINS_COMPONENTS},
    "pathologic_fracture": ("binary", 0, 1, "yes/no"),
    "age": ("continuous", 18, 110, "years"),
    "ecog": ("ordinal", 0, 4, "0-4"),
}


def input_number(name: str, value: object) -> float | None:
    """Input ``name``'s value as a finite number (None for missing); yes/no words and
    booleans only for binaries (raises ``ValueError`` in one sentence otherwise).

    Counts, ordinals and binaries must be whole numbers: a SINS of 12.5 would fall between
    the 7-12 and >= 13 safety overrides and a deficit of 0.5 would fire neither.
    """
    if is_missing(value):
        return None
    kind, low, high, unit = INPUT_RANGES[name]
    if isinstance(value, (bool, np.bool_)):
        if kind != "binary":
            raise ValueError(f"{name} {value!r} is not a number.")
        return float(value)
    if isinstance(value, str) and kind == "binary":
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
    if kind in ("count", "ordinal", "binary") and not number.is_integer():
        raise ValueError(f"{name} {value!r} is not a whole number.")
    if not low <= number <= high:
        raise ValueError(f"{name} = {number:g} is outside its range {low:g}-{high:g} ({unit}).")
    return number


@dataclass(frozen=True)
class CaseInputs:
    """A case's validated inputs (before the model's derivations), ``None`` = missing.

    ``counts`` holds the four regional lesion counts; ``sins_parts`` the six SINS
    components; ``sins_total`` the total with its pain component (given, or summed from
    complete parts); ``deficit`` the neurologic-deficit reading.
    """

    counts: Mapping[str, float | None]
    lesion_count: float | None
    involved_levels: float | None
    high_intensity_ratio: float | None
    max_level_high_intensity_ratio: float | None
    sins_parts: Mapping[str, float | None]
    sins_total: float | None
    bilsky: BilskyGrade | None
    pathologic_fracture: float | None
    deficit: DeficitReading
    age: float | None
    ecog: float | None


def _region_counts(summary: ImagingSummary) -> dict[str, float | None]:
    """Regional counts from flat columns or the nested ``lesion_count_by_region``."""
    return {r: input_number(f"lesion_count_{r}", summary.lesion_count_by_region[r])
            for r in REGIONS}


def _total_count(summary: ImagingSummary, counts: dict[str, float | None]) -> float | None:
    """``lesion_count``: given (checked against the regions) or their complete sum. A total
    of 0 makes every region 0 (no lesion anywhere, not unknown)."""
    total = input_number("lesion_count", summary.lesion_count)
    known = float(sum(v for v in counts.values() if v is not None))
    complete = all(v is not None for v in counts.values())
    if total is None:
        return known if complete else None
    if (complete and known != total) or known > total:
        raise ValueError(f"lesion_count {total:g} contradicts the regional lesion counts "
                         f"({'sum' if complete else 'known sum'} {known:g}).")
    if total == 0:
        counts.update(dict.fromkeys(REGIONS, 0.0))
    return total


def _involved(summary: ImagingSummary, total: float | None) -> float | None:
    """``involved_levels``: a count, or distinct names of a list; checked against the total."""
    levels = input_number("involved_levels", summary.involved_levels)
    if total is None:
        return levels
    if levels is None and total == 0:
        return 0.0
    if levels is not None and (levels > total or (levels == 0) != (total == 0)):
        raise ValueError(f"involved_levels {levels:g} contradicts lesion_count {total:g} "
                         "(every involved level holds at least one lesion).")
    return levels


def _lumbar_flag(case: Mapping[str, object], counts: dict[str, float | None]) -> None:
    """An old ``lumbar_involved`` column: checked against the lumbar count; 0 without a
    count means no lumbar lesion."""
    lumbar = input_number("lumbar_involved", case.get("lumbar_involved"))
    count = counts["lumbar"]
    if lumbar is not None and count is not None and lumbar != (count > 0):
        raise ValueError(f"lumbar_involved {lumbar:g} contradicts lesion_count_lumbar "
                         f"{count:g}.")
    if lumbar == 0.0 and count is None:
        counts["lumbar"] = 0.0


def _sins(case: Mapping[str, object]) -> tuple[dict[str, float | None], float | None]:
    """The six SINS parts and the total; refuses a total that contradicts complete parts
    and part values outside the published points."""
    total = input_number("sins_total", case.get("sins_total"))
    parts: dict[str, float | None] = {}
    for component in SINS_COMPONENTS:
        value = input_number(component, case.get(component))
        if value is not None:
            check_sins_points(component, value)
        parts[component] = value
    if all(v is not None for v in parts.values()):
        summed = float(sum(parts.values()))  # type: ignore[arg-type]
        if total is None:
            return parts, summed
        if total != summed:
            raise ValueError(f"sins_total {total:g} contradicts its components, which add up "
                             f"to {summed:g}.")
    return parts, total


def _check_hi_order(overall: float | None, worst: float | None) -> None:
    if overall is not None and worst is not None and worst < overall - 1e-4:
        raise ValueError(f"max_level_high_intensity_ratio {worst:g} is below "
                         f"high_intensity_ratio {overall:g}; the worst level cannot be below "
                         "the overall ratio.")


def case_inputs(case: Mapping[str, object]) -> CaseInputs:
    """Validate the inputs of a raw case once (numbers, ranges, consistency).

    Raises
    ------
    ValueError
        For a value that is not a number, outside its range, or contradicting another
        (see :func:`features_from_case`), naming it.
    """
    summary = imaging_summary(case)
    counts = _region_counts(summary)
    _lumbar_flag(case, counts)
    total = _total_count(summary, counts)
    overall = input_number("high_intensity_ratio", summary.high_intensity_ratio)
    worst = input_number("max_level_high_intensity_ratio", summary.max_level_high_intensity_ratio)
    _check_hi_order(overall, worst)
    parts, sins_total = _sins(case)
    return CaseInputs(
        counts=counts, lesion_count=total, involved_levels=_involved(summary, total),
        high_intensity_ratio=overall, max_level_high_intensity_ratio=worst,
        sins_parts=parts, sins_total=sins_total,
        bilsky=BilskyGrade.parse(case.get("bilsky_grade")),
        pathologic_fracture=input_number("pathologic_fracture", case.get("pathologic_fracture")),
        deficit=parse_deficit(case.get("neurologic_deficit")),
        age=input_number("age", case.get("age")), ecog=input_number("ecog", case.get("ecog")),
    )


# ----------------------------------------------------------------- derivations


def _partial_sum(values: list[float | None], total: float | None) -> float | None:
    """Sum of counts when all are known; 0 when there is no lesion at all."""
    if total == 0:
        return 0.0
    return None if any(v is None for v in values) else float(sum(values))  # type: ignore[arg-type]


def _noncervical(inputs: CaseInputs) -> float | None:
    """Thoracic + lumbar + sacral sites; or the total minus the cervical sites."""
    c = inputs.counts
    direct = _partial_sum([c["thoracic"], c["lumbar"], c["sacral"]], inputs.lesion_count)
    if direct is None and inputs.lesion_count is not None and c["cervical"] is not None:
        return inputs.lesion_count - c["cervical"]
    return direct


def _sins_without_pain(inputs: CaseInputs) -> float | None:
    """The five non-pain SINS parts when all are known, else the total minus a known pain
    part; ``None`` when neither is recorded (the pain part is never guessed)."""
    parts = [inputs.sins_parts[c] for c in SINS_NON_PAIN_COMPONENTS]
    if all(p is not None for p in parts):
        return float(sum(parts))  # type: ignore[arg-type]
    pain = inputs.sins_parts["sins_pain"]
    if inputs.sins_total is not None and pain is not None:
        return inputs.sins_total - pain
    return None


def _derive(inputs: CaseInputs) -> dict[str, float | None]:
    c = inputs.counts
    deficit = inputs.deficit.state
    return {
        "lesion_count": inputs.lesion_count,
        "lesion_count_noncervical": _noncervical(inputs),
        "lesion_count_lumbosacral": _partial_sum([c["lumbar"], c["sacral"]],
                                                 inputs.lesion_count),
        "involved_levels": inputs.involved_levels,
        "high_intensity_ratio": inputs.high_intensity_ratio,
        "max_level_high_intensity_ratio": inputs.max_level_high_intensity_ratio,
        "sins_without_pain": _sins_without_pain(inputs),
        "bilsky_grade": None if inputs.bilsky is None else float(inputs.bilsky.code),
        "pathologic_fracture": inputs.pathologic_fracture,
        "neurologic_deficit": None if deficit is None else float(DEFICIT_STATES.index(deficit)),
        "age": inputs.age,
        "ecog": inputs.ecog,
    }


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
        When a value is not a number, lies outside its range or contradicts another,
        naming it.

    Notes
    -----
    Derivations: ``lesion_count`` = given, or the sum of the four regional counts when all
    are known; ``lesion_count_noncervical`` = thoracic + lumbar + sacral (or total minus
    cervical); ``lesion_count_lumbosacral`` = lumbar + sacral; a total of 0 makes every
    count 0; a list ``involved_levels`` counts distinct level names;
    ``sins_without_pain`` = the five non-pain SINS parts, or ``sins_total - sins_pain``;
    ``neurologic_deficit`` = 0 none, 1 stable, 2 new or progressive (old yes/no values are
    read as new or progressive / none: see :func:`core.vocab.parse_deficit`).

    Contradictions raise ``ValueError`` (the same rules as :mod:`core.clinical`): a total
    other than the sum of complete regional counts or below the sum of known ones,
    ``involved_levels`` above ``lesion_count`` or zero exactly when it is not, a
    ``lumbar_involved`` flag that disagrees with the lumbar count, a ``sins_total`` that
    differs from its six components, SINS parts outside the published points, and a
    worst-level HI ratio below the overall ratio.
    """
    if isinstance(case, FeatureVector):
        return case
    return _vector(_derive(case_inputs(case)))


def _vector(values: Mapping[str, float | None]) -> FeatureVector:
    for name in FEATURE_NAMES:
        value, spec = values[name], FEATURES_BY_NAME[name]
        if value is not None and not spec.min_value <= value <= spec.max_value:
            raise ValueError(f"{name} = {value:g} is outside its range "
                             f"{spec.min_value:g}-{spec.max_value:g} ({spec.unit}).")
    return FeatureVector(tuple(values[n] for n in FEATURE_NAMES), _CONSTRUCTOR_TOKEN)


__all__ = [
    "BILSKY_GRADES",
    "EXCLUDED_PREDICTORS",
    "FEATURES",
    "FEATURES_BY_NAME",
    "FEATURE_NAMES",
    "INPUT_RANGES",
    "REGIONS",
    "CaseInputs",
    "FeatureSpec",
    "FeatureVector",
    "bilsky_to_ordinal",
    "case_inputs",
    "display_feature",
    "features_from_case",
    "input_number",
    "ordinal_to_bilsky",
]
