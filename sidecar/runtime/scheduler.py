"""When to run the next model step, and which frame it takes.

Pure logic over numbers the runtime reads from the session (ring fill, free space, frame
indices); no clock, no shared memory, no model. That is what makes it testable with a fake
clock (tests/sidecar/test_scheduler.py simulates a game, a reader and a model on one).

Two modes:

- live (`AudioClockScheduler`): the audio clock drives. Whenever the ring holds less than the
  target latency, run one step; otherwise sleep until it will. The frame a step takes is the
  newest complete one (the `latest` mailbox hands out nothing older), so frames that come
  faster than the latent rate are skipped without the stream falling behind, and a stalled
  game keeps being voiced from its last frame (`FrameTracker` counts both).
- lockstep (`LockstepScheduler`): one step per published frame, in order, nothing dropped;
  the audio clock only applies back-pressure (a step waits for room in the ring).

The target itself can adapt (`AdaptiveTarget`): the configured latency is a floor, an
underrun seen by the engine's reader raises the target by half a step (up to a cap), and a
long calm lowers it again slowly, as a VoIP jitter buffer does (re-prime after an underrun
instead of flapping, shared/reference/systems.md §6.1).

It is not the frame-rate rule that training uses to pair frames with latents: that is
`livefoley.models.data.timing.frame_index_for_tick`, which offline renderers use to choose
which frames to publish before lockstep takes them one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class StepDecision(NamedTuple):
    """What the loop does next: run a step now, or sleep `wait_s` and ask again."""

    step: bool
    wait_s: float
    reason: str


@dataclass
class AudioClockScheduler:
    """Keeps the ring of one or more sessions at the target fill.

    Args:
        hop_samples: frames of audio one step produces.
        sample_rate_hz: audio sample rate.
        target_fill_frames: fill below which a step runs.
        max_sleep_s: upper bound of any wait, so the loop stays responsive to control.

    Thread-safety: single-threaded (the runtime loop).
    Real-time safe: yes (arithmetic only).
    """

    hop_samples: int
    sample_rate_hz: int
    target_fill_frames: int
    max_sleep_s: float = 0.005

    def decide(self, fill_frames: int, free_frames: int) -> StepDecision:
        """Decide for the session with the lowest fill (the one closest to running dry).

        Args:
            fill_frames: frames in the ring not yet read.
            free_frames: frames that can be written without overwriting unread audio.
        """
        if fill_frames < self.target_fill_frames:
            if free_frames >= self.hop_samples:
                return StepDecision(True, 0.0, "below target")
            # Only possible when the target is near the capacity: wait for the reader.
            return StepDecision(False, self._clamp((self.hop_samples - free_frames) / self.sample_rate_hz), "ring full")
        surplus = fill_frames - self.target_fill_frames + 1
        return StepDecision(False, self._clamp(surplus / self.sample_rate_hz), "at target")

    def _clamp(self, wait_s: float) -> float:
        return min(max(wait_s, 0.0002), self.max_sleep_s)


@dataclass
class LockstepScheduler:
    """One step per frame; waits for a frame, then for room in the ring.

    Thread-safety: single-threaded (the runtime loop).
    Real-time safe: yes.
    """

    hop_samples: int
    sample_rate_hz: int
    max_sleep_s: float = 0.005

    def decide(self, frame_ready: bool, free_frames: int) -> StepDecision:
        if not frame_ready:
            return StepDecision(False, min(0.001, self.max_sleep_s), "no frame")
        if free_frames < self.hop_samples:
            wait_s = (self.hop_samples - free_frames) / self.sample_rate_hz
            return StepDecision(False, min(max(wait_s, 0.0002), self.max_sleep_s), "ring full")
        return StepDecision(True, 0.0, "frame ready")


@dataclass
class FrameTracker:
    """Which frame one session's next step uses, and what was skipped or repeated.

    The runtime offers it the newest frame the mailbox handed out (or nothing); it answers
    whether the step uses that new frame or repeats the last one.

    Counters:
        frames_used: distinct frames that drove at least one step.
        frames_skipped: frames the host published that no step used (index gaps): the
            extras when frames come faster than the latent rate.
        steps_repeated: steps that re-used the last frame because none newer had arrived
            (the game stalled or runs slower than the latent rate).
        frames_out_of_order: frames whose index did not increase (ignored).

    Thread-safety: single-threaded. Real-time safe: yes.
    """

    last_frame_index: int = -1
    last_capture_ns: int = 0
    frames_used: int = 0
    frames_skipped: int = 0
    steps_repeated: int = 0
    frames_out_of_order: int = 0

    @property
    def has_frame(self) -> bool:
        return self.last_frame_index >= 0

    def offer(self, frame_index: int | None, capture_ns: int = 0) -> bool:
        """Record the outcome of one acquire before a step.

        Args:
            frame_index: index of the new frame, or None when none arrived since the last step.
            capture_ns: its capture time (monotonic ns).

        Returns:
            True when the step takes the new frame; False when it repeats the last one.
        """
        if frame_index is None:
            if self.has_frame:
                self.steps_repeated += 1
            return False
        if self.has_frame and frame_index <= self.last_frame_index:
            self.frames_out_of_order += 1
            self.steps_repeated += 1
            return False
        if self.has_frame:
            self.frames_skipped += frame_index - self.last_frame_index - 1
        self.last_frame_index = frame_index
        self.last_capture_ns = capture_ns
        self.frames_used += 1
        return True

    def reset(self) -> None:
        """Forget the last frame (a new stream starts)."""
        self.last_frame_index = -1
        self.last_capture_ns = 0


@dataclass
class AdaptiveTarget:
    """The ring fill the live scheduler aims for, raised after underruns, lowered after calm.

    Args:
        base_frames: the configured target: the floor, and the start.
        max_frames: the cap (configured target plus `max_extra` steps, within the ring).
        raise_frames: added per observation that saw new underruns (half a step).
        lower_frames: removed after `calm_s` seconds without an underrun (a quarter step).
        calm_s: seconds without underruns before each lowering.

    Thread-safety: single-threaded. Real-time safe: yes.
    """

    base_frames: int
    max_frames: int
    raise_frames: int
    lower_frames: int
    calm_s: float = 10.0
    frames: int = 0
    raises: int = 0
    lowers: int = 0
    _last_events: int | None = None
    _calm_since_s: float = 0.0

    def __post_init__(self) -> None:
        self.max_frames = max(self.max_frames, self.base_frames)
        self.frames = self.base_frames

    def observe(self, underrun_events: int, now_s: float) -> bool:
        """Feed the reader's cumulative underrun count; True when the target changed."""
        if self._last_events is None:
            self._last_events = underrun_events
            self._calm_since_s = now_s
            return False
        new = underrun_events - self._last_events
        self._last_events = underrun_events
        if new > 0:
            self._calm_since_s = now_s
            if self.frames < self.max_frames:
                self.frames = min(self.max_frames, self.frames + self.raise_frames)
                self.raises += 1
                return True
            return False
        if self.frames > self.base_frames and now_s - self._calm_since_s >= self.calm_s:
            self._calm_since_s = now_s
            self.frames = max(self.base_frames, self.frames - self.lower_frames)
            self.lowers += 1
            return True
        return False

    def rebase(self, underrun_events: int) -> None:
        """Forget past underruns (a reader that ran before this sidecar served the ring)."""
        self._last_events = underrun_events
