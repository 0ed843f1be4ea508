"""Benchmark: the whole-cohort pages' run after a case is edited, the scored cohort
refreshed from the audit log (the app) vs read and computed again in full (as before).

Run: ``.venv/bin/python bench/after_edit.py [--studies 100000] [--data DIR] [--edits 3]
[--patients 40]``.

The store is the one of ``bench/startup.py`` (the demo store plus ``--studies`` synthetic
table-only studies, imported and scored; ``--data DIR`` keeps it for the next run). In a
fresh interpreter per variant (Streamlit's caches are per process), ``AppTest`` opens
Cohort analytics, then ``--edits`` times edits one study's recorded VAS through the store
(an audited ``edit``, scored with the model in the same transaction, as the app's edit
does) and times the page's next run; then the same on Surveillance. Each time is the run
until it ended, in process (no browser):

* **refresh** — the app: the scored cohort reads again only the edited patient's studies
  (:mod:`core.store.cohort_refresh`) and surveillance computes only that patient again
  (:func:`core.surveillance.cohort.with_patients_replaced`);
* **full read** — the same app with the refresh turned off
  (:func:`core.store.cohort_refresh.refresh` gives ``None``), as before: every study read
  and the whole cohort's surveillance computed again.

It prints the median run after an edit of each page, side by side, with their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("refresh", "full read")
PAGES = (("Cohort analytics", "pages/cohort.py"), ("Surveillance", "pages/surveillance.py"))


def child(variant: str, edits: int) -> dict[str, list[float]]:
    """Seconds of each page's run after each edit (run in a fresh interpreter)."""
    sys.path.insert(0, str(REPO))
    from streamlit.testing.v1 import AppTest

    from core.model import load_model
    from core.store import CaseStore, cohort_refresh

    if variant == "full read":
        cohort_refresh.refresh = lambda session, snapshot: None  # type: ignore[assignment]
    store, model = CaseStore(), load_model()
    row = store.scored_cohort(model.version).iloc[-3]
    study, vas = int(row["study_id"]), int(row["vas"]) if row["vas"] == row["vas"] else 0
    values = ((vas + 3) % 11, (vas + 6) % 11)  # each edit changes the value
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=1800)
    at.run()
    out: dict[str, list[float]] = {}
    for name, path in PAGES:
        at.switch_page(path).run()  # the first visit reads and computes everything
        out[name] = []
        for k in range(edits):
            store.update_clinical(study, {"vas": values[k % 2]}, "bench", model=model)
            start = time.perf_counter()
            at.run()
            out[name].append(time.perf_counter() - start)
            if at.exception:
                raise SystemExit(f"{name} raised: {[e.value for e in at.exception]}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--edits", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None,
                        help="data directory with a store (made when empty)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.edits < 1:
        raise SystemExit(f"--edits {args.edits} is below 1.")
    if args.child:
        print(json.dumps(child(args.child, args.edits)))
        return 0
    sys.path[:0] = [str(REPO), str(REPO / "bench")]
    from startup import _child_json, _demo_store, _study_count

    with tempfile.TemporaryDirectory(prefix="spinepain-edit-bench-") as tmp:
        data_dir = args.data or Path(tmp)
        _demo_store(data_dir, args.patients, args.studies)
        n = _study_count(data_dir)
        runs = {v: _child_json(__file__, ["--child", v, "--edits", str(args.edits)],
                               data_dir) for v in VARIANTS}
    print(f"Whole-cohort pages' run after an edit, {n:,} studies (in process, AppTest; "
          f"median of {args.edits} edits):")
    print(f"  {'page':<20}{VARIANTS[0] + ' (the app)':>20}{VARIANTS[1] + ' (before)':>22}"
          f"{'ratio':>9}")
    for name, _ in PAGES:
        now, before = (statistics.median(runs[v][name]) for v in VARIANTS)
        print(f"  {name:<20}{now:>18.2f} s{before:>20.2f} s{before / now:>8.1f}x")
    print(json.dumps(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
