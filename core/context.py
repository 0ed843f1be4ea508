"""Treatment and clinical context of a case: what shapes the advice, not the prediction.

The pain model never reads what follows from pain (the current analgesic step, prior
radiotherapy, a bone-modifying agent) or what scores it (the SINS pain component, the
recorded VAS). Those values still matter: the advice is relative to what the patient
already receives (never a silent step down), safety overrides read the full SINS and the
neurologic deficit state, the NOMS oncologic arm reads the primary tumour's
radiosensitivity, and a recorded VAS is compared with the prediction.

:func:`context_from_case` reads them from the same raw case as
:func:`core.features.features_from_case`; :func:`parse_case` returns both, validated once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from core.features import FeatureVector, case_inputs, features_from_case
from core.metrics import imaging_summary
from core.vocab import (
    ANALGESIC_STEPS,
    DEFICIT_LABELS,
    DEFICIT_STATES,
    DeficitReading,
    is_missing,
    quote_value,
    radiosensitivity,
)

_YES = frozenset({"yes", "true", "y", "1", "1.0"})
_NO = frozenset({"no", "false", "n", "0", "0.0"})


def _yes_no(name: str, value: object) -> bool | None:
    """A recorded yes/no (booleans, 1/0, yes/no words), ``None`` when blank."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    raise ValueError(f"{name} {quote_value(value)} is not yes/no.")


def _step(value: object) -> int | None:
    """The current WHO analgesic step 0-3 (0 = none), ``None`` when not recorded."""
    if is_missing(value):
        return None
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number not in ANALGESIC_STEPS:
        raise ValueError(f"analgesic_step {quote_value(value)} is not a WHO step 0-3.")
    return int(number)


def _vas(value: object) -> float | None:
    """A recorded VAS 0-10, ``None`` when not recorded."""
    if is_missing(value):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"vas {quote_value(value)} is not a number from 0 to 10.") from None
    if isinstance(value, bool) or not math.isfinite(number) or not 0 <= number <= 10:
        raise ValueError(f"vas {quote_value(value)} is not a number from 0 to 10.")
    return number


@dataclass(frozen=True)
class CaseContext:
    """What shapes the advice beside the prediction (``None`` = not recorded).

    Attributes
    ----------
    current_analgesic_step : int or None
        WHO ladder step the patient is on now (0 = no analgesic).
    prior_radiotherapy : bool or None
        Radiotherapy to the spine before this study.
    bone_modifying_agent : bool or None
        On a bone-modifying agent (denosumab or a bisphosphonate) now.
    primary_tumor : str or None
    radiosensitivity : str
        ``radiosensitive``, ``radioresistant`` or ``unknown`` (NOMS oncologic arm).
    neurologic_deficit : str or None
        ``none``, ``stable`` or ``new_or_progressive``.
    neuropathic_pain : bool or None
        A neuropathic (radicular) pain component was recorded.
    sins_total : int or None
        Full SINS with its pain component (the stability overrides read it).
    sins_pain : int or None
        The SINS pain component (0, 1, 3).
    recorded_vas : float or None
        Pain recorded at the study (compared with the prediction, never a model input).
    imaging_recorded : bool
        At least one imaging value (count, ratio, involved levels) was recorded.
    levels_in_view : tuple of str
        Level names measured on the study (its field of view), when the case lists them.
    sequence : str or None
        Sequence hint of the measured image, when the case carries it.
    warnings : tuple of str
        Plain sentences about how a value was read (e.g. a yes/no deficit).
    """

    current_analgesic_step: int | None = None
    prior_radiotherapy: bool | None = None
    bone_modifying_agent: bool | None = None
    primary_tumor: str | None = None
    radiosensitivity: str = "unknown"
    neurologic_deficit: str | None = None
    neuropathic_pain: bool | None = None
    sins_total: int | None = None
    sins_pain: int | None = None
    recorded_vas: float | None = None
    imaging_recorded: bool = False
    levels_in_view: tuple[str, ...] = ()
    sequence: str | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable fields."""
        out = dict(self.__dict__)
        out["levels_in_view"] = list(self.levels_in_view)
        out["warnings"] = list(self.warnings)
        return out


_IMAGING_KEYS = ("lesion_count", "involved_levels", "high_intensity_ratio",
                 "max_level_high_intensity_ratio")


def _imaging_recorded(case: Mapping[str, object]) -> bool:
    summary = imaging_summary(case)
    values = [getattr(summary, k) for k in _IMAGING_KEYS]
    values += list(summary.lesion_count_by_region.values())
    return any(not is_missing(v) for v in values) or bool(summary.levels)


def _sequence(case: Mapping[str, object]) -> str | None:
    provenance = case.get("provenance")
    image = provenance.get("image") if isinstance(provenance, Mapping) else None
    value = image.get("sequence") if isinstance(image, Mapping) else None
    return value if isinstance(value, str) and value else None


def deficit_warnings(deficit: DeficitReading) -> tuple[str, ...]:
    """The context warnings a neurologic-deficit reading brings: a yes/no value was read
    as a state (one sentence), else none."""
    if not deficit.from_yes_no:
        return ()
    return (f"The neurologic deficit was recorded as yes/no and read as "
            f"{DEFICIT_LABELS[deficit.state]}; record none, stable (known, unchanged) or new "
            "or progressive: a stable, known deficit does not need the same-day pathway.",)


def context_from_case(case: Mapping[str, object]) -> CaseContext:
    """Read the context fields of a raw case (validated; one sentence naming a bad value).

    Raises
    ------
    ValueError
        For a value that is not a valid step, yes/no, VAS, deficit state or SINS value.
    """
    inputs = case_inputs(case)
    deficit = inputs.deficit
    warnings = deficit_warnings(deficit)
    primary = case.get("primary_tumor")
    primary_text = None if is_missing(primary) else str(primary).strip().lower()
    pain = inputs.sins_parts["sins_pain"]
    return CaseContext(
        current_analgesic_step=_step(case.get("analgesic_step")),
        prior_radiotherapy=_yes_no("prior_radiotherapy", case.get("prior_radiotherapy")),
        bone_modifying_agent=_yes_no("bone_modifying_agent", case.get("bone_modifying_agent")),
        primary_tumor=primary_text,
        radiosensitivity=radiosensitivity(primary_text),
        neurologic_deficit=deficit.state,
        neuropathic_pain=_yes_no("neuropathic_pain", case.get("neuropathic_pain")),
        sins_total=None if inputs.sins_total is None else int(inputs.sins_total),
        sins_pain=None if pain is None else int(pain),
        recorded_vas=_vas(case.get("vas")),
        imaging_recorded=_imaging_recorded(case),
        levels_in_view=tuple(lv.level for lv in imaging_summary(case).levels),
        sequence=_sequence(case),
        warnings=warnings,
    )


@dataclass(frozen=True)
class ParsedCase:
    """A raw case read once: the model's input and the advice's context."""

    features: FeatureVector
    context: CaseContext


def parse_case(case: Mapping[str, object]) -> ParsedCase:
    """:func:`features_from_case` and :func:`context_from_case` of one raw case."""
    return ParsedCase(features_from_case(case), context_from_case(case))


__all__ = ["DEFICIT_STATES", "CaseContext", "ParsedCase", "context_from_case", "deficit_warnings",
           "parse_case"]
