"""Patch embedding of DINOv2: one strided conv from pixels to patch tokens.

What it is: `proj`, a conv with kernel = stride = patch size, named as in
facebookresearch/dinov2 (`patch_embed.proj.*`) so Meta checkpoints load by name.
What it is not: position embedding (see `pos_embed.py`) or preprocessing.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


class PatchEmbed(nn.Module):
    """(B, C, H, W) image -> (B, H/p * W/p, D) patch tokens, row-major over the grid."""

    def __init__(self, *, patch_px: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_px = patch_px
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_px, stride=patch_px)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed patches.

        Raises:
            ConfigError: H or W is not a multiple of the patch size (both named).

        Thread-safety: stateless. Real-time safe: no (allocates the output).
        """
        _, _, H, W = x.shape
        if H % self.patch_px or W % self.patch_px:
            raise ConfigError(f"PatchEmbed: expected height and width multiples of "
                              f"{self.patch_px} px, found {H}x{W}")
        x = self.proj(x)  # (B, D, H/p, W/p)
        return x.flatten(2).transpose(1, 2)  # (B, N, D)
