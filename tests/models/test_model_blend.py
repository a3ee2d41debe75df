"""`livefoley model A --blend B --alpha t`: weight-space interpolation of one config's files."""

import dataclasses

import pytest
import torch

from livefoley.models.checkpoint import load_checkpoint, save_checkpoint
from livefoley.models.config import VAEConfig
from livefoley.models.v2a import build_model
from livefoley.sidecar import cli

from ..training.helpers import small_config


def _saved(path, cfg, seed):
    torch.manual_seed(seed)
    model = build_model(cfg)
    with torch.no_grad():  # the VAE's own init does not follow the global seed
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_checkpoint(model, path)
    return path


def test_blend_is_the_tensorwise_interpolation(tmp_path):
    a = _saved(tmp_path / "a.safetensors", small_config(), 1)
    b = _saved(tmp_path / "b.safetensors", small_config(), 2)
    out = tmp_path / "mix.safetensors"
    assert cli.main(["model", str(a), "--blend", str(b), "--alpha", "0.25", "--out",
                     str(out)]) == 0
    wa, wb = load_checkpoint(a).state_dict(), load_checkpoint(b).state_dict()
    got = load_checkpoint(out).state_dict()
    floats = [k for k, v in got.items() if v.is_floating_point()]
    assert floats and any(not torch.equal(wa[k], wb[k]) for k in floats)
    for k in floats:
        torch.testing.assert_close(got[k], 0.75 * wa[k] + 0.25 * wb[k], rtol=1e-6, atol=1e-7)
    again = load_checkpoint(a).state_dict()  # the source file is untouched
    assert again.keys() == got.keys()
    assert all(torch.equal(again[k], wa[k]) for k in floats)


@pytest.mark.parametrize("extra, message", [
    (["--alpha", "0.5"], "expected --blend OTHER and --alpha A together, found only --alpha"),
    (["--blend", "B"], "expected --blend OTHER and --alpha A together, found only --blend"),
    (["--blend", "B", "--alpha", "1"], "--alpha: expected 0 < A < 1, found 1.0"),
    (["--blend", "B", "--alpha", "0"], "--alpha: expected 0 < A < 1, found 0.0"),
])
def test_blend_arguments_out_of_range_are_named(tmp_path, extra, message, capsys):
    a = _saved(tmp_path / "a.safetensors", small_config(), 1)
    _saved(tmp_path / "B", small_config(), 2)
    extra = [str(tmp_path / "B") if e == "B" else e for e in extra]
    assert cli.main(["model", str(a), *extra, "--out", str(tmp_path / "o.safetensors")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.safetensors").exists()


def test_blend_of_another_config_is_refused_by_name(tmp_path, capsys):
    a = _saved(tmp_path / "a.safetensors", small_config(), 1)
    other = dataclasses.replace(small_config(), vae=VAEConfig(latent_dim=32))
    b = _saved(tmp_path / "b.safetensors", other, 2)
    assert cli.main(["model", str(a), "--blend", str(b), "--alpha", "0.5"]) == 2
    assert "expected the checkpoint's config, found other values of ['vae']" in \
        capsys.readouterr().err
