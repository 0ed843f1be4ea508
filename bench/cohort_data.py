"""A large synthetic cohort for the import and store benchmarks."""

from __future__ import annotations

import pandas as pd

from core.demo import generate_cohort


def make_cohort(rows: int, seed: int = 3) -> pd.DataFrame:
    """``rows`` synthetic cohort rows: the demo generator's rows repeated under new ids."""
    base = generate_cohort(400, seed=seed)
    parts = []
    for k in range(-(-rows // len(base))):
        part = base.copy()
        part["patient_id"] = part["patient_id"].str.replace("DEMO-", f"B{k:04d}-", regex=False)
        parts.append(part)
    return pd.concat(parts, ignore_index=True).iloc[:rows].reset_index(drop=True)
