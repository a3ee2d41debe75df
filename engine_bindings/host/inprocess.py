"""In-process generation for pipelines that want no second process and no shared memory.

What it is: `InProcessPipeline`, the same model runner the sidecar uses (so the same seed and
the same frames give the same audio as a lockstep sidecar), driven by plain calls: `step`
one frame (or a batch) to one hop of audio, or `render` a whole frame sequence with its
timestamps, choosing the frame for each latent tick with the shared rule
`livefoley.models.data.timing.frame_indices_for_ticks` (the newest frame at or before the
tick), as training pairs them.

What it is not: real-time. Nothing here schedules against a clock; a world model that
produces frames calls `step` when it has one.

Importing this module is cheap; torch and the models load on construction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

_FORMATS = {"rgba8": 1, "bgra8": 2, "rgb8": 3}


class InProcessPipeline:
    """A streaming video-to-audio generator in this process.

    Args:
        model: "default" (bundled weights, else tiny with random weights), "tiny", "sr", or a path.
        device: torch device string.
        seed: generator seed.
        nfe, guidance_scale: sampling options.
        sampler_options: the sampler's extras ({noise_correlation, feedback_noise,
            history_guidance}) over the checkpoint's; ConfigError names a bad one.
        batch_size: independent streams stepped together.
        warmup_steps: steps run and discarded before the first real one.
        channel_layout: None returns the model's own output (stereo, or world-frame FOA);
            "foa", "binaural" or "stereo" renders a FOA model's output as a sidecar session of
            that layout does (head-tracked by the `orientation` given to `step`; the same
            rules and errors as the sidecar's `runtime/layout.py`).

    Thread-safety: one thread. Real-time safe: no.
    """

    def __init__(self, model: str = "default", *, device: str = "cpu", seed: int = 0, nfe: int = 1,
                 guidance_scale: float = 1.0, batch_size: int = 1, warmup_steps: int = 0,
                 channel_layout: str | None = None,
                 sampler_options: Mapping[str, float] | None = None) -> None:
        from livefoley.sidecar.runtime.deadline import QualityLevel
        from livefoley.sidecar.runtime.model import ModelRunner, resolve_model

        self.choice = resolve_model(model)
        self.runner = ModelRunner(self.choice, device=device, batch_size=batch_size, seed=seed,
                                  level=QualityLevel(nfe, guidance_scale), sampler_options=sampler_options)
        self.batch_size = batch_size
        self.sample_rate_hz = self.runner.sample_rate_hz
        self.hop_samples = self.runner.hop_samples
        self.channels = self.runner.channels
        self.latent_rate_hz = self.runner.latent_rate_hz
        self.outputs = None
        if channel_layout is not None:
            from livefoley.sidecar.runtime.layout import LAYOUT_CHANNELS, SessionOutput, check_layout

            want = LAYOUT_CHANNELS.get(channel_layout, 0)
            layout = check_layout(channel_layout, model_channels=self.runner.channels, session_channels=want,
                                  where="InProcessPipeline channel_layout")
            self.outputs = [SessionOutput(layout, model_channels=self.runner.channels,
                                          sample_rate_hz=self.sample_rate_hz) for _ in range(batch_size)]
            self.channels = want
        if warmup_steps:
            self.runner.warm_up(warmup_steps, height=64, width=64, pixel_format=3)

    def reset(self) -> None:
        """Start a new stream (drops the KV cache and decoder state; the seed restarts)."""
        self.runner.reset()
        for out in self.outputs or ():
            out.reset()

    def step(self, frames: np.ndarray, pixel_format: str | int = "rgb8",
             orientation: tuple[float, float, float] | None = None) -> np.ndarray:
        """Audio for one frame per stream.

        Args:
            frames: uint8 (H, W, C) for batch 1, or (B, H, W, C).
            pixel_format: "rgb8" | "rgba8" | "bgra8" (or the PixelFormat value).
            orientation: listener (yaw, pitch, roll) in radians, LiveFoley's convention, at the
                end of this block (every stream); used with a `channel_layout`, else ignored.

        Returns:
            float32 (hop_samples, channels), or (B, hop_samples, channels) for a batch.
        """
        fmt = _FORMATS.get(pixel_format, pixel_format) if isinstance(pixel_format, str) else int(pixel_format)
        if fmt not in (1, 2, 3):
            raise ConfigError(f"pixel_format: expected one of {sorted(_FORMATS)}, found {pixel_format!r}")
        arr = np.asarray(frames)
        single = arr.ndim == 3
        batch = arr[None] if single else arr
        if batch.ndim != 4 or batch.shape[0] != self.batch_size or batch.dtype != np.uint8:
            raise ConfigError(f"frames: expected uint8 ({self.batch_size}, H, W, C) or (H, W, C), found "
                              f"{arr.dtype} {arr.shape}")
        pcm = self.runner.step(batch, fmt)
        self.runner.prepare()
        if self.outputs is not None:
            pcm = np.stack([out.render(block, orientation) for out, block in zip(self.outputs, pcm)])
        return pcm[0] if single else pcm

    def render(self, frames, timestamps_ns: np.ndarray, *, duration_ns: int | None = None,
               pixel_format: str | int = "rgb8") -> np.ndarray:
        """Audio for a whole frame sequence (batch 1), one latent tick at a time.

        Args:
            frames: indexable sequence of uint8 (H, W, C) frames.
            timestamps_ns: their times (non-decreasing), ns from any origin.
            duration_ns: length to render (default: last timestamp plus one frame period).
            pixel_format: the frames' format.

        Returns:
            float32 (ticks * hop_samples, channels).
        """
        from livefoley.models.data.timing import frame_indices_for_ticks, ticks_covering

        ts = np.asarray(timestamps_ns, dtype=np.int64)
        if len(frames) != ts.shape[0] or ts.shape[0] == 0:
            raise ConfigError(f"render: expected one timestamp per frame (>= 1), found {ts.shape[0]} for {len(frames)} frames")
        if duration_ns is None:
            period = int(np.median(np.diff(ts))) if ts.shape[0] > 1 else int(1e9 / self.latent_rate_hz)
            duration_ns = int(ts[-1] - ts[0]) + period
        n_ticks = ticks_covering(duration_ns, self.latent_rate_hz)
        picks = frame_indices_for_ticks(ts, n_ticks, latent_rate_hz=self.latent_rate_hz)
        self.reset()
        out = np.zeros((n_ticks * self.hop_samples, self.channels), dtype=np.float32)
        for j, k in enumerate(picks):
            out[j * self.hop_samples:(j + 1) * self.hop_samples] = self.step(frames[max(int(k), 0)], pixel_format)
        return out
