"""A checkpoint carries the CFG scale and NFE chosen for it; readers use them when given none."""

import argparse
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
from livefoley.sidecar import serve
from livefoley.sidecar.runtime.model import recommended_sampling

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
    gen = StreamingGenerator(load_checkpoint(plain))
    assert (gen.guidance_scale, gen.nfe) == (DEFAULT_GUIDANCE, 1) == (3.0, 1)
    assert recommended_sampling(str(plain)) == {"guidance_scale": 3.0, "nfe": 1}
    assert recommended_sampling("tiny") == {"guidance_scale": 3.0, "nfe": 1}  # random weights


def test_model_command_records_the_scale_and_every_reader_uses_it(plain, tmp_path, capsys):
    out = tmp_path / "tagged.safetensors"
    assert cli.main(["model", str(plain), "--set-guidance", "2", "--out", str(out)]) == 0
    assert "sampling defaults: {'guidance_scale': 2.0}" in capsys.readouterr().out
    assert cli.main(["model", str(out), "--set-nfe", "4"]) == 0  # in place, keeps the scale
    want = {"guidance_scale": 2.0, "nfe": 4}
    assert read_sampling_defaults(plain) == {}  # the source is left as it was
    assert read_sampling_defaults(out) == want
    model = load_checkpoint(out)
    gen = StreamingGenerator(model)
    assert (gen.guidance_scale, gen.nfe) == (2.0, 4)
    assert StreamingGenerator(model, guidance=False).guidance_scale == 1.0
    assert recommended_sampling(str(out)) == want
    # serve: unset options come from the file, options the user names win.
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    cfg = serve._config(parser.parse_args(["--session", "s", "--model", str(out)]))
    assert (cfg.nfe, cfg.guidance_scale) == (4, 2.0)
    cfg = serve._config(parser.parse_args(["--session", "s", "--model", str(out), "--nfe", "1",
                                           "--guidance-scale", "3"]))
    assert (cfg.nfe, cfg.guidance_scale) == (1, 3.0)
    # The weights are untouched and the defaults survive a save (training's export path).
    a, b = load_checkpoint(plain).state_dict(), model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    again = tmp_path / "again.safetensors"
    save_checkpoint(model, again)
    assert read_sampling_defaults(again) == want
    # And they can be removed, in place.
    assert cli.main(["model", str(again), "--clear-sampling"]) == 0
    assert read_sampling_defaults(again) == {}
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("flag, value, message", [
    ("--set-guidance", "0.5", "expected a finite number >= 1"),
    ("--set-guidance", "nan", "expected a finite number >= 1"),
    ("--set-guidance", "inf", "expected a finite number >= 1"),
    ("--set-nfe", "0", r"nfe: expected an integer in 1..4, found 0"),
    ("--set-nfe", "5", r"nfe: expected an integer in 1..4, found 5"),
])
def test_model_command_refuses_values_out_of_range(plain, flag, value, message, capsys):
    assert cli.main(["model", str(plain), flag, value]) == 2
    assert message in capsys.readouterr().err
    assert read_sampling_defaults(plain) == {}


@pytest.mark.parametrize("text, message", [
    ("{not json", "expected sampling defaults as JSON"),
    (json.dumps({"guidance_scale": 2, "steps": 4}), r"sampling default 'steps': expected one of"),
    (json.dumps({"guidance_scale": "two"}), "expected a finite number >= 1, found 'two'"),
    (json.dumps([2.0]), "expected sampling defaults as a JSON object, found"),
    (json.dumps({"nfe": 2.5}), r"nfe: expected an integer in 1..4, found 2.5"),
])
def test_malformed_defaults_named_in_error(plain, tmp_path, text, message):
    bad = tmp_path / "bad.safetensors"
    _rewrite_meta(plain, bad, sampling=text)
    with pytest.raises(CheckpointError, match=message):
        read_sampling_defaults(bad)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(bad)
