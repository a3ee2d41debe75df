"""One pre-norm transformer block of DINOv2: x + ls1(attn(norm1(x))), then + ls2(mlp(norm2(x))).

Submodule names (norm1, attn, ls1, norm2, mlp, ls2) are Meta's, so `blocks.N.*` keys load by
name. The vision aggregator reuses this block at its own width.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from .attention import Attention
from .layer_scale import LayerScale
from .mlp import Mlp

log = logging.getLogger(__name__)


class Block(nn.Module):
    """Pre-norm attention + MLP block with LayerScale on both residual branches."""

    def __init__(self, *, dim: int, num_heads: int, mlp_ratio: float, layerscale_init: float,
                 ln_eps: float = 1e-6, qkv_bias: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=ln_eps)
        self.attn = Attention(dim=dim, num_heads=num_heads, qkv_bias=qkv_bias)
        self.ls1 = LayerScale(dim=dim, init_value=layerscale_init)
        self.norm2 = nn.LayerNorm(dim, eps=ln_eps)
        self.mlp = Mlp(dim=dim, hidden_dim=int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim=dim, init_value=layerscale_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D). Thread-safety: stateless. Real-time safe: no (allocates)."""
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))
