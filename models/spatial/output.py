"""Per-session output layouts: what the sidecar writes for a world-frame AmbiX block.

A session picks one layout (its segment header carries the channel count):

* "foa"      - 4 channels, AmbiX, rotated into the listener's head frame (HeadTracker).
               Engines that rotate FOA themselves pass orientation (0, 0, 0).
* "binaural" - 2 channels for headphones: head-tracked rotation, then BinauralDecoder.
* "stereo"   - 2 channels for loudspeakers: head-tracked rotation, then virtual cardioids
               at +/-90 deg (foa.stereo_downmix).

Each block comes with the orientation that holds at its last sample; rotation is slerped
per sample from the previous block's, so audio stays head-tracked between model steps.
This module chains existing pieces; it owns no DSP of its own.
"""

from __future__ import annotations

import logging

import numpy as np

from livefoley.protocol.errors import ConfigError

from .binaural import BinauralConfig, BinauralDecoder
from .foa import stereo_downmix
from .rotation import HeadTracker, Orientation

log = logging.getLogger(__name__)

LAYOUT_CHANNELS: dict[str, int] = {"foa": 4, "binaural": 2, "stereo": 2}


class SpatialOutput:
    """World-frame AmbiX blocks in, the session's layout out.

    Args:
        layout: one of LAYOUT_CHANNELS.
        binaural: decoder settings for the "binaural" layout.
        stereo_angle_deg: virtual-cardioid angle for the "stereo" layout.

    Thread-safety: one caller at a time (rotation and filter state).
    Real-time safe: no (numpy allocates); ~0.5 ms CPU per 1600-sample block binaural (bench_spatial).
    """

    def __init__(self, layout: str, *, binaural: BinauralConfig = BinauralConfig(),
                 stereo_angle_deg: float = 90.0, initial: Orientation = (0.0, 0.0, 0.0)) -> None:
        if layout not in LAYOUT_CHANNELS:
            raise ConfigError(f"SpatialOutput: expected layout in {tuple(LAYOUT_CHANNELS)}, found {layout!r}")
        self.layout = layout
        self.tracker = HeadTracker(initial)
        self.decoder = BinauralDecoder(binaural) if layout == "binaural" else None
        self.stereo_angle_deg = stereo_angle_deg
        log.info("spatial output layout %s (%d channels)", layout, self.channels)

    @property
    def channels(self) -> int:
        """Output channel count (what the session header must say)."""
        return LAYOUT_CHANNELS[self.layout]

    def process(self, foa_block: np.ndarray, orientation: Orientation) -> np.ndarray:
        """Render one (4, N) world-frame AmbiX block for the listener orientation at its end.

        Returns:
            (channels, N) float32.
        """
        head = self.tracker.process(foa_block, *orientation)
        if self.layout == "foa":
            return head.astype(np.float32, copy=False)
        if self.layout == "binaural":
            return self.decoder.process(head)
        return stereo_downmix(head, angle_deg=self.stereo_angle_deg).astype(np.float32, copy=False)


__all__ = ["LAYOUT_CHANNELS", "SpatialOutput"]
