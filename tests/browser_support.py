"""Helpers for the real-browser test: demo store, Streamlit server, Chromium, screenshots.

Used by ``tests/test_browser.py``. Nothing here downloads anything: the browser is
Debian's ``/usr/bin/chromium`` (``make chromium`` installs it), never ``playwright
install``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "browser"
PYTHON = Path(sys.executable)

#: Debian's Chromium; override with SPINEPAIN_CHROMIUM for another local build.
CHROMIUM = Path(os.environ.get("SPINEPAIN_CHROMIUM", "/usr/bin/chromium"))

#: Flags for a headless Chromium on a closed network (no background connections).
#: Browser viewport of the tests: tall, as Streamlit scrolls inside its main block.
VIEWPORT = {"width": 1400, "height": 2400}
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def require_chromium() -> Path:
    """Path of the Chromium executable; fails the test (never skips) when it is missing."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser test needs Debian's chromium. "
            "Run `make sysdeps` (apt-get install -y chromium); never `playwright install`.",
            pytrace=False,
        )
    return CHROMIUM


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_env(data_dir: Path) -> dict[str, str]:
    """Environment for the CLI and the app: the store in ``data_dir``, no telemetry."""
    env = dict(os.environ)
    env.pop("SPINEPAIN_DB_URL", None)
    env["SPINEPAIN_DATA_DIR"] = str(data_dir)
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def build_demo_store(data_dir: Path, *, patients: int = 40, seed: int = 20250301,
                     timeout_s: float = 300.0) -> dict:
    """Run ``python -m core demo --patients N`` with the store in ``data_dir``.

    Returns
    -------
    dict
        The command's JSON summary.

    Raises
    ------
    RuntimeError
        When the command fails, with its stderr.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [str(PYTHON), "-m", "core", "demo", "--patients", str(patients), "--seed", str(seed)],
        cwd=REPO, env=app_env(data_dir), capture_output=True, text=True, timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"`python -m core demo` exited with {proc.returncode}:\n{proc.stderr[-4000:]}"
        )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"stdout": proc.stdout}


@dataclass
class StreamlitServer:
    """``streamlit run app.py`` in its own process group, logging to ``log_path``."""

    data_dir: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    script: Path = REPO / "app.py"
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL of the app."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> StreamlitServer:
        """Start the server and wait until ``/_stcore/health`` answers ``ok``."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        self._log = log
        self.process = subprocess.Popen(
            [str(PYTHON), "-m", "streamlit", "run", str(self.script),
             "--server.address", "127.0.0.1", "--server.port", str(self.port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=REPO, env=app_env(self.data_dir), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.wait_healthy(timeout_s)
        return self

    def log_tail(self, n_chars: int = 4000) -> str:
        """The end of the server log."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-n_chars:]
        except OSError:
            return ""

    def wait_healthy(self, timeout_s: float) -> None:
        """Poll the health endpoint; raise with the log tail when the server dies or hangs."""
        deadline = time.monotonic() + timeout_s
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {self.process.returncode} before it was healthy:\n"
                    + self.log_tail()
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200 and resp.read().strip() == b"ok":
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.25)
        raise RuntimeError(
            f"streamlit was not healthy after {timeout_s:.0f} s ({last_error}):\n"
            + self.log_tail()
        )

    def stop(self) -> None:
        """Terminate the server's process group (SIGTERM, then SIGKILL after 10 s)."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            pgid = os.getpgid(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.wait(timeout=10)
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()


@contextlib.contextmanager
def running_app(data_dir: Path, log_path: Path, script: Path = REPO / "app.py"
                ) -> Iterator[StreamlitServer]:
    """Context manager: a healthy Streamlit server, stopped (process group) on exit."""
    server = StreamlitServer(data_dir=data_dir, log_path=log_path, script=script)
    try:
        yield server.start()
    finally:
        server.stop()


def screenshot(page: Page, name: str) -> Path:
    """Full-page PNG of ``page`` as ``test-artifacts/browser/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.contextmanager
def screenshot_on_failure(page: Page, name: str) -> Iterator[None]:
    """Save ``<name>-FAILED.png`` when the block raises, then re-raise."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            screenshot(page, f"{name}-FAILED")
        raise


@contextlib.contextmanager
def launched_chromium(chromium: Path) -> Iterator[Browser]:
    """Debian's Chromium through Playwright (``executable_path``; never ``playwright
    install``), closed at the end. One sync Playwright at a time: module fixtures."""
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS),
                                      timeout=60_000)
        try:
            yield instance
        finally:
            instance.close()


@contextlib.contextmanager
def new_tab(browser: Browser, timeout_s: float, **context: object) -> Iterator[Page]:
    """A page in a fresh browser context (``VIEWPORT`` unless given), default timeout
    ``timeout_s``; the context is closed at the end."""
    ctx = browser.new_context(**{"viewport": VIEWPORT, **context})
    tab = ctx.new_page()
    tab.set_default_timeout(timeout_s * 1000)
    try:
        yield tab
    finally:
        ctx.close()


def live_texts(page: Page, testid: str) -> list[str]:
    """The texts of the elements with ``testid`` drawn by the current run. While a rerun
    draws, the last run's elements stay on screen marked ``data-stale`` (an earlier
    refusal, say) until replaced or removed; and ``all_inner_texts`` does not wait, so an
    element gone since the query gives no text instead of a 60 s wait."""
    return page.locator('[data-testid="stElementContainer"]:not([data-stale="true"]) '
                        f'[data-testid="{testid}"]').all_inner_texts()


def wait_app_idle(page: Page, timeout_s: float) -> None:
    """Until the app's script run has finished (``stApp``'s ``data-test-script-state`` is
    ``notRunning``, what Streamlit's own end-to-end tests wait on): a click during a rerun
    may land on an element the rerun is replacing and be lost."""
    page.wait_for_function(
        "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'; }",
        timeout=timeout_s * 1000)
