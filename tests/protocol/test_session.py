"""Session lifecycle: ownership, permissions, heartbeats and peer detection, state, endpoint."""

import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from livefoley.protocol import (
    ConfigError,
    SessionError,
    unlink_segment,
    PeerState,
    ProtocolError,
    SessionParams,
    SessionState,
    attach_session,
    create_session,
)

SMALL = SessionParams(ring_capacity_frames=1024, max_frame_bytes=4096)
ON_LINUX = sys.platform.startswith("linux")

ATTACH_AND_BEAT = """
import sys, time
from livefoley.protocol import attach_session
s = attach_session(sys.argv[1])
s.beat("sidecar")
print("beat", flush=True)
if len(sys.argv) > 2:
    time.sleep(float(sys.argv[2]))
s.close()
import sys as _s
print("tracker" if "multiprocessing.resource_tracker" in _s.modules else "no-tracker")
"""


@pytest.fixture
def owner(session_name):
    with create_session(session_name, SMALL) as s:
        yield s


@pytest.mark.skipif(not ON_LINUX, reason="checks the /dev/shm file mode")
def test_segment_is_private_to_its_user(owner):
    mode = stat.S_IMODE(os.stat(f"/dev/shm/{owner.name}").st_mode)
    assert mode == 0o600, f"expected mode 0600, found {oct(mode)}"


@pytest.mark.skipif(not ON_LINUX, reason="checks /dev/shm")
def test_owner_close_unlinks_and_attacher_close_does_not(session_name):
    owner = create_session(session_name, SMALL)
    other = attach_session(session_name)
    other.close()
    assert os.path.exists(f"/dev/shm/{session_name}"), "an attacher removed the segment"
    owner.close()
    assert not os.path.exists(f"/dev/shm/{session_name}")
    owner.close()  # idempotent


def test_attacher_process_neither_unlinks_nor_uses_the_resource_tracker(owner):
    out = subprocess.run([sys.executable, "-c", ATTACH_AND_BEAT, owner.name],
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["beat", "no-tracker"]
    assert "leaked" not in out.stderr, out.stderr
    with attach_session(owner.name) as again:  # still there after the attacher exited
        assert again.params == SMALL


def test_peer_absent_before_any_heartbeat(owner):
    status = owner.peer_status("sidecar")
    assert status.state is PeerState.ABSENT and status.pid == 0 and status.age_s is None


def test_peer_alive_then_stale(owner):
    owner.beat("host")
    with attach_session(owner.name) as side:
        status = side.peer_status("host", stale_after_s=5.0)
        assert status.state is PeerState.ALIVE and status.pid == os.getpid()
        time.sleep(0.12)
        stale = side.peer_status("host", stale_after_s=0.05)
        assert stale.state is PeerState.STALE and stale.age_s >= 0.1


def test_peer_dead_after_exit(owner):
    subprocess.run([sys.executable, "-c", ATTACH_AND_BEAT, owner.name], check=True,
                   capture_output=True, timeout=60)
    status = owner.peer_status("sidecar", stale_after_s=60.0)
    assert status.state is PeerState.DEAD and status.pid > 0


@pytest.mark.skipif(not ON_LINUX, reason="zombie detection reads /proc")
def test_peer_dead_when_sigkilled_even_before_reaped(owner):
    child = subprocess.Popen([sys.executable, "-c", ATTACH_AND_BEAT, owner.name, "60"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "beat"
        assert owner.peer_status("sidecar").state is PeerState.ALIVE
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while owner.peer_status("sidecar", 60.0).state is not PeerState.DEAD:
            assert time.monotonic() < deadline, "SIGKILLed peer never reported dead"
            time.sleep(0.01)
        assert owner.peer_status("sidecar", 60.0).pid == child.pid
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_bad_role_is_refused(owner):
    with pytest.raises(ConfigError) as e:
        owner.beat("engine")
    assert "expected 'host' or 'sidecar', found 'engine'" in str(e.value)


def test_state_round_trip_between_processes(owner):
    assert owner.state is SessionState.CREATED
    with attach_session(owner.name) as side:
        side.state = SessionState.RUNNING
        assert owner.state is SessionState.RUNNING
        assert owner.header().state is SessionState.RUNNING
    with pytest.raises(ConfigError):
        owner.state = 42


def test_control_endpoint_round_trip(session_name):
    params = SessionParams(ring_capacity_frames=1024, max_frame_bytes=0,
                           control_endpoint="tcp://127.0.0.1:5555")
    with create_session(session_name, params) as s, attach_session(session_name) as side:
        assert side.control_endpoint == "tcp://127.0.0.1:5555"
        assert side.params == params
        side.control_endpoint = "ipc:///tmp/lf-ctl"
        assert s.header().control_endpoint == "ipc:///tmp/lf-ctl"
        with pytest.raises(ConfigError) as e:
            s.control_endpoint = "x" * 300
        assert "found 300" in str(e.value)


def test_header_snapshot_describes_the_segment(owner):
    h = owner.header()
    assert h.created_by_pid == os.getpid()
    assert (h.sample_rate_hz, h.channels, h.ring_capacity_frames) == (48000, 2, 1024)
    assert h.total_bytes == owner.segment_bytes
    assert h.audio_offset % 4096 == 0 and h.pixels_offset % 4096 == 0


def test_closed_session_refuses_use(owner):
    owner.close()
    with pytest.raises(ProtocolError) as e:
        owner.counters()
    assert "found it closed" in str(e.value)


def test_close_with_live_frame_view_keeps_memory_valid(owner):
    pixels = np.full((4, 4, 4), 9, np.uint8)
    owner.frames.publish(pixels, frame_index=1, capture_ns=0, pixel_format="RGBA8")
    side = attach_session(owner.name)
    view = side.frames.acquire()
    side.close()
    assert int(view.pixels.sum()) == 9 * 64  # mapping outlives close while the view lives


def test_unlink_segment_removes_a_crashed_hosts_leftover(session_name):
    leftover = create_session(session_name, SMALL)
    leftover._mapping.owner = False  # as if the host died without closing
    leftover.close()
    assert unlink_segment(session_name) is True
    assert unlink_segment(session_name) is False
    with pytest.raises(SessionError):
        attach_session(session_name)


def test_every_handle_refuses_use_after_close(owner):
    ring, frames = owner.audio, owner.frames
    owner.close()
    for call in (lambda: ring.write(np.zeros((4, 2), np.float32)),
                 lambda: ring.read_into(np.zeros((4, 2), np.float32)),
                 ring.fill_frames,
                 frames.acquire,
                 lambda: frames.publish(np.zeros((2, 2, 4), np.uint8), frame_index=0,
                                        capture_ns=0, pixel_format="RGBA8")):
        with pytest.raises(ProtocolError) as e:
            call()
        assert "expected an open session, found it closed" in str(e.value)
