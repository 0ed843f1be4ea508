"""The public readers of :mod:`core.io`: resolve a source, decode it, validate, re-orient.

Each reader runs the same pipeline: :func:`core.io.sources.resolve` (bytes, path, list,
folder or zip into a format), a single-file reader of :mod:`core.io.formats` or
:func:`core.io.dicom.read_dicom`, then :func:`core.io.orient.canonical` and an empty
metadata dictionary.
"""

from __future__ import annotations

import SimpleITK as sitk

from core.io import limits
from core.io.formats import FORMAT_LABEL, read_mhd, read_single
from core.io.hints import basename, modality_hint, sequence_hint
from core.io.orient import Volume, canonical, clear_metadata
from core.io.results import DicomSeriesInfo, ImageMeta, LoadedImage, RawImage
from core.io.sources import Source, resolve
from core.levels import align_mask


def read_image(
    source: Source,
    filename: str | None = None,
    *,
    series_uid: str | None = None,
    max_bytes: int = limits.DEFAULT_MAX_BYTES,
) -> LoadedImage:
    """Read an image, validate it and return it as float32 in canonical LPS orientation.

    Parameters
    ----------
    source : bytes, str, Path or list of (str, bytes)
        File content, a path (file or DICOM folder), or DICOM slices as
        ``(filename, bytes)`` pairs.
    filename : str, optional
        Name telling the format of ``bytes`` (required for bytes without a DICOM or zip
        signature); for a path it overrides the path's own name. Never used as a path.
    series_uid : str, optional
        Pseudonymised (or original) SeriesInstanceUID to read when a DICOM source holds
        several series.
    max_bytes : int
        Largest accepted input size in bytes.

    Returns
    -------
    LoadedImage
        ``image``: 3-D ``sitk.sitkFloat32``, direction = identity for axis-aligned input,
        empty metadata dictionary; ``meta``: :class:`ImageMeta`.

    Raises
    ------
    ValueError
        One plain sentence naming the problem (see the :mod:`core.io` docstring).
    """
    raw = _read_raw(source, filename, series_uid=series_uid, max_bytes=max_bytes,
                    what="image", label_map=False)
    image, orientation = raw.image, raw.orientation
    assert image is not None
    clear_metadata(image)
    meta = ImageMeta(
        spacing_mm=tuple(float(v) for v in image.GetSpacing()),
        size=tuple(int(v) for v in image.GetSize()),
        orientation=orientation,
        modality=raw.modality,
        sequence=raw.sequence,
        source_format=raw.source_format,
        input_sha256=raw.sha256,
        series_description=raw.description,
    )
    return LoadedImage(image=image, meta=meta)


def list_dicom_series(source: Source, filename: str | None = None, *,
                      max_bytes: int = limits.DEFAULT_MAX_BYTES) -> list[DicomSeriesInfo]:
    """List the DICOM series of a zip, folder or list of slices (pixels not decoded).

    Parameters
    ----------
    source : bytes, str, Path or list of (str, bytes)
        As for :func:`read_image`.
    filename : str, optional
        File name of ``bytes`` (e.g. ``"study.zip"``).
    max_bytes : int
        Largest accepted input size in bytes.

    Returns
    -------
    list of DicomSeriesInfo
        Ordered by SeriesNumber, then pseudonymised UID.

    Raises
    ------
    ValueError
        When the source is not DICOM or holds no DICOM images.
    """
    resolved = resolve(source, filename, max_bytes=max_bytes, what="image")
    if resolved.fmt != "dicom":
        raise ValueError(
            f"Only DICOM sources hold series; this is a {FORMAT_LABEL[resolved.fmt]} file."
        )
    assert resolved.dicom_files is not None
    from core.io.deid import quiet_pydicom
    from core.io.dicom import series_infos

    with quiet_pydicom():
        return series_infos(resolved.dicom_files, resolved.name)


def read_label_map(
    source: Source,
    filename: str | None = None,
    *,
    reference: sitk.Image | None = None,
    series_uid: str | None = None,
    max_bytes: int = limits.DEFAULT_MAX_BYTES,
) -> sitk.Image:
    """Read an integer label map (masks, vertebra labels) in canonical LPS orientation.

    Float label maps whose values are all whole numbers (e.g. SCT's float64 labelled
    masks) are converted; fractional values are an error. The pixel type is
    ``sitkUInt16`` (``sitkUInt32`` when a label exceeds 65535). An all-zero map is a
    valid empty mask.

    Parameters
    ----------
    source, filename, series_uid, max_bytes
        As for :func:`read_image`.
    reference : sitk.Image, optional
        Image the labels belong to. When its grid differs, the map is resampled onto it
        with nearest-neighbour interpolation by :func:`core.levels.align_mask` (labels
        outside become 0); no physical overlap is a ``ValueError``.

    Returns
    -------
    sitk.Image
        Unsigned-integer label map with an empty metadata dictionary.
    """
    raw = _read_raw(source, filename, series_uid=series_uid, max_bytes=max_bytes,
                    what="label map", label_map=True)
    labels, raw.image = raw.image, None
    assert labels is not None
    clear_metadata(labels)
    if reference is not None:
        labels = align_mask(labels, reference, name="label map")
        clear_metadata(labels)
    return labels


def _read_raw(source: Source, filename: str | None, *, series_uid: str | None,
              max_bytes: int, what: str, label_map: bool) -> RawImage:
    """Resolve a source, decode it (one file, a .mhd pair or one DICOM series) and make
    it canonical (:func:`core.io.orient.canonical`): ``image`` is the LPS output."""
    resolved = resolve(source, filename, max_bytes=max_bytes, what=what)

    def convert(decoded: sitk.Image | Volume) -> tuple[sitk.Image, str]:
        return canonical(decoded, what=what, label_map=label_map)

    if resolved.fmt == "dicom":
        assert resolved.dicom_files is not None
        # pydicom is imported when a DICOM series is read, not with core.io
        from core.io.deid import quiet_pydicom
        from core.io.dicom import read_dicom

        with quiet_pydicom():
            raw = read_dicom(resolved.dicom_files, resolved.name, series_uid=series_uid,
                             what=what)
        # the decoded stack is released as the output replaces it
        raw.image, raw.orientation = convert(raw.image)
        return raw
    if series_uid is not None:
        raise ValueError("series_uid applies to DICOM sources only.")
    if resolved.fmt == "mhd":
        assert resolved.path is not None
        decoded, digest = read_mhd(resolved.path, max_bytes=max_bytes, what=what,
                                   label_map=label_map)
        (image, orientation), decoded = convert(decoded), None
    else:
        blob = resolved.path if resolved.path is not None else resolved.data
        assert blob is not None
        (image, orientation), digest = read_single(blob, resolved.fmt, what=what,
                                                   label_map=label_map, convert=convert)
    sequence = sequence_hint(basename(resolved.name))
    return RawImage(image=image, source_format=resolved.fmt, sha256=digest,
                    modality=modality_hint(basename(resolved.name), sequence),
                    sequence=sequence, description="", orientation=orientation)
