"""Model artifacts on disk: canonical skops writing, :func:`save`, :func:`load_model`.

A model folder (``models/<name>/``) holds ``model.skops`` (the fitted pipeline, written
with :mod:`skops.io` and canonicalised so that the bytes are reproducible),
``model_card.json`` (which records the SHA-256 of the other two files) and
``shap_background.csv``. :func:`load_model` checks a folder before it constructs
anything from it and keeps the one in-process model cache (newest files per folder).
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import sklearn
import skops.io as sio
from sklearn.pipeline import Pipeline

from core.card_file import CARD_FILE
from core.features import FEATURE_NAMES
from core.model.ordinal import OrdinalLogisticRegression
from core.model.predictor import TrainedModel
from core.provenance import sha256_bytes

#: Default model folder, relative to the repository root.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "demo"

MODEL_FILE = "model.skops"
BACKGROUND_FILE = "shap_background.csv"

#: Types in ``model.skops`` that skops does not trust by default and that we expect.
#: Anything else in an artifact is refused before it is constructed. skops records a
#: class by its defining module, so moving the estimator changes this name (and needs a
#: retrain of saved models).
TRUSTED_TYPES: tuple[str, ...] = ("core.model.ordinal.OrdinalLogisticRegression",
                                  "numpy.dtype")

_CACHE: dict[tuple[str, int, int, int], TrainedModel] = {}
_CACHE_LOCK = threading.Lock()


# ------------------------------------------------------------------------ writing


def _canonical_skops(obj: Any) -> bytes:
    """``skops.io.dumps`` made byte-reproducible.

    skops names array files and ``__id__`` fields after ``id()`` of the objects and
    stamps zip entries with the current time. Both are renumbered in order of first
    appearance in ``schema.json`` (which preserves which nodes share an object) and
    every entry gets the fixed time 1980-01-01.
    """
    src = zipfile.ZipFile(io.BytesIO(sio.dumps(obj)))
    schema = json.loads(src.read("schema.json"))
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "__id__" in node:
                node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
            if isinstance(node.get("file"), str):
                old = node["file"]
                suffix = Path(old).suffix
                node["file"] = files.setdefault(old, f"{len(files) + 1:04d}{suffix}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        def put(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)

        for old, new in sorted(files.items(), key=lambda kv: kv[1]):
            put(new, src.read(old))
        put("schema.json", json.dumps(schema, indent=2).encode("utf-8"))
    return out.getvalue()


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def save(model: TrainedModel, out_dir: str | Path) -> Path:
    """Write ``model.skops``, ``shap_background.csv`` and ``model_card.json``.

    The card records the SHA-256 of the other two files; :func:`load_model`
    checks them.

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    blob = _canonical_skops(model.pipeline)
    (folder / MODEL_FILE).write_bytes(blob)
    background_csv = model.background.to_csv(index=False, lineterminator="\n",
                                             float_format="%.17g")
    _write_text(folder / BACKGROUND_FILE, background_csv)
    model.card["artifacts"] = {
        MODEL_FILE: sha256_bytes(blob),
        BACKGROUND_FILE: sha256_bytes(background_csv.encode("utf-8")),
    }
    _write_text(folder / CARD_FILE, json.dumps(model.card, indent=2, ensure_ascii=False,
                                               allow_nan=False) + "\n")
    return folder


def clear_cache() -> None:
    """Forget every loaded model (after a folder was rewritten in place)."""
    with _CACHE_LOCK:
        _CACHE.clear()


# ------------------------------------------------------------------------ loading


def _major_minor(version: str) -> tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)", version)
    return tuple(int(g) for g in match.groups()) if match else ()


def _artifact_sklearn_versions(blob: bytes) -> set[str]:
    """The ``_sklearn_version`` stamps scikit-learn left in a skops file's schema.

    Read from ``schema.json`` without constructing anything; an unreadable file gives an
    empty set (the skops checks that follow refuse it with their own message).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return set()
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stamp = node.get("_sklearn_version")
            if isinstance(stamp, dict) and isinstance(stamp.get("content"), str):
                try:
                    found.add(str(json.loads(stamp["content"])))
                except ValueError:
                    found.add(stamp["content"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _read_card(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{path} is not valid JSON.") from None


def _check_card(card: dict[str, Any], folder: Path) -> str:
    """Refuse a card from another scikit-learn major.minor or feature list.

    Returns
    -------
    str
        The retrain command to name in any later refusal.
    """
    retrain = card.get("retrain_command") or (
        f"python -m core train --cohort data/demo/cohort.csv --out {folder} --seed 0 --synthetic")
    trained_with = str(card.get("library_versions", {}).get("scikit-learn", "unknown"))
    if _major_minor(trained_with) != _major_minor(sklearn.__version__):
        raise ValueError(
            f"{folder} was trained with scikit-learn {trained_with} but {sklearn.__version__} "
            f"is installed; retrain it with: {retrain}")
    names = [f.get("name") for f in card.get("features", [])]
    if tuple(names) != FEATURE_NAMES:
        raise ValueError(f"{folder} was trained on a different feature list; retrain it with: "
                         f"{retrain}")
    return retrain


def _load_pipeline(blob: bytes, model_file: Path, retrain: str) -> Pipeline:
    """Check the skops stamps and types, then construct the impute/scale/ordinal pipeline."""
    # The card is plain JSON; the stamps inside model.skops are what scikit-learn unpickles.
    for pickled_with in sorted(_artifact_sklearn_versions(blob)):
        if _major_minor(pickled_with) != _major_minor(sklearn.__version__):
            raise ValueError(
                f"{model_file} was written by scikit-learn {pickled_with} but "
                f"{sklearn.__version__} is installed; retrain it with: {retrain}")
    try:
        untrusted = sio.get_untrusted_types(data=blob)
    except Exception as exc:  # a corrupt or foreign zip
        raise ValueError(f"{model_file} is not a readable skops file ({exc}).") from None
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ValueError(f"{model_file} contains unexpected type(s) {', '.join(unexpected)}; "
                         "refusing to load it.")
    pipeline = sio.loads(blob, trusted=list(TRUSTED_TYPES))
    if (not isinstance(pipeline, Pipeline)
            or list(pipeline.named_steps) != ["impute", "scale", "model"]
            or not isinstance(pipeline.named_steps["model"], OrdinalLogisticRegression)):
        raise ValueError(f"{model_file} does not hold the expected impute/scale/ordinal "
                         "pipeline.")
    return pipeline


def _read_model(folder: Path, files: list[Path]) -> TrainedModel:
    """Read and check a model folder (``files`` = model, card, background)."""
    card = _read_card(files[1])
    retrain = _check_card(card, folder)
    blob = files[0].read_bytes()
    background_bytes = files[2].read_bytes()
    expected = card.get("artifacts", {})
    if (expected.get(MODEL_FILE) != sha256_bytes(blob)
            or expected.get(BACKGROUND_FILE) != sha256_bytes(background_bytes)):
        raise ValueError(f"{folder} files do not match the checksums in {CARD_FILE}.")
    pipeline = _load_pipeline(blob, files[0], retrain)
    background = pd.read_csv(io.BytesIO(background_bytes))
    if list(background.columns) != [*FEATURE_NAMES, "weight"]:
        raise ValueError(f"{files[2]} does not have the expected columns.")
    return TrainedModel(pipeline=pipeline, card=card, background=background, path=folder)


def load_model(path: str | Path | None = None) -> TrainedModel:
    """Load a model folder (default ``models/demo``), cached per path and file mtimes.

    Checks, in order: the card exists and lists the current feature set; it was
    trained with the installed scikit-learn major.minor; the files match the card's
    SHA-256; the ``_sklearn_version`` stamps inside ``model.skops`` have the installed
    major.minor too; ``model.skops`` holds no type outside :data:`TRUSTED_TYPES` (checked
    with ``skops.io.get_untrusted_types`` before anything is constructed). Only the newest
    files of a folder stay cached.

    Raises
    ------
    FileNotFoundError
        When the folder or a file is missing.
    ValueError
        For a version mismatch (the message gives the retrain command), a changed
        feature list, a checksum mismatch or an unexpected type.
    """
    folder = Path(path) if path is not None else DEFAULT_MODEL_DIR
    files = [folder / MODEL_FILE, folder / CARD_FILE, folder / BACKGROUND_FILE]
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"model file {file} does not exist.")
    key = (str(folder.resolve()), *(f.stat().st_mtime_ns for f in files))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)  # type: ignore[call-overload]
    if cached is not None:
        return cached
    model = _read_model(folder, files)
    with _CACHE_LOCK:
        for stale in [k for k in _CACHE if k[0] == key[0]]:  # older files of this folder
            del _CACHE[stale]
        _CACHE[key] = model  # type: ignore[index]
    return model
