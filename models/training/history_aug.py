"""What training does to the fed-back latents: noise, and a pull toward silence.

What it is: `fed_back_augmentation`, the (B, T, L) tensor stages 1 and 2 add to the real
latents the transformer reads (never to the targets), and `silent_latent`, the VAE's latent of
digital silence. Two augmentations, each drawn from its own seeded stream so that a run
without one draws exactly what it drew before:

- `prev_noise` (`--prev-noise`): Gaussian noise with a per-window std uniform in [0, max].
- `prev_shrink` (`--prev-shrink`): each window's fed-back latents moved a per-window share,
  uniform in [0, max], of the way toward the silence latent. Live, the model reads its own
  samples, and the recorded generators' samples are quieter than the game (their onset
  envelope 1.7-2.6 dB below it, `models/weights/MODEL_CARD.md`); from a quiet history a model
  trained on real histories infers a quiet scene and stays quiet. Trained on histories that
  are quieter than the audio they precede, it has to take loudness and onsets from the frames.
  Gaussian noise teaches robustness to errors around the truth, not to a bias toward quiet.

What it is not: the rollouts (`own_samples.py`), which feed the model's actual samples.
"""

from __future__ import annotations

import numpy as np
import torch

from livefoley.models.training.batches import encode_audio, step_torch_generator

NOISE_STREAM = 104729  # rank offsets of the two draws' generators
SHRINK_STREAM = 86028121
SILENCE_HOPS = 16  # the encoder's receptive field is filled by then (its last latent is kept)


@torch.no_grad()
def silent_latent(vae, hop_samples: int) -> torch.Tensor:
    """The encoder mean (L,) of digital silence, past the causal start-up (CPU float32)."""
    zeros = np.zeros((SILENCE_HOPS * hop_samples, vae.cfg.channels), np.float32)
    return torch.from_numpy(encode_audio(vae, zeros, hop_samples)[-1].copy())


def fed_back_augmentation(seed: int, step: int, rank: int, latents: torch.Tensor, *,
                          prev_noise: float, prev_shrink: float = 0.0,
                          silence: torch.Tensor | None = None) -> torch.Tensor | None:
    """What to add to `latents` (B, T, L) before the transformer reads them; None for nothing.

    Args:
        seed, step, rank: the draw's coordinates (`batches.step_torch_generator`).
        prev_noise: max per-window std of the Gaussian noise (0: none).
        prev_shrink: max per-window share of the way to `silence` (0: none; at most 1).
        silence: `silent_latent` (L,), needed when prev_shrink > 0.

    Thread-safety: stateless. Real-time safe: no.
    """
    B, T, L = latents.shape
    aug = None
    if prev_noise > 0:
        g = step_torch_generator(seed, step, rank + NOISE_STREAM)
        std = torch.rand(B, 1, 1, generator=g) * prev_noise
        aug = std * torch.randn(B, T, L, generator=g)
    if prev_shrink > 0:
        if silence is None or silence.shape != (L,):
            raise ValueError(f"prev_shrink: expected the silence latent of shape ({L},), found "
                             f"{None if silence is None else tuple(silence.shape)}")
        g = step_torch_generator(seed, step, rank + SHRINK_STREAM)
        share = torch.rand(B, 1, 1, generator=g) * prev_shrink
        pull = share * (silence.to(latents) - latents)
        aug = pull if aug is None else aug + pull.to(aug)
    return aug
