"""`livefoley train`: the VAE, stage 1 (diffusion) and stage 2 (ECT) runs.

    livefoley train vae    --data data/doom --out runs/vae    --steps 2000
    livefoley train stage1 --data data/doom --out runs/s1 --init runs/vae/model.safetensors
    livefoley train stage2 --data data/doom --out runs/s2 --init runs/s1/model.safetensors
    livefoley train decoder --data data/doom --out runs/dec --init runs/s2/model.safetensors
    torchrun --nproc_per_node 2 -m livefoley.models.training.cli stage1 ...   # DDP

Every run folder gets run.json (command, seeds, configs), log.jsonl/log.csv, loss.png,
eval.jsonl, state.pt (resume with --resume) and model.safetensors (the deployable model).

What it is: argument parsing over the stages; nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

import torch

from livefoley.models.training.loop import LoopConfig
from livefoley.models.training.runstate import RunDir

log = logging.getLogger(__name__)

# Per-stage defaults of the loop (tiny preset on CPU; raise --batch/--steps on a GPU).
STAGE_DEFAULTS = {
    "vae": LoopConfig(steps=2000, batch_size=8, lr=1e-3, warmup_steps=50, beta1=0.8),
    "stage1": LoopConfig(steps=3000, batch_size=8, lr=5e-4, warmup_steps=100),
    "stage2": LoopConfig(steps=1000, batch_size=8, lr=1e-4, warmup_steps=20),
    "decoder": LoopConfig(steps=2000, batch_size=8, lr=5e-4, warmup_steps=50, beta1=0.8),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="train_stage", metavar="STAGE", required=True)
    helps = {"vae": "causal streaming audio VAE (MR-STFT + L1 + KL)",
             "stage1": "diffusion pre-training of transformer + head (EDM2 loss, CFG dropout)",
             "stage2": "Easy Consistency Tuning of transformer + head (NFE 1-4)",
             "decoder": "the VAE decoder alone, on the frozen generator's own samples"}
    for name, d in STAGE_DEFAULTS.items():
        p = sub.add_parser(name, help=helps[name])
        p.add_argument("--data", required=True, help="dataset root (train + heldout shards)")
        p.add_argument("--out", required=True, help="run folder (created)")
        p.add_argument("--init", default=None,
                       help="checkpoint to start from (default: the preset's seeded weights)")
        p.add_argument("--preset", default="tiny", help="model preset when --init is absent")
        p.add_argument("--steps", type=int, default=d.steps)
        p.add_argument("--batch", type=int, default=d.batch_size, help="per process")
        p.add_argument("--lr", type=float, default=d.lr)
        p.add_argument("--warmup", type=int, default=d.warmup_steps)
        p.add_argument("--decay-final", type=float, default=1.0,
                       help="cosine-decay the lr to lr * this at the last step (1: constant)")
        p.add_argument("--seed", type=int, default=d.seed)
        p.add_argument("--log-every", type=int, default=d.log_every)
        p.add_argument("--ckpt-every", type=int, default=d.ckpt_every)
        p.add_argument("--eval-every", type=int, default=d.eval_every)
        p.add_argument("--keep-eval-models", action="store_true",
                       help="keep the model of every held-out evaluation as "
                            "OUT/models/step-N.safetensors (named in eval.jsonl)")
        p.add_argument("--max-minutes", type=float, default=0.0,
                       help="stop with a checkpoint after this wall time (0: none)")
        p.add_argument("--fit-steps", action="store_true",
                       help="set --steps from the measured speed so the run (its lr decay and "
                            "ECT curriculum) ends at --max-minutes")
        p.add_argument("--prefetch", type=int, default=0,
                       help="batches made ahead by threads while a step runs (0: none; "
                            "a few on a GPU, where the host would otherwise stall it)")
        p.add_argument("--ema-halflife", type=float, default=0.0,
                       help="export and evaluate an exponential moving average of the weights "
                            "with this half-life in optimiser steps (0: the raw weights)")
        p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
        p.add_argument("--device", default="auto", help="cpu, cuda or auto")
        p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
        if name == "vae":
            p.add_argument("--segment", type=int, default=16, help="latents per segment")
            p.add_argument("--resolutions", type=int, default=7, choices=(5, 7))
            p.add_argument("--kl-weight", type=float, default=1e-4)
            p.add_argument("--l1-weight", type=float, default=0.1)
            p.add_argument("--cardioid-weight", type=float, default=1.0,
                           help="FOA only: MR-STFT on 6 virtual cardioids (keeps direction)")
            p.add_argument("--decoder-only", action="store_true",
                           help="train the decoder alone on --init's frozen encoder (its "
                                "generator's latents keep their meaning)")
            p.add_argument("--onset-weight", type=float, default=0.0,
                           help="L1 between spectral-flux onset envelopes (transients)")
            p.add_argument("--mid-side-weight", type=float, default=0.0,
                           help="stereo only: MR-STFT on mid and side (the stereo image; "
                                "0: per-channel only; not yet shown to help, see README)")
        elif name == "decoder":
            _add_decoder_arguments(p)
        else:
            p.add_argument("--window", type=int, default=32, help="latent ticks per window")
            p.add_argument("--head-repeats", type=int, default=4,
                           help="noise draws per frame condition (MAR's batch multiplier)")
        if name != "vae":
            p.add_argument("--latent-cache", default=None,
                           help="root of the VAE latent caches, one folder per encoder "
                                "(default: DATA/latents; runs with the same encoder share it)")
        if name in ("stage1", "stage2"):
            p.add_argument("--vae-from", default=None,
                           help="take the trained VAE from this checkpoint, whole or VAE-only (the rest "
                                "from --init or the preset's seeded weights): a fresh generator "
                                "on a kept VAE")
            p.add_argument("--p-text-uncond", type=float, default=0.2,
                           help="null text token probability (models with text)")
            p.add_argument("--prev-noise", type=float, default=0.0,
                           help="max std of Gaussian noise on the fed-back previous latents "
                                "(per window, uniform in [0, max]; 0: clean teacher forcing)")
            p.add_argument("--prev-shrink", type=float, default=0.0,
                           help="max share (0..1) of the way the fed-back previous latents are "
                                "moved toward the VAE's latent of silence (per window, uniform "
                                "in [0, max]; history_aug.py; 0: off)")
            p.add_argument("--history-dropout", type=float, default=0.0,
                           help="probability that a window's whole audio history is replaced "
                                "by BOS (trains the no-history path of history guidance; 0: off)")
            p.add_argument("--onset-weight", type=float, default=0.0,
                           help="onset-envelope L1 between the decoded one-step prediction "
                                "and the real audio (MLP head; 0: off)")
            p.add_argument("--onset-profile-weight", type=float, default=0.0,
                           help="L1 between the sorted onset envelopes of the decoded "
                                "one-step prediction and the real audio (0: off)")
        if name == "stage1":
            p.add_argument("--p-uncond", type=float, default=0.1)
            p.add_argument("--p-mean", type=float, default=-0.4)
            p.add_argument("--p-std", type=float, default=1.4)
        if name == "stage2":
            p.add_argument("--p-uncond", type=float, default=0.1)
            p.add_argument("--p-mean", type=float, default=-1.1)
            p.add_argument("--p-std", type=float, default=2.0)
            p.add_argument("--ect-stages", type=int, default=6,
                           help="halvings of t - r over the run (ECT's q = 2)")
            p.add_argument("--ect-stage-offset", type=int, default=0,
                           help="first ECT stage (a fine-tune of a finished stage 2: its last)")
            p.add_argument("--huber-c", type=float, default=0.0)
            p.add_argument("--rollout-passes", type=int, default=0,
                           help="feed back the model's own samples: Jacobi passes of the "
                                "guided sampler over each window (0: teacher forcing only)")
            p.add_argument("--rollout-prob", type=float, default=0.5,
                           help="share of windows that read their rollout")
            p.add_argument("--rollout-guidance", type=float, default=None,
                           help="CFG scale of the rollout (default: the checkpoint's, else 3)")
            p.add_argument("--rollout-nfe", type=int, default=None,
                           help="consistency steps of the rollout (default: the checkpoint's, "
                                "else 1)")


def _add_decoder_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--window", type=int, default=16, help="latent ticks per window")
    p.add_argument("--prev-noise", type=float, default=0.5,
                   help="max std of noise on the fed-back latents (as the generator's training)")
    p.add_argument("--guidance", type=float, default=None,
                   help="CFG scale of the samples (default: the checkpoint's, else 3)")
    p.add_argument("--nfe", type=int, default=None,
                   help="consistency steps of the samples (default: the checkpoint's, else 1)")
    p.add_argument("--resolutions", type=int, default=7, choices=(5, 7))
    p.add_argument("--l1-weight", type=float, default=0.1)
    p.add_argument("--onset-weight", type=float, default=1.0,
                   help="L1 between spectral-flux onset envelopes (0: spectral losses only)")


def _model(args):
    from livefoley.models.checkpoint import load_checkpoint, load_vae_into
    from livefoley.models.config import get_preset
    from livefoley.models.v2a import build_model
    from livefoley.protocol.errors import ConfigError

    if getattr(args, "decoder_only", False) and not args.init:
        raise ConfigError("train vae --decoder-only: expected --init CHECKPOINT (a trained "
                          "model whose decoder to train), found no --init")
    if getattr(args, "train_stage", None) == "decoder" and not args.init:
        raise ConfigError("train decoder: expected --init CHECKPOINT (a trained generator "
                          "whose samples to decode), found no --init")

    model = load_checkpoint(args.init) if args.init else build_model(get_preset(args.preset))
    if getattr(args, "vae_from", None):
        load_vae_into(model, args.vae_from)
    return model


def main(args: argparse.Namespace) -> int:
    from livefoley.models.training.distributed import init_distributed, shutdown

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    info = init_distributed(args.device)
    loop = dataclasses.replace(
        STAGE_DEFAULTS[args.train_stage], steps=args.steps, batch_size=args.batch, lr=args.lr,
        warmup_steps=args.warmup, decay_final_frac=args.decay_final, seed=args.seed,
        log_every=args.log_every, ckpt_every=args.ckpt_every, eval_every=args.eval_every,
        keep_eval_models=args.keep_eval_models,
        time_limit_s=args.max_minutes * 60.0, fit_steps=args.fit_steps, prefetch=args.prefetch,
        ema_halflife_steps=args.ema_halflife)
    torch.manual_seed(args.seed)
    run = RunDir(args.out)
    model = _model(args)
    try:
        if args.train_stage == "vae":
            from livefoley.models.training.vae_stage import VAEStageConfig, train_vae

            cfg = VAEStageConfig(segment_latents=args.segment, resolutions=args.resolutions,
                                 kl_weight=args.kl_weight, l1_weight=args.l1_weight,
                                 cardioid_weight=args.cardioid_weight,
                                 mid_side_weight=args.mid_side_weight,
                                 decoder_only=args.decoder_only,
                                 onset_weight=args.onset_weight)
            result = train_vae(model=model, data=args.data, run=run, loop=loop, cfg=cfg,
                               info=info, resume=args.resume)
        elif args.train_stage == "decoder":
            from livefoley.models.training.decoder_stage import DecoderStageConfig, train_decoder

            cfg = DecoderStageConfig(window_latents=args.window, prev_noise=args.prev_noise,
                                     guidance_scale=args.guidance, nfe=args.nfe,
                                     resolutions=args.resolutions, l1_weight=args.l1_weight,
                                     onset_weight=args.onset_weight)
            result = train_decoder(model=model, data=args.data, run=run, loop=loop, cfg=cfg,
                                   info=info, resume=args.resume,
                                   latent_cache=args.latent_cache)
        else:
            from livefoley.models.training.diffusion_stage import (
                DiffusionStageConfig,
                train_diffusion,
            )

            cfg = DiffusionStageConfig(
                window_latents=args.window, head_repeats=args.head_repeats,
                p_uncond=args.p_uncond, p_text_uncond=args.p_text_uncond,
                p_mean=args.p_mean, p_std=args.p_std, prev_noise=args.prev_noise,
                prev_shrink=args.prev_shrink, history_dropout=args.history_dropout,
                ect_stages=getattr(args, "ect_stages", 6), huber_c=getattr(args, "huber_c", 0.0),
                ect_stage_offset=getattr(args, "ect_stage_offset", 0),
                onset_weight=args.onset_weight,
                onset_profile_weight=args.onset_profile_weight,
                rollout_passes=getattr(args, "rollout_passes", 0),
                rollout_prob=getattr(args, "rollout_prob", 0.5),
                rollout_guidance=getattr(args, "rollout_guidance", None),
                rollout_nfe=getattr(args, "rollout_nfe", None))
            result = train_diffusion(stage=args.train_stage, model=model, data=args.data,
                                     run=run, loop=loop, cfg=cfg, info=info, resume=args.resume,
                                     latent_cache=args.latent_cache)
    finally:
        shutdown(info)
    if info.is_main:
        print(f"{args.train_stage}: step {result['step']}, loss {result['loss']:.4g}, "
              f"{result['wall_s']:.0f} s; model: {run.model_path}")
        if "eval" in result:
            print("held-out: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in result["eval"].items()))
    if "stopped_by" in result:  # not finished: a chained next stage must not start
        if info.is_main:
            print(f"{args.train_stage}: stopped by {result['stopped_by']} before step "
                  f"{result['steps']}; the same command with --resume continues")
        return 130 if result["stopped_by"] == "SIGINT" else 143
    return 0


if __name__ == "__main__":  # torchrun -m livefoley.models.training.cli STAGE ...
    _parser = argparse.ArgumentParser(prog="livefoley train")
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
