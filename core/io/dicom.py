"""DICOM series: parsing slices, grouping them into series, stacking one into a volume.

Slices are decoded in memory with pydicom (never written to disk) and replaced at once
by their de-identified copy (:func:`core.io.deid.deidentify`); only the original bytes
are kept, for the input hash (the series' slice files sorted by their bytes and
concatenated). Files that are not DICOM, and DICOM files without pixel data, are
skipped; old files without the 128-byte preamble are accepted only if they are images.

:func:`series_infos` lists the series (pixels not decoded); :func:`read_dicom` selects one
(by pseudonymised or original SeriesInstanceUID; required when there are several) and
stacks it: slices sorted along the normal of ImageOrientationPatient, one matrix size,
orientation and pixel spacing, orthonormal orientation, one slice per position, even gaps
(within ``SLICE_GAP_TOLERANCE``), no tilt, greyscale single-frame slices, uncompressed or
decodable pixel data, 8/16/32 bits allocated, MONOCHROME1/2, PixelSpacing and slice gap
within the accepted range (checked before ITK sees them), finite RescaleSlope/Intercept
(applied). Series that declare burned-in annotation are refused. The memory budget
(rows x columns x slices, plus the files held) is checked before anything is stacked.
Modality and sequence hints come from the controlled description (coded attributes,
:mod:`core.io.deid`), then the file name.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from core.io import budget, limits
from core.io.deid import deidentify, str_values
from core.io.hints import basename, sequence_hint
from core.io.results import DicomSeriesInfo, RawImage
from core.io.uids import pseudonymise_uid
from core.vocab import finite_float


@dataclass
class _Slice:
    """One parsed image slice: its de-identified dataset and original bytes."""

    ds: Dataset  # de-identified
    raw: bytes  # original bytes, only hashed
    series: str  # pseudonymised SeriesInstanceUID


def _read_without_preamble(raw: bytes) -> Dataset | None:
    """Old DICOM files lack the 128-byte preamble; accept them only if they are images."""
    try:
        ds = pydicom.dcmread(io.BytesIO(raw), force=True)
        if all(k in ds for k in ("SOPClassUID", "Rows", "Columns", "PixelData")):
            return ds
    except Exception:
        pass
    return None


def _parse_dicom(files: list[bytes], *, what: str) -> list[_Slice]:
    """Parse and de-identify DICOM files; non-DICOM files and non-images are skipped.

    Call inside :func:`core.io.deid.quiet_pydicom`.
    """
    slices: list[_Slice] = []
    n_dicom = 0
    for raw in files:
        try:
            ds = pydicom.dcmread(io.BytesIO(raw))
        except InvalidDicomError:
            ds = _read_without_preamble(raw)
            if ds is None:
                continue
        except Exception:
            raise ValueError(f"A DICOM file of the {what} is corrupt.") from None
        n_dicom += 1
        try:
            if "PixelData" not in ds:
                continue
            clean = deidentify(ds)
        except Exception:
            raise ValueError(f"A DICOM file of the {what} is corrupt.") from None
        del ds
        slices.append(_Slice(ds=clean, raw=raw,
                             series=str(clean.get("SeriesInstanceUID", "")) or "unknown"))
    if not slices:
        if n_dicom:
            raise ValueError(f"The DICOM files of the {what} hold no images.")
        raise ValueError(f"The {what} source holds no DICOM files.")
    return slices


def _group_series(slices: list[_Slice]) -> dict[str, list[_Slice]]:
    groups: dict[str, list[_Slice]] = {}
    for item in slices:
        groups.setdefault(item.series, []).append(item)
    return groups


def _int_or(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _float_or(value: object) -> float | None:
    """A DICOM DS/IS value (a float or int subclass, or its text) as a finite float."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    return finite_float(value)


def _dicom_description(ds: Dataset) -> str:
    """The controlled description set by :func:`core.io.deid.deidentify` (no free text)."""
    return str(ds.get("SeriesDescription", "") or "")


def _dicom_modality(ds: Dataset) -> str:
    modality = str(ds.get("Modality", "")).upper()
    return modality if modality in ("MR", "CT") else "unknown"


def _dicom_sequence(ds: Dataset, name: str) -> str:
    """Sequence hint of a clean slice: its controlled description, else the file name.

    The controlled description already holds the family found from the original
    descriptors and the MR timing (:func:`core.io.deid.sequence_family`).
    """
    hint = sequence_hint(_dicom_description(ds))
    if hint != "unknown" or _dicom_modality(ds) != "MR":
        return hint
    return sequence_hint(basename(name))


def series_infos(files: list[bytes], name: str) -> list[DicomSeriesInfo]:
    """The series of DICOM files (``name``: the source's name, for the sequence hint).

    Ordered by SeriesNumber, then pseudonymised UID. Call inside
    :func:`core.io.deid.quiet_pydicom`.
    """
    groups = _group_series(_parse_dicom(files, what="image"))
    infos = []
    for uid, slices in groups.items():
        first = slices[0].ds
        infos.append(
            (
                _int_or(first.get("SeriesNumber"), 0),
                DicomSeriesInfo(
                    series_uid=uid,
                    description=_dicom_description(first),
                    modality=_dicom_modality(first),
                    sequence=_dicom_sequence(first, name),
                    n_slices=len(slices),
                    size=(_int_or(first.get("Columns"), 0), _int_or(first.get("Rows"), 0),
                          len(slices)),
                ),
            )
        )
    infos.sort(key=lambda item: (item[0], item[1].series_uid))
    return [info for _, info in infos]


def _select_series(groups: dict[str, list[_Slice]], series_uid: str | None,
                   what: str) -> tuple[str, list[_Slice]]:
    if series_uid is None:
        if len(groups) > 1:
            raise ValueError(
                f"The DICOM {what} holds {len(groups)} series; choose one by its series UID "
                "(see list_dicom_series)."
            )
        return next(iter(groups.items()))
    wanted = series_uid.strip()
    for candidate in (wanted, pseudonymise_uid(wanted)):
        if candidate in groups:
            return candidate, groups[candidate]
    raise ValueError(
        f"No DICOM series has the given series UID; the {what} holds {len(groups)} series."
    )


def read_dicom(files: list[bytes], name: str, *, series_uid: str | None,
               what: str) -> RawImage:
    """Parse, de-identify and stack one series of DICOM files into a volume.

    ``name`` is the source's name (sequence hint only). Call inside
    :func:`core.io.deid.quiet_pydicom`.
    """
    groups = _group_series(_parse_dicom(files, what=what))
    _, slices = _select_series(groups, series_uid, what)
    image = _stack_series(slices, what=what, held_bytes=sum(len(raw) for raw in files))
    digest = hashlib.sha256()
    for raw in sorted(item.raw for item in slices):
        digest.update(raw)
    first = slices[0].ds
    return RawImage(image=image, source_format="dicom", sha256=digest.hexdigest(),
                    modality=_dicom_modality(first), sequence=_dicom_sequence(first, name),
                    description=_dicom_description(first))


def _dicom_floats(ds: Dataset, keyword: str, count: int, what: str) -> np.ndarray:
    value = ds.get(keyword)
    if value is None:
        raise ValueError(
            f"A DICOM slice of the {what} has no {keyword}, so its geometry is unknown."
        )
    try:
        numbers = np.array([float(v) for v in str_values(value)], dtype=float)
    except ValueError:
        numbers = np.array([])
    if numbers.shape != (count,) or not np.all(np.isfinite(numbers)):
        raise ValueError(f"A DICOM slice of the {what} has an invalid {keyword}.")
    return numbers


def _slice_pixels(ds: Dataset, what: str) -> np.ndarray:
    syntax = ds.file_meta.TransferSyntaxUID
    try:
        pixels = ds.pixel_array
    except Exception:
        if not syntax.is_transfer_syntax:
            raise ValueError(
                f"The {what} DICOM pixel data uses an unknown transfer syntax."
            ) from None
        if syntax.is_compressed:
            raise ValueError(
                f"The {what} DICOM pixel data uses the compressed transfer syntax "
                f"'{syntax.name}', which cannot be decoded here."
            ) from None
        raise ValueError(f"The {what} DICOM pixel data is corrupt or truncated.") from None
    rows, cols = _int_or(ds.get("Rows"), -1), _int_or(ds.get("Columns"), -1)
    if pixels.shape != (rows, cols):
        raise ValueError(f"A DICOM slice of the {what} does not hold one {rows}x{cols} frame.")
    slope = _rescale(ds, "RescaleSlope", what)
    intercept = _rescale(ds, "RescaleIntercept", what)
    values = pixels.astype(np.float64)
    if slope is not None and slope != 1.0:
        values *= slope
    if intercept is not None and intercept != 0.0:
        values += intercept
    return values


def _rescale(ds: Dataset, keyword: str, what: str) -> float | None:
    """RescaleSlope/Intercept: absent is ``None``; present but not a finite number refused."""
    value = ds.get(keyword)
    if value is None or str(value).strip() == "":
        return None
    number = _float_or(value)
    if number is None:
        raise ValueError(f"A DICOM slice of the {what} has an invalid {keyword}.")
    return number


#: Photometric interpretations whose stored values are grey levels.
_GREYSCALE = ("MONOCHROME1", "MONOCHROME2")


def _check_slice_format(ds: Dataset, what: str) -> None:
    """Single-frame greyscale slices with a decodable pixel layout, no burned-in text."""
    if _int_or(ds.get("NumberOfFrames"), 1) > 1:
        raise ValueError(
            "Multi-frame (enhanced) DICOM is not supported; export the series as "
            "single-frame slices."
        )
    if (_int_or(ds.get("SamplesPerPixel"), 1) != 1
            or str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
            not in _GREYSCALE):
        raise ValueError(f"The {what} DICOM series is not greyscale.")
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        raise ValueError(
            f"The {what} DICOM series declares burned-in annotation, which may show "
            "patient data, so it is refused."
        )
    bits = _int_or(ds.get("BitsAllocated"), -1)
    if bits not in (8, 16, 32):
        raise ValueError(
            f"The {what} DICOM series has {bits} bits allocated per pixel; 8, 16 or 32 "
            "are supported."
        )
    if not 0 < _int_or(ds.get("Rows"), -1) <= 65535 or not 0 < _int_or(
            ds.get("Columns"), -1) <= 65535:
        raise ValueError(f"A DICOM slice of the {what} has an invalid matrix size.")


def _check_spacing(values: Iterable[float], what: str) -> None:
    """DICOM spacings (PixelSpacing, slice gap) within the accepted range, before ITK."""
    for value in values:
        if not limits.MIN_SPACING_MM <= float(value) <= limits.MAX_SPACING_MM:
            raise limits.spacing_error(float(value), what)


def _stack_series(slices: list[_Slice], *, what: str, held_bytes: int) -> sitk.Image:
    """Build the volume of one series: sort along the normal, check geometry, rescale.

    ``held_bytes``: the DICOM files held in memory, for the memory budget, which is
    checked (rows x columns x slices) before anything is stacked.
    """
    datasets = [item.ds for item in slices]
    for ds in datasets:
        _check_slice_format(ds, what)
    if len(datasets) < 2:
        raise ValueError(
            f"The {what} DICOM series has a single slice; a 3-D volume needs at least two."
        )
    orientations = [_dicom_floats(ds, "ImageOrientationPatient", 6, what) for ds in datasets]
    spacings = [_dicom_floats(ds, "PixelSpacing", 2, what) for ds in datasets]
    positions = np.array([_dicom_floats(ds, "ImagePositionPatient", 3, what)
                          for ds in datasets])
    matrices = {(_int_or(ds.get("Rows"), -1), _int_or(ds.get("Columns"), -1))
                for ds in datasets}
    if len(matrices) > 1:
        raise ValueError(f"The {what} DICOM series mixes slices of different matrix sizes.")
    if not all(np.allclose(o, orientations[0], atol=1e-4) for o in orientations):
        raise ValueError(f"The {what} DICOM series mixes slices of different orientations.")
    if not all(np.allclose(s, spacings[0], rtol=1e-4, atol=1e-6) for s in spacings):
        raise ValueError(f"The {what} DICOM series mixes slices of different pixel spacings.")
    _check_spacing(spacings[0], what)
    row_dir, col_dir = orientations[0][:3], orientations[0][3:]
    if (abs(np.linalg.norm(row_dir) - 1) > 1e-3 or abs(np.linalg.norm(col_dir) - 1) > 1e-3
            or abs(float(row_dir @ col_dir)) > 1e-3):
        raise ValueError(f"The {what} DICOM ImageOrientationPatient is not orthonormal.")
    row_dir = row_dir / np.linalg.norm(row_dir)
    col_dir = col_dir / np.linalg.norm(col_dir)
    normal = np.cross(row_dir, col_dir)
    normal /= np.linalg.norm(normal)
    order = np.argsort(positions @ normal, kind="stable")
    positions = positions[order]
    along = positions @ normal
    gaps = np.diff(along)
    spacing_xy = spacings[0]
    if np.any(gaps < 1e-3):
        raise ValueError(
            f"The {what} DICOM series has several slices at the same position (several "
            "echoes or time points?); choose a series with one slice per position."
        )
    mean_gap = float(along[-1] - along[0]) / (len(along) - 1)
    _check_spacing([mean_gap], what)
    if np.any(np.abs(gaps - mean_gap) > limits.SLICE_GAP_TOLERANCE * mean_gap):
        raise ValueError(
            f"The {what} DICOM series has uneven slice gaps ({gaps.min():.3g} to "
            f"{gaps.max():.3g} mm); missing slices or a mixed series?"
        )
    offsets = positions - positions[0]
    in_plane = offsets - np.outer(offsets @ normal, normal)
    if np.max(np.linalg.norm(in_plane, axis=1)) > 0.05 * float(np.min(spacing_xy)) + 1e-3:
        raise ValueError(
            f"The {what} DICOM slices are not stacked along their normal (tilted gantry "
            "or mixed stacks)."
        )
    rows, cols = next(iter(matrices))
    budget.check_budget(budget.dicom_working_bytes(rows * cols * len(datasets), held_bytes),
                        what)
    volume = np.empty((len(datasets), rows, cols), dtype=np.float32)
    for k, index in enumerate(order):
        volume[k] = _slice_pixels(datasets[index], what)
    image = sitk.GetImageFromArray(volume)
    del volume
    image.SetSpacing((float(spacing_xy[1]), float(spacing_xy[0]), mean_gap))
    image.SetOrigin(tuple(float(v) for v in positions[0]))
    image.SetDirection(tuple(float(v) for v in np.column_stack([row_dir, col_dir, normal])
                             .ravel()))
    return image
