"""The Python host API without a model: session, frames, audio at a device cadence, errors."""

import time

import numpy as np
import pytest

from livefoley.engine_bindings.host import AudioCadenceReader, Host
from livefoley.protocol import attach_session
from livefoley.protocol.errors import ConfigError, DeviceError, SessionError


@pytest.fixture
def host(session_name):
    h = Host(session_name, max_width_px=64, max_height_px=48)
    yield h
    h.close()


def test_publish_numpy_frames_reach_an_attached_consumer(host, session_name):
    side = attach_session(session_name, expect_sample_rate_hz=48000, expect_channels=2)
    try:
        rgba = np.zeros((48, 64, 4), np.uint8)
        rgba[..., 0] = 9
        assert host.publish(rgba, capture_ns=123)
        view = side.frames.acquire()
        assert view.descriptor.frame_index == 0 and view.descriptor.capture_ns == 123
        assert view.descriptor.pixel_format.name == "RGBA8" and (view.pixels[..., 0] == 9).all()
        view.release()
        assert host.publish(np.zeros((48, 64, 4), np.uint8), pixel_format="bgra8")
        assert side.frames.acquire().descriptor.pixel_format.name == "BGRA8"
        assert host.frames_published == 2
    finally:
        side.close()


def test_publish_rejects_bad_frames_naming_expected_and_found(host):
    with pytest.raises(ConfigError, match="expected dtype uint8, found float32"):
        host.publish(np.zeros((48, 64, 3), np.float32))
    with pytest.raises(ConfigError, match=r"expected \(H, W, 3\) or \(H, W, 4\) uint8, found shape \(48, 64\)"):
        host.publish(np.zeros((48, 64), np.uint8))
    with pytest.raises(ConfigError, match="pixel_format: expected one of .*found 'yuv'"):
        host.publish(np.zeros((48, 64, 3), np.uint8), pixel_format="yuv")


def test_bad_frame_mode_is_refused(session_name):
    with pytest.raises(ConfigError, match="frame_mode: expected 'latest' or 'fifo', found 'newest'"):
        Host(session_name, frame_mode="newest")


def test_fifo_publish_reports_back_pressure(session_name):
    with Host(session_name, frame_mode="fifo", slot_count=2, max_width_px=8, max_height_px=8) as h:
        f = np.zeros((8, 8, 3), np.uint8)
        assert h.publish(f) and h.publish(f)
        assert not h.publish(f, timeout_s=0.01)
        assert h.frames_refused == 1


def test_read_audio_gives_silence_and_counts_underruns(host):
    out = np.ones((256, 2), np.float32)
    assert host.read_audio(out) == 0
    assert not out.any()
    assert host.counters()["underrun_frames"] == 256


def test_cadence_reader_reads_at_the_device_rate_and_maps_ring_positions(host):
    block = np.tile(np.arange(4800, dtype=np.float32)[:, None] / 4800, (1, 2))  # 100 ms ramp
    assert host.session.audio.write(block) == 4800
    reader = host.start_reader(block_frames=256, capture_seconds=1.0)
    time.sleep(0.3)
    reader.stop()
    # 0.3 s at 48 kHz / 256 = ~56 callbacks; Python sleeps are coarse, so a wide margin
    assert 40 <= reader.callbacks <= 70
    audio = reader.audio()
    assert np.array_equal(audio[:4800], block)  # the ramp came out in order, once
    assert not audio[4800:].any()  # then silence
    c = host.counters()
    assert c["audio_read_count"] == 4800 and c["underrun_frames"] == reader.callbacks * 256 - 4800
    heard = reader.time_of_ring_position(np.array([0, 255, 256, 4799, 4800]))
    assert heard[0] == heard[1] == reader.callback_ns[0] and heard[2] == reader.callback_ns[1]
    assert heard[3] > 0 and heard[4] == -1  # position 4800 was never written, so never heard


def test_reader_refuses_another_sample_rate(host):
    with pytest.raises(ConfigError, match="expected the session's rate 48000 Hz, found 44100 Hz"):
        AudioCadenceReader(host.session, sample_rate_hz=44100)


def test_await_sidecar_times_out_naming_the_session(host, session_name):
    with pytest.raises(SessionError, match=f"session {session_name}: expected a sidecar within 0.2 s, found none"):
        host.await_sidecar(timeout_s=0.2)


def test_gpu_publish_without_cuda_is_a_device_error(host):
    from livefoley.engine_bindings.host.gpu import CudaSlotExporter
    from livefoley.sidecar.runtime.gpu import cuda_unavailable_reason

    if cuda_unavailable_reason() is None:
        pytest.skip("CUDA is present here; the gpu-marked test covers it")
    with pytest.raises(DeviceError, match="GPU frames: expected .*found"):
        CudaSlotExporter(host.session)
