"""Assessing a cohort: bare matrix arithmetic vs ``assess_many`` vs ``assess`` row by row.

Run: ``.venv/bin/python bench/assess.py [--cases 10000] [--row-cases N] [--repeat 5]``.

The cohort is the demo cohort resampled to ``--cases`` rows with jittered age and HI
ratios (so rows are not copies), as the store's typed frame holds them. Printed side by
side, in one run:

* **bare matrix**: the model's arithmetic alone on a ready ``float64`` matrix (impute,
  standardise, ``eta = z @ w``, ordinal probabilities, expected VAS, SHAP ``(z - m) * w``);
* **assess_many**: the whole frame read, validated, scored, explained and advised, and
  its table (``to_frame()``: category, tier, urgency, headline, probabilities: what
  :func:`core.assess.assess_frame` and the pages read); the out-of-distribution checks
  (one array pass), every full advice object, prediction set, out-of-distribution and
  discordance sentence are built on first use, timed on their own below (``all
  objects``);
  nothing is cached across calls, so each timed call does the whole work;
* **assess row by row**: :func:`core.assess.assess` per record (on ``--row-cases`` rows,
  scaled to ``--cases`` when fewer).

Target (issue 12): ``assess_many <= 20 x bare matrix`` on 10k cases. Each figure is the
median wall time of ``--repeat`` calls, with the best call and the median CPU time of
the process beside it: on a machine shared with other work a call of tens of
milliseconds is preempted far more often than one of a millisecond, so the wall-time
ratio grows with the load while the CPU-time ratio measures the work; the ratios compare
like with like.
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

from core.allocator import keep_freed_memory
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


def _times(fn, repeat: int) -> tuple[float, float, float]:
    """Median and best wall time and median process CPU time of ``repeat`` calls (after
    one warm-up)."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def _line(name: str, t: tuple[float, float, float], bare: tuple[float, float, float],
          note: str = "") -> str:
    return (f"  {name:23s}: {t[0] * 1000:9.2f} ms {t[0] / bare[0]:7.1f} x | best "
            f"{t[1] * 1000:8.2f} ms {t[1] / bare[1]:7.1f} x | cpu {t[2] * 1000:8.2f} ms "
            f"{t[2] / bare[2]:7.1f} x{note}")


def _every_object(model, frame: pd.DataFrame) -> None:
    batch = assess_many(model, frame)
    batch.to_frame()
    _ = batch.tiers, batch.prediction_sets, batch.ood, batch.discordance


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--row-cases", type=int, default=2_000,
                        help="rows assessed one by one (scaled to --cases)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    keep_freed_memory()  # as the app's server and the command line run

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

    t_bare = _times(bare, args.repeat)
    t_many = _times(lambda: assess_many(model, frame).to_frame(), args.repeat)
    t_all = _times(lambda: _every_object(model, frame), args.repeat)
    rows = min(args.row_cases, args.cases)
    records = frame.head(rows).to_dict(orient="records")
    start = time.perf_counter()
    for record in records:
        assess(model, record)
    t_rows = (time.perf_counter() - start) * args.cases / rows

    groups = len(batch.tier_groups.decisions)
    print(f"assess {args.cases:,} cases ({groups:,} distinct rule inputs), median of "
          f"{args.repeat}:")
    print("  (median wall time and x bare | best wall time and x best bare | median CPU "
          "time and x bare CPU)")
    print(_line("bare matrix arithmetic", t_bare, t_bare))
    print(_line("assess_many + to_frame", t_many, t_bare, "   (target <= 20 x)"))
    print(_line("... with all objects", t_all, t_bare,
                "   (every advice, prediction set, OOD and discordance object)"))
    many = t_many[0]
    scaled = "" if rows == args.cases else f", {rows:,} rows timed and scaled"
    print(f"  assess row by row      : {t_rows * 1000:9.2f} ms {t_rows / t_bare[0]:7.1f} x "
          f"bare, {t_rows / many:.1f} x assess_many{scaled}")
    print(f"  throughput             : assess_many {args.cases / many:,.0f} cases/s, "
          f"row by row {args.cases / t_rows:,.0f} cases/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
