"""The newest-frame-at-each-tick rule, at 35 fps, 60 fps and on a stalled stream."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livefoley.models.data.timing import (
    frame_index_for_tick,
    frame_indices_for_ticks,
    frame_timestamps_ns,
    tick_time_ns,
    ticks_covering,
)
from livefoley.protocol.errors import ConfigError


def test_doom_35fps_at_30hz_takes_floor_of_35_over_30():
    ts = frame_timestamps_ns(400, 35)
    got = frame_indices_for_ticks(ts, 300, latent_rate_hz=30.0)
    want = (np.arange(300) * 35) // 30  # tick j at j/30 s; frame k at k/35 s
    np.testing.assert_array_equal(got, want)
    # frames 6, 13, 20, ... are never voiced: 35 fps is faster than 30 Hz
    assert 6 not in got and 13 not in got


def test_coincident_tick_and_frame_take_that_frame():
    ts = frame_timestamps_ns(10, 35)
    assert tick_time_ns(6, 30.0) == ts[7] == 200_000_000
    assert frame_index_for_tick(ts, 6, latent_rate_hz=30.0) == 7


def test_60fps_at_30hz_takes_every_second_frame():
    ts = frame_timestamps_ns(200, 60)
    np.testing.assert_array_equal(frame_indices_for_ticks(ts, 90, latent_rate_hz=30.0),
                                  np.arange(90) * 2)


def test_stalled_stream_repeats_the_last_frame():
    # 10 frames at 30 fps, a 1 s stall, then 10 more frames from t = 40/30 s
    resume_ns = tick_time_ns(40, 30.0)
    ts = np.concatenate([frame_timestamps_ns(10, 30), frame_timestamps_ns(10, 30, resume_ns)])
    got = frame_indices_for_ticks(ts, 60, latent_rate_hz=30.0)
    np.testing.assert_array_equal(got[:10], np.arange(10))
    assert np.all(got[10:40] == 9)  # the stall: the newest frame stays frame 9
    np.testing.assert_array_equal(got[40:50], np.arange(10, 20))
    assert np.all(got[50:] == 19)  # the stream stalls again after its last frame


def test_late_frame_by_one_ns_is_taken_at_the_next_tick():
    # a frame that arrives 1 ns after its tick is not "at" that tick: the tick keeps the old one
    ts = np.array([0, tick_time_ns(1, 30.0) + 1, tick_time_ns(2, 30.0)], np.int64)
    np.testing.assert_array_equal(frame_indices_for_ticks(ts, 3, latent_rate_hz=30.0),
                                  [0, 0, 2])


def test_tick_before_first_frame_is_minus_one():
    ts = frame_timestamps_ns(5, 30, start_ns=100_000_000)
    assert frame_index_for_tick(ts, 0, latent_rate_hz=30.0, start_ns=0) == -1
    assert frame_index_for_tick(ts, 3, latent_rate_hz=30.0, start_ns=0) == 0


@settings(max_examples=50, deadline=None)
@given(fps=st.sampled_from([24, 25, 29.97, 30, 35, 50, 60, 144]),
       rate=st.sampled_from([21.5, 25.0, 30.0, 48000 / 1600]),
       n=st.integers(1, 200))
def test_scalar_equals_vector_and_never_looks_ahead(fps, rate, n):
    ts = frame_timestamps_ns(n, fps)
    vec = frame_indices_for_ticks(ts, 50, latent_rate_hz=rate)
    for j in (0, 1, 7, 49):
        assert frame_index_for_tick(ts, j, latent_rate_hz=rate) == vec[j]
        # causal: the chosen frame is not later than the tick, the next one is
        t = tick_time_ns(j, rate, int(ts[0]))
        assert ts[vec[j]] <= t
        if vec[j] + 1 < n:
            assert ts[vec[j] + 1] > t


def test_ticks_covering_counts_whole_ticks():
    assert ticks_covering(1_000_000_000, 30.0) == 30
    assert ticks_covering(999_999_999, 30.0) == 29


def test_bad_rate_names_the_value():
    with pytest.raises(ConfigError, match=r"latent_rate_hz.*positive.*-30"):
        tick_time_ns(1, -30.0)
    with pytest.raises(ConfigError, match=r"fps.*positive.*0"):
        frame_timestamps_ns(3, 0)
