"""Sidecar runtime: scheduling, deadlines, frame intake and the serving loop (re-exports only).

Importing this package is cheap (no torch); the model loads when a `Sidecar` is built.
"""

from .config import RuntimeConfig
from .deadline import DeadlineGovernor, QualityLevel, degrade_ladder
from .scheduler import AudioClockScheduler, FrameTracker, LockstepScheduler, StepDecision

__all__ = [
    "RuntimeConfig",
    "DeadlineGovernor",
    "QualityLevel",
    "degrade_ladder",
    "AudioClockScheduler",
    "FrameTracker",
    "LockstepScheduler",
    "StepDecision",
]
