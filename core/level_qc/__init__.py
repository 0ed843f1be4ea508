"""Label QA: can this level map (and image) be measured, and what should the reader check?

Every map goes through :func:`run_label_qc` before bone is measured on it (``core
extract``, the New case page, the tumour board and the report read its result). Each
finding has a stable code (:data:`QC_CODES`), a severity and one plain sentence:

======================== ======== ====================================================
code                     severity meaning
======================== ======== ====================================================
``cord_level_map``       error    spinal-cord segments (SCT labels, or thin ~1 ml tubes),
                                  not vertebral bodies
``not_mr_image``         error    CT (DICOM Modality, file name, or Hounsfield-like air)
``order_inconsistent``   error    names not head-to-foot along the patient S-I axis
``duplicate_level``      error    one name on two separate stacked bodies
``implausible_volume``   warning  outside the region's range or its neighbours'
``missing_level``        warning  a gap between labelled levels
``partial_in_view``      warning  body cut by the field of view (its ratio flagged)
``label_on_background``  warning  labels where the image has no signal
``t1_sequence``          warning  T1-weighted: the HI ratio is a STIR / T2 measure
``transitional_vertebra`` note    T13 / L6 labelled: check the counting
``levels_named``         note     the app named a plain mask's bodies by counting
======================== ======== ====================================================

Errors refuse the measurement (``core extract`` exits 2 with the first error's
sentence); warnings flag the named level; notes inform. Volume ranges and their sources
are data in :mod:`core.level_qc.ranges`.
"""

from core.level_qc.checks import check_level_map, is_cord_like
from core.level_qc.findings import (
    QC_CODES,
    SEVERITIES,
    LabelQCError,
    LabelQCReport,
    QCFinding,
    sort_findings,
)
from core.level_qc.geometry import Grid, LevelGeometry, level_geometry
from core.level_qc.image_checks import check_modality, check_sequence
from core.level_qc.ranges import VERTEBRAL_BODY_VOLUME_ML, VOLUME_RANGE_SOURCES
from core.level_qc.run import run_label_qc

__all__ = [
    "QC_CODES",
    "SEVERITIES",
    "VERTEBRAL_BODY_VOLUME_ML",
    "VOLUME_RANGE_SOURCES",
    "Grid",
    "LabelQCError",
    "LabelQCReport",
    "LevelGeometry",
    "QCFinding",
    "check_level_map",
    "check_modality",
    "check_sequence",
    "is_cord_like",
    "level_geometry",
    "run_label_qc",
    "sort_findings",
]
