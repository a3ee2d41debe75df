"""The scheduler against a fake clock: a game, an audio reader and a model, simulated.

No shared memory and no model: this checks the decisions (when to step, which frame) that
the runtime loop makes from ring fill and frame indices.
"""

import pytest

from livefoley.protocol.errors import ConfigError
from livefoley.sidecar.runtime.config import RuntimeConfig
from livefoley.sidecar.runtime.scheduler import AudioClockScheduler, FrameTracker, LockstepScheduler

SR = 48000
HOP = 1600
BLOCK = 256


def simulate(*, fps, seconds, step_ms, stall=None, target_steps=2.0):
    """Advance a fake clock in 0.25 ms ticks; return what the live loop did.

    The game publishes frame k at k/fps (none during `stall` = (t0, t1)); the reader takes
    BLOCK frames every BLOCK/SR s once the ring is primed; a step takes `step_ms` and then
    writes HOP frames.
    """
    cfg = RuntimeConfig(target_latency_steps=target_steps)
    sched = AudioClockScheduler(hop_samples=HOP, sample_rate_hz=SR,
                                target_fill_frames=cfg.target_fill_frames(hop_samples=HOP, sample_rate_hz=SR))
    tracker = FrameTracker()
    dt = 0.00025
    t = 0.0
    written = read = 0
    underrun_frames = 0
    next_read = None
    busy_until = None
    newest = None  # (index, time) in the mailbox, not yet taken
    published = 0
    lags = []
    while t < seconds:
        k = int(t * fps)
        while published <= k:
            pub_t = published / fps
            if not (stall and stall[0] <= pub_t < stall[1]):
                newest = (published, pub_t)
            published += 1
        if busy_until is not None and t >= busy_until:
            written += HOP
            busy_until = None
        if busy_until is None:
            d = sched.decide(written - read, 4 * HOP - (written - read))
            if d.step:
                took = tracker.offer(newest[0] if newest else None, 0)
                if took:
                    lags.append(t - newest[1])
                newest = None
                busy_until = t + step_ms / 1000
        if next_read is None and written >= sched.target_fill_frames:
            next_read = t
        if next_read is not None and t >= next_read:
            have = written - read
            got = min(have, BLOCK)
            underrun_frames += BLOCK - got
            read += got
            next_read += BLOCK / SR
        t += dt
    return tracker, underrun_frames, lags, written


def test_target_fill_defaults_to_two_steps():
    assert RuntimeConfig().target_fill_frames(hop_samples=HOP, sample_rate_hz=SR) == 2 * HOP
    assert RuntimeConfig(target_latency_ms=100).target_fill_frames(hop_samples=HOP, sample_rate_hz=SR) == 4800
    # never below one hop, or a step could not keep one callback fed
    assert RuntimeConfig(target_latency_ms=5).target_fill_frames(hop_samples=HOP, sample_rate_hz=SR) == HOP


def test_decide_steps_below_target_and_sleeps_above():
    s = AudioClockScheduler(hop_samples=HOP, sample_rate_hz=SR, target_fill_frames=3200, max_sleep_s=0.005)
    assert s.decide(3199, 10_000).step
    d = s.decide(3200 + 48, 10_000)
    assert not d.step and d.wait_s == pytest.approx(49 / SR)
    d = s.decide(10_000, 10_000)
    assert not d.step and d.wait_s == 0.005  # capped so control stays responsive
    d = s.decide(100, HOP - 1)
    assert not d.step and d.reason == "ring full"


def test_live_30fps_game_keeps_ring_fed_and_uses_every_frame():
    tracker, underruns, lags, _ = simulate(fps=30, seconds=10, step_ms=8)
    assert underruns == 0
    assert tracker.frames_skipped <= 2
    assert max(lags) < 1 / 30 + 0.001


def test_frames_at_twice_the_latent_rate_skip_extras_without_falling_behind():
    tracker, underruns, lags, written = simulate(fps=60, seconds=10, step_ms=8)
    assert underruns == 0
    steps = written // HOP
    assert steps == pytest.approx(10 * SR / HOP, abs=4)  # the audio clock, not the frame rate, sets the pace
    assert tracker.frames_skipped == pytest.approx(300, abs=10)  # about every other frame
    # the newest frame is used: never older than one frame period at step time
    assert max(lags) <= 1 / 60 + 0.001


def test_stalled_game_keeps_generating_from_last_frame():
    tracker, underruns, _, written = simulate(fps=35, seconds=6, step_ms=8, stall=(2.0, 4.0))
    assert underruns == 0
    assert tracker.steps_repeated >= 55  # about 2 s of steps at 30 Hz voiced from the last frame
    assert written >= 5.9 * SR


def test_step_slower_than_budget_underruns_so_budget_matters():
    # A model slower than the latent period cannot keep up: the simulation must show it.
    _, underruns, _, _ = simulate(fps=30, seconds=4, step_ms=40)
    assert underruns > 0


def test_frame_tracker_counts_out_of_order_as_repeat():
    t = FrameTracker()
    assert not t.offer(None)  # nothing yet: not a repeat
    assert t.steps_repeated == 0
    assert t.offer(5, 10)
    assert not t.offer(3, 11)
    assert t.frames_out_of_order == 1 and t.last_frame_index == 5
    assert t.offer(9, 12) and t.frames_skipped == 3


def test_lockstep_waits_for_frame_then_for_room():
    s = LockstepScheduler(hop_samples=HOP, sample_rate_hz=SR)
    assert not s.decide(False, 10 * HOP).step
    d = s.decide(True, HOP - 96)
    assert not d.step and d.wait_s == pytest.approx(96 / SR)
    assert s.decide(True, HOP).step


def test_runtime_config_rejects_bad_values_naming_them():
    with pytest.raises(ConfigError, match=r"nfe: expected in \[1, 64\], found 0"):
        RuntimeConfig(nfe=0)
    with pytest.raises(ConfigError, match=r"target_latency_ms: expected > 0, found -1"):
        RuntimeConfig(target_latency_ms=-1)


def test_adaptive_target_raises_after_underruns_caps_and_lowers_after_calm():
    from livefoley.sidecar.runtime.scheduler import AdaptiveTarget

    t = AdaptiveTarget(base_frames=3200, max_frames=4800, raise_frames=800, lower_frames=400, calm_s=10.0)
    assert not t.observe(5, 0.0)  # the first observation only sets the baseline
    assert not t.observe(5, 1.0) and t.frames == 3200
    assert t.observe(6, 2.0) and t.frames == 4000
    assert t.observe(9, 3.0) and t.frames == 4800
    assert not t.observe(12, 4.0) and t.frames == 4800  # capped
    assert not t.observe(12, 13.9)  # calm, but not for 10 s yet
    assert t.observe(12, 14.0) and t.frames == 4400
    for k in range(1, 10):
        t.observe(12, 14.0 + 10 * k)
    assert t.frames == 3200 and t.lowers == 4  # never below the configured target
    t.rebase(100)
    assert not t.observe(100, 200.0) and t.raises == 2


def simulate_bursts(*, adaptive: bool, seconds: float = 30.0, burst_s: float = 0.2):
    """Steps of 20 ms, with a `burst_s` burst of 45 ms steps every 8 s (other work taking the
    cores); returns underrun frames per burst."""
    from livefoley.sidecar.runtime.scheduler import AdaptiveTarget

    target = AdaptiveTarget(base_frames=2 * HOP, max_frames=3 * HOP if adaptive else 2 * HOP,
                            raise_frames=HOP // 2, lower_frames=HOP // 4, calm_s=60.0)
    sched = AudioClockScheduler(hop_samples=HOP, sample_rate_hz=SR, target_fill_frames=target.frames)
    dt, t = 0.00025, 0.0
    written = read = 0
    events = 0
    busy_until = None
    next_read = 0.0
    per_burst = [0] * int(seconds // 8 + 1)
    next_check = 0.0
    while t < seconds:
        if busy_until is not None and t >= busy_until:
            written += HOP
            busy_until = None
        if busy_until is None:
            d = sched.decide(written - read, 16 * HOP - (written - read))
            if d.step:
                slow = 4.0 <= (t % 8.0) < 4.0 + burst_s
                busy_until = t + (0.045 if slow else 0.020)
        if written >= 2 * HOP and t >= next_read:
            got = min(written - read, BLOCK)
            if got < BLOCK:
                events += 1
                per_burst[int(t // 8)] += BLOCK - got
            read += got
            next_read += BLOCK / SR
        if t >= next_check:  # the runtime looks every 100 ms
            next_check += 0.1
            if target.observe(events, t):
                sched.target_fill_frames = target.frames
        t += dt
    return per_burst, target


def test_adaptive_target_absorbs_repeated_bursts_after_the_first():
    fixed, _ = simulate_bursts(adaptive=False)
    adapted, target = simulate_bursts(adaptive=True)
    assert all(u > 0 for u in fixed[:3]), fixed  # every burst drains a two-step buffer
    assert adapted[0] > 0 and adapted[1:3] == [0, 0], adapted  # the first burst raises the target
    assert target.frames > 2 * HOP
