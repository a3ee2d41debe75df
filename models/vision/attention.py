"""Multi-head self-attention of DINOv2 (fused qkv, torch scaled_dot_product_attention).

What it is: `qkv` and `proj` linears named as in facebookresearch/dinov2, so a Meta
checkpoint loads by name; the HF format's separate query/key/value are fused by the key
table in `checkpoint.py`. No mask: every token of one frame attends to every other.
What it is not: causal attention (the vision path is causal across frames, never within one).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


class Attention(nn.Module):
    """Bidirectional multi-head attention over a set of tokens."""

    def __init__(self, *, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        assert dim % num_heads == 0, (dim, num_heads)  # checked by the configs
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) -> (B, N, C). Thread-safety: stateless. Real-time safe: no (allocates)."""
        B, N, C = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.num_heads, C // self.num_heads)  # (B, N, 3, nh, hs)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, nh, N, hs)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, nh, N, hs)
        y = y.transpose(1, 2).reshape(B, N, C)  # (B, N, C)
        return self.proj(y)
