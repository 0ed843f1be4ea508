"""Tumor board helpers: filtering the case list and building the case card."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from ui import case_views, charts, state, viewer
from ui import components as c
from ui.cohort import in_date_range

REGION_CHOICES = ("cervical", "thoracic", "lumbar", "sacral", "multiple", "none", "unknown")


@dataclass(frozen=True)
class BoardFilter:
    """Case-list filter; empty selections mean "all"."""

    regions: Sequence[str] = ()
    tiers: Sequence[str] = ()
    categories: Sequence[str] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    search: str = ""
    include_synthetic: bool = True
    images_only: bool = False


def filter_studies(frame: pd.DataFrame, f: BoardFilter) -> pd.DataFrame:
    """Apply a :class:`BoardFilter` to :func:`ui.state.scored_studies` rows.

    Region filter: a study matches when any selected region carries a lesion, or when
    its region of involvement (``multiple`` / ``none`` / ``unknown``) is selected.
    """
    out = frame
    if f.regions:
        hit = out["region_of_involvement"].isin(list(f.regions))
        for region in f.regions:
            column = f"lesion_count_{region}"
            if column in out.columns:
                hit |= out[column].fillna(0) > 0
        out = out[hit]
    if f.tiers:
        out = out[out["tier"].astype(str).isin([str(t) for t in f.tiers])]
    if f.categories:
        out = out[out["category"].isin(list(f.categories))]
    out = in_date_range(out, f.date_from, f.date_to)
    if f.search.strip():
        out = out[out["patient_id"].astype(str).str.contains(f.search.strip(), case=False,
                                                             regex=False)]
    if not f.include_synthetic:
        out = out[~out["synthetic"].astype(bool)]
    if f.images_only:
        out = out[out["has_image"].astype(bool)]
    return out


URGENCY_RANK = {"urgent": 0, "soon": 1, "routine": 2}


def order_for_board(frame: pd.DataFrame) -> pd.DataFrame:
    """Most urgent first, then the most recent study."""
    rank = frame["urgency"].map(URGENCY_RANK).fillna(3)
    return (frame.assign(_rank=rank).sort_values(["_rank", "study_date"],
                                                ascending=[True, False], kind="stable")
            .drop(columns="_rank"))


def default_study(frame: pd.DataFrame) -> int:
    """The study shown first: the first one with an image (demo cases), else the first."""
    with_image = frame[frame["has_image"].astype(bool)]
    return int((with_image if len(with_image) else frame)["study_id"].iloc[0])


#: Number formats of the case list (one decimal even when it is .0: "5.0", not "5").
CASE_LIST_COLUMNS = {
    "HI ratio (%)": st.column_config.NumberColumn(format="%.1f"),
    "E[VAS]": st.column_config.NumberColumn(format="%.1f", help="Predicted expected VAS"),
}


def case_list_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The case list as shown (SYNTHETIC marked in its own column)."""
    return pd.DataFrame({
        "Study": frame["study_id"].astype(int),
        "Synthetic": frame["synthetic"].map(lambda s: "SYNTHETIC" if s else ""),
        "Patient": frame["patient_id"],
        "Date": pd.to_datetime(frame["study_date"]).dt.date,
        "Region": frame["region_of_involvement"],
        "Lesions": frame["lesion_count"],
        "HI ratio (%)": (100 * frame["high_intensity_ratio"]).round(1),
        "Predicted pain": frame["category"],
        "E[VAS]": frame["expected_vas"].round(1),
        "Tier": frame["tier"],
        "Urgency": frame["urgency"],
        "Recorded VAS": frame["vas"],
        "Image": frame["has_image"].map(lambda s: "yes" if s else ""),
    })


def history_frame(patient_id: str, scored: pd.DataFrame) -> pd.DataFrame:
    """A patient's studies with recorded VAS, predicted E[VAS] (active model) and burden."""
    history = state.get_store().patient_history(patient_id)
    preds = scored[scored["patient_id"] == patient_id][["study_id", "expected_vas"]]
    return history.merge(preds, on="study_id", how="left")


def key_image(record: Any, *, caption_prefix: str = "") -> bytes | None:
    """Show the key image (sagittal slice with the most lesion voxels) with overlays;
    returns it as PNG for reports, or None when the study has no stored image."""
    arrays = state.stored_study_images(record)
    if arrays is None:
        st.info("No image stored for this study (table data only).")
        return None
    volume, spacing, vert, les, names = arrays
    render = viewer.static_key_image(volume, spacing, vertebrae=vert, lesions=les,
                                     level_names=names)
    st.image(render.rgb, width=viewer.display_width(render.rgb, max_height_px=720),
             caption=(f"{caption_prefix}Sagittal slice {render.index + 1} (most lesion voxels: "
                      f"{render.lesion_pixels}); levels coloured, lesions red."))
    from core.report import rgb_to_png

    return rgb_to_png(render.rgb)


def case_card(study_id: int, scored: pd.DataFrame, *, big: bool = True) -> None:
    """The projected case card."""
    store = state.get_store()
    record = store.get_study(study_id)
    model = state.get_model()
    result = state.evaluate_case(model, record.case())
    head = (f"Study {record.study_id} · {record.patient_id} · {record.study_date.isoformat()}")
    c.page_style()
    st.html(f'<div class="dss-big" data-testid="board-card-title">{head}</div>')
    if record.synthetic:
        c.synthetic_badge(True)
    c.decision_support_notice()
    left, right = st.columns([1.1, 1])
    with left:
        key_image(record)
    with right:
        st.subheader("Burden")
        case_views.burden_summary(record.metrics if record.levels else record.imaging, big=big)
        if record.levels:
            c.chart(charts.spine_diagram(list(record.levels), height_per_level=20),
                    key="board_spine", extra=charts.SPINE_EXTRA_PX)
    st.subheader("Predicted pain and explanation")
    case_views.prediction_panel(result, key="board_prediction", big=big, show_notice=False)
    clinical = {k: v for k, v in record.clinical.items() if v is not None}
    with st.expander("Clinical findings"):
        st.dataframe(pd.DataFrame({"Field": list(clinical),
                                   "Value": [str(v) for v in clinical.values()]}),
                     hide_index=True, key="board_clinical")
    st.subheader(f"History of {record.patient_id}")
    history = history_frame(record.patient_id, scored)
    if len(history) > 1:
        c.chart(charts.history_chart(history), key="board_history")
    else:
        st.caption("Only one study for this patient.")
    if st.button("Record this prediction in the store", key="board_record_prediction"):
        with c.core_errors("The prediction was not recorded:"):
            store.record_prediction(record.study_id, {**result.prediction, "tier": result.tier},
                                    result.prediction["model_version"], state.actor())
            st.success("Prediction recorded (audit log: predict).")
