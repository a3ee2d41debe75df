"""44.1 kHz -> 48 kHz resampling keeps frequencies and lengths right."""

import numpy as np
import pytest

from livefoley.models.data.resample import resample_audio, resample_ratio
from livefoley.protocol.errors import ConfigError


def test_ratio_for_doom_to_model_rate():
    assert resample_ratio(44100, 48000) == (160, 147)


@pytest.mark.parametrize("freq_hz", [440.0, 1000.0, 5000.0])
def test_sine_keeps_its_frequency(freq_hz):
    n = 44100
    t = np.arange(n) / 44100
    x = (0.5 * np.sin(2 * np.pi * freq_hz * t) * 32767).astype(np.int16)
    stereo = np.stack([x, x], axis=1)
    y = resample_audio(stereo, 44100, 48000)
    assert y.dtype == np.float32
    assert y.shape == (48000, 2)
    spec = np.abs(np.fft.rfft(y[:, 0] * np.hanning(48000)))
    peak_hz = np.argmax(spec) * 48000 / 48000
    assert abs(peak_hz - freq_hz) <= 1.0
    # amplitude kept (int16 scaled to [-1, 1)): away from the edges the peak is ~0.5
    assert abs(np.abs(y[1000:-1000, 0]).max() - 0.5) < 0.01


def test_length_is_ceil_of_ratio():
    y = resample_audio(np.zeros((1260 * 70, 2), np.int16), 44100, 48000)
    assert y.shape[0] == -(-1260 * 70 * 160 // 147)


def test_bad_rate_names_it():
    with pytest.raises(ConfigError, match=r"positive rates.*0 -> 48000"):
        resample_audio(np.zeros(10), 0, 48000)
