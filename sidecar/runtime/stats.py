"""Bounded records of what the sidecar did: per-stage latencies and a per-step log.

Everything here has a fixed size set at construction (a session of hours keeps the last
`capacity` steps), and recording is a few array stores. It is not telemetry transport: the
runtime publishes `summary()` through the control server and writes `step_log()` to a file
when asked (`livefoley serve --report PATH`).
"""

from __future__ import annotations

import numpy as np

PERCENTILES = (50.0, 90.0, 99.0, 100.0)


def summarize_ms(values_ms: np.ndarray) -> dict:
    """p50/p90/p99/max and mean of a 1-D array of milliseconds (empty gives zeros)."""
    if values_ms.size == 0:
        return {"n": 0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    p50, p90, p99, pmax = np.percentile(values_ms, PERCENTILES)
    return {
        "n": int(values_ms.size),
        "p50": round(float(p50), 3),
        "p90": round(float(p90), 3),
        "p99": round(float(p99), 3),
        "max": round(float(pmax), 3),
        "mean": round(float(values_ms.mean()), 3),
    }


class StageLatencies:
    """The last `capacity` durations of each named stage, in milliseconds.

    Thread-safety: single writer; `summary()` from the same thread.
    Real-time safe: `record` yes (no allocation once a stage name was seen).
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._values: dict[str, np.ndarray] = {}
        self._counts: dict[str, int] = {}

    def record(self, stage: str, ms: float) -> None:
        arr = self._values.get(stage)
        if arr is None:
            arr = self._values[stage] = np.zeros(self.capacity, dtype=np.float64)
            self._counts[stage] = 0
        n = self._counts[stage]
        arr[n % self.capacity] = ms
        self._counts[stage] = n + 1

    def values(self, stage: str) -> np.ndarray:
        n = self._counts.get(stage, 0)
        if n == 0:
            return np.zeros(0)
        return self._values[stage][: min(n, self.capacity)].copy()

    def stages(self) -> list[str]:
        return list(self._values)

    def summary(self) -> dict:
        return {stage: summarize_ms(self.values(stage)) for stage in self._values}


STEP_FIELDS = (
    "step",  # step number since start (warm-up not counted)
    "session",  # index of the session in the batch
    "frame_index",  # frame that drove the step (-1: none yet, silence written)
    "capture_ns",  # its capture time, monotonic ns, host clock
    "ring_start_frame",  # ring write counter before this step's block: its first sample
    "written_frames",  # frames of this step's block the ring accepted
    "done_ns",  # monotonic ns when the block was in the ring
    "step_ms",  # whole step wall time
    "nfe",
    "guidance_x1000",
)


class StepLog:
    """Per-step, per-session facts for glass-to-ear analysis; the last `capacity` rows.

    Thread-safety: single writer. Real-time safe: `append` yes.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.capacity = capacity
        self._rows = np.zeros((capacity, len(STEP_FIELDS)), dtype=np.int64)
        self._n = 0

    def append(self, **row: int | float) -> None:
        r = self._rows[self._n % self.capacity]
        for i, name in enumerate(STEP_FIELDS):
            value = row[name]
            r[i] = int(round(value * 1000)) if name == "step_ms" else int(value)
        self._n += 1

    def __len__(self) -> int:
        return min(self._n, self.capacity)

    def rows(self) -> list[dict]:
        """Rows oldest first; `step_ms` back in milliseconds."""
        n = len(self)
        start = self._n - n
        out = []
        for k in range(start, self._n):
            r = self._rows[k % self.capacity]
            d = {name: int(r[i]) for i, name in enumerate(STEP_FIELDS)}
            d["step_ms"] = d["step_ms"] / 1000.0
            out.append(d)
        return out
