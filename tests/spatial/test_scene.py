"""Scene generator: determinism, DoA of its audio vs its ground truth, frames, captions, sounds."""

import math

import numpy as np
import pytest

from livefoley.models.spatial import doa, equirect, metrics, scene, sounds
from livefoley.protocol.errors import ConfigError

SHORT = scene.SceneConfig(duration_s=2.0)


def test_same_seed_same_scene_and_different_seed_differs():
    a, b, c = scene.generate_scene(11, SHORT), scene.generate_scene(11, SHORT), scene.generate_scene(12, SHORT)
    np.testing.assert_array_equal(a.foa, b.foa)
    assert a.caption == b.caption and a.sources == b.sources
    np.testing.assert_array_equal(a.render_frame(7), b.render_frame(7))
    assert not np.array_equal(a.foa, c.foa)
    assert a.foa.shape == (4, 96000) and a.foa.dtype == np.float32


@pytest.mark.parametrize("label", sounds.SOUND_CLASSES)
def test_doa_of_scene_audio_follows_ground_truth_trajectory(label):
    cfg = scene.SceneConfig(duration_s=2.0, min_sources=1, max_sources=1, classes=(label,))
    sc = scene.generate_scene(3, cfg)
    track = doa.analyse_doa(sc.foa)
    truth = sc.directions_at(track.times_s)[0]  # (segments, 2)
    err = metrics.track_error(track, truth[:, 0], truth[:, 1], sc.segment_activity()[0])
    assert err.n_segments >= 3, f"{label}: too few active valid segments ({err.n_segments})"
    assert err.median_deg < 4.0 and err.within_20 >= 0.9, f"{label}: {err}"
    m = metrics.localisation_metrics(metrics.track_detections(track), sc.reference_segments())
    assert m.lr > 0.5 and m.f_20 > 0.6, f"{label}: {m}"


def test_source_moves_and_audio_moves_with_it():
    cfg = scene.SceneConfig(duration_s=2.0, min_sources=1, max_sources=1, classes=("engine_hum",),
                            max_speed_deg_s=90.0)
    sc = scene.generate_scene(5, cfg)
    track = doa.analyse_doa(sc.foa)
    moved = doa.great_circle_deg(track.azimuth_rad[2], track.elevation_rad[2],
                                 track.azimuth_rad[-3], track.elevation_rad[-3])
    truth = sc.directions_at(track.times_s[[2, -3]])[0]
    true_moved = doa.great_circle_deg(truth[0, 0], truth[0, 1], truth[1, 0], truth[1, 1])
    assert true_moved > 10.0 and abs(moved - true_moved) < 3.0


def test_frame_draws_source_in_class_colour_where_it_is():
    cfg = scene.SceneConfig(duration_s=1.0, min_sources=1, max_sources=1, classes=("bell",))
    sc = scene.generate_scene(2, cfg)
    frame = sc.render_frame(0)
    assert frame.shape == (128, 256, 3) and frame.dtype == np.uint8
    src = sc.sources[0]
    # a ring: look at a point at 0.8 of its radius, straight above its centre
    az, el = sc.directions_at(np.array([0.0]))[0, 0]
    i, j = equirect.pixel_of_direction(az, el + 0.8 * src.size_rad, 256, 128)
    colour = frame[i, j].astype(float)
    expected = np.array(src.colour, float)
    ratio = colour / expected
    assert np.allclose(ratio, ratio[0], atol=0.03) and ratio[0] > 0.4, (colour, expected)


def test_shape_on_the_seam_wraps_to_both_edges():
    dirs = equirect.equirect_directions(256, 128)
    mask = equirect.shape_mask(dirs, math.pi, 0.0, math.radians(10), "disk")
    assert mask[:, 0].any() and mask[:, -1].any() and not mask[:, 128].any()
    np.testing.assert_array_equal(mask, mask[:, ::-1])  # symmetric about the seam


def test_equirect_pixel_convention():
    az, el = equirect.equirect_angles(256, 128)
    assert abs(az[127] - az[128]) < 0.03 and abs(az[127]) < 0.02  # centre = front
    assert az[0] > 3.1 and az[-1] < -3.1  # edges = behind
    assert az[64] == pytest.approx(math.pi / 2, abs=0.02)  # a quarter in = left
    assert el[0] > 1.55 and el[-1] < -1.55


@pytest.mark.parametrize("az_deg, el_deg, words", [
    (0, 0, "in front"), (180, 0, "behind"), (-170, 0, "behind"), (135, 0, "behind, to the left"),
    (90, 0, "to the left"), (-90, 40, "to the right, above"), (45, -40, "in front, to the left, below"),
])
def test_describe_direction(az_deg, el_deg, words):
    assert scene.describe_direction(math.radians(az_deg), math.radians(el_deg)) == words


def test_caption_is_written_from_the_scene_facts():
    cfg = scene.SceneConfig(duration_s=2.0, min_sources=1, max_sources=1, classes=("door_slam",),
                            max_speed_deg_s=0.0)
    sc = scene.generate_scene(9, cfg)
    peak = int(np.argmax(np.abs(sc.signals[0])))
    az, el = sc.directions_at(np.array([peak / 48000]))[0, 0]
    assert sc.caption == f"A door slams {scene.describe_direction(az, el)}."


def test_game_audio_joins_the_scene(tmp_path):
    game = np.random.default_rng(1).standard_normal(48000).astype(np.float32) * 0.1
    cfg = scene.SceneConfig(duration_s=1.0, min_sources=1, max_sources=1)
    sc = scene.generate_scene(4, cfg, extra_sources=(("game", game),))
    assert [s.label for s in sc.sources][-1] == "game" and "game sounds" in sc.caption.lower()
    np.testing.assert_allclose(sc.foa[0], sc.signals[0] + game, atol=1e-6)  # W = sum of sources


def test_load_mono_resamples_wav_and_rejects_npy_without_rate(tmp_path):
    import soundfile

    x = np.sin(np.arange(44100) / 44100 * 2 * np.pi * 440).astype(np.float32)
    soundfile.write(tmp_path / "a.wav", np.stack([x, x], 1), 44100)
    y = sounds.load_mono(tmp_path / "a.wav")
    assert y.shape == (48000,) and y.dtype == np.float32
    np.save(tmp_path / "a.npy", x)
    with pytest.raises(ConfigError, match="expected source_rate_hz.*found None"):
        sounds.load_mono(tmp_path / "a.npy")
    assert sounds.load_mono(tmp_path / "a.npy", source_rate_hz=48000).shape == (44100,)


def test_unknown_class_names_valid_ones():
    with pytest.raises(ConfigError, match=r"door_slam.*found \['violin'\]"):
        scene.SceneConfig(classes=("violin",))
    with pytest.raises(ConfigError, match="found 'violin'"):
        sounds.synthesize("violin", 1.0, np.random.default_rng(0))


def test_ambience_is_diffuse_and_gated_while_sources_stay_localised():
    cfg = scene.SceneConfig(duration_s=2.0, min_sources=1, max_sources=1, classes=("bell",),
                            ambience_db=-20.0)
    sc = scene.generate_scene(1, cfg)
    dry = scene.generate_scene(1, scene.SceneConfig(duration_s=2.0, min_sources=1, max_sources=1,
                                                    classes=("bell",)))
    np.testing.assert_array_equal(sc.signals[0], dry.signals[0])  # the bed does not disturb the sources
    bed = sc.foa - dry.foa
    assert 20 * np.log10(np.sqrt(np.mean(bed[0] ** 2)) / 0.5) == pytest.approx(-20.0, abs=0.1)
    track = doa.analyse_doa(sc.foa)
    active = sc.segment_activity()[0]
    assert track.diffuseness[~active].min() > 0.5 and not track.valid[~active].any()  # bed alone: no direction
    truth = sc.directions_at(track.times_s)[0]
    err = metrics.track_error(track, truth[:, 0], truth[:, 1], active)
    assert (~active).sum() >= 2 and err.n_segments >= 10 and err.median_deg < 3.0, err
