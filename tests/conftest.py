"""Shared fixtures. Real public MRI lives in ../shared/data (see its README)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_support import PostgresCluster

REPO = Path(__file__).resolve().parents[1]
# No background warm-up (ui.warmup) in the test process or the servers it starts: a
# thread importing modules and loading the model beside a test makes timings and counts
# depend on when it runs. tests/test_warmup.py turns it on where it tests it.
os.environ["SPINEPAIN_WARMUP"] = "0"
SHARED_DATA = Path(os.environ.get("SPINEPAIN_SHARED_DATA", REPO.parent / "shared" / "data"))
SCT = SHARED_DATA / "sct_testing_data"


@pytest.fixture(scope="session")
def sct_data() -> Path:
    """Folder of the Spinal Cord Toolbox testing data; fails (never skips) when it is absent:
    CI runs with ``../shared`` beside the clone (or set ``SPINEPAIN_SHARED_DATA``)."""
    if not SCT.is_dir():
        pytest.fail(f"real MRI not found at {SCT}; put ../shared beside the checkout or set "
                    "SPINEPAIN_SHARED_DATA.", pytrace=False)
    return SCT


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory used as SPINEPAIN_DATA_DIR for the test."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("SPINEPAIN_DATA_DIR", str(path))
    monkeypatch.delenv("SPINEPAIN_DB_URL", raising=False)
    return path


# --------------------------------------------------------------------------- databases
# The store tests run on SQLite and on PostgreSQL (tests/pg_support.py): a throwaway
# cluster for the whole session, an empty database per test.

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster in a temporary folder, stopped and removed at the end; FAILS
    (never skips) when the server binaries are missing: `make sysdeps` installs them."""
    try:
        cluster = PostgresCluster.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


def database_url(request: pytest.FixtureRequest, backend: str, data_dir: Path) -> str:
    """An empty database of ``backend`` for one test: the SQLite file in the data
    directory, or a new PostgreSQL database dropped when the test ends."""
    if backend == "sqlite":
        return f"sqlite:///{(data_dir / 'cases.sqlite').resolve()}"
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_database()
    request.addfinalizer(lambda: cluster.drop_database(url))
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, data_dir: Path,
           monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's database on each backend, also as ``SPINEPAIN_DB_URL`` (so ``CaseStore()``
    opens it); images go to the ``data_dir``."""
    url = database_url(request, request.param, data_dir)
    monkeypatch.setenv("SPINEPAIN_DB_URL", url)
    return url


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Put ``sys.modules["__main__"]`` back after each test.

    Streamlit's script runner (AppTest) installs the page script as ``__main__`` and
    leaves it there; a later test starting worker processes (spawn / forkserver, Dask's
    nannies) would then re-run that temporary script in every child and fail."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main


STORE_ENV = ("SPINEPAIN_DB_URL", "SPINEPAIN_DATA_DIR")


@contextlib.contextmanager
def store_env_cleared() -> Iterator[None]:
    """Build a store without the caller's ``SPINEPAIN_DB_URL`` / ``SPINEPAIN_DATA_DIR``
    (module- or session-scoped fixtures cannot use ``monkeypatch``); restored after."""
    saved = {k: os.environ.pop(k, None) for k in STORE_ENV}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is not None:
                os.environ[key] = value


@contextlib.contextmanager
def app_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's environment for AppTest: the store in ``data_dir`` and full error
    details, put back afterwards."""
    from streamlit import config

    monkeypatch.setenv("SPINEPAIN_DATA_DIR", str(data_dir))
    monkeypatch.delenv("SPINEPAIN_DB_URL", raising=False)
    previous = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    try:
        yield data_dir
    finally:
        config.set_option("client.showErrorDetails", previous)
