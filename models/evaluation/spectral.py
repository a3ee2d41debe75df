"""Spectral distances: multi-resolution STFT distance and log-mel L1.

What it is: numpy implementations of two standard full-reference distances.
- `mr_stft_distance`: the auraloss/Parallel WaveGAN multi-resolution STFT loss used as a
  metric: for each (n_fft, hop) the spectral convergence ||S_r - S_g||_F / ||S_r||_F plus the
  mean absolute difference of log magnitudes, averaged over resolutions and channels. 0 for
  identical signals; it grows with any difference.
- `log_mel_l1`: mean |log10(mel_r + eps) - log10(mel_g + eps)| of 64-band mel power
  spectrograms (2048/512 at 48 kHz).
- `mel_filterbank`: HTK or Slaney mel filters with unit-sum rows (also the aisfx front end).

What it is not: a perceptual metric.
"""

from __future__ import annotations

import logging

import numpy as np

from livefoley.models.evaluation.onsets import stft_magnitude
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

RESOLUTIONS: tuple[tuple[int, int], ...] = ((2048, 512), (1024, 256), (512, 128), (256, 64))
_EPS = 1e-7


def _channels(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def _same_length(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _channels(a), _channels(b)
    if a.shape[1] != b.shape[1]:
        raise ConfigError(f"distance: expected the same channel count, found {a.shape[1]} "
                          f"and {b.shape[1]}")
    n = min(a.shape[0], b.shape[0])
    return a[:n], b[:n]


def mr_stft_distance(generated: np.ndarray, real: np.ndarray,
                     resolutions: tuple[tuple[int, int], ...] = RESOLUTIONS) -> float:
    """Multi-resolution STFT distance (spectral convergence + log-magnitude L1).

    Args:
        generated, real: (N,) or (N, C) float audio; trimmed to the shorter.

    Returns:
        The distance (>= 0; 0 when identical).

    Thread-safety: pure function. Real-time safe: no.
    """
    g, r = _same_length(generated, real)
    total = 0.0
    for n_fft, hop in resolutions:
        for c in range(g.shape[1]):
            sg = stft_magnitude(g[:, c], n_fft, hop)
            sr = stft_magnitude(r[:, c], n_fft, hop)
            sc = np.linalg.norm(sr - sg) / max(np.linalg.norm(sr), _EPS)
            mag = np.mean(np.abs(np.log(sr + 1e-5) - np.log(sg + 1e-5)))
            total += sc + mag
    return float(total / (len(resolutions) * g.shape[1]))


def hz_to_mel(f: np.ndarray, htk: bool = True) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    # Slaney: linear below 1 kHz, log above
    lin = f / (200.0 / 3)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27),
                    lin)


def mel_to_hz(m: np.ndarray, htk: bool = True) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27) * (m - 15.0)),
                    m * (200.0 / 3))


def mel_filterbank(sample_rate_hz: float, n_fft: int, n_mels: int, *, f_min_hz: float = 0.0,
                   f_max_hz: float | None = None, htk: bool = True) -> np.ndarray:
    """Triangular mel filters (librosa.filters.mel construction), each row summing to 1.

    Returns:
        (n_mels, n_fft // 2 + 1) float64.
    """
    f_max_hz = f_max_hz or sample_rate_hz / 2
    fft_f = np.linspace(0, sample_rate_hz / 2, n_fft // 2 + 1)
    pts = mel_to_hz(np.linspace(hz_to_mel(f_min_hz, htk), hz_to_mel(f_max_hz, htk), n_mels + 2),
                    htk)
    fdiff = np.diff(pts)
    ramps = pts[:, None] - fft_f[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0.0, np.minimum(lower, upper))
    sums = w.sum(axis=1, keepdims=True)
    return w / np.where(sums > 0, sums, 1.0)  # unit sum (librosa norm=1, essentia unit_sum)


def log_mel(audio: np.ndarray, sample_rate_hz: int, *, n_fft: int = 2048, hop: int = 512,
            n_mels: int = 64) -> np.ndarray:
    """log10 mel power spectrogram per channel: (C, frames, n_mels)."""
    x = _channels(audio)
    fb = mel_filterbank(sample_rate_hz, n_fft, n_mels)
    out = [np.log10(stft_magnitude(x[:, c], n_fft, hop) ** 2 @ fb.T + 1e-5)
           for c in range(x.shape[1])]
    return np.stack(out)


def log_mel_l1(generated: np.ndarray, real: np.ndarray, sample_rate_hz: int, *,
               n_mels: int = 64) -> float:
    """Mean absolute difference of log10 mel spectrograms (0 when identical).

    Thread-safety: pure function. Real-time safe: no.
    """
    g, r = _same_length(generated, real)
    return float(np.mean(np.abs(log_mel(g, sample_rate_hz, n_mels=n_mels)
                                - log_mel(r, sample_rate_hz, n_mels=n_mels))))
