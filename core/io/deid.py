"""DICOM de-identification (DICOM PS3.15 Annex E basic profile, applied on ingest).

Each parsed slice is replaced at once by a new dataset (:func:`deidentify`) that keeps
only a white list of pixel, geometry and acquisition attributes (``_KEEP_KEYWORDS``).
Everything else is dropped: patient name, IDs, birth date, sex, age, addresses,
institution, physicians, operators, station, accession number, study ID, all dates and
times, private tags, overlays, sequences. Patient name and ID are set empty,
``PatientIdentityRemoved`` is ``YES``. Study, series, instance and frame-of-reference
UIDs are replaced by deterministic pseudonyms ``"2.25." + int(sha256(salt + uid)[:16
bytes])`` (:func:`pseudonymise_uid`); the salt is ``SPINEPAIN_UID_SALT`` from the
environment (set a site secret) or a fixed default.

Series description and protocol name are kept after cleaning (Clean Descriptors option,
:func:`clean_descriptor`): values of the identifying attributes (and their name parts),
long digit runs and date-like strings are removed and the text is restricted to plain
ASCII.

Fail closed: when any identifying attribute cannot be read as text (reading it raises,
e.g. an unknown VR, or its VR is not a string VR, e.g. a name stored as numbers), its
value is unknown and cannot be scrubbed, so both descriptors are dropped from that slice
(its series then has an empty description and a sequence hint from timing or the file
name only). The pixels and geometry are kept, so a clinician can still read a valid
series; refusing the file instead would block reading for no privacy gain, since nothing
else of the slice is kept.

Series that declare burned-in annotation are refused (in :mod:`core.io.dicom`). Only
the original bytes are kept, for the input hash. pydicom's value validation (whose
warnings quote header values) is set to ``IGNORE`` on import, which is thread-safe;
other warnings are suppressed while DICOM is handled (:func:`quiet_pydicom`), and a
filter installed on import drops every record of the ``pydicom`` logger.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import STR_VR

#: Environment variable holding the salt of the pseudonymous DICOM UIDs.
UID_SALT_ENV: str = "SPINEPAIN_UID_SALT"
_DEFAULT_UID_SALT = "spinepain-dicom-uid-v1"


#: Attributes kept from each slice; everything else is dropped on ingest.
_KEEP_KEYWORDS: tuple[str, ...] = (
    "SOPClassUID", "ImageType", "Modality", "SeriesNumber", "InstanceNumber",
    "AcquisitionNumber", "EchoNumbers", "ScanningSequence", "SequenceVariant", "ScanOptions",
    "MRAcquisitionType", "RepetitionTime", "EchoTime", "InversionTime", "FlipAngle",
    "MagneticFieldStrength", "SliceThickness", "SpacingBetweenSlices", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "SamplesPerPixel", "PhotometricInterpretation",
    "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    "PlanarConfiguration", "NumberOfFrames", "RescaleSlope", "RescaleIntercept",
    "RescaleType", "BurnedInAnnotation", "LossyImageCompression", "PixelData",
)
_UID_KEYWORDS: tuple[str, ...] = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
)
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
_DEID_METHOD = "PS3.15 E basic profile, clean descriptors, UIDs remapped"


def _uid_salt() -> bytes:
    """``SPINEPAIN_UID_SALT`` from the environment, or the fixed default."""
    return os.environ.get(UID_SALT_ENV, _DEFAULT_UID_SALT).encode("utf-8")


def pseudonymise_uid(uid: str) -> str:
    """Deterministic pseudonymous UID ``"2.25.<128-bit int>"`` of a DICOM UID.

    Salted with ``SPINEPAIN_UID_SALT`` (or a fixed default), so a given UID always maps
    to the same pseudonym on one site and series can be selected by it.
    """
    digest = hashlib.sha256(_uid_salt() + b"\x00" + uid.strip().encode("ascii", "replace"))
    return "2.25." + str(int.from_bytes(digest.digest()[:16], "big"))


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


def deidentify(ds: Dataset) -> Dataset:
    """New dataset with only the white-listed attributes, pseudonymous UIDs, no PHI.

    The descriptors are dropped when :func:`identifying_terms` cannot read every
    identifying attribute (see the module docstring).
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
    if terms is not None:  # None: an identifying value is unreadable, so none are kept
        for keyword in _DESCRIPTOR_KEYWORDS:
            value = ds.get(keyword)
            if value:
                setattr(clean, keyword, clean_descriptor(str(value), terms))
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
