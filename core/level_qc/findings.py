"""QA findings: the codes, their severities, and the frozen result types."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Severity = Literal["error", "warning", "note"]
#: Severities, most serious first. ``error``: measurement refused; ``warning``: measured,
#: the named level's values are flagged; ``note``: information for the reader.
SEVERITIES: tuple[str, ...] = ("error", "warning", "note")

#: Stable code -> (severity, what it means). Codes are public (the ``label_qc`` list of
#: ``core extract``); add, never rename.
QC_CODES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "cord_level_map": ("error", "the labels mark spinal-cord segments, not vertebral bodies"),
    "not_mr_image": ("error", "the image is CT (or not MRI): high intensity is bone, not "
                     "marrow oedema or tumour"),
    "order_inconsistent": ("error", "level names are not in head-to-foot order along the "
                           "patient axis"),
    "duplicate_level": ("error", "one level name on two separate bodies"),
    "implausible_volume": ("warning", "a level far outside its region's volume range or "
                           "its neighbours' (merged, fused or fragmentary label)"),
    "missing_level": ("warning", "a level is missing between two labelled levels"),
    "partial_in_view": ("warning", "a body cut by the field of view: its ratio covers only "
                        "the part inside the image"),
    "label_on_background": ("warning", "labelled voxels where the image has no signal"),
    "t1_sequence": ("warning", "T1-weighted image: the high-intensity ratio is defined on "
                    "STIR / T2 (fat-saturated) images"),
    "transitional_vertebra": ("note", "a T13 or L6 is labelled: check the counting"),
    "levels_named": ("note", "the app named the bodies of a plain mask by counting"),
})


@dataclass(frozen=True)
class QCFinding:
    """One label-QA finding.

    Attributes
    ----------
    code : str
        A key of :data:`QC_CODES`.
    severity : str
        ``"error"``, ``"warning"`` or ``"note"`` (the code's severity).
    level : str or None
        The level it concerns (``"L3"``), or ``None`` for the whole map / image.
    message : str
        One plain sentence for the clinician.
    """

    code: str
    severity: str
    level: str | None
    message: str

    def __post_init__(self) -> None:
        if self.code not in QC_CODES:
            raise ValueError(f"QC code {self.code!r} is not one of {', '.join(QC_CODES)}.")
        if self.severity not in SEVERITIES:
            raise ValueError(f"QC severity {self.severity!r} is not one of "
                             f"{', '.join(SEVERITIES)}.")

    @classmethod
    def of(cls, code: str, message: str, level: str | None = None) -> QCFinding:
        """A finding with the code's own severity."""
        return cls(code=code, severity=QC_CODES[code][0], level=level, message=message)

    def to_dict(self) -> dict[str, object]:
        """``{code, severity, level, message}`` (the ``label_qc`` items of ``core extract``)."""
        return {"code": self.code, "severity": self.severity, "level": self.level,
                "message": self.message}


def sort_findings(findings: Iterable[QCFinding]) -> tuple[QCFinding, ...]:
    """Distinct findings, errors first, then warnings, then notes (stable within each)."""
    unique = list(dict.fromkeys(findings))
    return tuple(sorted(unique, key=lambda f: SEVERITIES.index(f.severity)))


@dataclass(frozen=True)
class LabelQCReport:
    """The QA of one image and its level map.

    Attributes
    ----------
    findings : tuple of QCFinding
        Errors first; empty when clean.
    volumes_ml : dict of str to float
        Labelled volume per level name (craniocaudal), for display.
    """

    findings: tuple[QCFinding, ...] = ()
    volumes_ml: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[QCFinding, ...]:
        """The findings that refuse the measurement."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def ok(self) -> bool:
        """True when nothing refuses the measurement (warnings and notes allowed)."""
        return not self.errors

    def codes(self) -> tuple[str, ...]:
        """The distinct codes found, in finding order."""
        return tuple(dict.fromkeys(f.code for f in self.findings))

    def flagged_levels(self) -> tuple[str, ...]:
        """Levels named by a warning or an error (their values need checking)."""
        return tuple(dict.fromkeys(f.level for f in self.findings
                                   if f.level and f.severity != "note"))

    def to_list(self) -> list[dict[str, object]]:
        """The ``label_qc`` list of ``core extract`` (empty when clean)."""
        return [f.to_dict() for f in self.findings]


class LabelQCError(ValueError):
    """Measurement refused by label QA; ``str()`` is the first error's sentence."""

    def __init__(self, report: LabelQCReport) -> None:
        self.report = report
        errors = report.errors
        super().__init__(errors[0].message if errors else "Label QA refused the measurement.")
