"""Cold start of the app vs a bare one-page Streamlit app, and warm page switches.

Run: ``.venv/bin/python bench/startup.py [--rounds 3] [--data DIR] [--patients 40]
[--studies 100000] [--build-only]``.

With ``--studies N`` the store is the demo store plus N synthetic table-only studies
(``bench/cohort_data.py``) bulk-imported and scored by ``python -m core import-cohort
--model models/demo`` (about a minute for 100k on this machine); ``--data DIR`` keeps it
for the next run, ``--build-only`` stops after building it.

Both apps are started with ``streamlit run`` (headless, free ports), alternately, in the
same run; Debian's Chromium (``/usr/bin/chromium`` through Playwright's
``executable_path``; never ``playwright install``) polls the URL from the moment the
process is launched until

* the bare app's text appears (**bare**),
* Home's content (title, intro and the model in use) appears (**Home content**), and
* Home's store counts appear (**Home complete**).

Then, on the warm server, each page is opened from the sidebar ``--visits`` times; the time
from the click until its title shows and the script run has finished is the page switch
(first visit imports the page's modules, unless the server's background warm-up,
``ui.warmup``, has done it: ``--dwell S`` waits S seconds on Home before the first click;
the later visits are **warm switches**). Target (issue 12): Home content <= 1.5 x bare;
warm switches <= 0.5 s at 100k studies (``--studies 100000``; without it the demo store
of ``--patients`` patients).

The floor of a switch on this machine at this moment is measured beside them: a bare
two-page app (a title and a line of text each) runs on a second server, and each round of
visits first switches between its two pages, timed the same way (**bare switch**). The
machine's speed drifts by a quarter within an hour; each page is also printed as a
multiple of the bare switch of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("SPINEPAIN_CHROMIUM", "/usr/bin/chromium"))
BARE_TEXT = "Bare one-page app content"
BARE_APP = f'import streamlit as st\n\nst.title("Bare")\nst.write("{BARE_TEXT}")\n'
#: The bare two-page app of the switch floor: a router (``{one}``, ``{two}``: the paths of
#: its pages) and two pages of one title and one line each.
BARE_ROUTER = ('import streamlit as st\n\nst.navigation([st.Page({one!r}, title="Bare one"), '
               'st.Page({two!r}, title="Bare two")]).run()\n')
BARE_PAGE = 'import streamlit as st\n\nst.title({title!r})\nst.write("A line of text.")\n'
BARE_PAGES: tuple[tuple[str, str], ...] = (("Bare two", "Bare two"), ("Bare one", "Bare one"))
HOME_TEXT = "interpretable ordinal model"
#: Sidebar label and page title of each page opened in the switch test.
PAGES: tuple[tuple[str, str], ...] = (
    ("New case", "New case"), ("Tumor board", "Tumor board"), ("What-if", "What-if"),
    ("Report", "Case report"), ("Cohort analytics", "Cohort analytics"), ("Model", "Model"),
    ("Surveillance", "Pain surveillance"), ("Teaching", "Teaching"),
    ("Home", "Bone pain from spinal metastases"),
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SPINEPAIN_DB_URL", None)
    env.update(SPINEPAIN_DATA_DIR=str(data_dir), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
               PYTHONPATH=str(REPO))
    return env


def _launch(script: Path, port: int, data_dir: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.address",
         "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=_env(data_dir), stdout=log.open("wb"), stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(os.getpgid(proc.pid), signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
            proc.wait(timeout=10)


def _goto_until_up(page: Page, url: str, start: float, timeout_s: float) -> None:
    while True:
        try:
            page.goto(url, wait_until="commit", timeout=5000)
            return
        except PlaywrightError:  # connection refused until the server listens
            if time.perf_counter() - start > timeout_s:
                raise
            time.sleep(0.05)


def _wait_run_done(page: Page, timeout_ms: float) -> None:
    """Until the app's script run has finished: ``stApp``'s ``data-test-script-state``
    is ``notRunning`` (the attribute Streamlit's own end-to-end tests wait on; the
    status widget is not used: it leaves with a 200 ms transition)."""
    page.wait_for_function(
        "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'; }",
        timeout=timeout_ms)


def cold_start(page: Page, script: Path, data_dir: Path, log: Path,
               markers: list[Callable[[Page], None]], timeout_s: float = 180.0
               ) -> list[float]:
    """Seconds from launching ``streamlit run script`` until each marker is met."""
    port = _free_port()
    start = time.perf_counter()
    proc = _launch(script, port, data_dir, log)
    try:
        _goto_until_up(page, f"http://127.0.0.1:{port}/", start, timeout_s)
        times = []
        for marker in markers:
            marker(page)
            times.append(time.perf_counter() - start)
        return times
    finally:
        _stop(proc)


def _text(text: str, timeout_ms: float = 180_000) -> Callable[[Page], None]:
    return lambda page: page.get_by_text(text).first.wait_for(state="visible",
                                                              timeout=timeout_ms)


def _studies_metric(page: Page) -> None:
    page.locator('[data-testid="stMetric"]').filter(
        has=page.get_by_text("Studies", exact=True)).first.wait_for(state="visible",
                                                                   timeout=180_000)


def _home_content(page: Page) -> None:
    page.get_by_role("heading", name="Bone pain from spinal metastases").wait_for(
        timeout=180_000)
    _text(HOME_TEXT)(page)
    _text("Model in use")(page)


def _switch(page: Page, label: str, title: str) -> float:
    """Seconds from a sidebar click on ``label`` until ``title`` shows and the run ended."""
    link = page.locator('[data-testid="stSidebarNav"] a').filter(has_text=label)
    if not link.first.is_visible():  # the board's projection mode hides it
        page.locator(".st-key-board_projection").get_by_text(
            "Projection", exact=True).click()
        link.first.wait_for(state="visible", timeout=60_000)
        _wait_run_done(page, 180_000)
    start = time.perf_counter()
    link.first.click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=180_000)
    _wait_run_done(page, 180_000)
    return time.perf_counter() - start


def bare_router(folder: Path) -> Path:
    """Write the bare two-page app into ``folder``; returns its router script."""
    one, two = folder / "bare_one.py", folder / "bare_two.py"
    one.write_text(BARE_PAGE.format(title="Bare one"), encoding="utf-8")
    two.write_text(BARE_PAGE.format(title="Bare two"), encoding="utf-8")
    router = folder / "bare_router.py"
    router.write_text(BARE_ROUTER.format(one=str(one), two=str(two)), encoding="utf-8")
    return router


def page_switches(browser: Browser, script: Path, bare: Path, data_dir: Path, log: Path,
                  visits: int = 2, dwell_s: float = 0.0) -> dict[str, list[float]]:
    """Seconds per sidebar click until the page's title shows and its run finished
    (``visits`` visits per page on one warm server: the first, then warm ones), and under
    ``"bare switch"`` the bare two-page app's switches, two at the start of each round.
    The first click comes ``dwell_s`` after Home has shown its store counts."""
    servers = []
    out: dict[str, list[float]] = {"bare switch": [], **{label: [] for label, _ in PAGES}}
    try:
        tabs = []
        for app, name in ((script, "switch"), (bare, "bare_switch")):
            port = _free_port()
            servers.append(_launch(app, port, data_dir, log.with_name(f"{name}.log")))
            page = browser.new_page()
            _goto_until_up(page, f"http://127.0.0.1:{port}/", time.perf_counter(), 180)
            tabs.append(page)
        app_page, bare_page = tabs
        _studies_metric(app_page)
        _wait_run_done(app_page, 180_000)
        bare_page.get_by_role("heading", name="Bare one", exact=True).wait_for(
            timeout=180_000)
        _wait_run_done(bare_page, 180_000)
        time.sleep(dwell_s)
        for _ in range(max(2, visits)):
            bare_page.bring_to_front()
            out["bare switch"] += [_switch(bare_page, *pair) for pair in BARE_PAGES]
            app_page.bring_to_front()
            for label, title in PAGES:
                out[label].append(_switch(app_page, label, title))
        return out
    finally:
        for proc in servers:
            _stop(proc)


def _demo_store(data_dir: Path, patients: int, studies: int = 0) -> None:
    """The demo store of ``patients`` patients; with ``studies``, that many more
    synthetic table-only studies (``bench/cohort_data.py``) bulk-imported with
    ``python -m core import-cohort --model models/demo`` (scored as they are imported)."""
    if (data_dir / "store").exists() or any(data_dir.glob("*.sqlite")):
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "core", "demo", "--patients", str(patients)],
                   cwd=REPO, env=_env(data_dir), check=True, capture_output=True)
    if studies <= 0:
        return
    sys.path[:0] = [str(REPO), str(REPO / "bench")]
    from cohort_data import make_cohort

    table = data_dir / "bench_cohort.csv"
    make_cohort(studies).to_csv(table, index=False)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core", "import-cohort", str(table), "--model",
                    str(REPO / "models" / "demo"), "--actor", "bench"],
                   cwd=REPO, env=_env(data_dir), check=True, capture_output=True)
    table.unlink()
    print(f"store: demo ({patients} patients) + {studies} imported and scored studies in "
          f"{time.perf_counter() - start:.0f} s", flush=True)


def _child_json(script: str, args: list[str], data_dir: Path) -> dict:
    """The JSON last line of ``script args`` run in a fresh interpreter on the store in
    ``data_dir`` without the warm-up (Streamlit's caches are per process); a failure
    stops the bench with the child's error."""
    env = _env(data_dir)
    env["SPINEPAIN_WARMUP"] = "0"
    proc = subprocess.run([sys.executable, script, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _study_count(data_dir: Path) -> int:
    code = ("from core.store import CaseStore\n"
            "print(CaseStore().study_counts()['studies'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(data_dir),
                         check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None,
                        help="data directory with a demo store (made when empty)")
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--studies", type=int, default=0,
                        help="also bulk-import this many synthetic studies (e.g. 100000)")
    parser.add_argument("--visits", type=int, default=2,
                        help="visits per page in the switch test (the first, then warm "
                             "ones; the median warm visit is printed)")
    parser.add_argument("--dwell", type=float, default=0.0, metavar="S",
                        help="seconds on Home before the first page switch (the server's "
                             "background warm-up, ui.warmup, runs meanwhile)")
    parser.add_argument("--build-only", action="store_true",
                        help="build the store in --data and stop")
    args = parser.parse_args()
    if not CHROMIUM.is_file():
        print(f"Chromium not found at {CHROMIUM} (apt-get install chromium).")
        return 1
    with tempfile.TemporaryDirectory(prefix="spinepain-startup-") as tmp:
        tmp_path = Path(tmp)
        data_dir = args.data or tmp_path / "data"
        _demo_store(data_dir, args.patients, args.studies)
        if args.build_only:
            return 0
        studies = _study_count(data_dir)
        bare = tmp_path / "bare_app.py"
        bare.write_text(BARE_APP, encoding="utf-8")
        app = REPO / "app.py"
        results: dict[str, list[float]] = {"bare": [], "home_content": [], "home_complete": []}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            for r in range(args.rounds):
                page = browser.new_page()
                (t_bare,) = cold_start(page, bare, data_dir, tmp_path / f"bare{r}.log",
                                       [_text(BARE_TEXT)])
                page.close()
                page = browser.new_page()
                t_content, t_complete = cold_start(page, app, data_dir,
                                                   tmp_path / f"app{r}.log",
                                                   [_home_content, _studies_metric])
                page.close()
                results["bare"].append(t_bare)
                results["home_content"].append(t_content)
                results["home_complete"].append(t_complete)
                print(f"round {r + 1}: bare {t_bare:.2f} s, Home content {t_content:.2f} s, "
                      f"Home complete {t_complete:.2f} s", flush=True)
            switches = page_switches(browser, app, bare_router(tmp_path), data_dir,
                                     tmp_path / "switch.log", args.visits, args.dwell)
            browser.close()
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"cold start, median of {args.rounds} rounds (same run, alternating):")
    print(f"  bare one-page app : {med['bare']:6.2f} s")
    print(f"  Home content      : {med['home_content']:6.2f} s   "
          f"{med['home_content'] / med['bare']:5.2f} x bare   (target <= 1.5 x)")
    print(f"  Home complete     : {med['home_complete']:6.2f} s   "
          f"{med['home_complete'] / med['bare']:5.2f} x bare   (with the store counts)")
    print(f"page switch from the sidebar (first visit {args.dwell:g} s after Home, median warm "
          f"visit; {studies:,} studies, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs):")
    floor_visits = switches.pop("bare switch")
    floor = statistics.median(floor_visits[2:] or floor_visits)
    print(f"  bare two-page app: {floor:6.2f} s (median of its warm switches, the floor; "
          f"{', '.join(f'{w:.2f}' for w in floor_visits)})")
    for label, (first, *warm) in switches.items():
        spread = (f"   (warm visits {', '.join(f'{w:.2f}' for w in warm)})"
                  if len(warm) > 1 else "")
        median = statistics.median(warm)
        print(f"  {label:17s}: {first:6.2f} s   {median:6.2f} s = {median / floor:4.1f} x bare"
              f"{spread}")
    switches["bare switch"] = floor_visits
    print(json.dumps({"median_s": med, "switch_s": switches}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
