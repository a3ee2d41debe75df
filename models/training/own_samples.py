"""The generator's own samples of a training window: what the live sampler would emit.

What it is: `sampler_settings`, `guided_samples` and `rollout_latents`, shared by the decoder
stage (`train decoder`: the decoder learns what the samples mean) and the diffusion stages'
rollout option (`--rollout-passes`: the transformer learns to read its own samples back).

Live, every step feeds back the latent the generator itself sampled; training feeds back the
VAE's encoding of the real audio (noised with `prev_noise` at most). A model that leans on
the fed-back latent drifts once its own samples come back (exposure bias; measured in
`models/weights/MODEL_CARD.md`). `rollout_latents` makes the fed-back latents the model's own:
K Jacobi passes of the frozen, guided sampler over the window. Pass 1 reads the real latents
(teacher forcing); pass k reads the samples of pass k - 1. Each position keeps one noise draw
for all passes, and position i reads only positions < i (causal), so after K passes the first
K positions are exactly the free-running samples from the window's start, and every later
position is the sampler run K steps on from teacher-forced history. One batched pass per
step instead of T sequential ones.

What it is not: differentiable (no gradients: a rollout is an input, as in scheduled
sampling), nor for LocDiT heads or text models (their callers refuse them by name).
"""

from __future__ import annotations

import torch

from livefoley.models.generator import DEFAULT_GUIDANCE, DEFAULT_NFE
from livefoley.models.sampling import consistency_sample, consistency_sigmas
from livefoley.models.v2a import V2AModel
from livefoley.protocol.errors import ConfigError


def sampler_settings(model: V2AModel, guidance_scale: float | None, nfe: int | None,
                     names: tuple[str, str]) -> tuple[float, int]:
    """(guidance scale, NFE): the given ones, else the checkpoint's, else the live defaults.

    Raises:
        ConfigError: guidance below 1 or NFE outside the consistency sampler's range; the
            message names the option (`names`: the guidance's and the NFE's).
    """
    found = model.sampling_defaults
    scale = guidance_scale if guidance_scale is not None else float(
        found.get("guidance_scale", DEFAULT_GUIDANCE))
    steps = nfe if nfe is not None else int(found.get("nfe", DEFAULT_NFE))
    if not scale >= 1.0:
        raise ConfigError(f"{names[0]}: expected a scale >= 1, found {scale}")
    h = model.config.head
    try:
        consistency_sigmas(steps, h.sigma_min, h.sigma_max)
    except ConfigError as exc:
        raise ConfigError(f"{names[1]}: {exc}") from None
    return scale, steps


@torch.no_grad()
def guided_samples(model: V2AModel, tokens: torch.Tensor, fed_back: torch.Tensor,
                   noise: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """The sampler's latents (B, T, L) of every position, given the fed-back latents.

    tokens (B, T, Dv) vision tokens; fed_back (B, T, L) the latents the transformer reads
    (position i reads fed_back[:, :i]); noise (nfe, B*T, L) the consistency sampler's draws
    (NFE = its first dimension, at the live levels). Guided as the live generator is
    (`V2AModel.guided_conditions`); scale 1 is the conditional path alone.

    Thread-safety: stateless (reads weights). Real-time safe: no.
    """
    B, T, L = fed_back.shape
    if guidance_scale == 1.0:
        z = model.forward_train(tokens, fed_back)
    else:
        z = model.guided_conditions(tokens, fed_back, guidance_scale)
    h = model.config.head
    sigmas = consistency_sigmas(noise.shape[0], h.sigma_min, h.sigma_max, h.rho,
                                device=fed_back.device)
    x0 = consistency_sample(model.head.make_denoiser(z.reshape(B * T, -1)), noise, sigmas)
    return x0.view(B, T, L)


@torch.no_grad()
def rollout_latents(model: V2AModel, tokens: torch.Tensor, latents: torch.Tensor,
                    noise: torch.Tensor, guidance_scale: float, passes: int) -> torch.Tensor:
    """The window's latents as the generator would have sampled them: `passes` Jacobi passes
    of `guided_samples` starting from the real `latents` (B, T, L); see the module docstring.

    Raises:
        ConfigError: passes < 1.

    Thread-safety: stateless (reads weights). Real-time safe: no.
    """
    if passes < 1:
        raise ConfigError(f"rollout_latents: expected passes >= 1, found {passes}")
    fed = latents
    for _ in range(passes):
        fed = guided_samples(model, tokens, fed, noise, guidance_scale)
    return fed
