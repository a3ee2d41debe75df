"""Per-session output layout: the model's block in, the session's channels out.

What it is: `SessionOutput`, one per served session, and the rules that decide which layouts a
(model, session) pair can have. A model outputs either stereo (2 channels) or First-Order
Ambisonics (4 channels, AmbiX ACN/SN3D, in the frame of the panorama it was conditioned on).
A session's segment header fixes its channel count, so:

| model  | session channels | layouts                          | default   |
|--------|------------------|----------------------------------|-----------|
| stereo | 2                | stereo (pass-through)            | stereo    |
| foa    | 4                | foa (head-tracked AmbiX)         | foa       |
| foa    | 2                | stereo (cardioids), binaural     | stereo    |

Anything else (a stereo model with a 4-channel session, a FOA model with a 3-channel session,
`channel_layout=binaural` for a stereo model) is refused with a `ConfigError` naming what was
expected and what was found. The default for a 2-channel session fed by a FOA model is the
cardioid stereo downmix: a 2-channel segment does not say whether it ends in loudspeakers or
headphones, and the downmix is right on both; `configure channel_layout=binaural` picks the
headphone decode.

For a FOA model each block is rotated into the listener's head frame with
`models.spatial.HeadTracker` (per-sample slerp from the previous block's orientation to the
one given with this block: the orientation of the frame the step used, from its descriptor,
in LiveFoley's convention) and rendered with `models.spatial.SpatialOutput`. An engine that
rotates FOA itself publishes orientation (0, 0, 0).

What it is not: real-time code. It runs on the sidecar's loop, once per model step and
session (~0.5 ms CPU for a 1600-sample binaural block); the engine's audio thread only reads
the ring, whose layout never changes within a session.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

MODEL_FORMATS: dict[int, str] = {2: "stereo", 4: "foa"}  # model channels -> what it outputs
LAYOUT_CHANNELS: dict[str, int] = {"stereo": 2, "binaural": 2, "foa": 4}


def model_format(model_channels: int) -> str:
    """"stereo" or "foa" for a model's channel count.

    Raises:
        ConfigError: a model with neither 2 nor 4 channels.
    """
    fmt = MODEL_FORMATS.get(int(model_channels))
    if fmt is None:
        raise ConfigError(f"model: expected 2 (stereo) or 4 (FOA) output channels, found {model_channels}")
    return fmt


def allowed_layouts(model_channels: int, session_channels: int) -> tuple[str, ...]:
    """Layouts a session with `session_channels` can have when the model has `model_channels`."""
    if model_format(model_channels) == "stereo":
        return ("stereo",) if session_channels == 2 else ()
    return tuple(name for name, ch in LAYOUT_CHANNELS.items() if ch == session_channels)


def check_layout(layout: str | None, *, model_channels: int, session_channels: int, where: str) -> str:
    """The layout to use: `layout` if the pair allows it, the default if `layout` is None.

    Args:
        layout: "stereo", "binaural", "foa", or None for the default.
        model_channels: the loaded model's output channels (2 or 4).
        session_channels: the session segment's channel count.
        where: what to name in an error ("session doom", "configure channel_layout").

    Raises:
        ConfigError: the pair has no layout, or `layout` is not one of its layouts; the
            message names the expected layouts or channel counts and what was found.
    """
    fmt = model_format(model_channels)
    allowed = allowed_layouts(model_channels, session_channels)
    if not allowed:
        expected = "2" if fmt == "stereo" else "2 (stereo or binaural) or 4 (foa)"
        raise ConfigError(f"{where}: the model outputs {fmt} ({model_channels} channels), so expected a session "
                          f"with {expected} channels, found {session_channels}")
    if layout is None:
        return allowed[0]
    if layout not in allowed:
        why = (f"the model outputs {fmt} ({model_channels} channels)" if fmt == "stereo"
               else f"the session has {session_channels} channels")
        raise ConfigError(f"{where}: expected {' or '.join(repr(a) for a in allowed)} ({why}), found {layout!r}")
    return layout


class SessionOutput:
    """Turns one model block (hop, model channels) into the session's (hop, channels).

    Args:
        layout: from `check_layout`.
        model_channels: 2 or 4.
        sample_rate_hz: the model's sample rate (the binaural decoder's filters depend on it).
        initial: listener orientation (yaw, pitch, roll) in radians to start from.

    Thread-safety: one thread (the runtime loop). Real-time safe: no (numpy allocates).
    """

    def __init__(self, layout: str, *, model_channels: int, sample_rate_hz: int,
                 initial: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        self.layout = layout
        self.model_channels = int(model_channels)
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = LAYOUT_CHANNELS[layout]
        self.orientation = tuple(float(a) for a in initial)
        self.spatial = None
        if model_format(model_channels) == "foa":
            from livefoley.models.spatial.binaural import BinauralConfig
            from livefoley.models.spatial.output import SpatialOutput

            self.spatial = SpatialOutput(layout, binaural=BinauralConfig(sample_rate_hz=self.sample_rate_hz),
                                         initial=self.orientation)

    @property
    def head_tracked(self) -> bool:
        return self.spatial is not None

    def render(self, block: np.ndarray, orientation: tuple[float, float, float] | None) -> np.ndarray:
        """One block in the session's layout.

        Args:
            block: (hop, model_channels) float32, world/panorama frame for FOA.
            orientation: listener (yaw, pitch, roll) in radians at the block's end, in
                LiveFoley's convention; None keeps the last one (no frame has carried one yet,
                or the block is silence). Non-finite angles are ignored the same way (the
                protocol refuses them; this is a second line).

        Returns:
            (hop, channels) float32, C-contiguous (what the ring writes).
        """
        if self.spatial is None:
            return block
        if orientation is not None and all(math.isfinite(a) for a in orientation):
            self.orientation = tuple(float(a) for a in orientation)
        out = self.spatial.process(np.ascontiguousarray(block.T), self.orientation)  # (C, hop)
        return np.ascontiguousarray(out.T, dtype=np.float32)

    def with_layout(self, layout: str) -> "SessionOutput":
        """A new output in `layout` that continues from this one's orientation (no jump).

        The binaural decoder's 255-sample input history starts empty, so the first block
        after a switch to binaural fades in over 5 ms rather than continuing the old filter.
        """
        return SessionOutput(layout, model_channels=self.model_channels, sample_rate_hz=self.sample_rate_hz,
                             initial=self.orientation)

    def reset(self) -> None:
        """Start a new stream: fresh decoder state, orientation kept (the listener did not move)."""
        if self.spatial is not None:
            self.spatial = self.with_layout(self.layout).spatial


__all__ = ["MODEL_FORMATS", "LAYOUT_CHANNELS", "model_format", "allowed_layouts", "check_layout", "SessionOutput"]
