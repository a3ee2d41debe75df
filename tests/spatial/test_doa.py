"""Intensity-vector DoA recovers known directions; diffuseness gating; DCASE-style metrics."""

import math

import numpy as np
import pytest

from livefoley.models.spatial import doa, foa, metrics
from livefoley.protocol.errors import ConfigError

SR = 48000
NOISE = np.random.default_rng(0).standard_normal(SR // 4).astype(np.float32)  # 250 ms

GRID = [(az, el) for el in (-60, -30, 0, 30, 60) for az in range(-180, 180, 45)]
GRID += [(0, 89), (123, 88), (-40, -89), (180, 0), (179, 5), (-179, -5)]


@pytest.mark.parametrize("az_deg, el_deg", GRID)
def test_encode_then_doa_recovers_direction_all_around(az_deg, el_deg):
    clip = foa.encode_mono(NOISE, math.radians(az_deg), math.radians(el_deg))
    track = doa.analyse_doa(clip)
    assert track.valid.all()
    err = doa.great_circle_deg(track.azimuth_rad, track.elevation_rad, math.radians(az_deg), math.radians(el_deg))
    assert err.max() < 2.0, f"({az_deg}, {el_deg}): errors {err}"
    assert track.diffuseness.max() < 0.05


def test_doa_band_ignores_out_of_band_interferer():
    # A loud 200 Hz tone from the right must not move the 500 Hz - 8 kHz estimate of a left noise.
    t = np.arange(NOISE.size) / SR
    tone = (10 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    clip = foa.encode_mono(NOISE, math.radians(90), 0.0) + foa.encode_mono(tone, math.radians(-90), 0.0)
    track = doa.analyse_doa(clip)
    assert doa.great_circle_deg(track.azimuth_rad, track.elevation_rad, math.radians(90), 0.0).max() < 3.0
    az, _ = doa.broadband_doa(clip)  # the broadband clip metric is pulled to the right by the tone
    assert az < 0


def test_diffuse_field_is_gated():
    rng = np.random.default_rng(5)
    clip = np.zeros((4, SR // 4), np.float32)
    for _ in range(200):  # many incoherent sources from random directions ~ a diffuse field
        v = rng.standard_normal(3)
        az, el = foa.unit_to_direction(v)
        clip += foa.encode_mono(rng.standard_normal(SR // 4).astype(np.float32), float(az), float(el))
    track = doa.analyse_doa(clip)
    assert track.diffuseness.min() > 0.6
    assert not track.valid.any()


def test_silence_after_sound_is_invalid():
    clip = np.concatenate([foa.encode_mono(NOISE, 0.3, 0.0), np.zeros((4, NOISE.size), np.float32)], axis=1)
    track = doa.analyse_doa(clip)
    assert track.valid[:2].all() and not track.valid[-2:].any()
    cfg = doa.DoaConfig()
    assert track.times_s.size == math.ceil(math.ceil(2 * NOISE.size / cfg.hop_samples) / cfg.segment_frames)
    np.testing.assert_allclose(track.times_s[:2], [0.05, 0.15])


def test_bad_band_names_expected_and_found():
    with pytest.raises(ConfigError, match=r"24000.0 Hz.*500.0..30000.0"):
        doa.analyse_doa(foa.encode_mono(NOISE, 0, 0), doa.DoaConfig(band_high_hz=30000.0))


def test_clip_doa_error_radians():
    ref = foa.encode_mono(NOISE, math.radians(170), 0.0)
    pred = foa.encode_mono(NOISE, math.radians(-170), math.radians(10))
    e = doa.clip_doa_error(pred, ref)
    assert e.azimuth_rad == pytest.approx(math.radians(20), abs=1e-3)  # wrapped across +-180
    assert e.elevation_rad == pytest.approx(math.radians(10), abs=1e-3)
    assert math.radians(10) < e.angle_rad < math.radians(23)


def test_great_circle_known_values():
    assert doa.great_circle_deg(0, 0, math.pi, 0) == pytest.approx(180)
    assert doa.great_circle_deg(0, math.pi / 2, 1.234, math.pi / 2) == pytest.approx(0, abs=1e-6)
    assert doa.great_circle_deg(math.radians(179), 0, math.radians(-179), 0) == pytest.approx(2)


def test_localisation_metrics_hand_counted():
    d = math.radians
    ref = [np.array([[d(0), 0]]), np.array([[d(90), 0], [d(-90), 0]]), np.zeros((0, 2)), np.array([[0, 0]])]
    pred = [np.array([[d(10), 0]]),  # TP, 10 deg
            np.array([[d(-60), 0], [d(95), 0]]),  # matched 5 deg (TP) and 30 deg (not TP)
            np.array([[d(45), 0]]),  # insertion
            np.zeros((0, 2))]  # deletion
    m = metrics.localisation_metrics(pred, ref)
    assert m.n_reference == 4 and m.n_predicted == 4 and m.n_matched == 3
    assert m.le_deg == pytest.approx((10 + 5 + 30) / 3)
    assert m.lr == pytest.approx(3 / 4)
    assert m.recall_20 == pytest.approx(2 / 4) and m.precision_20 == pytest.approx(2 / 4)
    assert m.f_20 == pytest.approx(0.5)
    # segment 2: FN=1, FP=1 -> S=1; segment 3: I=1; segment 4: D=1 -> ER = 3 / 4
    assert m.er_20 == pytest.approx(3 / 4)


def test_localisation_metrics_length_mismatch():
    with pytest.raises(ConfigError, match="2 predicted and 1 reference"):
        metrics.localisation_metrics([[], []], [[]])


def test_track_error_against_reference():
    clip = foa.encode_mono(NOISE, math.radians(30), 0.0)
    track = doa.analyse_doa(clip)
    n = track.times_s.size
    e = metrics.track_error(track, np.full(n, math.radians(40)), np.zeros(n))
    assert e.n_segments == n and 8.0 < e.median_deg < 12.0 and e.within_20 == 1.0
    with pytest.raises(ConfigError, match=f"expected {n} reference segments, found \\(2,\\)"):
        metrics.track_error(track, np.zeros(2), np.zeros(2))
