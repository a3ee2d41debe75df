"""Causal audio VAE: streaming decoder/encoder equal the offline passes, causality, shapes,
the analytic parameter count, and a 4-channel (FOA) configuration."""

import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from livefoley.models import AudioVAE, VAEConfig
from livefoley.models.vae import count_decoder_params
from livefoley.protocol.errors import ConfigError

# Overlap-add of the transposed convs sums in a different order than the offline kernel.
TOL = 1e-5

SMALL = VAEConfig(sample_rate_hz=600, channels=2, latent_dim=8, base_channels=4,
                  channel_mults=(1, 2, 4), strides=(2, 3, 4), res_dilations=(1, 3, 9))


def _vae(cfg=SMALL):
    torch.manual_seed(0)
    return AudioVAE(cfg).eval()


@torch.no_grad()
def test_decoder_streaming_equals_offline():
    vae = _vae()
    z = torch.randn(3, SMALL.latent_dim, 12)
    offline = vae.decode(z)
    assert offline.shape == (3, SMALL.channels, 12 * SMALL.hop_samples)
    state = vae.decoder.init_state(3)
    streamed = torch.cat([vae.decode_step(z[:, :, t:t + 1], state) for t in range(12)], dim=2)
    assert (offline - streamed).abs().max().item() < TOL
    assert offline.abs().max().item() > 1e-3  # not a trivially zero network


@torch.no_grad()
def test_decoder_streaming_in_uneven_chunks_equals_offline():
    vae = _vae()
    z = torch.randn(1, SMALL.latent_dim, 9)
    state = vae.decoder.init_state(1)
    parts = [vae.decode_step(z[:, :, a:b], state) for a, b in ((0, 1), (1, 4), (4, 5), (5, 9))]
    assert (vae.decode(z) - torch.cat(parts, dim=2)).abs().max().item() < TOL


@torch.no_grad()
def test_encoder_streaming_equals_offline():
    vae = _vae()
    hop = SMALL.hop_samples
    audio = torch.randn(2, SMALL.channels, 10 * hop)
    mean, std = vae.encode(audio)
    assert mean.shape == std.shape == (2, SMALL.latent_dim, 10)
    assert bool((std > 0).all())
    state = vae.encoder.init_state(2)
    means = [vae.encode_step(audio[:, :, t * hop:(t + 1) * hop], state)[0] for t in range(10)]
    assert (mean - torch.cat(means, dim=2)).abs().max().item() < TOL


@torch.no_grad()
def test_decoder_is_causal():
    vae = _vae()
    hop = SMALL.hop_samples
    z = torch.randn(1, SMALL.latent_dim, 10)
    z2 = z.clone()
    z2[:, :, 6:] = torch.randn(1, SMALL.latent_dim, 4)
    a, b = vae.decode(z), vae.decode(z2)
    assert torch.equal(a[:, :, : 6 * hop], b[:, :, : 6 * hop])
    assert not torch.allclose(a[:, :, 6 * hop:], b[:, :, 6 * hop:])


@torch.no_grad()
def test_encoder_is_causal():
    vae = _vae()
    hop = SMALL.hop_samples
    x = torch.randn(1, SMALL.channels, 8 * hop)
    y = x.clone()
    y[:, :, 5 * hop:] = torch.randn(1, SMALL.channels, 3 * hop)
    assert torch.equal(vae.encode(x)[0][:, :, :5], vae.encode(y)[0][:, :, :5])


def test_decoder_state_is_static():
    vae = _vae()
    state = vae.decoder.init_state(2)
    ptrs = [t.data_ptr() for t in state]
    nbytes = vae.decoder.state_bytes(state)
    with torch.no_grad():
        for _ in range(5):
            vae.decode_step(torch.randn(2, SMALL.latent_dim, 1), state)
    assert [t.data_ptr() for t in state] == ptrs
    assert vae.decoder.state_bytes(state) == nbytes


@pytest.mark.parametrize("cfg", [SMALL, VAEConfig(base_channels=8, channels=4)])
def test_decoder_param_count_matches_layers(cfg):
    with torch.device("meta"):
        vae = AudioVAE(cfg)
    assert sum(p.numel() for p in vae.decoder.parameters()) == count_decoder_params(cfg)


@torch.no_grad()
def test_four_channel_foa_config_decodes_four_channels():
    cfg = VAEConfig(sample_rate_hz=600, channels=4, latent_dim=8, base_channels=4,
                    channel_mults=(1, 2), strides=(4, 5), res_dilations=(1,))
    vae = _vae(cfg)
    assert vae.decode(torch.randn(1, 8, 3)).shape == (1, 4, 60)
    assert vae.encode(torch.randn(1, 4, 60))[0].shape == (1, 8, 3)


FOA_DIR = VAEConfig(sample_rate_hz=600, channels=4, latent_dim=8, base_channels=4,
                    channel_mults=(1, 2), strides=(4, 5), res_dilations=(1,),
                    decoder_output="foa_direction")


def _plane_wave(direction_per_hop, hop, seed=0):
    """AmbiX (1, 4, T * hop): noise whose direction (unit (x, y, z)) changes per hop."""
    g = torch.Generator().manual_seed(seed)
    u = torch.tensor(direction_per_hop, dtype=torch.float32)  # (T, 3) x, y, z
    s = torch.randn(len(u) * hop, generator=g)
    per_sample = u.repeat_interleave(hop, 0)  # (N, 3)
    return torch.stack([s, per_sample[:, 1] * s, per_sample[:, 2] * s, per_sample[:, 0] * s])[None]


@torch.no_grad()
def test_foa_direction_latent_is_the_direction_and_the_decoder_restores_it():
    from livefoley.models.foa_latent import hop_direction

    vae = _vae(FOA_DIR)
    hop = FOA_DIR.hop_samples
    dirs = [(1, 0, 0), (0, 1, 0), (0, 0, -1), (-0.6, 0.8, 0), (0.6, 0, 0.8)]  # front, left, down, ...
    foa = _plane_wave(dirs, hop)
    want = torch.tensor(dirs, dtype=torch.float32)[:, [1, 2, 0]].T  # (3, T) in Y, Z, X order
    assert (hop_direction(foa, hop)[0] - want).abs().max().item() < 1e-5  # exact for one source
    mean, std = vae.encode(foa)
    assert (mean[0, -3:] - want).abs().max().item() < 1e-5 and std[0, -3:].max().item() < 2e-4
    out = vae.decode(mean)  # (1, 4, N): every dipole is the decoded W times the hop's gains
    w = out[:, :1]
    assert w.abs().max().item() > 1e-4
    for t in range(1, len(dirs)):  # a hop's last sample: past its crossfade (the whole hop here)
        seg = slice((t + 1) * hop - 1, (t + 1) * hop)
        ratio = out[0, 1:, seg] / w[0, :, seg]
        assert (ratio - want[:, t:t + 1]).abs().max().item() < 1e-3, t


@torch.no_grad()
def test_foa_direction_streams_like_offline_and_crossfades_between_hops():
    vae = _vae(FOA_DIR)
    z = torch.randn(2, 8, 7)
    offline = vae.decode(z)
    state = vae.decoder.init_state(2)
    streamed = torch.cat([vae.decode_step(z[:, :, t:t + 1], state) for t in range(7)], dim=2)
    assert (offline - streamed).abs().max().item() < TOL
    enc = vae.encoder.init_state(1)
    foa = _plane_wave([(1, 0, 0), (0, 1, 0), (0, -1, 0)], FOA_DIR.hop_samples)
    hop = FOA_DIR.hop_samples
    steps = torch.cat([vae.encode_step(foa[:, :, t * hop:(t + 1) * hop], enc)[0] for t in range(3)], 2)
    assert (steps - vae.encode(foa)[0]).abs().max().item() < TOL
    from livefoley.models.foa_latent import GainRamp

    ramp = GainRamp(1, hop=10, ramp=4)
    g = ramp(torch.tensor([[[0.0, 1.0]]]))[0, 0]  # gains 0 then 1: a 4-sample linear ramp
    assert torch.allclose(g[10:14], torch.tensor([0.25, 0.5, 0.75, 1.0])) and torch.all(g[14:] == 1)


def test_foa_direction_needs_four_channels_and_a_known_output():
    with pytest.raises(ConfigError, match="needs 4 channels .* found 2 and 64"):
        VAEConfig(channels=2, decoder_output="foa_direction")
    with pytest.raises(ConfigError, match=r"decoder_output: expected one of \['direct', 'foa_direction'\], found 'fuma'"):
        VAEConfig(channels=4, decoder_output="fuma")
    with torch.device("meta"):
        vae = AudioVAE(dataclasses.replace(FOA_DIR, base_channels=8))
    assert sum(p.numel() for p in vae.decoder.parameters()) == count_decoder_params(vae.cfg)


@torch.no_grad()
def test_folding_the_latent_scale_keeps_the_foa_round_trip():
    from livefoley.models.training.export import fold_latent_scale

    vae = _vae(FOA_DIR)
    foa = _plane_wave([(0, 1, 0), (-1, 0, 0), (0, 0, 1)], FOA_DIR.hop_samples)
    before_mean, _ = vae.encode(foa)
    before = vae.decode(before_mean)
    fold_latent_scale(vae, 3.0)
    mean, _ = vae.encode(foa)
    assert torch.allclose(mean, 3.0 * before_mean, atol=1e-5)  # every dim, direction included
    assert (vae.decode(mean) - before).abs().max().item() < 1e-4


@torch.no_grad()
def test_snake_inference_cache_follows_weight_updates():
    from livefoley.models.streaming_conv import SnakeBeta

    snake = SnakeBeta(3)
    x = torch.randn(1, 3, 10)
    before = snake(x)
    snake.alpha.add_(0.5)  # in place, as an optimiser step
    after = snake(x)
    ref = x + torch.sin(x * math.exp(0.5)).pow(2)  # beta = 0: magnitude 1
    assert not torch.allclose(before, after)
    assert torch.allclose(after, ref, atol=1e-6)
    snake.load_state_dict({"alpha": torch.zeros(3), "beta": torch.zeros(3)})
    assert torch.allclose(snake(x), before, atol=1e-6)


@settings(max_examples=12, deadline=None)
@given(strides=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       dilations=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       cuts=st.lists(st.integers(1, 3), min_size=1, max_size=6))
def test_property_decoder_streams_like_offline_for_any_shape_and_chunking(strides, dilations, cuts):
    cfg = VAEConfig(sample_rate_hz=600, channels=2, latent_dim=4, base_channels=3,
                    channel_mults=tuple(1 + i for i in range(len(strides))),
                    strides=tuple(strides), res_dilations=tuple(dilations), res_kernel=3)
    vae = _vae(cfg)
    T = sum(cuts)
    z = torch.randn(1, cfg.latent_dim, T)
    state = vae.decoder.init_state(1)
    bounds = [0]
    for c in cuts:
        bounds.append(bounds[-1] + c)
    with torch.no_grad():
        parts = [vae.decode_step(z[:, :, a:b], state) for a, b in zip(bounds, bounds[1:])]
        assert (vae.decode(z) - torch.cat(parts, dim=2)).abs().max().item() < TOL
