"""Samplers on closed-form denoisers, guidance arithmetic, and the head's EDM wiring.

Gaussian data x0 ~ N(mu, s^2 I): the ideal denoiser is E[x0 | x] = mu + s^2/(s^2+sigma^2)(x-mu),
the probability-flow ODE maps x(sigma) - mu proportionally to sqrt(s^2 + sigma^2), and the
ideal consistency function is f(x, sigma) = mu + s/sqrt(s^2+sigma^2) (x - mu).
"""

import math

import pytest
import torch

from livefoley.models import DiffusionHead
from livefoley.models.sampling import (
    apply_cfg,
    consistency_sample,
    consistency_sigmas,
    heun_sample,
    karras_sigmas,
)
from livefoley.protocol.errors import ConfigError

MU, S = 0.3, 0.5
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0


def ideal_denoiser(x, sigma):
    s2 = S * S
    return MU + s2 / (s2 + sigma[:, None] ** 2) * (x - MU)


def ideal_consistency(x, sigma):
    return MU + S / torch.sqrt(S * S + sigma[:, None] ** 2) * (x - MU)


def test_karras_sigmas_endpoints_and_order():
    sig = karras_sigmas(10, SIGMA_MIN, SIGMA_MAX, 7.0)
    assert sig.shape == (11,)
    assert sig[0].item() == pytest.approx(SIGMA_MAX)
    assert sig[-2].item() == pytest.approx(SIGMA_MIN)
    assert sig[-1].item() == 0.0
    assert bool((sig[:-1] > sig[1:]).all())


def _exact_ode_solution(noise):
    return MU + (SIGMA_MAX * noise - MU) * S / math.sqrt(S * S + SIGMA_MAX**2)


def test_heun_solves_the_probability_flow_ode_for_gaussian_data():
    noise = torch.randn(256, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    calls = []

    def d(x, sigma):
        calls.append(1)
        return ideal_denoiser(x, sigma)

    x0 = heun_sample(d, noise, karras_sigmas(160, SIGMA_MIN, SIGMA_MAX, 7.0).double())
    assert (x0 - _exact_ode_solution(noise)).abs().max().item() < 1e-3
    assert len(calls) == 2 * 160 - 1


def test_heun_is_second_order():
    noise = torch.randn(256, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    exact = _exact_ode_solution(noise)
    err = {n: (heun_sample(ideal_denoiser, noise, karras_sigmas(n, SIGMA_MIN, SIGMA_MAX).double())
               - exact).abs().max().item() for n in (20, 40, 80)}
    # Halving the step divides the error by ~4 (global error O(h^2)).
    assert 3.0 < err[20] / err[40] < 5.5
    assert 3.0 < err[40] / err[80] < 5.5


@pytest.mark.parametrize("nfe", [1, 2, 3, 4])
def test_consistency_sampling_recovers_the_data_distribution(nfe):
    g = torch.Generator().manual_seed(nfe)
    noises = torch.randn(nfe, 20000, 4, generator=g, dtype=torch.float64)
    calls = []

    def f(x, sigma):
        calls.append(sigma[0].item())
        return ideal_consistency(x, sigma)

    sig = consistency_sigmas(nfe, SIGMA_MIN, SIGMA_MAX).double()
    x0 = consistency_sample(f, noises, sig)
    assert len(calls) == nfe
    assert calls[0] == pytest.approx(SIGMA_MAX)
    assert x0.mean().item() == pytest.approx(MU, abs=0.01)
    assert x0.std().item() == pytest.approx(S, rel=0.02)


def test_consistency_nfe_out_of_range_is_refused():
    with pytest.raises(ConfigError) as e:
        consistency_sigmas(5, SIGMA_MIN, SIGMA_MAX)
    assert "1..4" in str(e.value) and "found 5" in str(e.value)


def test_cfg_is_the_guidance_line():
    cond, null = torch.randn(3, 5), torch.randn(3, 5)
    assert torch.equal(apply_cfg(cond, null, 1.0), cond)
    assert torch.equal(apply_cfg(cond, null, 0.0), null)
    assert torch.allclose(apply_cfg(cond, null, 3.0), null + 3.0 * (cond - null), atol=1e-6)


def _head():
    torch.manual_seed(0)
    return DiffusionHead(latent_dim=8, cond_dim=12, width=32, n_blocks=2, time_embed_dim=16,
                         logvar_channels=8).eval()


@torch.no_grad()
def test_head_edm_boundary_condition():
    head = _head()
    x, c = torch.randn(4, 8), torch.randn(4, 12)
    assert torch.allclose(head(x, torch.full((4,), 1e-7), c), x, atol=1e-5)
    assert head.logvar(torch.tensor([0.5, 2.0])).shape == (2, 1)


@torch.no_grad()
def test_head_sampling_per_frame_equals_batched_over_frames():
    # Streaming (one frame's rows at a time) equals offline (all frames' rows at once) with
    # the same fixed noise: the head is row-wise.
    head = _head()
    T, B = 6, 2
    cond = torch.randn(T, B, 12)
    noise = torch.randn(T, 2, B, 8)  # NFE 2
    sig = consistency_sigmas(2, SIGMA_MIN, SIGMA_MAX)
    streamed = torch.stack([consistency_sample(head.make_denoiser(cond[t]), noise[t], sig)
                            for t in range(T)])
    batched = consistency_sample(head.make_denoiser(cond.reshape(T * B, 12)),
                                 noise.transpose(0, 1).reshape(2, T * B, 8), sig)
    assert (streamed.reshape(T * B, 8) - batched).abs().max().item() < 1e-5
