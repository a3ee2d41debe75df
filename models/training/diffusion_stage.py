"""Stage 1 (EDM2 diffusion pre-training) and stage 2 (Easy Consistency Tuning).

What it is: `DiffusionStageConfig`, `DiffusionObjective` and `train_diffusion`. Both stages
train the vision front-end (when not frozen), the token embeddings, the null token, the
causal transformer and the head on windows of cached VAE latents (the VAE is frozen; its
latents are computed once per shard per encoder, `batches.latent_cache_dir`, and shared):

1. vision tokens of the window's frames (the frame of the previous tick gives the first
   delta), the whole sequence replaced by the null token with probability `p_uncond`
   (SoundReactor Alg. 1 line 3);
2. teacher-forced conditions z_i = [h(x_{i-1}), h(v_i)] (`V2AModel.forward_train`); a text
   model also gets each shard's caption embedding (MiniLM, once per shard) as its text
   token, replaced by the null text token with probability `p_text_uncond` independently
   of the vision dropout (so both single-condition paths of `combine_guidance` are trained);
3. each z_i repeated `head_repeats` times with fresh noise (MAR's diffusion batch multiplier:
   the head is cheap next to the transformer);
4. stage 1: EDM2 loss with learned uncertainty, ln sigma ~ N(p_mean, p_std) (Alg. 1);
   stage 2: ECT with r(t, stage), shared noise, the target under no_grad with the same z
   (Alg. 2; ECT's stage advances `ect_stages` times over the run, halving t - r each time).

With `onset_weight` > 0 the MLP head's one-step prediction of every window latent (the NFE-1
sample: D(sigma_max n, sigma_max, z_i)) is decoded by the frozen VAE decoder and charged with
`losses.onset_envelope_loss` against the window's real audio (rows with the null vision left
out: they cannot know where the events are). The consistency loss trains the one-step sample
towards the mean of what may follow, which is smooth where the picture leaves the timing of a
transient open; this term charges a missing transient as much as a spurious one. The decoder
stays frozen; only its input moves. `onset_profile_weight` > 0 adds `losses.onset_profile_loss`
on the same decoded windows: the real window's onset strengths in any order, so as many sharp
transients, wherever they lie (the aligned term alone made a generator more precise but no
busier: measured in the model card).

With `prev_noise` > 0 the fed-back previous latents (the audio tokens h(x_{i-1}), only they:
the head's target stays clean) get Gaussian noise of a std drawn per window from
U(0, prev_noise). Live, the model feeds back its own samples, not the VAE's encoding of the
real audio; a model trained on clean teacher forcing alone leans on the previous latent and
drifts once its own errors come back (measured: `models/weights/MODEL_CARD.md`).
`prev_shrink` > 0 also moves each window's fed-back latents a share of the way toward the
VAE's latent of silence (`history_aug.py`: a history quieter than the audio it precedes).
With `rollout_passes` K > 0 a share `rollout_prob` of the windows read the model's own
samples instead: `own_samples.rollout_latents`, K no-gradient Jacobi passes of the guided
sampler (the checkpoint's CFG scale and NFE unless `rollout_guidance`, `rollout_nfe`), whose
first K positions are exactly the free-running samples; the targets stay the real latents
(scheduled sampling: the model learns to come back from its own samples to what the picture
shows). The held-out report then adds the one-step MSE with the rollout fed back.
With `history_dropout` p > 0 a share p of the windows read BOS ("no audio yet") at every
audio position instead of their fed-back latents (its own random stream): the model also
learns to predict from the frames alone, the no-history path that history guidance
(`generator.py`, after history-guided video diffusion, Song et al. 2025) extrapolates
against; the held-out report then adds `nohist` MSEs (the history helps when `cond` <
`nohist`).

Held-out numbers (eval.jsonl): denoising MSE at fixed sigmas with the real vision and with
the null token (vision helps when `cond` < `null`), and for stage 2 the one-step (sigma_max)
consistency MSE, on fixed windows of the held-out split.

What it is not: a VAE trainer (the VAE is frozen here) or a sampler.
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
    HELDOUT_SEED,
    batch_tensor,
    caption_embeddings,
    WindowBatches,
    latent_cache_dir,
    heldout_rng,
    kv_window_shortfall,
    latent_caches,
    step_rng,
    step_torch_generator,
)
from livefoley.models.training.conditions import (
    conditions_from_tokens,
    teacher_forced_conditions,
    window_vision_tokens,
)
from livefoley.models.training.distributed import DistInfo
from livefoley.models.training.export import save_model_atomic
from livefoley.models.training.losses import (
    ect_loss,
    ect_r,
    edm2_loss,
    onset_l1,
    onset_sorted_l1,
    paired_onset_envelopes,
)
from livefoley.models.training.history_aug import fed_back_augmentation, silent_latent
from livefoley.models.training.loop import LoopConfig, run_loop
from livefoley.models.training.own_samples import rollout_latents, sampler_settings
from livefoley.models.training.runstate import RunDir
from livefoley.models.v2a import V2AModel
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

STAGES = ("stage1", "stage2")


@dataclasses.dataclass(frozen=True)
class DiffusionStageConfig:
    """Data shapes, noise distribution, guidance dropout and ECT settings."""

    window_latents: int = 32  # latent ticks per training window (1.07 s at 30 Hz)
    head_repeats: int = 4  # noise draws per condition (MAR diffusion_batch_mul)
    p_uncond: float = 0.1  # probability of the null vision sequence (CFG training)
    p_text_uncond: float = 0.2  # probability of the null text token (text models), independent
    p_mean: float = -0.4  # ln sigma mean (stage 1 EDM2; ECT uses -1.1)
    p_std: float = 1.4  # ln sigma std (ECT uses 2.0)
    ect_stages: int = 6  # ECT stage advances over the run (t - r halves each time)
    ect_q: float = 2.0
    ect_k: float = 8.0
    ect_b: float = 1.0
    huber_c: float = 0.0  # 0: L2 distance; > 0: pseudo-Huber
    prev_noise: float = 0.0  # max std of noise on the fed-back latents (0: clean teacher forcing)
    prev_shrink: float = 0.0  # max share of the way the fed-back latents move toward silence (0: off)
    history_dropout: float = 0.0  # probability a window reads BOS for its whole history (0: off)
    onset_weight: float = 0.0  # onset-envelope term on the decoded one-step prediction (0: off)
    onset_profile_weight: float = 0.0  # sorted-envelope term on the same windows (0: off)
    ect_stage_offset: int = 0  # first ECT stage (a fine-tune of a finished run starts late)
    rollout_passes: int = 0  # Jacobi passes of the model's own samples fed back (0: off)
    rollout_prob: float = 0.5  # share of windows that read their rollout (the rest: teacher forcing)
    rollout_guidance: float | None = None  # the rollout's CFG scale (None: the checkpoint's)
    rollout_nfe: int | None = None  # the rollout's NFE (None: the checkpoint's)
    heldout_windows: int = 16  # fixed held-out windows for the report

    @property
    def decodes_one_step(self) -> bool:
        """Whether a loss term reads the decoded one-step prediction (and so the real audio)."""
        return self.onset_weight + self.onset_profile_weight > 0

    def __post_init__(self) -> None:
        for name in ("p_uncond", "p_text_uncond"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"DiffusionStageConfig.{name}: expected [0, 1), "
                                  f"found {getattr(self, name)}")
        if self.onset_weight < 0 or self.onset_profile_weight < 0 or self.ect_stage_offset < 0:
            raise ConfigError(f"DiffusionStageConfig: expected onset_weight, onset_profile_weight "
                              f"and ect_stage_offset >= 0, found {self.onset_weight}, "
                              f"{self.onset_profile_weight} and {self.ect_stage_offset}")
        if not 0.0 <= self.prev_noise < 10.0:
            raise ConfigError(f"DiffusionStageConfig.prev_noise: expected [0, 10), "
                              f"found {self.prev_noise}")
        if not 0.0 <= self.prev_shrink <= 1.0:
            raise ConfigError(f"DiffusionStageConfig.prev_shrink: expected [0, 1], "
                              f"found {self.prev_shrink}")
        if not 0.0 <= self.history_dropout < 1.0:
            raise ConfigError(f"DiffusionStageConfig.history_dropout: expected [0, 1), "
                              f"found {self.history_dropout}")
        if self.rollout_passes < 0 or not 0.0 <= self.rollout_prob <= 1.0:
            raise ConfigError(f"DiffusionStageConfig: expected rollout_passes >= 0 and "
                              f"rollout_prob in [0, 1], found {self.rollout_passes} and "
                              f"{self.rollout_prob}")
        if self.window_latents < 2 or self.head_repeats < 1 or self.ect_stages < 1:
            raise ConfigError(f"DiffusionStageConfig: expected window_latents >= 2, "
                              f"head_repeats >= 1, ect_stages >= 1, found "
                              f"{self.window_latents}, {self.head_repeats}, {self.ect_stages}")


class DiffusionObjective(nn.Module):
    """forward(batch, step) -> {"loss", ...}; `stage` is "stage1" or "stage2"."""

    def __init__(self, model: V2AModel, cfg: DiffusionStageConfig, stage: str,
                 total_steps: int) -> None:
        super().__init__()
        if stage not in STAGES:
            raise ConfigError(f"DiffusionObjective: expected stage in {list(STAGES)}, "
                              f"found {stage!r}")
        if cfg.decodes_one_step and model.config.head_kind != "mlp":
            raise ConfigError(f"DiffusionStageConfig.onset_weight: expected a model with the "
                              f"MLP head, found head_kind {model.config.head_kind!r}")
        self.model = model
        self.cfg = cfg
        self.stage = stage
        self.total_steps = total_steps
        self.rollout_scale, self.rollout_nfe = 1.0, 1
        if cfg.rollout_passes:
            if stage != "stage2":
                raise ConfigError(f"--rollout-passes: expected stage2 (a one-step consistency "
                                  f"head to roll out), found {stage}")
            if model.config.head_kind != "mlp" or model.text is not None:
                raise ConfigError(f"--rollout-passes: expected a model with the MLP head and "
                                  f"no text, found head_kind {model.config.head_kind!r}"
                                  f"{' with text' if model.text is not None else ''}")
            self.rollout_scale, self.rollout_nfe = sampler_settings(
                model, cfg.rollout_guidance, cfg.rollout_nfe,
                ("--rollout-guidance", "--rollout-nfe"))

    def ect_stage(self, step: int) -> int:
        """ECT stage of optimiser step `step`: offset .. offset + ect_stages - 1, evenly over
        the run."""
        return self.cfg.ect_stage_offset + min(
            step * self.cfg.ect_stages // max(self.total_steps, 1), self.cfg.ect_stages - 1)

    def onset_terms(self, z: torch.Tensor,
                    batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """{"onset": aligned L1, "onset_profile": sorted L1} of the decoded one-step
        predictions against the real audio; see the module docstring.

        z (B*T, 2D) teacher-forced conditions; batch needs `latents` (B, T, L), `drop` (B,),
        `audio` (B, C, T*hop) and `onset_noise` (B*T, L).

        Raises:
            ConfigError: `audio` or `onset_noise` is missing or has the wrong shape.
        """
        latents = batch["latents"]
        B, T, L = latents.shape
        channels, hop = self.model.config.vae.channels, self.model.config.hop_samples
        audio = batch_tensor(batch, "audio", (B, channels, T * hop), "onset term")
        noise = batch_tensor(batch, "onset_noise", (B * T, L), "onset term")
        keep = ~batch["drop"]
        if not bool(keep.any()):
            zero = latents.new_zeros(())
            return {"onset": zero, "onset_profile": zero}
        s_max = self.model.config.head.sigma_max
        sigma = torch.full((B * T,), s_max, dtype=latents.dtype, device=latents.device)
        one_step = self.model.head(s_max * noise, sigma, z).view(B, T, L)
        pcm = self.model.vae.decode(one_step[keep].transpose(1, 2))  # (B', C, T*hop)
        env, real_env = paired_onset_envelopes("onset term", pcm, audio[keep],
                                               self.model.config.sample_rate_hz)
        return {"onset": onset_l1(env, real_env), "onset_profile": onset_sorted_l1(env, real_env)}

    def conditions(self, frames: torch.Tensor, latents: torch.Tensor,
                   drop: torch.Tensor, text: torch.Tensor | None = None,
                   drop_text: torch.Tensor | None = None,
                   prev_aug: torch.Tensor | None = None,
                   drop_history: torch.Tensor | None = None) -> torch.Tensor:
        """`teacher_forced_conditions` of this objective's model."""
        return teacher_forced_conditions(self.model, frames, latents, drop, text, drop_text,
                                         prev_aug, drop_history)

    def fed_back(self, tokens: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The latents (B, T, L) the transformer reads: the real ones (+ `prev_aug`), and for
        the windows that `batch["rollout"]` (B,) marks, the model's own rollout of them
        (`own_samples.rollout_latents`, no gradient, noise `batch["rollout_noise"]`).

        Raises:
            ConfigError: `rollout` or `rollout_noise` missing or misshapen.
        """
        latents = batch["latents"]
        prev_aug = batch.get("prev_aug")
        fed = latents if prev_aug is None else latents + prev_aug
        if not self.cfg.rollout_passes:
            return fed
        B, T, L = latents.shape
        nfe = self.rollout_nfe
        rows = batch_tensor(batch, "rollout", (B,), "--rollout-passes")
        noise = batch_tensor(batch, "rollout_noise", (nfe, B * T, L), "--rollout-passes")
        if not bool(rows.any()):
            return fed
        noise = noise.view(nfe, B, T, L)[:, rows].reshape(nfe, -1, L)
        own = rollout_latents(self.model, tokens.detach()[rows], latents[rows], noise,
                              self.rollout_scale, self.cfg.rollout_passes)
        return fed.index_put((rows,), own)

    def forward(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        latents = batch["latents"]  # (B, T, L)
        m = self.cfg.head_repeats
        tokens = window_vision_tokens(self.model, batch["frames"])  # (B, T, Dv)
        z = conditions_from_tokens(self.model, tokens, self.fed_back(tokens, batch),
                                   batch["drop"], batch.get("text"), batch.get("drop_text"),
                                   batch.get("drop_history")).repeat(m, 1)  # (M, 2D)
        if self.model.config.head_kind == "locdit":
            return self._patch_loss(z, latents, batch["noise"], batch["sigma"], step)
        out = self._head_loss(z, latents, batch, step)
        if self.cfg.decodes_one_step:
            terms = self.onset_terms(z[: latents.shape[0] * latents.shape[1]], batch)
            out.update(terms)
            out["loss"] = (out["loss"] + self.cfg.onset_weight * terms["onset"]
                           + self.cfg.onset_profile_weight * terms["onset_profile"])
        return out

    def _head_loss(self, z: torch.Tensor, latents: torch.Tensor,
                   batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """The MLP head's stage-1 EDM2 or stage-2 ECT loss on the repeated conditions z."""
        L, m = latents.shape[-1], self.cfg.head_repeats
        x = latents.reshape(-1, L).repeat(m, 1)  # (M, L)
        head = self.model.head
        noise, sigma = batch["noise"], batch["sigma"]  # (M, L), (M,)
        if self.stage == "stage1":
            denoised = head(x + sigma[:, None] * noise, sigma, z)
            loss = edm2_loss(denoised, x, sigma, head.logvar(sigma), head.sigma_data)
            mse = (denoised - x).square().mean()
            return {"loss": loss, "mse": mse.detach()}
        stage = self.ect_stage(step)
        r = ect_r(sigma, stage, q=self.cfg.ect_q, k=self.cfg.ect_k, b=self.cfg.ect_b)
        cond_emb = head.embed_cond(z)
        target_emb = cond_emb.detach()

        def denoise(xn: torch.Tensor, s: torch.Tensor, with_grad: bool) -> torch.Tensor:
            return head.denoise_embedded(xn, s, cond_emb if with_grad else target_emb)

        loss = ect_loss(denoise, x, sigma, r, noise, huber_c=self.cfg.huber_c)
        return {"loss": loss, "ect_stage": torch.tensor(float(stage))}

    def _patch_loss(self, z, latents, noise, sigma, step):
        """A LocDiT head: one sigma per patch (the patch's first draw), teacher-forced context.

        Stage 1: EDM-weighted loss (no u(sigma)). Stage 2: ECT with each patch of k latents
        as one row of k*L numbers, r(t) per patch, shared noise, the target under no_grad
        with the same (detached) patch conditions and the same clean context; D(x, 0) = x
        holds for the LocDiT as for the MLP head (same preconditioning), so ECT applies as is.
        """
        B, T, L = latents.shape
        m, k = self.cfg.head_repeats, self.model.config.patch_latents
        P = T // k
        zc = self.model.patch_conditions(z[: B * T].view(B, T, -1)).repeat(m, 1, 1)  # (mB, P, c)
        x = latents.reshape(B, P, k, L).repeat(m, 1, 1, 1)  # (mB, P, k, L)
        n = noise.view(m * B, P, k, L)
        s = sigma.view(m * B, P, k)[..., 0]  # (mB, P): the patch's first draw
        head = self.model.head
        if self.stage == "stage2":
            stage = self.ect_stage(step)
            t = s.reshape(-1)  # (mB P,)
            r = ect_r(t, stage, q=self.cfg.ect_q, k=self.cfg.ect_k, b=self.cfg.ect_b)
            target_cond = zc.detach()

            def denoise(xn: torch.Tensor, sg: torch.Tensor, with_grad: bool) -> torch.Tensor:
                out = head.forward_sequence(xn.view_as(x), sg.view_as(s),
                                            zc if with_grad else target_cond, x)
                return out.reshape(-1, k * L)

            loss = ect_loss(denoise, x.reshape(-1, k * L), t, r, n.reshape(-1, k * L),
                            huber_c=self.cfg.huber_c)
            return {"loss": loss, "ect_stage": torch.tensor(float(stage))}
        denoised = head.forward_sequence(x + s[..., None, None] * n, s, zc, x)
        rows = s.repeat_interleave(k, dim=1).reshape(-1)  # (mB P k,)
        loss = edm2_loss(denoised.reshape(-1, L), x.reshape(-1, L), rows,
                         torch.zeros_like(rows)[:, None], head.config.sigma_data)
        mse = (denoised - x).square().mean()
        return {"loss": loss, "mse": mse.detach()}


def _draw(seed: int, step: int, rank: int, n_rows: int, L: int, B: int,
          cfg: DiffusionStageConfig, sigma_min: float, sigma_max: float):
    g = step_torch_generator(seed, step, rank)
    drop = torch.rand(B, generator=g) < cfg.p_uncond
    noise = torch.randn((n_rows, L), generator=g)
    z = torch.randn(n_rows, generator=g)
    sigma = (cfg.p_mean + cfg.p_std * z).exp().clamp(sigma_min, sigma_max)
    return drop, noise, sigma


@torch.no_grad()
def heldout_report(objective: DiffusionObjective, batch: dict[str, torch.Tensor],
                   sigma_max: float) -> dict[str, float]:
    """Denoising MSE with real vs null vision at fixed sigmas (and one-step at sigma_max;
    with rollouts also the one-step MSE with the model's own rollout fed back)."""
    model = objective.model
    latents = batch["latents"]
    B, T, L = latents.shape
    x = latents.reshape(-1, L)
    g = torch.Generator().manual_seed(1234)
    noise = torch.randn(x.shape, generator=g).to(x)
    out = {}
    no, yes = torch.zeros(B, dtype=torch.bool), torch.ones(B, dtype=torch.bool)
    cases = [("cond", no, no, no), ("null", yes, yes, no)]
    if model.text is not None:  # text helps when mse_cond < mse_notext
        cases.append(("notext", no, yes, no))
    if objective.cfg.history_dropout:  # the history helps when mse_cond < mse_nohist
        cases.append(("nohist", no, no, yes))
    for name, drop, drop_text, drop_history in cases:
        z = objective.conditions(batch["frames"], latents, drop.to(latents.device),
                                 batch.get("text"), drop_text.to(latents.device),
                                 drop_history=drop_history.to(latents.device)
                                 if name == "nohist" else None)
        for s in (0.2, 1.0, sigma_max):
            if model.config.head_kind == "locdit":
                k = model.config.patch_latents
                xp = latents.reshape(B, T // k, k, L)
                zc = model.patch_conditions(z.view(B, T, -1))
                d = model.head.forward_sequence(xp + s * noise.view_as(xp),
                                                torch.full((B, T // k), s).to(x), zc, xp)
                d = d.reshape(-1, L)
            else:
                d = model.head(x + s * noise, torch.full((x.shape[0],), s).to(x), z)
            out[f"mse_{name}_s{s:g}"] = float((d - x).square().mean())
        if name == "cond" and objective.cfg.decodes_one_step:  # the one-step onset terms
            terms = objective.onset_terms(z, dict(batch, drop=drop.to(x.device)))
            out.update({f"{k}_cond": float(v) for k, v in terms.items()})
    if objective.cfg.rollout_passes:  # one-step MSE with the model's own rollout fed back
        tokens = window_vision_tokens(model, batch["frames"])
        draws = torch.randn((objective.rollout_nfe, B * T, L), generator=g).to(x)
        own = rollout_latents(model, tokens, latents, draws, objective.rollout_scale,
                              objective.cfg.rollout_passes)
        z = conditions_from_tokens(model, tokens, own, no.to(x.device))
        d = model.head(sigma_max * noise, torch.full((x.shape[0],), sigma_max).to(x), z)
        out[f"mse_rollout_s{sigma_max:g}"] = float((d - x).square().mean())
    out["latent_var"] = float(x.var())
    return out


def train_diffusion(*, stage: str, model: V2AModel, data: str, run: RunDir, loop: LoopConfig,
                    cfg: DiffusionStageConfig, info: DistInfo, resume: bool = False,
                    latent_cache: str | None = None) -> dict:
    """Train stage 1 or stage 2 on the training split of `data`; see module docstring.
    `latent_cache`: the root of the latent caches (`batches.latent_cache_dir`; None: the
    dataset's `latents/`).

    Thread-safety: one run per process group. Real-time safe: no.
    """
    k = model.config.patch_latents
    if cfg.window_latents % k:
        raise ConfigError(f"--window: expected a multiple of the LocDiT patch ({k} latents), "
                          f"found {cfg.window_latents}")
    shortfall = kv_window_shortfall(cfg.window_latents, model.config.transformer.window_frames)
    if shortfall:
        log.warning("%s: %s", stage, shortfall)
    model.to(info.device)
    model.requires_grad_(True)
    model.vae.requires_grad_(False)
    if model.config.vision.freeze_backbone:
        model.vision.backbone.requires_grad_(False)
    if stage == "stage2" and hasattr(model.head, "logvar_linear"):  # u(sigma): stage 1 only
        model.head.logvar_linear.requires_grad_(False)
    hop = model.config.hop_samples
    train_cache, held_cache = latent_caches(data, latent_cache_dir(data, model.vae, latent_cache),
                                            model.vae, hop, info)
    with_audio = cfg.decodes_one_step  # the onset terms read the real audio
    windows = WindowBatches(train_cache, cfg.window_latents, audio=with_audio)
    objective = DiffusionObjective(model, cfg, stage, loop.steps).to(info.device)
    h = model.config.head
    L, B, T = model.config.latent_dim, loop.batch_size, cfg.window_latents
    rows = B * T * cfg.head_repeats

    text_dim = model.config.text_dim
    train_text = caption_embeddings(train_cache.shards, text_dim) if text_dim else None
    silence = silent_latent(model.vae, hop) if cfg.prev_shrink > 0 else None

    def batch_fn(step: int) -> dict[str, torch.Tensor]:
        batch = windows.batch(step_rng(loop.seed, step, info.rank), B)
        drop, noise, sigma = _draw(loop.seed, step, info.rank, rows, L, B, cfg, h.sigma_min,
                                   h.sigma_max)
        batch.update(drop=drop, noise=noise, sigma=sigma)
        aug = fed_back_augmentation(loop.seed, step, info.rank, batch["latents"],
                                    prev_noise=cfg.prev_noise, prev_shrink=cfg.prev_shrink,
                                    silence=silence)
        if aug is not None:
            batch["prev_aug"] = aug
        if cfg.history_dropout > 0:  # own stream, so runs without it draw what they drew
            g = step_torch_generator(loop.seed, step, info.rank + 49979687)
            batch["drop_history"] = torch.rand(B, generator=g) < cfg.history_dropout
        if cfg.rollout_passes:  # own stream, so runs without rollouts draw what they drew
            g = step_torch_generator(loop.seed, step, info.rank + 32452843)
            batch.update(rollout=torch.rand(B, generator=g) < cfg.rollout_prob,
                         rollout_noise=torch.randn(objective.rollout_nfe, B * T, L, generator=g))
        if with_audio:  # own stream, so runs without the term draw what they drew
            g = step_torch_generator(loop.seed, step, info.rank + 15485863)
            batch["onset_noise"] = torch.randn(B * T, L, generator=g)
        if train_text is not None:  # own stream, so text-free runs draw what they drew
            g = step_torch_generator(loop.seed, step, info.rank + 7919)
            batch.update(text=train_text[batch["shard"]],
                         drop_text=torch.rand(B, generator=g) < cfg.p_text_uncond)
        return batch

    evaluate = None
    if info.is_main:
        held = WindowBatches(held_cache, cfg.window_latents, audio=with_audio).batch(
            heldout_rng(), cfg.heldout_windows)
        if with_audio:
            held["onset_noise"] = torch.randn(cfg.heldout_windows * T, L,
                                              generator=torch.Generator().manual_seed(HELDOUT_SEED))
        if text_dim:
            held["text"] = caption_embeddings(held_cache.shards, text_dim)[held["shard"]]
        held = {k: v.to(info.device) for k, v in held.items()}
        evaluate = lambda: heldout_report(objective, held, h.sigma_max)  # noqa: E731

    def export() -> None:
        save_model_atomic(copy.deepcopy(model).cpu().eval(), run.model_path)

    return run_loop(stage=stage, objective=objective, batch_fn=batch_fn, cfg=loop, info=info,
                    run=run, export=export, evaluate=evaluate, resume=resume,
                    extra_config={stage: to_dict(cfg), "data": data,
                                  "model": model.config.to_dict(),
                                  "latent_std_train": train_cache.latent_std})
