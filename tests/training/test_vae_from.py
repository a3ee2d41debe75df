"""`livefoley train stage1 --vae-from CKPT`: a fresh generator on a kept VAE."""

import argparse
import dataclasses

import pytest
import torch
from safetensors import safe_open

from livefoley.models.checkpoint import load_checkpoint, save_checkpoint
from livefoley.models.config import VAEConfig
from livefoley.models.training import cli
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import CheckpointError

from .helpers import small_config


def _saved(tmp_path, name, cfg, seed, only=""):
    torch.manual_seed(seed)
    model = build_model(cfg)
    with torch.no_grad():  # as if trained: the VAE's own init does not follow the global seed
        for p in model.vae.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / f"{name}.safetensors"
    save_checkpoint(model, path, only=only)
    return model, path


@pytest.mark.parametrize("only", ["", "vae"], ids=["whole-source", "vae-only-source"])
def test_vae_comes_from_the_source_and_the_rest_from_init(tmp_path, only):
    source, source_path = _saved(tmp_path, "source", small_config(), seed=1, only=only)
    init, init_path = _saved(tmp_path, "init", small_config(), seed=2)
    args = argparse.Namespace(init=str(init_path), preset="tiny", vae_from=str(source_path))

    model = cli._model(args)

    got, want_vae, want_rest = model.state_dict(), source.state_dict(), init.state_dict()
    vae_keys = [k for k in got if k.startswith("vae.")]
    rest_keys = [k for k in got if not k.startswith("vae.")]
    assert vae_keys and rest_keys
    assert all(torch.equal(got[k], want_vae[k]) for k in vae_keys)
    assert all(torch.equal(got[k], want_rest[k]) for k in rest_keys)
    # The two seeds differ, so the test would notice a copy that did not happen.
    assert not all(torch.equal(want_vae[k], want_rest[k]) for k in vae_keys)


def test_vae_config_mismatch_named_in_error(tmp_path):
    cfg = small_config()
    other = dataclasses.replace(cfg, vae=VAEConfig(latent_dim=32))
    _, source_path = _saved(tmp_path, "source", other, seed=1)
    _, init_path = _saved(tmp_path, "init", cfg, seed=2)
    args = argparse.Namespace(init=str(init_path), preset="tiny", vae_from=str(source_path))

    with pytest.raises(CheckpointError, match=r"VAE config differs.*latent_dim: expected 64, found 32"):
        cli._model(args)


def test_vae_only_file_holds_the_vae_alone_and_is_refused_as_a_whole_model(tmp_path):
    model, part = _saved(tmp_path, "part", small_config(), seed=1, only="vae")
    with safe_open(str(part), framework="pt") as f:
        assert sorted(f.keys()) == sorted(k for k in model.state_dict() if k.startswith("vae."))
    with pytest.raises(CheckpointError, match=r"found only its 'vae' part"):
        load_checkpoint(part)


def test_flag_parses_for_the_generator_stages_only():
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["stage1", "--data", "d", "--out", "o", "--vae-from", "v.safetensors"])
    assert args.vae_from == "v.safetensors"
    with pytest.raises(SystemExit):
        parser.parse_args(["vae", "--data", "d", "--out", "o", "--vae-from", "v.safetensors"])
