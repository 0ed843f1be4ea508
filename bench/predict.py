"""Latency of one case: parse + predict + explain + tier (``core.assess.assess``), and the
whole CLI payload, with the demo model.

Run: ``.venv/bin/python bench/predict.py [--model models/demo] [--calls 200]``.
Prints median and p95 in milliseconds after a warm-up; the target is <= 20 ms for
predict + explain.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.allocator import keep_freed_memory
from core.assess import assess, predict_case_json
from core.model import load_model

CASE = {
    "lesion_count_by_region": {"cervical": 0, "thoracic": 3, "lumbar": 4, "sacral": 0},
    "involved_levels": ["T10", "T11", "T12", "L1", "L2", "L3"],
    "high_intensity_ratio": 0.31, "max_level_high_intensity_ratio": 0.58, "age": 64,
    "ecog": 1, "analgesic_step": 1, "prior_radiotherapy": False, "pathologic_fracture": True,
    "neurologic_deficit": "none", "sins_total": 8, "bilsky_grade": "1b",
}


def _time(fn, calls: int, warmup: int = 20) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model folder (default models/demo)")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    keep_freed_memory()  # as the app's server and the command line run

    start = time.perf_counter()
    model = load_model(args.model)
    assess(model, {})  # build and cache the explainer
    print(f"load + warm explainer: {(time.perf_counter() - start) * 1000:.1f} ms "
          f"({model.version})")

    def predict_and_explain() -> None:
        assess(load_model(args.model), CASE)

    def cli_payload() -> None:
        predict_case_json(CASE, model_path=args.model)

    for name, fn in (("parse + predict + explain + tier (assess)", predict_and_explain),
                     ("full CLI payload (predict_case_json)", cli_payload)):
        median, p95 = _time(fn, args.calls)
        print(f"{name}: median {median:.3f} ms, p95 {p95:.3f} ms over {args.calls} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
