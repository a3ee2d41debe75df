"""Video files in and out, through PyAV (FFmpeg): decode frames, mux frames with audio.

What it is: the two file operations the demo and `livefoley render` need, plus the
44.1 -> 48 kHz resampling of the game's own audio. What it is not: a streaming media
pipeline; everything here works on whole arrays held in memory (the demo's 20 s of
320x240 frames are about 160 MB).
"""

from __future__ import annotations

import fractions
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodedVideo:
    """Frames of a video file: uint8 RGB (N, H, W, 3), their times, and the nominal rate."""

    frames: np.ndarray
    times_s: np.ndarray
    fps: float


def decode_video(path: str | Path, *, max_frames: int | None = None) -> DecodedVideo:
    """Decode every video frame of `path` to RGB.

    Raises:
        ConfigError: the file does not exist or holds no video stream / no frames.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"video {path}: expected an existing file, found none")
    frames, times = [], []
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ConfigError(f"video {path}: expected a video stream, found streams {list(container.streams)}")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or 30
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            t = frame.time if frame.time is not None else len(times) / float(rate)
            times.append(t)
            if max_frames is not None and len(frames) >= max_frames:
                break
    if not frames:
        raise ConfigError(f"video {path}: expected at least one frame, found 0")
    return DecodedVideo(np.stack(frames), np.asarray(times, dtype=np.float64), float(rate))


def write_video(
    path: str | Path,
    frames: np.ndarray | list,
    *,
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate_hz: int = 48000,
) -> Path:
    """Mux uint8 RGB frames (N, H, W, 3) at `fps` and float32 audio (S, C) into an mp4.

    The audio is trimmed or zero-padded to the video's duration so both tracks end together.
    H.264 (yuv420p, even sizes) and AAC.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(frames)
    if n == 0:
        raise ConfigError(f"write_video {path}: expected at least one frame, found 0")
    h, w = frames[0].shape[:2]
    rate = fractions.Fraction(fps).limit_denominator(1000)
    with av.open(str(path), mode="w") as container:
        vs = container.add_stream("libx264", rate=rate)
        vs.width, vs.height = w - (w % 2), h - (h % 2)
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "23"}
        aus = None
        if audio is not None:
            audio = np.asarray(audio, dtype=np.float32)
            if audio.ndim != 2:
                raise ConfigError(f"write_video {path}: expected audio (samples, channels), found shape {audio.shape}")
            channels = audio.shape[1]
            want = int(math.ceil(n / fps * sample_rate_hz))
            if audio.shape[0] < want:
                audio = np.concatenate([audio, np.zeros((want - audio.shape[0], channels), np.float32)])
            audio = np.clip(audio[:want], -1.0, 1.0)
            aus = container.add_stream("aac", rate=sample_rate_hz)
            aus.layout = "stereo" if channels == 2 else ("mono" if channels == 1 else f"{channels}c")
        for f in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f[: vs.height, : vs.width, :3]), format="rgb24")
            for packet in vs.encode(vf):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        if aus is not None:
            chunk = 1024
            for start in range(0, audio.shape[0], chunk):
                block = np.ascontiguousarray(audio[start : start + chunk].T)  # (C, n) planar
                af = av.AudioFrame.from_ndarray(block, format="fltp", layout=aus.layout.name)
                af.sample_rate = sample_rate_hz
                af.pts = start
                for packet in aus.encode(af):
                    container.mux(packet)
            for packet in aus.encode():
                container.mux(packet)
    return path


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of `path` to float32 (S, C) and its sample rate."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ConfigError(f"{path}: expected an audio stream, found none")
        stream = container.streams.audio[0]
        blocks = [f.to_ndarray() for f in container.decode(stream)]  # each (C, n) planar float
        rate = stream.rate
    audio = np.concatenate(blocks, axis=1).T if blocks else np.zeros((0, 2), np.float32)
    return np.ascontiguousarray(audio, dtype=np.float32), int(rate)


def resample_int16(audio: np.ndarray, *, from_hz: int, to_hz: int) -> np.ndarray:
    """int16 (S, C) at `from_hz` to float32 (S', C) at `to_hz` (polyphase, scipy)."""
    from scipy.signal import resample_poly

    g = math.gcd(from_hz, to_hz)
    x = audio.astype(np.float32) / 32768.0
    return resample_poly(x, to_hz // g, from_hz // g, axis=0).astype(np.float32)
