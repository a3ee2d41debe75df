"""First-Order Ambisonics in AmbiX: encoding, FuMa conversion, directions, stereo downmix.

AmbiX = channel order ACN (W, Y, Z, X) with SN3D normalisation. Every FOA array in
`livefoley.models.spatial` is AmbiX with shape (4, samples) unless a name says otherwise
(`fuma` in a function name is the only exception). See README.md for the full convention.

Coordinates: x = front, y = left, z = up (right-handed). Azimuth is measured from the front,
counter-clockwise seen from above, so +90 deg = left and -90 deg (or 270) = right; elevation
is positive upward. A unit source s arriving from (az, el) encodes as

    W = s,  Y = s * sin(az) * cos(el),  Z = s * sin(el),  X = s * cos(az) * cos(el).

This module is numpy only and stateless. It is not the rotation (rotation.py) or the
binaural decoder (binaural.py).

Contract of every function here unless its docstring says otherwise: Thread-safety: pure
function. Real-time safe: no (allocates).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

#: AmbiX (ACN) channel names in storage order.
ACN_CHANNELS: tuple[str, ...] = ("W", "Y", "Z", "X")
#: FuMa channel names in storage order.
FUMA_CHANNELS: tuple[str, ...] = ("W", "X", "Y", "Z")
#: ACN index of the x, y, z dipoles: foa[ACN_XYZ] is the (X, Y, Z) 3-vector part.
ACN_XYZ: tuple[int, int, int] = (3, 1, 2)
#: FuMa W is AmbiX W times 1/sqrt(2) (-3 dB).
FUMA_W_GAIN: float = 1.0 / math.sqrt(2.0)


def direction_to_unit(azimuth_rad, elevation_rad) -> np.ndarray:
    """Unit vectors (x front, y left, z up) for azimuth/elevation in radians.

    Args:
        azimuth_rad: scalar or array; 0 = front, +pi/2 = left.
        elevation_rad: scalar or array broadcastable with `azimuth_rad`; +pi/2 = up.

    Returns:
        Array of shape broadcast(az, el) + (3,), ordered (x, y, z).

    Thread-safety: pure function. Real-time safe: allocates.
    """
    az = np.asarray(azimuth_rad, dtype=np.float64)
    el = np.asarray(elevation_rad, dtype=np.float64)
    ce = np.cos(el)
    return np.stack(np.broadcast_arrays(ce * np.cos(az), ce * np.sin(az), np.sin(el)), -1)


def unit_to_direction(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and elevation in radians of (x, y, z) vectors (need not be unit length).

    Args:
        vectors: array (..., 3) ordered (x, y, z).

    Returns:
        (azimuth_rad in (-pi, pi], elevation_rad in [-pi/2, pi/2]), each of shape (...).
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.shape[-1] != 3:
        raise ConfigError(f"expected vectors of shape (..., 3), found {v.shape}")
    az = np.arctan2(v[..., 1], v[..., 0])
    el = np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1]))
    return az, el


def _check_foa(foa: np.ndarray, what: str = "foa") -> np.ndarray:
    foa = np.asarray(foa)
    if foa.ndim != 2 or foa.shape[0] != 4:
        raise ConfigError(f"{what}: expected shape (4, samples), found {foa.shape}")
    return foa


def encode_mono(signal: np.ndarray, azimuth_rad, elevation_rad) -> np.ndarray:
    """Encode a mono signal at a fixed or per-sample direction into AmbiX FOA.

    Args:
        signal: (samples,) mono signal.
        azimuth_rad: scalar, or (samples,) per-sample azimuth (a moving source).
        elevation_rad: scalar, or (samples,) per-sample elevation.

    Returns:
        (4, samples) float32 AmbiX (W, Y, Z, X), SN3D: W = s, X/Y/Z = s times the unit vector.

    Raises:
        ConfigError: signal not 1-D, or a per-sample direction of the wrong length.

    Thread-safety: pure function. Real-time safe: allocates.
    """
    s = np.asarray(signal, dtype=np.float64)
    if s.ndim != 1:
        raise ConfigError(f"encode_mono: expected a 1-D signal, found shape {s.shape}")
    for name, a in (("azimuth_rad", azimuth_rad), ("elevation_rad", elevation_rad)):
        shape = np.shape(a)
        if shape not in ((), (s.shape[0],)):
            raise ConfigError(f"encode_mono: {name} must be scalar or ({s.shape[0]},), found {shape}")
    u = direction_to_unit(azimuth_rad, elevation_rad)  # (3,) or (N, 3)
    u = np.broadcast_to(u, (s.shape[0], 3))
    out = np.empty((4, s.shape[0]), dtype=np.float64)
    out[0] = s
    out[1] = s * u[:, 1]  # Y
    out[2] = s * u[:, 2]  # Z
    out[3] = s * u[:, 0]  # X
    return out.astype(np.float32)


def fuma_to_ambix(fuma: np.ndarray) -> np.ndarray:
    """Convert first-order FuMa (W, X, Y, Z; W at -3 dB) to AmbiX (W, Y, Z, X; SN3D).

    Reorders the channels and raises W by sqrt(2) (+3 dB), the same rule Unreal applies to
    `_fuma` files. First-order only: at order 1 FuMa's X/Y/Z gains equal SN3D's.
    """
    f = _check_foa(fuma, "fuma_to_ambix")
    return np.stack([f[0] / FUMA_W_GAIN, f[2], f[3], f[1]]).astype(f.dtype, copy=False)


def ambix_to_fuma(ambix: np.ndarray) -> np.ndarray:
    """Convert AmbiX (W, Y, Z, X; SN3D) to first-order FuMa (W, X, Y, Z; W at -3 dB)."""
    a = _check_foa(ambix, "ambix_to_fuma")
    return np.stack([a[0] * FUMA_W_GAIN, a[3], a[1], a[2]]).astype(a.dtype, copy=False)


def virtual_microphone(foa: np.ndarray, azimuth_rad: float, elevation_rad: float = 0.0, *,
                       pattern: float = 0.5) -> np.ndarray:
    """Steer a first-order virtual microphone into an AmbiX scene.

    out = pattern * W + (1 - pattern) * (u . [X, Y, Z]); pattern 1 = omni, 0.5 = cardioid,
    0.25 = hypercardioid-like, 0 = figure-of-eight. On-axis gain is 1 for every pattern.

    Returns:
        (samples,) signal with the dtype of `foa`.
    """
    a = _check_foa(foa, "virtual_microphone")
    if not 0.0 <= pattern <= 1.0:
        raise ConfigError(f"virtual_microphone: expected pattern in [0, 1], found {pattern}")
    u = direction_to_unit(azimuth_rad, elevation_rad)
    dipole = u[0] * a[3] + u[1] * a[1] + u[2] * a[2]
    return (pattern * a[0] + (1.0 - pattern) * dipole).astype(a.dtype, copy=False)


def stereo_downmix(foa: np.ndarray, *, angle_deg: float = 90.0, pattern: float = 0.5) -> np.ndarray:
    """AmbiX FOA to stereo with two virtual microphones at +/-angle_deg in the horizontal plane.

    Default: cardioids at +/-90 deg (left = +90). A source straight ahead reaches both
    channels at gain 0.5; a source at +90 reaches left at 1 and right at 0. Use
    angle_deg=30 for a narrower, loudspeaker-like image.

    Returns:
        (2, samples): row 0 = left, row 1 = right.

    Thread-safety: pure function. Real-time safe: allocates.
    """
    half = math.radians(angle_deg)
    left = virtual_microphone(foa, half, 0.0, pattern=pattern)
    right = virtual_microphone(foa, -half, 0.0, pattern=pattern)
    return np.stack([left, right])


def omni_upmix(mono: np.ndarray) -> np.ndarray:
    """The omnidirectional baseline: W = mono, Y = Z = X = 0 (no direction at all)."""
    m = np.asarray(mono, dtype=np.float32)
    out = np.zeros((4, m.shape[-1]), dtype=np.float32)
    out[0] = m
    return out


def stereo_upmix(stereo: np.ndarray, *, angle_deg: float = 90.0) -> np.ndarray:
    """The "stereo model up-mixed" baseline: left and right encoded as two point sources.

    Left is encoded at +angle_deg, right at -angle_deg, both on the horizon. A mono-
    compatible centre image therefore points to the front.
    """
    st = np.asarray(stereo, dtype=np.float32)
    if st.ndim != 2 or st.shape[0] != 2:
        raise ConfigError(f"stereo_upmix: expected shape (2, samples), found {st.shape}")
    half = math.radians(angle_deg)
    return encode_mono(st[0], half, 0.0) + encode_mono(st[1], -half, 0.0)


__all__ = [
    "ACN_CHANNELS",
    "FUMA_CHANNELS",
    "ACN_XYZ",
    "FUMA_W_GAIN",
    "direction_to_unit",
    "unit_to_direction",
    "encode_mono",
    "fuma_to_ambix",
    "ambix_to_fuma",
    "virtual_microphone",
    "stereo_downmix",
    "omni_upmix",
    "stereo_upmix",
]
