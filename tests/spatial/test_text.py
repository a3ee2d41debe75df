"""Text conditioning: embedding sanity, conditioner, guidance, click-free prompt change."""


import numpy as np
import pytest
import torch

from livefoley.models.spatial import text
from livefoley.protocol.errors import ConfigError

needs_encoder = pytest.mark.skipif(not text.text_encoder_available(),
                                   reason=f"PyPI package {text.TEXT_PACKAGE} is not installed")


@pytest.fixture(scope="module")
def encoder():
    return text.TextEncoder()


@needs_encoder
@pytest.mark.slow
def test_embedding_similarity_sanity_and_cache(encoder):
    e = encoder.encode_batch(["a door slams shut", "a door slamming", "an engine hums", "a bell rings"])
    assert e.shape == (4, 384) and e.dtype == torch.float32
    torch.testing.assert_close(e.norm(dim=1), torch.ones(4))
    sim = e @ e.T
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[0, 3] + 0.3
    misses = encoder.cache_misses
    again = encoder.encode("a door slams shut")
    assert encoder.cache_misses == misses and encoder.cache_hits >= 1
    torch.testing.assert_close(again, e[0])


@needs_encoder
@pytest.mark.slow
def test_encoder_rejects_non_string(encoder):
    with pytest.raises(ConfigError, match=r"type str, found \['int'\]"):
        encoder.encode_batch([3])


def test_conditioner_shapes_null_and_drop():
    torch.manual_seed(0)
    cond = text.TextConditioner(width=64)
    emb = torch.randn(3, 384)
    tok = cond(emb)
    assert tok.shape == (3, 64)
    assert cond(None, batch_size=2).shape == (2, 64)
    with torch.no_grad():
        cond.null_token.fill_(0.25)
    dropped = cond(emb, drop=torch.tensor([False, True, False]))
    torch.testing.assert_close(dropped[1], torch.full((64,), 0.25))
    torch.testing.assert_close(dropped[0], tok[0])
    with pytest.raises(ConfigError, match=r"\(B, 384\).*\(3, 100\)"):
        cond(torch.randn(3, 100))
    g = torch.Generator().manual_seed(1)
    m = text.TextConditioner.drop_mask(10000, 0.15, g)
    assert 0.13 < m.float().mean().item() < 0.17


def test_combine_guidance_closed_form():
    n, v, vt = torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([3.0])
    assert text.combine_guidance(n, v, vt, video_scale=1.0, text_scale=1.0).item() == 3.0
    assert text.combine_guidance(n, v, vt, video_scale=2.0, text_scale=0.0).item() == 2.0
    assert text.combine_guidance(n, v, vt, video_scale=1.0, text_scale=2.0).item() == 5.0


def test_condition_ramp_reaches_target_in_ramp_steps():
    ramp = text.ConditionRamp(torch.zeros(4), ramp_steps=4)
    ramp.set_target(torch.ones(4))
    vals = [ramp.step()[0].item() for _ in range(6)]
    assert vals == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    ramp.set_target(torch.zeros(4))
    ramp.step()
    ramp.set_target(torch.full((4,), 2.0))  # change mid-ramp: starts from where it is (0.75)
    assert ramp.step()[0].item() == pytest.approx(0.75 + 0.25 * 1.25)
    with pytest.raises(ConfigError, match=r"\(4,\).*\(5,\)"):
        ramp.set_target(torch.zeros(5))


def _render(amps, phase0, n, freqs=(41.0, 97.0, 233.0), sr=48000):
    """Toy per-step renderer: phase-continuous partials whose amplitudes come from the condition."""
    t = (phase0 + np.arange(n)) / sr
    return sum(a * np.cos(2 * np.pi * f * t + 2.0) for a, f in zip(amps, freqs))


def test_prompt_change_mid_stream_has_no_click():
    # Condition tokens for two prompts map to partial amplitudes (the "model").
    torch.manual_seed(0)
    cond = text.TextConditioner(width=8)
    head = torch.nn.Linear(8, 3, bias=False)
    torch.nn.init.normal_(head.weight, std=30.0)  # make small token differences audible in the toy
    emb_a, emb_b = torch.nn.functional.normalize(torch.randn(2, 384), dim=1)
    with torch.no_grad():
        tok_a, tok_b = cond(emb_a[None])[0], cond(emb_b[None])[0]
        mid = (tok_a + tok_b) / 2
        amps = lambda tok: (0.25 + 0.2 * torch.tanh(head(tok - mid))).detach().numpy()  # noqa: E731
        assert np.abs(amps(tok_a) - amps(tok_b)).max() > 0.1  # the prompts sound different
    n, switch = 1600, 3  # prompt changes at step 3
    hard, smooth = [], []
    ramp = text.ConditionRamp(tok_a, ramp_steps=4)
    fader = text.BlockCrossfader()
    prev_tok = tok_a
    for k in range(8):
        hard.append(_render(amps(tok_a if k < switch else tok_b), k * n, n))
        if k == switch:
            ramp.set_target(tok_b)
        tok = ramp.step()
        old, new = _render(amps(prev_tok), k * n, n), _render(amps(tok), k * n, n)
        smooth.append(fader.process(old, new) if not torch.equal(tok, prev_tok) else new)
        prev_tok = tok
    hard, smooth = np.concatenate(hard), np.concatenate(smooth)
    # Stated threshold: the boundary step is at most 1.05x the largest step within 1 ms around it
    # (a smooth signal gives ~1 at its steepest point; the hard switch gives ~33).
    assert text.click_ratio(hard, switch * n, 48) > 3.0  # negative control: a hard switch clicks
    for k in range(1, 8):
        assert text.click_ratio(smooth, k * n, 48) <= 1.05, f"boundary {k}"
    np.testing.assert_allclose(smooth[-n:], _render(amps(tok_b), 7 * n, n), atol=1e-6)  # arrived


def test_crossfader_shape_mismatch():
    with pytest.raises(ConfigError, match=r"\(10,\) and \(12,\)"):
        text.BlockCrossfader().process(np.zeros(10), np.zeros(12))
