"""New case: image (upload or demo) -> measurements -> clinical fields -> prediction -> save."""

import streamlit as st

from ui import (
    cache,
    case_views,
    cases,
    charts,
    forms,
    layout,
    level_qc,
    measure,
    registry,
    viewer,
)
from ui import components as c
from ui.session import KEEP

layout.page_header("New case", "Measure an MRI, add clinical findings, get decision "
                               "support and save the de-identified case.")
c.decision_support_notice()
ss = st.session_state

# ------------------------------------------------------------------ 1. image
st.header("1 · Image")
source_kind = st.radio("Image source", ("Demo image", "Upload files"), horizontal=True,
                       key="newcase_source", persist_state=KEEP,
                       help="Demo images need no files: real public MRI (Spinal Cord Toolbox "
                            "testing data) or synthetic phantoms with metastases.")
demo = None
uploads: dict = {}
if source_kind == "Demo image":
    demos = measure.demo_images()
    if not demos:
        st.error("No demo images are installed (data/demo/images).")
    else:
        by_id = {d.case_id: d for d in demos}
        chosen = st.selectbox("Demo image", list(by_id), key="newcase_demo_image",
                              persist_state=KEEP,
                              format_func=lambda i: f"{i} — {by_id[i].title}")
        demo = by_id[chosen]
        if demo.real:
            st.caption(f"Real public MRI with {demo.convention.upper()} level labels. These "
                       "labels mark spinal-cord segments, not vertebral bodies: the image and "
                       "its label QA result (cord_level_map) are shown, bone is not measured. "
                       "MIT licence, data/demo/images/sct/LICENSE.")
        else:
            c.synthetic_badge(True, "seeded phantom image with known metastases")
else:
    u1, u2 = st.columns(2)
    with u1:
        uploads["image"] = st.file_uploader(
            "MRI (STIR / T2 fat-sat): NIfTI, NRRD, MHA or a DICOM zip",
            type=["nii", "gz", "nrrd", "mha", "zip", "dcm"], key="newcase_image")
        image_file = uploads["image"]
        if image_file is not None and measure.is_dicom_archive(image_file.name):
            with c.core_errors("The DICOM archive could not be read:"):
                src = measure.Source.from_bytes(image_file.name, image_file.getvalue())
                series = measure.list_series(src)
                if len(series) > 1:
                    by_uid = {s["series_uid"]: s for s in series}
                    uploads["series"] = st.selectbox(
                        "Series to analyse", list(by_uid), key="newcase_series",
                        format_func=lambda u: (f"{by_uid[u]['description'] or 'series'} · "
                                               f"{by_uid[u]['sequence']} · "
                                               f"{by_uid[u]['n_slices']} slices"))
                elif series:
                    st.caption(f"One series: {series[0]['description'] or 'unnamed'}, "
                               f"{series[0]['n_slices']} slices.")
    with u2:
        uploads["vertebrae"] = st.file_uploader(
            "Vertebra label map or body mask (optional, needed for measurements)",
            type=["nii", "gz", "nrrd", "mha"], key="newcase_vertebrae")
        uploads["convention"] = st.selectbox(
            "Label convention", measure.CONVENTIONS, key="newcase_convention",
            persist_state=KEEP, help=measure.convention_help())
        uploads["naming"] = level_qc.naming_inputs(uploads["convention"] or "verse")
        uploads["lesions"] = st.file_uploader(
            "Lesion mask (optional; replaces automatic detection)",
            type=["nii", "gz", "nrrd", "mha"], key="newcase_lesions")
        uploads["sequence"] = st.selectbox(
            "Sequence (when the file does not say)", measure.SEQUENCES, index=None,
            key="newcase_sequence", persist_state=KEEP, placeholder="as the file says",
            help="The HI ratio is a STIR / T2 fat-saturated measure; a T1 image is flagged "
                 "by label QA.")
    st.caption("Uploads stay in memory and a private temporary folder; only a saved case "
               "keeps a de-identified copy (pixels and geometry, no header text).")

can_measure = demo is not None or uploads.get("image") is not None
measure_error = None
if st.button("Read and measure", type="primary", key="newcase_measure",
             disabled=not can_measure):
    with st.status("Reading and measuring…", expanded=True) as status:
        try:
            if demo is not None:
                measured = measure.measure_demo(demo, status=status)
            else:
                def as_source(upload):
                    return (None if upload is None
                            else measure.Source.from_bytes(upload.name, upload.getvalue()))

                measured = measure.measure(
                    as_source(uploads["image"]), series_uid=uploads.get("series"),
                    vertebrae_src=as_source(uploads.get("vertebrae")),
                    lesion_src=as_source(uploads.get("lesions")),
                    convention=uploads.get("convention") or "verse",
                    naming=uploads.get("naming"), sequence=uploads.get("sequence"),
                    status=status)
        except (ValueError, FileNotFoundError) as exc:
            status.update(label="Could not read or measure the image.", state="error",
                          expanded=False)
            measure_error = exc
            # A failed new upload must not leave the previous image (and its
            # prediction) on screen as if it belonged to the new files.
            for stale in ("newcase_case", "newcase_saved", "newcase_fix_last"):
                ss.pop(stale, None)
        else:
            ss["newcase_case"] = measured
            ss.pop("newcase_saved", None)
            ss.pop("newcase_fix_last", None)
            state = "error" if measured.refused else "complete"
            status.update(label="Image read; label QA refused the level map (see below)."
                          if measured.refused else "Image read and measured.", state=state,
                          expanded=False)

if measure_error is not None:
    # Outside the status box: inside, the reason was hidden in the collapsed box.
    c.show_error(measure_error, "Could not read or measure the image:")

measured = ss.get("newcase_case")
if measured is not None:
    st.subheader(f"Image: {measured.source_name}")
    if measured.synthetic:
        c.synthetic_badge(True, "synthetic image")
    viewer.slice_viewer("newcase_viewer", measured.volume, measured.spacing_xyz,
                        image_id=measured.image_id, vertebrae=measured.vertebrae_array,
                        lesions=measured.lesion_array, level_names=measured.level_names)
    if measured.checked:
        level_qc.qc_panel(measured.label_qc, hints=True)
    if measured.metrics is not None:
        t1, t2 = st.columns([2.2, 1])
        with t1:
            st.markdown("**Per-level measurements** (craniocaudal)")
            case_views.level_table(measured.metrics["levels"], key="newcase_level_table",
                                   flags=level_qc.level_flags(measured.label_qc))
            case_views.burden_summary(measured.metrics)
        with t2:
            c.chart(c.cached_chart(charts.spine_diagram, list(measured.metrics["levels"])),
                    key="newcase_spine_diagram", extra=charts.SPINE_EXTRA_PX)
    elif measured.checked:
        st.info("Not measured: label QA refused this level map (above). The image and its "
                "labels are shown; imaging features will come from a clinical table row, "
                "or be imputed by the model.")
    else:
        st.info("No vertebra label map: the image is shown without measurements. Imaging "
                "features will come from a clinical table row, or be imputed by the model.")
    level_qc.correction_controls(measured, case_key="newcase_case", key="newcase_fix",
                                 clear=("newcase_saved",))
    level_qc.engine_control(measured, case_key="newcase_case", key="newcase_engine",
                            clear=("newcase_saved", "newcase_fix_last"))

# ------------------------------------------------------------------ 2. clinical
st.header("2 · Clinical findings")
mode = st.radio("Enter clinical findings", ("Form", "Row from a clinical table"),
                horizontal=True, key="newcase_clinical_mode", persist_state=KEEP)
if mode == "Form":
    record = forms.clinical_form("newcase")
    if record is not None:
        ss["newcase_clinical"] = record
        ss.pop("newcase_saved", None)
else:
    record = forms.csv_row_picker("newcase")
    if record is not None and record != ss.get("newcase_clinical"):
        ss["newcase_clinical"] = record
        ss.pop("newcase_saved", None)

clinical = ss.get("newcase_clinical")
if clinical is None:
    st.info("Fill the form and press **Use these clinical findings** (or choose a table row) "
            "to see the prediction.")
    st.stop()

# ------------------------------------------------------------------ 3. prediction
st.header("3 · Decision support")
if not level_qc.prediction_gate(measured):
    st.stop()
model = cache.model_or_stop()
metrics = measured.metrics if measured is not None else None
case = cases.merge_case(clinical, metrics)
result = c.run_safely(cases.assess, model, case,
                      prefix="The prediction could not be made:")
if result is None:
    st.stop()
if clinical.get("synthetic") or (measured is not None and measured.synthetic):
    c.synthetic_badge(True)
case_views.prediction_panel(result, synthetic_model=bool(model.card.get("synthetic")))

# ------------------------------------------------------------------ 4. save
st.header("4 · Save the case")
default_synthetic = bool(clinical.get("synthetic")) or bool(measured is not None
                                                            and measured.synthetic)
mark_synthetic = st.checkbox("Mark as SYNTHETIC (demo / teaching case)",
                             value=default_synthetic, key="newcase_synthetic")
if st.button("Save case to the store", type="primary", key="newcase_save"):
    saved = c.run_safely(cases.save_new_case, clinical, measured, result,
                         synthetic=mark_synthetic, prefix="The case was not saved:")
    if saved is not None:
        ss["newcase_saved"] = saved
        ss["board_study_id"] = saved
saved_id = ss.get("newcase_saved")
if saved_id is not None:
    st.success(f"Saved as study **{saved_id}** (with this prediction).",
               icon=":material/check_circle:")
    registry.page_link("tumor_board", label=f"Open study {saved_id} on the tumor board")
