"""Writing the bench report: JSON (names device, driver, torch, precision, command), a PNG
plot, and a short table for the terminal. What it is not: the measurement (runner.py).
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import torch

from .stats import sampler_label

SCHEMA_VERSION = 1
TABLE_STAGES = ("handoff", "upload", "transformer_audio", "preprocess", "vision_encoder",
                "aggregator", "vision", "transformer", "head", "vae", "download", "ring_write",
                "step_total")
# Disjoint stages whose sum is step_total (the vision parts are inside "vision").
BAR_STAGES = ("handoff", "upload", "transformer_audio", "vision", "transformer", "head", "vae",
              "download", "ring_write")


def describe_environment(device: torch.device, precision: str) -> dict:
    """What the numbers were measured on: device, driver, torch, precision, command."""
    env = {
        "device": str(device),
        "device_name": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "driver": None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "precision": precision,
        "command": " ".join(["livefoley", *sys.argv[1:]]) if sys.argv else "",
    }
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
        try:
            from cuda.bindings import driver  # optional: cuda-python

            err, version = driver.cuDriverGetVersion()
            env["driver"] = int(version) if int(err) == 0 else None
        except ImportError:
            env["driver"] = None
    return env


def write_json(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, allow_nan=True))
    tmp.replace(path)


def read_json(path: Path) -> dict:
    from livefoley.protocol.errors import ConfigError

    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--compare {path}: expected a bench JSON report, found {exc}") from exc
    if report.get("schema_version") != SCHEMA_VERSION or "runs" not in report:
        raise ConfigError(f"--compare {path}: expected bench report schema {SCHEMA_VERSION}, "
                          f"found {report.get('schema_version')!r}")
    return report


def format_table(report: dict) -> str:
    """p50 / p99 per stage for every run, then the end-to-end summary lines."""
    lines = []
    for run in report["runs"]:
        kind = run.get("head_kind", "mlp")
        patch = f" (k={run['patch_latents']}, audio {run['output_delay_steps']} steps behind)" \
            if run.get("patch_latents", 1) > 1 else ""
        head = (f"head={kind}{patch} nfe={run['nfe']} guidance={'on' if run['guidance'] else 'off'} "
                f"sessions={run['sessions']}{sampler_label(run)}  budget {run['budget_ms']:.1f} ms")
        lines.append(head)
        lines.append(f"  {'stage':<18}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for stage in TABLE_STAGES:
            s = run["stages"].get(stage)
            if s and s["count"]:
                lines.append(f"  {stage:<18}{s['p50_ms']:>9.3f}{s['p95_ms']:>9.3f}"
                             f"{s['p99_ms']:>9.3f}{s['max_ms']:>9.3f}")
        lines.append(f"  miss rate {run['miss_rate']:.2%}  RTF {run['real_time_factor']:.3f}  "
                     f"first audio {run['time_to_first_audio_ms']:.1f} ms (step {run.get('first_audio_step', 1)})  "
                     f"peak mem {run['peak_memory_bytes'] / 2**20:.0f} MiB ({run['peak_memory_kind']})")
    if report.get("sessions_max") is not None:
        lines.append(f"sessions-max: {report['sessions_max']} concurrent sessions with p99 "
                     f"inside {report['runs'][0]['budget_ms']:.1f} ms")
    return "\n".join(lines)


def format_comparison(rows: list[dict]) -> str:
    if not rows:
        return "compare: no run of this report matches a run of the old one"
    lines = [f"{'run':<34}{'stage':<18}{'old p99':>9}{'new p99':>9}{'change':>9}"]
    for r in rows:
        lines.append(f"{r['run']:<34}{r['stage']:<18}{r['old_p99_ms']:>9.3f}"
                     f"{r['new_p99_ms']:>9.3f}{(r['p99_ratio'] - 1):>+9.1%}")
    return "\n".join(lines)


def write_plot(report: dict, path: Path) -> None:
    """Histogram of end-to-end latency per run and a per-stage p50 breakdown (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = report["runs"]
    fig, (ax_hist, ax_bar) = plt.subplots(1, 2, figsize=(12, 4.5))
    for run in runs:
        label = f"nfe{run['nfe']} cfg{'+' if run['guidance'] else '-'} x{run['sessions']}"
        ax_hist.hist(run["samples_ms"]["step_total"], bins=40, alpha=0.5, label=label)
    ax_hist.axvline(runs[0]["budget_ms"], color="k", linestyle="--", label="budget")
    ax_hist.set_xlabel("step_total latency (ms)")
    ax_hist.set_ylabel("steps")
    ax_hist.legend(fontsize=7)
    bottoms = [0.0] * len(runs)
    for stage in BAR_STAGES:
        values = [r["stages"][stage]["p50_ms"] if r["stages"][stage]["count"] else 0.0 for r in runs]
        values = [0.0 if v != v else v for v in values]  # NaN -> 0
        ax_bar.bar(range(len(runs)), values, bottom=bottoms, label=stage)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax_bar.set_xticks(range(len(runs)))
    ax_bar.set_xticklabels([f"nfe{r['nfe']}\ncfg{'+' if r['guidance'] else '-'}\nx{r['sessions']}"
                            for r in runs], fontsize=7)
    ax_bar.set_ylabel("p50 per stage (ms)")
    ax_bar.legend(fontsize=6, ncol=2)
    env = report["environment"]
    fig.suptitle(f"livefoley bench: {report['model']} on {env['device_name']} ({env['precision']}, "
                 f"torch {env['torch']})", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
