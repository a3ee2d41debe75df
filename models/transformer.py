"""Decoder-only causal transformer with RoPE and a sliding attention window.

What it is: a nanoGPT-shaped pre-LayerNorm transformer over already-embedded tokens, with two
entry points that compute the same function:
- `forward(h)`: the whole sequence at once under the causal sliding-window mask
  (token i attends to j with i - window < j <= i); used for training and as the reference;
- `step(h, cache)`: one token, attending to the bounded `KVCache`.
Streaming equals offline because the cache holds exactly the window the mask allows.

What it is not: aware of vision or audio. Token embedding and the interleaving of
[x_0=BOS, v_1, x_1, v_2, ...] live in `livefoley.models.v2a`.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from livefoley.models.config import TransformerConfig
from livefoley.models.kv_cache import KVCache, apply_rope, rope_angles, rope_inv_freq

log = logging.getLogger(__name__)


def sliding_causal_mask(T: int, window_tokens: int, device: torch.device) -> torch.Tensor:
    """(T, T) bool mask, True where query i may attend key j: i - window < j <= i."""
    i = torch.arange(T, device=device)[:, None]
    j = torch.arange(T, device=device)[None, :]
    return (j <= i) & (i - j < window_tokens)


class SelfAttention(nn.Module):
    """Multi-head self-attention with RoPE on q and k."""

    def __init__(self, d_model: int, n_heads: int, rope_base: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.rope_base = rope_base
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)

    def _qkv(
        self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = h.shape
        qkv = self.qkv(h).view(B, T, 3, self.n_heads, self.head_dim)  # (B, T, 3, nh, hs)
        # q and k rotated in one call: fewer ops per step on the CPU path.
        cos, sin = cos[:, None, None, :], sin[:, None, None, :]  # (T, 1, 1, hs/2)
        qk = apply_rope(qkv[:, :, :2], cos, sin)  # (B, T, 2, nh, hs)
        q, k = qk.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, nh, T, hs)
        v = qkv[:, :, 2].transpose(1, 2)  # (B, nh, T, hs)
        return q, k, v

    def forward(
        self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        B, T, C = h.shape
        q, k, v = self._qkv(h, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, nh, T, hs)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))

    def step(
        self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache, layer: int
    ) -> torch.Tensor:
        B, T, C = h.shape  # T == 1
        q, k, v = self._qkv(h, cos, sin)
        cache.write(layer, k, v)
        bias = cache.attn_bias()  # (1, 1, 1, capacity)
        y = F.scaled_dot_product_attention(q, cache.k[layer], cache.v[layer], attn_mask=bias)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, hidden)
        self.proj = nn.Linear(hidden, d_model)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(h)))


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, mlp_hidden: int, rope_base: float,
                 norm_eps: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, eps=norm_eps)
        self.attn = SelfAttention(d_model, n_heads, rope_base)
        self.ln_2 = nn.LayerNorm(d_model, eps=norm_eps)
        self.mlp = MLP(d_model, mlp_hidden)

    def forward(self, h, cos, sin, mask):
        h = h + self.attn(self.ln_1(h), cos, sin, mask)
        return h + self.mlp(self.ln_2(h))

    def step(self, h, cos, sin, cache: KVCache, layer: int):
        h = h + self.attn.step(self.ln_1(h), cos, sin, cache, layer)
        return h + self.mlp(self.ln_2(h))


class CausalTransformer(nn.Module):
    """Stack of `Block`s with a final LayerNorm; see the module docstring for the contract."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.blocks = nn.ModuleList(
            Block(cfg.d_model, cfg.n_heads, cfg.mlp_ratio * cfg.d_model, cfg.rope_base,
                  cfg.norm_eps)
            for _ in range(cfg.n_layers)
        )
        self.ln_f = nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps)
        # float64 RoPE frequencies per device; kept off the module's buffers so that
        # `.half()` / `.to(dtype)` cannot round them.
        self._inv_freq: dict[torch.device, torch.Tensor] = {}

    def _freqs(self, device: torch.device) -> torch.Tensor:
        if device not in self._inv_freq:
            self._inv_freq[device] = rope_inv_freq(self.cfg.head_dim, self.cfg.rope_base, device)
        return self._inv_freq[device]

    def new_cache(self, batch_size: int, device: torch.device | str = "cpu",
                  dtype: torch.dtype = torch.float32) -> KVCache:
        """A fresh, preallocated cache for `batch_size` rows (window_tokens slots per layer).

        Thread-safety: any thread. Real-time safe: no (allocates).
        """
        c = self.cfg
        return KVCache(n_layers=c.n_layers, batch_size=batch_size, n_heads=c.n_heads,
                       head_dim=c.head_dim, capacity_tokens=c.window_tokens, device=device,
                       dtype=dtype)

    def forward(self, h: torch.Tensor, start_pos: int = 0) -> torch.Tensor:
        """Offline pass over embedded tokens h (B, T, d_model) -> (B, T, d_model).

        Thread-safety: stateless. Real-time safe: no.
        """
        B, T, C = h.shape
        positions = torch.arange(start_pos, start_pos + T, device=h.device)
        cos, sin = rope_angles(positions, self._freqs(h.device))  # (T, hs/2)
        mask = sliding_causal_mask(T, self.cfg.window_tokens, h.device)
        for block in self.blocks:
            h = block(h, cos, sin, mask)
        return self.ln_f(h)

    def step(self, h: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """One token h (B, d_model) through every layer, updating `cache`; returns (B, d_model).

        Thread-safety: one stepping thread per cache. Real-time safe: no growth; shapes static.
        """
        h = h[:, None, :]  # (B, 1, C)
        pos = cache.begin_token()  # (1,)
        cos, sin = rope_angles(pos, self._freqs(h.device))  # (1, hs/2)
        for layer, block in enumerate(self.blocks):
            h = block.step(h, cos, sin, cache, layer)
        cache.end_token()
        return self.ln_f(h)[:, 0]
