"""Clinical table schema, validated import (CSV / Excel), SINS and Bilsky helpers, safe export.

Modules: :mod:`~core.clinical.schema` (column groups, :data:`COLUMN_SPECS`),
:mod:`~core.clinical.cells` (one parser per kind of cell, :func:`parse_bilsky`,
:func:`sins_total`), :mod:`~core.clinical.rows` (:class:`ClinicalRow`, cross-column
checks, :func:`validate_clinical`, :class:`RowError`), :mod:`~core.clinical.tables`
(reading CSV / .xlsx within size limits, :func:`load_clinical_table`), :mod:`~core.clinical.frames`
(:func:`as_cohort_frame`) and :mod:`~core.clinical.export` (:func:`export_csv`). SINS
points, Bilsky grades and sexes are the ones of :mod:`core.vocab`.

One row of a clinical table is one imaging *study* of one patient. Column names are
lower case; headers are matched after stripping spaces and lower-casing.

Schema
------
=================================  ========  ==================================================
column                             required  accepted values
=================================  ========  ==================================================
patient_id                         value     pseudonymous code (:mod:`core.clinical.ids`):
                                             by default letters, digits, ``_``, ``-`` with at
                                             least one digit, a letter or digit first, at most
                                             64 characters; a site sets its own full-match
                                             regex in ``SPINEPAIN_ID_PATTERN``. Always refused:
                                             two alphabetic words joined by ``.``, ``_`` or a
                                             space (``John.Smith``), codes that look like a
                                             date, or like a record / phone / national ID
                                             number (9+ digits in a row, ``123-45-6789``). The
                                             error never repeats the refused code.
study_date                         value     ISO date ``YYYY-MM-DD`` (a midnight time part
                                             ``T00:00:00`` is accepted; Excel date cells too),
                                             from 1990-01-01 up to today. Dates should be
                                             shifted per patient upstream (pseudonymisation).
age                                column    whole years 18-90 at the study date; enter 90
                                             for "90 or older" (ages over 89 identify people,
                                             HIPAA Safe Harbor), blank = unknown
sex                                column    ``F``, ``M``, ``other``, ``unknown``
                                             (any letter case), blank = missing
primary_tumor                      no        free text name (lower-cased; letters first, then
                                             letters, digits, spaces, ``()/+,.'-``); blank or
                                             absent column = ``"breast"``
vas                                value     worst pain in the last 24 h, 0-10, a whole number
                                             or one decimal (``7``, ``7.5``; ``7.25`` refused)
ecog                               column    whole number 0-4, blank = missing
analgesic_step                     column    WHO analgesic ladder step, whole number 0-3
                                             (0 = none), blank = missing
bone_modifying_agent,              column    yes/no: ``true``/``false``, ``yes``/``no``,
prior_radiotherapy,                          ``y``/``n``, ``1``/``0`` (also ``1.0``/``0.0``; any
pathologic_fracture                          letter case), Excel TRUE/FALSE; blank = missing
neurologic_deficit                 column    ``none``, ``stable`` (known, unchanged) or
                                             ``new_or_progressive`` (also ``new or
                                             progressive``, ``new``, ``progressive``; any
                                             letter case); blank = missing. Old yes/no
                                             tables stay importable: yes/true/1 is read as
                                             ``new_or_progressive`` and no/false/0 as
                                             ``none``, and :attr:`ClinicalImport.warnings`
                                             lists those rows (a yes/no table cannot tell a
                                             stable deficit from a new one, so the safer
                                             reading is taken)
neuropathic_pain                   no        yes/no as above: a neuropathic (radicular) pain
                                             component; blank = not recorded
sins_location                      no        SINS points 0, 1, 2, 3
sins_pain                          no        0, 1, 3
sins_bone_lesion                   no        0, 1, 2
sins_alignment                     no        0, 2, 4
sins_collapse                      no        0, 1, 2, 3
sins_posterolateral                no        0, 1, 3
sins_total                         no        0-18; computed when all six components are given;
                                             a given total must equal their sum (or, with
                                             some components blank, be reachable)
bilsky_grade                       no        ``0``, ``1a``, ``1b``, ``1c``, ``2``, ``3``
lesion_count,                      no        whole numbers >= 0 (``lesion_count`` <= 500,
lesion_count_cervical/_thoracic/             regional counts <= 200); when all four regional
_lumbar/_sacral                              counts are given they must add up to lesion_count
involved_levels                    no        number of involved vertebral levels, 0-30; at
                                             most lesion_count, zero exactly when it is zero
high_intensity_ratio,              no        fraction 0-1; the worst level's ratio cannot be
max_level_high_intensity_ratio               below the overall ratio
synthetic                          no        yes/no, blank or absent = no
=================================  ========  ==================================================

"value" = the column must exist and every cell must be filled; "column" = the column must
exist, blank cells mean missing; "no" = optional column. Any other column is refused as a
whole (extra columns such as names or birth dates may carry identifying data). The SINS
point values are those of Fisher et al., Spine 2010;35:E1221-E1229; Bilsky grades from
Bilsky et al., J Neurosurg Spine 2010;13:324-328. Imaging columns use the
:mod:`core.features` names (flat form of the ``core extract`` output).

Nothing is rounded or coerced: ``7.5`` for ``ecog`` is an error, not 8. A whole number
written with a zero decimal (``2.0``, as spreadsheets export it) counts as that whole
number. Numbers and dates use ASCII digits only (full-width or other scripts' digits are
errors). Spellings of "missing" (``NA``, ``n/a``, ``nan``, ``null``, ``none``, ...) are
errors in every column, including ``patient_id`` and ``primary_tumor``: leave the cell
blank instead. The only filled-in values are the documented defaults (``primary_tumor`` =
``"breast"``, ``synthetic`` = no) and ``sins_total`` computed from complete components.
Text is normalised, not changed: surrounding spaces are stripped, ``sex`` is written in
its canonical case, ``primary_tumor`` and ``bilsky_grade`` in lower case.

Cross-column checks (SINS total, lesion counts, HI ratios) run once a row's cells are
individually valid, so a row with a bad cell may show more errors after it is fixed.
Duplicate ``(patient_id, study_date)`` pairs are reported on every row involved; rows
of one patient must agree on ``sex``, ``primary_tumor`` and ``synthetic``.

Row numbers
-----------
:class:`RowError.row` is the row number a spreadsheet user sees: the header is row 1 and
the first data row is row 2 (for CSV, record *k* after the header is row *k* + 1; blank
lines count as rows, as a spreadsheet shows them, and are otherwise ignored; for Excel it
is the worksheet's own row number). File-level problems (unreadable encoding, empty file,
a CSV line longer than :data:`MAX_LINE_BYTES`, missing or unknown columns, a workbook
that unpacks to more than :data:`MAX_XLSX_UNPACKED_BYTES` or whose used range exceeds
:data:`MAX_XLSX_CELLS`)
raise ``ValueError`` instead: no row can be trusted then.
"""

from core.clinical.bulk import ValidatedCohort
from core.clinical.cells import deficit_from_yes_no, parse_bilsky, parse_deficit_cell, sins_total
from core.clinical.export import export_csv, neutralise_cell
from core.clinical.frames import as_cohort_frame
from core.clinical.ids import DEFAULT_ID_PATTERN, ID_PATTERN_ENV, id_pattern, parse_patient_id
from core.clinical.rows import ClinicalRow, RowError, deficit_warning, validate_clinical
from core.clinical.schema import (
    BOOL_COLUMNS,
    BOOLEAN_COLUMNS,
    CLINICAL_COLUMNS,
    COHORT_COLUMNS,
    COLUMN_SPECS,
    DEFAULT_PRIMARY_TUMOR,
    DEFICIT_COLUMN,
    EARLIEST_STUDY_DATE,
    IMAGING_COLUMNS,
    MAX_AGE,
    NUMERIC_COLUMNS,
    OPTIONAL_BOOL_COLUMNS,
    OPTIONAL_COLUMNS,
    PATIENT_COLUMNS,
    REQUIRED_COLUMNS,
    ROW_COLUMN,
    STUDY_CLINICAL_COLUMNS,
    TEXT_COLUMNS,
    ColumnSpec,
)
from core.clinical.tables import (
    MAX_LINE_BYTES,
    MAX_TABLE_BYTES,
    MAX_XLSX_CELLS,
    MAX_XLSX_UNPACKED_BYTES,
    ClinicalImport,
    check_line_lengths,
    load_clinical_table,
)

# The vocabulary's own names, re-exported for callers that import them from here.
from core.vocab import (
    BILSKY_GRADES,
    REGION_COUNT_COLUMNS,
    SINS_COMPONENTS,
    SINS_POINTS,
    sins_category,
)

__all__ = [
    "BILSKY_GRADES",
    "BOOLEAN_COLUMNS",
    "BOOL_COLUMNS",
    "CLINICAL_COLUMNS",
    "COHORT_COLUMNS",
    "COLUMN_SPECS",
    "DEFAULT_ID_PATTERN",
    "DEFAULT_PRIMARY_TUMOR",
    "DEFICIT_COLUMN",
    "EARLIEST_STUDY_DATE",
    "ID_PATTERN_ENV",
    "IMAGING_COLUMNS",
    "MAX_AGE",
    "MAX_LINE_BYTES",
    "MAX_TABLE_BYTES",
    "MAX_XLSX_CELLS",
    "MAX_XLSX_UNPACKED_BYTES",
    "NUMERIC_COLUMNS",
    "OPTIONAL_BOOL_COLUMNS",
    "OPTIONAL_COLUMNS",
    "PATIENT_COLUMNS",
    "REGION_COUNT_COLUMNS",
    "REQUIRED_COLUMNS",
    "ROW_COLUMN",
    "SINS_COMPONENTS",
    "SINS_POINTS",
    "STUDY_CLINICAL_COLUMNS",
    "TEXT_COLUMNS",
    "ClinicalImport",
    "ClinicalRow",
    "ColumnSpec",
    "RowError",
    "ValidatedCohort",
    "as_cohort_frame",
    "check_line_lengths",
    "deficit_from_yes_no",
    "deficit_warning",
    "export_csv",
    "id_pattern",
    "load_clinical_table",
    "neutralise_cell",
    "parse_bilsky",
    "parse_deficit_cell",
    "parse_patient_id",
    "sins_category",
    "sins_total",
    "validate_clinical",
]
