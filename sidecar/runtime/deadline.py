"""Deadline handling: measure every step, degrade in a fixed order, recover with headroom.

The order (README.md "Deadline handling" argues it): first halve the head's NFE down to 1
(each halving removes half the head's work and costs the least quality with a
consistency-tuned head), then drop classifier-free guidance (halves the transformer and head
batch; costs more quality, since guidance is what makes the sound follow the picture).
Nothing else is degraded: the vision encoder and the VAE decoder are needed for any sound
at all.

This module only decides; the runtime applies the level to the generator and reports it.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QualityLevel:
    """One rung of the ladder: the options a step runs with."""

    nfe: int
    guidance_scale: float

    def to_dict(self) -> dict:
        return {"nfe": self.nfe, "guidance_scale": self.guidance_scale}


def degrade_ladder(nfe: int, guidance_scale: float) -> tuple[QualityLevel, ...]:
    """The levels from full quality to the cheapest step, in the order they are tried.

    >>> [ (l.nfe, l.guidance_scale) for l in degrade_ladder(4, 3.0) ]
    [(4, 3.0), (2, 3.0), (1, 3.0), (1, 1.0)]
    """
    levels = [QualityLevel(nfe, guidance_scale)]
    n = nfe
    while n > 1:
        n = max(1, n // 2)
        levels.append(QualityLevel(n, guidance_scale))
    if guidance_scale != 1.0:
        levels.append(QualityLevel(1, 1.0))
    return tuple(levels)


class DeadlineGovernor:
    """Watches step durations against the latent period and moves along the ladder.

    A step is late when it takes more than `deadline_fraction` of the period. When
    `degrade_after_late_steps` of the last `window_steps` steps were late, go one level
    down. When `recover_after_steps` steps in a row took less than
    `recover_headroom_fraction` of the period, go one level up. The window is cleared at
    every change so that one level's history does not judge the next.

    Args:
        ladder: levels from `degrade_ladder`, full quality first.
        period_ns: one latent period (hop / sample rate), the budget of a step.

    Thread-safety: single-threaded (the runtime loop). Real-time safe: yes after construction.
    """

    def __init__(
        self,
        ladder: tuple[QualityLevel, ...],
        *,
        period_ns: int,
        deadline_fraction: float = 0.9,
        degrade_after_late_steps: int = 3,
        window_steps: int = 30,
        recover_headroom_fraction: float = 0.5,
        recover_after_steps: int = 90,
    ) -> None:
        assert ladder, "the ladder needs at least one level"
        self.ladder = ladder
        self.period_ns = int(period_ns)
        self.deadline_ns = int(period_ns * deadline_fraction)
        self.headroom_ns = int(period_ns * recover_headroom_fraction)
        self.degrade_after_late_steps = degrade_after_late_steps
        self.recover_after_steps = recover_after_steps
        self._window: collections.deque[bool] = collections.deque(maxlen=window_steps)
        self._headroom_run = 0
        self.level_index = 0
        self.steps = 0
        self.steps_late = 0
        self.degradations = 0
        self.recoveries = 0

    @property
    def level(self) -> QualityLevel:
        return self.ladder[self.level_index]

    def observe(self, step_ns: int) -> QualityLevel | None:
        """Record one step's wall time; return the new level when it changes, else None."""
        self.steps += 1
        late = step_ns > self.deadline_ns
        if late:
            self.steps_late += 1
        self._window.append(late)
        self._headroom_run = self._headroom_run + 1 if step_ns < self.headroom_ns else 0
        if sum(self._window) >= self.degrade_after_late_steps and self.level_index + 1 < len(self.ladder):
            self.level_index += 1
            self.degradations += 1
            self._clear()
            log.warning("steps over deadline (%.1f ms): degrading to %s", self.deadline_ns / 1e6, self.level)
            return self.level
        if self._headroom_run >= self.recover_after_steps and self.level_index > 0:
            self.level_index -= 1
            self.recoveries += 1
            self._clear()
            log.info("headroom regained: recovering to %s", self.level)
            return self.level
        return None

    def _clear(self) -> None:
        self._window.clear()
        self._headroom_run = 0

    def to_dict(self) -> dict:
        return {
            "level": self.level_index,
            "levels": len(self.ladder),
            **self.level.to_dict(),
            "deadline_ms": self.deadline_ns / 1e6,
            "steps_late": self.steps_late,
            "degradations": self.degradations,
            "recoveries": self.recoveries,
        }
