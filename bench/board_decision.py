"""Benchmark: the Tumor board's run after a board write, views keyed by the data revision
(the app) vs by the store revision (every audited write, as before).

Run: ``.venv/bin/python bench/board_decision.py [--studies 100000] [--data DIR]
[--entries 5] [--patients 40]``.

The store is the one of ``bench/startup.py`` (the demo store plus ``--studies`` synthetic
table-only studies, imported and scored; ``--data DIR`` keeps it for the next run). In a
fresh interpreter per variant (Streamlit's caches are per process), ``AppTest`` opens the
Tumor board on its Agenda tab, then ``--entries`` times adds the case on screen to a day's
agenda (an audited ``board-agenda`` write) and steps to the next case, then records a
decision on the first agenda case (an audited ``board-note`` write). It times the run
after each write (the click until the run ended, in process: no browser):

* **data revision** — the app: the views of the studies are keyed by
  :meth:`core.store.CaseStore.data_revision`, which board writes do not move;
* **store revision** — the same app with the key moved by every write
  (``data_revision`` replaced by :meth:`~core.store.CaseStore.store_revision`), as before:
  each board write empties the case list's, counts' and status's caches.

It prints the median run after an agenda entry and the run after the decision, side by
side, with their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("data revision", "store revision")


def child(variant: str, entries: int, day: dt.date) -> dict[str, list[float]]:
    """The runs' seconds after each board write (run in a fresh interpreter)."""
    sys.path.insert(0, str(REPO))
    from streamlit.testing.v1 import AppTest

    from core.store import CaseStore
    from ui import board

    if variant == "store revision":
        CaseStore.data_revision = CaseStore.store_revision  # type: ignore[method-assign]
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=900)
    at.run()
    at.switch_page("pages/tumor_board.py")
    at.session_state["board_date"] = day
    at.session_state["board_projection"] = False
    at.session_state[board.TAB_KEY] = at.session_state[board.TAB_KEPT_KEY] = "Agenda"
    at.run()
    at.run()  # warm: the first visit scored and read what it needs

    def timed(widget) -> float:
        start = time.perf_counter()
        widget.run()
        if at.exception:
            raise SystemExit(f"the board raised: {[e.value for e in at.exception]}")
        return time.perf_counter() - start

    out: dict[str, list[float]] = {"entry": [], "decision": []}
    for _ in range(entries):
        out["entry"].append(timed(at.button(key="board_agenda_add").click()))
        at.button(key="board_next").click().run()
    at.segmented_control(key="board_source").set_value("Agenda").run()
    first = int(at.session_state["board_study"])
    at.checkbox(key=f"board_note_discussed_{first}").check()
    at.text_input(key=f"board_note_text_{first}").input("Bench: SBRT; review in 6 weeks")
    out["decision"].append(timed(at.button(key="board_note_save").click()))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--entries", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None,
                        help="data directory with a store (made when empty)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--day", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.entries, args.day)))
        return 0
    sys.path[:0] = [str(REPO), str(REPO / "bench")]
    from startup import _child_json, _demo_store, _study_count

    with tempfile.TemporaryDirectory(prefix="spinepain-board-bench-") as tmp:
        data_dir = args.data or Path(tmp)
        _demo_store(data_dir, args.patients, args.studies)
        n = _study_count(data_dir)
        # days of their own, so that a kept store's earlier agendas do not interfere
        base = dt.date(2040, 1, 1) + dt.timedelta(days=int(time.time()) % 20_000)
        runs = {v: _child_json(__file__, ["--child", v, "--entries", str(args.entries),
                                          "--day", (base + dt.timedelta(days=k)).isoformat()],
                               data_dir) for k, v in enumerate(VARIANTS)}
    print(f"Tumor board run after a board write, {n:,} studies (in process, AppTest; "
          f"median of {args.entries} agenda entries, one decision):")
    print(f"  {'views keyed by':<38}{'agenda entry':>14}{'decision':>11}")
    for variant in VARIANTS:
        label = f"{variant} ({'the app' if variant == VARIANTS[0] else 'every write, before'})"
        print(f"  {label:<38}{statistics.median(runs[variant]['entry']):>12.2f} s"
              f"{runs[variant]['decision'][0]:>9.2f} s")
    now, before = (statistics.median(runs[v]["entry"]) for v in VARIANTS)
    print(f"  {'ratio (store / data revision)':<38}{before / now:>13.1f}x"
          f"{runs[VARIANTS[1]]['decision'][0] / runs[VARIANTS[0]]['decision'][0]:>10.1f}x")
    print(json.dumps(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
