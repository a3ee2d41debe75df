"""Python host API: be the engine side of a LiveFoley session (re-exports only)."""

from .host import Host
from .inprocess import InProcessPipeline
from .reader import AudioCadenceReader

__all__ = ["Host", "InProcessPipeline", "AudioCadenceReader"]
