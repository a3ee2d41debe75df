"""Decoder adaptation: the VAE decoder trained on a frozen generator's own samples.

What it is: `DecoderStageConfig`, `DecoderObjective` and `train_decoder`
(`livefoley train decoder`). Every other training of the decoder sees the encoder's latents
of real audio; live it decodes the generator's samples, which are smoother: where the picture
leaves the timing of a transient open, a consistency sample spreads its onset mass instead of
placing a click (measured: `models/weights/MODEL_CARD.md`). Here the decoder learns what the
generator's samples mean. For a window of real frames and latents:

1. teacher-forced conditions of the window, the fed-back latents noised as in training
   (`prev_noise`: live, the model feeds back its own samples), guided as the live generator
   is (`V2AModel.guided_conditions`: the real and the null vision, combined on the vision
   positions);
2. the sampler's latents from them: `consistency_sample` with the checkpoint's NFE and the
   shared noise (NFE 1: D(sigma_max n, sigma_max, z));
3. the decoder turns them into audio, charged against the window's real audio with the VAE's
   own losses (multi-resolution STFT + `l1_weight` x L1) plus `onset_weight` x the
   onset-envelope L1 (`losses.onset_envelope_loss`).

Steps 1-2 run without gradients: the vision front-end, transformer, head and encoder stay
frozen bit for bit, so the generator and its latent space are unchanged; only the decoder
moves. Held-out numbers (eval.jsonl): the same terms on fixed held-out windows, plus the
decoder's round trip of real audio (`vae_stage.reconstruction_report`), which this training
may give up some of.

What it is not: free-running. The samples are teacher-forced (real previous latents, noised),
which is what makes a window one batched pass; live samples drift further. Nor does it
support the LocDiT head or text models (refused by name).
"""

from __future__ import annotations

import copy
import dataclasses
import logging

import numpy as np
import torch
from torch import nn

from livefoley.models.configutil import to_dict
from livefoley.models.training import own_samples
from livefoley.models.training.batches import (
    HELDOUT_SEED,
    WindowBatches,
    batch_tensor,
    latent_cache_dir,
    heldout_rng,
    latent_caches,
    step_rng,
    step_torch_generator,
)
from livefoley.models.training.conditions import window_vision_tokens
from livefoley.models.training.distributed import DistInfo
from livefoley.models.training.export import save_model_atomic
from livefoley.models.training.losses import (
    RESOLUTIONS_5,
    RESOLUTIONS_7,
    MultiResolutionSTFTLoss,
    onset_envelope_loss,
)
from livefoley.models.training.loop import LoopConfig, run_loop
from livefoley.models.training.runstate import RunDir
from livefoley.models.training.vae_stage import (
    VAEStageConfig,
    heldout_clips,
    reconstruction_report,
)
from livefoley.models.v2a import V2AModel
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DecoderStageConfig:
    """Window shape, the sampler to imitate, and the loss weights."""

    window_latents: int = 16  # latent ticks per window (0.53 s at 30 Hz)
    prev_noise: float = 0.5  # max std of noise on the fed-back latents, as in training
    guidance_scale: float | None = None  # None: the checkpoint's, else DEFAULT_GUIDANCE
    nfe: int | None = None  # None: the checkpoint's, else DEFAULT_NFE
    resolutions: int = 7  # MR-STFT resolutions: 7 (2048..32) or 5 (2048..128)
    l1_weight: float = 0.1  # time-domain L1, as the VAE's
    onset_weight: float = 1.0  # onset-envelope L1 (0: spectral losses only)
    heldout_windows: int = 8

    def __post_init__(self) -> None:
        if self.window_latents < 2:
            raise ConfigError(f"DecoderStageConfig.window_latents: expected >= 2, "
                              f"found {self.window_latents}")
        if not 0.0 <= self.prev_noise < 10.0:
            raise ConfigError(f"DecoderStageConfig.prev_noise: expected [0, 10), "
                              f"found {self.prev_noise}")
        if self.l1_weight < 0 or self.onset_weight < 0:
            raise ConfigError(f"DecoderStageConfig: expected l1_weight and onset_weight >= 0, "
                              f"found {self.l1_weight} and {self.onset_weight}")
        if self.resolutions not in (5, 7):
            raise ConfigError(f"DecoderStageConfig.resolutions: expected 5 or 7, "
                              f"found {self.resolutions}")


def sampler_settings(model: V2AModel, cfg: DecoderStageConfig) -> tuple[float, int]:
    """(guidance scale, NFE): the config's, else the checkpoint's, else the live defaults.

    Raises:
        ConfigError: guidance below 1 or NFE outside the consistency sampler's range.
    """
    return own_samples.sampler_settings(model, cfg.guidance_scale, cfg.nfe,
                                        ("train decoder --guidance", "train decoder --nfe"))


class DecoderObjective(nn.Module):
    """forward(batch, step) -> {"loss", "mrstft", "l1", "onset"}; see the module docstring.

    batch: frames (B, T+1, H, W, 3) uint8, latents (B, T, L), audio (B, C, T*hop),
    sample_noise (nfe, B*T, L), and optionally prev_aug (B, T, L).
    """

    def __init__(self, model: V2AModel, cfg: DecoderStageConfig) -> None:
        super().__init__()
        if model.config.head_kind != "mlp":
            raise ConfigError(f"train decoder: expected a model with the MLP head, "
                              f"found head_kind {model.config.head_kind!r}")
        if model.text is not None:
            raise ConfigError("train decoder: expected a model without text conditioning, "
                              "found a text model")
        self.model = model
        self.cfg = cfg
        self.guidance_scale, self.nfe = sampler_settings(model, cfg)
        self.mrstft = MultiResolutionSTFTLoss(RESOLUTIONS_7 if cfg.resolutions == 7
                                              else RESOLUTIONS_5)

    def train(self, mode: bool = True) -> "DecoderObjective":
        """Only the decoder trains; the frozen generator samples as it does live."""
        super().train(False)
        self.model.vae.decoder.train(mode)
        return self

    @torch.no_grad()
    def samples(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The frozen generator's sampled latents of each window, (B, T, L)."""
        latents = batch["latents"]
        B, T, L = latents.shape
        noise = batch_tensor(batch, "sample_noise", (self.nfe, B * T, L), "train decoder")
        tokens = window_vision_tokens(self.model, batch["frames"])  # (B, T, Dv)
        prev_aug = batch.get("prev_aug")
        fed_back = latents if prev_aug is None else latents + prev_aug
        return own_samples.guided_samples(self.model, tokens, fed_back, noise,
                                          self.guidance_scale)

    def forward(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        B, T = batch["latents"].shape[:2]
        want = (B, self.model.config.vae.channels, T * self.model.config.hop_samples)
        audio = batch_tensor(batch, "audio", want, "train decoder")
        pcm = self.model.vae.decode(self.samples(batch).transpose(1, 2))  # (B, C, T*hop)
        mr = self.mrstft(pcm, audio)
        l1 = (pcm - audio).abs().mean()
        onset = onset_envelope_loss(pcm, audio, self.model.config.sample_rate_hz)
        loss = mr + self.cfg.l1_weight * l1 + self.cfg.onset_weight * onset
        return {"loss": loss, "mrstft": mr.detach(), "l1": l1.detach(), "onset": onset.detach()}


def draw_sample_inputs(seed: int, step: int, rank: int, *, nfe: int, B: int, T: int, L: int,
                       prev_noise: float) -> dict[str, torch.Tensor]:
    """The sampler's noise (nfe, B*T, L) and the fed-back latents' noise (B, T, L) of a step."""
    g = step_torch_generator(seed, step, rank)
    out = {"sample_noise": torch.randn(nfe, B * T, L, generator=g)}
    if prev_noise > 0:
        std = torch.rand(B, 1, 1, generator=g) * prev_noise
        out["prev_aug"] = std * torch.randn(B, T, L, generator=g)
    return out


@torch.no_grad()
def heldout_report(objective: DecoderObjective, batch: dict[str, torch.Tensor],
                   clips: list[np.ndarray]) -> dict[str, float]:
    """The objective's terms on fixed held-out windows with fixed noise and clean fed-back
    latents (`sample_*`), and the decoder's round trip of real held-out audio."""
    terms = objective(batch, 0)
    out = {f"sample_{k}": float(v) for k, v in terms.items() if k != "loss"}
    out.update(reconstruction_report(objective.model, clips))
    return out


def train_decoder(*, model: V2AModel, data: str, run: RunDir, loop: LoopConfig,
                  cfg: DecoderStageConfig, info: DistInfo, resume: bool = False,
                  latent_cache: str | None = None) -> dict:
    """Train `model.vae.decoder` on the frozen generator's samples; see the module docstring.
    `latent_cache`: the root of the latent caches (`batches.latent_cache_dir`; None: the
    dataset's `latents/`).

    Thread-safety: one run per process group. Real-time safe: no.
    """
    objective = DecoderObjective(model, cfg)  # refuses unsupported models before any work
    model.requires_grad_(False)
    model.vae.decoder.requires_grad_(True)
    model.to(info.device)
    objective.to(info.device)
    hop = model.config.hop_samples
    train_cache, held_cache = latent_caches(data, latent_cache_dir(data, model.vae, latent_cache),
                                            model.vae, hop, info)
    windows = WindowBatches(train_cache, cfg.window_latents, audio=True)
    L, B, T = model.config.latent_dim, loop.batch_size, cfg.window_latents
    nfe = objective.nfe

    def batch_fn(step: int) -> dict[str, torch.Tensor]:
        batch = windows.batch(step_rng(loop.seed, step, info.rank), B)
        batch.update(draw_sample_inputs(loop.seed, step, info.rank, nfe=nfe, B=B, T=T, L=L,
                                        prev_noise=cfg.prev_noise))
        return batch

    evaluate = None
    if info.is_main:
        n = cfg.heldout_windows
        held = WindowBatches(held_cache, T, audio=True).batch(
            heldout_rng(), n)
        held.update(draw_sample_inputs(HELDOUT_SEED, 0, 0, nfe=nfe, B=n, T=T, L=L, prev_noise=0.0))
        held = {k: v.to(info.device) for k, v in held.items()}
        clips = heldout_clips(data, VAEStageConfig(), hop)
        evaluate = lambda: heldout_report(objective, held, clips)  # noqa: E731

    def export() -> None:
        save_model_atomic(copy.deepcopy(model).cpu().eval(), run.model_path)

    return run_loop(stage="decoder", objective=objective, batch_fn=batch_fn, cfg=loop,
                    info=info, run=run, export=export, evaluate=evaluate, resume=resume,
                    extra_config={"decoder": to_dict(cfg), "data": data,
                                  "sampler": {"guidance_scale": objective.guidance_scale,
                                              "nfe": nfe},
                                  "model": model.config.to_dict()})
