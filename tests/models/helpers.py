"""Helpers of the models tests: small configs: every part real, every size tiny, so that the
suite runs in seconds on 2 cores. Hop 20 at 600 Hz keeps the latent rate at 30 Hz."""

import dataclasses

import torch

from livefoley.models import HeadConfig, ModelConfig, TransformerConfig, VAEConfig
from livefoley.models.vision import VISION_TINY


def small_config(**transformer_overrides) -> ModelConfig:
    vision = dataclasses.replace(VISION_TINY, token_dim=24, input_size_px=32,
                                 tiny_channels_per_stage=(8, 8), agg_dim=16, agg_heads=2)
    tr = dict(d_model=32, n_layers=2, n_heads=2, window_frames=4)
    tr.update(transformer_overrides)
    return ModelConfig(
        vision=vision,
        vae=VAEConfig(sample_rate_hz=600, channels=2, latent_dim=8, base_channels=4,
                      channel_mults=(1, 2), strides=(4, 5), res_dilations=(1, 3)),
        transformer=TransformerConfig(**tr),
        head=HeadConfig(width=32, n_blocks=2, time_embed_dim=16, logvar_channels=8),
        seed=3,
    )


def random_frames(B: int, T: int, H: int = 24, W: int = 40, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (B, T, H, W, 4), generator=g, dtype=torch.uint8)
