"""Per-frame latency of the vision front-end, per stage: preprocess, grid encoder, delta+aggregator.

What it is: a standalone benchmark of `VisionFrontend.step` at batch 1 on 480p BGRA8 frames
(SoundReactor's 30 fps 480p setting), for the `tiny` preset and for ViT-S/14-reg at 224 px
(the `sr` preset, random weights: timing does not depend on the values). Prints p50, p99
and max in milliseconds per stage and for the whole step; `--json PATH` saves the same
numbers with the device, torch version, thread count, load average and config.
`step_cpu_time` is the process CPU time of a step (all threads): on a shared machine it
shows the cost of the work where wall time also shows the waiting for a core.

What it is not: a test (nothing is asserted) or a quality measure.

    .venv/bin/python benchmarks/bench_vision.py                   # both presets, 2 threads
    .venv/bin/python benchmarks/bench_vision.py --preset tiny --iters 2000
    .venv/bin/python benchmarks/bench_vision.py --device cuda --dtype bfloat16
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time

import torch

from livefoley.models.vision import VISION_SR, VISION_TINY, build_vision_frontend
from livefoley.protocol.errors import DeviceError

log = logging.getLogger(__name__)

PRESETS = {"tiny": VISION_TINY, "sr": VISION_SR}
DEFAULT_ITERS = {"tiny": 500, "sr": 20}


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    xs = sorted(samples_s)
    pick = lambda q: xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]  # noqa: E731
    return {"p50_ms": pick(0.5) * 1e3, "p99_ms": pick(0.99) * 1e3, "max_ms": xs[-1] * 1e3,
            "n": len(xs)}


def bench_preset(name: str, iters: int, device: torch.device, dtype: torch.dtype,
                 frame_hw: tuple[int, int]) -> dict:
    """Time each stage of `step` for one preset; returns {stage: percentiles}."""
    torch.manual_seed(0)
    fe = build_vision_frontend(PRESETS[name]).to(device=device, dtype=dtype).eval()
    frames = torch.randint(0, 256, (iters + 10, 1, *frame_hw, 4), dtype=torch.uint8)
    if device.type == "cuda":
        frames = frames.to(device)  # frames arrive on the GPU (CUDA IPC) in the GPU setting

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    stages: dict[str, list[float]] = {"preprocess": [], "grid_encoder": [], "aggregator": [],
                                      "step_total": [], "step_cpu_time": []}
    state = fe.init_state(1)
    with torch.inference_mode():
        for i in range(iters + 10):  # the first 10 are warm-up
            f = frames[i]
            sync()
            t0 = time.perf_counter()
            x = fe.preprocess(f, "BGRA8").to(dtype)
            sync()
            t1 = time.perf_counter()
            grid = fe.backbone(x)
            sync()
            t2 = time.perf_counter()
            prev = torch.where(state.has_prev[:, None, None], state.prev_grid, grid)
            fe.aggregator(grid, prev)
            sync()
            t3 = time.perf_counter()
            c3 = time.process_time()
            _, state = fe.step(f, "BGRA8", state)
            sync()
            t4 = time.perf_counter()
            c4 = time.process_time()
            if i >= 10:
                stages["preprocess"].append(t1 - t0)
                stages["grid_encoder"].append(t2 - t1)
                stages["aggregator"].append(t3 - t2)
                stages["step_total"].append(t4 - t3)
                stages["step_cpu_time"].append(c4 - c3)
    return {stage: _percentiles(v) for stage, v in stages.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=["tiny", "sr", "both"], default="both")
    p.add_argument("--iters", type=int, default=0, help="timed steps (0: 500 tiny, 20 sr)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    p.add_argument("--frame", default="480x854", help="source frame HxW (BGRA8)")
    p.add_argument("--json", default="", help="save results to this path")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"--device {args.device}: expected a CUDA device, found none "
                          f"(torch {torch.__version__})")
    dtype = getattr(torch, args.dtype)
    frame_hw = tuple(int(v) for v in args.frame.lower().split("x"))
    names = ["tiny", "sr"] if args.preset == "both" else [args.preset]
    device_name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else f"{platform.processor() or platform.machine()} "
                        f"({os.cpu_count()} cores visible, {args.threads} threads)")
    report = {"device": device_name, "torch": torch.__version__,
              "cuda_driver": torch.version.cuda if device.type == "cuda" else None,
              "dtype": args.dtype, "frame_hw": list(frame_hw), "batch": 1,
              "load_average_1min": os.getloadavg()[0], "results": {}}
    for name in names:
        iters = args.iters or DEFAULT_ITERS[name]
        res = bench_preset(name, iters, device, dtype, frame_hw)
        report["results"][name] = {"config": PRESETS[name].to_dict(), "stages": res}
        print(f"{name} ({PRESETS[name].kind}, {PRESETS[name].input_size_px} px) on "
              f"{device_name}, {args.dtype}, frame {frame_hw[0]}x{frame_hw[1]} BGRA8, batch 1, "
              f"load average {os.getloadavg()[0]:.1f}:")
        for stage, r in res.items():
            print(f"  {stage:13s} p50 {r['p50_ms']:8.3f} ms  p99 {r['p99_ms']:8.3f} ms  "
                  f"max {r['max_ms']:8.3f} ms  (n={r['n']})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
        print(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
