"""What-if: one widget per model feature, keyed ``whatif_<feature>``, generated from
:data:`core.features.FEATURES` (its ``widget`` says which input edits it).

Derived features are not widgets: :func:`core.features.features_from_case` derives
``lesion_count`` (the sum of the four regional counts) and ``lumbar_involved``. The
widgets hold clinical values (a Bilsky grade as ``"1b"``, ``"yes"``/``"no"``, ratios as
fractions shown in %); they go into a raw case that is parsed once, never as model codes.
``involved_levels`` is kept between 1 and the number of lesions when there are lesions
(0 without), and the worst level's HI ratio never below the overall ratio; the page says
when it adjusts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from core.clinical import MAX_AGE
from core.features import (
    FEATURE_NAMES,
    FEATURES,
    FEATURES_BY_NAME,
    FeatureSpec,
    FeatureVector,
    display_feature,
    features_from_case,
)
from core.model import TrainedModel
from core.store import CaseStore
from core.vocab import BILSKY_GRADES, REGION_COUNT_COLUMNS, SINS_BANDS, SINS_MAX, yes_no
from ui.components import study_label
from ui.session import KEEP

PREFIX = "whatif_"
NOT_ASSESSED = "not assessed"
#: Upper end of the count sliders (raised to a case's own value when it is higher).
COUNT_SLIDER_MAX = 40
YES_NO = (yes_no(False), yes_no(True))
#: Widgets per row on the page: four sliders, three choice bars (Bilsky has six options).
ROW_WIDTH = {"imaging": 4, "clinical": 3}


def key(name: str) -> str:
    """Widget key of a feature."""
    return PREFIX + name


def widget_specs() -> tuple[FeatureSpec, ...]:
    """Features that have a widget (every feature except the derived ones)."""
    return tuple(f for f in FEATURES if not f.derived)


def widget_features() -> tuple[str, ...]:
    """Names of :func:`widget_specs`."""
    return tuple(f.name for f in widget_specs())


def _median(model: TrainedModel, name: str) -> float:
    for row in model.card.get("model", {}).get("coefficients", []):
        if row.get("feature") == name and row.get("median_imputation_value") is not None:
            return float(row["median_imputation_value"])
    return float(FEATURES_BY_NAME[name].min_value)


def _widget_value(spec: FeatureSpec, features: FeatureVector, model: TrainedModel) -> Any:
    """The widget value of one feature of a vector (model units -> clinical value)."""
    raw = features[spec.name]
    if spec.widget == "count":
        return 0 if raw is None else round(raw)
    if spec.widget == "percent":
        return 0.0 if raw is None else round(float(raw), 3)
    if spec.widget == "age":
        return round(_median(model, spec.name) if raw is None else float(raw))
    if spec.widget == "sins_total":
        return NOT_ASSESSED if raw is None else round(raw)
    if spec.widget == "bilsky":
        grade = features.bilsky
        return None if grade is None else grade.label
    if spec.widget == "yes_no":
        return None if raw is None else yes_no(raw)
    return None if raw is None else round(raw)  # choice: small whole numbers


def widget_values(features: FeatureVector, model: TrainedModel) -> dict[str, Any]:
    """Session-state values of every what-if widget for a feature vector.

    Counts and ratios missing in the case start at 0; age at the training median; ordinal
    and yes/no findings that were not recorded stay "not recorded".
    """
    return {key(spec.name): _widget_value(spec, features, model) for spec in widget_specs()}


def load_into_state(features: FeatureVector, model: TrainedModel) -> None:
    """Set every what-if widget to the values of ``features``."""
    for name, value in widget_values(features, model).items():
        st.session_state[name] = value


def _case_value(spec: FeatureSpec, value: Any) -> Any:
    """The raw-case value of one widget value (clinical values, never model codes)."""
    if value is None or (spec.widget == "sins_total" and value == NOT_ASSESSED):
        return None
    if spec.widget in ("count", "percent", "age", "sins_total", "choice"):
        return float(value)
    return str(value)  # bilsky grade text, "yes" / "no"


def _consistent(case: dict[str, Any]) -> list[str]:
    """Keep involved levels within the lesion count and the worst-level HI ratio at or
    above the overall one; the notes say what was adjusted."""
    notes: list[str] = []
    total = sum(case[c] or 0.0 for c in REGION_COUNT_COLUMNS)
    involved = case.get("involved_levels") or 0.0
    wanted = 0.0 if total == 0 else min(max(involved, 1.0), total)
    if wanted != involved:
        notes.append(f"Involved levels set to {wanted:g} to match {total:g} lesion(s).")
        case["involved_levels"] = wanted
    overall, worst = case.get("high_intensity_ratio"), case.get("max_level_high_intensity_ratio")
    if overall is not None and worst is not None and worst < overall:
        notes.append(f"Worst-level HI ratio raised to the overall ratio ({100 * overall:.1f}%).")
        case["max_level_high_intensity_ratio"] = overall
    return notes


def features_from_values(values: Mapping[str, Any]) -> tuple[FeatureVector, list[str]]:
    """Feature vector from widget values, with the notes of any consistency adjustment.

    The widget values go into a raw case and are parsed once by
    :func:`core.features.features_from_case`, which also derives the derived features.
    """
    case = {spec.name: _case_value(spec, values.get(key(spec.name)))
            for spec in widget_specs()}
    notes = _consistent(case)
    return features_from_case(case), notes


# ------------------------------------------------------------------------- widgets


def _widget(spec: FeatureSpec, column: Any) -> Any:
    """Draw the widget of one feature in ``column``; returns its value."""
    k, ss = key(spec.name), st.session_state
    common: dict[str, Any] = {"key": k, "persist_state": KEEP, "help": spec.description}
    if spec.widget == "count":
        top = max(min(COUNT_SLIDER_MAX, int(spec.max_value)), int(ss.get(k) or 0))
        return column.slider(spec.label, 0, top, **common)
    if spec.widget == "percent":
        return column.slider(spec.label, 0.0, 1.0, step=0.005, format="percent", **common)
    if spec.widget == "age":
        return column.slider(f"{spec.label} (years)", int(spec.min_value), MAX_AGE, **common)
    if spec.widget == "sins_total":
        common["help"] = f"{spec.description} {sins_bands_text()}."
        return column.select_slider(f"{spec.label} (0-{SINS_MAX})",
                                    options=[NOT_ASSESSED, *range(SINS_MAX + 1)], **common)
    if spec.widget == "bilsky":
        return column.segmented_control(spec.label, BILSKY_GRADES, **common)
    if spec.widget == "yes_no":
        return column.segmented_control(spec.label, YES_NO, **common)
    if spec.widget == "choice":
        common["help"] = f"{spec.description} " + "; ".join(spec.choices.values()) + "."
        return column.segmented_control(spec.label, tuple(spec.choices), **common)
    raise ValueError(f"feature {spec.name} has widget {spec.widget!r}, which the what-if "
                     "page cannot show.")


def sins_bands_text() -> str:
    """``0-6 stable, 7-12 potentially unstable, 13-18 unstable`` from :data:`SINS_BANDS`."""
    highs = [*(low - 1 for low, _ in SINS_BANDS[1:]), SINS_MAX]
    return ", ".join(f"{low}-{high} {name}"
                     for (low, name), high in zip(SINS_BANDS, highs, strict=True))


def _grid(specs: tuple[FeatureSpec, ...], width: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for start in range(0, len(specs), width):
        row = specs[start:start + width]
        for spec, column in zip(row, st.columns(width), strict=False):
            values[key(spec.name)] = _widget(spec, column)
    return values


def render_widgets() -> dict[str, Any]:
    """Draw the widgets (state must be loaded first) and return their values."""
    specs = widget_specs()
    st.markdown("**Imaging**")
    values = _grid(tuple(s for s in specs if s.group == "imaging"), ROW_WIDTH["imaging"])
    st.markdown("**Clinical** (a deselected choice means *not recorded*; the model then "
                "imputes the training median and safety rules cannot fire)")
    values.update(_grid(tuple(s for s in specs if s.group == "clinical"),
                        ROW_WIDTH["clinical"]))
    return values


def changed_features(original: Mapping[str, float | None],
                     current: Mapping[str, float | None]) -> pd.DataFrame:
    """Table ``Feature, Original, What-if`` of the features that differ (clinical values)."""
    rows = [{"Feature": FEATURES_BY_NAME[name].label,
             "Original": display_feature(name, original.get(name)),
             "What-if": display_feature(name, current.get(name))}
            for name in FEATURE_NAMES if original.get(name) != current.get(name)]
    return pd.DataFrame(rows, columns=["Feature", "Original", "What-if"])


# ------------------------------------------------------------------ page state

START_KEY = "whatif_start"
LOADED_KEY = "whatif_loaded"
BLANK = "blank"


def start_options(studies: pd.DataFrame) -> dict[str, str]:
    """``{value: label}`` of the start select: the blank case, then every stored study."""
    labels = {BLANK: "Blank case (no lesions, findings not recorded)"}
    labels.update({str(int(r["study_id"])): study_label(r)
                   for r in studies.to_dict(orient="records")})
    return labels


def start_features(store: CaseStore) -> tuple[FeatureVector, bool]:
    """Feature vector of the chosen starting point and whether it is synthetic."""
    start = st.session_state.get(START_KEY, BLANK)
    if start == BLANK:
        return features_from_case({}), False
    record = store.get_study(int(start))
    return features_from_case(record.case()), bool(record.synthetic)


def reset(store: CaseStore, model: TrainedModel) -> None:
    """Load the starting case into every widget (start change and the reset button)."""
    try:
        features, _ = start_features(store)
    except ValueError:
        features = features_from_case({})
    load_into_state(features, model)
    st.session_state[LOADED_KEY] = st.session_state.get(START_KEY)


def ensure_loaded(store: CaseStore, model: TrainedModel) -> None:
    """Load the starting case when the widgets are new (first visit, page switch)."""
    ss = st.session_state
    if ss.get(LOADED_KEY) != ss.get(START_KEY) or any(key(n) not in ss
                                                       for n in widget_features()):
        reset(store, model)
