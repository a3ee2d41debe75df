"""Samplers for the per-frame head, and classifier-free guidance on transformer outputs.

What it is: functions of a *callable* denoiser `D(x, sigma) -> x0_hat` (x (N, D), sigma (N,)),
so each sampler is tested on closed-form denoisers (Gaussian data, where the ideal denoiser
and the probability-flow ODE solution are known):
- `heun_sample`: EDM's deterministic 2nd-order sampler (Karras et al. 2022, Algorithm 1) on
  the Karras noise schedule (eq. 5) for the diffusion-pretrained head;
- `consistency_sample`: multistep consistency sampling (Song et al. 2023, Algorithm 1) with
  NFE 1..4 for the ECT-tuned head;
- `apply_cfg`: null + scale * (cond - null), applied to the transformer's vision-position
  output as in SoundReactor's Algorithm 3 (lines 5-6).

What it is not: random. Every sampler takes its noise as an argument, so a caller with a
seeded generator (the StreamingGenerator) controls determinism, and tests fix the noise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

MAX_CONSISTENCY_NFE = 4


def karras_sigmas(
    steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """EDM noise levels (Karras et al. 2022, eq. 5): (steps + 1,), descending, last is 0.

    Raises:
        ConfigError: steps < 1.

    Thread-safety: pure. Real-time safe: no (allocates a small tensor).
    """
    if steps < 1:
        raise ConfigError(f"karras_sigmas: expected steps >= 1, found {steps}")
    i = torch.arange(steps, dtype=torch.float64)
    denom = max(steps - 1, 1)
    inv_rho = 1.0 / rho
    sig = (sigma_max**inv_rho + i / denom * (sigma_min**inv_rho - sigma_max**inv_rho)) ** rho
    return torch.cat([sig, torch.zeros(1, dtype=torch.float64)]).float().to(device)


def consistency_sigmas(
    nfe: int, sigma_min: float, sigma_max: float, rho: float = 7.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Noise levels of an `nfe`-step consistency sampler: (nfe,), starting at sigma_max.

    The intermediate levels are the first `nfe` points of a Karras schedule with `nfe` + 1
    intervals, so the added noise shrinks geometrically in sigma^(1/rho).

    Raises:
        ConfigError: nfe outside 1..4.

    Thread-safety: pure. Real-time safe: no (allocates a small tensor).
    """
    if not 1 <= nfe <= MAX_CONSISTENCY_NFE:
        raise ConfigError(f"consistency sampling: expected nfe in 1..{MAX_CONSISTENCY_NFE}, "
                          f"found {nfe}")
    return karras_sigmas(nfe + 1, sigma_min, sigma_max, rho, device)[:nfe]


def heun_sample(denoiser: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Deterministic EDM Heun sampler (Karras et al. 2022, Algorithm 1, S_churn = 0).

    Args:
        denoiser: D(x, sigma) -> estimate of the clean sample.
        noise: standard normal (N, D); the start is noise * sigmas[0].
        sigmas: (n + 1,) descending noise levels ending at 0 (see `karras_sigmas`).

    Returns:
        x0 (N, D). Costs 2n - 1 denoiser calls.

    Thread-safety: pure. Real-time safe: no growth (small temporaries).
    """
    N = noise.shape[0]
    x = noise * sigmas[0]
    n = sigmas.shape[0] - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        d = (x - denoiser(x, s.expand(N))) / s
        x_next = x + (s_next - s) * d
        if i < n - 1:
            d_next = (x_next - denoiser(x_next, s_next.expand(N))) / s_next
            x_next = x + (s_next - s) * 0.5 * (d + d_next)
        x = x_next
    return x


def consistency_sample(
    denoiser: Denoiser, noises: torch.Tensor, sigmas: torch.Tensor
) -> torch.Tensor:
    """Multistep consistency sampling (Song et al. 2023, Algorithm 1).

    Args:
        denoiser: the consistency function f(x, sigma) -> x0.
        noises: (nfe, N, D) standard normal; noises[0] starts, noises[k] re-noises step k.
        sigmas: (nfe,) descending levels, sigmas[0] = sigma_max (see `consistency_sigmas`).

    Returns:
        x0 (N, D) after `nfe` denoiser calls.

    Thread-safety: pure. Real-time safe: no growth (small temporaries).
    """
    N = noises.shape[1]
    x0 = denoiser(noises[0] * sigmas[0], sigmas[0].expand(N))
    for k in range(1, sigmas.shape[0]):
        x0 = denoiser(x0 + sigmas[k] * noises[k], sigmas[k].expand(N))
    return x0


def apply_cfg(cond: torch.Tensor, null: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance on transformer outputs: null + scale * (cond - null).

    `torch.lerp` gives exactly `cond` at scale 1 and exactly `null` at scale 0.

    Thread-safety: pure. Real-time safe: no growth (one temporary).
    """
    return torch.lerp(null, cond, float(scale))
