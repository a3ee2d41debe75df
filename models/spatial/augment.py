"""Consistent audio-visual augmentations for panoramic clips (training data).

Rotating the world about the vertical axis or mirroring it left-right must change the
equirectangular frames and the AmbiX audio the same way, or the model learns wrong
directions. Both operations are exact on the pixel grid:

* yaw by a whole number of columns: np.roll of the frames by `shift_columns` to the right
  is a scene rotation by yaw = -2 pi shift / W (moving right in the image = to the right),
  applied to FOA as the 4x4 ACN rotation of rotation.foa_rotation_matrix;
* mirror: flipping columns maps azimuth -> -azimuth (the seam and the front column stay
  put), which in FOA is Y -> -Y.

Works on numpy arrays or torch tensors (then on their device): frames (..., H, W, C) channel-
last for numpy, or pass `channels_last=False` for (..., C, H, W) tensors; FOA (..., 4, N).
This module transforms clips; choosing random augmentations is the training loop's job.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from livefoley.protocol.errors import ConfigError

from .rotation import foa_rotation_matrix, rotation_matrix

log = logging.getLogger(__name__)


def _width_axis(frames, channels_last: bool) -> int:
    return -2 if channels_last else -1


def yaw_of_shift(shift_columns: int, width: int) -> float:
    """Scene yaw (radians, + = to the left) of rolling an equirect image right by `shift_columns`."""
    return -2 * math.pi * shift_columns / width


def rotate_clip_yaw(frames, foa, shift_columns: int, *, channels_last: bool = True):
    """Rotate a clip about the vertical axis by a whole number of equirect columns.

    Args:
        frames: (..., H, W, C) (or (..., C, H, W) with channels_last=False), numpy or torch.
        foa: (..., 4, N) AmbiX, same library as `frames`.
        shift_columns: columns to roll the image to the right (negative: to the left).

    Returns:
        (frames, foa) rotated together.

    Thread-safety: pure function. Real-time safe: no.
    """
    axis = _width_axis(frames, channels_last)
    width = frames.shape[axis]
    if foa.shape[-2] != 4:
        raise ConfigError(f"rotate_clip_yaw: expected FOA (..., 4, N), found {tuple(foa.shape)}")
    m = foa_rotation_matrix(rotation_matrix(yaw_of_shift(shift_columns, width), 0.0, 0.0))
    if torch.is_tensor(foa):
        mt = torch.as_tensor(m, dtype=foa.dtype, device=foa.device)
        return torch.roll(frames, shift_columns, dims=axis), mt @ foa
    return np.roll(frames, shift_columns, axis=axis), (m @ foa).astype(foa.dtype, copy=False)


def mirror_clip(frames, foa, *, channels_last: bool = True):
    """Mirror a clip left-right: azimuth -> -azimuth in the frames and in the FOA (Y -> -Y).

    Column j maps to W - 1 - j, which maps azimuth a to -a exactly (the front stays between
    the two centre columns, the seam stays at the edges).
    """
    axis = _width_axis(frames, channels_last)
    if foa.shape[-2] != 4:
        raise ConfigError(f"mirror_clip: expected FOA (..., 4, N), found {tuple(foa.shape)}")
    sign = [1.0, -1.0, 1.0, 1.0]  # W, Y, Z, X
    if torch.is_tensor(foa):
        s = torch.tensor(sign, dtype=foa.dtype, device=foa.device)[:, None]
        return torch.flip(frames, dims=(axis,)), foa * s
    return np.flip(frames, axis=axis).copy(), (foa * np.array(sign, dtype=foa.dtype)[:, None])


__all__ = ["yaw_of_shift", "rotate_clip_yaw", "mirror_clip"]
