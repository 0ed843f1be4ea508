"""Shared fixtures. Real public MRI lives in ../shared/data (see its README)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
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
