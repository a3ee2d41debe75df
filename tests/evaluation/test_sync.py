"""Onset-envelope cross-correlation lag: a 40 ms shift reads as 40 ms."""

import numpy as np
import pytest

from livefoley.models.evaluation.sync import envelope_lag, onset_lag_ms

from .signals import SR, click_train, irregular_times


@pytest.mark.parametrize("shift_ms", [40.0, -40.0, 37.0, 0.0, 120.0])
def test_impulse_train_shift_gives_that_lag(shift_ms):
    times = irregular_times(15, 5.0)
    real = click_train(times, 5.0)
    late = click_train(times + shift_ms / 1000, 5.0)
    r = onset_lag_ms(late, real, SR)
    assert abs(r.lag_ms - shift_ms) <= 2.5, r  # half an envelope hop
    assert r.peak_correlation > 0.5


def test_silence_has_no_lag():
    real = click_train(irregular_times(10, 3.0), 3.0)
    r = onset_lag_ms(np.zeros_like(real), real, SR)
    assert np.isnan(r.lag_ms) and r.peak_correlation == 0.0


def test_envelope_lag_sign_convention():
    env = np.zeros(400)
    env[[50, 130, 170, 260, 330]] = 1.0
    late = np.roll(env, 8)
    assert envelope_lag(late, env, 200.0).lag_ms == pytest.approx(40.0, abs=0.5)
    assert envelope_lag(env, late, 200.0).lag_ms == pytest.approx(-40.0, abs=0.5)
