"""The telemetry schema: what the sidecar publishes on the PUB socket, and its checker.

One telemetry message summarises the steps since the previous one (the publisher's rate is
`telemetry_rate_hz`, set with `configure`). Body of a `telemetry` publication:

    steps                 int    model steps since start (cumulative)
    stage_latency_ms      map    stage -> {"last", "p50", "p99", "max"} float ms over the window
                                 (stages named in STAGES; others allowed, at most 16)
    ring_fill_frames      int    audio frames queued in the ring now
    ring_capacity_frames  int    ring capacity in frames
    underruns             int    reader underrun events (cumulative, counted by the engine)
    deadline_misses       int    steps that finished after their deadline (cumulative)
    frames_dropped        int    video frames skipped because a newer one arrived (cumulative)
    running               bool   optional; generation running
    t_ns                  int    optional; sidecar monotonic clock, filled in if absent
    extra                 map    optional; str -> int|float|str|bool, runtime-specific

Counters are cumulative so a watcher that misses messages (PUB drops for slow subscribers)
still sees correct totals. A `heartbeat` publication has body {"t_ns": int} and is sent
every HEARTBEAT_INTERVAL_S so a watcher can tell a quiet sidecar from a dead one.

What this is not: a transport or a statistics engine; the runtime computes the numbers.
"""

from __future__ import annotations

import math
import time

from ..errors import ConfigError

STAGES = ("frame_in", "vision", "transformer", "head", "vae", "ring_write", "total")
STAGE_STATS = ("last", "p50", "p99", "max")
MAX_STAGES = 16
COUNTERS = ("steps", "ring_fill_frames", "ring_capacity_frames", "underruns", "deadline_misses", "frames_dropped")


def _is_int(v: object) -> bool:
    return type(v) is int


def _is_num(v: object) -> bool:
    return (type(v) is int or type(v) is float) and math.isfinite(v)


def validate_telemetry(body: dict) -> dict:
    """Check a telemetry body against the schema and return a normalised copy.

    Raises:
        ConfigError: a missing or unknown field, or a value of the wrong type/sign; the
            message names the field, what was expected and what was found.

    Thread-safety: pure function. Real-time safe: no (allocates).
    """
    if not isinstance(body, dict):
        raise ConfigError(f"telemetry: expected a dict, found {type(body).__name__}")
    known = set(COUNTERS) | {"stage_latency_ms", "running", "t_ns", "extra"}
    unknown = sorted(str(k) for k in set(body) - known)
    if unknown:
        raise ConfigError(f"telemetry: unknown fields {unknown}; expected a subset of {sorted(known)}")
    out: dict = {}
    for name in COUNTERS:
        v = body.get(name)
        if not _is_int(v) or v < 0:
            raise ConfigError(f"telemetry field {name!r}: expected int >= 0, found {v!r}")
        out[name] = v
    stages = body.get("stage_latency_ms")
    if not isinstance(stages, dict) or len(stages) > MAX_STAGES:
        raise ConfigError(f"telemetry field 'stage_latency_ms': expected a map of at most {MAX_STAGES} stages, found {stages!r:.80}")
    out["stage_latency_ms"] = {}
    for stage, stats in stages.items():
        if not isinstance(stage, str) or not isinstance(stats, dict) or set(stats) != set(STAGE_STATS):
            raise ConfigError(
                f"telemetry stage {stage!r}: expected a map with keys {list(STAGE_STATS)}, found {stats!r:.80}"
            )
        for k, v in stats.items():
            if not _is_num(v) or v < 0:
                raise ConfigError(f"telemetry stage {stage!r} {k!r}: expected a finite number >= 0 ms, found {v!r}")
        out["stage_latency_ms"][stage] = {k: float(stats[k]) for k in STAGE_STATS}
    if "running" in body:
        if not isinstance(body["running"], bool):
            raise ConfigError(f"telemetry field 'running': expected bool, found {body['running']!r}")
        out["running"] = body["running"]
    t = body.get("t_ns", time.monotonic_ns())
    if not _is_int(t):
        raise ConfigError(f"telemetry field 't_ns': expected int, found {t!r}")
    out["t_ns"] = t
    if "extra" in body:
        extra = body["extra"]
        if not isinstance(extra, dict) or not all(
            isinstance(k, str) and (isinstance(v, (bool, str)) or _is_num(v)) for k, v in extra.items()
        ):
            raise ConfigError(f"telemetry field 'extra': expected map str -> int|float|str|bool, found {extra!r:.80}")
        out["extra"] = dict(extra)
    return out


def format_telemetry(body: dict) -> str:
    """One human line for a telemetry body (the `livefoley ctl watch` display)."""
    total = body.get("stage_latency_ms", {}).get("total")
    lat = f"total p50 {total['p50']:.1f} p99 {total['p99']:.1f} max {total['max']:.1f} ms" if total else "total -"
    stages = " ".join(
        f"{s}={v['p50']:.1f}" for s, v in body.get("stage_latency_ms", {}).items() if s != "total"
    )
    cap = body.get("ring_capacity_frames") or 1
    return (
        f"steps {body.get('steps', 0):>7}  {lat}  [{stages}]  ring {body.get('ring_fill_frames', 0)}/{cap} "
        f"({100.0 * body.get('ring_fill_frames', 0) / cap:.0f}%)  underruns {body.get('underruns', 0)}  "
        f"late {body.get('deadline_misses', 0)}  dropped {body.get('frames_dropped', 0)}"
    )


__all__ = ["STAGES", "STAGE_STATS", "COUNTERS", "validate_telemetry", "format_telemetry"]
