"""Telemetry, stats and the final report of the sidecar: `ReportingOps`, mixed into `Sidecar`.

What it is: the read-only views of the runtime's counters: one telemetry body in the control
schema (`protocol/control/telemetry.py`), the `stats` reply of the control channel, and the
JSON report written at exit (stats plus the per-step log). What it is not: the counters
themselves (they live in the loop, `service.py`, and in the segment) or the control server.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class ReportingOps:
    """Views over the attributes `Sidecar` defines.

    Thread-safety: the runtime loop's thread. Real-time safe: no.
    """

    def _session_rows(self) -> list[dict]:
        rows = []
        for s in self.sessions:
            c = s.session.counters()
            rows.append({
                "name": s.name, "fill_frames": int(c["audio_fill_frames"]),
                "underrun_frames": int(c["underrun_frames"]), "underrun_events": int(c["underrun_events"]),
                "frames_dropped": int(c["frames_dropped"]) + s.tracker.frames_skipped,
                "frames_rejected": int(c["frames_rejected"]) + s.intake.frames_rejected,
                "steps_repeated": s.tracker.steps_repeated, "host_gone": s.host_gone,
            })
        return rows

    def telemetry(self) -> dict:
        """One telemetry body in the control schema (protocol/control/telemetry.py)."""
        rows = self._session_rows()
        stages = {}
        for stage in self.latencies.stages():
            v = self.latencies.values(stage)[-256:]
            if v.size:
                p50, p99 = np.percentile(v, (50, 99))
                stages[stage] = {"last": float(v[-1]), "p50": float(p50), "p99": float(p99), "max": float(v.max())}
        level = self.governor.level
        return {
            "steps": int(self.steps),
            "stage_latency_ms": stages,
            "ring_fill_frames": min(r["fill_frames"] for r in rows),
            "ring_capacity_frames": int(self.sessions[0].session.params.ring_capacity_frames),
            "underruns": sum(r["underrun_events"] for r in rows),
            "deadline_misses": int(self.governor.steps_late),
            "frames_dropped": sum(r["frames_dropped"] for r in rows),
            "running": bool(self.running),
            "extra": {"nfe": level.nfe, "guidance_scale": float(level.guidance_scale),
                      "quality_level": self.governor.level_index, "degradations": self.governor.degradations,
                      "recoveries": self.governor.recoveries, "sessions": len(self.sessions),
                      "frames_rejected": sum(r["frames_rejected"] for r in rows),
                      "steps_repeated": sum(r["steps_repeated"] for r in rows),
                      "target_latency_ms": round(self.live.target_fill_frames * 1000 / self.model.sample_rate_hz, 3),
                      "latency_raises": self.adaptive.raises, "prompt_state": self.prompts.status},
        }

    def stats(self) -> dict:
        """ControlHandler.stats: counters per session, per-stage latencies, deadline state."""
        sessions = self._session_rows()
        for s, row in zip(self.sessions, sessions):
            row.update(s.session.counters())
            row.update(frames_used=s.tracker.frames_used, frames_skipped=s.tracker.frames_skipped,
                       silence_blocks=s.silence_blocks, blocks_discarded=s.blocks_discarded,
                       sidecar_rejected=s.intake.frames_rejected, steps=s.steps)
        return {
            "steps": int(self.steps),
            "running": bool(self.running),
            "sessions": sessions,
            "latency_ms": self.latencies.summary(),
            "deadline": self.governor.to_dict(),
            "target_latency_ms": self.target_fill_frames * 1000 / self.model.sample_rate_hz,
            "target_latency_now_ms": self.live.target_fill_frames * 1000 / self.model.sample_rate_hz,
            "latency_raises": self.adaptive.raises,
            "latency_lowers": self.adaptive.lowers,
            "period_ms": self.model.period_ns / 1e6,
            "warmup_ms": float(self.warmup_ms),
            "model": self.choice.description,
            "model_trained": self.choice.trained,
            "prompt": self.prompts.state(),
            "layouts": {s.name: s.output.layout for s in self.sessions},
            "uptime_s": (time.monotonic_ns() - self.started_ns) / 1e9,
        }

    def write_report(self, path: Path) -> None:
        """Final stats and the per-step log, as JSON."""
        data = {"exit_reason": self.exit_reason, "stats": self.stats(), "steps": self.step_log.rows(),
                "hop_samples": self.model.hop_samples, "sample_rate_hz": self.model.sample_rate_hz,
                "model": self.choice.description, "model_trained": self.choice.trained, "device": self.device}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, default=_json_default))
        os.replace(tmp, path)
        log.info("report written to %s", path)


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if hasattr(obj, "name"):
        return obj.name
    return str(obj)
