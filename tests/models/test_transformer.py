"""Causal transformer: streaming equals the offline sliding-window pass, causality, bounded
KV memory over 10x the window, RoPE angles exact at large positions."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from livefoley.models import CausalTransformer, TransformerConfig
from livefoley.models.kv_cache import rope_angles, rope_inv_freq
from livefoley.models.transformer import sliding_causal_mask

# float32 with a different summation order (ring order of the cache vs. sequence order):
# differences are a few ulps of O(1) activations.
TOL = 1e-5


def _net(window_frames=3, **kw):
    torch.manual_seed(0)
    cfg = TransformerConfig(d_model=32, n_layers=2, n_heads=2, window_frames=window_frames, **kw)
    return CausalTransformer(cfg).eval()


@torch.no_grad()
def test_streaming_equals_offline_past_the_window():
    net = _net(window_frames=3)  # 6 tokens
    x = torch.randn(2, 25, 32)  # > 4x the window
    offline = net(x)
    cache = net.new_cache(2)
    streamed = torch.stack([net.step(x[:, t], cache) for t in range(25)], dim=1)
    assert (offline - streamed).abs().max().item() < TOL


@torch.no_grad()
def test_changing_future_tokens_changes_nothing_before():
    net = _net(window_frames=8)
    x = torch.randn(1, 12, 32)
    y = x.clone()
    y[:, 7:] = torch.randn(1, 5, 32)
    a, b = net(x), net(y)
    assert torch.equal(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


@torch.no_grad()
def test_window_bounds_attention():
    # Token 10 with a 2-token window must not see tokens 0..8 at one layer.
    torch.manual_seed(0)
    one = CausalTransformer(TransformerConfig(d_model=32, n_layers=1, n_heads=2,
                                              window_frames=1)).eval()
    x = torch.randn(1, 11, 32)
    y = x.clone()
    y[:, :9] = torch.randn(1, 9, 32)
    assert torch.allclose(one(x)[:, 10], one(y)[:, 10], atol=1e-6)
    mask = sliding_causal_mask(5, 2, torch.device("cpu"))
    assert mask.tolist() == [[i - 2 < j <= i for j in range(5)] for i in range(5)]


@torch.no_grad()
def test_kv_memory_flat_and_outputs_stable_over_10x_window():
    net = _net(window_frames=4)  # 8 tokens
    cache = net.new_cache(2)
    start_bytes = cache.storage_bytes()
    ptrs = (cache.k.data_ptr(), cache.v.data_ptr())
    steps = 10 * cache.capacity_tokens
    norms = []
    for _ in range(steps):
        out = net.step(torch.randn(2, 32), cache)
        assert torch.isfinite(out).all()
        norms.append(out.norm(dim=-1).mean().item())
    assert cache.storage_bytes() == start_bytes
    assert (cache.k.data_ptr(), cache.v.data_ptr()) == ptrs  # no reallocation
    assert int(cache.pos) == steps
    first = sum(norms[: cache.capacity_tokens]) / cache.capacity_tokens
    last = sum(norms[-cache.capacity_tokens:]) / cache.capacity_tokens
    assert 0.5 < last / first < 2.0  # final LayerNorm output: scale must not drift


@torch.no_grad()
def test_stream_far_from_origin_equals_offline_with_same_positions():
    # Relative RoPE: a stream that has run for a long time (here: cache pos set to 10^6)
    # gives the same outputs as the offline pass at those absolute positions.
    net = _net(window_frames=3)
    x = torch.randn(1, 9, 32)
    cache = net.new_cache(1)
    cache.pos.fill_(1_000_000)
    streamed = torch.stack([net.step(x[:, t], cache) for t in range(9)], dim=1)
    offline = net(x, start_pos=1_000_000)
    assert (offline - streamed).abs().max().item() < TOL
    # ... and the same as a stream from position 0: only relative offsets matter.
    origin = net(x)
    assert (origin - streamed).abs().max().item() < 1e-4


def test_rope_angles_exact_at_large_positions():
    inv = rope_inv_freq(64, 10000.0)
    pos = torch.tensor([10**8 + 3])  # ~38 days at 60 tokens/s
    cos, sin = rope_angles(pos, inv)
    k = 0  # frequency 1: angle = pos mod 2 pi
    ref = math.fmod(10**8 + 3, 2 * math.pi)
    assert abs(cos[0, k].item() - math.cos(ref)) < 1e-6
    assert abs(sin[0, k].item() - math.sin(ref)) < 1e-6


@settings(max_examples=10, deadline=None)
@given(window_frames=st.integers(1, 5), T=st.integers(1, 24), start=st.integers(0, 10**7))
@torch.no_grad()
def test_property_streaming_equals_offline_any_window_length_and_start(window_frames, T, start):
    net = _net(window_frames=window_frames)
    x = torch.randn(1, T, 32, generator=torch.Generator().manual_seed(T))
    cache = net.new_cache(1)
    cache.pos.fill_(start)
    streamed = torch.stack([net.step(x[:, t], cache) for t in range(T)], dim=1)
    assert (net(x, start_pos=start) - streamed).abs().max().item() < TOL


@torch.no_grad()
def test_past_the_window_the_model_is_a_fresh_model_on_recent_tokens():
    # With L layers and a window of w tokens, output t depends on tokens t - L*(w-1) .. t
    # only. So deep into a session the model computes exactly what a fresh model computes on
    # the recent tokens (RoPE is relative): nothing drifts, nothing collapses.
    net = _net(window_frames=3)  # w = 6 tokens, L = 2 layers -> 10 tokens of reach
    reach = 2 * (6 - 1)
    x = torch.randn(1, 60, 32)
    cache = net.new_cache(1)
    streamed = [net.step(x[:, t], cache) for t in range(60)]
    fresh = net(x[:, 60 - reach - 1:])[:, -1]  # a new stream, positions from 0
    assert (streamed[-1] - fresh).abs().max().item() < 1e-4
    shorter = net(x[:, 60 - reach:])[:, -1]  # one token too few: must differ
    assert not torch.allclose(streamed[-1], shorter, atol=1e-4)
