"""What-if: one widget per model feature, keyed ``whatif_<feature>``.

Derived features are not widgets: ``lesion_count`` is the sum of the four regional
counts and ``lumbar_involved`` is ``lesion_count_lumbar > 0`` (as
:func:`core.features.features_from_case` derives them). ``involved_levels`` is kept
between 1 and the number of lesions when there are lesions (0 without), and the worst
level's HI ratio never below the overall ratio; the page says when it adjusts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from core.features import (
    BILSKY_GRADES,
    FEATURE_NAMES,
    FEATURES_BY_NAME,
    REGIONS,
    FeatureVector,
    display_feature,
    features_from_case,
)

#: persist_state of the what-if widgets (as ui.state.KEEP; no import cycle).
KEEP = "session"

PREFIX = "whatif_"
DERIVED = ("lesion_count", "lumbar_involved")
NOT_ASSESSED = "not assessed"
COUNT_SLIDER_MAX = 40
YES_NO = ("no", "yes")


def key(name: str) -> str:
    """Widget key of a feature."""
    return PREFIX + name


def widget_features() -> tuple[str, ...]:
    """Features that have a widget (every feature except the derived ones)."""
    return tuple(n for n in FEATURE_NAMES if n not in DERIVED)


def _median(model: Any, name: str) -> float:
    for row in model.card.get("model", {}).get("coefficients", []):
        if row.get("feature") == name and row.get("median_imputation_value") is not None:
            return float(row["median_imputation_value"])
    spec = FEATURES_BY_NAME[name]
    return float(spec.min_value)


def widget_values(features: Mapping[str, float | None], model: Any) -> dict[str, Any]:
    """Session-state values of every what-if widget for a feature vector.

    Counts and ratios missing in the case start at 0 when the case has no lesions data
    at all, else at the training median; age at the median; ordinal and yes/no findings
    that were not recorded stay "not recorded".
    """
    values: dict[str, Any] = {}
    for name in widget_features():
        spec = FEATURES_BY_NAME[name]
        raw = features.get(name)
        if spec.kind == "count":
            number = 0.0 if raw is None else float(raw)
            values[key(name)] = round(number)
        elif spec.kind == "ratio":
            values[key(name)] = 0.0 if raw is None else round(float(raw), 3)
        elif name == "age":
            values[key(name)] = round(_median(model, name) if raw is None else float(raw))
        elif name == "sins_total":
            values[key(name)] = NOT_ASSESSED if raw is None else round(float(raw))
        elif name == "bilsky_grade":
            grade = features.bilsky if isinstance(features, FeatureVector) else None
            values[key(name)] = None if grade is None else grade.label
        elif spec.kind == "binary":
            values[key(name)] = None if raw is None else YES_NO[round(float(raw))]
        else:  # ecog, analgesic_step: ordinal small integers
            values[key(name)] = None if raw is None else round(float(raw))
    return values


def load_into_state(features: Mapping[str, float | None], model: Any) -> None:
    """Set every what-if widget to the values of ``features``."""
    for name, value in widget_values(features, model).items():
        st.session_state[name] = value


def features_from_values(values: Mapping[str, Any]) -> tuple[FeatureVector, list[str]]:
    """Feature vector from widget values, with the notes of any consistency adjustment.

    The widgets hold clinical values (Bilsky grade text, yes/no); they are put into a raw
    case and parsed once by :func:`core.features.features_from_case`.
    """
    notes: list[str] = []
    out: dict[str, float | None] = {}
    for name in widget_features():
        spec = FEATURES_BY_NAME[name]
        value = values.get(key(name))
        if spec.kind in ("count", "ratio") or name == "age":
            out[name] = None if value is None else float(value)
        elif name == "sins_total":
            out[name] = None if value in (None, NOT_ASSESSED) else float(value)
        elif name == "bilsky_grade":
            out[name] = None if value is None else str(value)  # type: ignore[assignment]
        elif spec.kind == "binary":
            out[name] = None if value is None else float(YES_NO.index(str(value)))
        else:
            out[name] = None if value is None else float(value)
    total = sum(out[f"lesion_count_{r}"] or 0.0 for r in REGIONS)
    out["lesion_count"] = float(total)
    out["lumbar_involved"] = 1.0 if (out["lesion_count_lumbar"] or 0) > 0 else 0.0
    involved = out.get("involved_levels") or 0.0
    wanted = 0.0 if total == 0 else min(max(involved, 1.0), total)
    if wanted != involved:
        notes.append(f"Involved levels set to {wanted:g} to match {total:g} lesion(s).")
        out["involved_levels"] = wanted
    overall, worst = out.get("high_intensity_ratio"), out.get("max_level_high_intensity_ratio")
    if overall is not None and worst is not None and worst < overall:
        notes.append(f"Worst-level HI ratio raised to the overall ratio ({100 * overall:.1f}%).")
        out["max_level_high_intensity_ratio"] = overall
    return features_from_case(out), notes


def render_widgets() -> dict[str, Any]:
    """Draw the widgets (state must be loaded first) and return their values."""
    values: dict[str, Any] = {}
    st.markdown("**Imaging**")
    cols = st.columns(4)
    for col, region in zip(cols, REGIONS, strict=True):
        name = f"lesion_count_{region}"
        top = max(COUNT_SLIDER_MAX, int(st.session_state.get(key(name), 0)))
        values[key(name)] = col.slider(FEATURES_BY_NAME[name].label, 0, top, key=key(name),
                                       persist_state=KEEP)
    a, b, c = st.columns(3)
    top = max(30, int(st.session_state.get(key("involved_levels"), 0)))
    values[key("involved_levels")] = a.slider("Involved levels", 0, top,
                                              key=key("involved_levels"), persist_state=KEEP)
    values[key("high_intensity_ratio")] = b.slider(
        "HI ratio, overall (fraction)", 0.0, 1.0, step=0.005, key=key("high_intensity_ratio"),
        persist_state=KEEP,
        format="%.3f", help=FEATURES_BY_NAME["high_intensity_ratio"].description)
    values[key("max_level_high_intensity_ratio")] = c.slider(
        "HI ratio, worst level (fraction)", 0.0, 1.0, step=0.005, format="%.3f",
        key=key("max_level_high_intensity_ratio"), persist_state=KEEP,
        help=FEATURES_BY_NAME["max_level_high_intensity_ratio"].description)
    st.markdown("**Clinical** (a deselected choice means *not recorded*; the model then "
                "imputes the training median and safety rules cannot fire)")
    d, e, f = st.columns(3)
    values[key("sins_total")] = d.select_slider(
        "SINS total (0-18)", options=[NOT_ASSESSED, *range(19)], key=key("sins_total"),
        persist_state=KEEP,
        help="Spinal Instability Neoplastic Score: 0-6 stable, 7-12 potentially unstable, "
             "13-18 unstable (Fisher 2010).")
    values[key("bilsky_grade")] = e.segmented_control(
        "Bilsky grade", BILSKY_GRADES, key=key("bilsky_grade"), persist_state=KEEP)
    values[key("ecog")] = f.segmented_control("ECOG", (0, 1, 2, 3, 4), key=key("ecog"),
                                              persist_state=KEEP)
    g, h, i, j = st.columns(4)
    values[key("pathologic_fracture")] = g.segmented_control(
        "Pathologic fracture", YES_NO, key=key("pathologic_fracture"), persist_state=KEEP)
    values[key("neurologic_deficit")] = h.segmented_control(
        "Neurologic deficit", YES_NO, key=key("neurologic_deficit"), persist_state=KEEP)
    values[key("prior_radiotherapy")] = i.segmented_control(
        "Prior radiotherapy", YES_NO, key=key("prior_radiotherapy"), persist_state=KEEP)
    values[key("analgesic_step")] = j.segmented_control(
        "WHO analgesic step", (0, 1, 2, 3), key=key("analgesic_step"), persist_state=KEEP)
    values[key("age")] = st.slider("Age (years)", 18, 90, key=key("age"), persist_state=KEEP)
    return values


def changed_features(original: Mapping[str, float | None],
                     current: Mapping[str, float | None]) -> list[dict[str, str]]:
    """Rows ``feature, original, what-if`` for the features that differ."""
    rows = []
    for name in FEATURE_NAMES:
        a, b = original.get(name), current.get(name)
        if a != b:
            rows.append({"Feature": FEATURES_BY_NAME[name].label,
                         "Original": display_feature(name, a),
                         "What-if": display_feature(name, b)})
    return rows


# ------------------------------------------------------------------ page state

START_KEY = "whatif_start"
LOADED_KEY = "whatif_loaded"
BLANK = "blank"


def start_options(studies) -> dict[str, str]:
    """``{value: label}`` of the start select: the blank case, then every stored study."""
    from ui.state import study_label

    labels = {BLANK: "Blank case (no lesions, findings not recorded)"}
    labels.update({str(int(r["study_id"])): study_label(r)
                   for r in studies.to_dict(orient="records")})
    return labels


def start_features(store) -> tuple[FeatureVector, bool]:
    """Feature vector of the chosen starting point and whether it is synthetic."""
    start = st.session_state.get(START_KEY, BLANK)
    if start == BLANK:
        return features_from_case({}), False
    record = store.get_study(int(start))
    return features_from_case(record.case()), bool(record.synthetic)


def reset(store, model) -> None:
    """Load the starting case into every widget (start change and the reset button)."""
    try:
        features, _ = start_features(store)
    except ValueError:
        features = features_from_case({})
    load_into_state(features, model)
    st.session_state[LOADED_KEY] = st.session_state.get(START_KEY)


def ensure_loaded(store, model) -> None:
    """Load the starting case when the widgets are new (first visit, page switch)."""
    ss = st.session_state
    if ss.get(LOADED_KEY) != ss.get(START_KEY) or any(key(n) not in ss
                                                       for n in widget_features()):
        reset(store, model)
