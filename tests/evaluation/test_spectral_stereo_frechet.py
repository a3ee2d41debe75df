"""MR-STFT, log-mel, ILD correlation and Fréchet distance on signals with known answers."""

import numpy as np
import pytest

from livefoley.models.evaluation.frechet import frechet_distance
from livefoley.models.evaluation.spectral import log_mel_l1, mel_filterbank, mr_stft_distance
from livefoley.models.evaluation.stereo import ild_correlation
from livefoley.protocol.errors import ConfigError

from .signals import SR, click_train, irregular_times


@pytest.fixture(scope="module")
def real():
    rng = np.random.default_rng(0)
    x = click_train(irregular_times(10, 2.0), 2.0)
    return x + 0.01 * rng.standard_normal(x.shape).astype(np.float32)


def test_mr_stft_zero_for_identical_and_grows_with_noise(real):
    assert mr_stft_distance(real, real) == 0.0
    rng = np.random.default_rng(1)
    d = [mr_stft_distance(real + a * rng.standard_normal(real.shape), real)
         for a in (0.001, 0.01, 0.1)]
    assert 0 < d[0] < d[1] < d[2]
    assert mr_stft_distance(np.zeros_like(real), real) > d[1]


def test_log_mel_zero_for_identical_and_grows_with_noise(real):
    assert log_mel_l1(real, real, SR) == 0.0
    rng = np.random.default_rng(2)
    d = [log_mel_l1(real + a * rng.standard_normal(real.shape), real, SR) for a in (0.001, 0.1)]
    assert 0 < d[0] < d[1]


def test_channel_mismatch_is_refused(real):
    with pytest.raises(ConfigError, match=r"same channel count, found 1 and 2"):
        mr_stft_distance(real[:, 0], real)


def test_mel_filters_sum_to_one():
    fb = mel_filterbank(44100, 2048, 96, htk=True)
    assert fb.shape == (96, 1025)
    np.testing.assert_allclose(fb.sum(axis=1), 1.0)


def _panned(seed=0, seconds=3.0):
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    src = rng.standard_normal(n)
    pan = 0.5 + 0.45 * np.sin(2 * np.pi * 0.7 * np.arange(n) / SR)  # moves left-right
    return np.stack([src * np.sqrt(1 - pan), src * np.sqrt(pan)], axis=1)


def test_ild_correlation_one_for_identical_stereo():
    x = _panned()
    assert ild_correlation(x, x, SR) == pytest.approx(1.0)


def test_ild_correlation_minus_one_for_swapped_channels():
    x = _panned()
    assert ild_correlation(x[:, ::-1], x, SR) == pytest.approx(-1.0)


def test_ild_correlation_undefined_for_silence_or_mono():
    x = _panned()
    assert np.isnan(ild_correlation(np.zeros_like(x), x, SR))
    mono = np.repeat(x[:, :1], 2, axis=1)
    assert np.isnan(ild_correlation(x, mono, SR))


def test_ild_needs_stereo():
    with pytest.raises(ConfigError, match=r"expected stereo audio of shape \(N, 2\), found \(10,\)"):
        ild_correlation(np.zeros(10), np.zeros(10), SR)


def test_frechet_identical_is_zero_and_grows_with_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 16))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shifts = [frechet_distance(a, a + s) for s in (0.1, 0.5, 1.0)]
    # a pure mean shift s in 16 dims adds exactly 16 s^2
    np.testing.assert_allclose(shifts, [16 * 0.01, 16 * 0.25, 16.0], rtol=1e-6)


def test_frechet_of_two_gaussians_matches_closed_form():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((20000, 3))
    b = rng.standard_normal((20000, 3)) * 2.0  # cov 4 I: FD = 3 * (1 + 4 - 2 * 2) = 3
    assert frechet_distance(a, b) == pytest.approx(3.0, rel=0.05)


def test_frechet_refuses_bad_sets():
    with pytest.raises(ConfigError, match=r"one D, found \(5, 3\) and \(5, 4\)"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ConfigError, match=r"at least 2 embeddings per set, found 1 and 5"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


def _fd_reference(a, b):
    from scipy import linalg

    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = np.real(linalg.sqrtm(sa @ sb))
    d = a.mean(0) - b.mean(0)
    return d @ d + np.trace(sa + sb - 2 * covmean)


@pytest.mark.parametrize("n, m, dim", [(30, 40, 64), (200, 150, 8)])
def test_frechet_matches_sqrtm_formula_for_few_and_many_embeddings(n, m, dim):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((n, dim))
    b = rng.standard_normal((m, dim)) * 1.5 + 0.3
    assert frechet_distance(a, b) == pytest.approx(_fd_reference(a, b), rel=1e-4)
