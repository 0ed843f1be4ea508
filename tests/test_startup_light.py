"""Start fast (issue 12): Home's modules import no heavy library, the command line builds
its options and a batch's workers start without the libraries they do not use, and the
model card is read without loading the model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.card_file import CARD_FILE, read_card

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "altair", "plotly", "sklearn", "skops", "shap", "scipy",
         "SimpleITK", "sqlalchemy", "reportlab", "pydicom", "core.model", "core.store")


def test_home_and_the_router_import_no_heavy_library() -> None:
    code = ("import sys, streamlit, ui.home, ui.layout, ui.registry, ui.components\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout
    page = (REPO / "pages" / "home.py").read_text(encoding="utf-8")
    assert "ui import cache" not in page and "cache." not in page


def _imported(modules: str, heavy: tuple[str, ...]) -> list[str]:
    code = (f"import sys, {modules}\n"
            f"print([m for m in {heavy!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().replace("'", '"'))


def test_the_command_line_builds_its_options_without_the_measurement_code() -> None:
    """``python -m core ...`` parses its options (label conventions, engines) before it
    imports what the chosen command needs."""
    assert _imported("core.cli, core.conventions, core.engines", HEAVY) == []
    from core.cli import build_parser

    assert build_parser().parse_args(["batch", "m.csv", "--out", "f.csv"]).command == "batch"


def test_batch_workers_preload_neither_pandas_nor_pydicom() -> None:
    """The forkserver every batch worker forks from imports the measurement code
    (``PRELOAD``) without pandas (the clinical schema) or pydicom (DICOM only): 0.4-0.7 s
    less before the first study starts."""
    from core.batch.workers import PRELOAD

    assert _imported(", ".join(PRELOAD), ("pandas", "pyarrow", "pydicom")) == []
    # the same check sees the libraries the measurement does need
    assert _imported(", ".join(PRELOAD), ("numpy", "scipy", "SimpleITK")) == [
        "numpy", "scipy", "SimpleITK"]


def test_read_card_is_the_card_the_model_carries() -> None:
    from core.model import load_model

    assert read_card(REPO / "models" / "demo") == load_model().card


def test_read_card_refuses_missing_and_malformed_cards(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_card(tmp_path)
    (tmp_path / CARD_FILE).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a JSON object"):
        read_card(tmp_path)
    (tmp_path / CARD_FILE).write_text("{nope", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_card(tmp_path)
    (tmp_path / CARD_FILE).write_text(json.dumps({"version": "x"}), encoding="utf-8")
    assert read_card(tmp_path) == {"version": "x"}
