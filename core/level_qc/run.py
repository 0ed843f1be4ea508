"""Run every label-QA check on an image and its vertebra level map."""

from __future__ import annotations

from collections.abc import Iterable

import SimpleITK as sitk

from core.level_qc.checks import check_level_map
from core.level_qc.findings import LabelQCReport, QCFinding, sort_findings
from core.level_qc.geometry import Grid, background_mask, level_geometry
from core.level_qc.image_checks import check_modality, check_sequence
from core.levels import align_mask, get_convention, present_levels


def run_label_qc(
    image: sitk.Image,
    vertebrae: sitk.Image,
    *,
    convention: str,
    meta: object = None,
    sequence: str | None = None,
    extra: Iterable[QCFinding] = (),
) -> LabelQCReport:
    """Label QA of ``vertebrae`` (a named level map) on ``image``.

    Parameters
    ----------
    image : sitk.Image
        3-D scalar image, any orientation and spacing.
    vertebrae : sitk.Image
        Level map in ``convention`` (resampled onto the image grid when it differs).
    convention : str
        A named convention of :data:`core.levels.LABEL_CONVENTIONS` (name the bodies of
        an unnamed mask first: :mod:`core.level_naming`).
    meta : ImageMeta or mapping, optional
        Read from it: ``modality``, ``source_format``, ``sequence``.
    sequence : str, optional
        The sequence as declared by the user (``STIR``, ``T2-FS``, ``T2``, ``T1`` ...);
        overrides ``meta``'s.
    extra : iterable of QCFinding
        Findings of earlier steps (e.g. naming) to report with these.

    Returns
    -------
    LabelQCReport
        Errors first; ``volumes_ml`` per level name.

    Raises
    ------
    ValueError
        For labels that are not vertebrae of ``convention``, non-integer labels, or a
        map that does not overlap the image (the same refusals as measurement).
    """
    if not isinstance(image, sitk.Image) or image.GetDimension() != 3:
        raise ValueError("Label QA needs a 3-D SimpleITK image.")
    entry = get_convention(convention)
    aligned = align_mask(vertebrae, image, name="vertebrae label map")
    labels, boxes, levels = present_levels(aligned, convention)
    pixels = sitk.GetArrayViewFromImage(image)
    grid = Grid.of(image)
    background = background_mask(pixels)
    geometry = [level_geometry(labels, boxes[label - 1], level, grid, background)
                for label, level in levels.items()]
    findings = [*check_modality(pixels, meta), *check_sequence(meta, sequence),
                *check_level_map(geometry, entry), *extra]
    return LabelQCReport(findings=sort_findings(findings),
                         volumes_ml={g.level.name: g.volume_ml for g in geometry})
