"""Golden loads of DINOv2 checkpoints in HF and Meta format, written by the tests themselves."""

from __future__ import annotations

import math

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F

from livefoley.models.vision import build_vision_frontend, hf_to_meta, meta_to_hf
from livefoley.models.vision.pos_embed import interpolate_pos_embed

from .hf_models import hf_patch_features, make_hf_model, small_vit_config

pytest.importorskip("transformers")

TOL = 1e-5


@pytest.fixture(scope="module", params=[0, 4], ids=["plain", "registers"])
def hf_saved(request, tmp_path_factory):
    """(n_registers, HF model, directory it was saved to with save_pretrained)."""
    n_reg = request.param
    model = make_hf_model(n_reg, seed=n_reg)
    path = tmp_path_factory.mktemp(f"hf{n_reg}")
    model.save_pretrained(path)
    return n_reg, model, path


def _images(h: int, w: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _load(n_reg, path, **changes):
    return build_vision_frontend(small_vit_config(n_reg, checkpoint_path=str(path),
                                                  **changes)).backbone


@pytest.mark.parametrize("size", [(56, 56), (42, 70), (84, 42), (70, 70)],
                         ids=["pretrain", "wide", "tall", "square-larger"])
def test_hf_golden_load_matches_patch_features(hf_saved, size):
    n_reg, model, path = hf_saved
    vit = _load(n_reg, path, checkpoint_format="hf")
    x = _images(*size)
    with torch.no_grad():
        ours = vit(x)
    ref = hf_patch_features(model, x, n_reg)
    assert ours.shape == ref.shape == (2, (size[0] // 14) * (size[1] // 14), 32)
    torch.testing.assert_close(ours, ref, atol=TOL, rtol=0)


def test_hf_auto_format_detected(hf_saved):
    n_reg, model, path = hf_saved
    vit = _load(n_reg, path / "model.safetensors", checkpoint_format="auto")
    x = _images(42, 70, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(vit(x), hf_patch_features(model, x, n_reg), atol=TOL, rtol=0)


@pytest.mark.parametrize("ext", [".pth", ".safetensors"])
def test_meta_golden_load_via_key_table(hf_saved, tmp_path, ext):
    n_reg, model, path = hf_saved
    hf_state = safetensors.torch.load_file(path / "model.safetensors")
    meta_state = hf_to_meta(hf_state)
    assert "blocks.1.attn.qkv.weight" in meta_state and "cls_token" in meta_state
    assert ("register_tokens" in meta_state) == bool(n_reg)
    file = tmp_path / f"dinov2_meta{ext}"
    if ext == ".pth":
        torch.save(meta_state, file)
    else:
        safetensors.torch.save_file(meta_state, file)
    vit = _load(n_reg, file, checkpoint_format="meta")
    x = _images(70, 42, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(vit(x), hf_patch_features(model, x, n_reg), atol=TOL, rtol=0)


def test_key_table_round_trip_is_exact(hf_saved):
    _, _, path = hf_saved
    hf_state = safetensors.torch.load_file(path / "model.safetensors")
    back = meta_to_hf(hf_to_meta(hf_state))
    assert sorted(back) == sorted(hf_state)
    for key, value in hf_state.items():
        assert torch.equal(back[key], value), key


def test_transformers5_in_memory_names_load(hf_saved, tmp_path):
    # transformers >= 5 names q/k/v/o as q_proj/k_proj/v_proj/o_proj in memory.
    n_reg, model, _ = hf_saved
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    file = tmp_path / "inmem.safetensors"
    safetensors.torch.save_file(state, file)
    vit = _load(n_reg, file)
    x = _images(56, 56, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(vit(x), hf_patch_features(model, x, n_reg), atol=TOL, rtol=0)


def test_meta_chunked_block_names_load(hf_saved, tmp_path):
    # Meta's FSDP checkpoints name block i of chunk c "blocks.c.i.*".
    n_reg, model, path = hf_saved
    meta = hf_to_meta(safetensors.torch.load_file(path / "model.safetensors"))
    chunked = {}
    for key, value in meta.items():
        if key.startswith("blocks."):
            _, i, rest = key.split(".", 2)
            key = f"blocks.{int(i) // 2}.{i}.{rest}"  # chunks of 2 blocks
        chunked[key] = value
    assert "blocks.0.1.attn.qkv.weight" in chunked
    file = tmp_path / "chunked.pth"
    torch.save(chunked, file)
    vit = _load(n_reg, file, checkpoint_format="meta")
    x = _images(56, 56, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(vit(x), hf_patch_features(model, x, n_reg), atol=TOL, rtol=0)


def _meta_reference_interpolate(pos_embed, h_px, w_px, patch, offset, antialias):
    # Transcribed from facebookresearch/dinov2 vision_transformer.py
    # DinoVisionTransformer.interpolate_pos_encoding (its "w" is the image height).
    N = pos_embed.shape[1] - 1
    w0, h0 = h_px // patch, w_px // patch
    if w0 * h0 == N and h_px == w_px:
        return pos_embed
    patch_pos = pos_embed.float()[:, 1:]
    dim = pos_embed.shape[-1]
    M = int(math.sqrt(N))
    kwargs = {}
    if offset:
        kwargs["scale_factor"] = (float(w0 + offset) / M, float(h0 + offset) / M)
    else:
        kwargs["size"] = (w0, h0)
    patch_pos = F.interpolate(patch_pos.reshape(1, M, M, dim).permute(0, 3, 1, 2),
                              mode="bicubic", antialias=antialias, **kwargs)
    assert (w0, h0) == patch_pos.shape[-2:]
    patch_pos = patch_pos.permute(0, 2, 3, 1).view(1, -1, dim)
    return torch.cat((pos_embed[:, :1], patch_pos), dim=1)


@pytest.mark.parametrize("offset,antialias", [(0.1, False), (0.0, True), (0.0, False)],
                         ids=["meta-plain", "meta-reg", "size-only"])
@pytest.mark.parametrize("size", [(224, 224), (224, 392), (518, 518), (140, 98)])
def test_interpolation_matches_meta_reference(offset, antialias, size):
    pos = torch.randn(1, 1 + 37 * 37, 8, generator=torch.Generator().manual_seed(7))
    rows, cols = size[0] // 14, size[1] // 14
    ours = interpolate_pos_embed(pos[:, 1:], rows, cols, offset=offset, antialias=antialias)
    ref = _meta_reference_interpolate(pos, size[0], size[1], 14, offset, antialias)[:, 1:]
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


def test_offset_changes_the_result():
    # The 0.1 offset is not cosmetic: with it PyTorch samples at a different scale.
    pos = torch.randn(1, 37 * 37, 8, generator=torch.Generator().manual_seed(8))
    a = interpolate_pos_embed(pos, 16, 16, offset=0.1, antialias=False)
    b = interpolate_pos_embed(pos, 16, 16, offset=0.0, antialias=False)
    assert a.shape == b.shape == (1, 256, 8)
    assert (a - b).abs().max() > 1e-3


def test_hf_sharded_directory_loads(hf_saved, tmp_path):
    import json

    n_reg, model, path = hf_saved
    state = safetensors.torch.load_file(path / "model.safetensors")
    keys = sorted(state)
    half = len(keys) // 2
    shards = {"model-00001-of-00002.safetensors": keys[:half],
              "model-00002-of-00002.safetensors": keys[half:]}
    weight_map = {}
    for name, names in shards.items():
        safetensors.torch.save_file({k: state[k] for k in names}, tmp_path / name)
        weight_map.update({k: name for k in names})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    vit = _load(n_reg, tmp_path)
    x = _images(42, 56, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(vit(x), hf_patch_features(model, x, n_reg), atol=TOL, rtol=0)


def test_file_without_mask_token_loads(hf_saved, tmp_path):
    # HF Dinov2Model(use_mask_token=False) saves no mask token; inference never uses it.
    n_reg, model, path = hf_saved
    state = safetensors.torch.load_file(path / "model.safetensors")
    del state["embeddings.mask_token"]
    safetensors.torch.save_file(state, tmp_path / "nomask.safetensors")
    vit = _load(n_reg, tmp_path / "nomask.safetensors")
    x = _images(56, 56, seed=6)
    with torch.no_grad():
        torch.testing.assert_close(vit(x), hf_patch_features(model, x, n_reg), atol=TOL, rtol=0)


def test_encode_grid_of_frames_matches_hf_on_the_same_pixels(hf_saved):
    # The whole path: uint8 BGRA frames -> preprocess -> our ViT == HF's ViT on those pixels.
    n_reg, model, path = hf_saved
    cfg = small_vit_config(n_reg, checkpoint_path=str(path), input_width_px=84)
    fe = build_vision_frontend(cfg).eval()
    frames = torch.randint(0, 256, (2, 90, 200, 4), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        grid = fe.encode_grid(frames, "BGRA8")
        pixels = fe.preprocess(frames, "BGRA8")
    assert pixels.shape == (2, 3, 56, 84) and grid.shape == (2, 4 * 6, 32)
    torch.testing.assert_close(grid, hf_patch_features(model, pixels, n_reg), atol=TOL, rtol=0)
