"""Label QA on screen, and the controls that correct a level map or make one.

* :func:`qc_panel` shows label-QA findings (:mod:`core.level_qc`) grouped by severity,
  each with its level, stable code and plain sentence: errors (measurement refused, with
  what map is needed), warnings (the level's values need checking; :func:`level_flags`
  marks them in the level table) and notes. New case, the tumor board and the report
  call it with a measured case's findings or a stored study's
  (:func:`stored_findings`).
* :func:`correction_controls` (New case): shift all names by ±k levels, rename one body,
  or click a body in the key slice and say which level it is
  (:mod:`core.level_correction`); each correction re-measures the case
  (:func:`ui.measure.apply_correction`), re-runs QA, shows what changed and is written
  to the audit log against the page's draft (and again with the study when it is saved:
  :func:`ui.cases.save_new_case`).
* :func:`engine_control` (New case): a level map from TotalSegmentator or SPINEPS when
  the site has one installed, else the sentence saying how to install it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from core.engines import DEFAULT_TIMEOUT_S, ENGINES, EngineError
from core.level_correction import name_body_at, rename_body, shift_level_names
from core.level_naming import naming_sequence
from core.level_qc import SEVERITIES
from core.vocab import level_order
from ui import components as c
from ui import measure, session, slice_render, viewer
from ui.cache import get_store
from ui.measure import MeasuredCase

#: Heading of each severity group, and how it is shown.
SEVERITY_TITLES: Mapping[str, str] = {
    "error": "Measurement refused",
    "warning": "Check these levels (measured, flagged)",
    "note": "Notes",
}
_BOXES = {"error": (st.error, ":material/block:"), "warning": (st.warning, ":material/flag:"),
          "note": (st.info, ":material/info:")}
#: What to do on the New case page for an error (the finding's sentence names the map).
PAGE_HINTS: Mapping[str, str] = {
    "cord_level_map": "On this page: upload a vertebral-body map (VerSe, TotalSegmentator, "
                      "SPINEPS), or a body mask with the convention 'binary' and this map as "
                      "its level-names map, or segment the image with an engine below.",
    "order_inconsistent": "Correct the names below (rename one body: two bodies swap "
                          "names) and the case is measured again.",
    "duplicate_level": "Give each body its own label in the map (or a plain body mask with "
                       "the convention 'binary'), then read it again.",
    "not_mr_image": "Use the MRI (STIR or T2 fat-saturated) of this patient.",
}
#: Level names a body can be given (C1 to the sacrum, transitional T13 and L6 included).
LEVEL_CHOICES: tuple[str, ...] = naming_sequence("T13", "L6")


# ------------------------------------------------------------------------ QA display


def normalise(findings: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Findings as ``{code, severity, level, message}`` dicts (from ``QCFinding`` objects
    or stored ``label_qc`` lists), errors first."""
    out = []
    for f in findings or ():
        item = f.to_dict() if hasattr(f, "to_dict") else dict(f)
        if item.get("severity") not in SEVERITIES or not item.get("message"):
            raise ValueError(f"label QA finding {item!r} has no severity or message.")
        out.append(item)
    return sorted(out, key=lambda f: SEVERITIES.index(f["severity"]))


def stored_findings(metrics: Mapping[str, Any] | None,
                    image_meta: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """A stored study's QA findings: ``metrics["label_qc"]`` (measured) or
    ``image_meta["label_qc"]`` (refused); ``None`` when the study was never checked."""
    for source in (metrics, image_meta):
        if isinstance(source, Mapping) and isinstance(source.get("label_qc"), list):
            return normalise(source["label_qc"])
    return None


def level_flags(findings: Iterable[Any] | None) -> dict[str, str]:
    """Level name -> the codes of the warnings and errors about it (for the level table)."""
    flags: dict[str, list[str]] = {}
    for f in normalise(findings):
        if f.get("level") and f["severity"] != "note":
            flags.setdefault(str(f["level"]), []).append(str(f["code"]))
    return {level: "⚠ " + ", ".join(dict.fromkeys(codes)) for level, codes in flags.items()}


def _finding_line(f: Mapping[str, Any]) -> str:
    where = f"**{f['level']}**" if f.get("level") else "**whole map**"
    return f"- {where} · `{f['code']}`: {f['message']}"


def qc_panel(findings: Iterable[Any] | None, *, title: str = "Label QA",
             hints: bool = False) -> list[dict[str, Any]]:
    """Show label-QA findings grouped by severity (errors, warnings, notes), each with its
    level, code and sentence; a clean map gets one line saying so. ``hints`` adds what
    to do on the New case page under an error. Returns the findings shown."""
    items = normalise(findings)
    st.markdown(f"**{title}**")
    if not items:
        st.success(f"{title}: no findings. The map looks like vertebral bodies in "
                   "head-to-foot order.", icon=":material/verified:")
        return items
    for severity in SEVERITIES:
        group = [f for f in items if f["severity"] == severity]
        if not group:
            continue
        box, icon = _BOXES[severity]
        text = f"**{SEVERITY_TITLES[severity]}**\n\n" + "\n".join(map(_finding_line, group))
        if hints and severity == "error":
            extra = [PAGE_HINTS[f["code"]] for f in group if f["code"] in PAGE_HINTS]
            text += "".join(f"\n\n{h}" for h in dict.fromkeys(extra))
        box(text, icon=icon)
    return items


def prediction_gate(case: MeasuredCase | None, *, key: str = "newcase_qc_confirm") -> bool:
    """Whether the page may predict: yes without a refused level map; while label QA
    refuses the case's map, only once the user confirms predicting without its image
    measurements (the model then imputes the imaging features). Says why it waits."""
    if case is None or not case.refused:
        return True
    codes = ", ".join(dict.fromkeys(f["code"] for f in normalise(case.label_qc)
                                    if f["severity"] == "error"))
    st.warning(f"No prediction yet: label QA refused the level map (`{codes}`). Correct "
               "the level names above, or confirm below to predict without this image's "
               "measurements (the model imputes the imaging features).",
               icon=":material/block:")
    return bool(st.checkbox("Predict without this image's measurements",
                            key=f"{key}_{case.draft_id}"))


# ------------------------------------------------------------------ naming inputs

#: How the page names a plain mask's bodies (``core extract --lowest`` etc.).
NAMING_SOURCES: Mapping[str, str] = {
    "lowest": "its lowest body's level",
    "highest": "its highest body's level",
    "names_map": "a level-names map (cord levels or disc labels)",
    "sacrum": "the sacrum in the mask (the body above it is L5)",
}


def naming_inputs(convention: str, *, key: str = "newcase_naming"
                  ) -> measure.NamingInput | None:
    """The inputs that name a plain body mask (``binary`` / ``total_mr``); ``None`` for a
    convention with level names."""
    if not measure.needs_naming(convention):
        return None
    how = st.radio("Name the mask's bodies from", tuple(NAMING_SOURCES),
                   format_func=NAMING_SOURCES.__getitem__, key=f"{key}_how",
                   persist_state=session.KEEP,
                   help="The bodies are split (at the discs too), ordered head to foot and "
                        "named by counting; label QA then checks the named map.")
    if how in ("lowest", "highest"):
        session.default_widget(f"{key}_level", "L5" if how == "lowest" else "C1")
        level = st.selectbox("Level of the lowest body" if how == "lowest" else
                             "Level of the highest body", LEVEL_CHOICES[:-1],
                             key=f"{key}_level")
        return measure.NamingInput(**{how: level})
    if how == "names_map":
        upload = st.file_uploader("Level-names map (on the same image)",
                                  type=["nii", "gz", "nrrd", "mha"], key=f"{key}_map")
        conv = st.selectbox("Its label convention", measure.NAMED_CONVENTIONS,
                            index=measure.NAMED_CONVENTIONS.index("sct"),
                            key=f"{key}_map_convention")
        src = (None if upload is None
               else measure.Source.from_bytes(upload.name, upload.getvalue()))
        return measure.NamingInput(names_from=src, names_convention=conv)
    label = st.number_input("Sacrum label in the mask (total_mr: 18, found by itself)",
                            min_value=0, max_value=65535, value=0, step=1,
                            key=f"{key}_sacrum")
    return measure.NamingInput(sacrum_label=int(label) or None)


# ---------------------------------------------------------------- click on a body


def click_to_index(click: Mapping[str, Any], *, plane: str, index: int,
                   shape_zyx: tuple[int, ...], spacing_xyz: tuple[float, float, float],
                   pixel_mm: float, rgb_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Array index ``(z, y, x)`` of a click on a slice rendered by
    :func:`ui.slice_render.render_slice` without padding (``min_aspect=0``).

    ``click`` is the value of ``streamlit_image_coordinates``: ``x``, ``y`` in displayed
    pixels and the displayed ``width`` / ``height`` (scaled back to the rendered image).
    The display pixel centre maps to the source row/column as the viewer resamples it
    (``src = (dst + 0.5) * pixel_mm / spacing - 0.5``, nearest), then the plane's flips
    are undone (sagittal and coronal rows run superior to inferior)."""
    rows, cols = int(rgb_shape[0]), int(rgb_shape[1])
    col_d = float(click["x"]) * cols / float(click.get("width") or cols)
    row_d = float(click["y"]) * rows / float(click.get("height") or rows)
    row_mm, col_mm = slice_render.plane_spacing(spacing_xyz, plane)
    z, y, x = (int(n) for n in shape_zyx[:3])
    n_rows, n_cols = {"axial": (y, x), "coronal": (z, x), "sagittal": (z, y)}[plane]
    r = int(np.clip(np.rint((row_d + 0.5) * pixel_mm / row_mm - 0.5), 0, n_rows - 1))
    q = int(np.clip(np.rint((col_d + 0.5) * pixel_mm / col_mm - 0.5), 0, n_cols - 1))
    if plane == "axial":
        return index, r, q
    if plane == "coronal":
        return z - 1 - r, index, q
    return z - 1 - r, q, index


def _window(case: MeasuredCase, key: str) -> tuple[float, float]:
    """Auto window/level of the case's image, once per image."""
    ss = st.session_state
    cached = ss.get(f"{key}_window")
    if not cached or cached[0] != case.image_id:
        ss[f"{key}_window"] = (case.image_id, slice_render.auto_window(case.volume))
    return ss[f"{key}_window"][1]


def _click_body(case: MeasuredCase, key: str) -> None:
    """The key sagittal slice as a clickable image; keeps the clicked voxel in
    ``<key>_point`` and says which body it is."""
    assert case.vertebrae_array is not None
    ss = st.session_state
    shape = case.volume.shape
    count = slice_render.n_slices(shape, "sagittal")
    if f"{key}_slice" not in ss or ss.get(f"{key}_slice_image") != case.image_id:
        ss[f"{key}_slice"] = slice_render.key_slice("sagittal", shape,
                                                    vertebrae=case.vertebrae_array)
        ss[f"{key}_slice_image"] = case.image_id
    index = viewer.numbered_slider("Sagittal slice", f"{key}_slice", count)
    window, level = _window(case, key)
    render = slice_render.render_slice(case.volume, case.spacing_xyz, "sagittal", index, window,
                                       level, vertebrae=case.vertebrae_array,
                                       level_names=case.level_names, opacity=0.45, target_px=420,
                                       min_aspect=0.0)
    click = streamlit_image_coordinates(render.rgb, key=f"{key}_image", cursor="crosshair")
    ss[f"{key}_point"] = None
    if not click or click.get("unix_time") == ss.get(f"{key}_used"):
        st.caption("Click a body in the image, then choose its level.")
        return
    point = click_to_index(click, plane="sagittal", index=index, shape_zyx=shape,
                           spacing_xyz=case.spacing_xyz, pixel_mm=render.pixel_mm,
                           rgb_shape=render.rgb.shape)
    label = int(case.vertebrae_array[point])
    ss[f"{key}_point"] = point
    ss[f"{key}_click_time"] = click.get("unix_time")
    name = case.level_names.get(label) if label else None
    st.caption(f"Clicked body: **{name}**." if name else
               "Clicked outside a body: the nearest body within 5 mm is used.")


# ------------------------------------------------------------------ corrections


def _current_names(case: MeasuredCase) -> list[str]:
    return sorted(set(case.level_names.values()), key=level_order)


def _corrected(kind: str, case: MeasuredCase, key: str):
    ss = st.session_state
    conv = case.convention or "verse"
    if kind == "shift":
        return shift_level_names(case.vertebrae, int(ss[f"{key}_shift_k"]), convention=conv)
    if kind == "rename":
        return rename_body(case.vertebrae, str(ss[f"{key}_rename_body"]),
                           str(ss[f"{key}_rename_to"]), convention=conv)
    point = ss.get(f"{key}_click_point")
    if point is None:
        raise ValueError("Click a body in the image first.")
    return name_body_at(case.vertebrae, point, str(ss[f"{key}_click_level"]), convention=conv)


def _change(before: MeasuredCase, after: MeasuredCase, details: Mapping[str, Any]
            ) -> dict[str, Any]:
    """What a correction changed, for the page (kept until the next correction)."""
    def qc(case: MeasuredCase) -> str:
        items = normalise(case.label_qc)
        return ", ".join(f"{f['code']} ({f['severity']})" for f in items) or "no findings"

    return {"summary": details["summary"], "changes": [list(p) for p in details["changes"]],
            "qc_before": qc(before), "qc_after": qc(after),
            "measured_before": before.metrics is not None,
            "measured_after": after.metrics is not None}


def _apply(kind: str, case_key: str, key: str, clear: tuple[str, ...]) -> None:
    """Button callback: correct, re-measure, audit, keep what changed."""
    ss = st.session_state
    ss.pop(f"{key}_error", None)
    case: MeasuredCase | None = ss.get(case_key)
    if case is None or case.vertebrae is None:
        return
    try:
        corrected = _corrected(kind, case, key)
        fresh = measure.apply_correction(case, corrected)
        details = corrected.correction.audit_details()
        get_store().record_level_corrections([details], actor=session.actor(),
                                             draft_id=case.draft_id)
    except (ValueError, FileNotFoundError, OSError) as exc:
        ss[f"{key}_error"] = c.plain_sentence(exc)
        return
    if kind == "click":
        ss[f"{key}_click_used"] = ss.get(f"{key}_click_click_time")
    ss[case_key] = fresh
    ss[f"{key}_last"] = _change(case, fresh, details)
    for name in clear:
        ss.pop(name, None)


def _show_change(change: Mapping[str, Any]) -> None:
    st.success(f"**Corrected:** {change['summary']} The case was measured again and label "
               "QA re-run; the correction is in the audit log.", icon=":material/edit:")
    moved = [(b, a) for b, a in change["changes"] if b != a]
    if moved:
        st.dataframe(pd.DataFrame(moved, columns=["Before", "After"]), hide_index=True,
                     key="newcase_fix_changes")
    measured = {True: "measured", False: "not measured"}
    st.caption(f"Label QA before: {change['qc_before']} · after: {change['qc_after']}. "
               f"Before: {measured[change['measured_before']]}; "
               f"after: {measured[change['measured_after']]}.")


def correction_controls(case: MeasuredCase, *, case_key: str, key: str = "newcase_fix",
                        clear: tuple[str, ...] = ()) -> None:
    """Shift, rename or click-name controls for ``case`` (kept in ``st.session_state
    [case_key]``); each replaces the case with the corrected, re-measured one. ``clear``
    names session keys dropped after a correction (e.g. the saved-study marker)."""
    ss = st.session_state
    if case.vertebrae is None or case.cord_map:
        return
    names = _current_names(case)
    st.markdown("**Correct the level names** (each correction measures the case again and "
                "is written to the audit log)")
    # Keyed: the tab stays chosen when the first widget change after measuring reruns the
    # page without the measuring status box above (the elements' positions shift).
    shift, rename, click = st.tabs(["Shift all names", "Rename one body", "Click a body"],
                                   key=f"{key}_tabs")
    args = {"case_key": case_key, "key": key, "clear": clear}
    with shift:
        st.number_input("Shift every name by (levels; + towards the feet, − towards the head)",
                        min_value=-24, max_value=24, value=1, step=1, key=f"{key}_shift_k")
        st.button("Shift all names", key=f"{key}_shift_apply", on_click=_apply,
                  kwargs={"kind": "shift", **args})
    with rename:
        st.selectbox("Body now called", names, key=f"{key}_rename_body")
        st.selectbox("Call it", LEVEL_CHOICES, key=f"{key}_rename_to",
                     help="If another body already has this name, the two swap names.")
        st.button("Rename", key=f"{key}_rename_apply", on_click=_apply,
                  kwargs={"kind": "rename", **args})
    with click:
        _click_body(case, f"{key}_click")
        st.selectbox("The clicked body is", LEVEL_CHOICES, key=f"{key}_click_level",
                     help="The other bodies are named by counting from it, head to foot.")
        st.button("Name the bodies from the clicked one", key=f"{key}_click_apply",
                  on_click=_apply, kwargs={"kind": "click", **args},
                  disabled=ss.get(f"{key}_click_point") is None)
    if ss.get(f"{key}_error"):
        st.error(f"The correction was not made: {ss[f'{key}_error']}",
                 icon=":material/warning:")
    elif ss.get(f"{key}_last"):
        _show_change(ss[f"{key}_last"])


# ------------------------------------------------------------------ engines


def engine_control(case: MeasuredCase, *, case_key: str, key: str = "newcase_engine",
                   clear: tuple[str, ...] = ()) -> None:
    """Segment the case's image with an installed engine (progress, timeout), then name,
    check and measure its map; an engine that is not installed says how to install it."""
    problems = {name: measure.engine_problem(name) for name in measure.ENGINE_NAMES}
    ready = [name for name, problem in problems.items() if problem is None]
    st.markdown("**Level map from a segmentation engine**")
    for problem in problems.values():
        if problem is not None:
            st.info(problem, icon=":material/download_for_offline:")
    if not ready:
        return
    minutes = st.number_input("Stop the engine after (minutes)", min_value=1, max_value=600,
                              value=int(DEFAULT_TIMEOUT_S // 60), step=5,
                              key=f"{key}_timeout")
    for name in ready:
        if st.button(f"Segment with {ENGINES[name].title}", key=f"{key}_{name}"):
            _run_engine(case, name, case_key, key, float(minutes) * 60.0, clear)
    if st.session_state.get(f"{key}_error"):
        st.error(st.session_state[f"{key}_error"], icon=":material/warning:")


def _run_engine(case: MeasuredCase, name: str, case_key: str, key: str, timeout_s: float,
                clear: tuple[str, ...]) -> None:
    ss = st.session_state
    ss.pop(f"{key}_error", None)
    title = ENGINES[name].title
    with st.status(f"Segmenting with {title}…", expanded=True) as status:
        try:
            fresh = measure.segment_case(case, name, timeout_s=timeout_s,
                                         on_line=lambda line: status.write(f"`{line}`"))
        except (EngineError, ValueError) as exc:
            status.update(label=f"{title} did not give a level map.", state="error",
                          expanded=False)
            ss[f"{key}_error"] = c.plain_sentence(exc)
            return
        status.update(label=f"{title} wrote a level map; it was named, checked and "
                            "measured.", state="complete", expanded=False)
    ss[case_key] = fresh
    for name_ in clear:
        ss.pop(name_, None)
    st.rerun()
