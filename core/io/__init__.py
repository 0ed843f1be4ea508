"""Reading images: NIfTI, NRRD, MetaImage and DICOM series, validated and canonical.

Every reader returns a 3-D ``sitk.Image`` re-oriented with ``sitk.DICOMOrient(img, "LPS")``
(the numpy view is ``[z, y, x]`` = ``[S, P, L]``) whose ``MetaDataDictionary`` is empty, so
no header text of the input travels further. The direction is the identity for
axis-aligned inputs (float noise below 1e-6 is snapped to it); an oblique acquisition
keeps its residual rotation (each axis within 45 degrees of L, P, S), since DICOMOrient
only permutes and flips axes and nothing is resampled.

Accepted inputs
---------------
* ``bytes`` plus a file name (the name only tells the format and the sequence hint; without
  a name the format is recognised from the content), a ``str``/``Path`` to a file or a
  DICOM folder, or a list of ``(filename, bytes)`` pairs (DICOM slices, any names).
* NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd`` with attached data), MetaImage (``.mha``;
  ``.mhd`` with its data file beside it, from a path only), DICOM (a ``.zip`` of slices,
  several slices as a list, a folder given as a path, or one ``.dcm``).

Validation (each failure is a ``ValueError`` with one plain sentence)
---------------------------------------------------------------------
* unknown extension, corrupt or truncated file, file over ``max_bytes``; NIfTI headers
  (voxel type vs bitpix, data offset, data length, complex/colour voxels) are checked
  and the voxels inflated by :mod:`core.io.nifti` (python-isal, zlib fallback), never
  by ITK;
* a read whose estimated working memory exceeds the read budget
  (``SPINEPAIN_READ_BUDGET_MB``, default 1024 MiB: see :mod:`core.io.budget`), checked
  from the header before any voxel is decoded, for every format, DICOM stacks and label
  maps;
* not 3-D (2-D, a single slice, 4-D with more than one volume; a singleton 4th
  dimension is squeezed), vector or complex pixels, a zero-size dimension, NaN or
  infinite voxels;
* spacing outside ``[MIN_SPACING_MM, MAX_SPACING_MM]`` (0.01 to 50 mm), including zero or
  negative spacings written in headers, a direction matrix that is not a rotation;
* images (not label maps) whose voxels all hold one value: there is nothing to analyse,
  so this is an error; an all-zero *label map* is a valid empty mask;
* zip archives: zip slip, more than ``MAX_ZIP_MEMBERS`` members, more than
  ``DEFAULT_MAX_UNCOMPRESSED_BYTES`` uncompressed, encrypted members
  (:mod:`core.io.sources`);
* decoded volumes over ``MAX_VOXELS`` voxels (checked from the header before reading).

Error messages never contain file names, paths, zip member names or header text, since
any of those can carry patient data. DICOM is de-identified on ingest (PS3.15 Annex E
basic profile, pseudonymous UIDs, failing closed) and free text is never kept: the
series description is a controlled one built from coded attributes (``"STIR
sagittal"``): see :mod:`core.io.deid`.

Memory: the cast to float32 (or the label type) and the re-orientation to LPS are one
slab-wise copy (:mod:`core.io.orient`), so a read holds the decoded buffer and the
output, about 2x the float32 size at most (``bench/read_memory.py``).

Speed: a ``.nii.gz`` uses three threads (:mod:`core.io.background`): one reads and
hashes the file ahead, one inflates it (python-isal releases the GIL) and the caller's
thread converts and re-orients the slabs already inflated, so the conversion is hidden
behind the inflation on a multi-core machine (``bench/read_gzip.py``). A large stream
that hardly compresses (float32 volumes with noise) is inflated on two cores by
rapidgzip instead, with ISA-L still deciding every refusal (:mod:`core.io.parallel_gzip`).

Modules
-------
``reader`` (the public readers), ``sources`` (bytes/path/list/folder/zip, size limits,
zip-slip and zip-bomb checks), ``formats`` (format sniffing, NRRD/MetaImage header
checks, single-file reads), ``nifti`` (NIfTI header checks and streamed decoding),
``background`` (the worker threads of a ``.nii.gz`` read: inflater, read-ahead, hash),
``parallel_gzip`` (two-core inflation of large, poorly compressible streams),
``budget`` (the memory budget), ``dicom`` (parsing, series grouping and listing,
stacking), ``deid`` (de-identification, UID pseudonyms, controlled descriptions,
pydicom silencing), ``orient`` (validation, canonical LPS in one copy, label pixel
type, metadata clearing), ``hints`` (sequence, plane and modality hints), ``results``
(result types), ``limits`` (size, spacing and gap limits). The constants below are
re-exported for reading; to change a limit (e.g. in a test), set it on
:mod:`core.io.limits`, which the modules read at call time (the budget comes from the
environment at every call).
"""

from __future__ import annotations

from core.io.background import read_threads, set_read_threads
from core.io.budget import DEFAULT_READ_BUDGET_MB, READ_BUDGET_ENV, read_budget_bytes
from core.io.formats import Format
from core.io.limits import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_UNCOMPRESSED_BYTES,
    MAX_SPACING_MM,
    MAX_VOXELS,
    MAX_ZIP_MEMBERS,
    MIN_SPACING_MM,
    SLICE_GAP_TOLERANCE,
)
from core.io.reader import list_dicom_series, read_image, read_label_map
from core.io.results import DicomSeriesInfo, ImageMeta, LoadedImage
from core.io.sources import Source
from core.io.uids import UID_SALT_ENV, pseudonymise_uid

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_UNCOMPRESSED_BYTES",
    "DEFAULT_READ_BUDGET_MB",
    "MAX_SPACING_MM",
    "MAX_VOXELS",
    "MAX_ZIP_MEMBERS",
    "MIN_SPACING_MM",
    "READ_BUDGET_ENV",
    "SLICE_GAP_TOLERANCE",
    "UID_SALT_ENV",
    "DicomSeriesInfo",
    "Format",
    "ImageMeta",
    "LoadedImage",
    "Source",
    "list_dicom_series",
    "pseudonymise_uid",
    "read_budget_bytes",
    "read_image",
    "read_label_map",
    "read_threads",
    "set_read_threads",
]
