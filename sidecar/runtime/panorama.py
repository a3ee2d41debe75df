"""Panoramic frames in: cube maps become equirectangular panoramas on the model's device.

What it is: `CubemapConverter`, which the frame intake calls for a frame whose descriptor says
`projection = CUBEMAP` (protocol.h `lf_projection_t`: 6 square faces stacked top to bottom,
S x 6S pixels, in the order front, back, left, right, up, down, each face's axes as tabulated
in models/spatial/equirect.py). It resamples the faces with
`models.spatial.equirect.cubemap_to_equirect` (6 bilinear grid_samples, torch, on the given
device: the model's GPU when there is one) into a 2S x 4S equirectangular frame in the same
pixel format, which the model then reads like any panorama. Equirectangular frames
(`projection = IMAGE`) are never touched here: they pass through unchanged.

What it is not: a general reprojection library, or free. The grids are cached per size and
device; the per-frame cost is the resampling (measured in benchmarks/bench_spatial.py).
"""

from __future__ import annotations

import numpy as np

from livefoley.protocol.errors import ProtocolError


class CubemapConverter:
    """(6S, S, C) uint8 cube-map strip -> (2S, 4S, C) uint8 equirectangular tensor on `device`.

    Args:
        device: torch device string where the resampling runs (the model's).

    Thread-safety: one thread (the runtime loop). Real-time safe: no (runs torch).
    """

    def __init__(self, device: str = "cpu") -> None:
        import torch

        self.device = torch.device(device)
        self.frames_converted = 0

    def __call__(self, pixels, frame_index: int = -1):
        import torch

        from livefoley.models.spatial.equirect import cubemap_to_equirect

        strip = torch.from_numpy(pixels) if isinstance(pixels, np.ndarray) else pixels
        h, w, c = (int(x) for x in strip.shape)
        if h != 6 * w:
            raise ProtocolError(f"frame {frame_index}: cube map: expected height 6 x width, found {w}x{h}")
        s = w
        faces = strip.to(self.device, non_blocking=True).view(6, s, s, c).permute(0, 3, 1, 2).float()  # (6, C, S, S)
        pano = cubemap_to_equirect(faces, 2 * s, 4 * s)  # (C, 2S, 4S)
        self.frames_converted += 1
        return pano.round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()  # (2S, 4S, C)


__all__ = ["CubemapConverter"]
