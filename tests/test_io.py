"""core.io: reading images, canonical orientation, validation, DICOM de-identification."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
import struct
import tempfile
import threading
import warnings

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import given, settings
from hypothesis import strategies as st

import core.io as cio
from core.io import (
    DicomSeriesInfo,
    ImageMeta,
    LoadedImage,
    deid,
    hints,
    limits,
    list_dicom_series,
    pseudonymise_uid,
    read_image,
    read_label_map,
    sources,
)
from core.io import dicom as io_dicom
from tests.data_io_helpers import (
    AXIAL_IOP,
    PHI_STRINGS,
    SAGITTAL_IOP,
    SERIES_UID,
    SERIES_UID_2,
    dicom_series,
    dicom_slice,
    direction_from_columns,
    image_bytes,
    make_image,
    mark_encrypted,
    patch_central_sizes,
    phantom,
    read_dataset,
    slice_position,
    slice_values,
    zip_bytes,
)

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
AXIS = {"L": (1, 0, 0), "R": (-1, 0, 0), "P": (0, 1, 0), "A": (0, -1, 0),
        "S": (0, 0, 1), "I": (0, 0, -1)}


def direction_for(code: str) -> tuple[float, ...]:
    return direction_from_columns(*(AXIS[letter] for letter in code))


def assert_no_phi(*texts: str) -> None:
    for text in texts:
        for phi in PHI_STRINGS:
            assert phi.lower() not in text.lower(), f"{phi!r} leaked into {text[:200]!r}"


def image_text(image: sitk.Image) -> str:
    keys = image.GetMetaDataKeys()
    return " ".join([str(image), *keys, *(image.GetMetaData(k) for k in keys)])


def loaded_text(loaded: LoadedImage) -> str:
    return " ".join([repr(loaded), json.dumps(loaded.meta.to_dict()), image_text(loaded.image)])


def one_sentence(message: str) -> None:
    assert message and "\n" not in message
    assert message.endswith((".", "?")), message


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".nrrd", ".mha"])
@pytest.mark.parametrize("how", ["bytes", "path"])
def test_round_trip_keeps_values_and_anisotropic_geometry(tmp_path, suffix, how):
    array = phantom((5, 6, 7), seed=1, dtype=np.int16)
    spacing, origin = (0.7, 0.9, 3.3), (-10.0, 20.5, 5.0)
    data = image_bytes(make_image(array, spacing=spacing, origin=origin), suffix)
    if how == "bytes":
        loaded = read_image(data, f"scan{suffix}")
    else:
        path = tmp_path / f"scan{suffix}"
        path.write_bytes(data)
        loaded = read_image(str(path))
    image = loaded.image
    assert image.GetPixelID() == sitk.sitkFloat32
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image), array.astype(np.float32))
    np.testing.assert_allclose(image.GetSpacing(), spacing, rtol=1e-6)
    np.testing.assert_allclose(image.GetOrigin(), origin, atol=1e-4)
    assert image.GetDirection() == IDENTITY
    assert image.GetMetaDataKeys() == ()
    meta = loaded.meta
    assert meta.size == (7, 6, 5)
    np.testing.assert_allclose(meta.spacing_mm, spacing, rtol=1e-6)
    assert meta.orientation == "LPS"
    assert meta.source_format == {".nii": "nifti", ".nii.gz": "nifti", ".nrrd": "nrrd",
                                  ".mha": "mha"}[suffix]
    assert meta.input_sha256 == hashlib.sha256(data).hexdigest()
    assert meta.series_description == ""
    json.dumps(meta.to_dict(), allow_nan=False)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_compressed_writers_read_back(suffix):
    array = phantom((4, 5, 6), seed=2)
    data = image_bytes(make_image(array, spacing=(1.0, 1.2, 2.5)), suffix, compress=True)
    loaded = read_image(data, f"x{suffix}")
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(loaded.image), array)


def test_nifti_named_gz_but_stored_plain_is_read():
    array = phantom((4, 5, 6), seed=3)
    data = image_bytes(make_image(array), ".nii")
    loaded = read_image(data, "mislabelled.nii.gz")
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(loaded.image), array)


def test_format_is_sniffed_when_no_filename_is_given():
    array = phantom((4, 5, 6), seed=4)
    for suffix, fmt in ((".nii.gz", "nifti"), (".nii", "nifti"), (".nrrd", "nrrd"),
                        (".mha", "mha")):
        loaded = read_image(image_bytes(make_image(array), suffix))
        assert loaded.meta.source_format == fmt


def test_mhd_with_raw_file_from_path(tmp_path):
    array = phantom((4, 5, 6), seed=5, dtype=np.uint16)
    header = tmp_path / "scan.mhd"
    sitk.WriteImage(make_image(array, spacing=(0.5, 0.6, 4.0)), str(header))
    raw = tmp_path / "scan.raw"
    assert raw.is_file()
    loaded = read_image(header)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(loaded.image), array)
    assert loaded.meta.source_format == "mhd"
    expected = hashlib.sha256(header.read_bytes() + raw.read_bytes()).hexdigest()
    assert loaded.meta.input_sha256 == expected


def test_mhd_from_bytes_or_pointing_outside_its_folder_is_refused(tmp_path):
    header = tmp_path / "scan.mhd"
    sitk.WriteImage(make_image(phantom((4, 5, 6))), str(header))
    with pytest.raises(ValueError, match=r"\.mhd header needs its separate data file"):
        read_image(header.read_bytes(), "scan.mhd")
    text = header.read_text().replace("ElementDataFile = scan.raw",
                                      "ElementDataFile = ../scan.raw")
    header.write_text(text)
    with pytest.raises(ValueError, match="same folder"):
        read_image(header)
    header.write_text(text.replace("../scan.raw", "gone.raw"))
    with pytest.raises(ValueError, match="missing"):
        read_image(header)


# --------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("code", ["RAS", "PSR", "LAS", "AIL", "SPL", "LPS"])
def test_any_orientation_becomes_lps_with_voxels_at_the_same_physical_point(code):
    array = phantom((5, 6, 7), seed=6)
    index = (1, 2, 3)  # x, y, z
    array[index[2], index[1], index[0]] = -5000.0
    spacing = (0.6, 1.1, 2.7)
    image = make_image(array, spacing=spacing, origin=(12.0, -7.0, 33.0),
                       direction=direction_for(code))
    point = image.TransformIndexToPhysicalPoint(index)
    loaded = read_image(image_bytes(image, ".nii.gz"), "x.nii.gz")
    out = loaded.image
    assert loaded.meta.orientation == code
    np.testing.assert_allclose(out.GetDirection(), IDENTITY, atol=1e-12)
    new_index = out.TransformPhysicalPointToIndex(point)
    assert out[new_index] == -5000.0
    np.testing.assert_allclose(out.TransformIndexToPhysicalPoint(new_index), point,
                               atol=1e-4)
    # spacing follows the axes: each input axis now lies along its LPS axis
    expected = [0.0, 0.0, 0.0]
    for axis, letter in enumerate(code):
        expected["LRPASI".index(letter) // 2] = spacing[axis]
    np.testing.assert_allclose(out.GetSpacing(), expected, rtol=1e-5)
    assert np.count_nonzero(sitk.GetArrayViewFromImage(out) == -5000.0) == 1


PERMUTATIONS = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]


@settings(max_examples=25, deadline=None)
@given(
    perm=st.sampled_from(PERMUTATIONS),
    flips=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    spacing=st.tuples(*[st.sampled_from([0.5, 0.8, 1.0, 2.5, 4.0])] * 3),
    seed=st.integers(0, 1000),
)
def test_property_axis_permutations_and_flips_give_the_same_canonical_image(
    perm, flips, spacing, seed
):
    # canonical LPS volume A[z, y, x] with identity direction
    shape_xyz = (3, 4, 5)
    a_xyz = phantom(shape_xyz[::-1], seed=seed).transpose(2, 1, 0)
    origin = np.array([3.0, -4.0, 10.0])
    # the same voxels stored along permuted and flipped axes
    b_xyz = np.transpose(a_xyz, perm)
    new_origin = origin.copy()
    columns = []
    for d, old in enumerate(perm):
        unit = np.eye(3)[old]
        if flips[d]:
            b_xyz = np.flip(b_xyz, axis=d)
            new_origin += spacing[old] * (shape_xyz[old] - 1) * unit
            unit = -unit
        columns.append(unit)
    image = make_image(np.ascontiguousarray(b_xyz.transpose(2, 1, 0)),
                       spacing=[spacing[old] for old in perm], origin=new_origin,
                       direction=direction_from_columns(*columns))
    loaded = read_image(image_bytes(image, ".mha"), "x.mha")
    out = loaded.image
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(out), a_xyz.transpose(2, 1, 0))
    assert out.GetDirection() == IDENTITY
    np.testing.assert_allclose(out.GetOrigin(), origin, atol=1e-9)
    np.testing.assert_allclose(out.GetSpacing(), spacing, rtol=1e-12)


# --------------------------------------------------------------------------- hints


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("t2.nii.gz", "T2"),
        ("t1w.nii.gz", "T1"),
        ("PAM50_small_t2.nii.gz", "T2"),
        ("sag_T2_TSE_FS.nii.gz", "T2-FS"),
        ("T1_fatsat_post.nrrd", "T1-FS"),
        ("t2_spair.mha", "T2-FS"),
        ("T2W_SPIR.nii", "T2-FS"),
        ("sag_STIR.nii.gz", "STIR"),
        ("t2_tirm_sag.nii.gz", "STIR"),
        ("t2fse.nii.gz", "T2"),
        ("t1_t2_combo.nii", "unknown"),
        ("image.nii.gz", "unknown"),
        ("pt12.nii", "unknown"),
    ],
)
def test_sequence_hint_from_names(name, hint):
    assert hints.sequence_hint(name) == hint


def test_hints_reach_the_metadata():
    data = image_bytes(make_image(phantom((4, 5, 6))), ".nii.gz")
    meta = read_image(data, "patient_sag_t2_fs.nii.gz").meta
    assert (meta.sequence, meta.modality) == ("T2-FS", "MR")
    meta = read_image(data, "ct_spine.nii.gz").meta
    assert (meta.sequence, meta.modality) == ("unknown", "CT")
    meta = read_image(data, "volume.nii.gz").meta
    assert (meta.sequence, meta.modality) == ("unknown", "unknown")


# --------------------------------------------------------------------------- bad input


def expect_error(match: str, *args, reader=read_image, **kwargs) -> str:
    with pytest.raises(ValueError, match=match) as info:
        reader(*args, **kwargs)
    message = str(info.value)
    one_sentence(message)
    assert info.value.__cause__ is None
    return message


def test_unknown_format_is_refused():
    data = image_bytes(make_image(phantom((4, 5, 6))), ".nii.gz")
    expect_error("not recognised", data, "image.png")
    expect_error("not recognised", b"just some text, not an image", None)
    expect_error("not recognised", b"just some text", "notes.txt")
    expect_error("must be bytes, a path", 12345)
    expect_error("empty", b"", "x.nii.gz")


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".nii", False), (".nii.gz", False), (".mha", False), (".mha", True),
     (".nrrd", False), (".nrrd", True)],
)
@pytest.mark.parametrize("fraction", [0.5, 0.97])
def test_truncated_files_are_refused(suffix, compress, fraction):
    array = phantom((10, 20, 30), seed=7, dtype=np.int16)
    data = image_bytes(make_image(array), suffix, compress=compress)
    expect_error("truncated|corrupt|not a valid", data[: int(len(data) * fraction)],
                 f"x{suffix}")


def test_garbage_with_an_image_extension_is_refused():
    garbage = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    for name in ("x.nii.gz", "x.nii", "x.nrrd", "x.mha"):
        expect_error("truncated|corrupt|not a valid", garbage, name)
    expect_error("separate .img file",
                 image_bytes(make_image(phantom((4, 5, 6))), ".nii")[:344] + b"ni1\x00"
                 + b"\x00" * 200, "x.nii")


@pytest.mark.parametrize("vox_offset", [0.0, 100.0, 348.0, 351.0])
def test_nifti_data_offset_inside_the_header_is_refused(vox_offset):
    # ITK reads such a file from byte 348: every voxel shifted by one, the first voxel
    # from the header, the last one dropped, silently
    data = bytearray(image_bytes(make_image(phantom((4, 5, 6))), ".nii"))
    assert struct.unpack("<f", data[108:112])[0] == 352.0
    data[108:112] = struct.pack("<f", vox_offset)
    expect_error("NIfTI header is corrupt", bytes(data), "x.nii")
    expect_error("NIfTI header is corrupt", gzip.compress(bytes(data)), "x.nii.gz")


def test_2d_single_slice_and_4d_images_are_refused():
    expect_error("2-D", image_bytes(make_image(phantom((5, 6))), ".nii.gz"), "x.nii.gz")
    expect_error("single slice", image_bytes(make_image(phantom((1, 5, 6))), ".nii.gz"),
                 "x.nii.gz")
    volumes = [make_image(phantom((4, 5, 6), seed=s)) for s in range(3)]
    four_d = sitk.JoinSeries(volumes)
    for suffix in (".nii.gz", ".mha", ".nrrd"):
        expect_error("4-D", image_bytes(four_d, suffix), f"x{suffix}")


def test_singleton_fourth_dimension_is_squeezed():
    array = phantom((4, 5, 6), seed=8)
    four_d = sitk.JoinSeries([make_image(array, spacing=(0.5, 0.7, 3.0))])
    assert four_d.GetDimension() == 4
    for suffix in (".mha", ".nrrd", ".nii.gz"):
        loaded = read_image(image_bytes(four_d, suffix), f"x{suffix}")
        assert loaded.image.GetDimension() == 3
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(loaded.image), array)
        np.testing.assert_allclose(loaded.image.GetSpacing(), (0.5, 0.7, 3.0), rtol=1e-6)


def test_vector_images_are_refused():
    rgb = sitk.GetImageFromArray(np.ones((4, 5, 6, 3), np.uint8), isVector=True)
    expect_error("values per voxel", image_bytes(rgb, ".mha"), "x.mha")


def mha_parts(image: sitk.Image) -> tuple[str, bytes]:
    data = image_bytes(image, ".mha")
    end = data.index(b"ElementDataFile = LOCAL\n") + len(b"ElementDataFile = LOCAL\n")
    return data[:end].decode(), data[end:]


def test_empty_image_is_refused():
    header, body = mha_parts(make_image(phantom((4, 5, 6))))
    header = header.replace("DimSize = 6 5 4", "DimSize = 6 5 0")
    expect_error("empty", header.encode() + body, "x.mha")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_voxels_are_refused(bad):
    array = phantom((4, 5, 6))
    array[2, 3, 4] = bad
    for reader in (read_image, read_label_map):
        expect_error("NaN or infinite", image_bytes(make_image(array), ".nii.gz"), "x.nii.gz",
                     reader=reader)


def test_constant_image_is_refused_but_an_empty_label_map_is_valid():
    data = image_bytes(make_image(np.full((4, 5, 6), 7.0, np.float32)), ".nii.gz")
    expect_error("same value", data, "x.nii.gz")
    zeros = image_bytes(make_image(np.zeros((4, 5, 6), np.uint8)), ".nii.gz")
    labels = read_label_map(zeros, "mask.nii.gz")
    assert labels.GetPixelID() == sitk.sitkUInt16
    assert not sitk.GetArrayViewFromImage(labels).any()


@pytest.mark.parametrize("spacing", [0.001, 0.009, 50.5, 200.0])
def test_absurd_spacing_is_refused(spacing):
    data = image_bytes(make_image(phantom((4, 5, 6)), spacing=(1.0, spacing, 1.0)), ".nrrd")
    expect_error("spacing", data, "x.nrrd")


@pytest.mark.parametrize("value", [0.0, -0.5])
def test_zero_or_negative_spacing_in_headers_is_refused(value):
    nifti = bytearray(image_bytes(make_image(phantom((4, 5, 6)), spacing=(0.5, 0.6, 2)),
                                  ".nii"))
    nifti[80:84] = struct.pack("<f", value)  # pixdim[1]; ITK would turn 0 into 1 mm
    expect_error("spacing", bytes(nifti), "x.nii")
    header, body = mha_parts(make_image(phantom((4, 5, 6))))
    header = header.replace("ElementSpacing = 1 1 1", f"ElementSpacing = {value:g} 1 1")
    expect_error("spacing", header.encode() + body, "x.mha")


def test_direction_that_is_not_a_rotation_is_refused():
    data = image_bytes(make_image(phantom((4, 5, 6)), spacing=(0.5, 0.5, 2.0)), ".nrrd")
    text = data.replace(b"space directions: (0.5,0,0) (0,0.5,0) (0,0,2)",
                        b"space directions: (0.5,0,0) (0.5,0.5,0) (0,0,2)")
    assert text != data
    expect_error("not a rotation", text, "x.nrrd")


def test_size_limits_are_enforced(tmp_path, monkeypatch):
    data = image_bytes(make_image(phantom((4, 5, 6))), ".nii")
    expect_error("over the limit", data, "x.nii", max_bytes=len(data) - 1)
    path = tmp_path / "x.nii"
    path.write_bytes(data)
    expect_error("over the limit", path, max_bytes=100)
    expect_error("over the limit", [("a.dcm", data), ("b.dcm", data)], max_bytes=len(data))
    expect_error("max_bytes", data, "x.nii", max_bytes=0)
    monkeypatch.setattr(limits, "MAX_VOXELS", 100)
    expect_error("voxel values, over the limit", data, "x.nii")
    expect_error("voxel values, over the limit",
                 image_bytes(make_image(phantom((4, 5, 6))), ".mha"), "x.mha")


def test_detached_data_files_are_refused():
    header, body = mha_parts(make_image(phantom((4, 5, 6))))
    bad = header.replace("ElementDataFile = LOCAL", "ElementDataFile = /etc/passwd")
    expect_error("separate data file", bad.encode() + body, "x.mha")
    nrrd = image_bytes(make_image(phantom((4, 5, 6))), ".nrrd")
    bad_nrrd = nrrd.replace(b"encoding: raw\n", b"encoding: raw\ndata file: /etc/passwd\n")
    expect_error("separate data file", bad_nrrd, "x.nrrd")


def test_missing_path_and_series_uid_for_other_formats(tmp_path):
    expect_error("does not exist", tmp_path / "nothing.nii.gz")
    data = image_bytes(make_image(phantom((4, 5, 6))), ".nii.gz")
    expect_error("DICOM sources only", data, "x.nii.gz", series_uid="1.2.3")
    expect_error("Only DICOM sources", data, "x.nii.gz", reader=list_dicom_series)


def test_nothing_is_left_on_disk(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    data = image_bytes(make_image(phantom((4, 5, 6))), ".nii.gz")
    read_image(data, "x.nii.gz")
    read_label_map(data, "x.nii.gz")
    with pytest.raises(ValueError):
        read_image(data[: len(data) // 2], "x.nii.gz")
    with pytest.raises(ValueError):
        read_image(image_bytes(make_image(phantom((5, 6))), ".mha"), "x.mha")
    read_image(zip_bytes(dicom_series()), "s.zip")
    assert list(scratch.iterdir()) == []


# --------------------------------------------------------------------------- DICOM


def expected_voxels(files, gap=3.0, origin=(40.0, -20.0, 60.0), iop=SAGITTAL_IOP,
                    pixel_spacing=(0.8, 0.9), seed=0):
    """(physical point, rescaled value) of every stored voxel of a dicom_series()."""
    values = slice_values(len(files), 6, 7, seed)
    row, col = np.array(iop[:3]), np.array(iop[3:])
    for k in range(len(files)):
        ipp = slice_position(origin, iop, gap, k)
        for r in range(6):
            for c in range(7):
                point = ipp + c * pixel_spacing[1] * row + r * pixel_spacing[0] * col
                yield point, 2.0 * values[k, r, c] - 100.0


def check_series_volume(loaded: LoadedImage, files) -> None:
    image = loaded.image
    assert image.GetDirection() == IDENTITY
    # sagittal: slices along L/R, rows along P, columns along I
    np.testing.assert_allclose(image.GetSpacing(), (3.0, 0.9, 0.8), rtol=1e-6)
    assert image.GetSize() == (5, 7, 6)
    for point, value in expected_voxels(files):
        index = image.TransformPhysicalPointToIndex(tuple(point))
        assert image[index] == value
        np.testing.assert_allclose(image.TransformIndexToPhysicalPoint(index), point,
                                   atol=1e-4)


def test_dicom_zip_in_any_member_order_gives_the_right_volume():
    files = dicom_series()
    hashes = set()
    for seed in range(3):
        shuffled = files[:]
        random.Random(seed).shuffle(shuffled)
        loaded = read_image(zip_bytes(shuffled), "study.zip")
        check_series_volume(loaded, files)
        hashes.add(loaded.meta.input_sha256)
    meta = loaded.meta
    assert len(hashes) == 1
    assert hashes == {hashlib.sha256(b"".join(sorted(d for _, d in files))).hexdigest()}
    assert (meta.source_format, meta.modality, meta.sequence) == ("dicom", "MR", "T2")
    assert meta.orientation == "PIR"
    assert meta.series_description == "T2 sagittal"  # coded, the typed text is dropped


def test_dicom_from_list_folder_zip_path_and_single_file(tmp_path):
    files = dicom_series()
    from_list = read_image(files[::-1])
    check_series_volume(from_list, files)
    folder = tmp_path / "dicom" / "sub"
    folder.mkdir(parents=True)
    for name, data in files:
        (folder / name.replace(".dcm", "")).write_bytes(data)  # names without extension
    (tmp_path / "dicom" / "README.txt").write_text("not dicom")
    from_folder = read_image(tmp_path / "dicom")
    check_series_volume(from_folder, files)
    zip_path = tmp_path / "study.zip"
    zip_path.write_bytes(zip_bytes(files))
    from_zip = read_image(str(zip_path))
    assert from_list.meta == from_folder.meta == from_zip.meta
    expect_error("single slice", files[0][1], "one.dcm")
    expect_error("single slice", files[0][1], "1.3.12.2.1107.5.2.30")  # DICOM by content


def test_axial_series_needs_no_reorientation_and_rescale_is_applied():
    files = dicom_series(4, iop=AXIAL_IOP, gap=2.5, slope=0.5, intercept=3.0, seed=2)
    loaded = read_image(zip_bytes(files[::-1]), "axial.zip")
    assert loaded.meta.orientation == "LPS"
    stored = slice_values(4, 6, 7, seed=2)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(loaded.image),
                                  stored * 0.5 + 3.0)
    np.testing.assert_allclose(loaded.image.GetSpacing(), (0.9, 0.8, 2.5), rtol=1e-6)
    np.testing.assert_allclose(loaded.image.GetOrigin(), (40.0, -20.0, 60.0), atol=1e-6)


def test_oblique_series_keeps_its_small_rotation_and_physical_positions():
    angle = np.deg2rad(10.0)
    iop = (1.0, 0.0, 0.0, 0.0, float(np.cos(angle)), float(np.sin(angle)))
    files = dicom_series(5, iop=iop)
    loaded = read_image(zip_bytes(files[::-1]))
    image = loaded.image
    assert loaded.meta.orientation == "LPS"
    # DICOMOrient only permutes/flips axes: the 10 degree tilt stays in the direction
    expected = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)],
                         [0, np.sin(angle), np.cos(angle)]])
    np.testing.assert_allclose(np.reshape(image.GetDirection(), (3, 3)), expected,
                               atol=1e-5)
    for point, value in expected_voxels(files, iop=iop):
        index = image.TransformPhysicalPointToIndex(tuple(point))
        assert image[index] == value


def test_one_image_file_in_a_list_and_mixed_lists():
    data = image_bytes(make_image(phantom((4, 5, 6))), ".nii.gz")
    assert read_image([("t2.nii.gz", data)]).meta.sequence == "T2"
    expect_error("only be DICOM slices", [("t2.nii.gz", data), *dicom_series(2)])
    expect_error(r"\(filename, bytes\) pair", [("a.dcm", "not bytes")])
    expect_error("list of image files is empty", [])


def test_no_phi_in_results_metadata_logs_or_warnings(caplog):
    files = dicom_series()
    other = dicom_series(4, series_uid=SERIES_UID_2, description="Jane T1 TSE SAG",
                         protocol="t1 Kildare", slope=1.0, intercept=0.0, seed=1)
    archive = zip_bytes(files + other)
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        infos = list_dicom_series(archive, "study.zip")
        loaded = read_image(archive, "study.zip", series_uid=infos[0].series_uid)
        labels = read_label_map(archive, "study.zip", series_uid=infos[1].series_uid)
        with pytest.raises(ValueError) as info:
            read_image(archive, "study.zip")
    assert_no_phi(
        loaded_text(loaded),
        image_text(labels),
        json.dumps([i.to_dict() for i in infos]),
        repr(infos),
        str(info.value),
        caplog.text,
        " ".join(str(w.message) for w in caught),
    )
    for uid in (SERIES_UID, SERIES_UID_2, "1.2.840.113619"):
        assert uid not in loaded_text(loaded) + repr(infos)


def test_pydicom_warnings_quoting_header_values_are_silenced(caplog):
    # an invalid IS/DS value makes pydicom warn *and log* with the value quoted
    files = dicom_series(3, extra={"SeriesNumber": "987654", "EchoTime": "876543"})
    files = [(n, d.replace(b"987654", b"Doe123").replace(b"876543", b"Jane12"))
             for n, d in files]
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        infos = list_dicom_series(files)
        loaded = read_image(files)
    assert caught == []
    assert_no_phi(caplog.text, repr(infos), loaded_text(loaded))


def test_pydicom_warnings_stay_silenced_when_two_reads_overlap_in_threads(monkeypatch):
    # Streamlit runs each session in a thread; warnings.catch_warnings is process-global,
    # so a read that ends first restored the filters while another read was still
    # converting header values, and pydicom's warnings (quoting them) were shown.
    quoting = dicom_series(3, extra={"SeriesNumber": "987654", "EchoTime": "876543"})
    quoting = [(n, d.replace(b"987654", b"Doe123").replace(b"876543", b"Jane12"))
               for n, d in quoting]
    plain = dicom_series(3)
    a_inside, b_inside, a_done = threading.Event(), threading.Event(), threading.Event()
    real = deid.deidentify

    def interleaved(ds):
        name = threading.current_thread().name
        if name == "read-a" and not a_inside.is_set():
            a_inside.set()
            b_inside.wait(10)  # A stays inside its read until B has entered its own
        elif name == "read-b" and not b_inside.is_set():
            b_inside.set()
            a_done.wait(10)  # B converts its header values only after A has finished
        return real(ds)

    monkeypatch.setattr(io_dicom, "deidentify", interleaved)
    errors: list[BaseException] = []

    def run(files):
        try:
            read_image(files)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = threading.Thread(target=run, args=(plain,), name="read-a")
        b = threading.Thread(target=run, args=(quoting,), name="read-b")
        a.start()
        assert a_inside.wait(10)
        b.start()
        a.join(10)
        a_done.set()
        b.join(10)
    assert not errors and not a.is_alive() and not b.is_alive()
    assert_no_phi(" ".join(str(w.message) for w in caught))


def test_deidentified_dataset_keeps_only_safe_attributes():
    ds = read_dataset(dicom_series(2)[0][1])
    clean = deid.deidentify(ds)
    assert_no_phi(str(clean), str(clean.file_meta))
    for keyword in ("PatientBirthDate", "PatientSex", "PatientAge", "InstitutionName",
                    "ReferringPhysicianName", "OperatorsName", "AccessionNumber", "StudyID",
                    "StudyDate", "StudyTime", "StationName", "OtherPatientIDs"):
        assert keyword not in clean
    assert not any(elem.tag.is_private for elem in clean)
    assert (str(clean.PatientName), clean.PatientID, clean.PatientIdentityRemoved) == (
        "", "", "YES")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                    "FrameOfReferenceUID"):
        value = str(clean.get(keyword))
        assert value.startswith("2.25.") and len(value) <= 64
        assert value == pseudonymise_uid(str(ds.get(keyword)))
    assert clean.PixelData == ds.PixelData


def test_descriptor_cleaning():
    terms = deid.identifying_terms(read_dataset(dicom_series(2)[0][1]))
    text = "Doe^Jane T2 sag 2024-03-15 MRN123456 @St Elsewhere Hospital (kildare)"
    assert deid.clean_descriptor(text, terms) == "T2 sag ( )"


@pytest.mark.parametrize("vr", [b"ZZ", b"US"])
def test_unreadable_identifying_element_drops_the_descriptors(vr):
    # PatientName stored under an unknown VR cannot be read at all (pydicom raises on
    # access); stored as US it decodes to numbers. Either way its text is unknown, so it
    # cannot be scrubbed from SeriesDescription ("Doe T2 TSE SAG ..."): the descriptors
    # must be dropped (fail closed) while the pixels stay readable.
    needle = b"\x10\x00\x10\x00PN\x08\x00Doe^Jane"
    files = dicom_series(3)
    assert all(data.count(needle) == 1 for _, data in files)
    broken = [(name, data.replace(needle, b"\x10\x00\x10\x00" + vr + b"\x08\x00Doe^Jane"))
              for name, data in files]
    loaded = read_image(broken)
    infos = list_dicom_series(broken)
    assert_no_phi(loaded_text(loaded), repr(infos))
    assert loaded.meta.series_description == "" and infos[0].description == ""
    assert loaded.meta.sequence == infos[0].sequence == "unknown"
    assert sitk.GetArrayViewFromImage(loaded.image).tolist() == \
        sitk.GetArrayViewFromImage(read_image(files).image).tolist()
    clean = deid.deidentify(read_dataset(broken[0][1]))
    assert "SeriesDescription" not in clean and "ProtocolName" not in clean
    assert_no_phi(str(clean))


def test_pseudonymous_uids_are_deterministic_and_salted(monkeypatch):
    first = pseudonymise_uid(SERIES_UID)
    assert first == pseudonymise_uid(SERIES_UID) != pseudonymise_uid(SERIES_UID_2)
    monkeypatch.setenv(cio.UID_SALT_ENV, "site-secret")
    assert pseudonymise_uid(SERIES_UID) != first


def test_several_series_must_be_chosen():
    t2 = dicom_series(5)
    t1 = dicom_series(4, series_uid=SERIES_UID_2, description="T1 TSE SAG",
                      protocol="t1_tse", iop=AXIAL_IOP, seed=1)
    archive = zip_bytes(t2 + t1)
    infos = list_dicom_series(archive, "study.zip")
    assert [type(i) for i in infos] == [DicomSeriesInfo, DicomSeriesInfo]
    assert [(i.sequence, i.n_slices, i.size, i.modality) for i in infos] == [
        ("T2", 5, (7, 6, 5), "MR"), ("T1", 4, (7, 6, 4), "MR")]
    assert infos[0].series_uid == pseudonymise_uid(SERIES_UID)
    message = expect_error("2 series", archive, "study.zip")
    assert "list_dicom_series" in message
    chosen = read_image(archive, "study.zip", series_uid=infos[1].series_uid)
    assert (chosen.meta.sequence, chosen.meta.size) == ("T1", (7, 6, 4))
    by_original = read_image(archive, "study.zip", series_uid=SERIES_UID)
    assert by_original.meta.size == (5, 7, 6)
    assert read_image(archive, "study.zip", series_uid=infos[0].series_uid).meta == \
        by_original.meta
    message = expect_error("No DICOM series has", archive, "study.zip",
                           series_uid="9.9.9.123456")
    assert "9.9.9" not in message


def series_with(k: int, **changes) -> list[tuple[str, bytes]]:
    files = dicom_series()
    values = slice_values(5, 6, 7)
    params = {"position": slice_position((40.0, -20.0, 60.0), SAGITTAL_IOP, 3.0, k),
              "index": k}
    pixels = changes.pop("pixels", values[k])
    params.update(changes)
    files[k] = (files[k][0], dicom_slice(pixels, **params))
    return files


@pytest.mark.parametrize(
    ("files", "match"),
    [
        (series_with(2, iop=(0.0, 1.0, 0.0, 0.0, 0.01, -1.0)), "orientation"),
        (series_with(2, iop=(0.0, 0.9962, 0.0872, 0.0, -0.0872, 0.9962)), "orientation"),
        (series_with(3, pixel_spacing=(0.8, 1.0)), "pixel spacing"),
        (series_with(1, pixels=np.ones((6, 8), np.uint16)), "matrix sizes"),
        (series_with(2, position=(40.0 - 7.0, -20.0, 60.0)), "uneven slice gaps"),
        (dicom_series()[:2] + dicom_series()[3:], "uneven slice gaps"),
        (series_with(2, position=(40.0 - 3.0, -20.0, 60.0)), "same position"),
        (series_with(4, position=(40.0 - 12.0, -15.0, 60.0)), "not stacked"),
    ],
    ids=["tilted-slice", "rotated-slice", "spacing", "matrix", "gap", "missing-slice",
         "duplicate", "shifted"],
)
def test_mixed_geometry_within_a_series_is_refused(files, match):
    message = expect_error(match, zip_bytes(files), "study.zip")
    assert_no_phi(message)


def test_undecodable_compressed_pixel_data_is_refused():
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLSLossless

    files = []
    for k in range(3):
        data = dicom_slice(np.ones((6, 7), np.uint16), index=k,
                           position=slice_position((0, 0, 0), SAGITTAL_IOP, 3.0, k),
                           transfer_syntax=JPEGLSLossless,
                           extra={"PixelData": encapsulate([b"\xff\xd8 not jpeg-ls"])})
        files.append((f"{k}.dcm", data))
    message = expect_error("compressed transfer syntax", files)
    assert "JPEG-LS" in message


def test_burned_in_annotation_and_multiframe_are_refused():
    files = dicom_series(3, extra={"BurnedInAnnotation": "YES"})
    expect_error("burned-in annotation", zip_bytes(files), "s.zip")
    files = dicom_series(3, extra={"NumberOfFrames": 2})
    expect_error("Multi-frame", zip_bytes(files), "s.zip")


def test_sequence_from_timing_when_descriptions_say_nothing():
    files = dicom_series(3, description="sag", protocol="spine",
                         extra={"RepetitionTime": "520", "EchoTime": "12"})
    assert read_image(files).meta.sequence == "T1"
    files = dicom_series(3, description="sag", protocol="spine",
                         extra={"RepetitionTime": "4000", "EchoTime": "95"})
    assert read_image(files).meta.sequence == "T2"
    files = dicom_series(3, description="sag", protocol="spine",
                         extra={"ScanningSequence": "IR", "InversionTime": "150",
                                "RepetitionTime": "4000", "EchoTime": "60"})
    assert read_image(files).meta.sequence == "STIR"
    files = dicom_series(3, description="sag fs", protocol="spine")
    assert read_image(files, "t2_sag.zip").meta.sequence == "T2"  # from the file name


# --------------------------------------------------------------------------- zip safety


@pytest.mark.parametrize("name", ["../evil.dcm", "a/../../evil.dcm", "/abs/evil.dcm",
                                  "C:/evil.dcm", "..\\evil.dcm"])
def test_zip_slip_is_refused(name):
    files = dicom_series(3)
    files[1] = (name, files[1][1])
    message = expect_error("absolute or contains '..'", zip_bytes(files), "s.zip")
    assert "evil" not in message


def test_zip_bombs_are_refused(monkeypatch):
    files = dicom_series(3)
    expect_error("would unpack to", patch_central_sizes(zip_bytes(files), 3 << 30), "s.zip")
    many = zip_bytes((f"f{i}", b"") for i in range(cio.MAX_ZIP_MEMBERS + 1))
    expect_error("members, over the limit", many, "s.zip")
    zeros = zip_bytes([("big.dcm", bytes(4 << 20))])
    assert len(zeros) < 50_000
    monkeypatch.setattr(limits, "DEFAULT_MAX_UNCOMPRESSED_BYTES", 1 << 20)
    expect_error("would unpack to", zeros, "s.zip")
    # the directory can lie: the limit also holds while decompressing
    monkeypatch.setattr(sources, "_check_zip_directory", lambda infos, **kw: None)
    expect_error("unpacks to more than", zeros, "s.zip")


def test_lying_encrypted_truncated_and_empty_zips_are_refused():
    archive = zip_bytes(dicom_series(3))
    expect_error("corrupt", patch_central_sizes(archive, 100), "s.zip")
    expect_error("corrupt or truncated", archive[: len(archive) // 2], "s.zip")
    expect_error("encrypted", mark_encrypted(archive), "s.zip")
    expect_error("no DICOM files", zip_bytes([("readme.txt", b"hello")]), "s.zip")
    expect_error("holds no files", zip_bytes([]), "s.zip")


# --------------------------------------------------------------------------- label maps


def test_label_maps_become_unsigned_integers():
    labels = np.zeros((4, 5, 6))
    labels[1, 2, 3], labels[2, 2, 2] = 2.0, 5.0
    out = read_label_map(image_bytes(make_image(labels), ".nii.gz"), "seg.nii.gz")
    assert out.GetPixelID() == sitk.sitkUInt16
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(out), labels)
    assert out.GetMetaDataKeys() == ()
    big = labels.astype(np.int32)
    big[0, 0, 0] = 70000
    out = read_label_map(image_bytes(make_image(big), ".nrrd"), "seg.nrrd")
    assert out.GetPixelID() == sitk.sitkUInt32
    assert int(sitk.GetArrayViewFromImage(out).max()) == 70000


def test_bad_label_values_are_refused():
    labels = np.zeros((4, 5, 6))
    labels[1, 1, 1] = 2.5
    expect_error("non-integer", image_bytes(make_image(labels), ".nii.gz"), "x.nii.gz",
                 reader=read_label_map)
    labels[1, 1, 1] = -1
    expect_error("negative", image_bytes(make_image(labels), ".nii.gz"), "x.nii.gz",
                 reader=read_label_map)
    labels[1, 1, 1] = 2.0**33
    expect_error("larger than", image_bytes(make_image(labels), ".nii.gz"), "x.nii.gz",
                 reader=read_label_map)


def test_label_map_is_oriented_like_its_image():
    array = phantom((5, 6, 7), seed=9)
    labels = (array % 4).astype(np.uint8)
    kwargs = {"spacing": (0.5, 1.0, 2.0), "origin": (5.0, 6.0, 7.0),
              "direction": direction_for("PSR")}
    image = read_image(image_bytes(make_image(array, **kwargs), ".nii.gz"), "x.nii.gz").image
    seg = read_label_map(image_bytes(make_image(labels, **kwargs), ".nii.gz"), "s.nii.gz",
                         reference=image)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(seg),
                                  sitk.GetArrayViewFromImage(image) % 4)
    assert seg.GetDirection() == IDENTITY


def test_label_map_is_resampled_onto_a_different_reference_grid():
    fine = make_image(phantom((8, 8, 8)), spacing=(1.0, 1.0, 1.0))
    labels = np.zeros((4, 4, 4), np.uint8)
    labels[1:3, 1:3, 1:3] = 3
    coarse = make_image(labels, spacing=(2.0, 2.0, 2.0), origin=(0.5, 0.5, 0.5))
    out = read_label_map(image_bytes(coarse, ".mha"), "seg.mha", reference=fine)
    assert out.GetSize() == fine.GetSize()
    assert out.GetSpacing() == fine.GetSpacing()
    array = sitk.GetArrayViewFromImage(out)
    assert set(np.unique(array)) == {0, 3}
    for index in ((3, 3, 3), (4, 4, 4), (0, 0, 0), (7, 7, 7)):
        point = fine.TransformIndexToPhysicalPoint(index)
        source = coarse.TransformPhysicalPointToIndex(point)
        expected = labels[source[2], source[1], source[0]]
        assert out[index] == expected
    far = make_image(labels, spacing=(2.0, 2.0, 2.0), origin=(500.0, 0.0, 0.0))
    expect_error("overlap", image_bytes(far, ".mha"), "seg.mha", reference=fine,
                 reader=read_label_map)


# --------------------------------------------------------------------------- real data


REAL = [
    # file, input size, spacing (mm), orientation
    ("t2/t2.nii.gz", (60, 55, 52), (1.0, 1.0, 1.0), "PSR"),
    ("t2/t2_fake_lesion.nii.gz", (99, 99, 29), (0.8, 0.8, 0.8), "PSR"),
    ("t1/t1w.nii.gz", (42, 76, 77), (1.0, 1.0, 1.0), "RAS"),
    ("template/template/PAM50_small_t2.nii.gz", (70, 70, 275), (1.0, 1.0, 2.0), "LAS"),
]
REAL_LABELS = [
    ("t2/t2_seg-manual.nii.gz", {0, 1}),
    ("t2/t2_seg-manual_labeled.nii.gz", {0, 2, 3, 4, 5}),
    ("t2/labels.nii.gz", {0, 3, 5}),
    ("t2/t2_labeled_center_manual.nii.gz", {0, 3, 4, 5}),
    ("t2/t2_fake_lesion_lesion_seg.nii.gz", {0, 1}),
    ("t1/t1w_seg-manual.nii.gz", {0, 1}),
    ("template/template/PAM50_small_levels.nii.gz", set(range(21))),
    ("template/template/PAM50_small_label_disc.nii.gz", None),
]


def canonical_order(code: str, values):
    out = [None, None, None]
    for axis, letter in enumerate(code):
        out["LRPASI".index(letter) // 2] = values[axis]
    return tuple(out)


@pytest.mark.parametrize(("name", "size", "spacing", "code"), REAL)
def test_real_images(sct_data, name, size, spacing, code):
    path = sct_data / name
    loaded = read_image(path)
    meta = loaded.meta
    assert meta.orientation == code
    assert meta.size == canonical_order(code, size)
    np.testing.assert_allclose(meta.spacing_mm, canonical_order(code, spacing), rtol=1e-4)
    assert loaded.image.GetDirection() == IDENTITY
    assert loaded.image.GetPixelID() == sitk.sitkFloat32
    assert loaded.image.GetMetaDataKeys() == ()
    assert meta.input_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta.modality == "MR"
    assert meta.sequence == ("T1" if "t1" in name else "T2")
    # the same voxel values as SimpleITK's own reading, only re-oriented
    original = sitk.ReadImage(str(path))
    assert float(sitk.GetArrayViewFromImage(original).sum()) == pytest.approx(
        float(sitk.GetArrayViewFromImage(loaded.image).astype(np.float64).sum()))
    index = tuple(n // 3 for n in original.GetSize())
    point = original.TransformIndexToPhysicalPoint(index)
    assert loaded.image[loaded.image.TransformPhysicalPointToIndex(point)] == original[index]


@pytest.mark.parametrize(("name", "labels"), REAL_LABELS)
def test_real_label_maps(sct_data, name, labels):
    seg = read_label_map(sct_data / name)
    assert seg.GetPixelID() == sitk.sitkUInt16
    assert seg.GetDirection() == IDENTITY
    values = set(np.unique(sitk.GetArrayViewFromImage(seg)).tolist())
    if labels is not None:
        assert values == labels
    else:
        assert 0 in values and len(values) > 5


def test_real_label_map_on_its_image_needs_no_resampling(sct_data):
    image = read_image(sct_data / "t2" / "t2.nii.gz").image
    seg = read_label_map(sct_data / "t2" / "t2_seg-manual_labeled.nii.gz", reference=image)
    assert seg.GetSize() == image.GetSize()
    assert seg.GetOrigin() == image.GetOrigin()
    assert seg.GetSpacing() == image.GetSpacing()
    raw = sitk.ReadImage(str(sct_data / "t2" / "t2_seg-manual_labeled.nii.gz"))
    assert int(sitk.GetArrayViewFromImage(seg).astype(bool).sum()) == int(
        (sitk.GetArrayViewFromImage(raw) > 0).sum())


def test_meta_dataclasses_are_frozen():
    meta = ImageMeta((1.0, 1.0, 1.0), (2, 2, 2), "LPS", "MR", "T2", "nifti", "0" * 64, "")
    with pytest.raises(AttributeError):
        meta.sequence = "T1"  # type: ignore[misc]
    assert meta.to_dict()["spacing_mm"] == [1.0, 1.0, 1.0]
