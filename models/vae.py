"""Causal oobleck-style audio VAE with streaming encoder and decoder.

What it is: the Stable Audio "oobleck" autoencoder (stable-audio-tools
`OobleckEncoder`/`OobleckDecoder`: symmetric blocks of dilated residual units with SnakeBeta,
strided convs down, transposed convs up) made causal as in SoundReactor's causal VAE
(SonyResearch/soundreactor_vae, `sr_ds_1600_dim_64_causal.json`). One latent = one hop of
PCM (1600 samples at 48 kHz = one 30 fps frame). `decode(z)` runs a whole latent sequence;
`decode_step(z_t, state)` turns one latent into one hop using per-layer state, and the two
agree (tested). The encoder streams the same way, one hop of PCM in, one latent out.

What it is not: weight-normalised. Convs hold plain weights (fold weight norm when importing a
trained oobleck checkpoint). The bottleneck is the VAE's: the encoder emits mean and
softplus scale (2 x latent_dim channels).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from livefoley.models.config import VAEConfig
from livefoley.models.foa_latent import DIRECTION_DIMS, SILENT_LATENT, FoaDirection, hop_direction
from livefoley.models.streaming_conv import (
    CausalConv1d,
    CausalConvTranspose1d,
    SnakeBeta,
    StreamingLayer,
)

log = logging.getLogger(__name__)

StreamState = list[torch.Tensor]


class StreamingNet(nn.Module):
    """Base of a network of StreamingLayers: numbers them and allocates their states."""

    def index_streaming_layers(self) -> None:
        for i, layer in enumerate(m for m in self.modules() if isinstance(m, StreamingLayer)):
            layer.state_index = i

    def init_state(self, batch_size: int, device=None, dtype=None) -> StreamState:
        """Zeroed per-layer state for `batch_size` independent streams (allocated once).

        Thread-safety: any thread. Real-time safe: no (allocates; once per stream).
        """
        p = next(self.parameters())
        device = p.device if device is None else device
        dtype = p.dtype if dtype is None else dtype
        return [m.init_state(batch_size, device, dtype) for m in self.modules()
                if isinstance(m, StreamingLayer)]

    def state_bytes(self, state: StreamState) -> int:
        return sum(t.untyped_storage().nbytes() for t in state)


def _run(layer: nn.Module, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
    """Apply `layer` offline (state None) or one chunk (state given)."""
    if isinstance(layer, StreamingLayer):  # includes foa_latent.GainRamp
        return layer(x) if state is None else layer.step(x, state[layer.state_index])
    if isinstance(layer, (ResidualUnit, EncoderBlock, DecoderBlock)):
        return layer.run(x, state)
    return layer(x)


class ResidualUnit(nn.Module):
    """Snake -> dilated causal conv k -> Snake -> 1x1 conv, added to the input."""

    def __init__(self, channels: int, dilation: int, kernel: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([
            SnakeBeta(channels),
            CausalConv1d(channels, channels, kernel, dilation=dilation),
            SnakeBeta(channels),
            CausalConv1d(channels, channels, 1),
        ])

    def run(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        y = x
        for layer in self.layers:
            y = _run(layer, y, state)
        return x + y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, None)


class EncoderBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, dilations, kernel: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [ResidualUnit(in_ch, d, kernel) for d in dilations]
            + [SnakeBeta(in_ch), CausalConv1d(in_ch, out_ch, 2 * stride, stride=stride)]
        )

    def run(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        for layer in self.layers:
            x = _run(layer, x, state)
        return x


class DecoderBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, dilations, kernel: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [SnakeBeta(in_ch), CausalConvTranspose1d(in_ch, out_ch, 2 * stride, stride=stride)]
            + [ResidualUnit(out_ch, d, kernel) for d in dilations]
        )

    def run(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        for layer in self.layers:
            x = _run(layer, x, state)
        return x


class Encoder(StreamingNet):
    """PCM (B, channels, L) -> (B, 2*latent_dim, L / hop): mean and pre-softplus scale.

    With `decoder_output = "foa_direction"` the convs see W alone and the last three mean
    dims are the closed-form direction of each hop (`foa_latent.hop_direction`, times the
    folded latent scale), with the smallest std.
    """

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.hop = cfg.hop_samples
        self.foa_direction = cfg.decoder_output == "foa_direction"
        n_dir = DIRECTION_DIMS if self.foa_direction else 0
        if self.foa_direction:
            self.register_buffer("direction_scale", torch.ones(()))
        widths = [cfg.base_channels * m for m in (1, *cfg.channel_mults)]
        in_ch = 1 if self.foa_direction else cfg.channels
        layers: list[nn.Module] = [CausalConv1d(in_ch, widths[0], cfg.in_out_kernel)]
        for i, stride in enumerate(cfg.strides):
            layers.append(EncoderBlock(widths[i], widths[i + 1], stride, cfg.res_dilations,
                                       cfg.res_kernel))
        layers += [SnakeBeta(widths[-1]), CausalConv1d(widths[-1], 2 * (cfg.latent_dim - n_dir), 3)]
        self.layers = nn.ModuleList(layers)
        self.index_streaming_layers()

    def run(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        audio = x
        if self.foa_direction:
            x = x[:, :1]  # W: the content; the direction is computed, not learned
        for layer in self.layers:
            x = _run(layer, x, state)
        if not self.foa_direction:
            return x
        d = (hop_direction(audio, self.hop) * self.direction_scale).to(x.dtype)  # (B, 3, T)
        mean, scale = x.chunk(2, dim=1)
        return torch.cat([mean, d, scale, torch.full_like(d, SILENT_LATENT)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, None)


class Decoder(StreamingNet):
    """Latents (B, latent_dim, T) -> PCM (B, channels, T * hop).

    With `decoder_output = "foa_direction"` the convs emit the mono source s and
    `foa_latent.FoaDirection` makes AmbiX [s, g s] from the latents' last three dims.
    """

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        widths = [cfg.base_channels * m for m in (1, *cfg.channel_mults)]
        layers: list[nn.Module] = [CausalConv1d(cfg.latent_dim, widths[-1], cfg.in_out_kernel)]
        for i in range(len(cfg.strides), 0, -1):
            layers.append(DecoderBlock(widths[i], widths[i - 1], cfg.strides[i - 1],
                                       cfg.res_dilations, cfg.res_kernel))
        foa_direction = cfg.decoder_output == "foa_direction"
        layers += [SnakeBeta(widths[0]),
                   CausalConv1d(widths[0], 1 if foa_direction else cfg.channels,
                                cfg.in_out_kernel, bias=False)]
        self.layers = nn.ModuleList(layers)
        self.direction = FoaDirection(cfg.hop_samples) if foa_direction else None
        self.index_streaming_layers()

    def run(self, z: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        x = z
        for layer in self.layers:
            x = _run(layer, x, state)
        if self.direction is None:
            return x
        g = _run(self.direction.ramp, self.direction.gains(z), state)  # (B, 3, N)
        return torch.cat([x, g * x], dim=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.run(z, None)


class AudioVAE(nn.Module):
    """Causal VAE: `encode`/`decode` offline, `encode_step`/`decode_step` one hop at a time."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """PCM (B, channels, L), L a multiple of hop -> (mean, std), each (B, latent, L/hop).

        Thread-safety: stateless. Real-time safe: no.
        """
        return self._bottleneck(self.encoder(audio))

    def _bottleneck(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, scale = h.chunk(2, dim=1)
        return mean, F.softplus(scale) + 1e-4

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, latent, T) -> PCM (B, channels, T*hop). Thread-safety: stateless."""
        return self.decoder(z)

    def encode_step(
        self, audio: torch.Tensor, state: StreamState
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One or more hops of PCM (B, channels, k*hop) -> (mean, std) (B, latent, k).

        Thread-safety: one stream per state. Real-time safe: states are static; temporaries only.
        """
        return self._bottleneck(self.encoder.run(audio, state))

    def decode_step(self, z: torch.Tensor, state: StreamState) -> torch.Tensor:
        """Latent(s) (B, latent, k) -> PCM (B, channels, k*hop), updating `state` in place.

        Thread-safety: one stream per state. Real-time safe: states are static; temporaries only.
        """
        return self.decoder.run(z, state)


def count_decoder_params(cfg: VAEConfig) -> int:
    """Parameters of `Decoder(cfg)` computed from its layer shapes (no allocation)."""
    widths = [cfg.base_channels * m for m in (1, *cfg.channel_mults)]

    def conv(i: int, o: int, k: int, bias: bool = True) -> int:
        return i * o * k + (o if bias else 0)

    def res(c: int) -> int:
        return 2 * c + conv(c, c, cfg.res_kernel) + 2 * c + conv(c, c, 1)

    n = conv(cfg.latent_dim, widths[-1], cfg.in_out_kernel)
    for i in range(len(cfg.strides), 0, -1):
        s = cfg.strides[i - 1]
        n += 2 * widths[i] + conv(widths[i], widths[i - 1], 2 * s)
        n += len(cfg.res_dilations) * res(widths[i - 1])
    out = 1 if cfg.decoder_output == "foa_direction" else cfg.channels
    return n + 2 * widths[0] + conv(widths[0], out, cfg.in_out_kernel, bias=False)
