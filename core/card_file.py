"""The model card file of a model folder, read without loading the model.

A page that only shows which model is in use (Home) reads ``model_card.json`` here: plain
JSON, no scikit-learn, skops or SHAP import, so it costs milliseconds.
:func:`core.model.load_model` still checks the card against the model files before any
prediction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Name of the model card in a model folder.
CARD_FILE = "model_card.json"


def read_card(folder: str | Path) -> dict[str, Any]:
    """The model card (``model_card.json``) of a model folder.

    Raises
    ------
    FileNotFoundError
        When the folder has no model card.
    ValueError
        When the card is not a JSON object.
    """
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"model card {path} does not exist; run `make train`.")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"model card {path.name} is not valid JSON.") from None
    if not isinstance(card, dict):
        raise ValueError(f"model card {path.name} is not a JSON object.")
    return card


__all__ = ["CARD_FILE", "read_card"]
