"""VisionConfig: round trip, strictness, presets have the sizes they claim, the kind dispatch."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from livefoley.models.vision import (
    VISION_DINOV2_TEST,
    VISION_SR,
    VISION_TINY,
    VisionConfig,
    build_vision_frontend,
)
from livefoley.protocol.errors import ConfigError


EDITED = VisionConfig(kind="tiny", input_size_px=256, input_width_px=512,
                      checkpoint_path="/x/y.pth", checkpoint_format="hf", wrap_horizontal=True,
                      aspect_mode="pad",
                      tiny_stem_px=2, tiny_channels_per_stage=(4, 8, 8, 8, 8))


@pytest.mark.parametrize("cfg", [VISION_TINY, VISION_SR, VISION_DINOV2_TEST, EDITED])
def test_round_trip_through_json(cfg):
    data = json.loads(json.dumps(cfg.to_dict()))
    assert VisionConfig.from_dict(data) == cfg


def test_unknown_key():
    data = VISION_TINY.to_dict() | {"vit_dpeth": 12}
    with pytest.raises(ConfigError) as err:
        VisionConfig.from_dict(data)
    assert "unknown key(s) ['vit_dpeth']" in str(err.value) and "'vit_depth'" in str(err.value)


def test_wrong_types():
    with pytest.raises(ConfigError) as err:
        VisionConfig.from_dict({"token_dim": "256"})
    assert "VisionConfig.token_dim: expected int, found str '256'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        VisionConfig.from_dict({"freeze_backbone": 1})
    assert "VisionConfig.freeze_backbone: expected bool, found int 1" in str(err.value)
    with pytest.raises(ConfigError) as err:
        VisionConfig.from_dict({"tiny_channels_per_stage": [16, "a"]})
    assert "expected a list of int, found [16, 'a']" in str(err.value)
    assert VisionConfig.from_dict({"vit_mlp_ratio": 4}).vit_mlp_ratio == 4.0


def test_unknown_kind_names_the_valid_kinds():
    with pytest.raises(ConfigError) as err:
        VisionConfig(kind="resnet")
    assert "expected one of ['tiny', 'dinov2'], found 'resnet'" in str(err.value)
    bad = VisionConfig()
    object.__setattr__(bad, "kind", "resnet")  # bypasses validation, as a foreign object could
    with pytest.raises(ConfigError) as err:
        build_vision_frontend(bad)
    assert "expected one of ['tiny', 'dinov2'], found 'resnet'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        build_vision_frontend({"kind": "tiny"})
    assert "expected a VisionConfig, found dict" in str(err.value)


def test_sizes_must_fit_the_encoder():
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(VISION_SR, input_size_px=230)
    assert "expected a multiple of the dinov2 encoder stride 14 px, found 230" in str(err.value)
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(VISION_TINY, agg_downsample=4)
    assert "expected a divisor of the grid 6x6, found 4" in str(err.value)
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(VISION_SR, wrap_horizontal=True)
    assert "expected kind 'tiny'" in str(err.value) and "found kind 'dinov2'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(VISION_TINY, aspect_mode="fill")
    assert "expected one of ['crop', 'pad', 'stretch'], found 'fill'" in str(err.value)


def test_presets_have_the_sizes_they_claim():
    assert VISION_SR.kind == "dinov2" and VISION_SR.freeze_backbone
    assert (VISION_SR.vit_embed_dim, VISION_SR.vit_depth, VISION_SR.vit_heads) == (384, 12, 6)
    assert (VISION_SR.vit_patch_px, VISION_SR.vit_registers) == (14, 4)
    assert VISION_SR.grid_shape == (16, 16) and VISION_SR.agg_tokens == 64
    assert VISION_SR.token_dim == 1024 and VISION_SR.resize_filter == "bicubic"
    assert VISION_TINY.kind == "tiny" and VISION_TINY.grid_shape == (6, 6)
    assert (VISION_TINY.grid_dim, VISION_TINY.token_dim) == (64, 256)
    assert VISION_DINOV2_TEST.kind == "dinov2" and VISION_DINOV2_TEST.grid_shape == (4, 4)
    assert VISION_DINOV2_TEST.vit_registers == 4 and VISION_DINOV2_TEST.vit_depth == 2


def test_sr_backbone_is_vit_s14_reg_sized():
    with torch.device("meta"):  # shapes only: no 30M random numbers on a shared CPU
        fe = build_vision_frontend(VISION_SR)
    n = sum(p.numel() for p in fe.backbone.parameters())
    # dinov2-vits14-reg: 21M without the 518 px position table (1370 x 384) and mask token.
    assert 21.0e6 < n - 1370 * 384 - 384 < 22.0e6
    assert fe.backbone.register_tokens.shape == (1, 4, 384)
    assert fe.token_dim == 1024 and fe.grid_shape == (16, 16)
