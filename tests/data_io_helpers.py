"""Builders of small synthetic inputs for tests/test_io.py (images, DICOM series, zips)."""

from __future__ import annotations

import io
import struct
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

#: Identifying values written into every synthetic DICOM header.
PHI: dict[str, str] = {
    "PatientName": "Doe^Jane",
    "PatientID": "MRN123456",
    "PatientBirthDate": "19700101",
    "PatientSex": "F",
    "PatientAge": "054Y",
    "PatientAddress": "12 Elm Street Springfield",
    "OtherPatientIDs": "OTHERID778899",
    "InstitutionName": "St Elsewhere Hospital",
    "InstitutionAddress": "1 Hospital Road Springfield",
    "ReferringPhysicianName": "Kildare^James",
    "PerformingPhysicianName": "Quincy^Robert",
    "OperatorsName": "Ratched^Mildred",
    "AccessionNumber": "ACC20240315",
    "StudyID": "STUDY4242",
    "StationName": "MRSCANNER01",
    "DeviceSerialNumber": "SN998877",
    "StudyDate": "20240315",
    "SeriesDate": "20240315",
    "AcquisitionDate": "20240315",
    "ContentDate": "20240315",
    "StudyTime": "101530",
}
#: Strings that must never appear in anything the reader returns or raises.
PHI_STRINGS: tuple[str, ...] = (
    "Doe", "Jane", "MRN123456", "19700101", "Elm Street", "OTHERID778899", "Elsewhere",
    "Hospital Road", "Kildare", "Quincy", "Ratched", "ACC20240315", "STUDY4242",
    "MRSCANNER01", "SN998877", "20240315", "101530", "054Y",
)
STUDY_UID = "1.2.840.113619.2.55.3.604688119.969.1710498930.100"
SERIES_UID = "1.2.840.113619.2.55.3.604688119.969.1710498930.101"
SERIES_UID_2 = "1.2.840.113619.2.55.3.604688119.969.1710498930.202"
FRAME_UID = "1.2.840.113619.2.55.3.604688119.969.1710498930.7"

#: Sagittal stack: rows run posterior (+y), columns run inferior (-z); normal = -x.
SAGITTAL_IOP: tuple[float, ...] = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
AXIAL_IOP: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def sop_uid(series_uid: str, index: int) -> str:
    return f"{series_uid}.{index + 1}"


def slice_values(n_slices: int, rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """Stored pixel values [k, r, c] (uint16) unique per voxel, seeded."""
    rng = np.random.default_rng(seed)
    values = rng.permutation(n_slices * rows * cols) + 10
    return values.reshape(n_slices, rows, cols).astype(np.uint16)


def dicom_slice(
    pixels: np.ndarray,
    *,
    position: Sequence[float],
    iop: Sequence[float] = SAGITTAL_IOP,
    pixel_spacing: Sequence[float] = (0.8, 0.9),
    series_uid: str = SERIES_UID,
    index: int = 0,
    description: str = "Doe T2 TSE SAG 20240315",
    protocol: str = "t2_tse_sag MRN123456",
    modality: str = "MR",
    slope: float = 2.0,
    intercept: float = -100.0,
    extra: dict[str, object] | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
) -> bytes:
    """One PHI-laden single-frame slice as file bytes."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid(series_uid, index)
    meta.TransferSyntaxUID = transfer_syntax
    ds = FileDataset("slice.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    for keyword, value in PHI.items():
        setattr(ds, keyword, value)
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = sop_uid(series_uid, index)
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = FRAME_UID
    ds.Modality = modality
    ds.SeriesNumber = 3 if series_uid == SERIES_UID else 4
    ds.InstanceNumber = index + 1
    ds.SeriesDescription = description
    ds.ProtocolName = protocol
    ds.ImageOrientationPatient = [f"{v:g}" for v in iop]
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.PixelSpacing = [f"{v:g}" for v in pixel_spacing]
    ds.SliceThickness = "3"
    ds.RescaleSlope = f"{slope:g}"
    ds.RescaleIntercept = f"{intercept:g}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.add_new(0x00291010, "OB", b"private Doe^Jane MRN123456")
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds["PixelData"].VR = "OB"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def slice_position(origin: Sequence[float], iop: Sequence[float], gap: float,
                   k: int) -> np.ndarray:
    normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
    return np.asarray(origin, float) + k * gap * normal


def dicom_series(
    n_slices: int = 5,
    rows: int = 6,
    cols: int = 7,
    *,
    gap: float = 3.0,
    origin: Sequence[float] = (40.0, -20.0, 60.0),
    iop: Sequence[float] = SAGITTAL_IOP,
    pixel_spacing: Sequence[float] = (0.8, 0.9),
    series_uid: str = SERIES_UID,
    seed: int = 0,
    **kwargs: object,
) -> list[tuple[str, bytes]]:
    """A series as (filename, bytes), slice k at origin + k * gap * normal."""
    values = slice_values(n_slices, rows, cols, seed)
    return [
        (
            f"IM{series_uid[-3:]}_{k:04d}.dcm",
            dicom_slice(values[k], position=slice_position(origin, iop, gap, k), iop=iop,
                        pixel_spacing=pixel_spacing, series_uid=series_uid, index=k,
                        **kwargs),
        )
        for k in range(n_slices)
    ]


def zip_bytes(files: Iterable[tuple[str, bytes]],
              compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in files:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buffer.getvalue()


def patch_central_sizes(data: bytes, uncompressed: int) -> bytes:
    """Rewrite every central-directory 'uncompressed size' field (a lying header)."""
    out = bytearray(data)
    start = 0
    while (pos := out.find(b"PK\x01\x02", start)) >= 0:
        out[pos + 24 : pos + 28] = struct.pack("<I", uncompressed)
        start = pos + 4
    return bytes(out)


def mark_encrypted(data: bytes) -> bytes:
    """Set the 'encrypted' flag of every member (local headers and central directory)."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (pos := out.find(signature, start)) >= 0:
            out[pos + offset] |= 0x1
            start = pos + 4
    return bytes(out)


def image_bytes(image: sitk.Image, suffix: str, *, compress: bool = False) -> bytes:
    """File content of ``image`` written by SimpleITK with the given extension."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"image{suffix}"
        sitk.WriteImage(image, str(path), useCompression=compress)
        return path.read_bytes()


def direction_from_columns(*columns: Sequence[float]) -> tuple[float, ...]:
    """Row-major sitk direction tuple whose columns are the given axis vectors."""
    return tuple(float(v) for v in np.column_stack(columns).ravel())


def phantom(shape_zyx: Sequence[int] = (6, 7, 8), seed: int = 0,
            dtype: type = np.float32) -> np.ndarray:
    """Seeded array of unique values, indexed [z, y, x]."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape_zyx))) + 1).reshape(shape_zyx).astype(dtype)


def make_image(array: np.ndarray, *, spacing: Sequence[float] = (1.0, 1.0, 1.0),
               origin: Sequence[float] = (0.0, 0.0, 0.0),
               direction: Sequence[float] | None = None) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(v) for v in spacing))
    image.SetOrigin(tuple(float(v) for v in origin))
    if direction is not None:
        image.SetDirection(tuple(float(v) for v in direction))
    return image


def read_dataset(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def _proc_status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{field} missing from /proc/self/status")


class PeakRss:
    """Peak resident-set increase of a block, in bytes (ITK and numpy buffers included).

    Resets the kernel's high-water mark (``/proc/self/clear_refs`` = 5) on entry and
    reads ``VmHWM`` on exit: ``with PeakRss() as peak: ...; peak.delta``.
    """

    def __enter__(self) -> PeakRss:
        Path("/proc/self/clear_refs").write_text("5")
        self.before = _proc_status("VmRSS")
        self.delta = 0
        return self

    def __exit__(self, *exc: object) -> None:
        self.delta = _proc_status("VmHWM") - self.before


def nifti1_header(shape_xyz: Sequence[int], *, datatype: int = 16, bitpix: int = 32,
                  pixdim: Sequence[float] = (1.0, 1.0, 1.0), vox_offset: float = 352.0,
                  n_dim: int | None = None) -> bytes:
    """A little-endian single-file NIfTI-1 header (352 bytes), LPS-ish identity qform off."""
    dims = list(shape_xyz) + [1] * (7 - len(shape_xyz))
    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, n_dim if n_dim is not None else len(shape_xyz),
                     *dims)
    struct.pack_into("<2h", header, 70, datatype, bitpix)
    struct.pack_into("<8f", header, 76, 1.0, *pixdim, 0.0, 0.0, 0.0, 0.0)
    struct.pack_into("<f", header, 108, vox_offset)
    struct.pack_into("<f", header, 112, 1.0)
    header[344:348] = b"n+1\x00"
    return bytes(header)


def relabel(labels: sitk.Image, mapping: dict[int, int]) -> sitk.Image:
    """A copy of label map ``labels`` with label values replaced (old -> new; 0 erases),
    all read from the original, so a swap works."""
    array = sitk.GetArrayFromImage(labels)
    out = array.copy()
    for old, new in mapping.items():
        out[array == old] = new
    image = sitk.GetImageFromArray(out)
    image.CopyInformation(labels)
    return image
