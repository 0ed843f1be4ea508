"""core.io against issue 12 item 6: a .nii.gz inflated in a worker thread while converted.

The inflater (``core.io.background.Background``) fills the voxel buffer while
``core.io.orient`` converts the slabs already there, and the input is read and hashed
ahead in a third thread (``ReadAhead``; ``Hasher`` for bytes). These tests pin what
must not change: the same arrays and metadata as the plain ``.nii`` for every
orientation, the same one-sentence refusals (the stream's error first), the SHA-256 of
the input, and no thread left behind, whatever happens.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import threading
import time

import numpy as np
import pytest
import SimpleITK as sitk

from core.io import background, nifti, orient, read_image, read_label_map
from tests.data_io_helpers import (
    PeakRss,
    direction_from_columns,
    image_bytes,
    make_image,
    nifti1_header,
    phantom,
)

MIB = 1 << 20

#: Orientations of the stored volume: the decoded order becomes the output's z (LPS,
#: RAS), a flipped z, or the output's x (sagittal slices) or y (coronal slices).
DIRECTIONS = {
    "LPS": None,
    "RAS": direction_from_columns((-1, 0, 0), (0, -1, 0), (0, 0, 1)),
    "LPI": direction_from_columns((1, 0, 0), (0, 1, 0), (0, 0, -1)),
    "sagittal": direction_from_columns((0, 1, 0), (0, 0, -1), (1, 0, 0)),
    "coronal": direction_from_columns((1, 0, 0), (0, 0, -1), (0, -1, 0)),
}


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("spinepain-")]


@pytest.fixture(autouse=True)
def _small_steps(monkeypatch):
    """Many chunks and slabs on small volumes, so that the pipeline really interleaves;
    and no worker thread may outlive a test."""
    monkeypatch.setattr(nifti, "STREAM_CHUNK_BYTES", 1000)
    monkeypatch.setattr(orient, "STREAMED_SLAB_VOXELS", 700)
    yield
    assert _threads() == []


def _one_sentence(match: str, *args, reader=read_image) -> str:
    with pytest.raises(ValueError, match=match) as info:
        reader(*args)
    message = str(info.value)
    assert "\n" not in message and message.endswith("."), message
    assert info.value.__cause__ is None
    return message


@pytest.mark.parametrize("name", list(DIRECTIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.float64])
def test_nii_gz_gives_the_same_image_as_nii(name, dtype, tmp_path):
    image = make_image(phantom((9, 11, 13), seed=3, dtype=dtype), spacing=(0.7, 0.9, 3.0),
                       origin=(4.0, -7.0, 12.5), direction=DIRECTIONS[name])
    plain = image_bytes(image, ".nii")
    packed = gzip.compress(plain)
    (tmp_path / "x.nii.gz").write_bytes(packed)
    reference = read_image(plain, "x.nii")
    expected = sitk.DICOMOrient(sitk.Cast(image, sitk.sitkFloat32), "LPS")
    for loaded in (read_image(packed, "x.nii.gz"), read_image(tmp_path / "x.nii.gz")):
        assert loaded.meta.input_sha256 == hashlib.sha256(packed).hexdigest()
        assert loaded.meta.orientation == reference.meta.orientation
        assert loaded.meta.size == reference.meta.size
        got = sitk.GetArrayViewFromImage(loaded.image)
        assert got.dtype == np.float32
        assert np.array_equal(got, sitk.GetArrayViewFromImage(reference.image))
        assert np.array_equal(got, sitk.GetArrayViewFromImage(expected))
        assert loaded.image.GetOrigin() == reference.image.GetOrigin()
        assert loaded.image.GetDirection() == reference.image.GetDirection()
        assert loaded.image.GetSpacing() == reference.image.GetSpacing()


@pytest.mark.parametrize("name", ["LPS", "sagittal"])
def test_label_maps_and_scaled_voxels_match_too(name, monkeypatch):
    labels = make_image((phantom((8, 9, 10), seed=1) % 7).astype(np.uint8),
                        direction=DIRECTIONS[name])
    plain = image_bytes(labels, ".nii")
    a = sitk.GetArrayFromImage(read_label_map(plain, "l.nii"))
    b = sitk.GetArrayFromImage(read_label_map(gzip.compress(plain), "l.nii.gz"))
    assert a.dtype == b.dtype == np.uint16 and np.array_equal(a, b) and a.max() == 6
    # scl_slope / scl_inter applied slab by slab as the slabs arrive
    scaled = bytearray(image_bytes(make_image(phantom((8, 9, 10), dtype=np.int16),
                                              direction=DIRECTIONS[name]), ".nii"))
    scaled[112:120] = np.array([0.5, -3.0], dtype="<f4").tobytes()
    a = sitk.GetArrayFromImage(read_image(bytes(scaled), "s.nii").image)
    b = sitk.GetArrayFromImage(read_image(gzip.compress(bytes(scaled)), "s.nii.gz").image)
    assert np.array_equal(a, b) and a.min() == 0.5 * 1 - 3.0


def test_refusals_keep_their_sentence_through_the_pipeline(tmp_path):
    array = phantom((10, 20, 30), dtype=np.float32)
    plain = image_bytes(make_image(array), ".nii")
    packed = gzip.compress(plain)
    expected = len(plain)
    # a stream cut in the middle, corrupt deflate data, a bad CRC: bytes and path alike
    corrupt = bytearray(packed)
    corrupt[len(packed) // 2] ^= 0xFF
    bad_crc = bytearray(packed)
    bad_crc[-8] ^= 0x01
    # (the first cut ends inside the header, before the inflater thread starts)
    for data in (packed[:30], packed[: len(packed) // 2], bytes(corrupt), bytes(bad_crc)):
        (tmp_path / "x.nii.gz").write_bytes(data)
        for args in ((data, "x.nii.gz"), (tmp_path / "x.nii.gz",)):
            message = _one_sentence("corrupt", *args)
            assert message == "The image NIfTI file is truncated or corrupt."
    # a complete gzip stream of a short file: the truncation sentence with its counts
    short = gzip.compress(plain[: expected - 4000])
    assert _one_sentence("truncated", short, "x.nii.gz") == (
        f"The image NIfTI file is truncated: {expected - 4000} of {expected} bytes are "
        "present.")
    # more data than declared (a bomb stops one chunk past the slack)
    message = _one_sentence("more data", gzip.compress(plain + bytes(10_000)), "x.nii.gz")
    assert message.startswith("The image NIfTI file holds more data than its header")
    assert _one_sentence("label map", short, "l.nii.gz", reader=read_label_map) == (
        f"The label map NIfTI file is truncated: {expected - 4000} of {expected} bytes "
        "are present.")


def test_a_gzip_bomb_read_from_a_path_stops_at_the_declared_size(tmp_path):
    header = nifti1_header((10, 10, 10))
    (tmp_path / "bomb.nii.gz").write_bytes(gzip.compress(header + bytes(64 * MIB), 9))
    start = time.perf_counter()
    with PeakRss() as peak:
        assert "more data" in _one_sentence("more data", tmp_path / "bomb.nii.gz")
    assert time.perf_counter() - start < 1.0 and peak.delta < 32 * MIB


def test_the_stream_error_wins_over_a_conversion_error():
    # NaN in the first slab, and the stream truncated far after it: reading the stream
    # first (as before the pipeline) reports the truncation, so the pipeline must too
    array = phantom((40, 20, 30), dtype=np.float32)
    array[0, 0, 0] = np.nan
    plain = image_bytes(make_image(array), ".nii")
    short = gzip.compress(plain[: len(plain) - 20_000])
    assert "truncated:" in _one_sentence("truncated", short, "x.nii.gz")
    # without a stream error, the conversion's own refusal is reported
    assert "NaN" in _one_sentence("NaN", gzip.compress(plain), "x.nii.gz")
    constant = image_bytes(make_image(np.full((10, 10, 10), 3.0, np.float32)), ".nii")
    assert "same value" in _one_sentence("same value", gzip.compress(constant), "x.nii.gz")


def test_a_failed_conversion_stops_the_inflater(monkeypatch):
    plain = image_bytes(make_image(phantom((60, 50, 40), dtype=np.float32)), ".nii")
    packed = gzip.compress(plain)  # 480 chunks of 1000 bytes

    reported = []

    class Slow(background.Background):
        def _progress(self, done):
            reported.append(done)
            time.sleep(0.005)  # over two seconds for the whole volume
            super()._progress(done)

    seen = []

    def failing(grid, *args, **kwargs):
        grid.ready(1)
        seen.append(_threads())
        raise KeyboardInterrupt  # not a ValueError: the worker is cancelled, not awaited

    monkeypatch.setattr(nifti, "Background", Slow)
    monkeypatch.setattr(orient, "_reoriented", failing)
    with pytest.raises(KeyboardInterrupt):
        read_image(packed, "x.nii.gz")
    assert seen and "spinepain-inflate" in seen[0]
    assert max(reported) < len(plain) - 352  # stopped, not inflated to the end
    assert _threads() == []


def test_the_sha256_and_a_read_error_of_the_read_ahead_thread(tmp_path):
    data = bytes(range(256)) * 5000
    reader = background.ReadAhead(io.BytesIO(data), chunk_bytes=3000, depth=2)
    try:
        assert reader.peek(10) == data[:10]  # not consumed
        assert reader.read(10_000) == data[:3000]  # a raw stream: one chunk at most
        assert reader.read(1000) == data[3000:4000]
        assert reader.hexdigest() == hashlib.sha256(data).hexdigest()
        assert reader.read(10) == b""
    finally:
        reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.read(10)

    class Broken(io.BytesIO):
        def read(self, n=-1):
            raise OSError("disk gone")

    reader = background.ReadAhead(Broken(data), chunk_bytes=3000)
    with pytest.raises(OSError, match="disk gone"):
        reader.read(10)
    reader.close()
    # a consumer that gives up early does not leave the worker blocked on a full queue
    reader = background.ReadAhead(io.BytesIO(data), chunk_bytes=100, depth=1)
    reader.read(5)
    time.sleep(0.05)
    reader.close()
    hasher = background.Hasher(depth=1)
    for i in range(0, len(data), 7000):
        hasher.update(data[i : i + 7000])
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()


def test_background_waits_raises_and_cancels():
    gate = threading.Event()

    def task(progress):
        progress(5)
        gate.wait(5)
        progress(10)
        raise ValueError("The image is broken.")

    job = background.Background(task)
    job.wait(5)  # reached before the gate opens
    gate.set()
    with pytest.raises(ValueError, match="broken"):
        job.wait(20)
    with pytest.raises(ValueError, match="broken"):
        job.join()
    assert isinstance(job.error(), ValueError)

    def endless(progress):
        n = 0
        while True:
            n += 1
            progress(n)

    job = background.Background(endless)
    job.wait(100)
    job.cancel()
    assert not job.alive and job.error() is None


@pytest.mark.parametrize("source", ["bytes", "path"])
def test_read_threads_off_reads_in_the_callers_thread_with_the_same_result(source, tmp_path,
                                                                           monkeypatch):
    # a batch worker (one study per core) reads without worker threads: same image,
    # same hash, same refusals, and no thread is ever started
    from core.io import read_threads, set_read_threads

    image = make_image(phantom((9, 11, 13), seed=5), direction=DIRECTIONS["sagittal"])
    packed = gzip.compress(image_bytes(image, ".nii"))
    (tmp_path / "x.nii.gz").write_bytes(packed)
    (tmp_path / "cut.nii.gz").write_bytes(packed[: len(packed) // 2])
    args = (packed, "x.nii.gz") if source == "bytes" else (tmp_path / "x.nii.gz",)
    cut = ((packed[: len(packed) // 2], "x.nii.gz") if source == "bytes"
           else (tmp_path / "cut.nii.gz",))
    threaded = read_image(*args)
    started: list[str] = []
    real_start = threading.Thread.start

    def note_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", note_start)
    assert read_threads()
    set_read_threads(False)
    try:
        plain = read_image(*args)
        message = _one_sentence("truncated or corrupt", *cut)
    finally:
        set_read_threads(True)
    assert started == []
    assert plain.meta.input_sha256 == threaded.meta.input_sha256 == hashlib.sha256(
        packed).hexdigest()
    assert np.array_equal(sitk.GetArrayViewFromImage(plain.image),
                          sitk.GetArrayViewFromImage(threaded.image))
    assert message == "The image NIfTI file is truncated or corrupt."
    read_image(*args)
    assert started  # switched back on: the worker threads are used again
