"""Augmentations move the picture and the sound the same way."""

import math

import numpy as np
import pytest
import torch

from livefoley.models.spatial import augment, doa, equirect, scene
from livefoley.protocol.errors import ConfigError

CFG = scene.SceneConfig(duration_s=1.0, min_sources=1, max_sources=1, classes=("engine_hum",),
                        max_speed_deg_s=0.0)


def _blob_azimuth(frame, colour):
    """Azimuth of the centroid column of pixels of a colour (circular mean)."""
    mask = np.all(np.abs(frame.astype(int) - np.array(colour)) <= 2, axis=-1)
    az, _ = equirect.equirect_angles(frame.shape[1], frame.shape[0])
    cols = np.nonzero(mask)[1]
    return math.atan2(np.sin(az[cols]).mean(), np.cos(az[cols]).mean())


def _sound_azimuth(foa):
    t = doa.analyse_doa(foa)
    v = t.unit_vectors[t.valid].mean(0)
    return math.atan2(v[1], v[0])


def _ang(a, b):
    return abs(math.degrees(math.atan2(math.sin(a - b), math.cos(a - b))))


@pytest.mark.parametrize("shift", [17, -40, 128])
def test_yaw_rotation_moves_picture_and_sound_together(shift):
    sc = scene.generate_scene(2, CFG)
    frames = sc.frames()[:3]
    colour = scene.CLASS_COLOURS["engine_hum"]
    f2, a2 = augment.rotate_clip_yaw(frames, sc.foa, shift)
    expected_shift = augment.yaw_of_shift(shift, frames.shape[2])
    pic0, pic1 = _blob_azimuth(frames[0], colour), _blob_azimuth(f2[0], colour)
    snd0, snd1 = _sound_azimuth(sc.foa), _sound_azimuth(a2)
    assert _ang(pic0, snd0) < 3.0  # the generator itself agrees
    assert _ang(pic1, pic0 + expected_shift) < 2.0
    assert _ang(snd1, snd0 + expected_shift) < 1.0
    assert _ang(pic1, snd1) < 3.0


def test_mirror_moves_picture_and_sound_together():
    sc = scene.generate_scene(7, CFG)
    frames = sc.frames()[:1]
    colour = scene.CLASS_COLOURS["engine_hum"]
    f2, a2 = augment.mirror_clip(frames, sc.foa)
    assert _ang(_blob_azimuth(f2[0], colour), -_blob_azimuth(frames[0], colour)) < 2.0
    assert _ang(_sound_azimuth(a2), -_sound_azimuth(sc.foa)) < 1.0


def test_torch_channels_first_matches_numpy():
    sc = scene.generate_scene(3, CFG)
    frames = sc.frames()[:2]
    f_np, a_np = augment.rotate_clip_yaw(frames, sc.foa, 20)
    ft = torch.from_numpy(frames).permute(0, 3, 1, 2)  # (T, C, H, W)
    f_t, a_t = augment.rotate_clip_yaw(ft, torch.from_numpy(sc.foa), 20, channels_last=False)
    np.testing.assert_array_equal(f_t.permute(0, 2, 3, 1).numpy(), f_np)
    np.testing.assert_allclose(a_t.numpy(), a_np, atol=1e-5)
    m_np = augment.mirror_clip(frames, sc.foa)[1]
    m_t = augment.mirror_clip(ft, torch.from_numpy(sc.foa), channels_last=False)[1]
    np.testing.assert_allclose(m_t.numpy(), m_np)


def test_bad_foa_shape():
    with pytest.raises(ConfigError, match=r"\(\.\.\., 4, N\).*\(2, 10\)"):
        augment.rotate_clip_yaw(np.zeros((1, 8, 16, 3)), np.zeros((2, 10)), 1)
