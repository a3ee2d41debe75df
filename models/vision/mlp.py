"""The transformer MLP of DINOv2 ViT-S/B/L: fc1, exact GELU, fc2 (names as in Meta's code).

What it is not: the SwiGLU MLP of ViT-g/14; a giant checkpoint's `w12`/`w3` keys are
refused by the loader as unexpected keys.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)


class Mlp(nn.Module):
    """(..., D) -> (..., D) through a hidden layer of `hidden_dim`."""

    def __init__(self, *, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Thread-safety: stateless. Real-time safe: no (allocates)."""
        return self.fc2(self.act(self.fc1(x)))
