"""LayerScale (CaiT): a learned per-channel gain on each residual branch, as in DINOv2.

The parameter is `gamma` (Meta's name); HF calls it `lambda1` (mapped in `checkpoint.py`).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)


class LayerScale(nn.Module):
    """x -> x * gamma, gamma of shape (D,) initialised to `init_value`."""

    def __init__(self, *, dim: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Thread-safety: stateless. Real-time safe: no (allocates)."""
        return x * self.gamma
