"""`livefoley eval`: score a model against silence, shuffled and retrieval baselines.

    livefoley eval --data data/doom --model checkpoints/default.safetensors --out runs/eval
    livefoley eval --data data/doom --out runs/eval-baselines          # baselines only
    livefoley eval ... --no-baseline-cache # score the baselines afresh (default: kept in DATA/eval-cache)
    livefoley eval ... --teacher-forced    # also with the real previous latents fed back
    livefoley eval ... --vae-round-trip    # also the real audio through the model's VAE
    livefoley eval --spatial --data data/scenes --model runs/spatial_s1/model.safetensors \
        --out runs/spatial_eval                                          # FOA: spatial.py

What it is: argument parsing over `runner.evaluate` and `modelfn.model_generate_fn`; it prints
the report's table. Nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from livefoley.models.evaluation.report import markdown_table
from livefoley.models.evaluation.runner import EvalConfig, evaluate

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = EvalConfig()
    parser.add_argument("--data", required=True, help="dataset folder (train + heldout shards)")
    parser.add_argument("--out", required=True, help="report folder (created)")
    parser.add_argument("--model", default=None,
                        help="checkpoint path or preset name; omit for baselines only")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--nfe", type=int, default=None, help="consistency steps (1..4)")
    parser.add_argument("--guidance", type=float, default=None, help="CFG scale")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--max-episodes", type=int, default=d.max_episodes)
    parser.add_argument("--seconds", type=float, default=d.max_seconds,
                        help="evaluated seconds per held-out episode")
    parser.add_argument("--nn-train-shards", type=int, default=d.nn_train_shards)
    parser.add_argument("--examples", type=int, default=d.examples, help="mp4 examples")
    parser.add_argument("--no-fd", action="store_true", help="skip the aisfx Frechet distance")
    parser.add_argument("--no-plots", action="store_true", help="report without figures")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--baseline-cache", default=None, metavar="DIR",
                       help="where the baselines' and the real audio's scores are kept for the "
                            "next run on the same clips and settings (default: DATA/eval-cache; "
                            "baseline_cache.py)")
    cache.add_argument("--no-baseline-cache", action="store_true",
                       help="score the baselines afresh and keep nothing")
    parser.add_argument("--spatial", action="store_true",
                        help="FOA model on held-out scenes: direction, W quality, text adherence")
    parser.add_argument("--stereo-model", default=None,
                        help="--spatial: a stereo checkpoint for the stereo_model_upmix baseline")
    parser.add_argument("--text-guidance", type=float, default=None,
                        help="--spatial: text guidance scale of a text model")
    parser.add_argument("--sampler", default=None, choices=("consistency", "heun"),
                        help="sampler of the model (heun for a stage-1 head)")
    parser.add_argument("--noise-correlation", type=float, default=None, metavar="RHO",
                        help="AR(1) correlation of the sampling noise across steps (0..1; "
                             "default: the checkpoint's, else 0)")
    parser.add_argument("--feedback-noise", type=float, default=None, metavar="F",
                        help="std of the noise on the fed-back latent (default: the "
                             "checkpoint's, else 0)")
    parser.add_argument("--history-guidance", type=float, default=None, metavar="WH",
                        help="history guidance scale w_h (-4..4; 1: off; default: the "
                             "checkpoint's, else 1)")
    parser.add_argument("--heun-steps", type=int, default=None, help="Heun steps (with --sampler heun)")
    parser.add_argument("--vae-round-trip", action="store_true",
                        help="also score the real audio through the model's VAE "
                             "(round_trip.py): the ceiling of what its latents carry")
    parser.add_argument("--teacher-forced", action="store_true",
                        help="also generate with the real previous latents fed back "
                             "(teacher_forced.py): separates prediction from drift")
    parser.add_argument("--no-adherence", action="store_true",
                        help="--spatial: skip the text-adherence runs")


def main(args: argparse.Namespace) -> int:
    if args.spatial:
        return _spatial(args)
    cfg = dataclasses.replace(EvalConfig(), max_episodes=args.max_episodes,
                              max_seconds=args.seconds, nn_train_shards=args.nn_train_shards,
                              examples=args.examples, embeddings=not args.no_fd, seed=args.seed,
                              plots=not args.no_plots)
    generate, info, name = None, None, "model"
    if args.model:
        from livefoley.models.data.generate import load_config
        from livefoley.models.evaluation.modelfn import model_generate_fn

        generate, info = model_generate_fn(
            args.model, device=args.device, nfe=args.nfe, guidance_scale=args.guidance,
            seed=args.seed, sample_rate_hz=load_config(args.data).sample_rate_hz,
            sampler=args.sampler, heun_steps=args.heun_steps,
            noise_correlation=args.noise_correlation, feedback_noise=args.feedback_noise,
            history_guidance=args.history_guidance)
    cache = None if args.no_baseline_cache else (args.baseline_cache or Path(args.data) / "eval-cache")
    results = evaluate(args.data, args.out, generate=generate, model_name=name, config=cfg,
                       model_info=info, baseline_cache=cache)
    print(markdown_table(results["summary"], results["systems"]))
    print(f"report: {args.out}/report.md ({results['wall_s']:.0f} s)")
    if args.teacher_forced and args.model:
        _teacher_forced(args)
    if args.vae_round_trip and args.model:
        _vae_round_trip(args)
    return 0


def _teacher_forced(args: argparse.Namespace) -> None:
    from livefoley.models.evaluation.teacher_forced import teacher_forced_scores

    sampling = {k: v for k, v in (("guidance_scale", args.guidance), ("nfe", args.nfe))
                if v is not None}  # unset: teacher_forced_scores' defaults (the generator's)
    res = teacher_forced_scores(args.data, args.model, max_episodes=args.max_episodes,
                                max_seconds=args.seconds, seed=args.seed, **sampling)
    _write_diagnostic(args.out, "teacher_forced", "teacher-forced (real previous latents)", res)


def _vae_round_trip(args: argparse.Namespace) -> None:
    from livefoley.models.evaluation.round_trip import vae_round_trip_scores

    res = vae_round_trip_scores(args.data, args.model, max_episodes=args.max_episodes,
                                max_seconds=args.seconds)
    _write_diagnostic(args.out, "vae_round_trip", "VAE round trip (the real audio's latents)", res)
    if "latents" in res:
        r = res["latents"]
        print(f"the real audio's latents: AR(1) R2 {r['ar1_r2']:.3f}, AR(4) R2 {r['ar4_r2']:.3f}, "
              f"step ratio {r['step_ratio']:.3f} ({r['clips']} clips, leave-one-out)")


def _write_diagnostic(out: str, name: str, label: str, res: dict) -> None:
    import json

    (Path(out) / f"{name}.json").write_text(json.dumps(res, indent=1))
    s = res["summary"]
    print(f"{label}: onset F {s['onset_f']:.3f}, MR-STFT {s['mr_stft']:.3f}, "
          f"log-mel L1 {s['log_mel_l1']:.3f} ({out}/{name}.json)")


def _spatial(args: argparse.Namespace) -> int:
    from livefoley.models.evaluation.spatial import (
        SpatialEvalConfig,
        evaluate_spatial,
        report_markdown,
    )

    cfg = SpatialEvalConfig(max_scenes=args.max_episodes, seed=args.seed, nfe=args.nfe,
                            guidance_scale=args.guidance, text_guidance_scale=args.text_guidance,
                            sampler=args.sampler, heun_steps=args.heun_steps,
                            adherence=not args.no_adherence)
    results = evaluate_spatial(args.data, args.out, model=args.model,
                               stereo_model=args.stereo_model, config=cfg)
    print(report_markdown(results))
    print(f"report: {args.out}/report.md ({results['wall_s']:.0f} s)")
    return 0
