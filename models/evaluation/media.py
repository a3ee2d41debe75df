"""Listening examples: frames plus audio muxed into an mp4 (H.264 + AAC) with PyAV.

What it is: `write_mp4`, a small writer for evaluation examples. What it is not: the
sidecar's media helpers (models does not depend on the sidecar part).
"""

from __future__ import annotations

import fractions
import logging
from pathlib import Path

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


def write_mp4(path: str | Path, frames: np.ndarray, fps: float, audio: np.ndarray,
              sample_rate_hz: int) -> Path:
    """Write uint8 RGB frames (T, H, W, 3) at `fps` and float audio (N, 2) to an mp4.

    Raises:
        ConfigError: no frames, or audio that is not (N, 1 or 2).
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.asarray(frames)
    audio = np.clip(np.asarray(audio, np.float32), -1.0, 1.0)
    if frames.ndim != 4 or frames.shape[0] == 0:
        raise ConfigError(f"write_mp4 {path}: expected frames (T, H, W, 3) with T > 0, "
                          f"found {frames.shape}")
    if audio.ndim != 2 or audio.shape[1] not in (1, 2):
        raise ConfigError(f"write_mp4 {path}: expected audio (N, 1 or 2), found {audio.shape}")
    h, w = frames.shape[1] - frames.shape[1] % 2, frames.shape[2] - frames.shape[2] % 2
    with av.open(str(path), mode="w") as container:
        vs = container.add_stream("libx264", rate=fractions.Fraction(fps).limit_denominator(1000))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = container.add_stream("aac", rate=sample_rate_hz)
        aus.layout = "stereo" if audio.shape[1] == 2 else "mono"
        for f in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h, :w, :3]), format="rgb24")
            for packet in vs.encode(vf):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        for start in range(0, audio.shape[0], 1024):
            block = np.ascontiguousarray(audio[start:start + 1024].T)  # (C, n) planar
            af = av.AudioFrame.from_ndarray(block, format="fltp", layout=aus.layout.name)
            af.sample_rate = sample_rate_hz
            af.pts = start
            for packet in aus.encode(af):
                container.mux(packet)
        for packet in aus.encode():
            container.mux(packet)
    return path
