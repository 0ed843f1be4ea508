"""What the board, cohort and home pages pay per visit at scale: SQL reads of stored scores
against reading every study and scoring it, side by side.

Run: ``.venv/bin/python bench/store_queries.py [--studies 100000] [--no-postgresql]``.

A store of ``--studies`` synthetic studies is imported in bulk and scored once with the
demo model (:meth:`CaseStore.recompute_scores`, the background recompute; its rate is
printed). Then, per backend (SQLite, and a throwaway PostgreSQL cluster from
tests/pg_support.py), median of ``--repeat`` calls:

* counts: :meth:`CaseStore.study_counts` / :meth:`CaseStore.count_studies` (SQL) against
  ``len(list_studies())`` (every study read);
* revision: :meth:`CaseStore.store_revision` (every write) and
  :meth:`CaseStore.data_revision` (writes to the studies and scores: the cache key of the
  pages);
* board page: :meth:`CaseStore.scored_studies` (50 rows, filtered, ordered and paginated
  in SQL) against ``list_studies()`` + :func:`core.assess.assess_frame` + a pandas filter
  and sort (the page computing every score; timed on ``--sample`` studies and scaled);
* a page of 50 in every order (``board``, ``patient``, ``recent``, ``expected_vas``) at
  offset 0 and half-way down the list (target: well under 0.5 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cohort_data import make_cohort  # noqa: E402

from core.allocator import keep_freed_memory  # noqa: E402
from core.assess import assess_frame  # noqa: E402
from core.model import load_model  # noqa: E402
from core.store import ORDERS, CaseStore, StudyFilter  # noqa: E402


def _median(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def bench_backend(label: str, url: str, frame, model, repeat: int, sample: int) -> None:
    with CaseStore(url) as store:
        start = time.perf_counter()
        store.import_cohort(frame, source="bench.csv", actor="bench")
        imported = time.perf_counter() - start
        start = time.perf_counter()
        done = store.recompute_scores(model)
        scoring = time.perf_counter() - start
        n = len(frame)
        print(f"{label}: {n} studies imported in {imported:.1f} s ({n / imported:.0f} "
              f"rows/s); scored and stored in {scoring:.1f} s ({n / scoring:.0f} studies/s, "
              f"{done['not_assessable']} not assessable)")
        version = model.version
        board = StudyFilter(urgencies=["urgent", "soon"], synthetic=True)
        sql_count = _median(store.count_studies, repeat)
        sql_counts = _median(store.study_counts, repeat)
        revision = _median(store.store_revision, repeat)
        data_revision = _median(store.data_revision, repeat)
        sql_page = _median(lambda: store.scored_studies(version, board, order_by="board",
                                                        limit=50), repeat)
        filtered_count = _median(lambda: store.count_studies(board, model_version=version),
                                 repeat)
        pages = {(order, offset): _median(
            lambda o=order, k=offset: store.scored_studies(version, StudyFilter(), order_by=o,
                                                           limit=50, offset=k), repeat)
            for order in ORDERS for offset in (0, n // 2)}
        listing = _median(lambda: len(store.list_studies()), max(1, repeat // 3))
        listed = store.list_studies().iloc[:sample]
        start = time.perf_counter()
        scored = assess_frame(model, listed)
        scored[scored["urgency"].isin(["urgent", "soon"])].sort_values("study_date")
        per_study = (time.perf_counter() - start) / len(listed)
        computed_page = listing + per_study * n
        print(f"  count of studies        SQL {_ms(sql_count)}   list_studies() "
              f"{_ms(listing)}   ratio {listing / sql_count:8.0f}x")
        print(f"  home counts (4 counts)  SQL {_ms(sql_counts)}")
        print(f"  store revision          SQL {_ms(revision)}")
        print(f"  data revision (pages)   SQL {_ms(data_revision)}")
        print(f"  board page (50, filter) SQL {_ms(sql_page)}   read + score all "
              f"{_ms(computed_page)}   ratio {computed_page / sql_page:8.0f}x")
        print(f"  filtered count          SQL {_ms(filtered_count)}")
        for order in ORDERS:
            print(f"  page of 50 by {order:<12} SQL offset 0 {_ms(pages[order, 0])}   "
                  f"offset {n // 2} {_ms(pages[order, n // 2])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--no-postgresql", action="store_true")
    args = parser.parse_args()
    keep_freed_memory()  # as the app's server and the command line run
    print(f"store query bench: {args.studies} studies; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    frame = make_cohort(args.studies)
    model = load_model()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        bench_backend("sqlite", f"sqlite:///{Path(tmp) / 'q.sqlite'}", frame, model,
                      args.repeat, min(args.sample, args.studies))
        if not args.no_postgresql:
            from tests.pg_support import PostgresCluster

            cluster = PostgresCluster.start()
            try:
                bench_backend("postgresql", cluster.new_database(), frame, model,
                              args.repeat, min(args.sample, args.studies))
            finally:
                cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
