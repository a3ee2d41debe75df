"""Bad DINOv2 checkpoints fail by name: CheckpointError naming expected and found."""

from __future__ import annotations

import pytest
import safetensors.torch
import torch

from livefoley.models.vision import build_vision_frontend, hf_to_meta
from livefoley.protocol.errors import CheckpointError

from .hf_models import make_hf_model, small_vit_config

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf_state(tmp_path_factory):
    """The tensors of a registers model as `save_pretrained` writes them."""
    path = tmp_path_factory.mktemp("hf_bad")
    make_hf_model(4, seed=11).save_pretrained(path)
    return safetensors.torch.load_file(path / "model.safetensors")


def _write(path, state):
    safetensors.torch.save_file(state, path)
    return path


def _build(path, n_reg=4, **changes):
    return build_vision_frontend(small_vit_config(n_reg, checkpoint_path=str(path), **changes))


def test_checkpoint_missing_key(hf_state, tmp_path):
    state = dict(hf_state)
    del state["encoder.layer.1.mlp.fc2.weight"]
    with pytest.raises(CheckpointError) as err:
        _build(_write(tmp_path / "m.safetensors", state))
    assert "missing keys ['blocks.1.mlp.fc2.weight']" in str(err.value)


def test_checkpoint_missing_part_of_qkv(hf_state, tmp_path):
    state = dict(hf_state)
    del state["encoder.layer.0.attention.attention.key.weight"]
    with pytest.raises(CheckpointError) as err:
        _build(_write(tmp_path / "m.safetensors", state))
    assert "encoder.layer.0.attention.attention.key.weight" in str(err.value)
    assert "expected query, key and value in layer 0" in str(err.value)


def test_checkpoint_shape_mismatch(hf_state, tmp_path):
    state = dict(hf_state)
    state["embeddings.register_tokens"] = torch.zeros(1, 2, 32)
    with pytest.raises(CheckpointError) as err:
        _build(_write(tmp_path / "m.safetensors", state))
    assert "register_tokens: expected shape (1, 4, 32), found (1, 2, 32)" in str(err.value)


def test_checkpoint_wrong_depth_and_width(hf_state, tmp_path):
    path = _write(tmp_path / "m.safetensors", hf_state)
    with pytest.raises(CheckpointError) as err:
        _build(path, vit_depth=3)
    assert "missing keys" in str(err.value) and "blocks.2.norm1.weight" in str(err.value)
    with pytest.raises(CheckpointError) as err:
        _build(path, vit_embed_dim=48)
    assert "cls_token: expected shape (1, 1, 48), found (1, 1, 32)" in str(err.value)


def test_checkpoint_unexpected_key_registers_into_plain_model(hf_state, tmp_path):
    with pytest.raises(CheckpointError) as err:
        _build(_write(tmp_path / "m.safetensors", hf_state), n_reg=0)
    assert "unexpected keys ['register_tokens']" in str(err.value)


def test_checkpoint_wrong_format(hf_state, tmp_path):
    path = _write(tmp_path / "m.safetensors", hf_state)
    with pytest.raises(CheckpointError) as err:
        _build(path, checkpoint_format="meta")
    assert "expected meta format, found hf format" in str(err.value)
    meta_path = tmp_path / "meta.pth"
    torch.save(hf_to_meta(hf_state), meta_path)
    with pytest.raises(CheckpointError) as err:
        _build(meta_path, checkpoint_format="hf")
    assert "expected hf format, found meta format" in str(err.value)


def test_checkpoint_unknown_key_names(tmp_path):
    path = _write(tmp_path / "other.safetensors", {"conv1.weight": torch.zeros(2)})
    with pytest.raises(CheckpointError) as err:
        _build(path)
    msg = str(err.value)
    assert "'cls_token'" in msg and "'embeddings.cls_token'" in msg and "conv1.weight" in msg


def test_checkpoint_truncated(hf_state, tmp_path):
    path = _write(tmp_path / "m.safetensors", hf_state)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as err:
        _build(path)
    assert str(path) in str(err.value) and "cannot read" in str(err.value)


def test_checkpoint_not_there_and_bad_extension(tmp_path):
    with pytest.raises(CheckpointError) as err:
        _build(tmp_path / "absent.safetensors")
    assert "absent.safetensors" in str(err.value) and "found nothing there" in str(err.value)
    bad = tmp_path / "weights.npz"
    bad.write_bytes(b"x")
    with pytest.raises(CheckpointError) as err:
        _build(bad)
    assert "expected extension .safetensors, .pth, .pt or .bin, found .npz" in str(err.value)
    with pytest.raises(CheckpointError) as err:
        _build(tmp_path)
    assert "expected model.safetensors or model.safetensors.index.json" in str(err.value)


def test_checkpoint_pickle_code_refused(tmp_path):
    # weights_only=True: a .pth that carries arbitrary objects is refused, not executed.
    path = tmp_path / "evil.pth"
    torch.save({"cls_token": torch.zeros(1), "obj": _NotATensor()}, path)
    with pytest.raises(CheckpointError) as err:
        _build(path)
    assert "cannot read" in str(err.value)


class _NotATensor:
    pass


def test_hf_config_heads_mismatch_is_caught(tmp_path):
    # Heads change no tensor shape: only the HF config.json can reveal the mismatch.
    make_hf_model(4, seed=12).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError) as err:
        _build(tmp_path, vit_heads=4)
    assert "num_attention_heads: expected 4, found 2" in str(err.value)
