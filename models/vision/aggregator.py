"""Temporal delta and aggregation: a frame's grid -> one vision token (SoundReactor Fig. 2a).

What it is: for frame i with grid features V_i (N cells x D) and the previous frame's V_{i-1},
  1. channel-concatenate V_i with its temporal difference V_i - V_{i-1}       (N, 2D)
  2+3. project and spatially downsample in one linear map of each s x s
     neighbourhood of cells (a conv with kernel = stride = s, written as a
     patchify + matmul; a per-cell projection followed by a strided conv with no
     nonlinearity between them is the same family of maps, in fewer ops)     (N/s^2, A)
  4. flatten, add a learned position per cell, append a learned summary token (N/s^2 + 1, A)
  5. a small bidirectional transformer over that set; the summary token's output,
     normalised and projected, is the frame's vision token                    (token_dim,)

The first frame of a session has no predecessor. It is defined as its own predecessor
(V_0 := V_1), so its delta is exactly zero: "nothing changed yet". The alternatives are
worse: V_0 := 0 makes the delta equal to the features themselves, a large spurious change
the model would learn to answer with an onset sound at every session start or reset; a
learned V_0 adds a parameter that only ever sees first frames. A zero delta is also what a
static scene gives, so the first token is in the training distribution of ordinary frames.
The same rule applies after a per-session reset (see `VisionState.reset_rows`).

What it is not: temporal attention across frames. Each frame's token sees only frames i and
i-1; longer context is the causal transformer's job. So the module is causal by
construction and streaming equals offline (tested).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from livefoley.protocol.errors import ConfigError

from .block import Block

log = logging.getLogger(__name__)


class TemporalAggregator(nn.Module):
    """(grid, previous grid), each (B, N, D) -> (B, token_dim)."""

    def __init__(self, *, grid_dim: int, grid_shape: tuple[int, int], agg_dim: int, depth: int,
                 num_heads: int, mlp_ratio: float, downsample: int, token_dim: int) -> None:
        super().__init__()
        gh, gw = grid_shape
        self.grid_dim = grid_dim
        self.grid_shape = (gh, gw)
        self.downsample = downsample
        self.proj = nn.Linear(downsample * downsample * 2 * grid_dim, agg_dim)
        n_cells = (gh // downsample) * (gw // downsample)
        self.pos = nn.Parameter(torch.zeros(1, n_cells, agg_dim))
        self.summary = nn.Parameter(torch.zeros(1, 1, agg_dim))
        self.blocks = nn.ModuleList(
            Block(dim=agg_dim, num_heads=num_heads, mlp_ratio=mlp_ratio, layerscale_init=1.0,
                  ln_eps=1e-6)
            for _ in range(depth))
        self.norm = nn.LayerNorm(agg_dim, eps=1e-6)
        self.out = nn.Linear(agg_dim, token_dim)
        nn.init.trunc_normal_(self.pos, std=0.02)
        nn.init.trunc_normal_(self.summary, std=0.02)

    def forward(self, grid: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """One token per frame from its grid and its predecessor's grid.

        Args:
            grid: (B, N, D) grid features of the current frames.
            prev: (B, N, D) grid features of the previous frames (= `grid` for first frames).

        Returns:
            (B, token_dim) vision tokens.

        Raises:
            ConfigError: N or D is not what the aggregator was built for (both named).

        Thread-safety: stateless. Real-time safe: no (allocates).
        """
        B, N, D = grid.shape
        gh, gw = self.grid_shape
        if N != gh * gw or D != self.grid_dim or prev.shape != grid.shape:
            raise ConfigError(f"TemporalAggregator: expected grid and prev of shape (B, {gh * gw}, "
                              f"{self.grid_dim}), found {tuple(grid.shape)} and "
                              f"{tuple(prev.shape)}")
        x = self.cells(grid, prev)  # (B, M, A)
        x = torch.cat([x, self.summary.expand(B, -1, -1)], dim=1)  # (B, M + 1, A)
        for blk in self.blocks:
            x = blk(x)
        return self.out(self.norm(x[:, -1]))  # (B, token_dim)

    def cells(self, grid: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """Steps 1-4 without the summary token: (B, N, D) x 2 -> (B, M, A), M = N / s^2.

        Cell m = (r, c) of the output sees exactly grid cells (r*s..r*s+s-1, c*s..c*s+s-1).
        Thread-safety: stateless. Real-time safe: no (allocates).
        """
        B, N, D = grid.shape
        gh, gw = self.grid_shape
        s = self.downsample
        x = torch.cat([grid, grid - prev], dim=-1)  # (B, N, 2D)
        if s > 1:
            x = x.view(B, gh // s, s, gw // s, s, 2 * D)  # (B, gh/s, s, gw/s, s, 2D)
            x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, -1, s * s * 2 * D)  # (B, M, s*s*2D)
        return self.proj(x) + self.pos  # (B, M, A)
