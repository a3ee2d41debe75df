"""Fixed-capacity key/value cache of the causal transformer, and the RoPE angles it relies on.

What it is: one ring of `capacity_tokens` slots per layer, preallocated at construction, so a
session of hours holds constant memory and every step touches tensors of the same shapes at
the same addresses (ready for CUDA-graph capture). The write slot and the position counter are
device tensors, not Python ints, for the same reason.

What it is not: a paged or growing cache. Tokens older than the window are overwritten; the
transformer is trained with the same sliding-window mask (see models/README.md), so it never
learns to rely on them.

Positions are absolute and RoPE is relative: attention only spans the window, so the rotary
phase difference between a query and a key is always below `capacity_tokens` radians-steps
and never extrapolates. The absolute angles are computed in float64 and wrapped modulo 2*pi,
so they stay exact after hours (float32 angles would lose ~1e-3 rad at position 1e5).
"""

from __future__ import annotations

import logging
import math

import torch

log = logging.getLogger(__name__)


def rope_inv_freq(head_dim: int, base: float, device=None) -> torch.Tensor:
    """(head_dim // 2,) float64 RoPE frequencies base^(-2k/head_dim)."""
    exponent = torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim
    return base ** (-exponent)


def rope_angles(
    positions: torch.Tensor, inv_freq: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cos and sin of the rotary angles for integer `positions`.

    Args:
        positions: int64 tensor of any shape (...,).
        inv_freq: (head_dim // 2,) float64 from `rope_inv_freq`.

    Returns:
        (cos, sin), each float32 of shape (..., head_dim // 2).

    Thread-safety: pure function. Real-time safe: allocates small tensors only.
    """
    angles = positions.to(torch.float64)[..., None] * inv_freq  # (..., hd/2)
    angles = torch.remainder(angles, 2.0 * math.pi)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x` (..., hd) by angles `cos`, `sin` broadcastable to (..., hd/2).

    Half-split (GPT-NeoX) layout: pairs are (x[k], x[k + hd/2]).
    """
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos = cos.to(x.dtype)
    sin = sin.to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class KVCache:
    """Ring-buffer KV cache for all layers of one batch of sessions.

    Attributes:
        k, v: (n_layers, B, n_heads, capacity_tokens, head_dim) preallocated storage.
        slot_pos: (capacity_tokens,) int64 absolute position held by each slot, -1 if empty.
        pos: () int64 position of the next token.

    Thread-safety: one stepping thread per cache. Real-time safe: `begin_token`/`end_token`
    do not allocate after construction beyond small temporaries.
    """

    def __init__(
        self,
        *,
        n_layers: int,
        batch_size: int,
        n_heads: int,
        head_dim: int,
        capacity_tokens: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (n_layers, batch_size, n_heads, capacity_tokens, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.slot_pos = torch.full((capacity_tokens,), -1, dtype=torch.int64, device=device)
        # Additive attention bias per slot: 0 where a token is held, -inf where empty.
        self.bias = torch.full((capacity_tokens,), float("-inf"), dtype=dtype, device=device)
        self.pos = torch.zeros((), dtype=torch.int64, device=device)
        self.slot = torch.zeros((1,), dtype=torch.int64, device=device)
        self.capacity_tokens = capacity_tokens
        self.batch_size = batch_size

    def reset(self) -> None:
        """Forget every token in place (same storage). Real-time safe: yes."""
        self.k.zero_()
        self.v.zero_()
        self.slot_pos.fill_(-1)
        self.bias.fill_(float("-inf"))
        self.pos.zero_()

    def begin_token(self) -> torch.Tensor:
        """Claim the slot of the next token; return the (1,) position tensor of that token.

        Thread-safety: cache's stepping thread. Real-time safe: yes.
        """
        torch.remainder(self.pos, self.capacity_tokens, out=self.slot[0])
        self.slot_pos.index_copy_(0, self.slot, self.pos.view(1))
        self.bias.index_fill_(0, self.slot, 0.0)
        return self.pos.view(1)

    def end_token(self) -> None:
        """Advance the position counter after every layer has written the token.

        Thread-safety: cache's stepping thread. Real-time safe: yes.
        """
        self.pos.add_(1)

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store this token's k, v (B, nh, 1, hd) of `layer` in the claimed slot.

        Thread-safety: cache's stepping thread. Real-time safe: yes.
        """
        self.k[layer].index_copy_(2, self.slot, k)
        self.v[layer].index_copy_(2, self.slot, v)

    def valid_mask(self) -> torch.Tensor:
        """(capacity,) bool: slots holding a token (all of them within the window)."""
        return self.slot_pos >= 0

    def attn_bias(self) -> torch.Tensor:
        """(1, 1, 1, capacity) additive attention bias: 0 for held slots, -inf for empty.

        Thread-safety: cache's stepping thread. Real-time safe: yes (a view).
        """
        return self.bias.view(1, 1, 1, -1)

    def storage_bytes(self) -> int:
        """Bytes of every tensor the cache holds (constant over a session).

        Thread-safety: any thread. Real-time safe: yes.
        """
        tensors = (self.k, self.v, self.slot_pos, self.bias, self.pos, self.slot)
        return sum(t.untyped_storage().nbytes() for t in tensors)
