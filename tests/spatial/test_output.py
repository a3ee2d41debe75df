"""Output layouts and the baseline evaluation on generated scenes."""

import math

import numpy as np
import pytest

from livefoley.models.spatial import baselines, binaural, foa, output, rotation, scene
from livefoley.protocol.errors import ConfigError

NOISE = np.random.default_rng(0).standard_normal(4800).astype(np.float32)


@pytest.mark.parametrize("layout, channels", [("foa", 4), ("binaural", 2), ("stereo", 2)])
def test_layouts_give_their_channel_counts(layout, channels):
    out = output.SpatialOutput(layout)
    block = out.process(foa.encode_mono(NOISE[:1600], 0.5, 0.0), (0.1, 0.0, 0.0))
    assert out.channels == channels and block.shape == (channels, 1600) and block.dtype == np.float32


def test_head_turn_moves_a_front_source_to_the_other_ear():
    # Source in front; the listener turns 90 deg left over 3 blocks: the source ends on the right.
    out = output.SpatialOutput("stereo")
    world = foa.encode_mono(NOISE, 0.0, 0.0)
    blocks = [out.process(world[:, k * 1600:(k + 1) * 1600], (math.pi / 2 * (k + 1) / 3, 0, 0)) for k in range(3)]
    last = blocks[-1][:, -400:]
    assert np.sum(last[1] ** 2) > 100 * np.sum(last[0] ** 2)


def test_binaural_layout_equals_tracker_then_decoder():
    out = output.SpatialOutput("binaural")
    tr, dec = rotation.HeadTracker(), binaural.BinauralDecoder()
    world = foa.encode_mono(NOISE, 1.0, 0.2)
    for k in range(3):
        blk, ori = world[:, k * 1600:(k + 1) * 1600], (0.3 * k, 0.1, 0.0)
        np.testing.assert_allclose(out.process(blk, ori), dec.process(tr.process(blk, *ori)), atol=1e-6)


def test_unknown_layout_names_valid_ones():
    with pytest.raises(ConfigError, match=r"\('foa', 'binaural', 'stereo'\).*'5.1'"):
        output.SpatialOutput("5.1")


def test_baselines_rank_below_ground_truth_on_single_source_scenes():
    cfg = scene.SceneConfig(duration_s=1.5, max_sources=1)
    scenes = [scene.generate_scene(s, cfg) for s in range(4)]
    res = baselines.evaluate_baselines(scenes, seed=1)
    gt, omni, rnd, st = (res[k] for k in ("ground_truth", "omni", "random", "stereo_upmix"))
    assert gt.le_deg < 2.0 and gt.recall_20 > 0.9 and gt.clip_angle_rad < 1e-6
    assert omni.lr == 0.0 and omni.recall_20 == 0.0  # no direction at all
    assert rnd.recall_20 < 0.5 and st.recall_20 < 0.5
    assert st.le_deg > 10.0 and rnd.le_deg > 10.0
    with pytest.raises(ConfigError, match="found 'mono'"):
        baselines.baseline_foa(scenes[0], "mono", np.random.default_rng(0))
