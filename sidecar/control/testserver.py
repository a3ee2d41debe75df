"""A test double of the sidecar's control side: a real ControlServer over an in-memory handler.

What this is: `InMemoryHandler` keeps the configuration, a running/idle state and synthetic
counters, and `python -m livefoley.sidecar.control.testserver --session NAME` serves it in
its own process, publishing synthetic telemetry while "running". Round-trip tests, the CLI
tests and other engineers' tests use it to talk to a real server in another process.

What this is not: the sidecar. No model, no audio, no shared memory; the numbers it reports
are made up (deterministic functions of the step count).

On start it prints one line `ready <connection file>` to stdout (tests wait for it).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from livefoley.protocol.control.schema import CHANNEL_LAYOUTS
from livefoley.protocol.control.telemetry import STAGES
from livefoley.protocol.errors import CheckpointError, SessionError

from .server import ControlServer

log = logging.getLogger(__name__)

MODELS = ("synthetic", "tiny")
_CHANNELS = {"stereo": 2, "foa": 4, "binaural": 2}
assert set(_CHANNELS) == set(CHANNEL_LAYOUTS)


class InMemoryHandler:
    """ControlHandler with state in memory and synthetic numbers.

    Behaviour a test can rely on: `configure(model=X)` with X not in MODELS raises
    CheckpointError; `start` while running raises SessionError (bad_state); `stop` is
    idempotent; `reset` zeroes the step counter; every step advances when `tick()` runs.

    Thread-safety: guarded by one lock (tick() runs on the serving loop's thread anyway).
    """

    def __init__(self) -> None:
        self.config = {
            "model": "synthetic",
            "nfe": 1,
            "guidance_scale": 3.0,
            "seed": 0,
            "gain": 1.0,
            "target_latency_ms": 66.7,
            "channel_layout": "stereo",
            "prompt": "",
        }
        self.state = "idle"
        self.steps = 0
        self.shutdown_called = False
        self._lock = threading.Lock()

    def hello(self) -> dict:
        layout = self.config["channel_layout"]
        return {
            "version": "test-double",
            "model": {"name": self.config["model"], "kind": "synthetic", "nfe": self.config["nfe"]},
            "audio": {"sample_rate_hz": 48000, "channels": _CHANNELS[layout], "channel_layout": layout, "block_frames": 1600},
            "capabilities": ["prompt", *CHANNEL_LAYOUTS],
        }

    def configure(self, settings: dict) -> dict:
        with self._lock:
            model = settings.get("model")
            if model is not None and model not in MODELS:
                raise CheckpointError(f"model {model!r}: expected one of {list(MODELS)}, found no such checkpoint")
            self.config.update(settings)
            return dict(self.config)

    def start(self) -> dict:
        with self._lock:
            if self.state == "running":
                raise SessionError("start: expected state 'idle', found 'running'")
            self.state = "running"
            return {"state": self.state}

    def stop(self) -> dict:
        with self._lock:
            self.state = "idle"
            return {"state": self.state}

    def reset(self) -> dict:
        with self._lock:
            self.steps = 0
            return {"state": self.state, "steps": self.steps}

    def prompt(self, text: str, session: str | None = None) -> dict:
        with self._lock:
            if session is None:
                self.config["prompt"] = text
            return {"prompt": text, "session": session}

    def stats(self) -> dict:
        with self._lock:
            return {"state": self.state, **self.telemetry()}

    def shutdown(self) -> dict:
        self.shutdown_called = True
        return {"state": "shutting_down"}

    def tick(self) -> None:
        """Advance one synthetic step if running."""
        with self._lock:
            if self.state == "running":
                self.steps += 1

    def telemetry(self) -> dict:
        """A synthetic telemetry body (schema in protocol/control/telemetry.py)."""
        s = self.steps
        lat = {st: {"last": 1.0 + i, "p50": 1.0 + i, "p99": 2.0 + i, "max": 3.0 + i} for i, st in enumerate(STAGES)}
        return {
            "steps": s,
            "stage_latency_ms": lat,
            "ring_fill_frames": (s * 1600) % 4096,
            "ring_capacity_frames": 4096,
            "underruns": s // 100,
            "deadline_misses": s // 50,
            "frames_dropped": s // 10,
            "running": self.state == "running",
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m livefoley.sidecar.control.testserver", description=__doc__.splitlines()[0])
    p.add_argument("--session", required=True, help="session name (connection file <runtime dir>/NAME.json)")
    p.add_argument("--endpoint", default=None)
    p.add_argument("--telemetry-endpoint", default=None)
    p.add_argument("--connection-file", default=None)
    p.add_argument("--curve-keys-dir", default=None)
    p.add_argument("--host-client-id", default=None)
    p.add_argument("--telemetry-rate-hz", type=float, default=20.0)
    p.add_argument("--heartbeat-interval-s", type=float, default=1.0)
    p.add_argument("--step-hz", type=float, default=100.0, help="synthetic steps per second while running")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    handler = InMemoryHandler()
    server = ControlServer(
        handler,
        session_name=args.session,
        endpoint=args.endpoint,
        telemetry_endpoint=args.telemetry_endpoint,
        connection_file=args.connection_file,
        curve_keys_dir=args.curve_keys_dir,
        host_client_id=args.host_client_id,
        on_host_lost=lambda: print("host lost", flush=True),
        telemetry_rate_hz=args.telemetry_rate_hz,
        heartbeat_interval_s=args.heartbeat_interval_s,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"ready {server.connection_file}", flush=True)
    step_ns = int(1e9 / args.step_hz)
    next_step = time.monotonic_ns()
    try:
        while not stop.is_set() and not server.shutdown_requested:
            server.poll(5)
            now = time.monotonic_ns()
            if now >= next_step:
                next_step = now + step_ns
                handler.tick()
                if handler.state == "running":
                    server.publish_telemetry(handler.telemetry())
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
