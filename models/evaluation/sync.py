"""Synchrony: the lag of the peak cross-correlation between two onset envelopes.

What it is: `onset_lag_ms(generated, real, rate)`: both onset envelopes are z-scored, their
cross-correlation is computed for lags within +-`max_lag_ms`, and the lag of its maximum is
refined by a parabola through the peak and its neighbours. A positive lag means the generated
audio is late. The normalised peak value (a correlation in [-1, 1]) is returned with it, since
a lag is meaningless when nothing correlates (silence gives NaN lag and 0 peak).

What it is not: an audio-visual sync model (DeSync/Synchformer need downloaded weights).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from livefoley.models.evaluation.onsets import onset_envelope

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LagResult:
    """Lag (ms, positive: generated is late) and the normalised correlation at it."""

    lag_ms: float
    peak_correlation: float


def envelope_lag(generated_env: np.ndarray, real_env: np.ndarray, frame_rate_hz: float,
                 max_lag_ms: float = 500.0) -> LagResult:
    """Lag of the peak cross-correlation between two envelopes at `frame_rate_hz`.

    Thread-safety: pure function. Real-time safe: no.
    """
    n = min(len(generated_env), len(real_env))
    g = np.asarray(generated_env[:n], dtype=np.float64)
    r = np.asarray(real_env[:n], dtype=np.float64)
    if n < 3 or g.std() == 0 or r.std() == 0:
        return LagResult(float("nan"), 0.0)
    g = (g - g.mean()) / g.std()
    r = (r - r.mean()) / r.std()
    size = 1 << int(np.ceil(np.log2(2 * n)))
    # xc[k] = sum_t g[t + k] r[t]: large at k > 0 when g is r delayed by k frames
    xc = np.fft.irfft(np.fft.rfft(g, size) * np.conj(np.fft.rfft(r, size)), size)
    max_lag = min(n - 1, int(round(max_lag_ms * 1e-3 * frame_rate_hz)))
    lags = np.arange(-max_lag, max_lag + 1)
    vals = xc[lags % size] / n
    k = int(np.argmax(vals))
    shift = 0.0
    if 0 < k < len(vals) - 1:
        a, b, c = vals[k - 1], vals[k], vals[k + 1]
        den = a - 2 * b + c
        if den != 0:
            shift = 0.5 * (a - c) / den
    lag_frames = lags[k] + shift
    return LagResult(float(lag_frames / frame_rate_hz * 1e3), float(vals[k]))


def onset_lag_ms(generated: np.ndarray, real: np.ndarray, sample_rate_hz: int,
                 max_lag_ms: float = 500.0) -> LagResult:
    """Onset-envelope cross-correlation lag of generated vs real audio (5 ms envelope hop).

    Thread-safety: pure function. Real-time safe: no.
    """
    hop = int(round(sample_rate_hz * 0.005))
    g = onset_envelope(generated, sample_rate_hz, hop_samples=hop)
    r = onset_envelope(real, sample_rate_hz, hop_samples=hop)
    return envelope_lag(g, r, sample_rate_hz / hop, max_lag_ms)
