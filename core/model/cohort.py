"""A cohort table (one row per study) turned into model inputs.

:func:`read_cohort` reads and validates a cohort file with
:func:`core.clinical.load_clinical_table`; :func:`cohort_to_arrays` maps the rows onto
the feature matrix, the pain category codes and the patient groups used by
cross-validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.clinical import load_clinical_table
from core.features import FEATURE_NAMES, features_from_case
from core.model.target import VAS_CUTOFFS, vas_to_category
from core.provenance import sha256_bytes


@dataclass(frozen=True)
class CohortData:
    """A cohort turned into model inputs.

    Attributes
    ----------
    X : ndarray (n, n_features), NaN = missing, columns :data:`FEATURE_NAMES`.
    y : ndarray (n,) of class codes 0..2.
    vas : ndarray (n,)
    groups : ndarray (n,) of patient ids (str).
    n_excluded_missing_vas : int
    """

    X: np.ndarray
    y: np.ndarray
    vas: np.ndarray
    groups: np.ndarray
    n_excluded_missing_vas: int


def cohort_to_arrays(cohort: pd.DataFrame) -> CohortData:
    """Map a cohort table (one row per study) onto features, target and groups.

    Rows without a VAS are excluded (and counted). Every other value is validated
    by :func:`core.features.features_from_case`.

    Raises
    ------
    ValueError
        For a missing ``patient_id``/``vas`` column, an invalid value (naming the row),
        or a feature with no observed value at all.
    """
    for column in ("patient_id", "vas"):
        if column not in cohort.columns:
            raise ValueError(f"the cohort has no {column!r} column.")
    rows: list[list[float]] = []
    vas: list[float] = []
    groups: list[str] = []
    excluded = 0
    for position, record in enumerate(cohort.to_dict(orient="records")):
        raw_vas = record.get("vas")
        if raw_vas is None or (isinstance(raw_vas, float) and np.isnan(raw_vas)) or (
                isinstance(raw_vas, str) and not raw_vas.strip()):
            excluded += 1
            continue
        pid = record.get("patient_id")
        if pid is None or (isinstance(pid, float) and np.isnan(pid)) or not str(pid).strip():
            raise ValueError(f"cohort row {position + 1} has no patient_id.")
        try:
            vas_value = float(raw_vas)
            vas_to_category(vas_value)
            feats = features_from_case(record)
        except ValueError as exc:
            raise ValueError(f"cohort row {position + 1}: {exc}") from None
        rows.append([np.nan if feats[n] is None else float(feats[n]) for n in FEATURE_NAMES])
        vas.append(vas_value)
        groups.append(str(pid).strip())
    if not rows:
        raise ValueError("the cohort has no rows with a VAS score.")
    X = np.asarray(rows, dtype=np.float64)
    empty = [FEATURE_NAMES[j] for j in range(X.shape[1]) if np.all(np.isnan(X[:, j]))]
    if empty:
        raise ValueError(f"feature {empty[0]!r} has no observed value in the cohort.")
    vas_arr = np.asarray(vas, dtype=np.float64)
    y = np.searchsorted(np.asarray(VAS_CUTOFFS), vas_arr, side="right").astype(np.int64)
    return CohortData(X, y, vas_arr, np.asarray(groups, dtype=object), excluded)


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of a data frame's CSV rendering (used when no file is given)."""
    return sha256_bytes(frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))



def read_cohort(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Read a cohort CSV/Excel file, validated by :func:`core.clinical.load_clinical_table`.

    Returns
    -------
    (frame, errors) : the valid rows and human-readable validation errors.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        For file-level problems (see :func:`core.clinical.load_clinical_table`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cohort file {path} does not exist.")
    table = load_clinical_table(path)
    errors = [f"row {e.row}, column {e.column}: {e.reason}" for e in table.errors]
    return pd.DataFrame(table.rows), errors
