"""LocDiT: a local diffusion transformer head that renders a patch of k latents at a time.

The SwanSphere / DiTAR head (reference/spatial.md 1.2; DiTAR, arXiv 2502.03930): a small
bidirectional transformer sees the 2 previous clean patches (context) and the current noisy
patch, and denoises the current patch, conditioned on one vector per patch (the causal
planner's output at that patch). Its sequence is [ctx_1 (k), ctx_2 (k), noisy (k)] tokens
with learned positions; the noise level and the condition enter every block by adaLN-Zero
(DiT, Peebles & Xie 2023). Missing context at stream start is a learned "empty" token.

Preconditioning is EDM's, as in the per-frame MLP head (models/head.py; Karras et al. 2022,
Table 1): D(x; sigma) = c_skip x + c_out F(c_in x, c_noise), c_noise = ln(sigma) / 4, so a
consistency-tuned LocDiT keeps D(x, 0) = x.

Interface (mirrors the MLP head's denoiser): `forward(x_noisy, sigma, cond, context) -> x0`
with x (B, k, D); `make_denoiser(cond, context)` gives the (x, sigma) -> x0 callable the
samplers take; `sample(cond, context, nfe, generator)` draws one patch with the models
core's samplers (`models/sampling.py`: consistency NFE 1-4, EDM Heun); `forward_sequence`
is the teacher-forced training pass over P patches (patch p sees clean patches p-2, p-1).

Latency: a patch of k latents is emitted at once, so audio lags the vision by up to k - 1
latents beyond the per-frame head (k = 4 at 30 Hz: ~100 ms); the bench reports both.
This module is the head only; the planner (causal transformer) is the models core's.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from livefoley.models.sampling import consistency_sample, consistency_sigmas, heun_sample, karras_sigmas
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

SAMPLERS = ("consistency", "heun")


@dataclasses.dataclass(frozen=True)
class LocDiTConfig:
    """LocDiT head sizes and its noise range."""

    latent_dim: int = 64  # D, channels of one audio latent
    patch_latents: int = 4  # k
    context_patches: int = 2
    cond_dim: int = 512  # per-patch condition vector from the planner
    width: int = 256
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    time_embed_dim: int = 128
    sigma_data: float = 0.5
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    sampler: str = "consistency"  # one of SAMPLERS
    seed: int = 0  # fixed Fourier features

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ConfigError(f"LocDiTConfig: expected width divisible by heads, found {self.width} / {self.heads}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"LocDiTConfig.sampler: expected one of {SAMPLERS}, found {self.sampler!r}")
        if min(self.patch_latents, self.depth, self.latent_dim) < 1 or self.context_patches < 0:
            raise ConfigError(f"LocDiTConfig: expected patch_latents, depth, latent_dim >= 1 and "
                              f"context_patches >= 0, found {self.patch_latents}, {self.depth}, "
                              f"{self.latent_dim}, {self.context_patches}")

    @property
    def context_latents(self) -> int:
        """Latents of context in front of the patch (2 patches of k = 8)."""
        return self.context_patches * self.patch_latents

    @property
    def tokens(self) -> int:
        """Sequence length seen by the transformer."""
        return self.context_latents + self.patch_latents

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (travels inside checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocDiTConfig:
        """Strict inverse of `to_dict`: unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"LocDiTConfig: expected keys from {sorted(known)}, found unknown {unknown}")
        return cls(**data)


TINY = LocDiTConfig(latent_dim=16, cond_dim=32, width=64, depth=2, heads=4, time_embed_dim=32)


class _Fourier(nn.Module):
    def __init__(self, channels: int, generator: torch.Generator) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.randn(channels, generator=generator))
        self.register_buffer("phases", torch.rand(channels, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cos(2 * math.pi * (x[:, None] * self.freqs + self.phases)) * math.sqrt(2.0)


class _Block(nn.Module):
    """DiT block: adaLN-Zero modulated self-attention and MLP over the local window."""

    def __init__(self, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        self.ada = nn.Linear(width, 6 * width)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        B, T, C = h.shape
        s1, c1, g1, s2, c2, g2 = self.ada(F.silu(y)).unsqueeze(1).chunk(6, dim=-1)  # each (B, 1, C)
        x = self.ln1(h) * (1 + c1) + s1
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # (B, nh, T, hs)
        a = F.scaled_dot_product_attention(q, k, v)  # bidirectional inside the window
        h = h + g1 * self.proj(a.transpose(1, 2).reshape(B, T, C))
        return h + g2 * self.mlp(self.ln2(h) * (1 + c2) + s2)


class LocDiT(nn.Module):
    """EDM-preconditioned local diffusion transformer over one patch of latents.

    Thread-safety: like any nn.Module; no state between calls.
    Real-time safe: no growth (fixed-size window); cost per call ~ depth x (3k)^2 attention.
    """

    def __init__(self, config: LocDiTConfig = LocDiTConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        g = torch.Generator().manual_seed(cfg.seed)
        W = cfg.width
        self.time_fourier = _Fourier(cfg.time_embed_dim, g)
        self.time_mlp = nn.Sequential(nn.Linear(cfg.time_embed_dim, W), nn.SiLU(), nn.Linear(W, W))
        self.cond_proj = nn.Linear(cfg.cond_dim, W)
        self.input_proj = nn.Linear(cfg.latent_dim, W)
        self.context_proj = nn.Linear(cfg.latent_dim, W)
        self.empty_context = nn.Parameter(torch.zeros(W))
        self.pos = nn.Parameter(torch.randn(cfg.tokens, W, generator=g) * 0.02)
        self.blocks = nn.ModuleList(_Block(W, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.final_ln = nn.LayerNorm(W, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Linear(W, 2 * W)
        self.final = nn.Linear(W, cfg.latent_dim)
        nn.init.zeros_(self.final_ada.weight)
        nn.init.zeros_(self.final_ada.bias)

    # -- token assembly ------------------------------------------------------------------
    def _context_tokens(self, context: torch.Tensor | None, batch: int) -> torch.Tensor:
        """(B, context_latents, W): projected clean context, left-padded with the empty token."""
        cfg = self.config
        n_ctx = cfg.context_latents
        empty = self.empty_context.expand(batch, n_ctx, -1)
        if context is None or context.shape[1] == 0:
            return empty
        if context.dim() != 3 or context.shape[0] != batch or context.shape[2] != cfg.latent_dim \
                or context.shape[1] % cfg.patch_latents or context.shape[1] > n_ctx:
            raise ConfigError(f"LocDiT: expected context (B={batch}, j*{cfg.patch_latents} <= {n_ctx}, "
                              f"{cfg.latent_dim}), found {tuple(context.shape)}")
        tok = self.context_proj(context / cfg.sigma_data)  # (B, j*k, W)
        return torch.cat([empty[:, : n_ctx - tok.shape[1]], tok], dim=1)

    def _run(self, x: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor, ctx_tok: torch.Tensor) -> torch.Tensor:
        """D(x; sigma) for x (N, k, D), sigma (N,), cond (N, cond_dim), ctx_tok (N, 2k, W)."""
        cfg = self.config
        s = sigma.to(x.dtype).view(-1, 1, 1)  # (N, 1, 1)
        sd = cfg.sigma_data
        c_skip = sd ** 2 / (s ** 2 + sd ** 2)
        c_out = s * sd / (s ** 2 + sd ** 2).sqrt()
        c_in = 1.0 / (s ** 2 + sd ** 2).sqrt()
        y = self.time_mlp(self.time_fourier(sigma.log() / 4.0)) + self.cond_proj(cond)  # (N, W)
        h = torch.cat([ctx_tok, self.input_proj(c_in * x)], dim=1) + self.pos  # (N, 3k, W)
        for block in self.blocks:
            h = block(h, y)
        shift, scale = self.final_ada(F.silu(y)).unsqueeze(1).chunk(2, dim=-1)
        f = self.final(self.final_ln(h[:, -cfg.patch_latents:]) * (1 + scale) + shift)  # (N, k, D)
        return c_skip * x + c_out * f

    def _check(self, x: torch.Tensor, cond: torch.Tensor) -> None:
        cfg = self.config
        if x.dim() != 3 or x.shape[1:] != (cfg.patch_latents, cfg.latent_dim):
            raise ConfigError(f"LocDiT: expected x (B, {cfg.patch_latents}, {cfg.latent_dim}), "
                              f"found {tuple(x.shape)}")
        if cond.shape != (x.shape[0], cfg.cond_dim):
            raise ConfigError(f"LocDiT: expected cond ({x.shape[0]}, {cfg.cond_dim}), found {tuple(cond.shape)}")

    # -- public interface ----------------------------------------------------------------
    def forward(self, x_noisy: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor,
                context: torch.Tensor | None = None) -> torch.Tensor:
        """Denoise one patch: x0 estimate (B, k, D).

        Args:
            x_noisy: (B, k, D) noisy patch.
            sigma: (B,) or scalar noise level(s), > 0.
            cond: (B, cond_dim) the patch's condition vector.
            context: (B, j*k, D) clean latents of the j <= 2 previous patches (oldest first),
                or None at stream start.
        """
        self._check(x_noisy, cond)
        B = x_noisy.shape[0]
        sigma = torch.as_tensor(sigma, dtype=x_noisy.dtype, device=x_noisy.device).reshape(-1).expand(B)
        return self._run(x_noisy, sigma, cond, self._context_tokens(context, B))

    def make_denoiser(self, cond: torch.Tensor, context: torch.Tensor | None = None
                      ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The (x, sigma) -> x0 callable a sampler takes, with condition and context bound once."""
        ctx_tok = self._context_tokens(context, cond.shape[0])
        return lambda x, sigma: self._run(x, torch.as_tensor(sigma, dtype=x.dtype).reshape(-1).expand(x.shape[0]),
                                          cond, ctx_tok)

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, context: torch.Tensor | None = None, *, nfe: int = 1,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw one patch (B, k, D) with `nfe` denoiser evaluations.

        `config.sampler` = "consistency": multistep consistency sampling (Song et al. 2023,
        Alg. 1), nfe in 1..4. "heun": EDM Heun on the Karras schedule with (nfe + 1) // 2 steps
        (2 steps - 1 evaluations <= nfe).

        Raises:
            ConfigError: nfe out of range for the sampler.
        """
        cfg = self.config
        B = cond.shape[0]
        shape = (B, cfg.patch_latents, cfg.latent_dim)
        den = self.make_denoiser(cond, context)
        dev, dt = cond.device, cond.dtype
        if cfg.sampler == "consistency":
            if not 1 <= nfe <= 4:
                raise ConfigError(f"LocDiT.sample (consistency): expected nfe in 1..4, found {nfe}")
            sig = consistency_sigmas(nfe, cfg.sigma_min, cfg.sigma_max, cfg.rho, dev).to(dt)
            noises = torch.randn((nfe, *shape), generator=generator, device=dev, dtype=dt)
            return consistency_sample(den, noises, sig)
        if nfe < 1:
            raise ConfigError(f"LocDiT.sample (heun): expected nfe >= 1, found {nfe}")
        sig = karras_sigmas((nfe + 1) // 2, cfg.sigma_min, cfg.sigma_max, cfg.rho, dev).to(dt)
        return heun_sample(den, torch.randn(shape, generator=generator, device=dev, dtype=dt), sig)

    def forward_sequence(self, x_noisy: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor,
                         clean: torch.Tensor) -> torch.Tensor:
        """Teacher-forced pass over P patches at once (training).

        Args:
            x_noisy: (B, P, k, D) noisy patches.
            sigma: (B, P) or (B,) noise levels.
            cond: (B, P, cond_dim).
            clean: (B, P, k, D) clean patches; patch p's context is clean[p-2], clean[p-1].

        Returns:
            (B, P, k, D) x0 estimates; output p depends on no patch after p.
        """
        cfg = self.config
        B, P, k, D = x_noisy.shape
        if clean.shape != x_noisy.shape or cond.shape != (B, P, cfg.cond_dim):
            raise ConfigError(f"LocDiT.forward_sequence: expected clean {tuple(x_noisy.shape)} and cond "
                              f"({B}, {P}, {cfg.cond_dim}), found {tuple(clean.shape)} and {tuple(cond.shape)}")
        sigma = sigma.reshape(B, -1).expand(B, P).reshape(B * P)
        ctx = self.context_proj(clean / cfg.sigma_data)  # (B, P, k, W)
        n = cfg.context_patches
        pad = self.empty_context.expand(B, n, k, -1)
        ctx = torch.cat([pad, ctx], dim=1)  # (B, P + n, k, W)
        windows = torch.stack([ctx[:, p:p + n] for p in range(P)], dim=1)  # (B, P, n, k, W)
        ctx_tok = windows.reshape(B * P, n * k, -1)
        out = self._run(x_noisy.reshape(B * P, k, D), sigma, cond.reshape(B * P, -1), ctx_tok)
        return out.view(B, P, k, D)


class LocDiTStream:
    """Streams patches: keeps the last `context_patches` generated patches as context.

    Thread-safety: one caller at a time. Real-time safe: no growth (context is bounded).
    """

    def __init__(self, head: LocDiT, *, nfe: int = 1, generator: torch.Generator | None = None) -> None:
        self.head, self.nfe, self.generator = head, nfe, generator
        self._context: torch.Tensor | None = None

    def step(self, cond: torch.Tensor) -> torch.Tensor:
        """Generate the next patch (B, k, D) for the planner's condition (B, cond_dim)."""
        patch = self.head.sample(cond, self._context, nfe=self.nfe, generator=self.generator)
        cfg = self.head.config
        ctx = patch if self._context is None else torch.cat([self._context, patch], dim=1)
        self._context = ctx[:, -cfg.context_latents:] if cfg.context_latents else None
        return patch

    def reset(self) -> None:
        """Start a new stream (empty context)."""
        self._context = None


__all__ = ["SAMPLERS", "LocDiTConfig", "TINY", "LocDiT", "LocDiTStream"]
