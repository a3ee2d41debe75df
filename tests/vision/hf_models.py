"""Test helpers: small random Hugging Face DINOv2 models (test-only dependency; no download)."""

from __future__ import annotations

import dataclasses

import torch

from livefoley.models.vision import VisionConfig

EMBED_DIM = 32
DEPTH = 2
HEADS = 2
PATCH_PX = 14
PRETRAIN_PX = 56  # 4x4 position grid


def make_hf_model(n_registers: int, seed: int = 0) -> torch.nn.Module:
    """A random `Dinov2Model` (n_registers == 0) or `Dinov2WithRegistersModel`, every
    parameter perturbed (LayerScale, norms, CLS, registers too) so that no name is
    loaded by luck."""
    from transformers import (
        Dinov2Config,
        Dinov2Model,
        Dinov2WithRegistersConfig,
        Dinov2WithRegistersModel,
    )

    common = dict(hidden_size=EMBED_DIM, num_hidden_layers=DEPTH, num_attention_heads=HEADS,
                  intermediate_size=4 * EMBED_DIM, image_size=PRETRAIN_PX, patch_size=PATCH_PX)
    if n_registers:
        model = Dinov2WithRegistersModel(
            Dinov2WithRegistersConfig(num_register_tokens=n_registers, **common))
    else:
        model = Dinov2Model(Dinov2Config(**common))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return model.eval()


def small_vit_config(n_registers: int, **changes) -> VisionConfig:
    """The VisionConfig that describes `make_hf_model(n_registers)`."""
    cfg = VisionConfig(kind="dinov2", token_dim=16, input_size_px=PRETRAIN_PX,
                       vit_embed_dim=EMBED_DIM, vit_depth=DEPTH, vit_heads=HEADS,
                       vit_patch_px=PATCH_PX, vit_registers=n_registers,
                       vit_pretrain_size_px=PRETRAIN_PX, vit_interpolate_offset=0.0,
                       vit_interpolate_antialias=bool(n_registers), agg_dim=16, agg_heads=2,
                       agg_downsample=2)
    return dataclasses.replace(cfg, **changes)


def hf_patch_features(model: torch.nn.Module, x: torch.Tensor, n_registers: int) -> torch.Tensor:
    """HF's final-norm patch features (B, N, D) for normalised images x."""
    with torch.no_grad():
        out = model(pixel_values=x).last_hidden_state
    return out[:, 1 + n_registers:]
