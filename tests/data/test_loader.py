"""Training windows pair the newest frame at each latent tick with the audio of that tick."""

import numpy as np
import pytest
import torch

from livefoley.models.data.loader import WindowDataset, episode_arrays
from livefoley.models.data.shards import list_shards, read_shard
from livefoley.protocol.errors import ConfigError


def test_windows_follow_the_timing_rule(tiny_dataset):
    ds = WindowDataset(tiny_dataset, "train", window_latents=8, hop_samples=1600)
    assert ds.latent_rate_hz == 30.0
    # 70 tics = 2 s = 96000 samples at 48 kHz -> 60 ticks -> 7 windows of 8 per shard
    assert len(ds) == 14
    item = ds[1]
    assert item["frames"].shape == (8, 120, 160, 3) and item["frames"].dtype == torch.uint8
    assert item["audio"].shape == (2, 8 * 1600) and item["audio"].dtype == torch.float32
    start = item["start_tick"]
    want = ((np.arange(start, start + 8) * 35) // 30)
    np.testing.assert_array_equal(item["frame_indices"].numpy(), want)
    shard = read_shard(ds.paths[item["shard"]])
    np.testing.assert_array_equal(item["frames"].numpy(), shard.frames[want])
    np.testing.assert_array_equal(item["audio"].numpy(),
                                  shard.audio[start * 1600:(start + 8) * 1600].T)


def test_dropped_frames_still_take_the_newest_kept_frame(tiny_dataset):
    ds = WindowDataset(tiny_dataset, "train", window_latents=30, frame_keep_prob=0.3, seed=1)
    full = WindowDataset(tiny_dataset, "train", window_latents=30)
    for i in range(len(ds)):
        idx = ds[i]["frame_indices"].numpy()
        ref = full[i]["frame_indices"].numpy()
        assert np.all(idx <= ref)  # never a frame from the future
        assert np.all(np.diff(idx) >= 0)
        np.testing.assert_array_equal(idx, ds[i]["frame_indices"].numpy())  # deterministic
    assert any((ds[i]["frame_indices"] != full[i]["frame_indices"]).any() for i in range(len(ds)))
    first = [ds[i]["frame_indices"].numpy() for i in range(len(ds))]
    ds.set_epoch(1)
    assert any(not np.array_equal(first[i], ds[i]["frame_indices"].numpy()) for i in range(len(ds)))


def test_heldout_episode_arrays(tiny_dataset):
    (path,) = list_shards(tiny_dataset, "heldout")
    ep = episode_arrays(read_shard(path))
    assert ep["frames"].shape == (60, 120, 160, 3)
    assert ep["audio"].shape == (60 * 1600, 2)


def test_torch_dataloader_with_workers_reopens_shards(tiny_dataset):
    ds = WindowDataset(tiny_dataset, "train", window_latents=8)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4, num_workers=1)))
    assert batch["audio"].shape == (4, 2, 8 * 1600)


def test_empty_split_is_refused(tiny_dataset):
    with pytest.raises(ConfigError, match=r"expected complete shards of split 'valid', found none"):
        WindowDataset(tiny_dataset, "valid")
