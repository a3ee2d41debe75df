"""Equirectangular panorama geometry, procedural source drawing, and cube map -> equirect.

Equirectangular convention (W x H, row 0 at the top): pixel (row i, column j) looks at

    azimuth   = pi - 2 pi (j + 0.5) / W     (centre column = front; left edge = behind, via
                                             the left side; moving right in the image = moving
                                             to the listener's right, as when viewing the panorama)
    elevation = pi/2 - pi (i + 0.5) / H     (top = up)

The seam (left/right edges) is at azimuth +-180 deg. Shapes are drawn in the tangent plane of
their own direction from each pixel's 3-D direction, so a source on the seam or near a pole is
drawn whole, wrapped correctly, with no special cases.

Cube maps are (6, C, S, S) tensors, faces in FACE_NAMES order, each face seen from inside
the cube with image row 0 at the top:

    face    looks at   image right   image up
    front   +x         -y (right)    +z
    back    -x         +y (left)     +z
    left    +y         +x (front)    +z
    right   -y         -x (back)     +z
    up      +z         -y (right)    -x (back)      (its bottom edge meets front's top edge)
    down    -z         -y (right)    +x (front)     (its top edge meets front's bottom edge)

`cubemap_to_equirect` is torch and runs on the faces' device (the model's device). This
module draws, pads and resamples images; it knows nothing of audio.
`pad_equirect` gives the vision path seam- and pole-aware padding for its convolutions.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from livefoley.protocol.errors import ConfigError

from .foa import direction_to_unit

log = logging.getLogger(__name__)

FACE_NAMES: tuple[str, ...] = ("front", "back", "left", "right", "up", "down")
# (normal, image-right, image-up) per face, in FACE_NAMES order.
_FACE_AXES = np.array([
    [[1, 0, 0], [0, -1, 0], [0, 0, 1]],
    [[-1, 0, 0], [0, 1, 0], [0, 0, 1]],
    [[0, 1, 0], [1, 0, 0], [0, 0, 1]],
    [[0, -1, 0], [-1, 0, 0], [0, 0, 1]],
    [[0, 0, 1], [0, -1, 0], [-1, 0, 0]],
    [[0, 0, -1], [0, -1, 0], [1, 0, 0]],
], dtype=np.float64)

SHAPES: tuple[str, ...] = ("disk", "square", "diamond", "ring", "cross")


def equirect_angles(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth_rad (W,), elevation_rad (H,)) of pixel centres."""
    az = np.pi - 2 * np.pi * (np.arange(width) + 0.5) / width
    el = np.pi / 2 - np.pi * (np.arange(height) + 0.5) / height
    return az, el


def equirect_directions(width: int, height: int) -> np.ndarray:
    """(H, W, 3) unit vectors (x front, y left, z up) of pixel centres."""
    az, el = equirect_angles(width, height)
    return direction_to_unit(az[None, :], el[:, None])


def pixel_of_direction(azimuth_rad: float, elevation_rad: float, width: int, height: int) -> tuple[int, int]:
    """(row, column) of the pixel that looks at a direction."""
    j = int(np.floor(((np.pi - azimuth_rad) / (2 * np.pi)) % 1.0 * width)) % width
    i = int(np.clip(np.floor((np.pi / 2 - elevation_rad) / np.pi * height), 0, height - 1))
    return i, j


def background(width: int, height: int) -> np.ndarray:
    """A neutral sky-over-ground panorama (H, W, 3) float in [0, 1] with faint meridians."""
    d = equirect_directions(width, height)
    z = d[..., 2:3]
    sky = np.array([0.45, 0.6, 0.8]) * (0.7 + 0.3 * z)
    ground = np.array([0.35, 0.3, 0.25]) * (0.8 + 0.2 * -z)
    img = np.where(z >= 0, sky, ground)
    az, _ = equirect_angles(width, height)
    meridian = (np.abs(((np.degrees(az) + 180) % 45) - 22.5) > 21.5)[None, :, None]
    return np.where(meridian, img * 0.85, img)


def shape_mask(directions: np.ndarray, azimuth_rad: float, elevation_rad: float, size_rad: float,
               shape: str) -> np.ndarray:
    """(H, W) bool: pixels inside a shape of angular radius `size_rad` centred on a direction."""
    u = direction_to_unit(azimuth_rad, elevation_rad)
    e_az = np.array([-np.sin(azimuth_rad), np.cos(azimuth_rad), 0.0])  # towards +azimuth
    e_el = np.cross(u, e_az)  # towards +elevation
    dot = directions @ u
    front = dot > 0.05
    safe = np.where(front, dot, 1.0)
    a = (directions @ e_az) / safe  # gnomonic tangent-plane coordinates
    b = (directions @ e_el) / safe
    r = np.tan(size_rad)
    if shape == "disk":
        inside = a * a + b * b <= r * r
    elif shape == "square":
        inside = np.maximum(np.abs(a), np.abs(b)) <= 0.85 * r
    elif shape == "diamond":
        inside = np.abs(a) + np.abs(b) <= 1.2 * r
    elif shape == "ring":
        rr = a * a + b * b
        inside = (rr <= r * r) & (rr >= 0.3 * r * r)
    elif shape == "cross":
        inside = ((np.abs(a) <= 0.3 * r) & (np.abs(b) <= r)) | ((np.abs(b) <= 0.3 * r) & (np.abs(a) <= r))
    else:
        raise ConfigError(f"shape_mask: expected a shape in {SHAPES}, found {shape!r}")
    return inside & front


def pad_equirect(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Seam- and pole-aware padding of equirectangular images for convolutions.

    Columns wrap around (the left edge continues from the right edge: azimuth is periodic).
    Rows continue over the poles: the row above the top row is the top row seen from the
    other side, i.e. flipped vertically and shifted by half the width (azimuth + 180 deg).
    Every padded pixel is therefore the pixel that looks in the geometrically right direction.

    Args:
        x: (..., H, W) tensor with even W and pad <= H.
        pad: pixels added on each side.

    Returns:
        (..., H + 2 pad, W + 2 pad), on x's device.

    Raises:
        ConfigError: odd width or pad out of range.
    """
    H, W = x.shape[-2], x.shape[-1]
    if W % 2 or not 0 <= pad <= H:
        raise ConfigError(f"pad_equirect: expected even width and 0 <= pad <= H={H}, found W={W}, pad={pad}")
    if pad == 0:
        return x
    over = torch.roll(x, W // 2, dims=-1)  # azimuth + 180 deg
    top = over[..., :pad, :].flip(-2)
    bottom = over[..., H - pad:, :].flip(-2)
    y = torch.cat([top, x, bottom], dim=-2)  # (..., H + 2 pad, W)
    return torch.cat([y[..., W - pad:], y, y[..., :pad]], dim=-1)


def cubemap_directions(size: int) -> np.ndarray:
    """(6, S, S, 3) unit directions of the pixel centres of each cube face (FACE_NAMES order)."""
    c = (np.arange(size) + 0.5) / size * 2 - 1  # -1..1 left->right
    u = c[None, :]  # column -> image right
    v = -c[:, None]  # row 0 at the top -> image up = +1
    out = np.empty((6, size, size, 3))
    for f, (n, right, up) in enumerate(_FACE_AXES):
        d = n[None, None, :] + u[..., None] * right + v[..., None] * up
        out[f] = d / np.linalg.norm(d, axis=-1, keepdims=True)
    return out


_GRID_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def _equirect_grids(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    key = (height, width, str(device))
    if key not in _GRID_CACHE:
        d = equirect_directions(width, height)  # (H, W, 3)
        proj = np.einsum("fkc,hwc->fhwk", _FACE_AXES, d)  # (6, H, W, 3): along normal, right, up
        face = np.argmax(proj[..., 0], axis=0)  # (H, W)
        depth = np.take_along_axis(proj[..., 0], face[None], 0)[0]
        grids = np.stack([proj[..., 1] / depth, -proj[..., 2] / depth], -1)  # (6, H, W, 2) x, y
        masks = np.stack([face == f for f in range(6)])  # (6, H, W)
        _GRID_CACHE[key] = (torch.as_tensor(grids, dtype=torch.float32, device=device),
                            torch.as_tensor(masks, dtype=torch.float32, device=device))
    return _GRID_CACHE[key]


def cubemap_to_equirect(faces: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resample cube-map faces to an equirectangular panorama on the faces' device.

    Args:
        faces: (6, C, S, S) or (B, 6, C, S, S) float tensor, faces in FACE_NAMES order.
        height, width: output size (usually width = 2 * height).

    Returns:
        (C, H, W) or (B, C, H, W), bilinear, same dtype and device as `faces`.

    Raises:
        ConfigError: faces not (..., 6, C, S, S) with square faces.

    Thread-safety: pure function (the grid cache is filled idempotently).
    Real-time safe: no; cost is 6 grid_samples of the output size.
    """
    batched = faces.dim() == 5
    f5 = faces if batched else faces.unsqueeze(0)
    if f5.dim() != 5 or f5.shape[1] != 6 or f5.shape[-1] != f5.shape[-2]:
        raise ConfigError(f"cubemap_to_equirect: expected (6, C, S, S) or (B, 6, C, S, S), "
                          f"found {tuple(faces.shape)}")
    b, _, c, s, _ = f5.shape
    grids, masks = _equirect_grids(height, width, faces.device)
    out = torch.zeros(b, c, height, width, dtype=faces.dtype, device=faces.device)
    for f in range(6):
        grid = grids[f].to(faces.dtype).unsqueeze(0).expand(b, -1, -1, -1)  # (B, H, W, 2)
        sampled = F.grid_sample(f5[:, f], grid, mode="bilinear", padding_mode="border", align_corners=False)
        out += sampled * masks[f].to(faces.dtype)
    return out if batched else out[0]


__all__ = [
    "FACE_NAMES",
    "SHAPES",
    "equirect_angles",
    "equirect_directions",
    "pixel_of_direction",
    "background",
    "shape_mask",
    "pad_equirect",
    "cubemap_directions",
    "cubemap_to_equirect",
]
