"""Model configs: strict dict round trip, refusals by name, and presets of the claimed sizes
(`sr` counted on the meta device or analytically, never allocated)."""

import dataclasses
import json

import pytest
import torch

from livefoley.models import (
    PRESETS,
    SR,
    TINY,
    ModelConfig,
    TransformerConfig,
    VAEConfig,
    get_preset,
)
from livefoley.models.head import count_head_params
from livefoley.models.transformer import CausalTransformer
from livefoley.models.vae import count_decoder_params
from livefoley.protocol.errors import ConfigError


@pytest.mark.parametrize("name", ["tiny", "sr", "spatial_tiny"])
def test_round_trip_through_json(name):
    cfg = PRESETS[name]
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_unknown_key_is_refused_by_name():
    d = TINY.to_dict()
    d["transformer"]["n_layer"] = 3
    with pytest.raises(ConfigError) as e:
        ModelConfig.from_dict(d)
    assert "n_layer" in str(e.value) and "n_layers" in str(e.value)


def test_wrong_type_is_refused_by_name():
    d = TINY.to_dict()
    d["vae"]["strides"] = "2,4"
    with pytest.raises(ConfigError) as e:
        ModelConfig.from_dict(d)
    assert "VAEConfig.strides" in str(e.value) and "'2,4'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        TransformerConfig.from_dict({"d_model": 256.5})
    assert "expected int" in str(e.value) and "256.5" in str(e.value)


def test_invalid_sizes_are_refused():
    with pytest.raises(ConfigError) as e:
        TransformerConfig(d_model=100, n_heads=3)
    assert "d_model=100" in str(e.value) and "n_heads=3" in str(e.value)
    with pytest.raises(ConfigError) as e:
        VAEConfig(channel_mults=(1, 2), strides=(2, 4, 5))
    assert "(3)" in str(e.value) and "found 2" in str(e.value)
    with pytest.raises(ConfigError) as e:
        get_preset("huge")
    assert "'huge'" in str(e.value) and "tiny" in str(e.value)


@pytest.mark.parametrize("cfg", [TINY, SR])
def test_frame_contract_48k_stereo_hop_1600_at_30hz(cfg):
    assert cfg.hop_samples == 1600
    assert cfg.sample_rate_hz == 48000
    assert cfg.latent_rate_hz == 30.0
    assert cfg.channels == 2
    assert cfg.latent_dim == 64


def test_frozen_and_replace():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TINY.seed = 3  # type: ignore[misc]
    four = dataclasses.replace(SR, vae=dataclasses.replace(SR.vae, channels=4))
    assert four.channels == 4 and SR.channels == 2


def _meta_params(module_factory) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in module_factory().parameters())


def test_sr_preset_sizes():
    t = SR.transformer
    assert (t.n_layers, t.d_model) == (24, 1024)
    n_transformer = _meta_params(lambda: CausalTransformer(t))
    assert 290e6 < n_transformer < 315e6  # "roughly 300M"
    h = SR.head
    assert (h.n_blocks, h.width) == (3, 1024)
    n_head = count_head_params(SR.latent_dim, SR.cond_dim, h.width, h.n_blocks,
                               h.time_embed_dim, h.logvar_channels)
    assert 20e6 < n_head < 25e6  # MAR-L's head (~20M) with a 2048-wide condition
    assert SR.vae.strides == (2, 4, 5, 5, 8) and SR.vae.base_channels == 128
    assert 74e6 < count_decoder_params(SR.vae) < 76.5e6  # SoundReactor causal VAE decoder ~75M
    v = SR.vision
    assert (v.kind, v.vit_embed_dim, v.vit_depth, v.vit_heads, v.vit_patch_px,
            v.vit_registers) == ("dinov2", 384, 12, 6, 14, 4)  # ViT-S/14 with registers


def test_head_param_count_matches_module():
    from livefoley.models import DiffusionHead

    head = DiffusionHead(latent_dim=64, cond_dim=512, width=256, n_blocks=2)
    assert sum(p.numel() for p in head.parameters()) == count_head_params(64, 512, 256, 2)


def test_tiny_preset_is_small():
    t = TINY.transformer
    assert t.d_model <= 256 and t.n_layers <= 4
    assert count_decoder_params(TINY.vae) < 2e6
    assert TINY.vision.kind == "tiny"


def test_sr_whole_model_on_meta_device():
    from livefoley.models import V2AModel

    with torch.device("meta"):
        counts = V2AModel(SR).param_counts()
    assert 290e6 < counts["transformer"] < 315e6
    assert 20e6 < counts["head"] < 25e6
    assert 74e6 < counts["vae_decoder"] < 76.5e6
    assert 21e6 < counts["vision"] < 40e6  # ViT-S/14-reg (~22M) + aggregator
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
