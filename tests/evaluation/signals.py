"""Hand-built test signals with known onsets."""

import numpy as np

SR = 48000


def click_train(times_s, duration_s, sr=SR, channels=2, seed=0):
    """Short decaying noise bursts (5 ms) at `times_s`, as (N, channels) float32."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sr)
    x = np.zeros(n)
    burst = rng.standard_normal(int(0.005 * sr)) * np.exp(-np.arange(int(0.005 * sr)) / (0.001 * sr))
    for t in times_s:
        i = int(round(t * sr))
        seg = burst[: max(0, min(len(burst), n - i))]
        x[i:i + len(seg)] += 0.5 * seg
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def irregular_times(n, duration_s, seed=1, min_gap_s=0.12):
    """n onset times with irregular gaps (a unique cross-correlation peak)."""
    rng = np.random.default_rng(seed)
    gaps = min_gap_s + rng.random(n) * 0.25
    t = 0.1 + np.cumsum(gaps)
    return t[t < duration_s - 0.2]
