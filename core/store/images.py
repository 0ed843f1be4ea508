"""Image files of a study: read through :mod:`core.io`, stored as de-identified
content-addressed NIfTI under ``<data dir>/images/<sha256>.nii.gz`` (pixels and geometry
only, no header text), resolved to paths, and removed once no study refers to them.

Bytes and paths are read with :func:`core.io.read_image` (the MRI) and
:func:`core.io.read_label_map` with the MRI as ``reference`` (vertebrae, lesion mask), so
they get core.io's size and voxel limits, validation and canonical LPS orientation, and a
refused file is a one-sentence ``ValueError``. A ``sitk.Image`` is stored as given: it
comes from core.io (or :mod:`core.phantom`) already.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import SimpleITK as sitk
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.io import read_image, read_label_map
from core.provenance import sha256_file
from core.store.faults import check_written_nifti, image_full_error, is_full
from core.store.records import CaseInput, ImageSource
from core.store.schema import Study

IMAGES_DIRNAME = "images"
#: Bytes of a NIfTI-1 header (a written file unpacks to at least these plus the voxels).
NIFTI_HEADER_BYTES = 348


@dataclass(frozen=True)
class CaseImages:
    """The stored files of one case: references relative to the data directory, the
    image's SHA-256 and geometry, and the files this call created (for clean-up)."""

    image_ref: str | None
    image_sha256: str | None
    vertebrae_ref: str | None
    lesion_mask_ref: str | None
    geometry: dict[str, Any] | None
    new_files: list[Path]


def read_mri(source: ImageSource, filename: str | None) -> tuple[sitk.Image, dict[str, Any]]:
    """The MRI of a case and its ``ImageMeta`` dict (empty for a ``sitk.Image``, which is
    taken as given); bytes and paths are read by :func:`core.io.read_image`."""
    if isinstance(source, sitk.Image):
        return source, {}
    loaded = read_image(source, filename)
    return loaded.image, loaded.meta.to_dict()


def read_labels(source: ImageSource, reference: sitk.Image | None) -> sitk.Image:
    """A label map of a case (a ``sitk.Image`` is taken as given); bytes and paths are read
    by :func:`core.io.read_label_map`, resampled onto ``reference`` when its grid differs."""
    if isinstance(source, sitk.Image):
        return source
    return read_label_map(source, reference=reference)


def study_refs(studies: Sequence[Study]) -> set[str]:
    """Every file reference (image, vertebrae, lesion mask) of ``studies``."""
    return {r for s in studies for r in (s.image_ref, s.vertebrae_ref, s.lesion_mask_ref)
            if r}


class ImageFiles:
    """The image folder of a data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    @property
    def directory(self) -> Path:
        """Folder of the de-identified image files."""
        return self.data_dir / IMAGES_DIRNAME

    def resolve(self, ref: str | None) -> Path | None:
        """The path of a stored reference (``None`` stays ``None``)."""
        return None if ref is None else self.data_dir / ref

    def store_case(self, case: CaseInput) -> CaseImages:
        """Store the image, vertebrae and lesion mask of ``case`` (those given); on an
        error the files written so far are removed again.

        ``geometry`` is the stored image's ``spacing_mm`` and ``size`` and, for an image
        read from bytes or a path, the rest of its :class:`core.io.ImageMeta`.
        """
        new_files: list[Path] = []
        try:
            image_ref = image_sha = vert_ref = lesion_ref = geometry = image = None
            if case.image is not None:
                image, meta = read_mri(case.image, case.image_filename)
                image_ref, image_sha = self._write(image, new_files)
                geometry = {**meta, "spacing_mm": [float(s) for s in image.GetSpacing()],
                            "size": [int(s) for s in image.GetSize()]}
            if case.vertebrae is not None:
                vert_ref, _ = self._write(read_labels(case.vertebrae, image), new_files)
            if case.lesion_mask is not None:
                lesion_ref, _ = self._write(read_labels(case.lesion_mask, image), new_files)
        except Exception:
            self.remove(new_files)
            raise
        return CaseImages(image_ref, image_sha, vert_ref, lesion_ref, geometry, new_files)

    def _write(self, image: sitk.Image, new_files: list[Path]) -> tuple[str, str]:
        """Write pixels and geometry of ``image`` as ``<sha256>.nii.gz``; return its
        reference and SHA-256 (a file created here is appended to ``new_files``).

        The written file is read back as a gzip stream before it is kept: SimpleITK's
        NIfTI writer reports a full disk only on stderr and leaves a truncated file. A
        full disk is a :class:`~core.store.faults.StorageFullError`.
        """
        array = sitk.GetArrayViewFromImage(image)
        clean = sitk.GetImageFromArray(array, isVector=image.GetNumberOfComponentsPerPixel() > 1)
        clean.SetOrigin(image.GetOrigin())
        clean.SetSpacing(image.GetSpacing())
        clean.SetDirection(image.GetDirection())
        tmp: Path | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, tmp_name = tempfile.mkstemp(suffix=".nii.gz", dir=self.directory)
            os.close(handle)
            tmp = Path(tmp_name)
            try:
                sitk.WriteImage(clean, str(tmp), True)
            except RuntimeError as exc:  # ITK's own write errors
                raise OSError(errno.EIO, str(exc).strip().splitlines()[-1]) from None
            check_written_nifti(tmp, NIFTI_HEADER_BYTES + array.nbytes)
            digest = sha256_file(tmp)
            final = self.directory / f"{digest}.nii.gz"
            if final.exists():
                tmp.unlink()
            else:
                os.replace(tmp, final)
                new_files.append(final)
        except OSError as exc:
            if tmp is not None:
                with suppress(FileNotFoundError):
                    tmp.unlink()
            if is_full(exc):
                raise image_full_error(self.directory) from None
            raise
        return f"{IMAGES_DIRNAME}/{final.name}", digest

    @staticmethod
    def remove(paths: Sequence[Path]) -> None:
        """Delete ``paths`` (files written by a failed write)."""
        for path in paths:
            with suppress(FileNotFoundError):
                path.unlink()

    def remove_unreferenced(self, sessions: sessionmaker[Session], refs: set[str]) -> int:
        """Delete the files of ``refs`` that no study refers to any more (after a delete).

        Only files of deleted studies are candidates, so a file another session has just
        written but not yet committed is never touched.
        """
        if not refs:
            return 0
        with sessions() as session:
            still: set[str] = set()
            for column in (Study.image_ref, Study.vertebrae_ref, Study.lesion_mask_ref):
                still.update(session.scalars(select(column).where(column.in_(refs))).all())
        removed = 0
        for ref in sorted(refs - still):
            path = self.data_dir / ref
            if path.parent == self.directory and path.is_file():
                with suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed
