"""Adapt a LiveFoley checkpoint (or preset) to the evaluation's `generate(frames, fps)`.

What it is: `model_generate_fn`, which loads a model with `livefoley.models.checkpoint.
load_model`, wraps it in a `StreamingGenerator`, and, for frames at any `fps`, picks the
newest frame at each latent tick with `timing.frame_indices_for_ticks` (the rule the live
scheduler follows) before the offline `generate` (which equals stepping frame by frame).

What it is not: the model or its loader; imports of both happen on call, so the metrics
and baselines work in a build without them.
"""

from __future__ import annotations

import logging

import numpy as np

from livefoley.models.data.timing import frame_indices_for_ticks, frame_timestamps_ns
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


def model_generate_fn(path_or_preset: str, *, device: str = "cpu", nfe: int | None = None,
                      guidance_scale: float | None = None, seed: int = 0,
                      sample_rate_hz: int | None = None, sampler: str | None = None,
                      heun_steps: int | None = None, noise_correlation: float | None = None,
                      feedback_noise: float | None = None,
                      history_guidance: float | None = None):
    """Return (generate, info) for a checkpoint path or preset name.

    Args:
        path_or_preset: a checkpoint file or a preset ("tiny", "sr").
        device: torch device.
        nfe, guidance_scale: sampling options (None keeps the generator's defaults).
        sampler, heun_steps: "consistency" (an ECT head) or "heun" (a stage-1 head) and the
            Heun step count (None keeps the generator's defaults).
        noise_correlation, feedback_noise: the generator's noise options (None keeps the
            checkpoint's, else 0).
        history_guidance: the history guidance scale w_h (None keeps the checkpoint's, else 1).
        seed: sampling noise seed.
        sample_rate_hz: the dataset's rate; the model's must equal it.

    Returns:
        `generate(frames (T, H, W, 3) uint8, fps) -> (N, C) float32` and a dict of facts
        (checkpoint, rates, options) for the report.

    Raises:
        ConfigError: the model's sample rate differs from `sample_rate_hz`.
        CheckpointError: the checkpoint does not load.
    """
    import torch

    from livefoley.models.checkpoint import load_model
    from livefoley.models.generator import StreamingGenerator

    model = load_model(path_or_preset, device)
    vae = model.config.vae
    if sample_rate_hz is not None and vae.sample_rate_hz != sample_rate_hz:
        raise ConfigError(f"model {path_or_preset}: expected sample rate {sample_rate_hz} Hz "
                          f"(the dataset's), found {vae.sample_rate_hz} Hz")
    gen = StreamingGenerator(model, device=device, seed=seed)
    given = {"nfe": nfe, "guidance_scale": guidance_scale, "sampler": sampler, "steps": heun_steps,
             "noise_correlation": noise_correlation, "feedback_noise": feedback_noise,
             "history_guidance": history_guidance}
    options = {k: v for k, v in given.items() if v is not None}  # unset: the checkpoint's
    if options:
        gen.set_options(**options)
    rate = vae.latent_rate_hz

    def generate(frames: np.ndarray, fps: float) -> np.ndarray:
        n_ticks = int(len(frames) / fps * rate)
        idx = frame_indices_for_ticks(frame_timestamps_ns(len(frames), fps), n_ticks,
                                      latent_rate_hz=rate)
        clip = np.ascontiguousarray(np.asarray(frames)[idx][None])  # (1, T, H, W, 3)
        with torch.inference_mode():
            pcm = gen.generate(torch.from_numpy(clip).to(device), "RGB8")  # (1, T*hop, C)
        return pcm[0].cpu().numpy()

    n_params = sum(p.numel() for p in model.parameters())
    info = {"checkpoint": str(path_or_preset), "parameters": n_params,
            "sample_rate_hz": vae.sample_rate_hz, "latent_rate_hz": rate,
            "nfe": gen.nfe, "guidance_scale": gen.guidance_scale, "sampler": gen.sampler,
            "noise_correlation": gen.noise_correlation, "feedback_noise": gen.feedback_noise,
            "history_guidance": gen.history_guidance,
            "seed": seed}
    if gen.sampler == "heun":
        info["heun_steps"] = gen.steps
    return generate, info
