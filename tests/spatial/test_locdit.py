"""LocDiT head: shapes, EDM boundary, causality over patches, determinism, config round trip."""

import dataclasses

import pytest
import torch

from livefoley.models.spatial import locdit
from livefoley.protocol.errors import ConfigError

CFG = locdit.TINY


def _model(seed=0, cfg=CFG):
    torch.manual_seed(seed)
    m = locdit.LocDiT(cfg).eval()
    with torch.no_grad():  # leave adaLN-Zero's zero init so every path carries signal
        for p in m.parameters():
            if p.dim() >= 1 and not p.abs().sum():
                p.normal_(0, 0.05)
    return m


def test_shapes_and_context_lengths():
    m = _model()
    B, k, D = 3, CFG.patch_latents, CFG.latent_dim
    x, cond = torch.randn(B, k, D), torch.randn(B, CFG.cond_dim)
    for ctx in (None, torch.randn(B, k, D), torch.randn(B, 2 * k, D)):
        assert m(x, torch.full((B,), 1.0), cond, ctx).shape == (B, k, D)
    assert m.sample(cond, None, nfe=2).shape == (B, k, D)


def test_edm_boundary_denoiser_is_identity_at_zero_noise():
    m = _model()
    x = torch.randn(2, CFG.patch_latents, CFG.latent_dim)
    out = m(x, torch.full((2,), 1e-6), torch.randn(2, CFG.cond_dim))
    torch.testing.assert_close(out, x, atol=1e-4, rtol=0)


def test_context_and_condition_change_the_output():
    m = _model()
    B, k, D = 2, CFG.patch_latents, CFG.latent_dim
    x, cond, ctx = torch.randn(B, k, D), torch.randn(B, CFG.cond_dim), torch.randn(B, 2 * k, D)
    base = m(x, 2.0, cond, ctx)
    assert (m(x, 2.0, cond, ctx + 1) - base).abs().max() > 1e-3
    assert (m(x, 2.0, cond + 1, ctx) - base).abs().max() > 1e-3


def test_sequence_pass_is_causal_over_patches():
    m = _model()
    B, P, k, D = 1, 6, CFG.patch_latents, CFG.latent_dim
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, P, k, D, generator=g)
    clean = torch.randn(B, P, k, D, generator=g)
    cond = torch.randn(B, P, CFG.cond_dim, generator=g)
    sigma = torch.full((B, P), 1.5)
    base = m.forward_sequence(x, sigma, cond, clean)
    j = 2
    clean2 = clean.clone()
    clean2[:, j] += 1.0
    diff = (m.forward_sequence(x, sigma, cond, clean2) - base).abs().amax(dim=(0, 2, 3))  # (P,)
    assert torch.all(diff[: j + 1] == 0) and torch.all(diff[j + 3:] == 0)  # past and far future untouched
    assert torch.all(diff[j + 1: j + 3] > 1e-4)  # the 2 following patches see it as context
    cond2 = cond.clone()
    cond2[:, j] += 1.0
    diff = (m.forward_sequence(x, sigma, cond2, clean) - base).abs().amax(dim=(0, 2, 3))
    assert diff[j] > 1e-4 and torch.all(diff[torch.arange(P) != j] == 0)


def test_sequence_pass_equals_per_patch_calls():
    m = _model()
    B, P, k, D = 2, 4, CFG.patch_latents, CFG.latent_dim
    x, clean = torch.randn(B, P, k, D), torch.randn(B, P, k, D)
    cond, sigma = torch.randn(B, P, CFG.cond_dim), torch.rand(B, P) + 0.1
    seq = m.forward_sequence(x, sigma, cond, clean)
    for p in range(P):
        ctx = clean[:, max(0, p - 2):p].reshape(B, -1, D)
        one = m(x[:, p], sigma[:, p], cond[:, p], ctx)
        torch.testing.assert_close(seq[:, p], one, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("sampler", locdit.SAMPLERS)
def test_sampling_is_deterministic_under_seed(sampler):
    m = _model(cfg=dataclasses.replace(CFG, sampler=sampler))
    cond = torch.randn(2, CFG.cond_dim)
    a = m.sample(cond, None, nfe=3, generator=torch.Generator().manual_seed(7))
    b = m.sample(cond, None, nfe=3, generator=torch.Generator().manual_seed(7))
    c = m.sample(cond, None, nfe=3, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert not torch.equal(a, c) and torch.isfinite(a).all()


def test_stream_keeps_two_patches_of_context():
    m = _model()
    stream = locdit.LocDiTStream(m, nfe=1, generator=torch.Generator().manual_seed(0))
    conds = torch.randn(4, 1, CFG.cond_dim)
    patches = [stream.step(c) for c in conds]
    # replay patch 3 by hand with the stream's context: the two patches before it
    g = torch.Generator().manual_seed(0)
    for c, p in zip(conds[:3], patches[:3]):
        torch.randn((1, CFG.patch_latents, CFG.latent_dim), generator=g)  # consume the same noise
    ctx = torch.cat(patches[1:3], dim=1)
    again = m.sample(conds[3], ctx, nfe=1, generator=g)
    torch.testing.assert_close(again, patches[3])


def test_config_round_trip_and_errors():
    assert locdit.LocDiTConfig.from_dict(CFG.to_dict()) == CFG
    assert CFG.tokens == 12 and CFG.context_latents == 8
    with pytest.raises(ConfigError, match=r"unknown \['patch'\]"):
        locdit.LocDiTConfig.from_dict({"patch": 4})
    with pytest.raises(ConfigError, match=r"\('consistency', 'heun'\).*'euler'"):
        locdit.LocDiTConfig(sampler="euler")
    m = _model()
    with pytest.raises(ConfigError, match=r"expected x \(B, 4, 16\), found \(2, 3, 16\)"):
        m(torch.randn(2, 3, 16), 1.0, torch.randn(2, CFG.cond_dim))
    with pytest.raises(ConfigError, match="nfe in 1..4, found 5"):
        m.sample(torch.randn(1, CFG.cond_dim), nfe=5)
    with pytest.raises(ConfigError, match=r"found \(1, 12, 16\)"):
        m(torch.randn(1, 4, 16), 1.0, torch.randn(1, CFG.cond_dim), torch.randn(1, 12, 16))
