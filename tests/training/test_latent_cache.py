"""Where a run's VAE latents live: one folder per encoder, shared by every run that has it.

`batches.encoder_digest` and `latent_cache_dir` (`train stage1|stage2|decoder
--latent-cache`): the digest follows the encoder and nothing else, runs on one encoder reuse
the latents without being told, and a root that cannot be written is named.
"""

import dataclasses

import numpy as np
import pytest
import torch

from livefoley.models.checkpoint import save_checkpoint
from livefoley.models.training import cli
from livefoley.models.training.batches import (
    LatentCache,
    encoder_digest,
    latent_cache_dir,
    open_split,
)
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import ConfigError

from .helpers import small_config, stage_args

HOP = 1600


def test_the_digest_follows_the_encoder_and_nothing_else():
    model = build_model(small_config())
    base = encoder_digest(model.vae)
    assert len(base) == 16 and base == encoder_digest(build_model(small_config()).vae)
    with torch.no_grad():  # a decoder-only fine-tune keeps the latents' meaning
        next(model.vae.decoder.parameters()).add_(1.0)
    assert encoder_digest(model.vae) == base
    with torch.no_grad():  # one encoder weight moved: other latents
        next(model.vae.encoder.parameters()).view(-1)[0].add_(1e-3)
    assert encoder_digest(model.vae) != base
    # the same weights' shapes with other dilations encode differently: the config counts
    cfg = small_config()
    other = dataclasses.replace(cfg, vae=dataclasses.replace(cfg.vae, res_dilations=(1, 2)))
    assert encoder_digest(build_model(other).vae) != encoder_digest(build_model(cfg).vae)


def test_one_encoder_one_folder_under_the_dataset_or_the_given_root(tmp_path):
    vae = build_model(small_config()).vae
    d = encoder_digest(vae)
    assert latent_cache_dir(tmp_path / "data", vae) == tmp_path / "data" / "latents" / d
    assert latent_cache_dir(tmp_path / "data", vae, tmp_path / "lc") == tmp_path / "lc" / d
    assert not (tmp_path / "data").exists()  # it names the folder; the cache creates it


def test_a_second_cache_on_the_same_encoder_reads_what_the_first_wrote(dataset, tmp_path):
    data, _ = dataset
    vae = build_model(small_config()).vae
    where = latent_cache_dir(data, vae, tmp_path / "lc")
    first = LatentCache(open_split(data, "train"), where, vae, HOP)
    files = sorted(where.glob("*.latents.npy"))
    assert [p.name for p in files] == [f"{s.name}.latents.npy" for s in first.shards]
    # vae=None refuses to encode: every latent must come from the first cache's files
    second = LatentCache(open_split(data, "train"), where, None, HOP)
    for a, b in zip(first.latents, second.latents):
        np.testing.assert_array_equal(a, b)
    assert not list(where.glob(".*tmp*"))  # no half-written file left behind


def test_runs_on_one_encoder_share_the_latents_and_another_encoder_gets_its_own(dataset,
                                                                                 tmp_path):
    data, init = dataset
    root = tmp_path / "lc"
    common = ("--steps", "1", "--warmup", "1", "--latent-cache", str(root))
    assert cli.main(stage_args("stage1", data, tmp_path / "s1", init, *common)) == 0
    (folder,) = root.iterdir()
    written = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert len(written) == 3  # two train shards, one held-out
    assert not (tmp_path / "s1" / "cache").exists()
    # stage 2 from stage 1's model (same encoder) reads the files, writes none
    assert cli.main(stage_args("stage2", data, tmp_path / "s2", tmp_path / "s1" /
                               "model.safetensors", *common)) == 0
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == written
    # a model with another encoder encodes into a folder of its own
    other = tmp_path / "other.safetensors"
    save_checkpoint(build_model(small_config(seed=1)), other)
    assert cli.main(stage_args("stage1", data, tmp_path / "s1b", other, *common)) == 0
    assert len(list(root.iterdir())) == 2


def test_a_root_that_cannot_be_made_is_named(dataset, tmp_path):
    data, _ = dataset
    vae = build_model(small_config()).vae
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"latent cache .*a-file.*--latent-cache"):
        LatentCache(open_split(data, "train"), latent_cache_dir(data, vae, blocker), vae, HOP)
