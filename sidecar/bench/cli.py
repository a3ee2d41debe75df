"""`livefoley bench`: the frame-budget benchmark a game's or a model's CI can gate on.

    livefoley bench --model tiny --device cpu --nfe 1 2 4 --guidance both --seconds 5
    livefoley bench --model sr --device cuda --precision bf16 --sessions-max
    livefoley bench --model tiny --budget-ms 15 --max-miss-rate 0.01 --compare old.json

Exit status: 0 when every run passes the given `--budget-ms` (p99 of the whole step) and
`--max-miss-rate`, 1 otherwise (one-line verdict on stdout); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from livefoley.protocol.errors import ConfigError, DeviceError
from livefoley.sidecar import sampler_flags

from .report import (
    SCHEMA_VERSION,
    describe_environment,
    format_comparison,
    format_table,
    read_json,
    write_json,
    write_plot,
)
from .runner import RunSpec, measure_run
from .stats import compare_reports, verdict

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="tiny", help="preset name (tiny, sr) or checkpoint path")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--head", default="model", choices=("model", "mlp", "locdit", "both"),
                        help="head to benchmark: the model's own, or (presets only) mlp, locdit, or both "
                             "side by side (the LocDiT patch head of issue 9 beside the per-frame MLP)")
    parser.add_argument("--precision", default="fp32", choices=sorted(PRECISIONS))
    parser.add_argument("--nfe", type=int, nargs="+", default=[1], help="head NFE values, 1..4")
    parser.add_argument("--guidance", choices=("on", "off", "both"), default="on")
    sampler_flags.add_arguments(parser)
    parser.add_argument("--sessions", type=int, default=1, help="sessions stepped as one batch")
    parser.add_argument("--sessions-max", action="store_true",
                        help="find the most sessions whose p99 stays inside the budget")
    parser.add_argument("--sessions-limit", type=int, default=64, help="upper bound for --sessions-max")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--frame-size", default="640x480", help="published frame WIDTHxHEIGHT (RGBA8)")
    parser.add_argument("--unpaced", action="store_true", help="run steps back to back")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/bench"), help="report folder")
    parser.add_argument("--budget-ms", type=float, default=None,
                        help="fail (exit 1) when a run's p99 step exceeds this")
    parser.add_argument("--max-miss-rate", type=float, default=None,
                        help="fail (exit 1) when a run misses its budget more often than this")
    parser.add_argument("--compare", type=Path, default=None, help="an earlier bench JSON report")
    parser.add_argument("--no-plot", action="store_true")


def _parse_frame_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--frame-size: expected WIDTHxHEIGHT such as 640x480, found {text!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise ConfigError(f"--frame-size: expected 16..8192 per side, found {w}x{h}")
    return w, h


def _resolve_device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"--device {name}: expected a CUDA device, found none "
                          f"(torch {torch.__version__}, cuda {torch.version.cuda})")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device: expected cpu or cuda[:N], found {name!r}")
    return device


def _load(model_name: str, device: torch.device, precision: str, head: str = "model"):
    """The model to time; `head` other than "model" rebuilds a preset with that head kind
    (random weights, like every preset: timing does not care)."""
    import dataclasses

    from livefoley.models import PRESET_NAMES, build_model, get_preset, load_model

    if head == "model":
        model = load_model(model_name, device=device)
    elif model_name in PRESET_NAMES:
        cfg = dataclasses.replace(get_preset(model_name), head_kind=head)
        model = build_model(cfg).to(device)
    else:
        from livefoley.models import read_checkpoint_config

        own = read_checkpoint_config(model_name).head_kind
        if head != own:
            raise ConfigError(f"--head {head}: expected 'model' or {own!r} for checkpoint {model_name} "
                              f"(its trained head), found {head!r}; other heads only for presets")
        model = load_model(model_name, device=device)
    dtype = PRECISIONS[precision]
    if dtype != torch.float32:
        if device.type == "cpu":
            raise ConfigError(f"--precision {precision}: expected fp32 on cpu, found {precision} "
                              "(reduced precision is for cuda)")
        model = model.to(dtype)
    return model.eval()


def _find_sessions_max(model, base: RunSpec, *, device, seed, limit: int) -> tuple[int, list[dict]]:
    """Largest batch whose p99 step fits the budget: doubling, then bisection."""
    runs, good, bad = [], 0, None
    n = 1
    while n <= limit:
        run = measure_run(model, RunSpec(**{**base.__dict__, "sessions": n}), device=device, seed=seed)
        runs.append(run)
        if run["stages"]["step_total"]["p99_ms"] <= run["budget_ms"]:
            good, n = n, n * 2
        else:
            bad = n
            break
    if bad is not None:
        lo, hi = good, bad
        while hi - lo > 1:
            mid = (lo + hi) // 2
            run = measure_run(model, RunSpec(**{**base.__dict__, "sessions": mid}), device=device, seed=seed)
            runs.append(run)
            if run["stages"]["step_total"]["p99_ms"] <= run["budget_ms"]:
                lo = mid
            else:
                hi = mid
        good = lo
    return good, runs


def main(args: argparse.Namespace) -> int:
    device = _resolve_device(args.device)
    width, height = _parse_frame_size(args.frame_size)
    for nfe in args.nfe:
        if not 1 <= nfe <= 4:
            raise ConfigError(f"--nfe: expected values in 1..4, found {nfe}")
    if args.sessions < 1:
        raise ConfigError(f"--sessions: expected >= 1, found {args.sessions}")
    old_report = read_json(args.compare) if args.compare is not None else None  # fail fast
    if args.threads:
        torch.set_num_threads(args.threads)
    heads = {"both": ["mlp", "locdit"]}.get(args.head, [args.head])
    models = [_load(args.model, device, args.precision, h) for h in heads]
    model = models[0]
    guidance = {"on": [True], "off": [False], "both": [True, False]}[args.guidance]
    base = RunSpec(seconds=args.seconds, warmup_steps=args.warmup_steps, frame_width_px=width,
                   frame_height_px=height, paced=not args.unpaced, sessions=args.sessions,
                   sampler_options=sampler_flags.overrides(args))
    runs, sessions_max = [], None
    for model in models:
        for nfe in args.nfe:
            for g in guidance:
                spec = RunSpec(**{**base.__dict__, "nfe": nfe, "guidance": g})
                if args.sessions_max:
                    sessions_max, searched = _find_sessions_max(model, spec, device=device,
                                                                seed=args.seed, limit=args.sessions_limit)
                    runs.extend(searched)
                else:
                    runs.append(measure_run(model, spec, device=device, seed=args.seed))
    report = {
        "schema_version": SCHEMA_VERSION,
        "model": args.model,
        "model_params": sum(p.numel() for p in models[0].parameters()),
        "model_params_by_head": {m.config.head_kind: sum(p.numel() for p in m.parameters()) for m in models},
        "environment": describe_environment(device, args.precision),
        "runs": runs,
        "sessions_max": sessions_max,
    }
    out = args.out
    write_json(report, out / "bench.json")
    if not args.no_plot:
        write_plot(report, out / "bench.png")
    print(format_table(report))
    print(f"report: {out / 'bench.json'}" + ("" if args.no_plot else f", plot: {out / 'bench.png'}"))
    if old_report is not None:
        print(format_comparison(compare_reports(report, old_report)))
    if args.budget_ms is not None or args.max_miss_rate is not None:
        passed, line = verdict(report, budget_ms=args.budget_ms, max_miss_rate=args.max_miss_rate)
        print(f"bench: {line}")
        return 0 if passed else 1
    return 0
