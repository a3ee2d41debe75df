"""Configuration of the video-to-audio network: frozen dataclasses and the named presets.

What it is: every size of the SoundReactor-style network as a config value — the audio VAE
(`VAEConfig`), the causal transformer (`TransformerConfig`), the diffusion head (`HeadConfig`),
the vision front-end (`VisionConfig`, owned by `livefoley.models.vision`) — nested in
`ModelConfig`, with strict `from_dict`/`to_dict` so the config travels inside a checkpoint as
JSON. Presets: `TINY` (live on 2 CPU cores), `SR` (the paper's scale) and `SPATIAL_TINY`
(FOA + panoramic frames + text, issue 9), in `PRESETS`.

What it is not: a place for training hyper-parameters (optimiser, schedules); those belong to
`livefoley.models.training`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

from livefoley.models.configutil import from_dict, to_dict
from livefoley.models.vision.config import VISION_SR, VISION_TINY, VisionConfig
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


DECODER_OUTPUTS: tuple[str, ...] = ("direct", "foa_direction")


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    """Causal oobleck-style audio VAE (Stable Audio; SoundReactor causal VAE sizes in `SR`)."""

    sample_rate_hz: int = 48000  # PCM rate in and out
    channels: int = 2  # audio channels: 2 stereo, 4 for First-Order Ambisonics
    latent_dim: int = 64  # size of one latent (one per hop)
    base_channels: int = 128  # conv width at the sample rate; block i has base*mults[i+1]
    channel_mults: tuple[int, ...] = (1, 2, 4, 8, 16)  # one per stride
    strides: tuple[int, ...] = (2, 4, 5, 5, 8)  # product = hop_samples
    res_dilations: tuple[int, ...] = (1, 3, 9)  # residual units per block (kernel 7 each)
    res_kernel: int = 7  # kernel of the dilated conv in a residual unit
    in_out_kernel: int = 7  # kernel of the first and last convs
    # "direct": the convs code every channel. "foa_direction" (4 channels only): the convs
    # code W alone; the last 3 latent dims are each hop's direction in closed form, and the
    # decoder outputs [s, g_y s, g_z s, g_x s] (AmbiX): direction cannot be lost (foa_latent.py).
    decoder_output: str = "direct"

    def __post_init__(self) -> None:
        if len(self.channel_mults) != len(self.strides):
            raise ConfigError(
                f"VAEConfig: expected one channel_mult per stride ({len(self.strides)}), "
                f"found {len(self.channel_mults)}"
            )
        for name in ("sample_rate_hz", "channels", "latent_dim", "base_channels", "res_kernel"):
            if getattr(self, name) < 1:
                raise ConfigError(f"VAEConfig.{name}: expected >= 1, found {getattr(self, name)}")
        if self.decoder_output not in DECODER_OUTPUTS:
            raise ConfigError(f"VAEConfig.decoder_output: expected one of {list(DECODER_OUTPUTS)}, "
                              f"found {self.decoder_output!r}")
        if self.decoder_output == "foa_direction" and (self.channels != 4 or self.latent_dim <= 3):
            raise ConfigError(f"VAEConfig: decoder_output 'foa_direction' needs 4 channels (AmbiX FOA) "
                              f"and latent_dim > 3, found {self.channels} and {self.latent_dim}")
        if any(s < 1 for s in self.strides) or any(m < 1 for m in self.channel_mults):
            raise ConfigError(f"VAEConfig: expected positive strides and mults, found "
                              f"{self.strides} and {self.channel_mults}")

    @property
    def hop_samples(self) -> int:
        """PCM samples per channel per latent (the product of the strides)."""
        return math.prod(self.strides)

    @property
    def latent_rate_hz(self) -> float:
        """Latents per second (30.0 for 48 kHz and hop 1600)."""
        return self.sample_rate_hz / self.hop_samples

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> VAEConfig:
        return from_dict(cls, data, "VAEConfig")


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Decoder-only causal transformer over interleaved [x_0=BOS, v_1, x_1, v_2, ...]."""

    d_model: int = 1024  # width
    n_layers: int = 24
    n_heads: int = 16
    mlp_ratio: int = 4  # MLP hidden = mlp_ratio * d_model
    window_frames: int = 256  # KV window in frames (2 tokens each): 256 frames = 8.5 s at 30 Hz
    rope_base: float = 10000.0  # RoPE theta
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ConfigError(f"TransformerConfig: expected d_model divisible by n_heads, found "
                              f"d_model={self.d_model}, n_heads={self.n_heads}")
        if (self.d_model // self.n_heads) % 2:
            raise ConfigError(f"TransformerConfig: expected an even head size for RoPE, found "
                              f"{self.d_model // self.n_heads}")
        for name in ("n_layers", "window_frames", "mlp_ratio"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TransformerConfig.{name}: expected >= 1, "
                                  f"found {getattr(self, name)}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def window_tokens(self) -> int:
        """KV cache capacity in tokens (two per frame)."""
        return 2 * self.window_frames

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> TransformerConfig:
        return from_dict(cls, data, "TransformerConfig")


@dataclasses.dataclass(frozen=True)
class HeadConfig:
    """MAR-style adaLN MLP diffusion head with EDM2 preconditioning and its noise range."""

    width: int = 1024
    n_blocks: int = 3
    time_embed_dim: int = 256  # sinusoidal frequency embedding size before the time MLP
    sigma_data: float = 0.5  # EDM data std
    sigma_min: float = 0.002  # lowest noise level sampled
    sigma_max: float = 80.0  # highest noise level sampled
    rho: float = 7.0  # Karras schedule exponent
    logvar_channels: int = 128  # Fourier features of the EDM2 learned-uncertainty u(sigma)

    def __post_init__(self) -> None:
        if not 0.0 < self.sigma_min < self.sigma_max:
            raise ConfigError(f"HeadConfig: expected 0 < sigma_min < sigma_max, found "
                              f"{self.sigma_min} and {self.sigma_max}")
        if self.width < 1 or self.n_blocks < 1:
            raise ConfigError(f"HeadConfig: expected width, n_blocks >= 1, found "
                              f"{self.width}, {self.n_blocks}")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> HeadConfig:
        return from_dict(cls, data, "HeadConfig")


HEAD_KINDS: tuple[str, ...] = ("mlp", "locdit")


@dataclasses.dataclass(frozen=True)
class PatchHeadConfig:
    """LocDiT patch head (SwanSphere/DiTAR; `spatial/locdit.py`), used when head_kind="locdit".

    The noise range and sigma_data come from `HeadConfig`, so both heads share one sampler
    schedule.
    """

    patch_latents: int = 4  # k: latents rendered per head call (SwanSphere: 4)
    context_patches: int = 2  # previous clean patches the head sees (SwanSphere: 2)
    width: int = 256
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    time_embed_dim: int = 128

    def __post_init__(self) -> None:
        if self.patch_latents < 1 or self.context_patches < 0 or self.depth < 1:
            raise ConfigError(f"PatchHeadConfig: expected patch_latents >= 1, context_patches "
                              f">= 0, depth >= 1, found {self.patch_latents}, "
                              f"{self.context_patches}, {self.depth}")
        if self.heads < 1 or self.width % self.heads:
            raise ConfigError(f"PatchHeadConfig: expected width divisible by heads, found "
                              f"{self.width} and {self.heads}")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> PatchHeadConfig:
        return from_dict(cls, data, "PatchHeadConfig")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The whole network. Derived sizes are properties; change with `dataclasses.replace`."""

    vision: VisionConfig = VISION_SR
    vae: VAEConfig = dataclasses.field(default_factory=VAEConfig)
    transformer: TransformerConfig = dataclasses.field(default_factory=TransformerConfig)
    head: HeadConfig = dataclasses.field(default_factory=HeadConfig)
    seed: int = 0  # seed of random initialisation for preset-built models
    # Size of a text prompt embedding (384 for the MiniLM of models/spatial/text.py); 0 = the
    # model takes no text (no text weights, no text rows: the stereo models before issue 9).
    text_dim: int = 0
    # "mlp": SoundReactor's per-frame head (one latent per frame). "locdit": SwanSphere's patch
    # head (k latents per call from the 2 previous patches; audio lags vision by k - 1 frames).
    head_kind: str = "mlp"
    locdit: PatchHeadConfig = dataclasses.field(default_factory=PatchHeadConfig)

    def __post_init__(self) -> None:
        if self.text_dim < 0:
            raise ConfigError(f"ModelConfig.text_dim: expected 0 (no text) or an embedding size "
                              f">= 1, found {self.text_dim}")
        if self.head_kind not in HEAD_KINDS:
            raise ConfigError(f"ModelConfig.head_kind: expected one of {list(HEAD_KINDS)}, "
                              f"found {self.head_kind!r}")

    @property
    def patch_latents(self) -> int:
        """Latents per head call: 1 for "mlp", k for "locdit"."""
        return self.locdit.patch_latents if self.head_kind == "locdit" else 1

    @property
    def patch_cond_dim(self) -> int:
        """LocDiT condition size: h(last audio token) and h(v) of each of the k frames."""
        return (self.locdit.patch_latents + 1) * self.transformer.d_model

    @property
    def hop_samples(self) -> int:
        return self.vae.hop_samples

    @property
    def latent_rate_hz(self) -> float:
        return self.vae.latent_rate_hz

    @property
    def sample_rate_hz(self) -> int:
        return self.vae.sample_rate_hz

    @property
    def channels(self) -> int:
        return self.vae.channels

    @property
    def latent_dim(self) -> int:
        return self.vae.latent_dim

    @property
    def cond_dim(self) -> int:
        """Head condition size: transformer outputs at the audio and vision positions."""
        return 2 * self.transformer.d_model

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        return from_dict(cls, data, "ModelConfig")


def tiny_config() -> ModelConfig:
    """Small enough to run live on 2 CPU cores; vision is the tiny from-scratch encoder."""
    return ModelConfig(
        vision=VISION_TINY,
        # Three up-blocks (x20, x10, x8) instead of five: 40% fewer layers on the CPU path.
        vae=VAEConfig(base_channels=16, channel_mults=(2, 4, 8), strides=(8, 10, 20),
                      res_dilations=(1, 3)),
        # 192 wide: at batch 2 (cond + null) a CPU step is bound by per-op overhead and
        # weight reads, both of which shrink with width; 4 layers keep the receptive field.
        transformer=TransformerConfig(d_model=192, n_layers=4, n_heads=4, window_frames=64),
        head=HeadConfig(width=192, n_blocks=2),
    )


def sr_config() -> ModelConfig:
    """The paper's scale: DINOv2 ViT-S/14-reg, 24x1024 transformer, 3x1024 head, 75M decoder."""
    return ModelConfig(vision=VISION_SR)


def spatial_tiny_config() -> ModelConfig:
    """`tiny` made spatial (issue 9): FOA out, panoramic frames in, text prompts.

    - VAE: 4 channels, AmbiX (ACN W, Y, Z, X; SN3D), the tiny VAE's sizes otherwise, with
      the "foa_direction" latent (3 dims per hop are the direction: it survives the VAE).
    - Vision: equirectangular 2:1 frames resized to 128x64 (no crop: every direction is
      seen), circular padding along x so the seam at +-180 deg is no edge (`wrap_horizontal`).
      Grid 4x8 -> 2x4 aggregator cells.
    - Text: 384-dim MiniLM embeddings (`spatial.text.TextEncoder`).
    """
    base = tiny_config()
    return dataclasses.replace(
        base,
        vision=dataclasses.replace(base.vision, input_size_px=64, input_width_px=128,
                                   aspect_mode="stretch", wrap_horizontal=True),
        vae=dataclasses.replace(base.vae, channels=4, decoder_output="foa_direction"),
        text_dim=384,
    )


PRESET_NAMES: tuple[str, ...] = ("tiny", "sr", "spatial_tiny")


def get_preset(name: str) -> ModelConfig:
    """Return the preset config `name` ("tiny", "sr" or "spatial_tiny").

    Raises:
        ConfigError: unknown name; the message lists the valid names.
    """
    builders = {"tiny": tiny_config, "sr": sr_config, "spatial_tiny": spatial_tiny_config}
    if name not in builders:
        raise ConfigError(f"unknown model preset: expected one of {list(PRESET_NAMES)}, "
                          f"found {name!r}")
    return builders[name]()


TINY = tiny_config()
SR = sr_config()
SPATIAL_TINY = spatial_tiny_config()
PRESETS: dict[str, ModelConfig] = {"tiny": TINY, "sr": SR, "spatial_tiny": SPATIAL_TINY}
