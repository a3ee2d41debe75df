"""The vision front-end: uint8 frames -> one vision token per frame, streamed or offline.

What it is: `VisionFrontend` = preprocessing (`preprocess.py`) -> grid encoder (`tiny.py` or
`dinov2.py`, the cacheable and possibly frozen part) -> temporal delta + aggregator
(`aggregator.py`). Three entry points that give the same tokens (tested):
- `step(frames, fmt, state)`: one frame per session, streaming; the state carries the
  previous frame's grid.
- `forward(frames, fmt)`: a (B, T) clip offline.
- `tokens_from_grid(grid)`: from cached `encode_grid` outputs, for training on cached
  DINOv2 features.
`build_vision_frontend(cfg)` is the one dispatch on `cfg.kind`.

What it is not: the causal transformer, or the frame transport. It never blocks or syncs on
purpose; on CUDA, frames already on the device are not copied to the host.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Protocol

import torch
from torch import nn

from livefoley.protocol.errors import ConfigError, ProtocolError

from .aggregator import TemporalAggregator
from .checkpoint import load_dinov2_weights
from .config import VISION_KINDS, VisionConfig
from .dinov2 import DinoVisionTransformer
from .preprocess import FramePreprocessor
from .tiny import TinyGridEncoder

log = logging.getLogger(__name__)


class VisionEncoder(Protocol):
    """A grid encoder: normalised (B, 3, H, W) images -> (B, N, D) grid features."""

    def grid_shape(self, height_px: int, width_px: int) -> tuple[int, int]: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclasses.dataclass(frozen=True)
class VisionState:
    """Streaming state of a batch of sessions: the previous frame's grid per session.

    Attributes:
        prev_grid: (B, N, D) grid features of each session's previous frame.
        has_prev: (B,) bool; False where the next frame is a session's first (its delta is 0).
    """

    prev_grid: torch.Tensor
    has_prev: torch.Tensor

    def reset_rows(self, rows: torch.Tensor) -> VisionState:
        """A state where the sessions selected by `rows` ((B,) bool) start afresh.

        Thread-safety: pure (returns a new state). Real-time safe: no (allocates).
        """
        return VisionState(prev_grid=self.prev_grid, has_prev=self.has_prev & ~rows)


def _build_tiny(cfg: VisionConfig) -> nn.Module:
    return TinyGridEncoder(channels=cfg.tiny_channels_per_stage, stem_px=cfg.tiny_stem_px,
                           wrap_horizontal=cfg.wrap_horizontal)


def _build_dinov2(cfg: VisionConfig) -> nn.Module:
    vit = DinoVisionTransformer(
        embed_dim=cfg.vit_embed_dim, depth=cfg.vit_depth, num_heads=cfg.vit_heads,
        patch_px=cfg.vit_patch_px, n_registers=cfg.vit_registers, mlp_ratio=cfg.vit_mlp_ratio,
        layerscale_init=cfg.vit_layerscale_init, ln_eps=cfg.vit_ln_eps,
        pretrain_size_px=cfg.vit_pretrain_size_px, interpolate_offset=cfg.vit_interpolate_offset,
        interpolate_antialias=cfg.vit_interpolate_antialias)
    if cfg.checkpoint_path:
        load_dinov2_weights(vit, cfg.checkpoint_path, cfg.checkpoint_format)
    else:
        log.info("DINOv2 backbone randomly initialised (no checkpoint_path)")
    return vit


# The one dispatch on `kind`; VISION_KINDS in config.py lists the same names.
_ENCODER_BUILDERS = {"tiny": _build_tiny, "dinov2": _build_dinov2}
assert tuple(_ENCODER_BUILDERS) == VISION_KINDS


class VisionFrontend(nn.Module):
    """uint8 frames -> (B, token_dim) vision tokens; see the module docstring."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        if cfg.kind not in _ENCODER_BUILDERS:
            raise ConfigError(f"VisionConfig.kind: expected one of {list(_ENCODER_BUILDERS)}, "
                              f"found {cfg.kind!r}")
        self.cfg = cfg
        self.token_dim = cfg.token_dim
        self.grid_shape = cfg.grid_shape
        self.preprocess = FramePreprocessor(out_h_px=cfg.input_size_px, out_w_px=cfg.input_w_px,
                                            aspect_mode=cfg.aspect_mode,
                                            resize_filter=cfg.resize_filter)
        self.backbone = _ENCODER_BUILDERS[cfg.kind](cfg)
        self.aggregator = TemporalAggregator(
            grid_dim=cfg.grid_dim, grid_shape=cfg.grid_shape, agg_dim=cfg.agg_dim,
            depth=cfg.agg_depth, num_heads=cfg.agg_heads, mlp_ratio=cfg.agg_mlp_ratio,
            downsample=cfg.agg_downsample, token_dim=cfg.token_dim)
        if cfg.freeze_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> VisionFrontend:
        """As nn.Module.train, but a frozen backbone stays in eval mode."""
        super().train(mode)
        if self.cfg.freeze_backbone:
            self.backbone.eval()
        return self

    @property
    def device(self) -> torch.device:
        """The device the front-end runs on (where frames are moved and preprocessed)."""
        return self.preprocess.scale.device

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> VisionState:
        """A fresh streaming state: every session's next frame is its first.

        Thread-safety: pure. Real-time safe: no (allocates; call once per session start).
        """
        device = self.device if device is None else torch.device(device)
        dtype = next(self.aggregator.parameters()).dtype
        N, D = self.cfg.grid_tokens, self.cfg.grid_dim
        return VisionState(prev_grid=torch.zeros(batch_size, N, D, device=device, dtype=dtype),
                           has_prev=torch.zeros(batch_size, dtype=torch.bool, device=device))

    def encode_grid(self, frames: torch.Tensor, pixel_format: str) -> torch.Tensor:
        """Grid features of a batch of frames: the cacheable (and maybe frozen) part.

        Args:
            frames: (B, H, W, C) uint8, any size and aspect, on any device.
            pixel_format: "RGBA8", "BGRA8" or "RGB8".

        Returns:
            (B, N, D) grid features on `self.device`, N = grid rows * cols (`grid_shape`).

        Raises:
            ProtocolError: bad frames or format name (see FramePreprocessor).

        Thread-safety: not thread-safe (DINOv2 position cache). Real-time safe: no (allocates).
        """
        x = self.preprocess(frames, pixel_format)  # (B, 3, H_in, W_in)
        dtype = next(self.aggregator.parameters()).dtype
        x = x.to(dtype)
        if self.cfg.freeze_backbone:
            with torch.no_grad():
                return self.backbone(x)  # (B, N, D)
        return self.backbone(x)  # (B, N, D)

    def step(self, frames: torch.Tensor, pixel_format: str,
             state: VisionState) -> tuple[torch.Tensor, VisionState]:
        """One frame per session -> one vision token per session, streaming.

        Args:
            frames: (B, H, W, C) uint8, the newest frame of each of B sessions.
            pixel_format: "RGBA8", "BGRA8" or "RGB8".
            state: from `init_state` or the previous `step`.

        Returns:
            (tokens (B, token_dim), new state). The new state holds this frame's grid.

        Raises:
            ProtocolError: bad frames, or a batch size different from the state's.

        Thread-safety: one caller per state. Real-time safe: no (allocates; no host syncs).
        """
        if (isinstance(frames, torch.Tensor) and frames.dim() >= 1
                and frames.shape[0] != state.has_prev.shape[0]):
            raise ProtocolError(f"VisionFrontend.step: expected {state.has_prev.shape[0]} "
                                f"frames (the state's batch), found {frames.shape[0]}")
        grid = self.encode_grid(frames, pixel_format)  # (B, N, D)
        prev = torch.where(state.has_prev[:, None, None], state.prev_grid, grid)  # (B, N, D)
        tokens = self.aggregator(grid, prev)  # (B, token_dim)
        return tokens, VisionState(prev_grid=grid, has_prev=torch.ones_like(state.has_prev))

    def tokens_from_grid(self, grid: torch.Tensor,
                         prev_grid: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens of whole clips from their grid features (e.g. cached `encode_grid` outputs).

        Frame 0 of each clip is a first frame (delta 0), as in `step` after `init_state`,
        unless `prev_grid` gives the frame before it (a training window cut from the middle
        of a longer clip, so that its first delta is the true one).

        Args:
            grid: (B, T, N, D) grid features.
            prev_grid: optional (B, N, D) grid of the frame before grid[:, 0].

        Returns:
            (B, T, token_dim), equal to `forward` on the frames the grids came from.

        Raises:
            ConfigError: grid not 4-D, N or D not those of the config, or prev_grid of
                another shape.

        Thread-safety: stateless. Real-time safe: no (allocates).
        """
        if grid.dim() != 4:
            raise ConfigError(f"tokens_from_grid: expected (B, T, N, D), found shape "
                              f"{tuple(grid.shape)}")
        B, T, N, D = grid.shape
        first = grid[:, :1] if prev_grid is None else prev_grid.unsqueeze(1)  # (B, 1, N, D)
        if first.shape != grid[:, :1].shape:
            raise ConfigError(f"tokens_from_grid: expected prev_grid of shape {(B, N, D)}, "
                              f"found {tuple(prev_grid.shape)}")
        prev = torch.cat([first, grid[:, :-1]], dim=1)  # (B, T, N, D)
        tokens = self.aggregator(grid.reshape(B * T, N, D), prev.reshape(B * T, N, D))
        return tokens.view(B, T, -1)  # (B, T, token_dim)

    def forward(self, frames: torch.Tensor, pixel_format: str) -> torch.Tensor:
        """Tokens of whole clips offline; equals `step` over the frames from `init_state`.

        Args:
            frames: (B, T, H, W, C) uint8.
            pixel_format: "RGBA8", "BGRA8" or "RGB8".

        Returns:
            (B, T, token_dim).

        Raises:
            ProtocolError: frames not 5-D, or bad frames / format name.

        Thread-safety: not thread-safe (position cache). Real-time safe: no (allocates).
        """
        if not isinstance(frames, torch.Tensor) or frames.dim() != 5:
            found = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames)
            raise ProtocolError(f"VisionFrontend.forward: expected frames (B, T, H, W, C), "
                                f"found {found}")
        B, T = frames.shape[:2]
        grid = self.encode_grid(frames.flatten(0, 1), pixel_format)  # (B*T, N, D)
        return self.tokens_from_grid(grid.view(B, T, *grid.shape[1:]))


def build_vision_frontend(cfg: VisionConfig) -> VisionFrontend:
    """Build the front-end `cfg.kind` names ("tiny" or "dinov2"), loading weights if given.

    Raises:
        ConfigError: unknown kind (the valid kinds are named) or not a VisionConfig.
        CheckpointError: `cfg.checkpoint_path` cannot be loaded into the configured ViT.

    Thread-safety: any thread. Real-time safe: no.
    """
    if not isinstance(cfg, VisionConfig):
        raise ConfigError(f"build_vision_frontend: expected a VisionConfig, found "
                          f"{type(cfg).__name__}")
    return VisionFrontend(cfg)
