"""Faults injected into a running host + sidecar pair (real processes, real shared memory).

Each test spawns `livefoley serve` with the tiny model; they are marked slow (a sidecar takes
a few seconds to import torch, load and warm up on 2 cores).
"""

import json
import signal
import time

import numpy as np
import pytest

from livefoley.engine_bindings.host import Host
from livefoley.protocol import unlink_segment

from .helpers import WIDTH_OFFSET, corrupt_descriptors, pid_running, spawn_host_process, wait_for

pytestmark = pytest.mark.slow
FRAME = np.zeros((48, 64, 3), np.uint8)


def read_lines_until(proc, prefix, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError(f"expected a line starting with {prefix!r} from the host process")


@pytest.fixture
def host(tmp_path):
    h = Host(frame_mode="latest", max_width_px=64, max_height_px=48)
    yield h
    h.close()


def test_host_stall_keeps_the_sidecar_then_host_sigkill_ends_it_within_a_second(tmp_path):
    log = tmp_path / "sidecar.log"
    proc = spawn_host_process("--sidecar-log", str(log), log_path=tmp_path / "host.log")
    name = read_lines_until(proc, "SESSION").split()[1]
    try:
        sidecar_pid = int(read_lines_until(proc, "SIDECAR").split()[1])
        read_lines_until(proc, "READY")
        before = json.loads(read_lines_until(proc, "STATUS").split(" ", 1)[1])
        # A stalled host (debugger, loading hitch) is alive: the sidecar waits for it.
        proc.send_signal(signal.SIGSTOP)
        time.sleep(2.0)
        assert pid_running(sidecar_pid), "the sidecar left a stalled (not dead) host"
        proc.send_signal(signal.SIGCONT)
        time.sleep(1.0)
        statuses = [json.loads(read_lines_until(proc, "STATUS").split(" ", 1)[1]) for _ in range(8)]
        after = statuses[-1]
        assert after["write"] > before["write"] + 2 * 1600, "no audio was generated after the stall"
        assert after["callbacks"] > before["callbacks"]
        # A dead host: the sidecar notices (pid gone) and exits on its own.
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        proc.wait()
        gone = wait_for(lambda: not pid_running(sidecar_pid), timeout_s=10)
        elapsed = time.monotonic() - killed
        assert gone, "the sidecar outlived its host by 10 s"
        text = log.read_text()
        assert "is gone" in text and "sidecar stopped: host gone" in text
        # Noticed within 0.1 s (the host check interval); the rest is interpreter teardown
        # on a loaded 2-core machine.
        assert elapsed < 3.0, f"sidecar took {elapsed:.2f} s to exit after the host died"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        wait_for(lambda: not pid_running(sidecar_pid), timeout_s=10)
        unlink_segment(name)


def test_sidecar_sigkill_reader_plays_silence_and_restart_resumes(host, tmp_path):
    host.spawn_sidecar(model="tiny", log_path=tmp_path / "s1.log")
    host.publish(FRAME)
    host.await_sidecar(120, primed_frames=3200)
    reader = host.start_reader()
    try:
        time.sleep(0.5)
        host.sidecar.send_signal(signal.SIGKILL)
        host.sidecar.wait()
        under0 = host.counters()["underrun_frames"]
        time.sleep(1.0)
        assert reader._thread.is_alive()
        assert host.counters()["underrun_frames"] > under0 + 0.5 * 48000, "the reader did not keep playing silence"
        written = host.counters()["audio_write_count"]
        host.spawn_sidecar(model="tiny", log_path=tmp_path / "s2.log")
        for k in range(400):
            host.publish(FRAME + (k % 200), frame_index=k + 10)
            if host.counters()["audio_write_count"] > written + 10 * 1600:
                break
            time.sleep(1 / 35)
        assert host.counters()["audio_write_count"] > written + 10 * 1600, "a restarted sidecar did not resume"
        assert host.sidecar_alive()
        # The restarted sidecar answers the control channel (its dead predecessor's
        # connection file was replaced).
        client = host.control()
        assert client.hello()["audio"]["sample_rate_hz"] == 48000
        assert client.configure(nfe=2)["nfe"] == 2
        stats = client.stats()
        assert stats["deadline"]["nfe"] in (1, 2) and stats["sessions"][0]["name"] == host.name
        telemetry = next(client.watch())  # published on the PUB socket, checked by its schema
        assert telemetry["kind"] == "telemetry" and telemetry["steps"] > 0
        assert telemetry["ring_capacity_frames"] == host.session.params.ring_capacity_frames
    finally:
        reader.stop()
    # SIGINT (Ctrl-C at a terminal) is a clean exit too.
    host.sidecar.send_signal(signal.SIGINT)
    assert host.sidecar.wait(timeout=15) == 0
    assert "sidecar stopped: signal SIGINT" in (tmp_path / "s2.log").read_text()


def test_frames_at_twice_the_latent_rate_and_bad_descriptors_then_sigterm_exits_cleanly(host, tmp_path):
    report = tmp_path / "report.json"
    proc = host.spawn_sidecar(model="tiny", log_path=tmp_path / "s.log", report_path=report, no_control=True)
    host.publish(FRAME)
    host.await_sidecar(120, primed_frames=3200)
    reader = host.start_reader()
    try:
        # Phase 1: frames at 60 fps, twice the latent rate, for 4 s.
        fps = 60.0
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < 4.0:
            time.sleep(max(0.0, t0 + k / fps - time.monotonic()))
            host.publish(FRAME + (k % 200), frame_index=k + 1)
            k += 1
        fast_frames = k
        # Phase 2: every third descriptor corrupted by a buggy host, for 2 s at 30 fps.
        for j in range(60):
            host.publish(FRAME + j, frame_index=fast_frames + j + 1)
            if j % 3 == 0:
                corrupt_descriptors(host.session, offset=WIDTH_OFFSET, value=100000)
            time.sleep(1 / 30)
        counters = host.counters()
        assert counters["frames_rejected"] >= 3, "no corrupted descriptor reached the sidecar"
        assert proc.poll() is None, "a bad descriptor took the sidecar down"
    finally:
        reader.stop()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    data = json.loads(report.read_text())
    assert data["exit_reason"] == "signal SIGTERM"
    assert "sidecar stopped: signal SIGTERM" in (tmp_path / "s.log").read_text()
    assert "expected 1..16384, found 100000" in (tmp_path / "s.log").read_text()
    assert data["stats"]["sessions"][0]["sidecar_rejected"] >= 3

    steps = [r for r in data["steps"] if 0 < r["frame_index"] <= fast_frames]
    used = {r["frame_index"] for r in steps}
    assert len(used) < 0.75 * fast_frames, f"expected about half of {fast_frames} frames skipped, found {len(used)} used"
    assert len(steps) >= 10
    # The audio clock, not the frame rate, paces the steps: at most 30 a second (plus the
    # catch-up after start-up), not 60.
    assert len(steps) <= 4.0 * 30 + 10, f"{len(steps)} steps in 4 s: stepping per frame, not per latent"
    # Never behind: a step takes the newest frame, so it was captured at most about one frame
    # period before the step began.
    age_ms = np.array([(r["done_ns"] - r["capture_ns"]) / 1e6 - r["step_ms"] for r in steps])
    assert np.median(age_ms) < 1000 / fps + 5, f"frames are {np.median(age_ms):.1f} ms old at step start"
    assert np.percentile(age_ms, 90) < 60, f"p90 frame age {np.percentile(age_ms, 90):.1f} ms"
    after = [r for r in data["steps"] if r["frame_index"] > fast_frames]
    assert len({r["frame_index"] for r in after}) >= 10, "good frames stopped being taken after bad ones"
