"""The `spatial_tiny` preset (FOA out, equirect frames in, text prompts) and the scene dataset
command that feeds its training (`livefoley data scenes`)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from livefoley.models import PRESETS, StreamingGenerator, get_preset, load_model
from livefoley.models.config import SPATIAL_TINY, TINY
from livefoley.models.data.shards import list_shards, read_shard
from livefoley.models.spatial import dataset, scene
from livefoley.models.training.batches import LatentCache, WindowBatches, open_split
from livefoley.protocol.errors import ConfigError

SMALL = scene.SceneConfig(duration_s=0.5, frame_width=64, frame_height=32, max_sources=1)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_spatial_tiny_has_the_sizes_it_claims():
    cfg = get_preset("spatial_tiny")
    assert cfg == SPATIAL_TINY == PRESETS["spatial_tiny"]
    assert cfg.channels == 4 and cfg.text_dim == 384 and cfg.hop_samples == 1600
    assert cfg.vision.wrap_horizontal and (cfg.vision.input_w_px, cfg.vision.input_size_px) == (128, 64)
    assert cfg.vision.aspect_mode == "stretch"  # a panorama is never cropped
    # everything else is the tiny model's
    assert cfg.transformer == TINY.transformer and cfg.head == TINY.head
    assert dataclasses.replace(cfg.vae, channels=2, decoder_output="direct") == TINY.vae
    assert cfg.vae.decoder_output == "foa_direction"  # 3 latent dims are the direction


def test_spatial_tiny_streams_foa_from_an_equirect_frame_with_a_prompt():
    model = load_model("spatial_tiny")
    assert "text" in model.param_counts()
    gen = StreamingGenerator(model, seed=0)
    gen.set_prompt(torch.randn(384, generator=torch.Generator().manual_seed(0)))
    frame = torch.from_numpy(scene.generate_scene(1, SMALL).render_frame(0))[None]  # (1, 32, 64, 3)
    pcm = gen.step(frame, "RGB8")
    assert pcm.shape == (1, 1600, 4) and torch.isfinite(pcm).all()


@torch.no_grad()
def test_the_direction_dims_are_not_fed_back_so_direction_must_come_from_the_frames():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    for name, fed_back in (("spatial_tiny", False), ("tiny", True)):
        model = load_model(name)
        tokens = torch.randn(1, 3, model.config.vision.token_dim, generator=g)
        latents = torch.randn(1, 3, 64, generator=g)
        moved = latents.clone()
        moved[..., -3:] += 1.0  # another direction for every frame
        a, b = model.embed_sequence(tokens, latents), model.embed_sequence(tokens, moved)
        assert ((a - b).abs().max().item() > 1e-3) == fed_back, name


def test_scene_splits_are_disjoint_resumable_and_checked(tmp_path):
    made = dataset.write_scene_splits(tmp_path, seed=2, train=2, heldout=1, config=SMALL)
    assert made == {"train": 2, "heldout": 1, "skipped": 0}
    assert [p.name for p in list_shards(tmp_path)] == ["heldout-00000", "train-00000", "train-00001"]
    seeds = {read_shard(p).meta["seed"] for p in list_shards(tmp_path)}
    assert len(seeds) == 3 and set(dataset.scene_seeds(2, "heldout", 1)) < seeds
    assert not set(dataset.scene_seeds(2, "train", 500)) & set(dataset.scene_seeds(2, "heldout", 500))
    again = dataset.write_scene_splits(tmp_path, seed=2, train=3, heldout=1, config=SMALL)
    assert again == {"train": 1, "heldout": 0, "skipped": 3}
    with pytest.raises(ConfigError) as e:
        dataset.write_scene_splits(tmp_path, seed=3, train=1, heldout=0, config=SMALL)
    assert "'seed': 2" in str(e.value) and "'seed': 3" in str(e.value)
    assert json.loads((tmp_path / "scenes.json").read_text())["seed"] == 2
    with pytest.raises(ConfigError, match="'test'"):
        dataset.scene_seeds(0, "test", 1)


def test_training_batches_read_scene_shards(tmp_path):
    dataset.write_scene_splits(tmp_path, seed=0, train=1, heldout=0,
                               config=dataclasses.replace(SMALL, duration_s=0.4))
    model = load_model("spatial_tiny")
    cache = LatentCache(open_split(tmp_path, "train"), tmp_path / "cache", model.vae, 1600)
    assert cache.latents[0].shape == (12, 64)
    batch = WindowBatches(cache, 8).batch(np.random.default_rng(0), 2)
    assert batch["frames"].shape == (2, 9, 32, 64, 3) and batch["latents"].shape == (2, 8, 64)


def test_data_scenes_command(tmp_path, capsys):
    from livefoley.sidecar.cli import main

    out = tmp_path / "scenes"
    rc = main(["data", "scenes", "--out", str(out), "--train", "1", "--heldout", "1",
               "--duration", "0.2", "--size", "32x16", "--max-sources", "1"])
    assert rc == 0 and "made 1 train, 1 held-out" in capsys.readouterr().out
    assert read_shard(list_shards(out, "train")[0]).frames.shape == (6, 16, 32, 3)
    assert main(["data", "scenes", "--out", str(out), "--size", "32by16"]) == 2
    assert "expected WxH" in capsys.readouterr().err
