"""core.io against issue 11: crashes fixed, memory budget, streamed gzip (isal), free text.

Each defect test here failed before its fix (a traceback other than ValueError, a silent
acceptance, a multi-GB read, or a typed name in the results).
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import struct
import time
import warnings

import numpy as np
import pytest
import SimpleITK as sitk

from core.io import (
    budget,
    deid,
    hints,
    list_dicom_series,
    nifti,
    orient,
    read_image,
    read_label_map,
)
from tests.data_io_helpers import (
    AXIAL_IOP,
    SAGITTAL_IOP,
    PeakRss,
    dicom_series,
    image_bytes,
    make_image,
    nifti1_header,
    phantom,
    read_dataset,
    zip_bytes,
)

MIB = 1 << 20


def clean_error(match: str, *args, reader=read_image, **kwargs) -> str:
    """The read raises a ValueError of one plain sentence matching ``match``."""
    with pytest.raises(ValueError, match=match) as info:
        reader(*args, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message and len(message) < 300, message
    assert message.endswith("."), message
    assert info.value.__cause__ is None
    return message


# --------------------------------------------------------------------------- crashes


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd"])
@pytest.mark.parametrize("reader", [read_image, read_label_map])
def test_complex_valued_images_are_refused_in_one_sentence(suffix, reader):
    # was RuntimeError from DICOMOrient / Cast (the New case page's generic red box)
    array = phantom((4, 5, 6)) + 1j * phantom((4, 5, 6), seed=1)
    data = image_bytes(sitk.GetImageFromArray(array.astype(np.complex64)), suffix)
    clean_error("complex voxel values", data, f"x{suffix}", reader=reader)


@pytest.mark.parametrize("spacing", [(0.0, 0.0), (0.0, 0.8), (-0.8, 0.9), (1e9, 0.9),
                                     (0.001, 0.9)])
def test_dicom_pixel_spacing_is_checked_before_itk(spacing):
    # PixelSpacing 0\0 was RuntimeError from SetSpacing: the check did not cover DICOM
    files = dicom_series(3, pixel_spacing=spacing)
    clean_error("voxel spacing .* outside the accepted", files)
    clean_error("voxel spacing .* outside the accepted", zip_bytes(files), "s.zip",
                reader=read_label_map)


def test_dicom_slice_gap_is_checked_before_itk():
    clean_error("voxel spacing 100 mm", dicom_series(3, gap=100.0))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e20, -352.0])
def test_nifti_vox_offset_that_is_not_a_finite_offset_is_refused(value):
    # NaN gave "cannot convert float NaN to integer", inf an OverflowError
    data = bytearray(image_bytes(make_image(phantom((4, 5, 6))), ".nii"))
    data[108:112] = struct.pack("<f", value)
    clean_error("NIfTI header is corrupt", bytes(data), "x.nii")


@pytest.mark.parametrize(("datatype", "bitpix"), [(16, 8), (2, 32), (4, 8), (64, 32)])
def test_nifti_bitpix_that_contradicts_the_datatype_is_refused(datatype, bitpix):
    # the length check used bitpix while ITK decodes by datatype: silently accepted
    data = bytearray(image_bytes(make_image(phantom((4, 5, 6))), ".nii"))
    data[70:74] = struct.pack("<2h", datatype, bitpix)
    clean_error("bitpix", bytes(data), "x.nii")


def test_nifti_header_lying_about_its_voxel_type_is_refused():
    # float32 data under a uint8 header: ITK read a quarter of it, silently
    array = phantom((8, 9, 10))
    body = array.astype("<f4").tobytes()
    header = nifti1_header((10, 9, 8), datatype=2, bitpix=8)
    clean_error("more data than its header declares", header + body, "x.nii")
    clean_error("more data than its header declares", gzip.compress(header + body),
                "x.nii.gz")


@pytest.mark.parametrize(("datatype", "match"), [(128, "colour"), (2304, "colour"),
                                                 (1536, "not supported"),
                                                 (0, "not supported")])
def test_nifti_colour_and_unsupported_voxel_types_are_refused(datatype, match):
    bitpix = {128: 24, 2304: 32, 1536: 128, 0: 32}[datatype]
    header = nifti1_header((4, 4, 4), datatype=datatype, bitpix=bitpix)
    clean_error(match, header + bytes(64 * bitpix // 8), "x.nii")


@pytest.mark.parametrize(
    ("extra", "match"),
    [({"PhotometricInterpretation": "PALETTE COLOR"}, "not greyscale"),
     ({"PhotometricInterpretation": "RGB"}, "not greyscale"),
     ({"RescaleSlope": "nan"}, "invalid RescaleSlope"),
     ({"RescaleIntercept": "inf"}, "invalid RescaleIntercept"),
     ({"BitsAllocated": 12}, "12 bits allocated"),
     ({"BitsAllocated": 1}, "1 bits allocated"),
     ({"Rows": 0}, "invalid matrix size")],
)
def test_dicom_headers_that_were_accepted_or_misreported(extra, match):
    clean_error(match, dicom_series(3, extra=extra))


def test_monochrome1_is_read_as_stored_values():
    files = dicom_series(3, extra={"PhotometricInterpretation": "MONOCHROME1"})
    plain = read_image(dicom_series(3)).image
    assert np.array_equal(sitk.GetArrayViewFromImage(read_image(files).image),
                          sitk.GetArrayViewFromImage(plain))


def test_dicom_header_declaring_a_huge_matrix_is_refused_before_allocation():
    # Rows = Columns = 65535 over 3 slices was a MemoryError (48 GiB float32)
    files = dicom_series(3, extra={"Rows": 65535, "Columns": 65535})
    with PeakRss() as peak:
        clean_error("read budget", files)
    assert peak.delta < 64 * MIB


# --------------------------------------------------------------------------- budget


def zeros_800_gz() -> bytes:
    """The issue's 800^3 float32 NIfTI of zeros as .nii.gz (about 2 MB; one gzip member
    per 8 planes, a valid multi-member stream that is quick to build)."""
    block = gzip.compress(bytes(800 * 800 * 4 * 8), compresslevel=9)
    return gzip.compress(nifti1_header((800, 800, 800))) + block * 100


def test_800_cubed_float32_zeros_are_refused_quickly_with_a_small_peak(tmp_path):
    # was read with a 6 GB peak RSS after a minute
    data = zeros_800_gz()
    assert len(data) < 4 * MIB
    path = tmp_path / "zeros.nii.gz"
    path.write_bytes(data)
    for source in (data, path):
        start = time.perf_counter()
        with PeakRss() as peak:
            message = clean_error("read budget of 1024 MiB", source, "zeros.nii.gz")
        assert time.perf_counter() - start < 2.0
        assert peak.delta < 64 * MIB
        assert "SPINEPAIN_READ_BUDGET_MB" in message


def test_budget_comes_from_the_environment(monkeypatch):
    data = image_bytes(make_image(phantom((50, 50, 60))), ".nii.gz")  # 150k voxels
    assert read_image(data, "x.nii.gz").meta.size == (60, 50, 50)
    monkeypatch.setenv(budget.READ_BUDGET_ENV, "1")  # 1 MiB < 150k * 8 bytes
    clean_error("needs about 2 MiB of memory, over the read budget of 1 MiB", data,
                "x.nii.gz")
    clean_error("read budget", image_bytes(make_image(phantom((50, 50, 60))), ".nrrd"),
                "x.nrrd")
    clean_error("read budget", image_bytes(make_image(phantom((50, 50, 60))), ".mha"),
                "x.mha")
    monkeypatch.setenv(budget.READ_BUDGET_ENV, "2")
    assert read_image(data, "x.nii.gz").meta.size == (60, 50, 50)
    for bad in ("0", "-5", "1.5", "lots"):
        monkeypatch.setenv(budget.READ_BUDGET_ENV, bad)
        clean_error("SPINEPAIN_READ_BUDGET_MB must be a positive whole number", data,
                    "x.nii.gz")


def test_budget_estimates_follow_the_voxel_type():
    assert budget.DEFAULT_READ_BUDGET_MB == 1024
    assert budget.image_working_bytes(100, 2, label_map=False) == 600  # int16 + float32
    assert budget.image_working_bytes(100, 8, label_map=True) == 1000  # float64 + uint16
    assert budget.dicom_working_bytes(100, 1000) == 2800
    header = nifti1_header((512, 512, 512))
    layout = nifti.nifti_layout(header, what="image")
    assert budget.image_working_bytes(layout.n_voxels, layout.decoded_itemsize,
                                      label_map=False) == 1024 * MIB  # the largest allowed
    scaled = bytearray(nifti1_header((10, 10, 10), datatype=4, bitpix=16))
    scaled[112:116] = struct.pack("<f", 2.0)
    layout = nifti.nifti_layout(bytes(scaled), what="image")
    assert (layout.scale, layout.decoded_itemsize) == ((2.0, 0.0), 2)  # scaled per slab


@pytest.mark.parametrize(("slope", "inter"), [(2.0, -7.5), (0.25, 0.0), (1.0, 3.0),
                                              (0.0, 5.0), (float("nan"), 1.0)])
def test_nifti_scaling_matches_itk(tmp_path, slope, inter):
    data = bytearray(image_bytes(make_image(phantom((5, 6, 7), dtype=np.int16),
                                            spacing=(0.5, 0.7, 3.0)), ".nii"))
    data[112:120] = struct.pack("<2f", slope, inter)
    path = tmp_path / "scaled.nii"
    path.write_bytes(bytes(data))
    expected = sitk.Cast(sitk.DICOMOrient(sitk.ReadImage(str(path)), "LPS"),
                         sitk.sitkFloat32)
    for source in (path, gzip.compress(bytes(data))):
        out = read_image(source, "scaled.nii.gz" if isinstance(source, bytes) else None)
        np.testing.assert_allclose(sitk.GetArrayViewFromImage(out.image),
                                   sitk.GetArrayViewFromImage(expected), rtol=1e-6)
        assert out.image.GetOrigin() == expected.GetOrigin()


def test_label_maps_and_dicom_stacks_are_budgeted(monkeypatch):
    labels = np.zeros((40, 50, 60))  # float64: 8 + 2 bytes per voxel = 1.2 MB
    labels[3, 4, 5] = 2
    data = image_bytes(make_image(labels), ".nii.gz")
    assert read_label_map(data, "seg.nii.gz").GetPixelID() == sitk.sitkUInt16
    files = dicom_series(4, rows=300, cols=300)  # stack 4*300*300*4*2 + files 2*~0.7 MB
    assert read_image(files).meta.size[2] == 300
    monkeypatch.setenv(budget.READ_BUDGET_ENV, "1")
    clean_error("Reading this label map needs", data, "seg.nii.gz", reader=read_label_map)
    clean_error("Reading this image needs", files)


def test_zip_unpacking_is_capped_by_half_the_budget(monkeypatch):
    files = dicom_series(3, rows=400, cols=400)  # about 1 MB of slices
    archive = zip_bytes(files)
    monkeypatch.setenv(budget.READ_BUDGET_ENV, "1")  # cap 512 KiB
    clean_error("unpack to .* over the limit of 524288 bytes", archive, "s.zip")


# --------------------------------------------------------------------------- gzip


def test_isal_is_the_inflater_and_gives_the_same_image_as_zlib(monkeypatch):
    assert nifti.GZIP_BACKEND == "isal"
    data = image_bytes(make_image(phantom((20, 30, 40)), spacing=(0.5, 0.7, 3.0)),
                       ".nii.gz", compress=True)
    assert type(nifti.open_gzip(io.BytesIO(data))).__module__.startswith("isal")
    assert type(nifti.open_gzip(io.BytesIO(data), backend="zlib")).__module__ == "gzip"
    fast = read_image(data, "x.nii.gz")
    monkeypatch.setattr(nifti, "GZIP_BACKEND", "zlib")
    assert type(nifti.open_gzip(io.BytesIO(data))).__module__ == "gzip"
    slow = read_image(data, "x.nii.gz")
    assert fast.meta == slow.meta
    assert np.array_equal(sitk.GetArrayViewFromImage(fast.image),
                          sitk.GetArrayViewFromImage(slow.image))


@pytest.mark.parametrize("backend", ["isal", "zlib"])
def test_gzip_checks_hold_with_both_inflaters(monkeypatch, backend):
    monkeypatch.setattr(nifti, "GZIP_BACKEND", backend)
    array = phantom((10, 20, 30), dtype=np.float32)
    plain = image_bytes(make_image(array), ".nii")
    packed = gzip.compress(plain)
    # truncated stream, corrupt deflate data, bad CRC
    clean_error("truncated|corrupt", packed[: len(packed) // 2], "x.nii.gz")
    corrupt = bytearray(packed)
    corrupt[40] ^= 0xFF
    clean_error("truncated|corrupt", bytes(corrupt), "x.nii.gz")
    bad_crc = bytearray(packed)
    bad_crc[-8] ^= 0x01
    clean_error("truncated|corrupt", bytes(bad_crc), "x.nii.gz")
    # a lying ISIZE trailer is never used for sizing: the inflater refuses the member
    lying = bytearray(packed)
    lying[-4:] = struct.pack("<I", 7)
    clean_error("truncated|corrupt", bytes(lying), "x.nii.gz")
    # two members: the second member's data is counted too
    half = len(plain) // 2
    two = gzip.compress(plain[:half]) + gzip.compress(plain[half:])
    assert read_image(two, "x.nii.gz").meta.size == (30, 20, 10)
    # NaN found in the stream
    array[5, 5, 5] = np.nan
    clean_error("NaN", gzip.compress(image_bytes(make_image(array), ".nii")), "x.nii.gz")


def test_gzip_bomb_stops_at_the_declared_size(tmp_path):
    # a 10x10x10 header followed by 256 MiB of zeros in 256 KiB of gzip
    stream = io.BytesIO()
    with gzip.GzipFile(fileobj=stream, mode="wb", compresslevel=9) as handle:
        handle.write(nifti1_header((10, 10, 10)))
        chunk = bytes(MIB)
        for _ in range(256):
            handle.write(chunk)
    bomb = stream.getvalue()
    assert len(bomb) < MIB
    start = time.perf_counter()
    with PeakRss() as peak:
        clean_error("more data than its header declares", bomb, "x.nii.gz")
    assert time.perf_counter() - start < 1.0 and peak.delta < 32 * MIB


def test_a_multi_member_stream_cannot_hide_data_past_the_limit():
    header = nifti1_header((10, 10, 10))
    body = phantom((10, 10, 10)).astype("<f4").tobytes()
    members = gzip.compress(header + body) + gzip.compress(bytes(MIB))
    clean_error("more data than its header declares", members, "x.nii.gz")


# --------------------------------------------------------------------------- orientation


def all_codes() -> list[str]:
    codes = []
    for a in "LRPASI":
        for b in "LRPASI":
            for c in "LRPASI":
                if len({"LRPASI".index(x) // 2 for x in a + b + c}) == 3:
                    codes.append(a + b + c)
    return codes


AXIS = {"L": (1, 0, 0), "R": (-1, 0, 0), "P": (0, 1, 0), "A": (0, -1, 0),
        "S": (0, 0, 1), "I": (0, 0, -1)}


@pytest.mark.parametrize("code", all_codes())
def test_slab_reorientation_equals_dicomorient(code, monkeypatch):
    monkeypatch.setattr(orient, "SLAB_VOXELS", 7)  # many slabs, some of one plane
    direction = tuple(float(v) for v in np.column_stack([AXIS[c] for c in code]).ravel())
    image = make_image(phantom((5, 6, 7), seed=3).astype(np.int16), spacing=(0.6, 1.1, 2.7),
                       origin=(12.0, -7.0, 33.0), direction=direction)
    expected = sitk.Cast(sitk.DICOMOrient(image, "LPS"), sitk.sitkFloat32)
    out, orientation = orient.canonical(image, what="image", label_map=False)
    assert orientation == code
    assert out.GetPixelID() == sitk.sitkFloat32
    assert out.GetSize() == expected.GetSize()
    np.testing.assert_allclose(out.GetOrigin(), expected.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(out.GetSpacing(), expected.GetSpacing(), rtol=1e-12)
    np.testing.assert_allclose(out.GetDirection(), expected.GetDirection(), atol=1e-12)
    assert np.array_equal(sitk.GetArrayViewFromImage(out),
                          sitk.GetArrayViewFromImage(expected))


def test_oblique_slab_reorientation_equals_dicomorient():
    angle = np.deg2rad(25.0)
    rot = np.array([[0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)],
                    [-1, 0, 0]])
    image = make_image(phantom((5, 6, 7), seed=4), spacing=(0.6, 1.1, 2.7),
                       origin=(1.0, 2.0, 3.0), direction=tuple(rot.ravel()))
    expected = sitk.DICOMOrient(image, "LPS")
    out, _ = orient.canonical(image, what="image", label_map=False)
    np.testing.assert_allclose(out.GetOrigin(), expected.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(out.GetDirection(), expected.GetDirection(), atol=1e-12)
    assert np.array_equal(sitk.GetArrayViewFromImage(out),
                          sitk.GetArrayViewFromImage(expected))


def test_lps_float32_input_is_returned_without_a_copy():
    image = make_image(phantom((5, 6, 7)))
    out, orientation = orient.canonical(image, what="image", label_map=False)
    assert orientation == "LPS" and out is image


def test_float64_values_beyond_float32_are_refused():
    array = phantom((4, 5, 6), dtype=np.float64)
    array[1, 1, 1] = 1e300  # finite in the file, infinite as float32
    clean_error("NaN or infinite", image_bytes(make_image(array), ".nrrd"), "x.nrrd")


def test_path_reads_are_streamed_and_hashed_like_bytes(tmp_path):
    data = image_bytes(make_image(phantom((6, 7, 8))), ".nii")
    named = tmp_path / "scan.nii"
    named.write_bytes(data)
    odd = tmp_path / "scan.bin"
    odd.write_bytes(data)
    from_bytes = read_image(data, "scan.nii").meta
    assert read_image(named).meta == from_bytes
    assert read_image(odd, "scan.nii").meta == from_bytes  # copied: ITK needs .nii


# --------------------------------------------------------------------------- free text


NAME = "Zebulon Quackenbush"


def test_typed_name_in_the_description_never_survives_ingest(caplog):
    # "STIR sag <name>" with the name in no identifying tag survived clean_descriptor
    # into the CLI JSON, the series picker, the store and the report
    files = dicom_series(4, description=f"STIR sag {NAME}", protocol=f"{NAME} spine",
                         slope=1.0, intercept=0.0, extra={"ImageComments": f"for {NAME}",
                                "ContrastBolusAgent": f"{NAME}'s gadolinium"})
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        infos = list_dicom_series(files)
        loaded = read_image(files)
        labels = read_label_map(files)
        with pytest.raises(ValueError) as error:
            read_image(files, series_uid="1.2.3")
    assert loaded.meta.series_description == infos[0].description == (
        "STIR sagittal post-contrast")
    assert loaded.meta.sequence == "STIR"
    texts = [json.dumps(loaded.meta.to_dict()), repr(loaded), repr(infos), str(labels),
             json.dumps([i.to_dict() for i in infos]), str(error.value), caplog.text,
             " ".join(str(w.message) for w in caught)]
    for part in ("Zebulon", "Quackenbush", "gadolinium", "spine", "sag "):
        assert not any(part.lower() in text.lower() for text in texts), part
    clean = deid.deidentify(read_dataset(files[0][1]))
    assert "ProtocolName" not in clean and "ImageComments" not in clean
    assert "ContrastBolusAgent" not in clean
    assert NAME.split()[0] not in str(clean)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({"description": "sag t2 tse", "protocol": "x"}, "T2 sagittal"),
     ({"description": "whatever", "protocol": "t1 fs", "iop": AXIAL_IOP}, "T1-FS axial"),
     ({"description": "sag", "protocol": "spine",
       "extra": {"RepetitionTime": "520", "EchoTime": "12"}}, "T1 sagittal"),
     ({"description": "Dr Who", "protocol": "private",
       "extra": {"ScanningSequence": "IR", "InversionTime": "150",
                 "RepetitionTime": "4000", "EchoTime": "60"}}, "STIR sagittal"),
     ({"description": "spine", "protocol": "x", "modality": "CT", "iop": AXIAL_IOP},
      "CT axial"),
     ({"description": "Smith", "protocol": "Smith",
       "iop": (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)}, "coronal")],
)
def test_controlled_description_from_coded_attributes(kwargs, expected):
    assert list_dicom_series(dicom_series(3, **kwargs))[0].description == expected


def test_plane_and_description_vocabularies():
    assert hints.plane_from_orientation(SAGITTAL_IOP) == "sagittal"
    assert hints.plane_from_orientation(AXIAL_IOP) == "axial"
    assert hints.plane_from_orientation((0, 0, 0, 0, 0, 0)) == ""
    assert hints.plane_from_orientation(None) == ""
    assert hints.controlled_description("unknown", "", modality="MR", contrast=False) == ""
    assert hints.sequence_from_timing(4000, 95, None, inversion=False) == "T2"
    assert hints.sequence_from_timing(None, 95, None, inversion=False) == "unknown"
