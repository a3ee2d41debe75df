"""Per-stage timing of the per-frame generator step (vision, transformer, head, VAE).

What it is: a script that builds a preset (random weights: speed does not depend on them),
steps a StreamingGenerator on synthetic 480p RGBA frames, and prints p50 / p99 / max per stage
as the generator measured them (perf_counter, CUDA-synchronised on a GPU). The previous-audio
transformer step (`prepare`) is timed apart: it runs before the frame arrives, so the frame's
critical path is `critical` = vision + transformer + head + vae (wall time of `step`).
Every stage is also given in process CPU time (`cpu` columns, `last_cpu_ms`): on a machine
shared with other jobs the wall time includes time spent descheduled, the CPU time does not
(with one thread on an idle machine the two agree). Results are saved as JSON naming the
device, torch version, thread count, load average and config.

What it is not: a test (nothing is asserted) or an end-to-end latency (no frame capture, no
audio ring).

Usage:
    .venv/bin/python benchmarks/bench_models.py --preset tiny --threads 1 --steps 300
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from livefoley.models import StreamingGenerator, get_preset, load_model

log = logging.getLogger(__name__)

STAGES = ("transformer_audio", "vision", "transformer", "head", "vae", "critical", "total")


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(device)} (driver/CUDA {torch.version.cuda})"
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical CPUs)"


def run(preset: str, device: str, threads: int, steps: int, warmup: int, nfe: int,
        guidance: float, batch: int, height: int, width: int) -> dict:
    """One configuration; guidance <= 0 builds the generator without null rows (scale 1)."""
    torch.set_num_threads(threads)
    model = load_model(preset, device)
    rows = guidance > 0
    gen = StreamingGenerator(model, batch_size=batch, device=device, seed=0, guidance=rows)
    gen.set_options(nfe=nfe, guidance_scale=guidance if rows else 1.0)
    rng = np.random.default_rng(0)
    frames = [torch.from_numpy(rng.integers(0, 256, (batch, height, width, 4), dtype=np.uint8))
              for _ in range(8)]
    rows, cpu_rows = [], []
    for i in range(warmup + steps):
        f = frames[i % len(frames)].to(device)
        gen.prepare()  # off the critical path, as in the sidecar
        c0, t0 = time.process_time(), time.perf_counter()
        gen.step(f, "RGBA8")
        wall_ms = (time.perf_counter() - t0) * 1e3
        cpu_ms = (time.process_time() - c0) * 1e3
        if i >= warmup:
            rows.append(dict(gen.last_timings_ms, critical=wall_ms))
            cpu_rows.append(dict(gen.last_cpu_ms, critical=cpu_ms))
    stats = {}
    for kind, table in (("wall", rows), ("cpu", cpu_rows)):
        for k in STAGES:
            v = np.array([r[k] for r in table])
            stats.setdefault(k, {}).update({
                f"{kind}_p50_ms": float(np.percentile(v, 50)),
                f"{kind}_p99_ms": float(np.percentile(v, 99)),
                f"{kind}_max_ms": float(v.max()), f"{kind}_mean_ms": float(v.mean())})
    return {
        "preset": preset, "device": device, "device_name": _device_name(device),
        "torch": torch.__version__, "threads": threads, "batch": batch, "nfe": nfe,
        "guidance_scale": guidance, "frame_px": [height, width], "steps": steps,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "config": get_preset(preset).to_dict(), "stages": stats,
        "loadavg_before": os.getloadavg(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="tiny")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--nfe", type=int, default=1)
    p.add_argument("--guidance", type=float, default=3.0,
                   help="CFG scale; 0 = generator without null rows (no guidance)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--out", default="", help="JSON path (default benchmarks/results/...)")
    a = p.parse_args()
    results = []
    for threads in a.threads:
        r = run(a.preset, a.device, threads, a.steps, a.warmup, a.nfe, a.guidance, a.batch,
                a.height, a.width)
        results.append(r)
        print(f"\n{a.preset} on {r['device_name']}, torch {r['torch']}, {threads} thread(s), "
              f"batch {a.batch}, NFE {a.nfe}, CFG {a.guidance}, {a.steps} steps "
              f"({r['params_m']:.2f}M params; load avg {r['loadavg_before'][0]:.2f})")
        print(f"{'stage':<18}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
              f"{'cpu p50':>9}{'cpu p99':>9}")
        for k in STAGES:
            s = r["stages"][k]
            print(f"{k:<18}{s['wall_p50_ms']:>9.2f}{s['wall_p99_ms']:>9.2f}"
                  f"{s['wall_max_ms']:>9.2f}{s['cpu_p50_ms']:>9.2f}{s['cpu_p99_ms']:>9.2f}")
    out = Path(a.out or Path(__file__).parent / "results" / f"models_{a.preset}_{a.device}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nsaved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
