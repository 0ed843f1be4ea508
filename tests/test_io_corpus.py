"""Bad-input corpus for core.io (issue 11, item 6, image part) and header fuzzing.

``CORPUS`` holds generated hostile inputs: NIfTI, NRRD and MetaImage files, zip archives,
DICOM series, label maps and masks. Each must end in a ``ValueError`` whose message is
one plain sentence (no newline, under 300 characters, no patient data), and the read's
peak resident-set increase must stay below ``PEAK_BOUND`` while the read budget is
``BUDGET_MB`` (so the bound is what the budget promises, plus the interpreter's noise).
The property tests feed random NIfTI header fields and random NRRD/MetaImage headers to
the readers: the outcome is an image or such a ValueError, never another exception.
"""

from __future__ import annotations

import gzip
import io
import re
import struct
import zipfile
from collections.abc import Callable

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.io import LoadedImage, budget, read_image, read_label_map
from tests.data_io_helpers import (
    AXIAL_IOP,
    PHI_STRINGS,
    PeakRss,
    dicom_series,
    image_bytes,
    make_image,
    mark_encrypted,
    nifti1_header,
    patch_central_sizes,
    phantom,
    zip_bytes,
)

MIB = 1 << 20
#: Read budget while the corpus runs, MiB, and the peak RSS bound of each item.
BUDGET_MB = 64
PEAK_BOUND = 96 * MIB
#: A name typed into a series description that appears in no identifying tag.
TYPED_NAME = "Zebulon Quackenbush"


@pytest.fixture(scope="module", autouse=True)
def small_budget():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(budget.READ_BUDGET_ENV, str(BUDGET_MB))
        # warm up lazy imports (pydicom pixel handlers, ITK IO factories)
        read_image(dicom_series(3))
        for suffix in (".nii.gz", ".nrrd", ".mha"):
            read_image(image_bytes(make_image(phantom((4, 5, 6))), suffix), f"x{suffix}")
        yield


def nii(array: np.ndarray, **kwargs) -> bytes:
    return image_bytes(make_image(array, **kwargs), ".nii")


def patched(data: bytes, offset: int, fmt: str, *values) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def mha_header_edit(old: str, new: str, array: np.ndarray | None = None) -> bytes:
    data = image_bytes(make_image(phantom((4, 5, 6)) if array is None else array), ".mha")
    assert old.encode() in data
    return data.replace(old.encode(), new.encode(), 1)


def gzip_bomb() -> bytes:
    stream = io.BytesIO()
    with gzip.GzipFile(fileobj=stream, mode="wb", compresslevel=9) as handle:
        handle.write(nifti1_header((10, 10, 10)))
        for _ in range(200):
            handle.write(bytes(MIB))
    return stream.getvalue()


def zeros_800() -> bytes:
    block = gzip.compress(bytes(800 * 800 * 4 * 8), compresslevel=9)
    return gzip.compress(nifti1_header((800, 800, 800))) + block * 100


def nested_zip() -> bytes:
    inner = zip_bytes(dicom_series(3))
    return zip_bytes([("inner.zip", inner)])


def zip_bomb(*, lying: bool) -> bytes:
    """48 MiB of zeros in about 50 KB; the central directory tells the truth or lies."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("bomb.dcm"), bytes(48 * MIB),
                         compress_type=zipfile.ZIP_DEFLATED)
    return patch_central_sizes(buffer.getvalue(), 1000) if lying else buffer.getvalue()


def empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    return buffer.getvalue()


def dicom_replace(old: bytes, new: bytes, **kwargs) -> list[tuple[str, bytes]]:
    files = dicom_series(3, **kwargs)
    assert all(old in data for _, data in files)
    return [(name, data.replace(old, new)) for name, data in files]


def short_pixel_data() -> list[tuple[str, bytes]]:
    """PixelData shorter than Rows x Columns x 2 (the element length is consistent)."""
    files = dicom_series(3)
    out = []
    for name, data in files:
        tag = data.rindex(b"\xe0\x7f\x10\x00")  # (7FE0,0010) explicit VR: OW, 2 reserved
        length = struct.unpack("<I", data[tag + 8 : tag + 12])[0]
        out.append((name, data[:tag + 8] + struct.pack("<I", length - 20)
                    + data[tag + 12 : tag + 12 + length - 20]))
    return out


def mixed_series() -> list[tuple[str, bytes]]:
    from tests.data_io_helpers import SERIES_UID_2

    return dicom_series(3) + dicom_series(3, series_uid=SERIES_UID_2, iop=AXIAL_IOP,
                                          description=f"T1 {TYPED_NAME}")


def duplicate_slices() -> list[tuple[str, bytes]]:
    files = dicom_series(3)
    return [*files, ("copy.dcm", files[1][1])]  # the same slice twice


def labels(values: dict[tuple[int, int, int], float], dtype=np.float64) -> bytes:
    array = np.zeros((4, 5, 6), dtype)
    for index, value in values.items():
        array[index] = value
    return image_bytes(make_image(array), ".nii.gz")


def far_reference() -> sitk.Image:
    return make_image(phantom((4, 5, 6)), origin=(900.0, 0.0, 0.0))


F32 = phantom((4, 5, 6))
F32_NII = nii(F32)
NAN = F32.copy()
NAN[1, 2, 3] = np.nan
INF64 = F32.astype(np.float64)
INF64[1, 1, 1] = np.inf
CPX = (F32 + 1j * F32).astype(np.complex64)

#: (id, builder of (source, filename), reader, message pattern)
Item = tuple[str, Callable[[], tuple[object, str | None]], Callable, str]
CORPUS: list[Item] = [
    # ---- NIfTI
    ("nii-truncated", lambda: (F32_NII[:500], "x.nii"), read_image, "truncated"),
    ("niigz-truncated", lambda: (gzip.compress(F32_NII)[:200], "x.nii.gz"), read_image,
     "truncated or corrupt"),
    ("nii-wrong-magic", lambda: (F32_NII[:344] + b"XXXX" + F32_NII[348:], "x.nii"),
     read_image, "not a valid NIfTI"),
    ("niigz-not-gzip", lambda: (b"\x1f\x8b" + bytes(range(256)) * 4, "x.nii.gz"), read_image,
     "truncated or corrupt"),
    ("niigz-gzip-of-garbage", lambda: (gzip.compress(bytes(range(256)) * 8), "x.nii.gz"),
     read_image, "not a valid NIfTI"),
    ("nii-huge-dims", lambda: (nifti1_header((32767, 32767, 32767)), "x.nii"), read_image,
     "voxel values, over the limit"),
    ("nii-800-cubed-zeros", lambda: (zeros_800(), "zeros.nii.gz"), read_image,
     "read budget"),
    ("nii-zero-spacing", lambda: (patched(F32_NII, 80, "<f", 0.0), "x.nii"), read_image,
     "spacing 0 mm"),
    ("nii-nan-spacing", lambda: (patched(F32_NII, 84, "<f", float("nan")), "x.nii"),
     read_image, "spacing nan mm"),
    ("nii-negative-spacing", lambda: (patched(F32_NII, 88, "<f", -2.0), "x.nii"), read_image,
     "spacing -2 mm"),
    ("nii-complex", lambda: (image_bytes(sitk.GetImageFromArray(CPX), ".nii.gz"),
                             "x.nii.gz"), read_image, "complex"),
    ("nii-2d", lambda: (image_bytes(make_image(phantom((5, 6))), ".nii"), "x.nii"),
     read_image, "2-D"),
    ("nii-4d-three-volumes", lambda: (image_bytes(sitk.JoinSeries(
        [make_image(phantom((4, 5, 6), seed=s)) for s in range(3)]), ".nii"), "x.nii"),
     read_image, "4-D with 3 volumes"),
    ("nii-5d", lambda: (patched(nifti1_header((4, 5, 6, 1, 2)), 40, "<h", 5)
                        + bytes(4 * 5 * 6 * 2 * 4), "x.nii"), read_image,
     "values per voxel|5-D|4-D"),
    ("nii-nan-voxel", lambda: (nii(NAN), "x.nii"), read_image, "NaN or infinite"),
    ("nrrd-inf-float64-voxel", lambda: (image_bytes(make_image(INF64), ".nrrd"), "x.nrrd"),
     read_image, "NaN or infinite"),
    ("nii-header-lies-about-dtype", lambda: (nifti1_header((10, 9, 8), datatype=2, bitpix=8)
                                             + phantom((8, 9, 10)).tobytes(), "x.nii"),
     read_image, "more data than its header declares"),
    ("nii-bitpix-contradicts-datatype", lambda: (patched(F32_NII, 72, "<h", 8), "x.nii"),
     read_image, "bitpix"),
    ("nii-nan-vox-offset", lambda: (patched(F32_NII, 108, "<f", float("nan")), "x.nii"),
     read_image, "header is corrupt"),
    ("niigz-bomb", lambda: (gzip_bomb(), "x.nii.gz"), read_image,
     "more data than its header declares"),
    ("nii-empty", lambda: (b"", "x.nii"), read_image, "empty"),
    ("nii-ten-bytes", lambda: (b"0123456789", "x.nii"), read_image, "truncated or corrupt"),
    ("nii-constant", lambda: (nii(np.full((4, 5, 6), 3.0, np.float32)), "x.nii"), read_image,
     "same value"),
    ("nii-single-slice", lambda: (nii(phantom((1, 5, 6))), "x.nii"), read_image,
     "single slice"),
    ("nii-rgb", lambda: (nifti1_header((4, 4, 4), datatype=128, bitpix=24) + bytes(192),
                         "x.nii"), read_image, "colour"),
    # ---- NRRD and MetaImage
    ("nrrd-truncated", lambda: (image_bytes(make_image(F32), ".nrrd")[:-100], "x.nrrd"),
     read_image, "truncated or corrupt"),
    ("nrrd-detached", lambda: (image_bytes(make_image(F32), ".nrrd").replace(
        b"encoding: raw\n", b"encoding: raw\ndata file: /etc/passwd\n"), "x.nrrd"),
     read_image, "separate data file"),
    ("nrrd-zero-spacing", lambda: (image_bytes(make_image(F32), ".nrrd").replace(
        b"space directions: (1,0,0)", b"space directions: (0,0,0)"), "x.nrrd"), read_image,
     "spacing 0 mm"),
    ("mha-huge-dims", lambda: (mha_header_edit("DimSize = 6 5 4", "DimSize = 60000 50000 4"),
                               "x.mha"), read_image, "voxel values, over the limit"),
    ("mha-over-budget", lambda: (mha_header_edit("DimSize = 6 5 4", "DimSize = 400 400 400"),
                                 "x.mha"), read_image, "read budget"),
    ("mha-vector", lambda: (mha_header_edit("ElementType", "ElementNumberOfChannels = 3\n"
                                            "ElementType"), "x.mha"), read_image,
     "values per voxel|truncated"),
    ("mha-zero-dim", lambda: (mha_header_edit("DimSize = 6 5 4", "DimSize = 6 5 0"), "x.mha"),
     read_image, "empty"),
    ("mha-external-data", lambda: (mha_header_edit("ElementDataFile = LOCAL",
                                                   "ElementDataFile = ../../secret.raw"),
                                   "x.mha"), read_image, "separate data file"),
    ("mha-negative-spacing", lambda: (mha_header_edit("ElementSpacing = 1 1 1",
                                                      "ElementSpacing = 1 -1 1"), "x.mha"),
     read_image, "spacing -1 mm"),
    # ---- zip archives
    ("zip-slip", lambda: (zip_bytes([("../../etc/evil.dcm", dicom_series(2)[0][1])]),
                          "s.zip"), read_image, "absolute or contains"),
    ("zip-bomb", lambda: (zip_bomb(lying=False), "s.zip"), read_image,
     "would unpack to 50331648 bytes, over the limit of 33554432"),
    ("zip-bomb-lying-directory", lambda: (zip_bomb(lying=True), "s.zip"), read_image,
     "unpacks to more than|corrupt"),
    ("zip-nested", lambda: (nested_zip(), "s.zip"), read_image, "no DICOM files"),
    ("zip-empty", lambda: (empty_zip(), "s.zip"), read_image, "holds no files"),
    ("zip-encrypted", lambda: (mark_encrypted(zip_bytes(dicom_series(2))), "s.zip"),
     read_image, "encrypted"),
    ("zip-truncated", lambda: (zip_bytes(dicom_series(3))[:300], "s.zip"), read_image,
     "corrupt or truncated"),
    # ---- DICOM
    ("dicom-mixed-series", lambda: (mixed_series(), None), read_image, "holds 2 series"),
    ("dicom-duplicate-slices", lambda: (duplicate_slices(), None), read_image,
     "same position"),
    ("dicom-short-pixel-data", lambda: (short_pixel_data(), None), read_image,
     "corrupt or truncated"),
    ("dicom-bits-allocated-12", lambda: (dicom_series(3, extra={"BitsAllocated": 12}), None),
     read_image, "12 bits allocated"),
    ("dicom-zero-pixel-spacing", lambda: (dicom_series(3, pixel_spacing=(0, 0)), None),
     read_image, "spacing 0 mm"),
    ("dicom-palette", lambda: (dicom_series(3, extra={"PhotometricInterpretation":
                                                      "PALETTE COLOR"}), None),
     read_image, "not greyscale"),
    ("dicom-huge-matrix", lambda: (dicom_series(3, extra={"Rows": 40000, "Columns": 40000}),
                                   None), read_image, "read budget"),
    ("dicom-missing-slice", lambda: ((lambda f: f[:2] + f[3:])(dicom_series(5)), None),
     read_image, "uneven slice gaps"),
    ("dicom-mixed-orientation", lambda: (dicom_series(2) + dicom_series(
        2, iop=AXIAL_IOP, origin=(0, 0, 200))[1:], None), read_image,
     "different orientations"),
    ("dicom-single-slice", lambda: (dicom_series(1), None), read_image, "single slice"),
    ("dicom-burned-in", lambda: (dicom_series(3, extra={"BurnedInAnnotation": "YES"}), None),
     read_image, "burned-in"),
    ("dicom-not-dicom", lambda: ([("a.dcm", b"hello " + TYPED_NAME.encode()),
                                  ("b.dcm", b"world")], None), read_image,
     "no DICOM files"),
    ("dicom-nan-rescale", lambda: (dicom_series(3, extra={"RescaleSlope": "nan"}), None),
     read_image, "invalid RescaleSlope"),
    ("dicom-odd-transfer-syntax", lambda: (dicom_replace(b"1.2.840.10008.1.2.1\x00",
                                                         b"1.2.3.4.5.6.7.8.9.0\x00"), None),
     read_image, "unknown transfer syntax|corrupt"),
    # ---- label maps and masks
    ("labels-fractional", lambda: (labels({(1, 1, 1): 2.5}), "seg.nii.gz"), read_label_map,
     "non-integer"),
    ("labels-negative", lambda: (labels({(1, 1, 1): -3}), "seg.nii.gz"), read_label_map,
     "negative label"),
    ("labels-nan", lambda: (labels({(1, 1, 1): np.nan}), "seg.nii.gz"), read_label_map,
     "NaN or infinite"),
    ("labels-too-large", lambda: (labels({(1, 1, 1): 2.0**40}), "seg.nii.gz"),
     read_label_map, "larger than"),
    ("mask-vector", lambda: (image_bytes(sitk.GetImageFromArray(
        np.ones((4, 5, 6, 3), np.uint8), isVector=True), ".nrrd"), "mask.nrrd"),
     read_label_map, "values per voxel"),
    ("mask-complex", lambda: (image_bytes(sitk.GetImageFromArray(CPX), ".nrrd"),
                              "mask.nrrd"), read_label_map, "complex"),
    ("mask-2d", lambda: (image_bytes(make_image(np.ones((5, 6), np.uint8)), ".nii.gz"),
                         "mask.nii.gz"), read_label_map, "2-D"),
    ("labels-over-budget", lambda: (mha_header_edit("DimSize = 6 5 4",
                                                    "DimSize = 500 500 100"), "seg.mha"),
     read_label_map, "read budget"),
    ("labels-no-overlap", lambda: (labels({(1, 1, 1): 1}), "seg.nii.gz"),
     lambda *a, **k: read_label_map(*a, reference=far_reference(), **k), "overlap"),
]


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40
    assert len({item[0] for item in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("name", "build", "reader", "match"), CORPUS,
                         ids=[item[0] for item in CORPUS])
def test_hostile_input_gives_one_clean_sentence_within_bounded_memory(name, build, reader,
                                                                      match):
    source, filename = build()
    with PeakRss() as peak, pytest.raises(ValueError, match=match) as info:
        reader(source, filename)
    message = str(info.value)
    assert message and "\n" not in message and len(message) < 300, message
    assert message.endswith((".", "?")), message
    assert info.value.__cause__ is None and type(info.value) is ValueError
    for phi in (*PHI_STRINGS, *TYPED_NAME.split()):
        assert not re.search(rf"(?<![a-z]){re.escape(phi.lower())}(?![a-z])",
                             message.lower()), (phi, message)
    assert peak.delta < PEAK_BOUND, f"{name}: peak RSS grew {peak.delta / MIB:.0f} MiB"


# --------------------------------------------------------------------------- fuzzing


def check_outcome(read: Callable[[], object]) -> str:
    """Run a read: an image, or a ValueError of one plain sentence; nothing else."""
    try:
        result = read()
    except ValueError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 300, message
        assert type(exc) is ValueError
        return "refused"
    assert isinstance(result, (LoadedImage, sitk.Image))
    return "read"


#: NIfTI-1 header fields: (offset, struct format) and interesting values of each.
NIFTI_FIELDS = {
    "dim0": (40, "<h"), "dim1": (42, "<h"), "dim2": (44, "<h"), "dim3": (46, "<h"),
    "dim4": (48, "<h"), "dim5": (50, "<h"), "datatype": (70, "<h"), "bitpix": (72, "<h"),
    "qfac": (76, "<f"), "pixdim1": (80, "<f"), "pixdim2": (84, "<f"), "pixdim3": (88, "<f"),
    "vox_offset": (108, "<f"), "scl_slope": (112, "<f"), "scl_inter": (116, "<f"),
    "qform_code": (252, "<h"), "sform_code": (254, "<h"), "quatern_b": (256, "<f"),
    "quatern_d": (264, "<f"), "qoffset_x": (268, "<f"), "srow_x0": (280, "<f"),
    "srow_y1": (300, "<f"), "srow_z3": (324, "<f"), "sizeof_hdr": (0, "<i"),
    "magic": (344, "<i"), "extension": (348, "<B"),
}
SHORTS = st.one_of(st.integers(-3, 10), st.sampled_from([2, 4, 8, 16, 32, 64, 128, 256, 512,
                                                          768, 1024, 1280, 1536, 1792, 2048,
                                                          2304, 32767, -32768]))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32),
                   st.sampled_from([0.0, -1.0, 1.0, 352.0, 351.0, 1e30, 2.0]))


def field_value(fmt: str):
    if fmt == "<f":
        return FLOATS
    if fmt == "<B":
        return st.integers(0, 255)
    if fmt == "<i":
        return st.one_of(st.sampled_from([348, 540, 0, -1, 1 << 30]), st.integers())
    return SHORTS


@st.composite
def nifti_mutations(draw):
    names = draw(st.lists(st.sampled_from(sorted(NIFTI_FIELDS)), min_size=1, max_size=4))
    edits = []
    for name in names:
        offset, fmt = NIFTI_FIELDS[name]
        value = draw(field_value(fmt))
        if fmt == "<i":
            value = max(min(value, 2**31 - 1), -(2**31))
        edits.append((offset, fmt, value))
    return edits, draw(st.booleans()), draw(st.sampled_from(["f4", "i2", "u1"]))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=nifti_mutations())
def test_fuzzed_nifti_headers_give_an_image_or_one_sentence(case):
    edits, compress, dtype = case
    data = bytearray(nii(phantom((4, 5, 6)).astype(dtype), spacing=(0.8, 0.9, 2.0)))
    for offset, fmt, value in edits:
        struct.pack_into(fmt, data, offset, value)
    blob = gzip.compress(bytes(data)) if compress else bytes(data)
    name = "x.nii.gz" if compress else "x.nii"
    check_outcome(lambda: read_image(blob, name))
    check_outcome(lambda: read_label_map(blob, name))


NRRD_TYPES = ["float", "double", "short", "unsigned char", "int", "uint64", "signed char",
              "block", "complex", "text", ""]
MET_TYPES = ["MET_FLOAT", "MET_DOUBLE", "MET_SHORT", "MET_UCHAR", "MET_INT", "MET_ULONG_LONG",
             "MET_FLOAT_ARRAY", "MET_STRING", "MET_NONE", ""]
NUMBERS = st.one_of(st.integers(-2, 9).map(str), st.sampled_from(
    ["0", "1e9", "nan", "inf", "-inf", "65536", "4294967297", "x", "", "2.5", "1e-9"]))


@st.composite
def nrrd_files(draw):
    dim = draw(st.sampled_from(["3", "2", "4", "1", "0", "-1", "17", "x"]))
    n = draw(st.integers(0, 5))
    lines = ["NRRD0004", f"type: {draw(st.sampled_from(NRRD_TYPES))}", f"dimension: {dim}",
             "sizes: " + " ".join(draw(st.lists(NUMBERS, min_size=n, max_size=n)))]
    if draw(st.booleans()):
        lines.append("space: left-posterior-superior")
        lines.append("space directions: " + " ".join(
            f"({draw(NUMBERS)},{draw(NUMBERS)},{draw(NUMBERS)})" for _ in range(n)))
    if draw(st.booleans()):
        lines.append("spacings: " + " ".join(draw(st.lists(NUMBERS, min_size=n, max_size=n))))
    lines.append(f"endian: {draw(st.sampled_from(['little', 'big', 'middle']))}")
    lines.append(f"encoding: {draw(st.sampled_from(['raw', 'gzip', 'ascii', 'bzip2', 'hex']))}")
    if draw(st.booleans()):
        lines.append(draw(st.text(alphabet="abc: =\t0123456789.", max_size=30)))
    body = draw(st.binary(max_size=2048))
    return ("\n".join(lines) + "\n\n").encode("latin-1") + body


@st.composite
def mha_files(draw):
    n = draw(st.integers(0, 5))
    lines = ["ObjectType = Image", f"NDims = {draw(NUMBERS)}",
             "DimSize = " + " ".join(draw(st.lists(NUMBERS, min_size=n, max_size=n))),
             f"ElementType = {draw(st.sampled_from(MET_TYPES))}"]
    if draw(st.booleans()):
        lines.append("ElementSpacing = " + " ".join(draw(st.lists(NUMBERS, min_size=n,
                                                                   max_size=n))))
    if draw(st.booleans()):
        lines.append(f"ElementNumberOfChannels = {draw(NUMBERS)}")
    if draw(st.booleans()):
        lines.append(f"CompressedData = {draw(st.sampled_from(['True', 'False']))}")
    if draw(st.booleans()):
        lines.append("TransformMatrix = " + " ".join(draw(NUMBERS) for _ in range(9)))
    lines.append(f"BinaryDataByteOrderMSB = {draw(st.sampled_from(['False', 'True']))}")
    lines.append("ElementDataFile = LOCAL")
    body = draw(st.binary(max_size=2048))
    return ("\n".join(lines) + "\n").encode("latin-1") + body


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=nrrd_files())
def test_fuzzed_nrrd_headers_give_an_image_or_one_sentence(data):
    check_outcome(lambda: read_image(data, "x.nrrd"))
    check_outcome(lambda: read_label_map(data, "x.nrrd"))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mha_files())
def test_fuzzed_metaimage_headers_give_an_image_or_one_sentence(data):
    check_outcome(lambda: read_image(data, "x.mha"))
    check_outcome(lambda: read_label_map(data, "x.mha"))
