"""What training adds to the fed-back latents (`history_aug.py`): the noise draw is the one runs
always drew, and `--prev-shrink` moves each window a share of the way toward silence, from its
own stream."""

import numpy as np
import pytest
import torch

from livefoley.models.config import get_preset
from livefoley.models.checkpoint import build_model
from livefoley.models.training.batches import encode_audio, step_torch_generator
from livefoley.models.training.diffusion_stage import DiffusionStageConfig
from livefoley.models.training.history_aug import fed_back_augmentation, silent_latent
from livefoley.protocol.errors import ConfigError

B, T, L = 3, 5, 8


def _latents():
    return torch.randn(B, T, L, generator=torch.Generator().manual_seed(7))


def test_the_noise_alone_is_the_draw_runs_always_made():
    latents = _latents()
    aug = fed_back_augmentation(11, 4, 1, latents, prev_noise=0.5)
    g = step_torch_generator(11, 4, 1 + 104729)  # the inline draw stage 1 made before this module
    std = torch.rand(B, 1, 1, generator=g) * 0.5
    assert torch.equal(aug, std * torch.randn(B, T, L, generator=g))
    assert fed_back_augmentation(11, 4, 1, latents, prev_noise=0.0) is None


def test_shrink_moves_each_window_a_share_of_the_way_to_silence():
    latents, silence = _latents(), torch.linspace(-1, 1, L)
    aug = fed_back_augmentation(11, 4, 0, latents, prev_noise=0.0, prev_shrink=0.6, silence=silence)
    fed = latents + aug
    share = (fed - latents) / (silence - latents)  # the same for every tick and dim of a window
    per_window = share.flatten(1)
    torch.testing.assert_close(per_window, per_window[:, :1].expand_as(per_window))
    assert bool(((per_window[:, 0] >= 0) & (per_window[:, 0] <= 0.6)).all())
    assert len(set(per_window[:, 0].tolist())) == B  # drawn per window
    full = fed_back_augmentation(11, 4, 0, latents, prev_noise=0.0, prev_shrink=1.0, silence=silence)
    torch.testing.assert_close(full, per_window[:, :1, None].view(B, 1, 1) / 0.6 * (silence - latents))


def test_shrink_and_noise_add_and_neither_changes_the_others_draw():
    latents, silence = _latents(), torch.zeros(L)
    noise = fed_back_augmentation(3, 9, 0, latents, prev_noise=0.4)
    pull = fed_back_augmentation(3, 9, 0, latents, prev_noise=0.0, prev_shrink=0.5, silence=silence)
    both = fed_back_augmentation(3, 9, 0, latents, prev_noise=0.4, prev_shrink=0.5, silence=silence)
    torch.testing.assert_close(both, noise + pull)


def test_shrink_needs_the_silence_latent_and_a_share_in_range():
    with pytest.raises(ValueError, match=r"expected the silence latent of shape \(8,\), found None"):
        fed_back_augmentation(0, 0, 0, _latents(), prev_noise=0.0, prev_shrink=0.5)
    with pytest.raises(ConfigError, match=r"prev_shrink: expected \[0, 1\], found 1.5"):
        DiffusionStageConfig(prev_shrink=1.5)


def test_the_silence_latent_is_the_encoders_steady_state_on_zeros():
    model = build_model(get_preset("tiny")).eval()
    hop = model.config.hop_samples
    z = silent_latent(model.vae, hop)
    assert z.shape == (model.config.latent_dim,) and z.dtype == torch.float32
    longer = encode_audio(model.vae, np.zeros((40 * hop, model.vae.cfg.channels), np.float32), hop)
    np.testing.assert_allclose(longer[-1], z.numpy(), atol=1e-6)
    np.testing.assert_allclose(longer[-2], z.numpy(), atol=1e-6)  # steady: not a start-up value
