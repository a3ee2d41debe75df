"""Generated scenes written as shards and read back through the training data path."""

import numpy as np
import pytest

from livefoley.models.data.shards import list_shards, read_shard
from livefoley.models.spatial import dataset, doa, scene
from livefoley.protocol.errors import ConfigError

CFG = scene.SceneConfig(duration_s=1.0, frame_width=64, frame_height=32)


def test_scene_shards_round_trip(tmp_path):
    paths = dataset.write_scene_dataset(tmp_path, [3, 4], CFG)
    assert [p.name for p in paths] == ["train-00000", "train-00001"] == [p.name for p in list_shards(tmp_path)]
    sh = read_shard(paths[0])
    sc = scene.generate_scene(3, CFG)
    assert sh.frames.shape == (30, 32, 64, 3) and sh.audio.shape == (48000, 4)
    np.testing.assert_array_equal(np.asarray(sh.audio).T, sc.foa)
    np.testing.assert_array_equal(sh.frames[5], sc.render_frame(5))
    assert sh.meta["audio_channels"] == ["W", "Y", "Z", "X"] and sh.meta["caption"] == sc.caption
    assert sh.sample_rate_hz == 48000 and sh.fps == 30.0
    back = dataset.scene_from_shard(sh)
    assert back.config == sc.config and back.sources == sc.sources
    t = np.array([0.25, 0.75])
    np.testing.assert_allclose(back.directions_at(t), sc.directions_at(t))
    track = doa.analyse_doa(back.foa)  # the stored audio still points where the facts say
    assert track.valid.any()


def test_window_loader_reads_four_channel_audio(tmp_path):
    from livefoley.models.data.loader import WindowDataset

    dataset.write_scene_dataset(tmp_path, [5], CFG)
    ds = WindowDataset(tmp_path, "train", window_latents=8)
    item = ds[0]
    assert item["audio"].shape == (4, 8 * 1600) and item["frames"].shape[0] == 8


def test_non_spatial_meta_is_refused():
    with pytest.raises(ConfigError, match="expected audio_layout 'ambix-foa' with sources, found None"):
        dataset.sources_from_meta({"scenario": "doom"})
