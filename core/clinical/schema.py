"""The clinical table's columns, their groups and limits (see :mod:`core.clinical`).

SINS components and points, Bilsky grades, sexes and regional count columns come from
:mod:`core.vocab`; this module only names the table's columns and groups them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.vocab import (
    BILSKY_GRADES,
    DEFICIT_STATES,
    REGION_COUNT_COLUMNS,
    SINS_COMPONENTS,
    SINS_MAX,
    SINS_POINTS,
)

#: ``primary_tumor`` of a row that leaves it blank or has no such column.
DEFAULT_PRIMARY_TUMOR = "breast"

#: Yes/no clinical fields. All but ``neuropathic_pain`` are required columns.
BOOL_COLUMNS: tuple[str, ...] = (
    "bone_modifying_agent",
    "prior_radiotherapy",
    "pathologic_fracture",
    "neuropathic_pain",
)
#: The neurologic deficit: one of :data:`core.vocab.DEFICIT_STATES` (``none``, ``stable``,
#: ``new_or_progressive``); old yes/no tables are read with a warning.
DEFICIT_COLUMN = "neurologic_deficit"
#: Optional yes/no columns (blank or absent column = not recorded).
OPTIONAL_BOOL_COLUMNS: tuple[str, ...] = ("neuropathic_pain",)
#: Imaging features of a study, flat form of the ``core extract`` output.
IMAGING_COLUMNS: tuple[str, ...] = (
    "lesion_count",
    *REGION_COUNT_COLUMNS,
    "involved_levels",
    "high_intensity_ratio",
    "max_level_high_intensity_ratio",
)
#: Columns that must be present in an imported table.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "study_date",
    "age",
    "sex",
    "vas",
    "ecog",
    "analgesic_step",
    *(c for c in BOOL_COLUMNS if c not in OPTIONAL_BOOL_COLUMNS),
    DEFICIT_COLUMN,
)
#: Patient-level columns (one value per patient).
PATIENT_COLUMNS: tuple[str, ...] = ("sex", "primary_tumor", "synthetic")
#: Per-study clinical columns (stored in ``clinical_values``).
STUDY_CLINICAL_COLUMNS: tuple[str, ...] = (
    "age",
    "vas",
    "ecog",
    "analgesic_step",
    "bone_modifying_agent",
    "prior_radiotherapy",
    "pathologic_fracture",
    DEFICIT_COLUMN,
    "neuropathic_pain",
    *SINS_COMPONENTS,
    "sins_total",
    "bilsky_grade",
)
#: Clinical fields of one study as the store returns them (patient- plus study-level).
CLINICAL_COLUMNS: tuple[str, ...] = ("age", "sex", "primary_tumor", *STUDY_CLINICAL_COLUMNS[1:])
#: Every column of a cohort table, in the order of ``data/demo/cohort.csv``.
COHORT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "study_date",
    *CLINICAL_COLUMNS,
    *IMAGING_COLUMNS,
    "synthetic",
)
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(c for c in COHORT_COLUMNS if c not in REQUIRED_COLUMNS)

TEXT_COLUMNS: tuple[str, ...] = ("patient_id", "sex", "primary_tumor", DEFICIT_COLUMN,
                                  "bilsky_grade")
BOOLEAN_COLUMNS: tuple[str, ...] = (*BOOL_COLUMNS, "synthetic")
NUMERIC_COLUMNS: tuple[str, ...] = tuple(
    c for c in COHORT_COLUMNS if c not in (*TEXT_COLUMNS, *BOOLEAN_COLUMNS, "study_date")
)

EARLIEST_STUDY_DATE = dt.date(1990, 1, 1)
MAX_AGE = 90
ROW_COLUMN = "(row)"  # RowError.column for problems with the row's shape


@dataclass(frozen=True)
class ColumnSpec:
    """Documentation of one clinical-table column (used by the import page's help)."""

    name: str
    required: str  # "value", "column" or "no"
    accepted: str


COLUMN_SPECS: tuple[ColumnSpec, ...] = (
    ColumnSpec("patient_id", "value", "pseudonymous code, letters/digits/-_ with a digit, "
               "max 64 (SPINEPAIN_ID_PATTERN)"),
    ColumnSpec("study_date", "value", "ISO date YYYY-MM-DD, 1990-01-01 to today"),
    ColumnSpec("age", "column", "whole years 18-90 (90 = 90 or older)"),
    ColumnSpec("sex", "column", "F, M, other, unknown"),
    ColumnSpec("primary_tumor", "no", 'free text, default "breast"'),
    ColumnSpec("vas", "value", "0-10, whole or one decimal (worst pain, last 24 h)"),
    ColumnSpec("ecog", "column", "0-4"),
    ColumnSpec("analgesic_step", "column", "WHO ladder 0-3"),
    *(ColumnSpec(c, "column", "yes/no, true/false, y/n, 1/0") for c in BOOL_COLUMNS
      if c not in OPTIONAL_BOOL_COLUMNS),
    ColumnSpec(DEFICIT_COLUMN, "column",
               f"{', '.join(DEFICIT_STATES)} (old yes/no tables: yes is read as "
               "new_or_progressive, no as none, with a warning)"),
    ColumnSpec("neuropathic_pain", "no", "yes/no, true/false, y/n, 1/0"),
    *(ColumnSpec(c, "no", ", ".join(map(str, v))) for c, v in SINS_POINTS.items()),
    ColumnSpec("sins_total", "no", f"0-{SINS_MAX}, must match the components"),
    ColumnSpec("bilsky_grade", "no", ", ".join(BILSKY_GRADES)),
    ColumnSpec("lesion_count", "no", "whole number 0-500"),
    *(ColumnSpec(c, "no", "whole number 0-200") for c in REGION_COUNT_COLUMNS),
    ColumnSpec("involved_levels", "no", "number of involved levels 0-30"),
    ColumnSpec("high_intensity_ratio", "no", "fraction 0-1"),
    ColumnSpec("max_level_high_intensity_ratio", "no", "fraction 0-1, >= overall ratio"),
    ColumnSpec("synthetic", "no", "yes/no, default no"),
)
