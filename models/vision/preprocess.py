"""Frame preprocessing on the model's device: uint8 frames of any size -> normalised encoder input.

What it is: one module that takes (B, H, W, C) uint8 frames in a named pixel format
(`RGBA8`, `BGRA8`, `RGB8`, the names of protocol.h `lf_pixel_format_t`), fixes the channel
order to RGB, fits any aspect ratio to the encoder's (H_in, W_in), resizes, and normalises
with the ImageNet mean/std that DINOv2 was trained with.

Aspect handling (`aspect_mode`):
- "crop" (default): the largest centered window of the frame with the encoder's aspect is
  resized to fill the input (for 16:9 into a square: the short side is kept, the sides are
  cut). No pixels of padding reach the encoder, so the features stay in DINOv2's training
  distribution; the sides of a wide frame are lost.
- "pad": the whole frame is resized to fit inside the input and centered; the border is 0
  after normalisation, i.e. the ImageNet mean colour. Keeps the whole field of view.
- "stretch": resized to the input size, aspect ignored.

Resize (`resize_filter`): antialiased bilinear (default) or bicubic — the filter is widened
when shrinking, so a 1080p frame does not alias into 224 px. Bicubic is what DINOv2's own
evaluation transform uses (torchvision Resize, BICUBIC), so the `sr` preset picks it for
the frozen ViT; bilinear is cheaper and fine for an encoder trained on its own input. On
CPU the resize runs in uint8 on the channels-last layout the frame already has (PyTorch's
vectorised uint8 antialias kernels, as torchvision uses): about 6x faster than float here,
at the cost of rounding each resized pixel to an integer (at most one grey level from the
float result; bicubic overshoot is clamped to 0..255 as in uint8 images). Other devices
resize in float32 and clamp the same way. The cropped
window is a view: nothing outside it is copied or converted.

What it is not: colour management (frames are taken as sRGB-encoded 8-bit, as DINOv2's
ImageNet training images were) or frame acquisition (see sidecar).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from livefoley.protocol.errors import ConfigError, ProtocolError

log = logging.getLogger(__name__)

# name -> (channels per pixel, indices of R, G, B)
PIXEL_FORMATS: dict[str, tuple[int, tuple[int, int, int]]] = {
    "RGBA8": (4, (0, 1, 2)),
    "BGRA8": (4, (2, 1, 0)),
    "RGB8": (3, (0, 1, 2)),
}

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


class FramePreprocessor(nn.Module):
    """uint8 (B, H, W, C) frames -> float32 (B, 3, out_h, out_w), ImageNet-normalised."""

    def __init__(self, *, out_h_px: int, out_w_px: int, aspect_mode: str = "crop",
                 resize_filter: str = "bilinear") -> None:
        super().__init__()
        if aspect_mode not in ("crop", "pad", "stretch"):
            raise ConfigError(f"FramePreprocessor: expected aspect_mode 'crop', 'pad' or "
                              f"'stretch', found {aspect_mode!r}")
        if resize_filter not in ("bilinear", "bicubic"):
            raise ConfigError(f"FramePreprocessor: expected resize_filter 'bilinear' or "
                              f"'bicubic', found {resize_filter!r}")
        self.resize_filter = resize_filter
        self.out_h_px = out_h_px
        self.out_w_px = out_w_px
        self.aspect_mode = aspect_mode
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        # x/255 - mean, / std folded into one multiply-add.
        self.register_buffer("scale", 1.0 / (255.0 * std), persistent=False)
        self.register_buffer("shift", -mean / std, persistent=False)
        for name, (_, idx) in PIXEL_FORMATS.items():
            self.register_buffer(f"perm_{name}", torch.tensor(idx), persistent=False)

    def forward(self, frames: torch.Tensor, pixel_format: str) -> torch.Tensor:
        """Preprocess a batch of frames on this module's device.

        Args:
            frames: (B, H, W, C) uint8 tensor on any device, C = 4 for RGBA8/BGRA8, 3 for RGB8.
            pixel_format: "RGBA8", "BGRA8" or "RGB8".

        Returns:
            (B, 3, out_h_px, out_w_px) float32 on the module's device, RGB order.

        Raises:
            ProtocolError: unknown format name, not a tensor, dtype not uint8, not 4-D, channel
                count not that of the format, or an empty frame (each names expected and found).

        Thread-safety: stateless. Real-time safe: no (allocates the output).
        """
        channels, _ = self._check(frames, pixel_format)
        device = self.scale.device
        x = frames.to(device, non_blocking=True)  # (B, H, W, C) uint8
        B, H, W, _ = x.shape
        th, tw = self.out_h_px, self.out_w_px
        pad = (0, 0, 0, 0)
        if self.aspect_mode == "crop":
            x = _center_crop(x, th / tw)
        elif self.aspect_mode == "pad":
            s = min(th / H, tw / W)
            rh, rw = min(th, max(1, round(H * s))), min(tw, max(1, round(W * s)))
            top, left = (th - rh) // 2, (tw - rw) // 2
            pad = (left, tw - rw - left, top, th - rh - top)
            th, tw = rh, rw
        x = x.permute(0, 3, 1, 2)  # (B, C, h, w) view, channels-last memory
        perm = getattr(self, f"perm_{pixel_format}")
        if device.type == "cpu":
            if x.shape[-2:] != (th, tw):
                x = F.interpolate(x, size=(th, tw), mode=self.resize_filter,
                                  align_corners=False, antialias=True)  # uint8, saturating
            x = x.index_select(1, perm).float()  # (B, 3, th, tw)
        else:
            x = x.index_select(1, perm).float()  # (B, 3, h, w)
            if x.shape[-2:] != (th, tw):
                x = F.interpolate(x, size=(th, tw), mode=self.resize_filter,
                                  align_corners=False, antialias=True).clamp_(0.0, 255.0)
        x = torch.addcmul(self.shift, x, self.scale)  # (B, 3, th, tw)
        if any(pad):
            x = F.pad(x, pad)  # zeros = the ImageNet mean colour
        return x.contiguous()

    @staticmethod
    def _check(frames: torch.Tensor, pixel_format: str) -> tuple[int, tuple[int, int, int]]:
        if pixel_format not in PIXEL_FORMATS:
            raise ProtocolError(f"frame pixel format: expected one of {list(PIXEL_FORMATS)}, "
                                f"found {pixel_format!r}")
        channels, idx = PIXEL_FORMATS[pixel_format]
        if not isinstance(frames, torch.Tensor):
            raise ProtocolError(f"frames: expected a torch.Tensor, found {type(frames).__name__}")
        if frames.dtype != torch.uint8:
            raise ProtocolError(f"frames: expected dtype torch.uint8, found {frames.dtype}")
        if frames.dim() != 4:
            raise ProtocolError(f"frames: expected 4 dims (B, H, W, C), found shape "
                                f"{tuple(frames.shape)}")
        if frames.shape[-1] != channels:
            raise ProtocolError(f"frames in {pixel_format}: expected {channels} channels, found "
                                f"{frames.shape[-1]} (shape {tuple(frames.shape)})")
        if frames.shape[1] < 1 or frames.shape[2] < 1:
            raise ProtocolError(f"frames: expected height and width >= 1, found "
                                f"{frames.shape[1]}x{frames.shape[2]}")
        return channels, idx


def _center_crop(x: torch.Tensor, aspect_h_over_w: float) -> torch.Tensor:
    # The largest centered window of (B, H, W, C) with height/width = aspect (a view).
    _, H, W, _ = x.shape
    if H / W > aspect_h_over_w:
        h = max(1, min(H, round(W * aspect_h_over_w)))
        top = (H - h) // 2
        return x[:, top:top + h]
    w = max(1, min(W, round(H / aspect_h_over_w)))
    left = (W - w) // 2
    return x[:, :, left:left + w]
