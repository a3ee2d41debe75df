"""Procedural sound classes for synthetic spatial scenes (numpy, deterministic from an RNG).

Five classes, each a whole-clip mono track with its own event timing:

* door_slam  - 1-2 slams: a low thud (decaying 60-110 Hz sine) plus a band-passed crack.
* footsteps  - a walk: heel-toe noise clicks every 0.4-0.6 s.
* gunshot    - 1-3 shots: a broadband crack with fast decay and a short rumble tail.
* engine_hum - continuous: harmonic series on a 35-60 Hz firing rate with wobble and
               band-passed noise (gives energy in the 0.5-8 kHz DoA band).
* bell       - 1-2 strikes: inharmonic partials (church-bell ratios) with long decays.

Plus `load_mono` for caller-supplied game audio (.wav via soundfile, or .npy). This is not a
dataset of recorded sounds and does not aim for realism beyond distinct timbres and onsets.

Contract of every function here unless its docstring says otherwise: Thread-safety: pure
function. Real-time safe: no (allocates).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

SOUND_CLASSES: tuple[str, ...] = ("door_slam", "footsteps", "gunshot", "engine_hum", "bell")
#: The phrase a caption uses for each class (subject + verb).
CLASS_PHRASES: dict[str, str] = {
    "door_slam": "a door slams",
    "footsteps": "footsteps walk",
    "gunshot": "a gunshot rings out",
    "engine_hum": "an engine hums",
    "bell": "a bell rings",
}


def _bandpass(x: np.ndarray, lo_hz: float, hi_hz: float, sr: int, order: int = 2) -> np.ndarray:
    sos = butter(order, [lo_hz, min(hi_hz, 0.45 * sr)], btype="band", fs=sr, output="sos")
    return sosfilt(sos, x)


def _place(track: np.ndarray, event: np.ndarray, start: int) -> None:
    end = min(track.size, start + event.size)
    if start < end:
        track[start:end] += event[: end - start]


def _door(rng: np.random.Generator, sr: int) -> np.ndarray:
    n = int(0.5 * sr)
    t = np.arange(n) / sr
    thud = np.sin(2 * np.pi * rng.uniform(60, 110) * t) * np.exp(-t / 0.08)
    crack = _bandpass(rng.standard_normal(n), 800, 5000, sr) * np.exp(-t / 0.03)
    return 0.8 * thud + 1.2 * crack


def _step(rng: np.random.Generator, sr: int) -> np.ndarray:
    n = int(0.12 * sr)
    t = np.arange(n) / sr
    heel = _bandpass(rng.standard_normal(n), 300, 4000, sr) * np.exp(-t / 0.015)
    toe = np.zeros(n)
    off = int(rng.uniform(0.03, 0.05) * sr)
    toe[off:] = 0.5 * _bandpass(rng.standard_normal(n - off), 1000, 7000, sr) * np.exp(-t[: n - off] / 0.01)
    return heel + toe


def _gunshot(rng: np.random.Generator, sr: int) -> np.ndarray:
    n = int(0.6 * sr)
    t = np.arange(n) / sr
    crack = rng.standard_normal(n) * np.exp(-t / 0.012)
    rumble = _bandpass(rng.standard_normal(n), 80, 1500, sr) * np.exp(-t / 0.15)
    return 1.5 * crack + 0.6 * rumble


def _bell(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = rng.uniform(500, 900)
    out = np.zeros(n)
    for ratio, amp, decay in ((0.5, 0.6, 1.6), (1.0, 1.0, 1.2), (1.183, 0.5, 0.9), (1.506, 0.6, 0.7),
                              (2.0, 0.4, 0.5), (2.514, 0.3, 0.35), (3.011, 0.2, 0.25)):
        f = f0 * ratio
        if f < 0.45 * sr:
            out += amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / decay)
    out[: int(0.002 * sr)] *= np.linspace(0, 1, int(0.002 * sr))
    return 0.5 * out


def _engine(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = rng.uniform(35, 60) * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    hum = sum(np.sin(k * phase) / k for k in range(1, 25))
    noise = _bandpass(rng.standard_normal(n), 500, 6000, sr) * (0.6 + 0.4 * np.sin(phase) ** 2)
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    return (0.3 * hum + 0.8 * noise) * fade


def synthesize(label: str, duration_s: float, rng: np.random.Generator, *,
               sample_rate_hz: int = 48000) -> np.ndarray:
    """One whole-clip mono track of a sound class, with its own onsets, peak-normalised to 0.5.

    Args:
        label: one of SOUND_CLASSES.
        duration_s: clip length.
        rng: the source of all randomness (timing, pitch, noise).
        sample_rate_hz: output rate.

    Returns:
        (round(duration_s * sample_rate_hz),) float32.

    Raises:
        ConfigError: unknown label.
    """
    sr = sample_rate_hz
    n = int(round(duration_s * sr))
    track = np.zeros(n)
    if label == "door_slam":
        for _ in range(int(rng.integers(1, 3))):
            _place(track, _door(rng, sr), int(rng.uniform(0.05, 0.8) * n))
    elif label == "footsteps":
        pos = rng.uniform(0.0, 0.3) * sr
        period = rng.uniform(0.4, 0.6) * sr
        while pos < n:
            _place(track, _step(rng, sr) * rng.uniform(0.7, 1.0), int(pos))
            pos += period * rng.uniform(0.95, 1.05)
    elif label == "gunshot":
        for _ in range(int(rng.integers(1, 4))):
            _place(track, _gunshot(rng, sr), int(rng.uniform(0.05, 0.85) * n))
    elif label == "engine_hum":
        track = _engine(rng, sr, n)
    elif label == "bell":
        for _ in range(int(rng.integers(1, 3))):
            start = int(rng.uniform(0.0, 0.6) * n)
            _place(track, _bell(rng, sr, n - start), start)
    else:
        raise ConfigError(f"synthesize: expected a label in {SOUND_CLASSES}, found {label!r}")
    peak = float(np.abs(track).max(initial=0.0))
    return (0.5 * track / peak if peak > 0 else track).astype(np.float32)


def load_mono(path: str | Path, *, sample_rate_hz: int = 48000, source_rate_hz: int | None = None) -> np.ndarray:
    """Load caller-supplied game audio as mono float32 at `sample_rate_hz`.

    Args:
        path: a .wav/.flac/.ogg file (read with soundfile; its own rate is used) or a .npy
            array of shape (samples,) or (channels, samples) at `source_rate_hz`.
        sample_rate_hz: the rate to resample to (polyphase).
        source_rate_hz: the .npy file's rate (required for .npy).

    Raises:
        ConfigError: unsupported suffix, or .npy without `source_rate_hz`.
    """
    p = Path(path)
    if p.suffix.lower() == ".npy":
        if source_rate_hz is None:
            raise ConfigError(f"load_mono {p}: expected source_rate_hz for a .npy file, found None")
        x = np.load(p, allow_pickle=False).astype(np.float64)
        x = x if x.ndim == 1 else x.mean(axis=0)
        rate = source_rate_hz
    elif p.suffix.lower() in (".wav", ".flac", ".ogg"):
        import soundfile

        x, rate = soundfile.read(str(p), dtype="float64", always_2d=True)
        x = x.mean(axis=1)
    else:
        raise ConfigError(f"load_mono {p}: expected .wav, .flac, .ogg or .npy, found {p.suffix!r}")
    if rate != sample_rate_hz:
        g = math.gcd(int(rate), int(sample_rate_hz))
        x = resample_poly(x, sample_rate_hz // g, int(rate) // g)
    return x.astype(np.float32)


__all__ = ["SOUND_CLASSES", "CLASS_PHRASES", "synthesize", "load_mono"]
