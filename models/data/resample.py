"""Sample-rate conversion of recorded game audio (polyphase, scipy).

What it is: `resample_audio`, a thin exact-ratio wrapper over `scipy.signal.resample_poly`
(44.1 kHz -> 48 kHz is up 160, down 147), used on whole recordings so that no block edges
appear. What it is not: a streaming resampler (the live path gets audio from the model at the
model's rate and never resamples).
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


def resample_ratio(from_hz: int, to_hz: int) -> tuple[int, int]:
    """Return (up, down) in lowest terms, e.g. (160, 147) for 44100 -> 48000.

    Raises:
        ConfigError: a non-positive rate.
    """
    if int(from_hz) <= 0 or int(to_hz) <= 0:
        raise ConfigError(f"resample: expected positive rates, found {from_hz} -> {to_hz}")
    r = Fraction(int(to_hz), int(from_hz))
    return r.numerator, r.denominator


def resample_audio(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample (N, C) or (N,) audio along axis 0; int16 input is scaled to [-1, 1).

    Args:
        audio: samples, time on axis 0; int16 (game PCM) or float.
        from_hz: its sample rate.
        to_hz: the wanted rate.

    Returns:
        float32 array with `ceil(N * to_hz / from_hz)` samples on axis 0.

    Thread-safety: pure function. Real-time safe: no.
    """
    from scipy.signal import resample_poly

    x = np.asarray(audio)
    if x.dtype == np.int16:
        x = x.astype(np.float32) / 32768.0
    else:
        x = x.astype(np.float32, copy=False)
    up, down = resample_ratio(from_hz, to_hz)
    if up == down:
        return x.copy()
    return resample_poly(x, up, down, axis=0).astype(np.float32)
