"""Checkpoints: a round trip gives the same audio; every bad case fails by name with
CheckpointError naming what was expected and what was found."""

import dataclasses
import json
import struct

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from livefoley.models import (
    SCHEMA_VERSION,
    StreamingGenerator,
    build_model,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from livefoley.protocol.errors import CheckpointError

from .helpers import random_frames, small_config


@pytest.fixture
def ckpt(tmp_path, model):
    path = tmp_path / "m.safetensors"
    save_checkpoint(model, path)
    return path


def _read(path):
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())


def test_round_trip_gives_identical_audio(ckpt, model):
    loaded = load_checkpoint(ckpt, "cpu")
    assert loaded.config == model.config
    frames = random_frames(1, 4)
    a = StreamingGenerator(model, seed=4).generate(frames)
    b = StreamingGenerator(loaded, seed=4).generate(frames)
    assert torch.equal(a, b)


def test_checkpoint_config_mismatch(ckpt, cfg):
    other = dataclasses.replace(cfg, transformer=dataclasses.replace(cfg.transformer, n_layers=3))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt, "cpu", config=other)
    msg = str(e.value)
    assert "transformer.n_layers: expected 3, found 2" in msg


def test_truncated_file(ckpt):
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[:-100])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert "truncated" in str(e.value)
    assert f"expected {len(data)} bytes" in str(e.value)
    assert f"found {len(data) - 100}" in str(e.value)


def test_truncated_inside_header(ckpt):
    data = ckpt.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    ckpt.write_bytes(data[:100])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert f"expected a {n}-byte header" in str(e.value) and "found 92 bytes" in str(e.value)


def test_version_too_new(ckpt):
    tensors, meta = _read(ckpt)
    meta["schema_version"] = str(SCHEMA_VERSION + 1)
    save_file(tensors, str(ckpt), metadata=meta)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    want = f"expected schema version <= {SCHEMA_VERSION}, found {SCHEMA_VERSION + 1}"
    assert want in str(e.value)


def test_foreign_format(ckpt):
    tensors, meta = _read(ckpt)
    meta["format"] = "someone.else"
    save_file(tensors, str(ckpt), metadata=meta)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert "expected format 'livefoley.v2a'" in str(e.value) and "'someone.else'" in str(e.value)


def test_bad_config_json(ckpt):
    tensors, meta = _read(ckpt)
    cfg = json.loads(meta["config"])
    cfg["head"]["widht"] = 3
    meta["config"] = json.dumps(cfg)
    save_file(tensors, str(ckpt), metadata=meta)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert "widht" in str(e.value) and "width" in str(e.value)


def test_checkpoint_missing_tensor(ckpt):
    tensors, meta = _read(ckpt)
    del tensors["head.cond_embed.weight"]
    save_file(tensors, str(ckpt), metadata=meta)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert "missing tensors ['head.cond_embed.weight']" in str(e.value)
    assert f"of {len(tensors) + 1} expected" in str(e.value)


def test_checkpoint_extra_tensor(ckpt):
    tensors, meta = _read(ckpt)
    tensors["head.surprise"] = torch.zeros(3)
    save_file(tensors, str(ckpt), metadata=meta)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert "unexpected tensors ['head.surprise']" in str(e.value)


def test_checkpoint_shape_mismatch(ckpt, cfg):
    tensors, meta = _read(ckpt)
    key = "audio_in.weight"
    found = (cfg.transformer.d_model, cfg.latent_dim + 1)
    tensors[key] = torch.zeros(found)
    save_file(tensors, str(ckpt), metadata=meta)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert f"tensor {key}: expected shape {(cfg.transformer.d_model, cfg.latent_dim)}, " \
           f"found {found}" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "nope.safetensors")
    assert "nope.safetensors" in str(e.value) and "found none" in str(e.value)


def test_load_model_preset_is_deterministic_and_unknown_is_named():
    a, b = load_model("tiny"), load_model("tiny")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    with pytest.raises(CheckpointError) as e:
        load_model("no-such-model")
    assert "'no-such-model'" in str(e.value) and "tiny" in str(e.value)


def test_seed_changes_weights():
    a = build_model(small_config())
    b = build_model(dataclasses.replace(small_config(), seed=99))
    assert not torch.equal(a.head.cond_embed.weight, b.head.cond_embed.weight)


def test_truncated_anywhere_is_a_checkpoint_error(ckpt):
    data = ckpt.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    for cut in (0, 4, 8, 20, 8 + n - 1, 8 + n, 8 + n + 10, len(data) - 1):
        ckpt.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(ckpt)
        assert str(ckpt) in str(e.value) and "found" in str(e.value), cut


def test_garbage_header_is_a_checkpoint_error(ckpt):
    data = bytearray(ckpt.read_bytes())
    data[9:20] = b"\xff" * 11  # inside the JSON header
    ckpt.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert "expected a JSON safetensors header" in str(e.value)


def test_header_of_the_wrong_shape_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "list.safetensors"
    header = json.dumps([1, 2, 3]).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert "expected a safetensors header mapping" in str(e.value) and "found list" in str(e.value)


def test_checkpoint_dtype_kind_mismatch(ckpt):
    tensors, meta = _read(ckpt)
    key = "head.cond_embed.bias"
    tensors[key] = torch.zeros(tensors[key].shape, dtype=torch.int64)
    save_file(tensors, str(ckpt), metadata=meta)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert f"tensor {key}: expected dtype torch.float32" in str(e.value)
    assert "found torch.int64" in str(e.value)


def test_bfloat16_checkpoint_loads_into_float32_model(tmp_path, model):
    path = tmp_path / "bf16.safetensors"
    save_checkpoint(model.to(torch.bfloat16), path)
    loaded = load_checkpoint(path)
    assert loaded.head.cond_embed.weight.dtype == torch.float32
    assert torch.equal(loaded.head.cond_embed.weight, model.head.cond_embed.weight.float())
