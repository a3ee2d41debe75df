"""Audio ring, single-threaded: every edge (empty, full, exact capacity, wrap-around, 64-bit
counters across 2**64), the silence/underrun contract, and argument checks. A property test
compares random write/read sequences against a plain Python model."""

import collections
import mmap
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livefoley.protocol import ProtocolError, SessionParams, create_session
from livefoley.protocol.layout import HEADER_FIELDS

CAP = 1024
PARAMS = SessionParams(ring_capacity_frames=CAP, max_frame_bytes=0)

NEEDS_DEV_SHM = pytest.mark.skipif(not os.path.isdir("/dev/shm"),
                                  reason="pokes the segment through /dev/shm")


def frames(first: int, n: int, channels: int = 2) -> np.ndarray:
    """Frame k holds (k, -k - 0.5): every frame is distinguishable."""
    k = np.arange(first, first + n, dtype=np.float32)
    return np.stack([k, -k - 0.5], axis=1) if channels == 2 else np.repeat(k[:, None], channels, 1)


@pytest.fixture
def ring_session(session_name):
    with create_session(session_name, PARAMS) as s:
        yield s


def test_empty_ring_reads_silence_and_counts_underrun(ring_session):
    ring = ring_session.audio
    out = np.full((256, 2), 7.0, np.float32)
    assert ring.fill_frames() == 0 and ring.free_frames() == CAP
    assert ring.read_into(out) == 0
    assert not out.any()
    c = ring_session.counters()
    assert (c["underrun_frames"], c["underrun_events"], c["audio_reads"]) == (256, 1, 1)


def test_partial_read_is_data_then_silence(ring_session):
    ring = ring_session.audio
    assert ring.write(frames(0, 10)) == 10
    out = np.full((16, 2), 7.0, np.float32)
    assert ring.read_into(out) == 10
    np.testing.assert_array_equal(out[:10], frames(0, 10))
    assert not out[10:].any()
    assert ring_session.counters()["underrun_frames"] == 6


def test_exact_capacity_then_full(ring_session):
    ring = ring_session.audio
    assert ring.write(frames(0, CAP)) == CAP
    assert ring.fill_frames() == CAP and ring.free_frames() == 0
    assert ring.write(frames(CAP, 5)) == 0, "a full ring must refuse, never overwrite"
    assert ring_session.counters()["audio_overflow_frames"] == 5
    out = np.empty((CAP, 2), np.float32)
    assert ring.read_into(out) == CAP
    np.testing.assert_array_equal(out, frames(0, CAP))
    assert ring_session.counters()["underrun_frames"] == 0


def test_oversized_write_takes_what_fits(ring_session):
    ring = ring_session.audio
    assert ring.write(frames(0, 100)) == 100
    assert ring.write(frames(100, CAP)) == CAP - 100
    assert ring_session.counters()["audio_overflow_frames"] == 100
    out = np.empty((CAP, 2), np.float32)
    assert ring.read_into(out) == CAP
    np.testing.assert_array_equal(out, frames(0, CAP))


def test_wrap_around_keeps_order(ring_session):
    ring = ring_session.audio
    out = np.empty((700, 2), np.float32)
    for rnd in range(5):  # 3500 frames through a 1024-frame ring: wraps 3 times
        assert ring.write(frames(rnd * 700, 700)) == 700
        assert ring.read_into(out) == 700
        np.testing.assert_array_equal(out, frames(rnd * 700, 700))
    c = ring_session.counters()
    assert c["audio_write_count"] == c["audio_read_count"] == 3500


def test_counters_across_two_to_the_64(ring_session):
    ring = ring_session.audio
    start = 2**64 - 300
    ring.reset_position(start)
    out = np.empty((200, 2), np.float32)
    for i in range(5):  # the counters pass 2**64 - 1 and wrap to small numbers
        assert ring.write(frames(i * 200, 200)) == 200
        assert ring.fill_frames() == 200
        assert ring.read_into(out) == 200
        np.testing.assert_array_equal(out, frames(i * 200, 200))
    c = ring_session.counters()
    assert c["audio_write_count"] == (start + 1000) % 2**64 == 700
    assert ring.write(frames(0, CAP + 1)) == CAP  # full/empty arithmetic still exact


@NEEDS_DEV_SHM
def test_corrupted_write_count_yields_silence_not_stale_bytes(ring_session):
    ring = ring_session.audio
    ring.write(frames(0, 50))
    field = next(f for f in HEADER_FIELDS if f.name == "audio_write_count")
    with open(f"/dev/shm/{ring_session.name}", "r+b") as fh, mmap.mmap(fh.fileno(), 0) as m:
        struct.pack_into("<Q", m, field.offset, 50 + 10 * CAP)  # impossible: 10x capacity
    out = np.full((64, 2), 3.0, np.float32)
    assert ring.read_into(out) == 0
    assert not out.any()
    assert ring.fill_frames() == 0  # the reader resynchronised to the producer's count
    assert ring.write(frames(7, 8)) == 8
    assert ring.read_into(out[:8]) == 8
    np.testing.assert_array_equal(out[:8], frames(7, 8))


def test_zero_length_calls_do_nothing(ring_session):
    ring = ring_session.audio
    assert ring.write(np.empty((0, 2), np.float32)) == 0
    assert ring.read_into(np.empty((0, 2), np.float32)) == 0
    assert ring_session.counters()["audio_reads"] == 0


def test_non_contiguous_input_is_accepted(ring_session):
    ring = ring_session.audio
    wide = frames(0, 20)[::2]  # strided view
    assert ring.write(wide) == 10
    out = np.empty((10, 2), np.float32)
    ring.read_into(out)
    np.testing.assert_array_equal(out, wide)


@pytest.mark.parametrize("block, found", [
    (np.zeros((4, 2), np.float64), "float64 (4, 2)"),
    (np.zeros((4, 3), np.float32), "float32 (4, 3)"),
    (np.zeros(8, np.float32), "float32 (8,)"),
])
def test_write_rejects_wrong_dtype_or_shape(ring_session, block, found):
    with pytest.raises(ProtocolError) as e:
        ring_session.audio.write(block)
    assert "expected float32 (n, 2)" in str(e.value) and found in str(e.value)


def test_write_rejects_non_arrays(ring_session):
    with pytest.raises(ProtocolError) as e:
        ring_session.audio.write([[0.0, 0.0]])
    assert "found list" in str(e.value)


def test_read_into_rejects_read_only_and_strided(ring_session):
    ro = np.zeros((4, 2), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ProtocolError) as e:
        ring_session.audio.read_into(ro)
    assert "writeable=False" in str(e.value)
    with pytest.raises(ProtocolError) as e:
        ring_session.audio.read_into(np.zeros((8, 2), np.float32)[::2])
    assert "contiguous=False" in str(e.value)


def test_multichannel_ring(session_name):
    with create_session(session_name, SessionParams(channels=6, ring_capacity_frames=64,
                                                    max_frame_bytes=0)) as s:
        assert s.audio.write(frames(0, 40, channels=6)) == 40
        out = np.empty((50, 6), np.float32)
        assert s.audio.read_into(out) == 40
        np.testing.assert_array_equal(out[:40], frames(0, 40, channels=6))
        assert not out[40:].any()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["w", "r"]), st.integers(0, 3 * CAP // 2)),
                max_size=40))
def test_ring_matches_a_fifo_model(ops):
    name = f"lf-test-{os.getpid()}-prop"
    model = collections.deque()
    written = 0
    underrun = overflow = 0
    with create_session(name, PARAMS) as s:
        for op, n in ops:
            if op == "w":
                got = s.audio.write(frames(written, n))
                assert got == min(n, CAP - len(model))
                model.extend(range(written, written + got))
                overflow += n - got
                written += got
            else:
                out = np.empty((n, 2), np.float32)
                got = s.audio.read_into(out)
                want = [model.popleft() for _ in range(min(n, len(model)))]
                assert got == len(want)
                np.testing.assert_array_equal(out[:got, 0], np.array(want, np.float32))
                assert not out[got:].any()
                underrun += n - got
            assert s.audio.fill_frames() == len(model)
        c = s.counters()
        assert (c["underrun_frames"], c["audio_overflow_frames"]) == (underrun, overflow)


@NEEDS_DEV_SHM
def test_reader_snapshot_ignores_a_scribbled_header(ring_session):
    """The ring's geometry is validated once and cached: a peer that later rewrites the
    header's region table cannot steer this side's copies out of bounds."""
    ring = ring_session.audio
    field = next(f for f in HEADER_FIELDS if f.name == "audio_offset")
    with open(f"/dev/shm/{ring_session.name}", "r+b") as fh, mmap.mmap(fh.fileno(), 0) as m:
        struct.pack_into("<Q", m, field.offset, 1 << 40)  # far outside the mapping
    assert ring.write(frames(0, 300)) == 300
    out = np.empty((300, 2), np.float32)
    assert ring.read_into(out) == 300
    np.testing.assert_array_equal(out, frames(0, 300))
