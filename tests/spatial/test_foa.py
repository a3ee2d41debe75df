"""AmbiX encoding: ACN order and SN3D gains against hand-computed values; FuMa conversion; downmix."""

import math

import numpy as np
import pytest

from livefoley.models.spatial import foa
from livefoley.protocol.errors import ConfigError

RNG = np.random.default_rng(0)
S = RNG.standard_normal(64).astype(np.float32)


def test_channel_order_is_acn_wyzx():
    assert foa.ACN_CHANNELS == ("W", "Y", "Z", "X")
    assert foa.FUMA_CHANNELS == ("W", "X", "Y", "Z")


@pytest.mark.parametrize(
    "az_deg, el_deg, expected_wyzx",
    [
        (0, 0, (1, 0, 0, 1)),  # front: X = s
        (90, 0, (1, 1, 0, 0)),  # left: Y = s, X = 0
        (-90, 0, (1, -1, 0, 0)),  # right: Y = -s
        (180, 0, (1, 0, 0, -1)),  # behind: X = -s
        (0, 90, (1, 0, 1, 0)),  # up: Z = s
        (0, -90, (1, 0, -1, 0)),  # down
        (45, 0, (1, math.sqrt(0.5), 0, math.sqrt(0.5))),
        (90, 30, (1, math.cos(math.radians(30)), 0.5, 0)),  # SN3D: no sqrt(3) on dipoles
    ],
)
def test_sn3d_gains_hand_computed(az_deg, el_deg, expected_wyzx):
    out = foa.encode_mono(S, math.radians(az_deg), math.radians(el_deg))
    assert out.shape == (4, S.size) and out.dtype == np.float32
    for ch, g in enumerate(expected_wyzx):
        np.testing.assert_allclose(out[ch], g * S, atol=1e-6)


def test_moving_source_per_sample_direction():
    az = np.linspace(0, math.pi, S.size)
    out = foa.encode_mono(S, az, 0.0)
    np.testing.assert_allclose(out[1], S * np.sin(az), atol=1e-6)
    np.testing.assert_allclose(out[3], S * np.cos(az), atol=1e-6)


def test_encode_rejects_wrong_direction_length():
    with pytest.raises(ConfigError, match=r"\(64,\).*\(3,\)"):
        foa.encode_mono(S, np.zeros(3), 0.0)


def test_fuma_round_trip_and_w_gain():
    amb = foa.encode_mono(S, 0.7, -0.3)
    fu = foa.ambix_to_fuma(amb)
    np.testing.assert_allclose(fu[0], amb[0] / math.sqrt(2), rtol=1e-6)  # W at -3 dB
    np.testing.assert_allclose(fu[1], amb[3])  # FuMa X
    np.testing.assert_allclose(fu[2], amb[1])  # FuMa Y
    np.testing.assert_allclose(fu[3], amb[2])  # FuMa Z
    np.testing.assert_allclose(foa.fuma_to_ambix(fu), amb, rtol=1e-6, atol=1e-7)


def test_fuma_bad_shape_names_expected_and_found():
    with pytest.raises(ConfigError, match=r"\(4, samples\).*\(2, 10\)"):
        foa.fuma_to_ambix(np.zeros((2, 10)))


def test_stereo_downmix_cardioids_at_90():
    left_src = foa.encode_mono(S, math.radians(90), 0.0)
    lr = foa.stereo_downmix(left_src)
    np.testing.assert_allclose(lr[0], S, atol=1e-6)
    np.testing.assert_allclose(lr[1], 0 * S, atol=1e-6)
    front = foa.stereo_downmix(foa.encode_mono(S, 0.0, 0.0))
    np.testing.assert_allclose(front[0], 0.5 * S, atol=1e-6)
    np.testing.assert_allclose(front[1], 0.5 * S, atol=1e-6)


def test_virtual_microphone_on_axis_unity_and_rejects_bad_pattern():
    src = foa.encode_mono(S, 1.0, 0.4)
    for p in (0.0, 0.25, 0.5, 1.0):
        np.testing.assert_allclose(foa.virtual_microphone(src, 1.0, 0.4, pattern=p), S, atol=1e-5)
    with pytest.raises(ConfigError, match=r"\[0, 1\].*1.5"):
        foa.virtual_microphone(src, 0.0, pattern=1.5)


def test_unit_direction_round_trip():
    az = np.radians([0, 90, -90, 179, -179, 30])
    el = np.radians([0, 10, -80, 45, 0, 89])
    a2, e2 = foa.unit_to_direction(foa.direction_to_unit(az, el))
    np.testing.assert_allclose(e2, el, atol=1e-12)
    np.testing.assert_allclose(np.angle(np.exp(1j * (a2 - az))), 0, atol=1e-9)


def test_encoder_matches_real_sh_from_scipy_in_acn_sn3d():
    """Independent derivation: real SH (no Condon-Shortley phase) from scipy's complex SH,
    ACN index n(n+1)+m, SN3D = orthonormal * sqrt(4 pi / (2n + 1))."""
    from scipy.special import sph_harm_y

    rng = np.random.default_rng(4)
    az = rng.uniform(-math.pi, math.pi, 50)
    el = rng.uniform(-math.pi / 2, math.pi / 2, 50)
    polar = math.pi / 2 - el
    expected = np.zeros((4, az.size))
    for n in (0, 1):
        for m in range(-n, n + 1):
            y = sph_harm_y(n, abs(m), polar, az)
            if m < 0:
                real = math.sqrt(2) * (-1) ** m * y.imag
            elif m > 0:
                real = math.sqrt(2) * (-1) ** m * y.real
            else:
                real = y.real
            expected[n * (n + 1) + m] = real * math.sqrt(4 * math.pi / (2 * n + 1))
    got = np.stack([foa.encode_mono(np.ones(1, np.float32), a, e)[:, 0] for a, e in zip(az, el)], 1)
    np.testing.assert_allclose(got, expected, atol=1e-6)
