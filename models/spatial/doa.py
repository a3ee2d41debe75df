"""Direction of arrival from AmbiX FOA by the active intensity vector (pure DSP).

Per STFT bin the active intensity is I(t, f) = Re{conj(W) * [X, Y, Z]} and the energy
E(t, f) = (|W|^2 + |X|^2 + |Y|^2 + |Z|^2) / 2 (SN3D: a plane wave gives ||I|| = E, an ideal
diffuse field gives ||<I>|| = 0). Both are summed over 500 Hz - 8 kHz and over the frames of
a segment (default 100 ms, DCASE's label resolution); the segment's direction is that of the
summed I, its diffuseness psi = 1 - ||sum I|| / sum E. Segments with psi above a limit or
energy below a floor are marked invalid ("no direction").

Also the SwanSphere per-clip metric: one broadband time-domain DoA per clip from
mean(W * X), mean(W * Y), mean(W * Z), and its azimuth/elevation/great-circle errors in
radians (see reference/spatial.md 1.4).

This module estimates directions; the DCASE-style detection metrics are in metrics.py.

Contract of every function here unless its docstring says otherwise: Thread-safety: pure
function. Real-time safe: no (allocates).
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from livefoley.protocol.errors import ConfigError

from .foa import unit_to_direction

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DoaConfig:
    """Intensity-vector DoA analysis settings."""

    sample_rate_hz: int = 48000
    frame_samples: int = 1024  # STFT window (Hann)
    hop_samples: int = 480  # 10 ms: a 100 ms segment is exactly 10 frames
    band_low_hz: float = 500.0
    band_high_hz: float = 8000.0
    segment_s: float = 0.1  # one direction per segment
    diffuseness_max: float = 0.5  # segments more diffuse than this have no direction
    energy_floor_db: float = -60.0  # relative to the loudest segment of the clip

    @property
    def segment_frames(self) -> int:
        """STFT frames per segment (at least 1)."""
        return max(1, int(round(self.segment_s * self.sample_rate_hz / self.hop_samples)))


@dataclasses.dataclass(frozen=True)
class DoaTrack:
    """Per-segment DoA of one clip. All arrays have shape (segments,)."""

    times_s: np.ndarray  # segment centres
    azimuth_rad: np.ndarray
    elevation_rad: np.ndarray
    diffuseness: np.ndarray  # psi in [0, 1]
    energy_db: np.ndarray  # segment band energy, dB relative to the loudest segment
    valid: np.ndarray  # bool: non-diffuse and above the energy floor

    @property
    def unit_vectors(self) -> np.ndarray:
        """(segments, 3) direction vectors (x front, y left, z up)."""
        ce = np.cos(self.elevation_rad)
        return np.stack([ce * np.cos(self.azimuth_rad), ce * np.sin(self.azimuth_rad),
                         np.sin(self.elevation_rad)], -1)


def _stft(x: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """(channels, samples) -> (channels, frames, frame // 2 + 1) complex, Hann window."""
    c, n = x.shape
    pad = frame - hop
    x = np.concatenate([np.zeros((c, pad), x.dtype), x, np.zeros((c, frame), x.dtype)], axis=1)
    frames = 1 + (x.shape[1] - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(frames)[:, None]  # (frames, frame)
    window = np.hanning(frame + 1)[:-1]  # periodic Hann
    return np.fft.rfft(x[:, idx] * window, axis=-1)


def analyse_doa(foa: np.ndarray, config: DoaConfig = DoaConfig()) -> DoaTrack:
    """Per-segment direction of arrival of an AmbiX clip.

    Args:
        foa: (4, samples) AmbiX (W, Y, Z, X), SN3D.
        config: analysis settings.

    Returns:
        DoaTrack with one entry per `config.segment_s` of audio.

    Raises:
        ConfigError: wrong shape, or a band outside (0, Nyquist].

    Thread-safety: pure function. Real-time safe: no.
    """
    foa = np.asarray(foa, dtype=np.float64)
    if foa.ndim != 2 or foa.shape[0] != 4:
        raise ConfigError(f"analyse_doa: expected FOA of shape (4, samples), found {foa.shape}")
    nyquist = config.sample_rate_hz / 2
    if not 0 < config.band_low_hz < config.band_high_hz <= nyquist:
        raise ConfigError(f"analyse_doa: expected 0 < band_low < band_high <= {nyquist} Hz, "
                          f"found {config.band_low_hz}..{config.band_high_hz} Hz")
    spec = _stft(foa, config.frame_samples, config.hop_samples)  # (4, T, F)
    freqs = np.fft.rfftfreq(config.frame_samples, 1.0 / config.sample_rate_hz)
    band = (freqs >= config.band_low_hz) & (freqs <= config.band_high_hz)
    s = spec[:, :, band]
    w = s[0]
    xyz = s[[3, 1, 2]]  # (3, T, Fb) = X, Y, Z
    intensity = np.real(np.conj(w)[None] * xyz).sum(-1)  # (3, T)
    energy = 0.5 * (np.abs(s) ** 2).sum(0).sum(-1)  # (T,)
    # Frames covering audio only (the STFT appends padding frames at the end).
    n_frames = int(math.ceil(foa.shape[1] / config.hop_samples))
    intensity, energy = intensity[:, :n_frames], energy[:n_frames]
    k = config.segment_frames
    n_seg = int(math.ceil(n_frames / k))
    pad = n_seg * k - n_frames
    intensity = np.pad(intensity, ((0, 0), (0, pad))).reshape(3, n_seg, k).sum(-1)
    energy = np.pad(energy, (0, pad)).reshape(n_seg, k).sum(-1)
    norm = np.linalg.norm(intensity, axis=0)
    psi = 1.0 - norm / np.maximum(energy, 1e-30)
    az, el = unit_to_direction(intensity.T)
    energy_db = 10 * np.log10(np.maximum(energy, 1e-30) / max(float(energy.max(initial=0)), 1e-30))
    valid = (psi <= config.diffuseness_max) & (energy_db >= config.energy_floor_db) & (energy > 0)
    seg_s = k * config.hop_samples / config.sample_rate_hz
    times = (np.arange(n_seg) + 0.5) * seg_s
    return DoaTrack(times, az, el, np.clip(psi, 0.0, 1.0), energy_db, valid)


def great_circle_deg(az1_rad, el1_rad, az2_rad, el2_rad) -> np.ndarray:
    """Great-circle angle in degrees between directions (haversine form; broadcasts)."""
    az1, el1, az2, el2 = (np.asarray(a, dtype=np.float64) for a in (az1_rad, el1_rad, az2_rad, el2_rad))
    h = np.sin((el2 - el1) / 2) ** 2 + np.cos(el1) * np.cos(el2) * np.sin((az2 - az1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def wrap_angle_rad(a) -> np.ndarray:
    """Wrap angles to (-pi, pi]."""
    a = np.asarray(a, dtype=np.float64)
    return -((-a + np.pi) % (2 * np.pi) - np.pi)


def broadband_doa(foa: np.ndarray) -> tuple[float, float]:
    """SwanSphere's per-clip DoA: (azimuth_rad, elevation_rad) of mean(W * [X, Y, Z])."""
    foa = np.asarray(foa, dtype=np.float64)
    if foa.ndim != 2 or foa.shape[0] != 4:
        raise ConfigError(f"broadband_doa: expected FOA of shape (4, samples), found {foa.shape}")
    w = foa[0]
    ix, iy, iz = (float(np.mean(w * foa[c])) for c in (3, 1, 2))
    return math.atan2(iy, ix), math.atan2(iz, math.hypot(ix, iy))


@dataclasses.dataclass(frozen=True)
class ClipDoaError:
    """SwanSphere-style per-clip errors, in radians like its eval code."""

    azimuth_rad: float  # wrapped |delta azimuth|
    elevation_rad: float  # |delta elevation|
    angle_rad: float  # great-circle angle


def clip_doa_error(pred_foa: np.ndarray, ref_foa: np.ndarray) -> ClipDoaError:
    """Per-clip broadband DoA error of a generated clip against a reference clip."""
    pa, pe = broadband_doa(pred_foa)
    ra, re_ = broadband_doa(ref_foa)
    return ClipDoaError(abs(float(wrap_angle_rad(pa - ra))), abs(pe - re_),
                        math.radians(float(great_circle_deg(pa, pe, ra, re_))))


__all__ = [
    "DoaConfig",
    "DoaTrack",
    "analyse_doa",
    "great_circle_deg",
    "wrap_angle_rad",
    "broadband_doa",
    "ClipDoaError",
    "clip_doa_error",
]
