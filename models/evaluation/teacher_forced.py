"""Teacher-forced generation: how much a model loses to feeding back its own samples.

What it is: `teacher_forced_scores`, which generates each held-out clip with the real
previous latents fed back (the VAE's encoding of the game's audio, as in training) instead
of the model's own samples, and scores it with the evaluation's per-clip metrics
(`runner.score_pair`, micro-averaged onsets as in the report). Next to the free-running
`livefoley eval` numbers it separates "the model cannot predict the next latent" from "the
model drifts on its own output" (exposure bias). `livefoley eval --teacher-forced` runs it.

The clip is cut into windows of the transformer's KV window (`window_frames` ticks); each
window starts from the beginning-of-sequence token, as a training window does. Sampling is
the generator's: vision guidance by `V2AModel.guided_conditions`, then the consistency
sampler with `nfe` steps. MLP heads only (a LocDiT model raises ConfigError).

What it is not: a live path (it needs the real audio) or a model score to ship: the live
model never sees the real audio.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from livefoley.models.data.timing import frame_indices_for_ticks
from livefoley.models.evaluation.round_trip import heldout_reals
from livefoley.models.evaluation.runner import EvalConfig, aggregate, score_pair
from livefoley.protocol.errors import ConfigError


def teacher_forced_scores(data_root: str | Path, model_path: str, *, max_episodes: int = 8,
                          max_seconds: float = 20.0, guidance_scale: float = 3.0, nfe: int = 1,
                          seed: int = 0) -> dict:
    """Summary (as `runner.aggregate`) and per-clip scores of teacher-forced generation.

    Raises:
        ConfigError: no held-out shards, a LocDiT model, or a sample-rate mismatch.
    """
    import torch

    from livefoley.models.checkpoint import load_model
    from livefoley.models.sampling import consistency_sample, consistency_sigmas

    model = load_model(model_path).eval()
    if model.config.head_kind != "mlp":
        raise ConfigError(f"teacher-forced eval: expected an MLP head, found "
                          f"{model.config.head_kind!r}")
    rate = model.config.vae.latent_rate_hz
    W, h = model.config.transformer.window_frames, model.config.head
    sigmas = consistency_sigmas(nfe, h.sigma_min, h.sigma_max, h.rho)
    g = torch.Generator().manual_seed(seed)
    per = []
    for shard, J, real in heldout_reals(data_root, model, max_episodes=max_episodes,
                                        max_seconds=max_seconds, what="teacher-forced eval"):
        ts = np.asarray(shard.timestamps_ns)
        idx = frame_indices_for_ticks(ts, J, latent_rate_hz=rate, start_ns=int(ts[0]))
        frames = torch.from_numpy(np.asarray(shard.frames)[np.concatenate([idx[:1], idx])])
        with torch.inference_mode():
            pcm = torch.from_numpy(np.ascontiguousarray(real.T))[None]  # (1, C, J*hop)
            latents = model.vae.encode(pcm)[0][0].T  # encoder mean, (J, L)
            grid = model.vision.encode_grid(frames, "RGB8")  # (J + 1, N, Dg)
            tokens = model.vision.tokens_from_grid(grid[1:][None], prev_grid=grid[:1])
            out = []
            for s in range(0, J, W):
                z = model.guided_conditions(tokens[:, s:s + W], latents[None, s:s + W],
                                            guidance_scale)[0]  # (w, 2D)
                noise = torch.randn((nfe, z.shape[0], latents.shape[1]), generator=g)
                out.append(consistency_sample(model.head.make_denoiser(z), noise, sigmas))
            audio = model.vae.decode(torch.cat(out).T[None])[0].T.numpy()  # (J*hop, C)
        per.append(score_pair(audio, real, shard.sample_rate_hz, EvalConfig()))
    return {"summary": aggregate(per), "per_episode": per, "model": model_path,
            "guidance_scale": guidance_scale, "nfe": nfe, "seed": seed}
