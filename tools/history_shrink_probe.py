"""Probe: does a quieter history make a trained generator quieter?

Teacher-forced generation (`models/evaluation/teacher_forced.py`: the real previous latents fed
back, per KV window) with the fed-back latents moved a share A of the way toward the VAE's
latent of silence, everything else equal (frames, noise, sampler). If the onsets a model emits
fall as A grows, the model takes loudness from its history, which is what `--prev-shrink`
trains against (`models/training/history_aug.py`). A diagnostic, not an evaluation.

    python tools/history_shrink_probe.py --data data/probe8 --model models/weights/default.safetensors \
        --shares 0 0.25 0.5
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from livefoley.models.checkpoint import load_model
from livefoley.models.data.timing import frame_indices_for_ticks
from livefoley.models.evaluation.round_trip import heldout_reals
from livefoley.models.evaluation.runner import EvalConfig, aggregate, score_pair
from livefoley.models.sampling import consistency_sample, consistency_sigmas
from livefoley.models.training.history_aug import silent_latent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.25, 0.5])
    p.add_argument("--max-episodes", type=int, default=8)
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model).eval()
    rate, hop = model.config.vae.latent_rate_hz, model.config.hop_samples
    W, h = model.config.transformer.window_frames, model.config.head
    sigmas = consistency_sigmas(1, h.sigma_min, h.sigma_max, h.rho)
    silence = silent_latent(model.vae, hop)
    per = {a: [] for a in args.shares}
    for shard, J, real in heldout_reals(args.data, model, max_episodes=args.max_episodes,
                                        max_seconds=20.0, what="history shrink probe"):
        ts = np.asarray(shard.timestamps_ns)
        idx = frame_indices_for_ticks(ts, J, latent_rate_hz=rate, start_ns=int(ts[0]))
        frames = torch.from_numpy(np.asarray(shard.frames)[np.concatenate([idx[:1], idx])])
        with torch.inference_mode():
            pcm = torch.from_numpy(np.ascontiguousarray(real.T))[None]
            latents = model.vae.encode(pcm)[0][0].T  # (J, L)
            grid = model.vision.encode_grid(frames, "RGB8")
            tokens = model.vision.tokens_from_grid(grid[1:][None], prev_grid=grid[:1])
            for a in args.shares:
                fed = latents + a * (silence - latents)
                g = torch.Generator().manual_seed(args.seed)  # the same noise for every share
                out = []
                for s in range(0, J, W):
                    z = model.guided_conditions(tokens[:, s:s + W], fed[None, s:s + W], args.guidance)[0]
                    noise = torch.randn((1, z.shape[0], latents.shape[1]), generator=g)
                    out.append(consistency_sample(model.head.make_denoiser(z), noise, sigmas))
                audio = model.vae.decode(torch.cat(out).T[None])[0].T.numpy()
                per[a].append(score_pair(audio, real, shard.sample_rate_hz, EvalConfig()))
    for a in args.shares:
        s = aggregate(per[a])
        print(json.dumps({"share": a, "onset_f": round(s["onset_f"], 4), "precision": round(s["onset_precision"], 4),
                          "recall": round(s["onset_recall"], 4), "onsets": s["onsets_emitted"],
                          "real_onsets": s["onsets_real"], "mr_stft": round(s["mr_stft"], 4)}))


if __name__ == "__main__":
    main()
