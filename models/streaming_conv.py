"""Causal 1-D convolutions that run either on a whole signal or chunk by chunk, identically.

What it is: the leaf layers of the audio VAE (after moshi's `StreamingConv1d` /
`StreamingConvTranspose1d`, as used by the SoundReactor causal VAE):
- `CausalConv1d`: left-pads (effective kernel - stride) samples; streaming keeps those samples
  of the previous chunk as its state;
- `CausalConvTranspose1d`: keeps the first L*stride outputs; streaming keeps the
  (kernel - stride) overlapping tail as its state and adds it to the next chunk (bias added
  once, after the overlap-add);
- `SnakeBeta`: x + 1/beta sin^2(alpha x) with log-scale per-channel alpha, beta
  (stable-audio-tools `SnakeBeta`); pointwise, so stateless.

State is explicit: `init_state(batch, device, dtype)` returns the tensor a layer needs, and
`step(x, state)` updates it in place, so its storage never moves (CUDA-graph friendly) and two
streams can share one set of weights.

What it is not: padding-agnostic. Chunks must be a multiple of the stride (the VAE feeds one
hop at a time, which is).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


class SnakeBeta(nn.Module):
    """Snake activation with separate log-scale frequency (alpha) and magnitude (beta)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))
        self._cache: tuple[tuple, torch.Tensor, torch.Tensor] | None = None

    def _coefficients(self) -> tuple[torch.Tensor, torch.Tensor]:
        if torch.is_grad_enabled():
            return self.alpha.exp()[:, None], (self.beta.exp() + 1e-9).reciprocal()[:, None]
        # Inference: exp(alpha), 1/exp(beta) once per weight version, not once per chunk
        # (a third of this layer's ops at one hop per step). _version moves on every
        # in-place update (optimiser step, load_state_dict), so the cache cannot go stale.
        key = (self.alpha._version, self.beta._version, self.alpha.data_ptr(),
               self.beta.data_ptr(), self.alpha.dtype)
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                alpha = self.alpha.exp()[:, None]  # (C, 1)
                inv_beta = (self.beta.exp() + 1e-9).reciprocal()[:, None]  # (C, 1)
            self._cache = (key, alpha, inv_beta)
        return self._cache[1], self._cache[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha, inv_beta = self._coefficients()
        return torch.addcmul(x, inv_beta, torch.sin(x * alpha).square())


class StreamingLayer(nn.Module):
    """A layer with a per-stream state tensor; `state_index` is set by the owning network."""

    state_index: int = -1

    def init_state(self, batch_size: int, device, dtype) -> torch.Tensor:
        raise NotImplementedError

    def step(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class CausalConv1d(StreamingLayer):
    """Conv1d whose output n depends on inputs up to the end of its stride block only."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 stride: int = 1, dilation: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride,
                              dilation=dilation, bias=bias)
        self.stride = stride
        self.pad = (kernel_size - 1) * dilation + 1 - stride  # effective kernel - stride
        assert self.pad >= 0, "kernel must cover the stride"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (self.pad, 0)))

    def init_state(self, batch_size: int, device, dtype) -> torch.Tensor:
        return torch.zeros(batch_size, self.conv.in_channels, self.pad, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        if self.pad == 0:
            return self.conv(x)
        full = torch.cat([state, x], dim=2)  # (B, C, pad + L)
        state.copy_(full[:, :, full.shape[2] - self.pad:])
        return self.conv(full)


class CausalConvTranspose1d(StreamingLayer):
    """ConvTranspose1d trimmed to L*stride outputs; the tail overlaps the next chunk."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 stride: int) -> None:
        super().__init__()
        assert kernel_size >= stride, "kernel must cover the stride"
        self.conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride=stride)
        self.stride = stride
        self.overlap = kernel_size - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)  # (B, C, (L-1)*s + k)
        return y[:, :, : x.shape[2] * self.stride]

    def init_state(self, batch_size: int, device, dtype) -> torch.Tensor:
        return torch.zeros(batch_size, self.conv.out_channels, self.overlap, device=device,
                           dtype=dtype)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        y = F.conv_transpose1d(x, self.conv.weight, None, stride=self.stride)  # (B, C, L*s + ov)
        n = x.shape[2] * self.stride
        if self.overlap:
            y[:, :, : self.overlap] += state
            state.copy_(y[:, :, n:])
        out = y[:, :, :n]
        if self.conv.bias is not None:
            out = out + self.conv.bias[None, :, None]
        return out
