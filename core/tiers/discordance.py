"""Recorded pain against the predicted category: :func:`discordance`."""

from __future__ import annotations

from dataclasses import dataclass

from core.vocab import CATEGORIES, number_text, vas_to_category


@dataclass(frozen=True)
class Discordance:
    """A recorded VAS compared with the predicted category.

    Attributes
    ----------
    recorded_vas : float
    recorded_category : str
    predicted_category : str
    steps : int
        Recorded minus predicted category index (``+1``: one category more pain than
        predicted).
    sentence : str
        What a clinician reads next to the prediction.
    """

    recorded_vas: float
    recorded_category: str
    predicted_category: str
    steps: int
    sentence: str

    @property
    def discordant(self) -> bool:
        """The categories differ by one or more."""
        return self.steps != 0

    def to_dict(self) -> dict[str, object]:
        return {"recorded_vas": self.recorded_vas, "recorded_category": self.recorded_category,
                "predicted_category": self.predicted_category, "steps": self.steps,
                "discordant": self.discordant, "sentence": self.sentence}


_HIGHER = ("Recorded VAS {vas} ({recorded}) is higher than the predicted {predicted} pain: "
           "the recorded pain is what counts; check for another pain source or a missing "
           "finding.")
_LOWER = ("Recorded VAS {vas} ({recorded}) is lower than the predicted {predicted} pain: the "
          "recorded pain is what counts; current treatment may be controlling it, so do not "
          "escalate on the prediction; reassess if the pain changes.")
_SAME = "Recorded VAS {vas} ({recorded}) agrees with the predicted {predicted} pain."


def discordance(recorded_vas: float | None, category: str) -> Discordance | None:
    """Compare a recorded VAS with a predicted category; ``None`` when no VAS was recorded.

    Discordant when the recorded category (VAS bands of :func:`core.vocab.vas_to_category`)
    differs from the predicted one by one category or more.

    Raises
    ------
    ValueError
        For a VAS outside 0-10 or an unknown category.
    """
    if recorded_vas is None:
        return None
    if category not in CATEGORIES:
        raise ValueError(f"pain category {category!r} is not one of {', '.join(CATEGORIES)}.")
    recorded = vas_to_category(recorded_vas)
    steps = CATEGORIES.index(recorded) - CATEGORIES.index(category)
    template = _HIGHER if steps > 0 else _LOWER if steps < 0 else _SAME
    sentence = template.format(vas=number_text(recorded_vas, 1), recorded=recorded,
                               predicted=category)
    return Discordance(float(recorded_vas), recorded, category, steps, sentence)
