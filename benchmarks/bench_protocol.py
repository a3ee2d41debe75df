"""Micro-benchmarks of the session segment's hot paths (pytest-benchmark).

What it is: the audio ring's write+read of one 512-frame stereo block, timed per call in C
(`lf_bench_audio`, the cost an engine's audio thread pays) and through the Python API; and
a 640x480 RGBA8 frame hand-over (publish + acquire + release) in both slot modes, next to a
plain numpy copy of the same 1,228,800 bytes measured in the same run.
What it is not: a test (nothing is asserted beyond the calls succeeding).

    .venv/bin/python -m pytest benchmarks/bench_protocol.py --benchmark-enable -q
    .venv/bin/python -m pytest benchmarks/bench_protocol.py --benchmark-enable \\
        --benchmark-json out/bench_protocol.json

The C per-call distributions (p50/p99/max in ns) land in each result's `extra_info`.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import pytest

from livefoley.protocol import PixelFormat, SessionParams, create_session
from livefoley.protocol.native import ffi, lib

BLOCK_FRAMES = 512
C_ITERATIONS = 20_000
W, H = 640, 480


def _machine() -> dict:
    return {"machine": platform.machine(), "processor": platform.processor() or "unknown",
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "numpy": np.__version__}


def _dist(ns) -> dict:
    xs = np.sort(np.frombuffer(ffi.buffer(ns), dtype=np.uint64)).astype(np.float64)
    return {"p50_ns": float(np.percentile(xs, 50)), "p99_ns": float(np.percentile(xs, 99)),
            "max_ns": float(xs[-1])}


@pytest.fixture
def audio_session():
    name = f"lf-bench-{os.getpid()}-audio"
    with create_session(name, SessionParams(ring_capacity_frames=16384, max_frame_bytes=0)) as s:
        yield s


@pytest.fixture(params=["latest", "fifo"])
def frame_session(request):
    mode = request.param
    params = SessionParams(ring_capacity_frames=64, frame_mode=mode,
                           frame_slots=3, max_frame_bytes=W * H * 4)
    with create_session(f"lf-bench-{os.getpid()}-{mode}", params) as s:
        yield s


def test_audio_write_read_512_c(benchmark, audio_session):
    """C write + C read of one 512-frame stereo block; the C driver times every call."""
    write_ns = ffi.new("uint64_t[]", C_ITERATIONS)
    read_ns = ffi.new("uint64_t[]", C_ITERATIONS)
    base = audio_session._mapping.base

    def run():
        assert lib.lf_bench_audio(base, BLOCK_FRAMES, C_ITERATIONS, write_ns, read_ns) == 0

    benchmark.pedantic(run, rounds=5, iterations=1)
    benchmark.extra_info.update(_machine())
    benchmark.extra_info["unit"] = f"one round = {C_ITERATIONS} write+read pairs"
    benchmark.extra_info["c_write_per_call"] = _dist(write_ns)
    benchmark.extra_info["c_read_per_call"] = _dist(read_ns)


def test_audio_write_read_512_python(benchmark, audio_session):
    """The same block through AudioRing.write + AudioRing.read_into."""
    ring = audio_session.audio
    block = np.random.default_rng(0).standard_normal((BLOCK_FRAMES, 2)).astype(np.float32)
    out = np.empty_like(block)

    def run():
        ring.write(block)
        ring.read_into(out)

    benchmark(run)
    np.testing.assert_array_equal(out, block)
    benchmark.extra_info.update(_machine())


def test_frame_handoff_640x480_rgba(benchmark, frame_session):
    """publish (one copy into the slot) + acquire (zero-copy view) + release."""
    frames = frame_session.frames
    pixels = np.random.default_rng(0).integers(0, 256, (H, W, 4), dtype=np.uint8)
    state = {"k": 0}

    def run():
        state["k"] += 1
        frames.publish(pixels, frame_index=state["k"], capture_ns=0,
                       pixel_format=PixelFormat.RGBA8)
        frames.acquire().release()

    benchmark(run)
    frames.publish(pixels, frame_index=0, capture_ns=0, pixel_format=PixelFormat.RGBA8)
    with frames.acquire() as view:
        assert np.array_equal(view.pixels, pixels)
    benchmark.extra_info.update(_machine())
    benchmark.extra_info["mode"] = frame_session.params.frame_mode


def test_plain_memcpy_640x480_rgba(benchmark):
    """Baseline: numpy copy of the same 1,228,800 bytes between two preallocated arrays."""
    src = np.random.default_rng(0).integers(0, 256, (H, W, 4), dtype=np.uint8)
    dst = np.empty_like(src)
    benchmark(np.copyto, dst, src)
    assert np.array_equal(dst, src)
    benchmark.extra_info.update(_machine())


def test_frame_handoff_vs_memcpy_interleaved(benchmark, frame_session):
    """Handoff and plain copy timed alternately in one loop, so that load from other
    processes hits both alike; extra_info holds both medians and their ratio."""
    frames = frame_session.frames
    pixels = np.random.default_rng(0).integers(0, 256, (H, W, 4), dtype=np.uint8)
    dst = np.empty_like(pixels)
    clock = time.perf_counter_ns
    handoff_ns, copy_ns = [], []

    def run():
        for k in range(500):
            t0 = clock()
            frames.publish(pixels, frame_index=k, capture_ns=0, pixel_format=PixelFormat.RGBA8)
            frames.acquire().release()
            t1 = clock()
            np.copyto(dst, pixels)
            t2 = clock()
            handoff_ns.append(t1 - t0)
            copy_ns.append(t2 - t1)

    benchmark.pedantic(run, rounds=3, iterations=1)
    h, c = float(np.median(handoff_ns)), float(np.median(copy_ns))
    benchmark.extra_info.update(_machine())
    benchmark.extra_info.update({"mode": frame_session.params.frame_mode,
                                 "handoff_p50_us": h / 1e3, "memcpy_p50_us": c / 1e3,
                                 "ratio": h / c})
