"""Configuration of the vision front-end: a frozen dataclass, its presets, strict (de)serialisation.

What it is: every size of the vision path (frame preprocessing, grid encoder, temporal delta,
aggregator) as a config value, so the config can travel inside a checkpoint as JSON. Two
presets exist: `VISION_TINY` (a from-scratch conv encoder that runs live on 2 CPU cores) and
`VISION_SR` (frozen DINOv2 ViT-S/14 with 4 registers, SoundReactor's encoder).

What it is not: the network (see `frontend.py`) or the checkpoint loader (`checkpoint.py`).

Why 224 px for `VISION_SR`: the SoundReactor paper does not state DINOv2's input resolution
(shared/reference/soundreactor.md §1.3, "[not found]"). 224 px is DINOv2's own evaluation size
(16x16 = 256 patches of 14 px), keeps ViT-S/14 at about 4.6 GFLOP per frame (inside a 33 ms
frame on a GPU with room for the transformer and head), and the grid downsamples evenly by 2
to 8x8 for the aggregator.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
from typing import Any, Literal

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

VisionKind = Literal["tiny", "dinov2"]
VISION_KINDS: tuple[str, ...] = ("tiny", "dinov2")
ASPECT_MODES: tuple[str, ...] = ("crop", "pad", "stretch")
RESIZE_FILTERS: tuple[str, ...] = ("bilinear", "bicubic")
CHECKPOINT_FORMATS: tuple[str, ...] = ("auto", "meta", "hf")


@dataclasses.dataclass(frozen=True)
class VisionConfig:
    """Vision front-end: frames (uint8) -> grid features -> one token per frame.

    Field prefixes: `tiny_*` only matter for kind "tiny", `vit_*` only for kind "dinov2",
    `agg_*` for the temporal delta + aggregator that both kinds share.
    """

    kind: str = "tiny"  # "tiny" (conv, from scratch) or "dinov2" (ViT, loaded weights)
    token_dim: int = 256  # size of the one vision token per frame (= transformer width)

    # Frame preprocessing (preprocess.py).
    input_size_px: int = 96  # encoder input height in pixels
    input_width_px: int = 0  # encoder input width in pixels; 0 = same as input_size_px
    aspect_mode: str = "crop"  # "crop" (short side, center), "pad" (letterbox), "stretch"
    resize_filter: str = "bilinear"  # antialiased "bilinear" or "bicubic" (DINOv2's own)
    wrap_horizontal: bool = False  # circular padding along x in the tiny encoder (360 frames)

    # kind "tiny": a patchify stem (kernel = stride = tiny_stem_px) giving channels[0], then
    # stride-2 3x3 convs; grid = input / (tiny_stem_px * 2**(len(channels) - 1)).
    tiny_stem_px: int = 4
    tiny_channels_per_stage: tuple[int, ...] = (32, 48, 64)

    # kind "dinov2": ViT sizes (defaults: ViT-S/14 with 4 registers).
    vit_embed_dim: int = 384
    vit_depth: int = 12
    vit_heads: int = 6
    vit_patch_px: int = 14
    vit_registers: int = 4  # 0 for plain DINOv2, 4 for "-reg" checkpoints
    vit_mlp_ratio: float = 4.0
    vit_layerscale_init: float = 1e-5
    vit_ln_eps: float = 1e-6
    vit_pretrain_size_px: int = 518  # image size the checkpoint's pos_embed was trained at
    vit_interpolate_offset: float = 0.0  # Meta's 0.1 "kludge" for plain DINOv2; 0 for -reg/HF
    vit_interpolate_antialias: bool = True  # True for -reg (Meta hub and HF); False for plain
    checkpoint_path: str = ""  # "" -> random init (tests, benchmarks)
    checkpoint_format: str = "auto"  # "auto", "meta" or "hf"
    freeze_backbone: bool = True  # no gradients into the grid encoder (cacheable grids)

    # Temporal delta + aggregator (aggregator.py).
    agg_dim: int = 64  # width of projection and aggregator transformer
    agg_depth: int = 1
    agg_heads: int = 2
    agg_mlp_ratio: float = 4.0
    agg_downsample: int = 2  # s: one aggregator cell per s x s grid cells (1 = none)

    def __post_init__(self) -> None:
        _check_choice("kind", self.kind, VISION_KINDS)
        _check_choice("aspect_mode", self.aspect_mode, ASPECT_MODES)
        _check_choice("resize_filter", self.resize_filter, RESIZE_FILTERS)
        _check_choice("checkpoint_format", self.checkpoint_format, CHECKPOINT_FORMATS)
        for name in ("token_dim", "input_size_px", "tiny_stem_px", "vit_embed_dim", "vit_depth", "vit_heads",
                     "vit_patch_px", "vit_pretrain_size_px", "agg_dim", "agg_depth",
                     "agg_heads", "agg_downsample"):
            if getattr(self, name) < 1:
                raise ConfigError(f"VisionConfig.{name}: expected >= 1, "
                                  f"found {getattr(self, name)}")
        if self.input_width_px < 0 or self.vit_registers < 0:
            raise ConfigError(f"VisionConfig: expected input_width_px >= 0 and vit_registers >= 0, "
                              f"found {self.input_width_px} and {self.vit_registers}")
        if not self.tiny_channels_per_stage or min(self.tiny_channels_per_stage) < 1:
            raise ConfigError(f"VisionConfig.tiny_channels_per_stage: expected positive sizes, "
                              f"found {self.tiny_channels_per_stage}")
        if self.vit_embed_dim % self.vit_heads:
            raise ConfigError(f"VisionConfig: expected vit_embed_dim divisible by vit_heads, "
                              f"found {self.vit_embed_dim} and {self.vit_heads}")
        if self.agg_dim % self.agg_heads:
            raise ConfigError(f"VisionConfig: expected agg_dim divisible by agg_heads, "
                              f"found {self.agg_dim} and {self.agg_heads}")
        if self.wrap_horizontal and self.kind != "tiny":
            raise ConfigError(f"VisionConfig.wrap_horizontal: expected kind 'tiny' (the only "
                              f"encoder with circular padding), found kind {self.kind!r}")
        stride = self.encoder_stride_px
        for name, size in (("input_size_px", self.input_size_px),
                           ("input_width_px", self.input_w_px)):
            if size % stride:
                raise ConfigError(f"VisionConfig.{name}: expected a multiple of the {self.kind} "
                                  f"encoder stride {stride} px, found {size}")
        gh, gw = self.grid_shape
        if gh % self.agg_downsample or gw % self.agg_downsample:
            raise ConfigError(f"VisionConfig.agg_downsample: expected a divisor of the grid "
                              f"{gh}x{gw}, found {self.agg_downsample}")

    @property
    def input_w_px(self) -> int:
        """Encoder input width in pixels (input_width_px, or input_size_px when 0)."""
        return self.input_width_px or self.input_size_px

    @property
    def encoder_stride_px(self) -> int:
        """Pixels per grid cell: the ViT patch size, or stem * 2**(stages - 1) for "tiny"."""
        if self.kind == "dinov2":
            return self.vit_patch_px
        return self.tiny_stem_px * 2 ** (len(self.tiny_channels_per_stage) - 1)

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(rows, cols) of the grid features the encoder returns."""
        s = self.encoder_stride_px
        return self.input_size_px // s, self.input_w_px // s

    @property
    def grid_tokens(self) -> int:
        """N, the number of grid features per frame."""
        gh, gw = self.grid_shape
        return gh * gw

    @property
    def grid_dim(self) -> int:
        """D, the size of one grid feature."""
        return self.vit_embed_dim if self.kind == "dinov2" else self.tiny_channels_per_stage[-1]

    @property
    def agg_tokens(self) -> int:
        """Grid cells after the downsample (the aggregator's sequence, before the summary token)."""
        gh, gw = self.grid_shape
        return (gh // self.agg_downsample) * (gw // self.agg_downsample)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; `VisionConfig.from_dict(c.to_dict()) == c`."""
        out = dataclasses.asdict(self)
        out["tiny_channels_per_stage"] = list(self.tiny_channels_per_stage)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> VisionConfig:
        """Strict inverse of `to_dict`.

        Raises:
            ConfigError: not a mapping, an unknown key (named, with the valid keys), or a
                value of the wrong type (named, with expected and found types).
        """
        if not isinstance(data, dict):
            raise ConfigError(f"VisionConfig: expected a mapping, found {type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ConfigError(f"VisionConfig: unknown key(s) {unknown}; expected keys among "
                              f"{sorted(fields)}")
        hints = typing.get_type_hints(cls)
        kwargs = {k: _coerce(k, hints[k], v) for k, v in data.items()}
        return cls(**kwargs)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"VisionConfig.{name}: expected one of {list(allowed)}, found {value!r}")


def _coerce(name: str, hint: Any, value: Any) -> Any:
    where = f"VisionConfig.{name}"
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where}: expected a list of int, found {value!r}")
        return tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, found bool {value!r}")
    if not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, found "
                          f"{type(value).__name__} {value!r}")
    return value


# Live on 2 CPU cores: 96x96 input -> 6x6x64 grid -> 3x3 after downsample -> one 256-d token.
# token_dim 256 = the tiny transformer's width (models/config.py tiny_config).
VISION_TINY = VisionConfig(
    kind="tiny",
    token_dim=256,
    input_size_px=96,
    tiny_stem_px=4,
    tiny_channels_per_stage=(32, 48, 64),
    freeze_backbone=False,
    agg_dim=64,
    agg_depth=1,
    agg_heads=2,
    agg_downsample=2,
)

# SoundReactor: frozen dinov2-vits14-reg at 224 px (16x16x384 grid; see module docstring),
# downsampled to 8x8 for a 2-layer, 512-wide aggregator; token_dim 1024 = transformer width.
VISION_SR = VisionConfig(
    kind="dinov2",
    token_dim=1024,
    input_size_px=224,
    resize_filter="bicubic",
    vit_embed_dim=384,
    vit_depth=12,
    vit_heads=6,
    vit_patch_px=14,
    vit_registers=4,
    vit_interpolate_offset=0.0,
    vit_interpolate_antialias=True,
    freeze_backbone=True,
    agg_dim=512,
    agg_depth=2,
    agg_heads=8,
    agg_downsample=2,
)

# The dinov2 code path at test size (2 layers, width 32, 4 registers, 56 px, 4x4 grid): for
# fast CPU tests of everything the `sr` vision path does, with random weights.
VISION_DINOV2_TEST = VisionConfig(
    kind="dinov2",
    token_dim=32,
    input_size_px=56,
    vit_embed_dim=32,
    vit_depth=2,
    vit_heads=2,
    vit_registers=4,
    vit_pretrain_size_px=56,
    freeze_backbone=True,
    agg_dim=16,
    agg_depth=1,
    agg_heads=2,
    agg_downsample=2,
)
