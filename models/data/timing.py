"""The one rule that pairs frames with latent ticks: the newest frame at each tick.

What it is: integer-nanosecond clock arithmetic shared by training and serving. A latent tick
`j` of a model at `latent_rate_hz` starts at `start_ns + j / latent_rate_hz`; the frame it is
conditioned on is the newest frame whose timestamp is at or before that instant. The data
loader pairs frames with latents with it, the evaluation runner and the offline renderers
choose frames with it, and the live scheduler (which takes the newest frame its mailbox holds)
implements the same rule on a live stream. Frame rate and latent rate are independent: 35 fps
Doom, 60 fps games and stalled streams (timestamps with gaps) all go through here.

What it is not: a clock or a scheduler. Nothing here sleeps or reads time.

Rates are converted to exact fractions (`Fraction(rate).limit_denominator(10**6)`), so 30 Hz
ticks and 35 fps frames that coincide (every 0.2 s) compare equal instead of differing by a
rounding nanosecond: ticks and frames are rounded to the nanosecond the same way.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000


def _rate(rate_hz: float, name: str) -> Fraction:
    if not rate_hz > 0:
        raise ConfigError(f"{name}: expected a positive rate in Hz, found {rate_hz!r}")
    return Fraction(rate_hz).limit_denominator(10**6)


def tick_time_ns(tick_index: int, latent_rate_hz: float, start_ns: int = 0) -> int:
    """Return the start time of latent tick `tick_index` in nanoseconds.

    Rounded to the nearest nanosecond exactly like `frame_timestamps_ns`, so a tick and a
    frame at the same rational instant get the same integer and the frame counts as "at" it.

    Thread-safety: pure function. Real-time safe: yes (integer arithmetic only).
    """
    rate = _rate(latent_rate_hz, "latent_rate_hz")
    num, den = rate.numerator, rate.denominator
    return int(start_ns) + (int(tick_index) * NS_PER_S * den + num // 2) // num


def frame_timestamps_ns(n_frames: int, fps: float, start_ns: int = 0) -> np.ndarray:
    """Return the timestamps (int64 ns, rounded) of `n_frames` frames at a constant `fps`.

    Thread-safety: pure function. Real-time safe: no (allocates).
    """
    rate = _rate(fps, "fps")
    k = np.arange(int(n_frames), dtype=np.int64)
    num, den = rate.numerator, rate.denominator
    return int(start_ns) + (k * NS_PER_S * den + num // 2) // num


def frame_index_for_tick(
    frame_timestamps: np.ndarray | list[int],
    tick_index: int,
    *,
    latent_rate_hz: float,
    start_ns: int | None = None,
) -> int:
    """Return the index of the newest frame at or before latent tick `tick_index`.

    Args:
        frame_timestamps: non-decreasing frame timestamps in ns (int64); a stalled stream is
            simply a gap between two of them.
        tick_index: the latent tick (0-based).
        latent_rate_hz: latents per second of the model (30.0 for 48 kHz with hop 1600).
        start_ns: time of tick 0; defaults to the first frame's timestamp.

    Returns:
        The frame index, or -1 when no frame is at or before the tick (nothing to voice yet).

    Raises:
        ConfigError: a non-positive rate.

    Thread-safety: pure function. Real-time safe: no (numpy call).
    """
    ts = np.asarray(frame_timestamps, dtype=np.int64)
    if start_ns is None:
        start_ns = int(ts[0]) if ts.size else 0
    t = tick_time_ns(tick_index, latent_rate_hz, start_ns)
    return int(np.searchsorted(ts, t, side="right")) - 1


def frame_indices_for_ticks(
    frame_timestamps: np.ndarray | list[int],
    n_ticks: int,
    *,
    latent_rate_hz: float,
    start_ns: int | None = None,
    first_tick: int = 0,
) -> np.ndarray:
    """Vectorised `frame_index_for_tick` for ticks `first_tick .. first_tick + n_ticks - 1`.

    Returns:
        int64 array of frame indices (-1 where no frame exists yet).

    Thread-safety: pure function. Real-time safe: no (allocates).
    """
    ts = np.asarray(frame_timestamps, dtype=np.int64)
    if start_ns is None:
        start_ns = int(ts[0]) if ts.size else 0
    rate = _rate(latent_rate_hz, "latent_rate_hz")
    j = np.arange(int(first_tick), int(first_tick) + int(n_ticks), dtype=np.int64)
    num, den = rate.numerator, rate.denominator
    t = int(start_ns) + (j * NS_PER_S * den + num // 2) // num  # same rounding as tick_time_ns
    return np.searchsorted(ts, t, side="right").astype(np.int64) - 1


def ticks_covering(duration_ns: int, latent_rate_hz: float) -> int:
    """Return how many whole latent ticks fit in `duration_ns` (floor).

    Thread-safety: pure function. Real-time safe: yes.
    """
    rate = _rate(latent_rate_hz, "latent_rate_hz")
    return int((int(duration_ns) * rate.numerator) // (NS_PER_S * rate.denominator))
