"""Stage 0: train the causal streaming audio VAE.

What it is: `VAEStageConfig`, `VAEObjective` (multi-resolution STFT + time-domain L1 + small
KL, the SoundReactor causal VAE's losses minus the adversarial terms, shared/reference/
soundreactor.md §1.4; for FOA also MR-STFT on virtual cardioids, for stereo optionally on mid
and side: the spatial image, which per-channel magnitudes miss) and `train_vae`, which runs
`loop.run_loop` over random audio segments of the training shards. Each checkpoint exports a
whole V2A checkpoint whose VAE latents are rescaled to std sigma_data
(`export.fold_latent_scale`); the other parts keep their weights (the preset's seed, or
`--init`). With `decoder_only` (`--decoder-only`) the encoder is frozen too and the scale is
not refolded: a trained model's generator keeps emitting latents that mean the same, and only
how they are turned into sound is trained further. Held-out reconstruction quality (MR-STFT
distance and log-mel L1 from `models/evaluation`, with silence's numbers beside them) goes to
eval.jsonl.

What it is not: a GAN. Without the discriminator the decoder is blurrier than the reference's;
the report states it.
"""

from __future__ import annotations

import copy
import dataclasses
import logging

import numpy as np
import torch
from torch import nn

from livefoley.models.configutil import to_dict
from livefoley.models.training.batches import (
    AudioSegments,
    encode_audio,
    open_split,
    step_rng,
    step_torch_generator,
)
from livefoley.models.training.distributed import DistInfo
from livefoley.models.training.export import fold_latent_scale, save_model_atomic
from livefoley.models.training.losses import (
    RESOLUTIONS_5,
    RESOLUTIONS_7,
    MultiResolutionSTFTLoss,
    cardioid_signals,
    kl_divergence,
    mid_side_signals,
    onset_envelope_loss,
)
from livefoley.models.training.loop import LoopConfig, run_loop
from livefoley.models.training.runstate import RunDir
from livefoley.models.v2a import V2AModel

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class VAEStageConfig:
    """Loss weights and data shapes of VAE training."""

    segment_latents: int = 16  # hops per training segment (16 x 1600 = 0.53 s at 48 kHz)
    resolutions: int = 7  # MR-STFT resolutions: 7 (2048..32) or 5 (2048..128)
    l1_weight: float = 0.1  # time-domain L1
    kl_weight: float = 1e-4  # KL to N(0, 1) (the reference uses 1e-5 with a GAN)
    cardioid_weight: float = 1.0  # 4-channel (FOA) audio only: MR-STFT on 6 virtual cardioids
    # Stereo only: MR-STFT on (mid, side), see losses.mid_side_signals. Off by default: a
    # 20-minute fine-tune with it did not bring back the stereo image (training/README.md).
    mid_side_weight: float = 0.0
    # L1 between spectral-flux onset envelopes (losses.onset_envelope_loss): transients.
    onset_weight: float = 0.0
    # Train the decoder alone on a trained model's frozen encoder (its latent space, and so its
    # generator, unchanged); the export keeps the latent scale as it is.
    decoder_only: bool = False
    heldout_clips: int = 8  # held-out clips for the reconstruction report
    heldout_seconds: float = 2.0  # length of each


class VAEObjective(nn.Module):
    """forward(batch, step) -> {"loss", "mrstft", "l1", "kl"} (+ "mid_side" for stereo,
    "cardioid" for FOA, "onset" when weighted) for audio (B, C, L)."""

    def __init__(self, model: V2AModel, cfg: VAEStageConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.mrstft = MultiResolutionSTFTLoss(RESOLUTIONS_7 if cfg.resolutions == 7
                                              else RESOLUTIONS_5)

    def forward(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        vae = self.model.vae
        audio = batch["audio"]  # (B, C, L)
        mean, std = vae.encode(audio)  # each (B, latent, L / hop)
        z = mean + std * batch["noise"]
        rec = vae.decode(z)  # (B, C, L)
        mr = self.mrstft(rec, audio)
        l1 = (rec - audio).abs().mean()
        kl = kl_divergence(mean, std)
        loss = mr + self.cfg.l1_weight * l1 + self.cfg.kl_weight * kl
        out = {"mrstft": mr.detach(), "l1": l1.detach(), "kl": kl.detach()}
        if audio.shape[1] == 4 and self.cfg.cardioid_weight > 0:  # direction: see losses.py
            card = self.mrstft(cardioid_signals(rec), cardioid_signals(audio))
            loss = loss + self.cfg.cardioid_weight * card
            out["cardioid"] = card.detach()
        if audio.shape[1] == 2 and self.cfg.mid_side_weight > 0:  # the stereo image
            ms = self.mrstft(mid_side_signals(rec), mid_side_signals(audio))
            loss = loss + self.cfg.mid_side_weight * ms
            out["mid_side"] = ms.detach()
        if self.cfg.onset_weight > 0:
            onset = onset_envelope_loss(rec, audio, self.model.config.sample_rate_hz)
            loss = loss + self.cfg.onset_weight * onset
            out["onset"] = onset.detach()
        return {"loss": loss, **out}


def latent_std(model: V2AModel, segments: np.ndarray) -> float:
    """Std of the encoder means over `segments` (n, N, C)."""
    hop = model.config.hop_samples
    lat = np.concatenate([encode_audio(model.vae, s, hop) for s in segments])
    return float(lat.std())


def heldout_clips(data: str, cfg: VAEStageConfig, hop: int) -> list[np.ndarray]:
    """The first `heldout_seconds` of up to `heldout_clips` held-out recordings, (N, C)."""
    shards = open_split(data, "heldout")
    n = int(cfg.heldout_seconds * shards[0].sample_rate_hz) // hop * hop
    out = []
    for s in shards[: cfg.heldout_clips]:
        a = np.asarray(s.audio, dtype=np.float32)
        loud = int(np.argmax(np.convolve(np.abs(a).mean(1), np.ones(hop), "valid")[::hop]))
        start = min(loud * hop, max(0, a.shape[0] - n)) // hop * hop  # a clip with sound
        out.append(a[start:start + n])
    return out


@torch.no_grad()
def reconstruction_report(model: V2AModel, clips: list[np.ndarray]) -> dict[str, float]:
    """Held-out MR-STFT distance and log-mel L1 of VAE reconstructions (and of silence); the
    stereo image (ILD correlation, mean over the clips where it is defined) or FOA direction."""
    from livefoley.models.evaluation.spatial import vae_round_trip
    from livefoley.models.evaluation.spectral import log_mel_l1, mr_stft_distance
    from livefoley.models.evaluation.stereo import ild_correlation

    sr = model.config.sample_rate_hz
    rec_mr, rec_mel, sil_mr, sil_mel, errors, ild = [], [], [], [], [], []
    for a in clips:
        rec = vae_round_trip(model, a.T).T  # (N, C); clips are whole hops
        rec_mr.append(mr_stft_distance(rec, a))
        rec_mel.append(log_mel_l1(rec, a, sr))
        sil_mr.append(mr_stft_distance(np.zeros_like(a), a))
        sil_mel.append(log_mel_l1(np.zeros_like(a), a, sr))
        if a.shape[1] == 4:
            errors.append(doa_round_trip_errors(rec, a, sr))
        if a.shape[1] == 2:
            ild.append(ild_correlation(rec, a, sr))
    out = {"heldout_mrstft": float(np.mean(rec_mr)), "heldout_logmel_l1": float(np.mean(rec_mel)),
           "silence_mrstft": float(np.mean(sil_mr)), "silence_logmel_l1": float(np.mean(sil_mel))}
    if ild and not np.all(np.isnan(ild)):
        out["heldout_ild_corr"] = float(np.nanmean(ild))
    if errors and (err := np.concatenate(errors)).size:
        out["heldout_doa_median_deg"] = float(np.median(err))
        out["heldout_doa_within20"] = float(np.mean(err <= 20.0))
    return out


def doa_round_trip_errors(rec: np.ndarray, ref: np.ndarray, sr: int) -> np.ndarray:
    """Great-circle errors (deg) of the reconstruction's DoA on the reference's valid segments.

    Both are AmbiX (N, 4). The FOA VAE's direction check: per-channel spectra can be right
    while every source sits in one direction, so the report measures direction itself.
    """
    from livefoley.models.spatial.doa import DoaConfig, analyse_doa, great_circle_deg

    cfg = DoaConfig(sample_rate_hz=sr)
    want, got = analyse_doa(ref.T, cfg), analyse_doa(rec.T, cfg)
    ok = want.valid
    return great_circle_deg(got.azimuth_rad[ok], got.elevation_rad[ok],
                            want.azimuth_rad[ok], want.elevation_rad[ok])


def train_vae(*, model: V2AModel, data: str, run: RunDir, loop: LoopConfig,
              cfg: VAEStageConfig, info: DistInfo, resume: bool = False) -> dict:
    """Train `model.vae` on the training split of `data`; see the module docstring.

    Thread-safety: one run per process group. Real-time safe: no.
    """
    model.requires_grad_(False)
    (model.vae.decoder if cfg.decoder_only else model.vae).requires_grad_(True)
    model.to(info.device)
    hop = model.config.hop_samples
    segments = AudioSegments(open_split(data, "train"), cfg.segment_latents * hop)
    objective = VAEObjective(model, cfg).to(info.device)
    L, T = model.config.latent_dim, cfg.segment_latents

    def batch_fn(step: int) -> dict[str, torch.Tensor]:
        audio = segments.batch(step_rng(loop.seed, step, info.rank), loop.batch_size)
        g = step_torch_generator(loop.seed, step, info.rank)
        noise = torch.randn((loop.batch_size, L, T), generator=g)
        return {"audio": audio, "noise": noise}

    clips = heldout_clips(data, cfg, hop) if info.is_main else []
    # The latent std is measured on whole seconds of many recordings: short random segments
    # are often silent in game audio and underestimate it (by 6x on the Doom data).
    scale_segments = np.stack([np.asarray(s.audio[: 4 * hop * 30], np.float32)
                               for s in segments.shards[:: max(1, len(segments.shards) // 8)]])
    sigma_data = model.config.head.sigma_data

    def export() -> None:
        deploy = copy.deepcopy(model).cpu().eval()
        if not cfg.decoder_only:  # a frozen encoder's latents already have their scale
            std = latent_std(deploy, scale_segments)
            fold_latent_scale(deploy.vae, sigma_data / max(std, 1e-6))
        save_model_atomic(deploy, run.model_path)

    result = run_loop(stage="vae", objective=objective, batch_fn=batch_fn, cfg=loop, info=info,
                      run=run, export=export, resume=resume,
                      evaluate=(lambda: reconstruction_report(model, clips)),
                      extra_config={"vae": to_dict(cfg), "data": data,
                                    "model": model.config.to_dict()})
    return result
