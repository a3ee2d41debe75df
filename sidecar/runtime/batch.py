"""Building one batch from several sessions' frames: same format and size, or converted.

What it is: `convert_frame` (format reorder and nearest-neighbour resize, numpy or torch) for
the rare batch whose sessions publish different formats or sizes, and `zeros_like` for a
session without a frame yet. What it is not: the model's preprocessing (resize and
normalisation to the encoder's input happen on the model's device).
"""

from __future__ import annotations

import numpy as np


def zeros_like(pixels):
    if hasattr(pixels, "is_cuda"):
        import torch

        return torch.zeros_like(pixels)
    return np.zeros_like(pixels)


def convert_frame(pixels, from_fmt: int, to_fmt: int, shape: tuple):
    """Bring one session's frame to the batch's format and size (nearest neighbour)."""
    arr = pixels
    is_torch = hasattr(arr, "is_cuda")
    if from_fmt == 2:  # BGRA -> RGBA order
        arr = arr[..., [2, 1, 0, 3]]
    rgb = arr[..., :3]
    if to_fmt == 3:
        out = rgb
    else:
        alpha = (np.full(rgb.shape[:2] + (1,), 255, np.uint8) if not is_torch else
                 rgb.new_full(tuple(rgb.shape[:2]) + (1,), 255))
        out = np.concatenate([rgb, alpha], -1) if not is_torch else __import__("torch").cat([rgb, alpha], -1)
        if to_fmt == 2:
            out = out[..., [2, 1, 0, 3]]
    h, w = shape[:2]
    ys = (np.arange(h) * out.shape[0] // h)
    xs = (np.arange(w) * out.shape[1] // w)
    if is_torch:
        import torch

        return out[torch.as_tensor(ys, device=out.device)][:, torch.as_tensor(xs, device=out.device)].contiguous()
    return np.ascontiguousarray(out[ys][:, xs])
