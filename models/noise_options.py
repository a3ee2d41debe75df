"""The streaming generator's two noise options, and the per-stream state they need.

What it is: `check_noise_options` (the ranges, named in a `ConfigError`) and `StepNoise`, the
preallocated state of one generator's stream:
- `noise_correlation` rho: the sampling noise of step i is rho x that of step i - 1 +
  sqrt(1 - rho^2) x the step's fresh draw (AR(1) across steps). Each step's noise stays
  N(0, I), so each step samples the same distribution; what changes is how fast the part of
  the output that the picture leaves open wanders. Independent draws (rho 0) re-draw it every
  step, a flux floor that buries transients; rho 1 holds one draw for the whole stream. The
  fresh draw is taken for every rho, so the generator's noise stream does not depend on rho.
- `feedback_noise` f: Gaussian noise of std f on the latent fed back to the transformer (the
  played latent stays clean), from its own generator seeded `seed + FEEDBACK_SEED_OFFSET`, so
  runs without it draw what they drew. A model trained with noise on its fed-back latents
  (`train --prev-noise`) never saw a clean history; live, it feeds back its own smooth samples.
Both are off (0) by default; a checkpoint may record them (`livefoley model
--set-noise-correlation/--set-feedback-noise`). Measured: `models/weights/MODEL_CARD.md`.

What it is not: the sampler (`sampling.py`) or the generator's loop (`generator.py`).
"""

from __future__ import annotations

import math

import torch

from livefoley.protocol.errors import ConfigError

FEEDBACK_SEED_OFFSET = 7777  # feedback_noise's generator: the stream's seed + this
FEEDBACK_NOISE_LIMIT = 10.0  # feedback_noise in [0, this); noise_correlation in [0, 1]


def check_noise_options(noise_correlation: float | None, feedback_noise: float | None) -> None:
    """Raise ConfigError for rho outside [0, 1] or f outside [0, 10); None is not checked."""
    if noise_correlation is not None and not 0.0 <= float(noise_correlation) <= 1.0:
        raise ConfigError(f"noise_correlation: expected 0..1, found {noise_correlation}")
    if feedback_noise is not None and not 0.0 <= float(feedback_noise) < FEEDBACK_NOISE_LIMIT:
        raise ConfigError(f"feedback_noise: expected 0 <= f < {FEEDBACK_NOISE_LIMIT:g}, "
                          f"found {feedback_noise}")


class StepNoise:
    """The AR(1) chain over a stream's sampling noise and its feedback-noise stream.

    Args:
        noise_shape: shape of the sampler's noise buffer (rows, B, ..., L).
        latent_shape: shape of one fed-back latent (B, L).
        device: where the buffers and the feedback generator live.

    Thread-safety: the generator's thread only. Real-time safe: yes after construction
    (in-place updates of preallocated buffers).
    """

    def __init__(self, noise_shape: tuple[int, ...], latent_shape: tuple[int, ...],
                 device: torch.device) -> None:
        self._chain = torch.empty(noise_shape, device=device)
        self._feedback = torch.empty((2, *latent_shape), device=device)  # draw, result
        self._rng = torch.Generator(device=device)
        self._started = False

    def restart(self, seed: int) -> None:
        """A new stream: the chain starts from its next draw, the feedback stream from seed."""
        self._rng.manual_seed(seed + FEEDBACK_SEED_OFFSET)
        self._started = False

    def restart_chain(self) -> None:
        """The chain starts afresh at the next step (a new rho or noise shape)."""
        self._started = False

    def correlate(self, fresh: torch.Tensor, rho: float) -> torch.Tensor:
        """This step's noise from its fresh draw `fresh` (the first `len(fresh)` rows)."""
        chain = self._chain[: fresh.shape[0]]
        if self._started:
            chain.mul_(rho).add_(fresh, alpha=math.sqrt(1.0 - rho * rho))
        else:
            chain.copy_(fresh)
            self._started = True
        return chain

    def feed_back(self, latent: torch.Tensor | None, std: float) -> torch.Tensor | None:
        """The latent as the transformer reads it: + N(0, std^2) when std > 0."""
        if latent is None or std == 0.0:
            return latent
        draw, out = self._feedback[0], self._feedback[1]
        torch.randn(draw.shape, generator=self._rng, out=draw)
        return torch.add(latent.to(out.dtype), draw, alpha=std, out=out).to(latent.dtype)
