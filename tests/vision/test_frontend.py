"""Vision front-end: streaming equals offline, first-frame delta, causality, resets, freezing."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from livefoley.models.vision import (
    VISION_TINY,
    TinyGridEncoder,
    VisionConfig,
    build_vision_frontend,
)
from livefoley.protocol.errors import ConfigError, ProtocolError

TOL = 1e-5

SMALL_DINO = VisionConfig(kind="dinov2", token_dim=24, input_size_px=56, input_width_px=84,
                          vit_embed_dim=32, vit_depth=2, vit_heads=2, vit_registers=4,
                          vit_pretrain_size_px=56, agg_dim=16, agg_heads=2, agg_downsample=2)
CONFIGS = {"tiny": VISION_TINY, "dinov2-small": SMALL_DINO,
           "tiny-wide-pad": dataclasses.replace(VISION_TINY, input_width_px=192,
                                                aspect_mode="pad", wrap_horizontal=True)}


def _frames(B: int, T: int, H: int = 50, W: int = 80, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (B, T, H, W, 4), generator=gen, dtype=torch.uint8)


def _build(cfg: VisionConfig, seed: int = 0):
    torch.manual_seed(seed)
    return build_vision_frontend(cfg).eval()


def _stream(fe, frames, fmt="RGBA8"):
    state = fe.init_state(frames.shape[0])
    out = []
    for t in range(frames.shape[1]):
        tok, state = fe.step(frames[:, t], fmt, state)
        out.append(tok)
    return torch.stack(out, dim=1), state  # (B, T, token_dim)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_streaming_equals_offline(name):
    fe = _build(CONFIGS[name])
    frames = _frames(2, 6)
    with torch.no_grad():
        offline = fe(frames, "RGBA8")
        streamed, _ = _stream(fe, frames)
    assert offline.shape == (2, 6, fe.token_dim)
    torch.testing.assert_close(streamed, offline, atol=TOL, rtol=0)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_tokens_from_cached_grid_equal_forward(name):
    fe = _build(CONFIGS[name])
    frames = _frames(2, 4, seed=1)
    with torch.no_grad():
        grid = torch.stack([fe.encode_grid(frames[:, t], "RGBA8") for t in range(4)], dim=1)
        cfg = CONFIGS[name]
        assert grid.shape == (2, 4, cfg.grid_tokens, cfg.grid_dim)
        torch.testing.assert_close(fe.tokens_from_grid(grid), fe(frames, "RGBA8"),
                                   atol=TOL, rtol=0)


def test_first_frame_delta_is_zero():
    # A static scene has zero delta everywhere; with V_0 := V_1 the first token is the same
    # as every later one. (With V_0 := 0 it would differ: checked below, so this can fail.)
    fe = _build(VISION_TINY)
    frame = _frames(1, 1, seed=2)
    static = frame.expand(1, 5, *frame.shape[2:])
    with torch.no_grad():
        tokens = fe(static, "RGBA8")  # (1, 5, D)
        for t in range(1, 5):
            torch.testing.assert_close(tokens[:, t], tokens[:, 0], atol=TOL, rtol=0)
        grid = fe.encode_grid(frame[:, 0], "RGBA8")
        zero_prev = fe.aggregator(grid, torch.zeros_like(grid))
    assert (zero_prev - tokens[:, 0]).abs().max() > 1e-3


def test_reset_rows_restarts_only_the_selected_sessions():
    fe = _build(VISION_TINY)
    frames = _frames(2, 4, seed=3)
    with torch.no_grad():
        _, state = _stream(fe, frames[:, :3])
        state = state.reset_rows(torch.tensor([True, False]))
        tok, _ = fe.step(frames[:, 3], "RGBA8", state)
        fresh, _ = fe.step(frames[:1, 3], "RGBA8", fe.init_state(1))
        continued = fe(frames[1:], "RGBA8")[:, 3]
    torch.testing.assert_close(tok[:1], fresh, atol=TOL, rtol=0)
    torch.testing.assert_close(tok[1:], continued, atol=TOL, rtol=0)


def test_causality_future_frames_change_nothing_before():
    fe = _build(SMALL_DINO)
    frames = _frames(1, 6, seed=4)
    changed = frames.clone()
    changed[:, 3:] = 255 - changed[:, 3:]
    with torch.no_grad():
        a, b = fe(frames, "RGBA8"), fe(changed, "RGBA8")
    torch.testing.assert_close(a[:, :3], b[:, :3], atol=0, rtol=0)
    assert (a[:, 3:] - b[:, 3:]).abs().amax(dim=-1).min() > 1e-4


def test_wrap_horizontal_rolls_the_grid_with_the_image():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 64)
    for wrap in (True, False):
        enc = TinyGridEncoder(channels=(8, 8, 8), stem_px=4, wrap_horizontal=wrap).eval()
        with torch.no_grad():
            g = enc(x).view(1, 2, 4, 8)  # (B, rows, cols, D)
            g_rolled = enc(x.roll(16, dims=-1)).view(1, 2, 4, 8)  # one grid cell is 16 px
        equal = torch.allclose(g_rolled, g.roll(1, dims=2), atol=1e-5)
        assert equal == wrap


def test_frozen_backbone_gets_no_gradient():
    fe = build_vision_frontend(SMALL_DINO).train()
    assert not fe.backbone.training and fe.aggregator.training
    assert not any(p.requires_grad for p in fe.backbone.parameters())
    fe(_frames(1, 2), "RGBA8").sum().backward()
    assert all(p.grad is None for p in fe.backbone.parameters())
    assert fe.aggregator.proj.weight.grad is not None
    tiny = build_vision_frontend(VISION_TINY).train()
    tiny(_frames(1, 2), "RGBA8").sum().backward()
    assert tiny.backbone.stem.weight.grad is not None


def test_step_batch_mismatch():
    fe = _build(VISION_TINY)
    with pytest.raises(ProtocolError) as err:
        fe.step(_frames(3, 1)[:, 0], "RGBA8", fe.init_state(2))
    assert "expected 2 frames (the state's batch), found 3" in str(err.value)


def test_forward_needs_clips():
    fe = _build(VISION_TINY)
    with pytest.raises(ProtocolError) as err:
        fe(_frames(1, 1)[:, 0], "RGBA8")
    assert "expected frames (B, T, H, W, C), found (1, 50, 80, 4)" in str(err.value)


def test_tokens_from_grid_wrong_grid():
    fe = _build(VISION_TINY)
    with pytest.raises(ConfigError) as err:
        fe.tokens_from_grid(torch.zeros(1, 2, 25, 64))
    assert "expected grid and prev of shape (B, 36, 64), found (2, 25, 64)" in str(err.value)
    with pytest.raises(ConfigError) as err:
        fe.tokens_from_grid(torch.zeros(2, 36, 64))
    assert "expected (B, T, N, D), found shape (2, 36, 64)" in str(err.value)


def test_tokens_from_grid_with_the_frame_before_a_window():
    # A training window cut from frame 3 of a clip gets the true delta at its first frame.
    fe = _build(SMALL_DINO)
    frames = _frames(2, 6, seed=5)
    with torch.no_grad():
        full = fe(frames, "RGBA8")
        grid = torch.stack([fe.encode_grid(frames[:, t], "RGBA8") for t in range(6)], dim=1)
        window = fe.tokens_from_grid(grid[:, 3:], prev_grid=grid[:, 2])
        cold = fe.tokens_from_grid(grid[:, 3:])
    torch.testing.assert_close(window, full[:, 3:], atol=TOL, rtol=0)
    assert (cold[:, 0] - full[:, 3]).abs().max() > 1e-4
    with pytest.raises(ConfigError) as err:
        fe.tokens_from_grid(grid, prev_grid=grid[:, 0, :5])
    assert "expected prev_grid of shape (2, 24, 32), found (2, 5, 32)" in str(err.value)


def test_downsample_cells_are_spatial_neighbourhoods():
    # SR geometry: a 16x16 grid, s = 2 -> 8x8 cells; touching grid cell (r, c) changes only
    # aggregator cell (r // 2, c // 2).
    from livefoley.models.vision import TemporalAggregator

    torch.manual_seed(0)
    agg = TemporalAggregator(grid_dim=8, grid_shape=(16, 16), agg_dim=16, depth=1, num_heads=2,
                             mlp_ratio=2.0, downsample=2, token_dim=8)
    grid = torch.randn(1, 256, 8)
    with torch.no_grad():
        base = agg.cells(grid, grid)  # (1, 64, 16)
        for r, c in [(0, 0), (5, 11), (15, 14)]:
            touched = grid.clone()
            touched[0, r * 16 + c] += 1.0
            changed = (agg.cells(touched, grid) - base).abs().amax(-1)[0] > 1e-6  # (64,)
            assert changed.nonzero().flatten().tolist() == [(r // 2) * 8 + c // 2]


@pytest.mark.parametrize("name", ["tiny", "dinov2-small"])
def test_bfloat16_front_end_streams_like_offline(name):
    fe = _build(CONFIGS[name]).to(torch.bfloat16)
    frames = _frames(2, 3, seed=6)
    with torch.no_grad():
        offline = fe(frames, "RGBA8")
        streamed, state = _stream(fe, frames)
    assert offline.dtype == streamed.dtype == state.prev_grid.dtype == torch.bfloat16
    assert torch.isfinite(offline.float()).all()
    torch.testing.assert_close(streamed, offline, atol=2e-2, rtol=2e-2)
