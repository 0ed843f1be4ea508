"""DICOM de-identification (DICOM PS3.15 Annex E basic profile, applied on ingest).

Each parsed slice is replaced at once by a new dataset (:func:`deidentify`) that keeps
only a white list of pixel, geometry and acquisition attributes (``_KEEP_KEYWORDS``).
Everything else is dropped: patient name, IDs, birth date, sex, age, addresses,
institution, physicians, operators, station, accession number, study ID, all dates and
times, private tags, overlays, sequences. Patient name and ID are set empty,
``PatientIdentityRemoved`` is ``YES``. Study, series, instance and frame-of-reference
UIDs are replaced by deterministic pseudonyms ``"2.25." + int(sha256(salt + uid)[:16
bytes])`` (:func:`core.io.uids.pseudonymise_uid`); the salt is ``SPINEPAIN_UID_SALT`` from the
environment (set a site secret) or a fixed default.

Free text is not kept. SeriesDescription, ProtocolName and every other attribute a
person types (comments, contrast agent names, RescaleType, ...) are dropped. In their
place the clean slice gets a *controlled* SeriesDescription built only from coded
attributes and closed vocabularies (:func:`controlled_description`):

* the sequence family (``T1``, ``T2``, ``STIR``, ``T1-FS``, ``T2-FS``): the existing
  hints of :mod:`core.io.hints` matched on the original descriptors and ScanOptions,
  else from RepetitionTime/EchoTime/InversionTime and ScanningSequence; ``CT`` for CT;
* the plane (``sagittal``, ``coronal``, ``axial``) from ImageOrientationPatient;
* ``post-contrast`` when ContrastBolusAgent is present (its text is never read further).

For example ``"STIR sag Jane Doe"`` becomes ``"STIR sagittal"``: the descriptors are
only *matched* against the vocabularies, so a name that appears in no identifying tag
cannot survive into ImageMeta, series lists, the store, reports, logs or errors.
:func:`clean_descriptor` (the Clean Descriptors option: identifying values, long digit
runs and dates removed) is kept for callers that must show a cleaned text, but ingest
no longer uses it.

Fail closed: when any identifying attribute cannot be read as text (reading it raises,
e.g. an unknown VR, or its VR is not a string VR, e.g. a name stored as numbers), the
slice is treated as untrustworthy and gets no description at all (its series then has
an empty description and a sequence hint from timing or the file name only). The pixels
and geometry are kept, so a clinician can still read a valid series; refusing the file
instead would block reading for no privacy gain, since nothing else of the slice is
kept.

Series that declare burned-in annotation are refused (in :mod:`core.io.dicom`). Only
the original bytes are kept, for the input hash. pydicom's value validation (whose
warnings quote header values) is set to ``IGNORE`` on import, which is thread-safe;
other warnings are suppressed while DICOM is handled (:func:`quiet_pydicom`), and a
filter installed on import drops every record of the ``pydicom`` logger.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterable, Iterator

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import STR_VR

from core.io.hints import controlled_description as hints_description
from core.io.hints import plane_from_orientation, sequence_from_timing, sequence_hint
from core.io.uids import pseudonymise_uid
from core.vocab import finite_float

#: Attributes kept from each slice; everything else is dropped on ingest.
_KEEP_KEYWORDS: tuple[str, ...] = (
    "SOPClassUID", "ImageType", "Modality", "SeriesNumber", "InstanceNumber",
    "AcquisitionNumber", "EchoNumbers", "ScanningSequence", "SequenceVariant", "ScanOptions",
    "MRAcquisitionType", "RepetitionTime", "EchoTime", "InversionTime", "FlipAngle",
    "MagneticFieldStrength", "SliceThickness", "SpacingBetweenSlices", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "SamplesPerPixel", "PhotometricInterpretation",
    "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    "PlanarConfiguration", "NumberOfFrames", "RescaleSlope", "RescaleIntercept",
    "BurnedInAnnotation", "LossyImageCompression", "PixelData",
)
_UID_KEYWORDS: tuple[str, ...] = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
)
#: Free-text descriptors that are only matched for sequence hints, never kept.
_DESCRIPTOR_KEYWORDS: tuple[str, ...] = ("SeriesDescription", "ProtocolName")
#: Identifying attributes whose values are scrubbed from the kept descriptions.
_IDENTIFYING_KEYWORDS: tuple[str, ...] = (
    "PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "PatientBirthName",
    "PatientMotherBirthName", "PatientBirthDate", "PatientAddress", "PatientTelephoneNumbers",
    "IssuerOfPatientID", "InstitutionName", "InstitutionAddress",
    "InstitutionalDepartmentName", "ReferringPhysicianName", "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy", "PhysiciansOfRecord", "RequestingPhysician",
    "OperatorsName", "AccessionNumber", "StudyID", "StationName", "DeviceSerialNumber",
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate",
)
_DEID_METHOD = "PS3.15 E basic profile, descriptors replaced by coded values, UIDs remapped"


def str_values(value: object) -> Iterable[str]:
    """A DICOM value as a list of strings (one per value of a multi-valued element)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return [str(v) for v in value]
    return [str(value)]


def identifying_terms(ds: Dataset) -> list[str] | None:
    """Values of the identifying attributes and their parts, longest first.

    ``None`` when one of them cannot be read as text (reading it raises, or its VR is not
    a string VR, e.g. a name stored as numbers): its text is then unknown and cannot be
    scrubbed, so the caller must drop the descriptors (fail closed).
    """
    terms: set[str] = set()
    for keyword in _IDENTIFYING_KEYWORDS:
        try:
            if keyword not in ds:
                continue
            elem = ds[keyword]
            if elem.VR not in STR_VR:
                return None
            values = list(str_values(elem.value))
        except Exception:
            return None
        for value in values:
            value = value.strip()
            if value:
                terms.add(value)
            for part in re.split(r"[\^=\s,]+", value):
                if len(part) >= 2:
                    terms.add(part)
    return sorted(terms, key=len, reverse=True)


def clean_descriptor(text: str, terms: list[str]) -> str:
    """Clean Descriptors option: drop identifying values, IDs, dates and odd characters."""
    for term in terms:
        if len(term) >= 3:
            text = re.sub(re.escape(term), " ", text, flags=re.IGNORECASE)
        else:
            text = re.sub(r"(?<![A-Za-z0-9])" + re.escape(term) + r"(?![A-Za-z0-9])", " ",
                          text, flags=re.IGNORECASE)
    text = re.sub(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}", " ", text)
    text = re.sub(r"\d{5,}", " ", text)
    text = re.sub(r"[^A-Za-z0-9 _+\-*/().,:#]", " ", text)
    return " ".join(text.split())[:64]


def _text(ds: Dataset, keyword: str) -> str:
    """An attribute as text, ``""`` when absent or unreadable (only matched, never kept)."""
    try:
        return " ".join(str_values(ds.get(keyword)))
    except Exception:
        return ""


def _number(ds: Dataset, keyword: str) -> float | None:
    try:
        value = ds.get(keyword)
        return finite_float(float(str(value))) if value is not None else None
    except Exception:
        return None


def sequence_family(ds: Dataset) -> str:
    """Sequence family of an original slice: hints on its descriptors, then MR timing."""
    text = " ".join(_text(ds, k) for k in (*_DESCRIPTOR_KEYWORDS, "ScanOptions"))
    hint = sequence_hint(text)
    if hint != "unknown" or _text(ds, "Modality").upper() != "MR":
        return hint
    inversion = "IR" in _text(ds, "ScanningSequence").upper().split()
    return sequence_from_timing(_number(ds, "RepetitionTime"), _number(ds, "EchoTime"),
                                _number(ds, "InversionTime"), inversion=inversion)


def controlled_description(ds: Dataset) -> str:
    """The description of an original slice from coded attributes only (module docstring)."""
    try:
        iop = [float(v) for v in str_values(ds.get("ImageOrientationPatient"))]
    except Exception:
        iop = None
    modality = _text(ds, "Modality").strip().upper()
    contrast = bool(_text(ds, "ContrastBolusAgent").strip())
    return hints_description(sequence_family(ds), plane_from_orientation(iop),
                             modality=modality, contrast=contrast)


def deidentify(ds: Dataset) -> Dataset:
    """New dataset with only the white-listed attributes, pseudonymous UIDs, no PHI.

    SeriesDescription is replaced by :func:`controlled_description`, or left out when
    :func:`identifying_terms` cannot read every identifying attribute (see the module
    docstring); ProtocolName and every other free text are dropped.
    """
    terms = identifying_terms(ds)
    clean = Dataset()
    for keyword in _KEEP_KEYWORDS:
        if keyword in ds:
            elem = ds[keyword]
            clean[elem.tag] = elem
    for keyword in _UID_KEYWORDS:
        value = ds.get(keyword)
        if value:
            setattr(clean, keyword, pseudonymise_uid(str(value)))
    if terms is not None:  # None: an identifying value is unreadable: no description
        description = controlled_description(ds)
        if description:
            clean.SeriesDescription = description
    clean.PatientName = ""
    clean.PatientID = ""
    clean.PatientIdentityRemoved = "YES"
    clean.DeidentificationMethod = _DEID_METHOD
    meta = FileMetaDataset()
    file_meta = getattr(ds, "file_meta", None)
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if syntax is None:
        implicit = getattr(ds, "original_encoding", (True, True))[0]
        syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    meta.TransferSyntaxUID = UID(str(syntax))
    if "SOPClassUID" in clean:
        meta.MediaStorageSOPClassUID = clean.SOPClassUID
    if "SOPInstanceUID" in clean:
        meta.MediaStorageSOPInstanceUID = clean.SOPInstanceUID
    clean.file_meta = meta
    return clean


class _DropRecords(logging.Filter):
    """Drops every record: pydicom's log messages can quote header values."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


_PYDICOM_LOGGER = logging.getLogger("pydicom")
if not any(type(f).__name__ == "_DropRecords" for f in _PYDICOM_LOGGER.filters):
    _PYDICOM_LOGGER.addFilter(_DropRecords())
# pydicom's value validation warns quoting the invalid header value. The warnings
# filters of quiet_pydicom are process-global and not thread-safe (a Streamlit server
# reads in several threads: one read ending restores the filters while another is still
# converting values), so the validation itself is switched off, once, for the process.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE


@contextlib.contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Silence pydicom's warnings, which may quote header values (patient data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
