"""DINOv2 vision transformer (Oquab et al. 2023; registers: Darcet et al. 2024), inference side.

What it is: the ViT of facebookresearch/dinov2 `vision_transformer.py` with its parameter
names (`cls_token`, `pos_embed`, `register_tokens`, `mask_token`, `patch_embed`, `blocks.N`,
`norm`), so that a Meta state dict loads by name and an HF one through the key table in
`checkpoint.py`. Token order is [CLS, registers..., patches...] as in both references;
`forward` returns the final-norm **patch** features (B, N, D), not the CLS token, because
SoundReactor uses the grid features.

What it is not: the training-time machinery (masking, drop-path, SwiGLU of ViT-g, chunked
FSDP blocks). `mask_token` is kept only so that checkpoints load strictly.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from .block import Block
from .patch_embed import PatchEmbed
from .pos_embed import interpolate_pos_embed

log = logging.getLogger(__name__)


class DinoVisionTransformer(nn.Module):
    """ViT returning patch features at any input size (a multiple of the patch size)."""

    def __init__(self, *, embed_dim: int, depth: int, num_heads: int, patch_px: int = 14,
                 n_registers: int = 0, mlp_ratio: float = 4.0, layerscale_init: float = 1e-5,
                 ln_eps: float = 1e-6, pretrain_size_px: int = 518,
                 interpolate_offset: float = 0.0, interpolate_antialias: bool = False,
                 in_chans: int = 3) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.patch_px = patch_px
        self.n_registers = n_registers
        self.interpolate_offset = interpolate_offset
        self.interpolate_antialias = interpolate_antialias
        n_pos = (pretrain_size_px // patch_px) ** 2
        self.patch_embed = PatchEmbed(patch_px=patch_px, in_chans=in_chans, embed_dim=embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + n_pos, embed_dim))
        self.register_tokens = (nn.Parameter(torch.zeros(1, n_registers, embed_dim))
                                if n_registers else None)
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))
        self.blocks = nn.ModuleList(
            Block(dim=embed_dim, num_heads=num_heads, mlp_ratio=mlp_ratio,
                  layerscale_init=layerscale_init, ln_eps=ln_eps)
            for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=ln_eps)
        self._pos_cache: dict[tuple, tuple[int, torch.Tensor]] = {}
        self._init_weights()

    def _init_weights(self) -> None:
        # As facebookresearch/dinov2 init_weights: trunc-normal(0.02) for positions and
        # linears, tiny normal for CLS/registers.
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        if self.register_tokens is not None:
            nn.init.normal_(self.register_tokens, std=1e-6)
        for mod in self.modules():
            if isinstance(mod, nn.Linear):
                nn.init.trunc_normal_(mod.weight, std=0.02)
                nn.init.zeros_(mod.bias)

    def grid_shape(self, height_px: int, width_px: int) -> tuple[int, int]:
        """(rows, cols) of the patch grid for an input of this size."""
        return height_px // self.patch_px, width_px // self.patch_px

    def _patch_pos(self, rows: int, cols: int) -> torch.Tensor:
        # Interpolated embeddings depend only on (rows, cols) and the weights: cache them
        # unless gradients must flow into pos_embed. `_version` changes on every in-place
        # update (optimizer step, load_state_dict), which invalidates the entry.
        patch_pos = self.pos_embed[:, 1:]
        if self.pos_embed.requires_grad and torch.is_grad_enabled():
            return interpolate_pos_embed(patch_pos, rows, cols, offset=self.interpolate_offset,
                                         antialias=self.interpolate_antialias)
        key = (rows, cols, self.pos_embed.device, self.pos_embed.dtype)
        hit = self._pos_cache.get(key)
        if hit is None or hit[0] != self.pos_embed._version:
            with torch.no_grad():
                value = interpolate_pos_embed(patch_pos, rows, cols,
                                              offset=self.interpolate_offset,
                                              antialias=self.interpolate_antialias)
            hit = (self.pos_embed._version, value)
            self._pos_cache[key] = hit
        return hit[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch features of normalised images.

        Args:
            x: (B, 3, H, W) float images, ImageNet-normalised; H, W multiples of the patch.

        Returns:
            (B, N, D) final-norm patch features, N = (H/p)*(W/p), row-major.

        Raises:
            ConfigError: H or W is not a multiple of the patch size.

        Thread-safety: not thread-safe (position cache). Real-time safe: no (allocates).
        """
        B, _, H, W = x.shape
        rows, cols = self.grid_shape(H, W)
        tokens = self.patch_embed(x)  # (B, N, D)
        pos_cls = self.pos_embed[:, :1]  # (1, 1, D)
        tokens = tokens + self._patch_pos(rows, cols)
        cls = (self.cls_token + pos_cls).expand(B, -1, -1)  # (B, 1, D)
        parts = [cls]
        if self.register_tokens is not None:
            parts.append(self.register_tokens.expand(B, -1, -1))  # (B, R, D)
        parts.append(tokens)
        h = torch.cat(parts, dim=1)  # (B, 1 + R + N, D)
        for blk in self.blocks:
            h = blk(h)
        h = self.norm(h)
        return h[:, 1 + self.n_registers:]  # (B, N, D)
