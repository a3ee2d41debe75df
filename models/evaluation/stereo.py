"""Stereo: does the generated audio pan with the game? ILD correlation over time.

What it is: `ild_series` gives the broadband inter-channel level difference
10 log10(E_L / E_R) (dB) per frame (~21 ms hop 10 ms); `ild_correlation` is the Pearson
correlation over time of the generated ILD with the real one, over the frames where the real
audio is audible (within 50 dB of its loudest frame). Identical stereo gives 1.

When either series is constant (mono, silence, or a real clip that never pans) the
correlation is undefined and NaN is returned: the runner reports how many clips had a
defined value rather than averaging an invented number.

What it is not: a localisation metric (no ITD, no direction of arrival).
"""

from __future__ import annotations

import logging

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

_EPS = 1e-10


def _frame_energy(x: np.ndarray, frame: int, hop: int) -> np.ndarray:
    n = 1 + max(0, (x.shape[0] - frame) // hop)
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    return np.sum(x[idx] ** 2, axis=1)


def ild_series(audio: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ILD (dB) and frame energy (L + R) of stereo audio.

    Raises:
        ConfigError: audio that is not (N, 2).
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ConfigError(f"ILD: expected stereo audio of shape (N, 2), found {x.shape}")
    frame = 1 << int(np.round(np.log2(sample_rate_hz * 0.0213)))
    hop = int(round(sample_rate_hz * 0.01))
    el, er = _frame_energy(x[:, 0], frame, hop), _frame_energy(x[:, 1], frame, hop)
    return 10.0 * np.log10((el + _EPS) / (er + _EPS)), el + er


def ild_correlation(generated: np.ndarray, real: np.ndarray, sample_rate_hz: int,
                    floor_db: float = 50.0) -> float:
    """Pearson correlation over time of generated vs real ILD (NaN when undefined).

    Thread-safety: pure function. Real-time safe: no.
    """
    n = min(len(generated), len(real))
    ig, _ = ild_series(np.asarray(generated)[:n], sample_rate_hz)
    ir, energy = ild_series(np.asarray(real)[:n], sample_rate_hz)
    if energy.max() <= 0:
        return float("nan")
    audible = energy > energy.max() * 10 ** (-floor_db / 10)
    g, r = ig[audible], ir[audible]
    if g.size < 3 or g.std() < 1e-9 or r.std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(g, r)[0, 1])
