"""Frame intake over a real session: newest frame, staging, bad descriptors rejected and counted."""

import numpy as np
import pytest

from livefoley.protocol import GpuSlotInfo, GpuSlotKind, SessionParams, attach_session, create_session
from livefoley.protocol.errors import DeviceError
from livefoley.sidecar.runtime.gpu import GpuFrameImporter, cuda_unavailable_reason
from livefoley.sidecar.runtime.intake import FrameIntake

from .helpers import FORMAT_OFFSET, PITCH_OFFSET, WIDTH_OFFSET, corrupt_descriptors


@pytest.fixture
def pair(session_name):
    host = create_session(session_name, SessionParams(frame_mode="latest", max_frame_bytes=64 * 48 * 4))
    side = attach_session(session_name, expect_sample_rate_hz=48000, expect_channels=2)
    yield host, side
    side.close()
    host.close()


def frame(value, h=48, w=64, c=3):
    return np.full((h, w, c), value, dtype=np.uint8)


def test_poll_takes_newest_and_keeps_a_private_copy(pair):
    host, side = pair
    intake = FrameIntake(side)
    assert intake.poll() is None
    for k in range(3):
        host.frames.publish(frame(10 + k), frame_index=k, capture_ns=100 + k, pixel_format="RGB8")
    staged = intake.poll()
    assert staged.frame_index == 2 and staged.capture_ns == 102 and int(staged.pixel_format) == 3
    assert staged.pixels.shape == (48, 64, 3) and (staged.pixels == 12).all()
    # The slot is released: the host overwrites slots, the staged copy stays.
    for k in range(3, 9):
        host.frames.publish(frame(50 + k), frame_index=k, capture_ns=200 + k, pixel_format="RGB8")
    assert (staged.pixels == 12).all()
    assert intake.poll().frame_index == 8
    assert intake.poll() is None  # nothing new: the runtime repeats the staged frame


@pytest.mark.parametrize("offset,value,needle", [
    (WIDTH_OFFSET, 100000, "width"),
    (PITCH_OFFSET, 3, "row_pitch_bytes"),
    (FORMAT_OFFSET, 77, "pixel_format"),
])
def test_bad_descriptor_is_rejected_counted_and_stream_goes_on(pair, offset, value, needle, caplog):
    host, side = pair
    intake = FrameIntake(side)
    host.frames.publish(frame(1), frame_index=0, capture_ns=1, pixel_format="RGB8")
    corrupt_descriptors(host, offset=offset, value=value)
    assert intake.poll() is None
    assert intake.frames_rejected == 1
    assert side.counters()["frames_rejected"] == 1
    assert needle in caplog.text and "expected" in caplog.text and str(value) in caplog.text
    host.frames.publish(frame(7), frame_index=1, capture_ns=2, pixel_format="RGB8")
    staged = intake.poll()
    assert staged is not None and staged.frame_index == 1 and (staged.pixels == 7).all()


def test_frame_too_small_for_the_model_is_rejected(pair, caplog):
    host, side = pair
    intake = FrameIntake(side)
    host.frames.publish(frame(1, h=4, w=4), frame_index=0, capture_ns=1, pixel_format="RGB8")
    assert intake.poll() is None and intake.frames_rejected == 1
    assert "expected at least 8x8 pixels, found 4x4" in caplog.text


def test_gpu_frame_on_a_cpu_sidecar_is_rejected_not_fatal(pair, caplog):
    host, side = pair
    intake = FrameIntake(side, gpu=None)
    slot = host.frames.writable_slot()
    host.frames.register_gpu_slot(slot, GpuSlotInfo(kind=GpuSlotKind.CUDA_IPC, byte_size=64 * 48 * 4))
    host.frames.publish_gpu(slot, frame_index=0, capture_ns=1, width=64, height=48, row_pitch_bytes=64 * 4,
                            pixel_format="RGBA8")
    assert intake.poll() is None and intake.frames_rejected == 1
    assert "expected a host frame (this sidecar has no GPU), found a GPU frame" in caplog.text
    host.frames.publish(frame(3), frame_index=1, capture_ns=2, pixel_format="RGB8")
    assert intake.poll().frame_index == 1


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="CUDA is present here")
def test_gpu_importer_without_cuda_raises_device_error_naming_the_reason():
    with pytest.raises(DeviceError, match=r"GPU frame intake: expected a CUDA device, found .+"):
        GpuFrameImporter(0)
