"""Result types of :mod:`core.io`: what a read returns, with no patient data."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import SimpleITK as sitk


@dataclass(frozen=True)
class ImageMeta:
    """What was read, without any patient data.

    Attributes
    ----------
    spacing_mm : tuple of float
        Voxel spacing (x, y, z) of the returned canonical (LPS) image, mm.
    size : tuple of int
        Voxel counts (x, y, z) of the returned canonical image.
    orientation : str
        Orientation code of the *input* before re-orientation (``"PSR"``, ``"RAS"``,
        ``"LPS"`` ...), as ``sitk.DICOMOrientImageFilter`` names it.
    modality : str
        ``"MR"``, ``"CT"`` or ``"unknown"`` (DICOM Modality; for other formats a hint
        from the file name: a known MR sequence means ``"MR"``, a ``ct`` token ``"CT"``).
    sequence : str
        ``"T1"``, ``"T2"``, ``"STIR"``, ``"T1-FS"``, ``"T2-FS"`` or ``"unknown"``.
    source_format : str
        ``"nifti"``, ``"nrrd"``, ``"mha"``, ``"mhd"`` or ``"dicom"``.
    input_sha256 : str
        SHA-256 of the raw input bytes (``.mhd``: header then data file; DICOM: the
        series' slice files sorted by their bytes and concatenated).
    series_description : str
        Controlled DICOM series description built from coded attributes only (sequence
        family, plane, ``post-contrast``; e.g. ``"STIR sagittal"``), never the typed
        SeriesDescription; ``""`` for other formats or when nothing is known.
    """

    spacing_mm: tuple[float, float, float]
    size: tuple[int, int, int]
    orientation: str
    modality: str
    sequence: str
    source_format: str
    input_sha256: str
    series_description: str

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable dict (tuples become lists)."""
        out = asdict(self)
        out["spacing_mm"] = [float(v) for v in self.spacing_mm]
        out["size"] = [int(v) for v in self.size]
        return out


@dataclass(frozen=True)
class LoadedImage:
    """A validated float32 image in canonical LPS orientation and its metadata."""

    image: sitk.Image
    meta: ImageMeta


@dataclass(frozen=True)
class DicomSeriesInfo:
    """One DICOM series found in a zip, folder or list of slices (no patient data).

    Attributes
    ----------
    series_uid : str
        Pseudonymised SeriesInstanceUID; pass it as ``series_uid`` to :func:`read_image`.
    description : str
        Controlled description from coded attributes (as ``ImageMeta.series_description``).
    modality : str
        ``"MR"``, ``"CT"`` or ``"unknown"``.
    sequence : str
        Sequence hint, as in :class:`ImageMeta`.
    n_slices : int
        Number of image files in the series.
    size : tuple of int
        (columns, rows, slices) of the series before re-orientation.
    """

    series_uid: str
    description: str
    modality: str
    sequence: str
    n_slices: int
    size: tuple[int, int, int]

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable dict."""
        out = asdict(self)
        out["size"] = [int(v) for v in self.size]
        return out


@dataclass
class RawImage:
    """A decoded image before validation and re-orientation, with what was learnt on the way.

    Internal to :mod:`core.io` (returned by the single-file and DICOM readers).
    """

    image: sitk.Image | None  # the decoded image, then its canonical output
    source_format: str
    sha256: str
    modality: str
    sequence: str
    description: str
    orientation: str = ""  # orientation code of the input, once converted
