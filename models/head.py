"""Per-frame diffusion head: a MAR-style adaLN MLP with EDM2 preconditioning.

What it is: the denoiser D(x, sigma, z) of one 64-dim audio latent given the frame's condition
z (the transformer outputs at the previous-audio and current-video positions, concatenated).
The network follows `SimpleMLPAdaLN` of MAR (Li et al. 2024, arXiv 2406.11838): input
projection, residual blocks of LayerNorm + adaLN shift/scale/gate + MLP, adaLN final layer.
The preconditioning is EDM's (Karras et al. 2022, arXiv 2206.00364, Table 1; kept by EDM2,
arXiv 2312.02696): D = c_skip x + c_out F(c_in x, c_noise), c_noise = ln(sigma)/4. The same
parameterisation satisfies the consistency boundary condition D(x, 0) = x, so ECT fine-tuning
(arXiv 2406.14548) reuses it unchanged. `logvar(sigma)` is EDM2's learned uncertainty u(sigma)
for the training loss (EDM2 eq. 21).

What it is not: a sampler (see `sampling.py`) or a loss (training issue).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
from torch import nn

log = logging.getLogger(__name__)


class FourierFeatures(nn.Module):
    """Fixed random Fourier features (EDM2 `MPFourier`): sqrt(2) cos(2 pi (f x + p))."""

    def __init__(self, channels: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.randn(channels, generator=generator))
        self.register_buffer("phases", torch.rand(channels, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.float()[:, None] * self.freqs[None, :] + self.phases[None, :]  # (N, C)
        return (torch.cos(2.0 * math.pi * y) * math.sqrt(2.0)).to(x.dtype)


class ResBlock(nn.Module):
    """LayerNorm -> adaLN modulate -> MLP, gated residual (MAR `ResBlock`)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.in_ln = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 3 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale, gate = self.ada(y).chunk(3, dim=-1)  # each (N, W)
        h = self.in_ln(x) * (1 + scale) + shift
        return x + gate * self.mlp(h)


class FinalLayer(nn.Module):
    def __init__(self, width: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, out_dim)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(y).chunk(2, dim=-1)  # each (N, W)
        return self.linear(self.norm(x) * (1 + scale) + shift)


class DiffusionHead(nn.Module):
    """EDM-preconditioned adaLN MLP denoiser of one latent per condition row."""

    def __init__(
        self,
        *,
        latent_dim: int,
        cond_dim: int,
        width: int,
        n_blocks: int,
        time_embed_dim: int = 256,
        sigma_data: float = 0.5,
        logvar_channels: int = 128,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.sigma_data = sigma_data
        g = torch.Generator().manual_seed(seed)
        self.time_fourier = FourierFeatures(time_embed_dim, g)
        self.time_mlp = nn.Sequential(
            nn.Linear(time_embed_dim, width), nn.SiLU(), nn.Linear(width, width)
        )
        self.cond_embed = nn.Linear(cond_dim, width)
        self.input_proj = nn.Linear(latent_dim, width)
        self.blocks = nn.ModuleList(ResBlock(width) for _ in range(n_blocks))
        self.final = FinalLayer(width, latent_dim)
        self.logvar_fourier = FourierFeatures(logvar_channels, g)
        self.logvar_linear = nn.Linear(logvar_channels, 1)

    def embed_cond(self, cond: torch.Tensor) -> torch.Tensor:
        """Project the condition once per frame; reused by every sampler step.

        Thread-safety: stateless. Real-time safe: no growth (small temporaries).
        """
        return self.cond_embed(cond)

    def denoise_embedded(
        self, x: torch.Tensor, sigma: torch.Tensor, cond_emb: torch.Tensor
    ) -> torch.Tensor:
        """D(x, sigma) for x (N, latent), sigma (N,) or scalar, cond_emb (N, width).

        The preconditioning and the skip path run in x's dtype (float32 from the samplers);
        the network runs in its weights' dtype (e.g. bfloat16 on a GPU).

        Thread-safety: stateless. Real-time safe: no growth (small temporaries).
        """
        N = x.shape[0]
        w_dtype = self.input_proj.weight.dtype
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1).expand(N)
        s = sigma[:, None]  # (N, 1)
        sd = self.sigma_data
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1.0 / (s**2 + sd**2).sqrt()
        c_noise = sigma.log() / 4.0  # (N,)
        t_emb = self.time_fourier(c_noise).to(w_dtype)  # (N, time_embed_dim)
        y = self.time_mlp(t_emb) + cond_emb.to(w_dtype)  # (N, W)
        h = self.input_proj((c_in * x).to(w_dtype))  # (N, W)
        for block in self.blocks:
            h = block(h, y)
        return c_skip * x + c_out * self.final(h, y).to(x.dtype)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """D(x, sigma, cond): x (N, latent), sigma (N,) or scalar, cond (N, cond_dim).

        Thread-safety: stateless. Real-time safe: no growth (small temporaries).
        """
        return self.denoise_embedded(x, sigma, self.embed_cond(cond))

    def make_denoiser(
        self, cond: torch.Tensor
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """A callable (x, sigma) -> D(x, sigma, cond) with the condition embedded once.

        Thread-safety: stateless. Real-time safe: no growth (small temporaries).
        """
        cond_emb = self.embed_cond(cond)
        return lambda x, sigma: self.denoise_embedded(x, sigma, cond_emb)

    def logvar(self, sigma: torch.Tensor) -> torch.Tensor:
        """EDM2 learned uncertainty u(sigma), shape (N, 1), for the training loss weight.

        Thread-safety: stateless. Real-time safe: no.
        """
        c_noise = torch.as_tensor(sigma).reshape(-1).log() / 4.0
        w_dtype = self.logvar_linear.weight.dtype
        return self.logvar_linear(self.logvar_fourier(c_noise).to(w_dtype))


def count_head_params(latent_dim: int, cond_dim: int, width: int, n_blocks: int,
                      time_embed_dim: int = 256, logvar_channels: int = 128) -> int:
    """Trainable parameters of `DiffusionHead` computed from its layer shapes (no allocation)."""
    lin = lambda i, o: i * o + o  # noqa: E731
    n = lin(time_embed_dim, width) + lin(width, width) + lin(cond_dim, width)
    n += lin(latent_dim, width)
    n += n_blocks * (2 * width + 2 * lin(width, width) + lin(width, 3 * width))
    n += lin(width, latent_dim) + lin(width, 2 * width) + lin(logvar_channels, 1)
    return n

