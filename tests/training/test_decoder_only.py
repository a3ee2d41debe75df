"""`livefoley train vae --decoder-only`: the decoder learns, everything else stays bit-equal."""

import argparse
import json

import pytest
import torch

from livefoley.models.checkpoint import load_checkpoint
from livefoley.models.training import cli
from livefoley.protocol.errors import ConfigError


def _train_vae(data, out, *extra):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["vae", "--data", str(data), "--out", str(out), "--batch", "2",
                              "--steps", "3", "--warmup", "1", "--lr", "1e-3", "--resolutions",
                              "5", "--device", "cpu", "--threads", "1", *extra])
    return cli.main(args)


def _changed(a: dict, b: dict, prefix: str) -> list[str]:
    return [k for k in a if k.startswith(prefix) and not torch.equal(a[k], b[k])]


def test_decoder_only_trains_the_decoder_and_keeps_the_rest_bit_equal(dataset, tmp_path):
    data, init = dataset
    assert _train_vae(data, tmp_path / "dec", "--init", str(init), "--decoder-only") == 0
    before = load_checkpoint(init).state_dict()
    after = load_checkpoint(tmp_path / "dec" / "model.safetensors").state_dict()
    changed = _changed(before, after, "")
    # Only the decoder: the encoder (and so the latent scale: no refold) and the generator are
    # untouched, so the generator's latents decode through the new decoder as they meant.
    assert changed and all(k.startswith("vae.decoder.") for k in changed), changed
    run = json.loads((tmp_path / "dec" / "run.json").read_text())
    assert run["config"]["vae"]["decoder_only"] is True


def test_whole_vae_run_still_trains_and_rescales_the_encoder(dataset, tmp_path):
    # The control: without the flag the same run changes the encoder (training and the
    # latent-scale fold), so the test above would see a change that was not prevented.
    data, init = dataset
    assert _train_vae(data, tmp_path / "all", "--init", str(init)) == 0
    before = load_checkpoint(init).state_dict()
    after = load_checkpoint(tmp_path / "all" / "model.safetensors").state_dict()
    assert _changed(before, after, "vae.encoder.")


def test_decoder_only_without_init_is_refused_by_name(dataset, tmp_path):
    data, _ = dataset
    with pytest.raises(ConfigError, match=r"--decoder-only: expected --init CHECKPOINT"):
        _train_vae(data, tmp_path / "none", "--decoder-only")
