"""Losses on inputs whose right answers are known."""

import math

import numpy as np
import pytest
import torch

from livefoley.models.training.losses import (
    RESOLUTIONS_5,
    MultiResolutionSTFTLoss,
    ect_loss,
    ect_r,
    edm2_loss,
    kl_divergence,
    onset_envelope,
    onset_envelope_loss,
    onset_profile_loss,
    sample_log_normal_sigma,
)
from livefoley.protocol.errors import ConfigError


def test_mrstft_zero_for_equal_and_grows_with_error():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 4800, generator=g)
    loss = MultiResolutionSTFTLoss(RESOLUTIONS_5)
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    small = loss(x + 0.01 * torch.randn(x.shape, generator=g), x).item()
    large = loss(x + 0.3 * torch.randn(x.shape, generator=g), x).item()
    assert 0 < small < large


def test_mrstft_finite_on_silent_target():
    x = torch.zeros(2, 2, 4800)
    y = 0.01 * torch.randn(2, 2, 4800)
    assert math.isfinite(MultiResolutionSTFTLoss()(y, x).item())


def test_mrstft_shape_mismatch_names_both_shapes():
    with pytest.raises(ConfigError, match=r"\(1, 2, 100\).*\(1, 2, 200\)"):
        MultiResolutionSTFTLoss()(torch.zeros(1, 2, 100), torch.zeros(1, 2, 200))


def test_kl_zero_for_standard_normal_posterior():
    assert kl_divergence(torch.zeros(3, 4), torch.ones(3, 4)).item() == pytest.approx(0.0)
    assert kl_divergence(torch.ones(3, 4), torch.ones(3, 4)).item() == pytest.approx(0.5)


def test_edm2_loss_minimised_at_log_of_weighted_mse():
    # d/du [e^-u a + u] = 0 at u = ln a, where a = lambda(sigma) * mse.
    sigma = torch.tensor([0.5])
    clean, den = torch.zeros(1, 4), torch.full((1, 4), 0.1)
    a = ((0.25 + 0.25) / (0.25 * 0.25)) * 0.01
    best = edm2_loss(den, clean, sigma, torch.tensor([[math.log(a)]]), 0.5).item()
    for u in (math.log(a) - 0.5, math.log(a) + 0.5):
        assert edm2_loss(den, clean, sigma, torch.tensor([[u]]), 0.5).item() > best
    assert best == pytest.approx(1.0 + math.log(a), rel=1e-5)


def test_ect_r_shrinks_gap_with_stage_and_stays_non_negative():
    t = torch.tensor([0.01, 0.5, 2.0, 80.0])
    gaps = [(t - ect_r(t, s)) for s in range(6)]
    for a, b in zip(gaps, gaps[1:]):
        assert torch.all(b <= a + 1e-7)
    assert torch.all(ect_r(t, 0) >= 0)
    assert ect_r(torch.tensor([80.0]), 0).item() == pytest.approx(40.0, rel=1e-4)  # q = 2
    with pytest.raises(ConfigError, match="stage >= 0, found -1"):
        ect_r(t, -1)


def test_ect_loss_zero_for_exact_consistency_function():
    # f(x, s) = x - s n is consistent along x_s = x0 + s n: every level maps to x0.
    x0 = torch.randn(5, 3)
    n = torch.randn(5, 3)
    t, r = torch.full((5,), 2.0), torch.full((5,), 1.0)
    f = lambda x, s, grad: x - s[:, None] * n  # noqa: E731
    assert ect_loss(f, x0, t, r, n).item() == pytest.approx(0.0, abs=1e-5)
    g = lambda x, s, grad: x  # noqa: E731  (identity: inconsistent; loss = ||n|| (t-r)/(t-r))
    assert ect_loss(g, x0, t, r, n).item() == pytest.approx(n.norm(dim=1).mean().item(), rel=1e-4)


def test_log_normal_sigma_clamped():
    s = sample_log_normal_sigma(1000, p_mean=0.0, p_std=5.0, sigma_min=0.002, sigma_max=80.0,
                                generator=torch.Generator().manual_seed(0))
    assert s.min().item() >= 0.002 and s.max().item() <= 80.0


def test_cardioid_loss_sees_the_direction_that_channel_magnitudes_miss():
    from livefoley.models.training.losses import MultiResolutionSTFTLoss, cardioid_signals
    from livefoley.protocol.errors import ConfigError

    g = torch.Generator().manual_seed(0)
    s = torch.randn(1, 1, 4800, generator=g)
    front = torch.cat([s, 0 * s, 0 * s, s], dim=1)  # AmbiX W, Y, Z, X: a source in front
    back = torch.cat([s, 0 * s, 0 * s, -s], dim=1)  # the same source behind
    c = cardioid_signals(front)
    assert torch.allclose(c[:, 0], s[:, 0]) and c[:, 1].abs().max() == 0  # front = s, back = 0
    loss = MultiResolutionSTFTLoss()
    assert loss(back, front).item() < 1e-6  # per-channel magnitudes: front == back
    assert loss(cardioid_signals(back), cardioid_signals(front)).item() > 1.0
    with pytest.raises(ConfigError, match=r"expected \(B, 4, L\) AmbiX, found \(1, 2, 10\)"):
        cardioid_signals(torch.zeros(1, 2, 10))


def test_mid_side_loss_sees_the_stereo_image_that_channel_magnitudes_miss():
    from livefoley.models.training.losses import MultiResolutionSTFTLoss, mid_side_signals
    from livefoley.protocol.errors import ConfigError

    g = torch.Generator().manual_seed(0)
    s = torch.randn(1, 1, 4800, generator=g)
    mono = torch.cat([s, s], dim=1)  # a centred source: no stereo image
    flipped = torch.cat([s, -s], dim=1)  # the same magnitudes, all of it in the side signal
    ms = mid_side_signals(mono)
    assert torch.allclose(ms[:, 0], s[:, 0]) and ms[:, 1].abs().max() == 0
    assert torch.allclose(mid_side_signals(flipped)[:, 1], s[:, 0])
    loss = MultiResolutionSTFTLoss()
    assert loss(flipped, mono).item() < 1e-6  # per-channel magnitudes: mono == flipped
    assert loss(mid_side_signals(flipped), mid_side_signals(mono)).item() > 1.0
    with pytest.raises(ConfigError, match=r"expected \(B, 2, L\) stereo, found \(1, 4, 10\)"):
        mid_side_signals(torch.zeros(1, 4, 10))


def test_doa_round_trip_errors_find_a_mirrored_reconstruction():
    from livefoley.models.spatial.foa import encode_mono
    from livefoley.models.training.vae_stage import doa_round_trip_errors

    s = np.random.default_rng(0).standard_normal(48000).astype(np.float32)
    left = encode_mono(s, np.radians(60.0), 0.0).T  # (N, 4) AmbiX, a source front-left
    mirrored = left * np.array([1, -1, 1, 1], np.float32)  # Y flipped: front-right
    same = doa_round_trip_errors(left, left, 48000)
    assert same.size == 10 and same.max() < 1.0
    err = doa_round_trip_errors(mirrored, left, 48000)
    assert np.allclose(err, 120.0, atol=2.0)  # +60 deg against -60 deg azimuth


def _clicks(times_s, seconds=1.0, sr=48000, channels=2):
    x = np.zeros((channels, int(seconds * sr)), np.float32)
    for t in times_s:
        i = int(t * sr)
        x[:, i:i + 96] = np.hanning(96)  # a 2 ms click
    return torch.from_numpy(x)[None]


def test_onset_envelope_is_the_evaluations_feature():
    from livefoley.models.evaluation.onsets import onset_envelope as eval_envelope

    g = torch.Generator().manual_seed(0)
    x = 0.3 * torch.randn(1, 2, 24000, generator=g) * (torch.rand(1, 1, 24000, generator=g) > 0.7)
    got = onset_envelope(x, 48000)[0].double().numpy()
    want = eval_envelope(x[0].T.numpy(), 48000)[1:]  # the eval's value 0 is a fixed 0
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3 * want.max())


def test_onset_envelope_loss_charges_a_missing_and_a_moved_click():
    real = _clicks([0.2, 0.5, 0.8])
    assert onset_envelope_loss(real, real, 48000).item() == 0.0
    missing = onset_envelope_loss(_clicks([0.2, 0.5]), real, 48000).item()
    moved = onset_envelope_loss(_clicks([0.2, 0.5, 0.9]), real, 48000).item()
    silent = onset_envelope_loss(torch.zeros_like(real), real, 48000).item()
    assert silent == pytest.approx(1.0)  # normalised by the real envelope's mean
    assert 0.2 < missing < silent and missing < moved  # a moved click is missed and spurious
    # MR-STFT over the whole second barely tells a moved click from the real one.
    mr = MultiResolutionSTFTLoss(RESOLUTIONS_5)
    assert mr(_clicks([0.2, 0.5, 0.9]), real).item() < 2 * moved


def test_onset_profile_loss_ignores_where_the_clicks_are_and_charges_smear():
    real = _clicks([0.2, 0.5, 0.8])
    moved = _clicks([0.25, 0.45, 0.9])
    assert onset_profile_loss(moved, real, 48000).item() == pytest.approx(0.0, abs=1e-5)
    assert onset_envelope_loss(moved, real, 48000).item() > 0.5  # the aligned term charges it
    missing = onset_profile_loss(_clicks([0.2, 0.5]), real, 48000).item()
    silent = onset_profile_loss(torch.zeros_like(real), real, 48000).item()
    assert silent == pytest.approx(1.0)  # normalised by the real envelope's mean
    assert 0.2 < missing < silent
    # the same energy spread out instead of struck: a smear the aligned L1 prefers under doubt
    t = torch.arange(48000) / 48000
    smear = 0.02 * torch.sin(2 * math.pi * 300 * t).expand(1, 2, -1).contiguous()
    assert onset_profile_loss(smear, real, 48000).item() > 0.5
    with pytest.raises(ConfigError, match=r"onset-profile loss: expected equal shapes, found "
                                          r"\(1, 2, 4800\) and \(1, 2, 9600\)"):
        onset_profile_loss(torch.zeros(1, 2, 4800), torch.zeros(1, 2, 9600), 48000)


def test_onset_envelope_loss_shape_mismatch_names_both_shapes():
    with pytest.raises(ConfigError, match=r"expected equal shapes, found \(1, 2, 4800\) and "
                                          r"\(1, 2, 9600\)"):
        onset_envelope_loss(torch.zeros(1, 2, 4800), torch.zeros(1, 2, 9600), 48000)
