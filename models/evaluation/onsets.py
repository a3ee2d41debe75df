"""Onsets: a spectral-flux onset envelope, peak picking, and the onset F-measure.

What it is: pure numpy DSP.
- `onset_envelope`: log-magnitude spectral flux (the half-wave rectified frame-to-frame rise,
  summed over bins) of the mono mix, one value per `hop_samples` (5 ms at 48 kHz by default).
- `detect_onsets`: librosa-style peak picking on that envelope (local maximum, above a moving
  mean plus a relative delta, at least `wait_s` apart), with an absolute floor so that silence
  and near-silence have no onsets at all.
- `match_onsets` / `onset_f_measure`: mir_eval's onset evaluation (50 ms tolerance). mir_eval
  finds a maximum bipartite matching between reference and estimated onsets whose distance is
  at most the tolerance. For events on a line with one symmetric tolerance the greedy sweep
  over both sorted lists finds a matching of the same (maximum) size: an exchange argument
  shows that matching the earliest unmatched reference with the earliest estimate inside its
  window never loses a match. The test compares it with an augmenting-path maximum matching.

What it is not: a beat tracker or a learned onset detector.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

log = logging.getLogger(__name__)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(N,) or (N, C) -> (N,) float64 mean over channels."""
    x = np.asarray(audio, dtype=np.float64)
    return x.mean(axis=1) if x.ndim == 2 else x


def stft_magnitude(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| of a 1-D signal, Hann window, frames centred (zero-padded by n_fft // 2).

    Returns:
        (frames, n_fft // 2 + 1) float64; frame t is centred on sample t * hop.
    """
    x = np.asarray(x, dtype=np.float64)
    pad = n_fft // 2
    xp = np.pad(x, (pad, pad))
    n_frames = 1 + max(0, (xp.shape[0] - n_fft) // hop)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = xp[idx] * np.hanning(n_fft + 1)[:-1]  # periodic Hann
    return np.abs(np.fft.rfft(frames, axis=1))


def onset_envelope(audio: np.ndarray, sample_rate_hz: int, *, hop_samples: int | None = None,
                   n_fft: int | None = None) -> np.ndarray:
    """Spectral-flux onset strength of the mono mix.

    Args:
        audio: (N,) or (N, C) float samples.
        sample_rate_hz: their rate.
        hop_samples: envelope hop (default 5 ms).
        n_fft: FFT size (default ~21 ms, a power of two).

    Returns:
        (frames,) float64, value t is the rise into frame t (centred on t * hop_samples);
        value 0 is 0.

    Thread-safety: pure function. Real-time safe: no.
    """
    hop = hop_samples or int(round(sample_rate_hz * 0.005))
    n = n_fft or 1 << int(np.round(np.log2(sample_rate_hz * 0.0213)))
    mag = stft_magnitude(to_mono(audio), n, hop)
    logmag = np.log1p(100.0 * mag)  # compressive, so quiet and loud events both show
    flux = np.maximum(0.0, np.diff(logmag, axis=0)).sum(axis=1)
    return np.concatenate([[0.0], flux])


@dataclasses.dataclass(frozen=True)
class PeakPicking:
    """Onset peak-picking parameters (librosa.onset.onset_detect's defaults, in seconds)."""

    pre_max_s: float = 0.03  # a peak is the maximum of [t - pre_max, t + post_max]
    post_max_s: float = 0.0
    pre_avg_s: float = 0.1  # and exceeds the mean of [t - pre_avg, t + post_avg] ...
    post_avg_s: float = 0.1
    delta: float = 0.07  # ... by delta times the envelope's maximum
    wait_s: float = 0.03  # minimum distance between onsets
    min_flux: float = 2.0  # absolute floor (summed log-flux): silence has no onsets


def detect_onsets(envelope: np.ndarray, frame_rate_hz: float,
                  params: PeakPicking = PeakPicking()) -> np.ndarray:
    """Onset times (s) of an onset envelope sampled at `frame_rate_hz`.

    Thread-safety: pure function. Real-time safe: no.
    """
    env = np.asarray(envelope, dtype=np.float64)
    peak = float(env.max()) if env.size else 0.0
    if peak < params.min_flux:
        return np.zeros(0)

    def frames(s: float) -> int:
        return int(round(s * frame_rate_hz))

    pre_max, post_max = frames(params.pre_max_s), frames(params.post_max_s)
    pre_avg, post_avg = frames(params.pre_avg_s), frames(params.post_avg_s)
    wait = frames(params.wait_s)
    csum = np.concatenate([[0.0], np.cumsum(env)])
    onsets = []
    last = -10**9
    n = env.size
    for t in range(n):
        v = env[t]
        if v < params.min_flux:
            continue
        lo, hi = max(0, t - pre_max), min(n, t + post_max + 1)
        if v < env[lo:hi].max():
            continue
        alo, ahi = max(0, t - pre_avg), min(n, t + post_avg + 1)
        if v < (csum[ahi] - csum[alo]) / (ahi - alo) + params.delta * peak:
            continue
        if t - last <= wait:
            continue
        onsets.append(t)
        last = t
    return np.asarray(onsets, dtype=np.float64) / frame_rate_hz


def audio_onsets(audio: np.ndarray, sample_rate_hz: int,
                 params: PeakPicking = PeakPicking()) -> np.ndarray:
    """Onset times (s) of audio: `onset_envelope` then `detect_onsets`."""
    hop = int(round(sample_rate_hz * 0.005))
    env = onset_envelope(audio, sample_rate_hz, hop_samples=hop)
    return detect_onsets(env, sample_rate_hz / hop, params)


def match_onsets(reference_s: np.ndarray, estimate_s: np.ndarray,
                 tolerance_s: float = 0.05) -> list[tuple[int, int]]:
    """Maximum one-to-one matching of onsets at most `tolerance_s` apart (greedy sweep).

    Args:
        reference_s, estimate_s: onset times in seconds (any order).
        tolerance_s: the window (mir_eval's default is 0.05, inclusive).

    Returns:
        (reference index, estimate index) pairs, indices into the inputs as given.

    Thread-safety: pure function. Real-time safe: no.
    """
    ref = np.asarray(reference_s, dtype=np.float64)
    est = np.asarray(estimate_s, dtype=np.float64)
    ro, eo = np.argsort(ref, kind="stable"), np.argsort(est, kind="stable")
    i = j = 0
    pairs = []
    while i < ro.size and j < eo.size:
        r, e = ref[ro[i]], est[eo[j]]
        if abs(e - r) <= tolerance_s + 1e-12:
            pairs.append((int(ro[i]), int(eo[j])))
            i += 1
            j += 1
        elif e < r:
            j += 1  # too early for this reference, so too early for every later one
        else:
            i += 1  # this reference lies before every remaining estimate's window
    return pairs


@dataclasses.dataclass(frozen=True)
class OnsetScore:
    """Onset precision, recall and F-measure, with the counts they came from."""

    f_measure: float
    precision: float
    recall: float
    matches: int
    n_reference: int
    n_estimate: int

    @staticmethod
    def from_counts(matches: int, n_reference: int, n_estimate: int) -> OnsetScore:
        """mir_eval's convention: an empty reference or estimate scores 0."""
        if n_reference == 0 or n_estimate == 0 or matches == 0:
            return OnsetScore(0.0, 0.0 if n_estimate else 0.0, 0.0, matches, n_reference,
                              n_estimate)
        p, r = matches / n_estimate, matches / n_reference
        return OnsetScore(2 * p * r / (p + r), p, r, matches, n_reference, n_estimate)


def onset_f_measure(reference_s: np.ndarray, estimate_s: np.ndarray,
                    tolerance_s: float = 0.05) -> OnsetScore:
    """Onset F-measure of `estimate_s` against `reference_s` (mir_eval.onset.f_measure)."""
    m = len(match_onsets(reference_s, estimate_s, tolerance_s))
    return OnsetScore.from_counts(m, len(reference_s), len(estimate_s))
