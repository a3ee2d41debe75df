"""The serving loop in this process against real sessions: the live and lockstep paths, several
sessions in one batch, host death, deadline degradation, and the control handler."""

import subprocess
import sys
import time

import numpy as np
import pytest

from livefoley.engine_bindings.host import InProcessPipeline
from livefoley.protocol.control import validate_telemetry
from livefoley.protocol.errors import ConfigError, SessionError
from livefoley.sidecar.runtime.config import RuntimeConfig
from livefoley.sidecar.runtime.service import Sidecar

HOP = 1600




def frame(value):
    return np.full((32, 40, 3), value, dtype=np.uint8)


def drain(session, n):
    out = np.zeros((n, 2), np.float32)
    return session.audio.read_into(out), out


def test_live_primes_with_silence_then_voices_the_newest_frame(make_session, session_name):
    host = make_session()
    sc = Sidecar([session_name], model="tiny", config=RuntimeConfig(warmup_steps=1))
    try:
        sc.warm_up(height=32, width=40)
        for _ in range(10):
            sc.tick()
        assert host.audio.fill_frames() == 2 * HOP  # the target, reached with silence: no frame yet
        assert sc.sessions[0].silence_blocks == 2
        assert sc.tick() > 0  # at target: the scheduler waits
        for k in range(3):
            host.frames.publish(frame(k * 50), frame_index=k, capture_ns=k, pixel_format="RGB8")
        drain(host, HOP)
        assert sc.tick() == 0.0
        rows = sc.step_log.rows()
        assert rows[-1]["frame_index"] == 2  # the newest; 0 and 1 never reached the sidecar
        assert host.counters()["frames_dropped"] == 2
        drain(host, HOP)
        sc.tick()  # no new frame: the last one is voiced again
        assert sc.step_log.rows()[-1]["frame_index"] == 2 and sc.sessions[0].tracker.steps_repeated == 1
        for k in range(3, 6):
            host.frames.publish(frame(k * 20), frame_index=k, capture_ns=k, pixel_format="RGB8")
        drain(host, HOP)
        sc.tick()
        assert sc.step_log.rows()[-1]["frame_index"] == 5 and sc.sessions[0].tracker.frames_skipped == 2
        _, block = drain(host, 2 * HOP)
        assert np.abs(block).max() > 0
    finally:
        sc.request_stop("test over")
        sc.run()


def test_lockstep_steps_once_per_frame_in_order_and_matches_in_process(make_session, session_name):
    host = make_session(frame_mode="fifo", frame_slots=8)
    sc = Sidecar([session_name], model="tiny", config=RuntimeConfig(lockstep=True, seed=5, warmup_steps=1))
    frames = [np.random.default_rng(k).integers(0, 255, (32, 40, 3), dtype=np.uint8) for k in range(6)]
    try:
        sc.warm_up(height=32, width=40)
        assert sc.tick() > 0 and host.audio.fill_frames() == 0  # no frame, no step, no silence
        for k, f in enumerate(frames):
            assert host.frames.publish(f, frame_index=k, capture_ns=k, pixel_format="RGB8")
        for _ in range(20):
            sc.tick()
        assert [r["frame_index"] for r in sc.step_log.rows()] == list(range(6))
        got, audio = drain(host, 6 * HOP)
        assert got == 6 * HOP
    finally:
        sc.request_stop("test over")
        sc.run()
    pipe = InProcessPipeline("tiny", seed=5)
    expect = np.concatenate([pipe.step(f) for f in frames])
    assert np.array_equal(audio, expect)


def test_several_sessions_step_as_one_batch_and_survive_one_host_dying(make_session, session_name):
    a, b = make_session("-a"), make_session("-b")
    sc = Sidecar([session_name + "-a", session_name + "-b"], model="tiny", config=RuntimeConfig(warmup_steps=0))
    try:
        assert sc.model.batch_size == 2
        a.frames.publish(frame(10), frame_index=0, capture_ns=0, pixel_format="RGB8")
        b.frames.publish(frame(200), frame_index=0, capture_ns=0, pixel_format="RGB8")
        sc.tick()
        rows = sc.step_log.rows()
        assert [(r["step"], r["session"]) for r in rows] == [(0, 0), (0, 1)]
        _, pa = drain(a, HOP)
        _, pb = drain(b, HOP)
        assert np.abs(pa).max() > 0 and not np.array_equal(pa, pb)
        # b's host dies: its pid is replaced by a process that beat once and exited.
        code = (f"from livefoley.protocol import attach_session; s = attach_session({session_name + '-b'!r}); "
                "s.beat('host'); s.close()")
        subprocess.run([sys.executable, "-c", code], check=True)
        sc._beat_and_watch_hosts()
        assert sc.sessions[1].host_gone and not sc.sessions[0].host_gone and not sc.stopping
        a.beat("host")
        sc.tick()
        assert host_fill(a) > 0 and host_fill(b) == 0
        # ... and when the last host is gone, the loop ends by itself.
        code = code.replace("-b", "-a")
        subprocess.run([sys.executable, "-c", code], check=True)
        assert sc.run(max_seconds=5) == "host gone"
    finally:
        sc.request_stop("test over")


def host_fill(s):
    return s.audio.fill_frames()


def test_late_steps_degrade_and_show_in_telemetry(make_session, session_name):
    host = make_session()
    # A deadline of 1% of the period: every real step is late.
    cfg = RuntimeConfig(nfe=2, guidance_scale=3.0, deadline_fraction=0.01, recover_headroom_fraction=0.005,
                        degrade_after_late_steps=2, window_steps=4, warmup_steps=0)
    sc = Sidecar([session_name], model="tiny", config=cfg)
    try:
        host.frames.publish(frame(1), frame_index=0, capture_ns=0, pixel_format="RGB8")
        for _ in range(8):
            sc.tick()
            drain(host, HOP)
        assert sc.governor.degradations == 2
        assert (sc.model.generator.nfe, sc.model.generator.guidance_scale) == (1, 1.0)
        body = validate_telemetry(sc.telemetry())
        assert body["extra"]["nfe"] == 1 and body["extra"]["guidance_scale"] == 1.0
        assert body["deadline_misses"] >= 6 and "vae" in body["stage_latency_ms"]
    finally:
        sc.request_stop("test over")
        sc.run()


def test_control_handler_ops(make_session, session_name):
    make_session()
    sc = Sidecar([session_name], model="tiny", autostart=False, config=RuntimeConfig(warmup_steps=0))
    try:
        hello = sc.hello()
        assert hello["audio"] == {"sample_rate_hz": 48000, "channels": 2, "channel_layout": "stereo",
                                  "block_frames": HOP}
        assert hello["model"]["trained"] is False
        with pytest.raises(SessionError, match="stop: expected state 'running', found 'idle'"):
            sc.stop()
        assert sc.start() == {"state": "running"}
        with pytest.raises(SessionError, match="start: expected state 'idle', found 'running'"):
            sc.start()
        cfg = sc.configure({"nfe": 4, "guidance_scale": 2.0, "target_latency_ms": 100.0, "gain": 0.5})
        assert cfg["nfe"] == 4 and cfg["target_latency_ms"] == 100.0 and cfg["gain"] == 0.5
        assert len(sc.governor.ladder) == 4  # 4, 2, 1, then guidance dropped
        with pytest.raises(ConfigError, match="channel_layout .session .*: expected 'stereo' .*found 'foa'"):
            sc.configure({"channel_layout": "foa"})
        # 1 s of target latency cannot fit a 16384-frame ring with room for a step: refused, kept.
        with pytest.raises(ConfigError, match=r"target latency 48000 frames plus one step \(1600\) expected to "
                                              r"fit the ring, found capacity 16384 frames"):
            sc.configure({"target_latency_ms": 1000.0})
        assert sc.current_config()["target_latency_ms"] == 100.0
        stats = sc.stats()
        assert stats["sessions"][0]["name"] == session_name and stats["target_latency_ms"] == 100.0
        assert sc.shutdown() == {"state": "stopping"} and sc.stopping
    finally:
        sc.request_stop("test over")  # a failed assertion above must not leave run() looping forever
        sc.run()


def test_second_live_sidecar_on_a_session_is_refused_naming_the_pid(make_session, session_name):
    make_session()
    code = (f"import time; from livefoley.protocol import attach_session; s = attach_session({session_name!r}); "
            "print('beating', flush=True); [s.beat('sidecar') or time.sleep(0.05) for _ in range(400)]")
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "beating"
        with pytest.raises(SessionError, match=f"expected no live sidecar, found pid {other.pid} serving it"):
            Sidecar([session_name], model="tiny")
    finally:
        other.kill()
        other.wait()
        other.stdout.close()


def test_missing_session_times_out_with_a_session_error(session_name):
    t0 = time.monotonic()
    with pytest.raises(SessionError, match=session_name):
        Sidecar([session_name + "-absent"], model="tiny", attach_timeout_s=0.3)
    assert time.monotonic() - t0 < 10


def test_sidecar_exits_when_its_host_closes_the_session(make_session, session_name):
    from livefoley.protocol import SessionState

    host = make_session()
    sc = Sidecar([session_name], model="tiny", config=RuntimeConfig(warmup_steps=0))
    host.state = SessionState.CLOSED  # what Host.close() announces before unlinking
    assert sc.run(max_seconds=5) == "host gone"


def test_warm_up_uses_the_published_frame_size_and_keeps_that_frame_for_the_first_step(make_session, session_name):
    host = make_session()
    rgba = np.zeros((32, 40, 4), np.uint8)
    host.frames.publish(rgba, frame_index=41, capture_ns=7, pixel_format="RGBA8")
    sc = Sidecar([session_name], model="tiny", config=RuntimeConfig(warmup_steps=1))
    try:
        sc.warm_up()
        assert sc.model.generator.steps_done == 0  # warm-up steps were discarded (reset)
        sc.tick()
        assert sc.step_log.rows()[0]["frame_index"] == 41
        assert sc.sessions[0].tracker.frames_used == 1
    finally:
        sc.request_stop("test over")
        sc.run()


def test_lockstep_on_a_latest_session_is_refused(make_session, session_name):
    make_session()
    with pytest.raises(ConfigError, match="expected frame mode 'fifo', found 'latest'"):
        Sidecar([session_name], model="tiny", config=RuntimeConfig(lockstep=True))


def test_underruns_after_priming_raise_the_live_target_and_show_in_telemetry(make_session, session_name):
    host = make_session()
    sc = Sidecar([session_name], model="tiny", config=RuntimeConfig(warmup_steps=0, adaptive_extra_steps=1.0))
    try:
        drain(host, 512)  # an underrun before the ring was ever primed: start-up, ignored
        sc._beat_and_watch_hosts()
        for _ in range(4):
            sc.tick()
        sc._beat_and_watch_hosts()  # primed now: the baseline is taken
        assert sc._primed and sc.live.target_fill_frames == 2 * HOP
        drain(host, 3 * HOP)  # the reader outruns the ring: an underrun after start-up
        sc._beat_and_watch_hosts()
        assert sc.live.target_fill_frames == 2 * HOP + HOP // 2
        body = validate_telemetry(sc.telemetry())
        assert body["extra"]["target_latency_ms"] == 83.333 and body["extra"]["latency_raises"] == 1
        assert sc.stats()["target_latency_ms"] == pytest.approx(66.667, abs=1e-3)  # the configured floor
    finally:
        sc.request_stop("test over")
        sc.run()
