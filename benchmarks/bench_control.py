"""Control-channel round trip: request -> reply over ipc:// and tcp loopback, p50/p99/max.

    .venv/bin/python benchmarks/bench_control.py [--requests 5000] [--json out/bench_control.json]

A test server (livefoley.sidecar.control.testserver) runs in its own process, as the sidecar
would; the client sends one request at a time (ping: the server answers it itself; configure:
schema validation + handler) and times each round trip with perf_counter_ns. Also times the
server's message path alone (Dispatcher.handle, no sockets) and, as a baseline, a bare pyzmq
ROUTER echo process (no msgpack, HMAC or schema). Prints a table and optionally saves JSON
naming the machine and versions.

What this is not: a throughput test (requests are not pipelined) or a pytest test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq

from livefoley.protocol.control.client import ControlClient
from livefoley.protocol.control.envelope import Request, Signer, encode_request, new_key
from livefoley.sidecar.control.dispatch import Dispatcher
from livefoley.sidecar.control.testserver import InMemoryHandler


def _summary_us(samples_ns: list[int]) -> dict:
    a = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return {"n": int(a.size), "p50_us": float(np.percentile(a, 50)), "p99_us": float(np.percentile(a, 99)),
            "max_us": float(a.max()), "mean_us": float(a.mean())}


def _serve(session: str, runtime: str, *extra: str) -> tuple[subprocess.Popen, Path]:
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
    p = subprocess.Popen([sys.executable, "-m", "livefoley.sidecar.control.testserver", "--session", session, *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    line = p.stdout.readline()
    if not line.startswith("ready "):
        p.kill()
        raise RuntimeError(f"test server: expected 'ready <file>', found {line!r}")
    return p, Path(line.split(" ", 1)[1].strip())


def _round_trips(conn: Path, op: str, args: dict, n: int, warmup: int) -> list[int]:
    out = []
    with ControlClient(connection_file=conn, timeout_s=5) as c:
        for i in range(warmup + n):
            t0 = time.perf_counter_ns()
            c.call(op, args)
            dt = time.perf_counter_ns() - t0
            if i >= warmup:
                out.append(dt)
    return out


_ECHO = """
import sys, zmq
ctx = zmq.Context(); s = ctx.socket(zmq.ROUTER); s.linger = 0
s.bind(sys.argv[1]); print(s.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
while True:
    f = s.recv_multipart()
    if f[-1] == b"quit": break
    s.send_multipart(f)
"""


def _raw_echo(endpoint: str, n: int, warmup: int) -> list[int]:
    """Baseline: bare pyzmq ROUTER echo in another process, no msgpack, no HMAC, no schema."""
    p = subprocess.Popen([sys.executable, "-c", _ECHO, endpoint], stdout=subprocess.PIPE, text=True)
    bound = p.stdout.readline().strip()
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(bound)
    out = []
    try:
        for i in range(warmup + n):
            t0 = time.perf_counter_ns()
            s.send_multipart([b"<LF|MSG>", b"x" * 64, b"h" * 60, b"\x80"])
            s.recv_multipart()
            if i >= warmup:
                out.append(time.perf_counter_ns() - t0)
        s.send(b"quit")
    finally:
        s.close()
        ctx.term()
        p.wait(10)
    return out


def _dispatch_only(n: int) -> list[int]:
    signer = Signer(new_key())
    d = Dispatcher(InMemoryHandler(), signer, server_id="bench")
    msgs = [[b"peer", *encode_request(signer, Request(op="ping"))] for _ in range(n)]
    out = []
    for m in msgs:
        t0 = time.perf_counter_ns()
        d.handle(m)
        out.append(time.perf_counter_ns() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    runtime = tempfile.mkdtemp(prefix="lfb", dir="/tmp")
    results: dict[str, dict] = {}
    transports = {"ipc": (), "tcp-loopback": ("--endpoint", "tcp://127.0.0.1:*", "--telemetry-endpoint", "tcp://127.0.0.1:*")}
    for name, extra in transports.items():
        proc, conn = _serve(f"bench-{name}", runtime, *extra)
        try:
            results[f"{name} ping"] = _summary_us(_round_trips(conn, "ping", {}, args.requests, args.warmup))
            results[f"{name} configure"] = _summary_us(
                _round_trips(conn, "configure", {"nfe": 2, "gain": 0.5}, args.requests, args.warmup))
        finally:
            proc.terminate()
            proc.wait(10)
    results["dispatch only (no socket)"] = _summary_us(_dispatch_only(args.requests))
    results["raw pyzmq echo, ipc"] = _summary_us(_raw_echo(f"ipc://{runtime}/echo", args.requests, args.warmup))
    results["raw pyzmq echo, tcp"] = _summary_us(_raw_echo("tcp://127.0.0.1:*", args.requests, args.warmup))
    print(f"{'case':<28} {'n':>6} {'p50 us':>9} {'p99 us':>9} {'max us':>9}")
    for k, r in results.items():
        print(f"{k:<28} {r['n']:>6} {r['p50_us']:>9.1f} {r['p99_us']:>9.1f} {r['max_us']:>9.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"machine": platform.machine(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                "pyzmq": zmq.__version__, "libzmq": zmq.zmq_version(), "msgpack": ".".join(map(str, msgpack.version)),
                "platform": platform.platform(), "load_avg": os.getloadavg()}
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
