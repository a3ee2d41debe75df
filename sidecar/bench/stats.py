"""Latency statistics and the bench report's numbers. Pure Python + numpy, no torch.

What it is: distributions (p50, p95, p99, max) per stage, deadline-miss rate, real-time
factor, and the comparison of two reports. What it is not: a timer (runner.py times).
"""

from __future__ import annotations

import numpy as np


def summarize_ms(samples_ms: list[float] | np.ndarray) -> dict[str, float]:
    """Distribution of a list of latencies in ms.

    Args:
        samples_ms: one latency per step, in milliseconds.

    Returns:
        dict with count, mean_ms, p50_ms, p95_ms, p99_ms, max_ms (NaN where empty).
    """
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        nan = float("nan")
        return {"count": 0, "mean_ms": nan, "p50_ms": nan, "p95_ms": nan, "p99_ms": nan,
                "max_ms": nan}
    return {
        "count": int(a.size),
        "mean_ms": float(a.mean()),
        "p50_ms": float(np.percentile(a, 50)),
        "p95_ms": float(np.percentile(a, 95)),
        "p99_ms": float(np.percentile(a, 99)),
        "max_ms": float(a.max()),
    }


def miss_rate(samples_ms: list[float] | np.ndarray, budget_ms: float) -> float:
    """Fraction of steps whose latency exceeded the budget (0.0 when there are none)."""
    a = np.asarray(samples_ms, dtype=np.float64)
    return float((a > budget_ms).mean()) if a.size else 0.0


SAMPLER_OFF = {"noise_correlation": 0.0, "feedback_noise": 0.0, "history_guidance": 1.0}


def sampler_label(run: dict) -> str:
    """" name=value" for each sampler extra a run had on ("" when all were off, and for
    reports from before the extras were recorded)."""
    on = {k: v for k, v in run.get("sampler", {}).items() if SAMPLER_OFF.get(k) != v}
    return "".join(f" {k}={v:g}" for k, v in sorted(on.items()))


def run_key(run: dict) -> str:
    """Stable identity of a run inside a report, used to pair runs for `--compare`."""
    key = (f"nfe={run['nfe']} guidance={'on' if run['guidance'] else 'off'} "
           f"sessions={run['sessions']}{sampler_label(run)}")
    head = run.get("head_kind", "mlp")  # reports before issue 9 had the MLP head only
    return key if head == "mlp" else f"head={head} {key}"


def compare_reports(new: dict, old: dict) -> list[dict]:
    """Per-run, per-stage change of p50 and p99 between two reports.

    Args:
        new: the report just measured.
        old: an earlier report (same schema).

    Returns:
        One row per (run, stage) present in both: run, stage, old/new p50 and p99, and the
        ratio new/old of p99. Runs or stages present in one report only are skipped.
    """
    old_runs = {run_key(r): r for r in old.get("runs", [])}
    rows = []
    for run in new.get("runs", []):
        key = run_key(run)
        if key not in old_runs:
            continue
        before = old_runs[key]["stages"]
        for stage, after in run["stages"].items():
            if stage not in before or not before[stage]["count"]:
                continue
            rows.append({
                "run": key, "stage": stage,
                "old_p50_ms": before[stage]["p50_ms"], "new_p50_ms": after["p50_ms"],
                "old_p99_ms": before[stage]["p99_ms"], "new_p99_ms": after["p99_ms"],
                "p99_ratio": after["p99_ms"] / before[stage]["p99_ms"]
                if before[stage]["p99_ms"] > 0 else float("inf"),
            })
    return rows


def verdict(report: dict, *, budget_ms: float | None, max_miss_rate: float | None) -> tuple[bool, str]:
    """The one-line pass/fail of a report against a frame budget and a miss-rate ceiling.

    Every run must pass: p99 of the end-to-end step within `budget_ms` (when given) and its
    miss rate (against the report's own budget) at most `max_miss_rate` (when given).

    Returns:
        (passed, one line naming the worst run and the numbers that decided it).
    """
    worst_line, passed = "", True
    for run in report["runs"]:
        e2e = run["stages"]["step_total"]
        checks = []
        if budget_ms is not None:
            ok = e2e["p99_ms"] <= budget_ms
            checks.append((ok, f"p99 {e2e['p99_ms']:.2f} ms {'<=' if ok else '>'} budget {budget_ms:.2f} ms"))
        if max_miss_rate is not None:
            ok = run["miss_rate"] <= max_miss_rate
            checks.append((ok, f"miss rate {run['miss_rate']:.2%} {'<=' if ok else '>'} {max_miss_rate:.2%}"))
        run_ok = all(ok for ok, _ in checks)
        line = f"{run_key(run)}: " + ", ".join(text for _, text in checks)
        if not run_ok and passed:
            worst_line, passed = line, False
        elif passed:
            worst_line = line
    return passed, ("PASS " if passed else "FAIL ") + worst_line
