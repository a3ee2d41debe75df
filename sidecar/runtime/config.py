"""Runtime configuration of the sidecar: how far ahead to keep the ring, how to degrade.

This is a frozen dataclass with units in every name, nothing else: it does not know the
model (the model's hop and sample rate arrive as arguments where they are needed) and it
does not parse command lines (`sidecar/serve.py` does).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

from livefoley.protocol.errors import ConfigError

# The sampler's optional extras a checkpoint may record besides NFE and guidance
# (models/noise_options.py, models/history_guidance.py); their ranges are the generator's.
SAMPLER_OPTIONS = ("noise_correlation", "feedback_noise", "history_guidance")


@dataclass(frozen=True)
class RuntimeConfig:
    """How the sidecar schedules steps against the audio clock.

    Attributes:
        target_latency_steps: ring fill, in model steps (hops), below which the scheduler
            runs the next step. Two steps is the jitter buffer argued in
            shared/reference/systems.md §6.1 (prime at about 2P).
        target_latency_ms: when set, overrides `target_latency_steps` with a time.
        adaptive_extra_steps: how far above the configured target (in steps) the live target
            may rise after underruns; 0 keeps it fixed.
        lockstep: one step per published frame, frames taken in order, nothing dropped,
            deterministic; the audio clock only applies back-pressure. For rendering and
            pipelines, with the session in `fifo` frame mode.
        nfe: number of function evaluations of the head at full quality.
        guidance_scale: classifier-free guidance at full quality (1.0 means none).
        seed: generator seed; with lockstep the output is a function of frames and seed.
        sampler_options: values of `SAMPLER_OPTIONS` that override what the checkpoint
            records; an absent key keeps the checkpoint's value (else the option is off).
            Only the names are checked here; the generator checks the values when the
            sidecar loads the model (ConfigError naming option, range and value).
        deadline_fraction: a step is late when it takes longer than this fraction of one
            latent period (the real-time budget of one step).
        degrade_after_late_steps: this many late steps within `window_steps` degrade one level.
        recover_headroom_fraction: a step has headroom when it takes less than this fraction
            of the period; `recover_after_steps` such steps in a row recover one level.
        warmup_steps: steps run on a blank frame, then discarded, before the first real one.
        host_stale_after_s: the host's heartbeat is stale after this long; together with
            its pid this decides "host died".
        telemetry_interval_ms: how often telemetry is published.
        max_sleep_ms: the loop never sleeps longer than this, so control stays responsive.
    """

    target_latency_steps: float = 2.0
    target_latency_ms: float | None = None
    adaptive_extra_steps: float = 1.0
    lockstep: bool = False
    nfe: int = 1
    guidance_scale: float = 1.0
    seed: int = 0
    sampler_options: Mapping[str, float] = field(default_factory=dict)
    deadline_fraction: float = 0.9
    degrade_after_late_steps: int = 3
    window_steps: int = 30
    recover_headroom_fraction: float = 0.5
    recover_after_steps: int = 90
    warmup_steps: int = 3
    host_stale_after_s: float = 0.5
    telemetry_interval_ms: float = 250.0
    max_sleep_ms: float = 5.0

    def __post_init__(self) -> None:
        self._check_sampler_options()
        checks = [
            ("target_latency_steps", self.target_latency_steps > 0, "> 0"),
            ("nfe", 1 <= self.nfe <= 64, "in [1, 64]"),
            ("adaptive_extra_steps", 0 <= self.adaptive_extra_steps <= 8, "in [0, 8]"),
            ("guidance_scale", self.guidance_scale >= 0, ">= 0"),
            ("deadline_fraction", 0 < self.deadline_fraction <= 4, "in (0, 4]"),
            ("degrade_after_late_steps", self.degrade_after_late_steps >= 1, ">= 1"),
            ("window_steps", self.window_steps >= self.degrade_after_late_steps,
             f">= degrade_after_late_steps ({self.degrade_after_late_steps})"),
            ("recover_headroom_fraction", 0 < self.recover_headroom_fraction < self.deadline_fraction,
             f"in (0, deadline_fraction={self.deadline_fraction})"),
            ("recover_after_steps", self.recover_after_steps >= 1, ">= 1"),
            ("warmup_steps", self.warmup_steps >= 0, ">= 0"),
            ("host_stale_after_s", self.host_stale_after_s > 0, "> 0"),
            ("max_sleep_ms", self.max_sleep_ms > 0, "> 0"),
        ]
        if self.target_latency_ms is not None:
            checks.append(("target_latency_ms", self.target_latency_ms > 0, "> 0"))
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"RuntimeConfig.{name}: expected {expected}, found {getattr(self, name)!r}")

    def _check_sampler_options(self) -> None:
        options = self.sampler_options
        if not isinstance(options, Mapping):
            raise ConfigError(f"RuntimeConfig.sampler_options: expected a mapping of "
                              f"{list(SAMPLER_OPTIONS)} to numbers, found {type(options).__name__}")
        for key, value in options.items():
            if key not in SAMPLER_OPTIONS:
                raise ConfigError(f"RuntimeConfig.sampler_options: expected keys from "
                                  f"{list(SAMPLER_OPTIONS)}, found {key!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"RuntimeConfig.sampler_options[{key!r}]: expected a number, "
                                  f"found {type(value).__name__} {value!r}")
        # Frozen all the way down: a copy the caller cannot change behind our back.
        object.__setattr__(self, "sampler_options",
                           types.MappingProxyType({k: float(v) for k, v in options.items()}))

    def target_fill_frames(self, *, hop_samples: int, sample_rate_hz: int) -> int:
        """Ring fill (frames) below which the next step runs; at least one hop."""
        if self.target_latency_ms is not None:
            frames = int(round(self.target_latency_ms * sample_rate_hz / 1000.0))
        else:
            frames = int(round(self.target_latency_steps * hop_samples))
        return max(frames, hop_samples)

    def replace(self, **changes) -> "RuntimeConfig":
        """A copy with `changes` applied (validated again)."""
        return dataclasses.replace(self, **changes)
