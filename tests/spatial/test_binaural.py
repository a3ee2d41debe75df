"""Binaural decoder: streaming equals whole-signal, lateralisation cues, rotation invariance."""

import math

import numpy as np
import pytest

from livefoley.models.spatial import binaural, foa, rotation
from livefoley.protocol.errors import ConfigError

SR = 48000
NOISE = np.random.default_rng(0).standard_normal(SR // 2).astype(np.float32)


def test_streaming_equals_whole_signal_for_any_block_split():
    scene = foa.encode_mono(NOISE, 0.9, 0.3) + foa.encode_mono(NOISE[::-1].copy(), -2.2, -0.2)
    whole = binaural.decode_binaural(scene)
    dec = binaural.BinauralDecoder()
    cuts = [0, 1, 1600, 1601, 3203, 5000, 9800, 16000, 16000, 24000]
    parts = [dec.process(scene[:, a:b]) for a, b in zip(cuts, cuts[1:] + [scene.shape[1]])]
    streamed = np.concatenate(parts, axis=1)
    assert streamed.shape == whole.shape == (2, scene.shape[1])
    np.testing.assert_allclose(streamed, whole, atol=2e-5)


def _ild_db(lr, lo_hz, hi_hz):
    f = np.fft.rfftfreq(lr.shape[1], 1 / SR)
    band = (f >= lo_hz) & (f <= hi_hz)
    p = (np.abs(np.fft.rfft(lr, axis=1)) ** 2)[:, band].sum(1)
    return 10 * np.log10(p[0] / p[1])


def _itd_samples(lr):
    max_lag = 40
    lags = np.arange(-max_lag, max_lag + 1)
    xc = [np.dot(lr[0, max_lag:-max_lag], np.roll(lr[1], -k)[max_lag:-max_lag]) for k in lags]
    return int(lags[int(np.argmax(xc))])  # > 0: right ear lags


@pytest.mark.parametrize("layout, min_ild_db", [("cube", 10.0), ("octahedron", 4.0)])
def test_left_source_is_louder_and_earlier_at_left_ear(layout, min_ild_db):
    cfg = binaural.BinauralConfig(layout=layout)
    left = binaural.decode_binaural(foa.encode_mono(NOISE, math.radians(90), 0.0), cfg)
    right = binaural.decode_binaural(foa.encode_mono(NOISE, math.radians(-90), 0.0), cfg)
    front = binaural.decode_binaural(foa.encode_mono(NOISE, 0.0, 0.0), cfg)
    assert _ild_db(left, 3000, 12000) > min_ild_db
    assert _ild_db(right, 3000, 12000) < -min_ild_db
    assert abs(_ild_db(front, 3000, 12000)) < 0.1
    assert _itd_samples(left) > 5 and _itd_samples(right) < -5 and _itd_samples(front) == 0


def test_low_frequency_gain_is_one_for_every_direction():
    h = binaural.binaural_filters(binaural.BinauralConfig())  # (2, 4, taps)
    for az, el in [(0, 0), (1.0, 0.5), (-2.5, -1.0), (math.pi, 0)]:
        gains = np.array([1.0, *foa.direction_to_unit(az, el)[[1, 2, 0]]])
        dc = np.einsum("ect,c->e", h, gains)
        np.testing.assert_allclose(dc, [1.0, 1.0], atol=1e-3)


def test_woodworth_itd_of_bare_head_model():
    cfg = binaural.BinauralConfig()
    # Interaural difference at 90 deg: (a/c)(pi/2 + 1), the Woodworth value, ~0.66 ms.
    itd = binaural.woodworth_delay_s(math.pi, cfg) - binaural.woodworth_delay_s(0.0, cfg)
    assert itd == pytest.approx(cfg.head_radius_m / cfg.speed_of_sound_m_s * (math.pi / 2 + 1))


def test_rotating_scene_and_listener_together_leaves_binaural_unchanged():
    rng = np.random.default_rng(7)
    sig2 = rng.standard_normal(NOISE.size).astype(np.float32)
    srcs = [(NOISE, 0.7, 0.2), (sig2, -2.0, -0.4)]
    head = (0.4, 0.1, -0.2)
    q = rotation.rotation_matrix(1.3, -0.5, 0.8)  # an arbitrary rotation of the whole world

    def render(world_rot, head_ypr):
        scene = 0
        for s, az, el in srcs:
            v = world_rot @ foa.direction_to_unit(az, el)
            a2, e2 = foa.unit_to_direction(v)
            scene = scene + foa.encode_mono(s, float(a2), float(e2))
        tr = rotation.HeadTracker(head_ypr)
        dec = binaural.BinauralDecoder()
        return np.concatenate([dec.process(tr.process(scene[:, k:k + 1600], *head_ypr))
                               for k in range(0, scene.shape[1], 1600)], axis=1)

    base = render(np.eye(3), head)
    both = render(q, rotation.euler_from_matrix(q @ rotation.rotation_matrix(*head)))
    np.testing.assert_allclose(both, base, atol=5e-5)
    only_scene = render(q, head)  # negative control: moving only the scene changes the sound
    assert np.abs(only_scene - base).max() > 0.1


def test_bad_layout_names_valid_ones():
    with pytest.raises(ConfigError, match=r"\('cube', 'octahedron'\).*'dodeca'"):
        binaural.BinauralConfig(layout="dodeca")


def test_too_few_taps_names_minimum():
    with pytest.raises(ConfigError, match=r"filter_taps: expected >= \d+, found 32"):
        binaural.BinauralConfig(filter_taps=32)
