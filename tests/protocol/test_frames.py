"""Frame slots, single process: both modes' hand-over rules, descriptor validation on both
sides (the message names the field), zero-copy views, and the GPU slot table."""

import mmap
import os
import struct
import threading
import time

import numpy as np
import pytest

from livefoley.protocol import (
    ConfigError,
    DeviceError,
    FrameLocation,
    GpuSlotInfo,
    GpuSlotKind,
    PixelFormat,
    ProtocolError,
    SessionParams,
    attach_session,
    create_session,
)
from livefoley.protocol.layout import DESC_BYTES, DESC_FIELDS

LATEST = SessionParams(ring_capacity_frames=64, max_frame_bytes=64 * 48 * 4)
FIFO = SessionParams(ring_capacity_frames=64, frame_mode="fifo", frame_slots=4,
                     max_frame_bytes=64 * 48 * 4)

NEEDS_DEV_SHM = pytest.mark.skipif(not os.path.isdir("/dev/shm"),
                                  reason="pokes the segment through /dev/shm")


def image(k: int, h: int = 8, w: int = 6, c: int = 4) -> np.ndarray:
    return ((np.arange(h * w * c).reshape(h, w, c) + 11 * k) % 251).astype(np.uint8)


def publish(s, k, **kw):
    return s.frames.publish(image(k), frame_index=k, capture_ns=1000 + k,
                            pixel_format=PixelFormat.RGBA8, **kw)


@pytest.fixture
def pair(session_name, request):
    params = request.param if hasattr(request, "param") else LATEST
    with create_session(session_name, params) as host, attach_session(session_name) as side:
        yield host, side


def _poke_desc(session, slot: int, field: str, value) -> None:
    f = next(x for x in DESC_FIELDS if x.name == field)
    off = session.header().desc_offset + slot * DESC_BYTES + f.offset
    with open(f"/dev/shm/{session.name}", "r+b") as fh, mmap.mmap(fh.fileno(), 0) as m:
        struct.pack_into("<" + f.fmt, m, off, value)


# ---- latest ---------------------------------------------------------------------------
def test_latest_hands_over_one_frame_once(pair):
    host, side = pair
    assert side.frames.acquire() is None
    assert publish(host, 1, orientation=(0.5, -0.25, 0.125))
    with side.frames.acquire() as v:
        d = v.descriptor
        assert (d.frame_index, d.capture_ns, d.width, d.height) == (1, 1001, 6, 8)
        assert d.row_pitch_bytes == 24 and d.location is FrameLocation.HOST
        assert d.orientation == (0.5, -0.25, 0.125)
        np.testing.assert_array_equal(v.pixels, image(1))
        assert not v.pixels.flags.writeable
    assert side.frames.acquire() is None, "a frame must not be handed over twice"


def test_latest_producer_never_waits_and_newest_wins(pair):
    host, side = pair
    for k in range(10):
        assert publish(host, k)  # no consumer at all: never refused
    with side.frames.acquire() as v:
        assert v.descriptor.frame_index == 9
        np.testing.assert_array_equal(v.pixels, image(9))
    c = host.counters()
    assert (c["frames_published"], c["frames_dropped"], c["frames_acquired"]) == (10, 9, 1)


def test_latest_held_frame_is_never_overwritten(pair):
    host, side = pair
    publish(host, 0)
    view = side.frames.acquire()
    for k in range(1, 50):
        publish(host, k)
    np.testing.assert_array_equal(view.pixels, image(0))
    view.release()
    with side.frames.acquire() as v:
        assert v.descriptor.frame_index == 49


def test_second_acquire_while_holding_is_refused(pair):
    host, side = pair
    publish(host, 0)
    publish(host, 1)
    v = side.frames.acquire()
    with pytest.raises(ProtocolError) as e:
        side.frames.acquire()
    assert f"slot {v.descriptor.slot_index}) released first" in str(e.value)
    v.release()
    v.release()  # idempotent


# ---- fifo -----------------------------------------------------------------------------
@pytest.mark.parametrize("pair", [FIFO], indirect=True)
def test_fifo_keeps_every_frame_in_order_and_pushes_back(pair):
    host, side = pair
    for k in range(4):
        assert publish(host, k)
    assert not publish(host, 4), "a full fifo must refuse, not drop"
    assert host.counters()["frames_refused"] == 1
    for k in range(4):
        with side.frames.acquire() as v:
            assert v.descriptor.frame_index == k
            np.testing.assert_array_equal(v.pixels, image(k))
    assert side.frames.acquire() is None
    assert publish(host, 4)
    c = host.counters()
    assert (c["frames_published"], c["frames_dropped"], c["frames_acquired"]) == (5, 0, 4)


@pytest.mark.parametrize("pair", [FIFO], indirect=True)
def test_fifo_publish_waits_up_to_timeout_for_a_slot(pair):
    host, side = pair
    for k in range(4):
        publish(host, k)
    t0 = time.monotonic()
    assert not publish(host, 4, timeout_s=0.05)
    assert time.monotonic() - t0 >= 0.05

    def consume_one():
        time.sleep(0.05)
        side.frames.acquire().release()

    t = threading.Thread(target=consume_one)
    t.start()
    assert publish(host, 4, timeout_s=5.0)
    t.join()


@NEEDS_DEV_SHM
@pytest.mark.parametrize("pair", [FIFO], indirect=True)
def test_fifo_bad_descriptor_is_rejected_counted_and_skipped(pair):
    host, side = pair
    publish(host, 0)
    publish(host, 1)
    _poke_desc(host, 0, "width", 0)  # a broken producer scribbles on slot 0's descriptor
    with pytest.raises(ProtocolError) as e:
        side.frames.acquire()
    assert "descriptor width: expected 1..16384, found 0" in str(e.value)
    assert side.counters()["frames_rejected"] == 1
    with side.frames.acquire() as v:
        assert v.descriptor.frame_index == 1


@NEEDS_DEV_SHM
def test_latest_bad_descriptor_is_rejected_and_counted(pair):
    host, side = pair
    publish(host, 0)
    slot = 0  # the producer's first slot
    _poke_desc(host, slot, "pixel_format", 9)
    with pytest.raises(ProtocolError) as e:
        side.frames.acquire()
    assert "pixel_format: expected 1 (RGBA8), 2 (BGRA8) or 3 (RGB8), found 9" in str(e.value)
    assert side.counters()["frames_rejected"] == 1
    assert publish(host, 1)
    with side.frames.acquire() as v:
        assert v.descriptor.frame_index == 1


# ---- publish-side validation ------------------------------------------------------------
def test_publish_rejects_wrong_pixel_shape(pair):
    host, _ = pair
    with pytest.raises(ProtocolError) as e:
        host.frames.publish(image(0, c=3), frame_index=0, capture_ns=0, pixel_format="RGBA8")
    assert "expected uint8 (H, W, 4) for RGBA8, found uint8 (8, 6, 3)" in str(e.value)
    with pytest.raises(ProtocolError) as e:
        host.frames.publish(image(0).astype(np.float32), frame_index=0, capture_ns=0,
                            pixel_format="RGBA8")
    assert "found float32" in str(e.value)


def test_publish_rejects_frames_larger_than_a_slot(pair):
    host, _ = pair
    big = np.zeros((100, 100, 4), np.uint8)
    with pytest.raises(ProtocolError) as e:
        host.frames.publish(big, frame_index=0, capture_ns=0, pixel_format="RGBA8")
    assert f"descriptor size: expected at most {LATEST.max_frame_bytes} bytes" in str(e.value)
    assert "found 40000" in str(e.value)


def test_publish_rejects_non_finite_orientation(pair):
    host, _ = pair
    with pytest.raises(ProtocolError) as e:
        publish(host, 0, orientation=(float("nan"), 0.0, 0.0))
    assert "orientation: expected finite" in str(e.value)


def test_unknown_pixel_format_name(pair):
    host, _ = pair
    with pytest.raises(ConfigError) as e:
        host.frames.publish(image(0), frame_index=0, capture_ns=0, pixel_format="YUV420")
    assert "expected one of RGBA8, BGRA8, RGB8, found 'YUV420'" in str(e.value)


@pytest.mark.parametrize("fmt, channels", [(PixelFormat.RGB8, 3), (PixelFormat.BGRA8, 4)])
def test_other_pixel_formats_and_strided_input(pair, fmt, channels):
    host, side = pair
    src = image(3, h=16, w=12, c=channels)[::2, ::2]  # non-contiguous view
    assert host.frames.publish(src, frame_index=3, capture_ns=0, pixel_format=fmt)
    with side.frames.acquire() as v:
        assert v.descriptor.pixel_format is fmt
        np.testing.assert_array_equal(v.pixels, src)


def test_zero_copy_producer_path(pair):
    host, side = pair
    slot = host.frames.writable_slot()
    buf = host.frames.slot_buffer(slot)
    pitch = 32  # padded rows: 6 px * 4 B = 24 B used
    rows = image(5)
    for y in range(8):
        buf[y * pitch:y * pitch + 24] = rows[y].reshape(-1)
    host.frames.commit_host(slot, frame_index=5, capture_ns=0, width=6, height=8,
                            row_pitch_bytes=pitch, pixel_format="RGBA8")
    with side.frames.acquire() as v:
        assert v.descriptor.row_pitch_bytes == 32
        np.testing.assert_array_equal(v.pixels, rows)
    with pytest.raises(ProtocolError) as e:
        host.frames.commit_host(slot, frame_index=6, capture_ns=0, width=6, height=8,
                                row_pitch_bytes=pitch, pixel_format="RGBA8")
    assert "commit slot: expected" in str(e.value)


def test_pitch_smaller_than_row_is_rejected(pair):
    host, _ = pair
    slot = host.frames.writable_slot()
    with pytest.raises(ProtocolError) as e:
        host.frames.commit_host(slot, frame_index=0, capture_ns=0, width=6, height=8,
                                row_pitch_bytes=20, pixel_format="RGBA8")
    assert "row_pitch_bytes: expected at least 24 (width 6 x 4 bytes), found 20" in str(e.value)


# ---- GPU slots --------------------------------------------------------------------------
def _gpu_info(i: int, size: int = 1 << 21) -> GpuSlotInfo:
    return GpuSlotInfo(kind=GpuSlotKind.CUDA_IPC, byte_size=size,
                       cuda_mem_handle=bytes([i]) * 64, cuda_event_handle=bytes([i + 1]) * 64,
                       device_uuid=bytes(range(16)), fence_value=0)


def test_gpu_slot_table_round_trip(pair):
    host, side = pair
    for i in range(3):
        host.frames.register_gpu_slot(i, _gpu_info(i))
    assert side.frames.gpu_slot(2) == _gpu_info(2)
    nt = GpuSlotInfo(kind=GpuSlotKind.D3D12_NT_HANDLE, byte_size=4096, nt_handle=0x1234,
                     fence_value=77, device_luid=b"\x01" * 8)
    host.frames.register_gpu_slot(1, nt)
    assert side.frames.gpu_slot(1) == nt


def test_publish_gpu_frame(pair):
    host, side = pair
    for i in range(3):
        host.frames.register_gpu_slot(i, _gpu_info(i))
    slot = host.frames.writable_slot()
    assert host.frames.publish_gpu(slot, frame_index=4, capture_ns=9, width=640, height=480,
                                   row_pitch_bytes=2560, pixel_format="BGRA8", fence_value=12)
    with side.frames.acquire() as v:
        d = v.descriptor
        assert d.location is FrameLocation.GPU and v.pixels is None
        assert (d.slot_index, d.fence_value, d.width) == (slot, 12, 640)
        assert side.frames.gpu_slot(d.slot_index).fence_value == 12


def test_publish_gpu_refuses_wrong_or_unregistered_slot(pair):
    host, _ = pair
    slot = host.frames.writable_slot()
    kw = dict(frame_index=0, capture_ns=0, width=4, height=4, row_pitch_bytes=16,
              pixel_format="RGBA8")
    with pytest.raises(ProtocolError) as e:
        host.frames.publish_gpu((slot + 1) % 3, **kw)
    assert f"expected {slot} (the producer's writable slot), found {(slot + 1) % 3}" in str(e.value)
    with pytest.raises(ProtocolError) as e:
        host.frames.publish_gpu(slot, **kw)
    assert "kind: expected a registered kind (1..3), found 0" in str(e.value)
    host.frames.register_gpu_slot(slot, _gpu_info(slot, size=32))
    with pytest.raises(ProtocolError) as e:
        host.frames.publish_gpu(slot, **kw)
    assert f"expected at most 32 bytes (gpu slot {slot}), found 64" in str(e.value)


def test_gpu_slot_from_another_device_is_refused(pair):
    host, side = pair
    host.frames.register_gpu_slot(0, _gpu_info(0))
    assert side.frames.gpu_slot(0, expect_device_uuid=bytes(range(16))).byte_size == 1 << 21
    other = bytes(16)
    with pytest.raises(DeviceError) as e:
        side.frames.gpu_slot(0, expect_device_uuid=other)
    assert f"device_uuid: expected {other.hex()}, found {bytes(range(16)).hex()}" in str(e.value)


def test_gpu_slot_info_checks_handle_sizes():
    with pytest.raises(ProtocolError) as e:
        GpuSlotInfo(kind=GpuSlotKind.CUDA_IPC, byte_size=1, cuda_mem_handle=b"x" * 10)
    assert "cuda_mem_handle: expected 64 bytes, found 10" in str(e.value)


def test_slot_index_out_of_range(pair):
    host, _ = pair
    with pytest.raises(ProtocolError) as e:
        host.frames.gpu_slot(3)
    assert "slot_index: expected 0..2, found 3" in str(e.value)


def test_gpu_only_session_has_no_host_slots(session_name):
    params = SessionParams(ring_capacity_frames=64, max_frame_bytes=0)
    with create_session(session_name, params) as s:
        with pytest.raises(ProtocolError) as e:
            publish(s, 0)
        assert "expected at most 0 bytes (max_frame_bytes), found 192" in str(e.value)
    assert not os.path.exists(f"/dev/shm/{session_name}")
