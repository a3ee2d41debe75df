"""Training losses: multi-resolution STFT, VAE KL, EDM2 diffusion loss, ECT consistency loss.

What it is: pure torch functions (and one small module) of tensors, each named after the paper
it follows:
- `MultiResolutionSTFTLoss`: spectral convergence + log-magnitude L1 over several STFT sizes
  (Yamamoto et al. 2020, Parallel WaveGAN, eqs. 4-6; the SoundReactor causal VAE config uses 7
  resolutions 2048...32, shared/reference/soundreactor.md §1.4).
- `mid_side_signals`: stereo (L, R) -> (mid, side), for the sum-and-difference MR-STFT term of
  the stereo VAE (Steinmetz et al. 2020, arXiv 2010.10291, as in stable-audio-tools).
- `onset_envelope_loss`: L1 between the spectral-flux onset envelopes of two signals, the
  evaluation's own onset feature (`models/evaluation/onsets.py`), in torch: a term that sees
  transients, which spectral distances averaged over a segment barely do.
- `onset_profile_loss`: L1 between the sorted onset envelopes of two signals (the 1-D
  Wasserstein distance of their onset strengths): as many strong transients as the real
  signal, wherever in time they lie, which an aligned L1 cannot ask for under timing doubt.
- `kl_divergence`: KL(N(mean, std) || N(0, 1)) of the VAE bottleneck, mean over elements.
- `sample_log_normal_sigma`, `edm2_loss`: EDM2's training loss with the learned uncertainty
  u(sigma) (Karras et al. 2024, arXiv 2312.02696, eq. 21; SoundReactor Alg. 1):
  e^{-u} lambda(sigma) ||D(x + sigma n, sigma) - x||^2 + u, lambda = (s^2+sd^2)/(s sd)^2.
- `ect_r`, `ect_loss`: Easy Consistency Tuning (Geng et al. 2024, arXiv 2406.14548; locuslab/ect
  `training/loss.py`): r = t (1 - q^{-(stage+1)} (1 + k sigmoid(-b t))), shared noise, target
  under no_grad, distance ||D_t - D_r|| (or pseudo-Huber) divided by (t - r).

What it is not: a training loop, or aware of the model (the denoiser is a callable).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
from torch import nn

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

# (n_fft, hop): the reference's 7 resolutions, 2048 down to 32, hop = n_fft / 4.
RESOLUTIONS_7: tuple[tuple[int, int], ...] = tuple((n, n // 4) for n in
                                                   (2048, 1024, 512, 256, 128, 64, 32))
RESOLUTIONS_5: tuple[tuple[int, int], ...] = RESOLUTIONS_7[:5]


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1, averaged over resolutions (and channels).

    Args:
        resolutions: (n_fft, hop) pairs.
        eps: floor of magnitudes before the log.
    """

    def __init__(self, resolutions: tuple[tuple[int, int], ...] = RESOLUTIONS_7,
                 eps: float = 1e-5) -> None:
        super().__init__()
        if not resolutions:
            raise ConfigError("MultiResolutionSTFTLoss: expected at least one resolution, "
                              "found none")
        self.resolutions = tuple(resolutions)
        self.eps = eps
        for n_fft, _ in self.resolutions:
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft), persistent=False)

    def _mag(self, x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
        spec = torch.stft(x, n_fft, hop, window=getattr(self, f"window_{n_fft}"),
                          return_complex=True, center=True)  # (N, F, frames)
        return spec.abs().clamp_min(self.eps)

    def forward(self, generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """generated, real: (B, C, L) audio -> scalar loss (0 when equal).

        Thread-safety: stateless. Real-time safe: no.
        """
        if generated.shape != real.shape:
            raise ConfigError(f"MR-STFT loss: expected equal shapes, found "
                              f"{tuple(generated.shape)} and {tuple(real.shape)}")
        g = generated.reshape(-1, generated.shape[-1])  # (B*C, L)
        r = real.reshape(-1, real.shape[-1])
        total = generated.new_zeros(())
        for n_fft, hop in self.resolutions:
            mg, mr = self._mag(g, n_fft, hop), self._mag(r, n_fft, hop)
            # Spectral convergence over the whole batch (as auraloss): a silent segment has
            # ||S_r|| = 0, and a per-segment ratio would blow up on it.
            sc = torch.linalg.vector_norm(mr - mg) / torch.linalg.vector_norm(mr).clamp_min(
                self.eps)
            total = total + sc + (mr.log() - mg.log()).abs().mean()
        return total / len(self.resolutions)


def onset_envelope(audio: torch.Tensor, sample_rate_hz: int) -> torch.Tensor:
    """(B, C, L) audio -> (B, frames) spectral-flux onset strength of the mono mix.

    As `evaluation.onsets.onset_envelope`: 5 ms hop, ~21 ms FFT (a power of two), log1p(100 |S|),
    the half-wave rectified rise from frame to frame summed over bins; differentiable.
    """
    hop = int(round(sample_rate_hz * 0.005))
    n_fft = 1 << int(round(math.log2(sample_rate_hz * 0.0213)))
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio.mean(dim=1), n_fft, hop, window=window, return_complex=True,
                      center=True, pad_mode="constant")  # (B, F, frames), zero-padded as eval
    logmag = torch.log1p(100.0 * spec.abs())
    return torch.relu(logmag.diff(dim=2)).sum(dim=1)


def paired_onset_envelopes(what: str, generated: torch.Tensor, real: torch.Tensor,
                           sample_rate_hz: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The onset envelopes (B, frames) of two signals of one shape, for `onset_l1` and
    `onset_sorted_l1` (one pair of STFTs for both).

    Raises:
        ConfigError: shapes differ (the message starts with `what`).
    """
    if generated.shape != real.shape:
        raise ConfigError(f"{what}: expected equal shapes, found "
                          f"{tuple(generated.shape)} and {tuple(real.shape)}")
    return onset_envelope(generated, sample_rate_hz), onset_envelope(real, sample_rate_hz)


def onset_l1(env: torch.Tensor, real_env: torch.Tensor) -> torch.Tensor:
    """Mean |env - real_env| / mean real_env: 0 when equal (envelopes as `onset_envelope`)."""
    return (env - real_env).abs().mean() / real_env.mean().clamp_min(1e-3)


def onset_sorted_l1(env: torch.Tensor, real_env: torch.Tensor) -> torch.Tensor:
    """`onset_l1` of the envelopes sorted per example: the same strengths in any order."""
    return onset_l1(env.sort(dim=1).values, real_env.sort(dim=1).values)


def onset_envelope_loss(generated: torch.Tensor, real: torch.Tensor,
                        sample_rate_hz: int) -> torch.Tensor:
    """Mean |env(generated) - env(real)| / mean env(real) over the batch: 0 when equal.

    A missing transient and a spurious one cost alike, so a decoder cannot lower it by
    averaging a click away (which MR-STFT allows) or by a busy floor.

    Raises:
        ConfigError: shapes differ.
    """
    return onset_l1(*paired_onset_envelopes("onset-envelope loss", generated, real,
                                            sample_rate_hz))


def onset_profile_loss(generated: torch.Tensor, real: torch.Tensor,
                       sample_rate_hz: int) -> torch.Tensor:
    """Mean |sort(env(generated)) - sort(env(real))| / mean env(real), sorted per example.

    0 when each generated example has the same onset strengths as its real one in any order:
    the same number of strong transients and the same floor, wherever they lie. Where the
    timing of a transient is uncertain, the aligned L1 (`onset_envelope_loss`) is lowest with
    no transient at all (a misplaced one costs twice); this term charges that smoothness, and
    leaves where to put the peaks to the aligned term.

    Raises:
        ConfigError: shapes differ.
    """
    return onset_sorted_l1(*paired_onset_envelopes("onset-profile loss", generated, real,
                                                   sample_rate_hz))


def kl_divergence(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, std^2) || N(0, 1)), averaged over all elements."""
    var = std.square()
    return 0.5 * (mean.square() + var - 1.0 - var.log()).mean()


def sample_log_normal_sigma(n: int, *, p_mean: float, p_std: float, sigma_min: float,
                            sigma_max: float, generator: torch.Generator | None = None,
                            device: torch.device | str = "cpu") -> torch.Tensor:
    """ln sigma ~ N(p_mean, p_std^2), clamped to [sigma_min, sigma_max]: (n,)."""
    z = torch.randn(n, generator=generator, device=device)
    return (p_mean + p_std * z).exp().clamp(sigma_min, sigma_max)


def edm2_loss(denoised: torch.Tensor, clean: torch.Tensor, sigma: torch.Tensor,
              logvar: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """EDM2 loss with learned uncertainty (eq. 21), mean over rows and latent elements.

    Args:
        denoised: D(x + sigma n, sigma, z), (N, L).
        clean: x, (N, L).
        sigma: (N,).
        logvar: u(sigma), (N, 1).
        sigma_data: data std of the preconditioning.

    Returns:
        Scalar loss. Its minimum over u is reached at u = ln(lambda * mse), so the
        per-sigma weight adapts to how hard each noise level is.
    """
    s = sigma[:, None]  # (N, 1)
    weight = (s.square() + sigma_data**2) / (s * sigma_data).square()  # lambda(sigma)
    mse = (denoised - clean).square()  # (N, L)
    return (weight / logvar.exp() * mse + logvar).mean()


def ect_r(t: torch.Tensor, stage: int, *, q: float = 2.0, k: float = 8.0,
          b: float = 1.0) -> torch.Tensor:
    """ECT's mapping r(t, stage) = t (1 - q^{-(stage+1)} (1 + k sigmoid(-b t))), >= 0.

    As `stage` grows, t - r shrinks geometrically (Delta t -> 0): the consistency condition
    is enforced between ever closer noise levels.
    """
    if stage < 0:
        raise ConfigError(f"ect_r: expected stage >= 0, found {stage}")
    decay = q ** -(stage + 1) * (1.0 + k * torch.sigmoid(-b * t))
    return (t * (1.0 - decay)).clamp_min(0.0)


def ect_loss(denoise: Callable[[torch.Tensor, torch.Tensor, bool], torch.Tensor],
             clean: torch.Tensor, t: torch.Tensor, r: torch.Tensor, noise: torch.Tensor, *,
             huber_c: float = 0.0) -> torch.Tensor:
    """ECT consistency loss with shared noise, mean over rows.

    Args:
        denoise: (x, sigma, with_grad) -> D(x, sigma); called once with grad at t and once
            as the stop-gradient target at r (under no_grad).
        clean: x0 (N, L); noise: the shared n (N, L); t, r: (N,) with t > r >= 0.
        huber_c: 0 for the L2 distance, > 0 for pseudo-Huber sqrt(d^2 + c^2) - c (c scaled
            by sqrt(L) as in the reference).

    Returns:
        Scalar mean of d(D_t, D_r) / (t - r). Rows with r = 0 use the boundary condition
        D(x, 0) = x, i.e. the clean sample itself.
    """
    x_t = clean + t[:, None] * noise
    d_t = denoise(x_t, t, True)
    with torch.no_grad():
        x_r = clean + r[:, None] * noise
        at_zero = (r <= 0)[:, None]
        d_r = denoise(x_r, r.clamp_min(1e-6), False)
        d_r = torch.where(at_zero, clean, d_r)
    sq = (d_t - d_r).square().sum(dim=1)  # (N,)
    if huber_c > 0:
        c = huber_c * math.sqrt(clean.shape[1])
        dist = (sq + c * c).sqrt() - c
    else:
        dist = (sq + 1e-12).sqrt()
    return (dist / (t - r)).mean()


# Unit directions (x, y, z) of the six virtual cardioids: front, back, left, right, up, down.
_CARDIOID_DIRS = ((1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, -1.0, 0.0),
                  (0.0, 0.0, 1.0), (0.0, 0.0, -1.0))


def mid_side_signals(stereo: torch.Tensor) -> torch.Tensor:
    """Stereo (B, 2, L) (left, right) -> (B, 2, L) (mid, side) = ((L + R) / 2, (L - R) / 2).

    What it is for: a magnitude spectrum loss per channel cannot tell a mono source
    (L = R) from the same source with one channel's polarity flipped or its phase scrambled,
    and it is blind to how the channels' levels move together: a decoder can fabricate level
    differences the game never had. The side signal's magnitude is the stereo image itself
    (0 for a centred source), so an MR-STFT loss on (mid, side) makes it part of the objective.
    Not yet shown to be enough: see `--mid-side-weight` in training/README.md.
    """
    if stereo.dim() != 3 or stereo.shape[1] != 2:
        raise ConfigError(f"mid_side_signals: expected (B, 2, L) stereo, found {tuple(stereo.shape)}")
    left, right = stereo[:, :1], stereo[:, 1:]
    return torch.cat([(left + right) * 0.5, (left - right) * 0.5], dim=1)


def cardioid_signals(foa: torch.Tensor) -> torch.Tensor:
    """AmbiX FOA (B, 4, L) (W, Y, Z, X; SN3D) -> six virtual cardioids (B, 6, L).

    c_d = 0.5 (W + d . [X, Y, Z]) for d = +-x, +-y, +-z. Why a VAE needs it: a magnitude
    spectrum loss per channel cannot tell X = +s from X = -s (front from back): the sign of
    a dipole relative to W is the direction, and it is only in the phase. A cardioid's
    magnitude depends on that sign (c_front = s, c_back = 0 for a source in front), so an
    MR-STFT loss on the cardioids makes direction part of the reconstruction objective.
    """
    if foa.dim() != 3 or foa.shape[1] != 4:
        raise ConfigError(f"cardioid_signals: expected (B, 4, L) AmbiX, found {tuple(foa.shape)}")
    d = torch.tensor(_CARDIOID_DIRS, dtype=foa.dtype, device=foa.device)  # (6, 3) x, y, z
    m = torch.zeros(6, 4, dtype=foa.dtype, device=foa.device)
    m[:, 0] = 0.5
    m[:, 3], m[:, 1], m[:, 2] = 0.5 * d[:, 0], 0.5 * d[:, 1], 0.5 * d[:, 2]  # X, Y, Z columns
    return torch.einsum("oc,bcl->bol", m, foa)
