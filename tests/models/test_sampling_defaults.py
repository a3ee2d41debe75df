"""A checkpoint carries the CFG scale chosen for it; readers use it when given none."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from livefoley.models.checkpoint import (
    load_checkpoint,
    read_sampling_defaults,
    save_checkpoint,
)
from livefoley.models.generator import DEFAULT_GUIDANCE, StreamingGenerator
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import CheckpointError
from livefoley.sidecar import cli
from livefoley.sidecar.runtime.model import recommended_guidance

from ..training.helpers import small_config


@pytest.fixture()
def plain(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "plain.safetensors"
    save_checkpoint(build_model(small_config()), path)
    return path


def _rewrite_meta(src, dest, **changes):
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta.update(changes)
    save_file(tensors, str(dest), metadata=meta)


def test_a_checkpoint_without_defaults_samples_at_the_generator_default(plain):
    assert read_sampling_defaults(plain) == {}
    model = load_checkpoint(plain)
    assert StreamingGenerator(model).guidance_scale == DEFAULT_GUIDANCE == 3.0
    assert recommended_guidance(str(plain)) == 3.0
    assert recommended_guidance("tiny") == 3.0  # random weights: nothing recorded


def test_model_command_records_the_scale_and_every_reader_uses_it(plain, tmp_path, capsys):
    out = tmp_path / "tagged.safetensors"
    assert cli.main(["model", str(plain), "--set-guidance", "2", "--out", str(out)]) == 0
    assert "sampling defaults: {'guidance_scale': 2.0}" in capsys.readouterr().out
    assert read_sampling_defaults(plain) == {}  # the source is left as it was
    assert read_sampling_defaults(out) == {"guidance_scale": 2.0}
    model = load_checkpoint(out)
    assert StreamingGenerator(model).guidance_scale == 2.0
    assert StreamingGenerator(model, guidance=False).guidance_scale == 1.0
    assert recommended_guidance(str(out)) == 2.0
    # The weights are untouched and the defaults survive a save (training's export path).
    a, b = load_checkpoint(plain).state_dict(), model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    again = tmp_path / "again.safetensors"
    save_checkpoint(model, again)
    assert read_sampling_defaults(again) == {"guidance_scale": 2.0}
    # And they can be removed, in place.
    assert cli.main(["model", str(again), "--clear-sampling"]) == 0
    assert read_sampling_defaults(again) == {}
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("value", ["0.5", "nan", "inf"])
def test_model_command_refuses_a_scale_below_one(plain, value, capsys):
    assert cli.main(["model", str(plain), "--set-guidance", value]) == 2
    assert "expected a finite number >= 1" in capsys.readouterr().err
    assert read_sampling_defaults(plain) == {}


@pytest.mark.parametrize("text, message", [
    ("{not json", "expected sampling defaults as JSON"),
    (json.dumps({"guidance_scale": 2, "steps": 4}), r"sampling default 'steps': expected one of"),
    (json.dumps({"guidance_scale": "two"}), "expected a finite number >= 1, found 'two'"),
    (json.dumps([2.0]), "expected sampling defaults as a JSON object, found"),
])
def test_malformed_defaults_named_in_error(plain, tmp_path, text, message):
    bad = tmp_path / "bad.safetensors"
    _rewrite_meta(plain, bad, sampling=text)
    with pytest.raises(CheckpointError, match=message):
        read_sampling_defaults(bad)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(bad)
