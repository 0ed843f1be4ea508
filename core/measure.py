"""Measure a study the checked way: (name a plain mask,) run label QA, then measure.

The one entry point for ``core extract``, the New case page, the demo store and the
report: :func:`measure_study` aligns the level map to the image, names the bodies of an
unnamed mask (:mod:`core.level_naming`), runs label QA (:mod:`core.level_qc`) and only
then measures (:func:`core.lesions.extract`). When QA finds an error nothing is
measured: :attr:`MeasuredStudy.result` is ``None`` and the report says why, so a caller
can still show the image, the map and the findings.
"""

from __future__ import annotations

from dataclasses import dataclass

import SimpleITK as sitk

from core.lesions import DetectionParams, ExtractionResult, extract
from core.level_naming import NamedLevels, name_plain_mask
from core.level_qc import LabelQCError, LabelQCReport, run_label_qc
from core.levels import align_mask, get_convention

_DEFAULT_PARAMS = DetectionParams()


@dataclass(frozen=True)
class Naming:
    """How to name the bodies of an unnamed mask (``binary`` / ``total_mr``); see
    :func:`core.level_naming.name_bodies`."""

    lowest: str | None = None
    highest: str | None = None
    names_from: sitk.Image | None = None
    names_convention: str = "sct"
    sacrum_label: int | None = None


@dataclass(frozen=True)
class MeasuredStudy:
    """A study after label QA and, when QA allows it, measurement.

    Attributes
    ----------
    qc : LabelQCReport
    vertebrae : sitk.Image
        The level map on the image grid (named, for an unnamed mask).
    convention : str
        The convention of ``vertebrae`` (``"verse"`` after naming).
    input_convention : str
        The convention the map was given in.
    result : ExtractionResult or None
        ``None`` when QA found an error.
    naming : NamedLevels or None
        How a plain mask was named.
    """

    qc: LabelQCReport
    vertebrae: sitk.Image
    convention: str
    input_convention: str
    result: ExtractionResult | None = None
    naming: NamedLevels | None = None

    @property
    def measured(self) -> bool:
        return self.result is not None

    def raise_for_errors(self) -> None:
        """Raise :class:`core.level_qc.LabelQCError` (a ``ValueError`` with the first
        error's sentence) when the measurement was refused."""
        if self.result is None:
            raise LabelQCError(self.qc)

    def payload(self) -> dict[str, object] | None:
        """The ``core extract`` JSON: :meth:`StudyMetrics.to_dict` plus ``label_qc``
        (QA findings, empty when clean); the provenance records the input convention and,
        for a named mask, ``level_naming``. ``None`` when not measured."""
        if self.result is None:
            return None
        data = self.result.metrics.to_dict()
        data["label_qc"] = self.qc.to_list()
        if self.naming is not None:
            data["provenance"]["convention"] = self.input_convention
            data["provenance"]["level_naming"] = self.naming.provenance()
        return data


def measure_study(
    image: sitk.Image,
    vertebrae: sitk.Image,
    lesions: sitk.Image | None = None,
    *,
    convention: str = "verse",
    naming: Naming | None = None,
    meta: object = None,
    sequence: str | None = None,
    params: DetectionParams = _DEFAULT_PARAMS,
    input_sha256: str | None = None,
) -> MeasuredStudy:
    """Name (if needed), check and measure one study.

    Parameters
    ----------
    image : sitk.Image
        The MRI (canonical from :func:`core.io.read_image`, or any 3-D scalar image).
    vertebrae : sitk.Image
        Level map in ``convention``, or a plain mask for ``binary`` / ``total_mr``.
    lesions : sitk.Image, optional
        Lesion mask (replaces detection).
    convention : str
        A key of :data:`core.levels.LABEL_CONVENTIONS`.
    naming : Naming, optional
        Required for an unnamed convention unless the mask carries a sacrum.
    meta : ImageMeta or mapping, optional
        The image's metadata (modality, sequence, source format) for label QA.
    sequence : str, optional
        The sequence as declared by the user (overrides ``meta``'s).
    params, input_sha256
        As :func:`core.lesions.extract`.

    Raises
    ------
    ValueError
        For input that cannot be read as a level map at all (unknown labels, no overlap,
        a plain mask that cannot be named); QA findings are not raised (see
        :meth:`MeasuredStudy.raise_for_errors`).
    """
    if not isinstance(image, sitk.Image) or image.GetDimension() != 3:
        raise ValueError("The image must be a 3-D SimpleITK image.")
    if not isinstance(vertebrae, sitk.Image):
        raise ValueError("The vertebrae label map must be a SimpleITK image.")
    entry = get_convention(convention)
    aligned = align_mask(vertebrae, image, name="vertebrae label map")
    named = None
    conv = convention
    if entry.needs_naming:
        how = naming or Naming()
        named = name_plain_mask(aligned, convention, lowest=how.lowest, highest=how.highest,
                                names_from=how.names_from,
                                names_convention=how.names_convention,
                                sacrum_label=how.sacrum_label)
        aligned, conv = named.vertebrae, named.convention
    qc = run_label_qc(image, aligned, convention=conv, meta=meta, sequence=sequence,
                      extra=named.findings if named else ())
    result = None
    if qc.ok:
        result = extract(image, aligned, lesions, convention=conv, params=params,
                         input_sha256=input_sha256)
    return MeasuredStudy(qc=qc, vertebrae=aligned, convention=conv,
                         input_convention=convention, result=result, naming=named)
