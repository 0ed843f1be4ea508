"""Assessing a cohort: bare matrix arithmetic vs ``assess_many`` vs ``assess`` row by row.

Run: ``.venv/bin/python bench/assess.py [--cases 10000] [--row-cases N] [--repeat 5]``.

The cohort is the demo cohort resampled to ``--cases`` rows with jittered age and HI
ratios (so rows are not copies), as the store's typed frame holds them. Printed side by
side, in one run:

* **bare matrix**: the model's arithmetic alone on a ready ``float64`` matrix (impute,
  standardise, ``eta = z @ w``, ordinal probabilities, expected VAS, SHAP ``(z - m) * w``);
* **assess_many**: the whole frame read, validated, scored, explained, advised, with
  prediction sets, out-of-distribution reasons and discordance;
* **assess row by row**: :func:`core.assess.assess` per record (on ``--row-cases`` rows,
  scaled to ``--cases`` when fewer).

Target (issue 12): ``assess_many <= 20 x bare matrix`` on 10k cases.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.assess import assess, assess_many
from core.clinical import as_cohort_frame
from core.explain import explainer
from core.model import load_model

REPO = Path(__file__).resolve().parents[1]


def cohort(n: int, seed: int = 0) -> pd.DataFrame:
    """The demo cohort resampled to ``n`` rows, age and HI ratios jittered."""
    demo = as_cohort_frame(pd.read_csv(REPO / "data" / "demo" / "cohort.csv"))
    rng = np.random.default_rng(seed)
    frame = demo.sample(n=n, replace=True, random_state=seed).reset_index(drop=True)
    frame["age"] = np.clip(frame["age"] + rng.integers(-3, 4, n), 18, 110).astype(float)
    hi = np.clip(frame["high_intensity_ratio"] * rng.uniform(0.8, 1.2, n), 0, 1).round(4)
    frame["high_intensity_ratio"] = hi
    frame["max_level_high_intensity_ratio"] = np.maximum(
        frame["max_level_high_intensity_ratio"], hi)
    return frame


def _median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--row-cases", type=int, default=2_000,
                        help="rows assessed one by one (scaled to --cases)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    model = load_model(args.model)
    frame = cohort(args.cases)
    batch = assess_many(model, frame)
    assert batch.ok.all()
    X = batch.parsed.X.copy()
    arrays = model.cache["arrays"]
    built = explainer(model)

    def bare() -> None:
        filled = np.where(np.isnan(X), arrays["median"], X)
        z = (filled - arrays["mean"]) / arrays["scale"]
        eta = z @ arrays["coef"]
        cum = expit(arrays["thresholds"][None, :] - eta[:, None])
        proba = np.diff(cum, prepend=0.0, append=1.0, axis=1)
        proba @ arrays["class_mean_vas"]
        (z - built.mean) * built.coef

    t_bare = _median_time(bare, args.repeat)
    t_many = _median_time(lambda: assess_many(model, frame), args.repeat)
    rows = min(args.row_cases, args.cases)
    records = frame.head(rows).to_dict(orient="records")
    start = time.perf_counter()
    for record in records:
        assess(model, record)
    t_rows = (time.perf_counter() - start) * args.cases / rows

    groups = len(batch.tier_groups.decisions)
    print(f"assess {args.cases:,} cases ({groups:,} distinct rule inputs), median of "
          f"{args.repeat}:")
    print(f"  bare matrix arithmetic : {t_bare * 1000:10.2f} ms")
    print(f"  assess_many            : {t_many * 1000:10.2f} ms   "
          f"{t_many / t_bare:8.1f} x bare   (target <= 20 x)")
    scaled = "" if rows == args.cases else f", {rows:,} rows timed and scaled"
    print(f"  assess row by row      : {t_rows * 1000:10.2f} ms   "
          f"{t_rows / t_bare:8.1f} x bare   {t_rows / t_many:6.1f} x assess_many{scaled}")
    print(f"  throughput             : assess_many {args.cases / t_many:,.0f} cases/s, "
          f"row by row {args.cases / t_rows:,.0f} cases/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
