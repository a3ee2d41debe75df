"""Cross-process stress: C producer -> Python consumer and Python producer -> C consumer,
through one real shared-memory segment, for the audio ring (10**6 checksummed,
sequence-numbered blocks of random size 1..64 frames, 3.25e7 frames) and for frames in both modes. Zero
torn, lost or duplicated frames is the only passing result. Also: the same audio stress
between two AddressSanitizer/UBSan builds, and a ThreadSanitizer build of a two-thread test
(which is shown to catch a deliberately relaxed publish)."""

import shutil
import subprocess
import time

import numpy as np
import pytest

from livefoley.protocol import PixelFormat, SessionParams, create_session

from .cbuild import INCLUDE, NATIVE, build
from .stream import block_lengths, expected_frames, frame_pixels, frame_size

BLOCKS = 1_000_000
SEED = 20261123
AUDIO = SessionParams(ring_capacity_frames=16384, max_frame_bytes=0)
FRAME_BYTES = 64 * 48 * 4


def _stream_starts(blocks: int, seed: int) -> np.ndarray:
    lens = block_lengths(seed, blocks)
    return np.concatenate([[0], np.cumsum(lens)])


def _finish(proc: subprocess.Popen, timeout_s: float = 120.0) -> str:
    out, err = proc.communicate(timeout=timeout_s)
    assert proc.returncode == 0, f"{proc.args[0]} exited {proc.returncode}\n{out}\n{err}"
    return out


def consume_audio_in_python(session, blocks: int, seed: int, deadline_s: float = 120.0):
    """Read the whole stream in random-sized reads; verify it in windows (vectorised)."""
    ring = session.audio
    starts = _stream_starts(blocks, seed)
    total = int(starts[-1])
    window = np.empty((1 << 18, 2), np.float32)
    rng = np.random.default_rng(seed)
    caps = rng.integers(1, 8192, size=1 << 16).tolist()
    fill = pos = bad = reads = 0
    first_bad = None
    deadline = time.monotonic() + deadline_s
    while pos + fill < total:
        avail = ring.fill_frames()
        if avail == 0:
            assert time.monotonic() < deadline, f"stalled at frame {pos + fill} of {total}"
            time.sleep(0.0001)
            continue
        want = min(len(window) - fill, total - pos - fill, avail, caps[reads & 0xFFFF])
        got = ring.read_into(window[fill:fill + want])
        assert got == want, "fill_frames promised more than read_into returned"
        fill += got
        reads += 1
        if fill == len(window) or pos + fill == total:
            mismatch = np.flatnonzero(
                (window[:fill].view(np.uint32) != expected_frames(starts[:-1], pos, fill)).any(1))
            if mismatch.size and first_bad is None:
                first_bad = pos + int(mismatch[0])
            bad += int(mismatch.size)
            pos += fill
            fill = 0
    return total, pos, bad, first_bad


def produce_audio_in_python(session, blocks: int, seed: int, deadline_s: float = 120.0) -> int:
    """Write the stream in random-sized writes of 1..1024 frames, each spanning block
    boundaries anywhere (partial writes retried); returns the frames written. Per-block
    writes are the C producer's job; here the blocks' framing rides inside the data."""
    ring = session.audio
    starts = _stream_starts(blocks, seed)
    total = int(starts[-1])
    deadline = time.monotonic() + deadline_s
    rng = np.random.default_rng(seed + 1)
    chunk = 1 << 20
    for first in range(0, total, chunk):
        data = expected_frames(starts[:-1], first, min(chunk, total - first)).view(np.float32)
        cuts = np.cumsum(rng.integers(1, 1025, size=len(data) // 256 + 2))
        cuts = [0, *cuts[cuts < len(data)].tolist(), len(data)]
        for a, b in zip(cuts[:-1], cuts[1:]):
            block = data[a:b]
            while True:
                n = ring.write(block)
                if n == len(block):
                    break
                block = block[n:]
                assert time.monotonic() < deadline, "consumer stopped draining"
                time.sleep(0.0001)
    return total


@pytest.mark.slow
def test_audio_c_producer_python_consumer(session_name, c_program):
    exe = c_program("stress_audio")
    with create_session(session_name, AUDIO) as s:
        proc = subprocess.Popen([str(exe), "produce", session_name, str(BLOCKS), str(SEED)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            total, got, bad, first_bad = consume_audio_in_python(s, BLOCKS, SEED)
        finally:
            _finish(proc)
        assert (got, bad) == (total, 0), f"first bad frame at {first_bad}"
        assert s.audio.fill_frames() == 0, "frames beyond the stream (duplicates)"
        c = s.counters()
        assert c["audio_write_count"] == c["audio_read_count"] == total


@pytest.mark.slow
def test_audio_python_producer_c_consumer(session_name, c_program):
    exe = c_program("stress_audio")
    with create_session(session_name, AUDIO) as s:
        proc = subprocess.Popen([str(exe), "consume", session_name, str(BLOCKS), str(SEED)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            total = produce_audio_in_python(s, BLOCKS, SEED)
        finally:
            out = _finish(proc)
        assert f"frames={total} blocks={BLOCKS} torn=0 lost=0 dup=0 silence_bad=0" in out
        assert s.counters()["audio_read_count"] == total


@pytest.mark.slow
def test_audio_c_to_c_under_address_and_ub_sanitizers(session_name, c_program):
    exe = c_program("stress_audio", sanitize="address")
    with create_session(session_name, AUDIO):
        cons = subprocess.Popen([str(exe), "consume", session_name, str(BLOCKS), str(SEED + 1)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        prod = subprocess.Popen([str(exe), "produce", session_name, str(BLOCKS), str(SEED + 1)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _finish(prod)
        out = _finish(cons)
    assert f"blocks={BLOCKS} torn=0 lost=0 dup=0 silence_bad=0" in out


def _frame_params(mode: str) -> SessionParams:
    return SessionParams(ring_capacity_frames=64, frame_mode=mode,
                         frame_slots=3 if mode == "latest" else 8, max_frame_bytes=FRAME_BYTES)


@pytest.mark.parametrize("mode, frames", [("fifo", 5_000), ("latest", 100_000)])
def test_frames_c_producer_python_consumer(session_name, c_program, mode, frames):
    exe = c_program("stress_frames")
    with create_session(session_name, _frame_params(mode)) as s:
        proc = subprocess.Popen([str(exe), "produce", session_name, str(frames), str(SEED)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen, last, deadline = 0, -1, time.monotonic() + 120
        try:
            while last != frames - 1:
                view = s.frames.acquire()
                if view is None:
                    assert time.monotonic() < deadline, f"stalled after frame {last}"
                    time.sleep(0.00005)
                    continue
                with view:
                    d = view.descriptor
                    k = d.frame_index
                    assert k == last + 1 if mode == "fifo" else k > last, (k, last)
                    assert (d.width, d.height) == frame_size(SEED, k)
                    assert d.orientation[0] == float(np.float32(k % 628) * np.float32(0.01))
                    assert np.array_equal(view.pixels, frame_pixels(k, d.width, d.height)), \
                        f"frame {k} torn"
                seen += 1
                last = k
        finally:
            _finish(proc)
        c = s.counters()
    print(f"{mode}: published={c['frames_published']} acquired={seen} dropped={c['frames_dropped']}")
    assert c["frames_published"] == frames
    assert c["frames_acquired"] == seen
    assert seen + c["frames_dropped"] == frames  # latest: every frame taken or counted dropped
    if mode == "fifo":
        assert seen == frames and c["frames_dropped"] == 0


@pytest.mark.parametrize("mode", ["fifo", "latest"])
def test_frames_python_producer_c_consumer(session_name, c_program, mode):
    frames = 5_000
    exe = c_program("stress_frames")
    with create_session(session_name, _frame_params(mode)) as s:
        proc = subprocess.Popen([str(exe), "consume", session_name, str(frames), str(SEED)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for k in range(frames):
                w, h = frame_size(SEED, k)
                ok = s.frames.publish(frame_pixels(k, w, h), frame_index=k, capture_ns=k,
                                      pixel_format=PixelFormat.RGBA8,
                                      orientation=(float(np.float32(k % 628) * np.float32(0.01)),
                                                   0.0, 0.0),
                                      timeout_s=60.0)
                assert ok, f"fifo stayed full at frame {k}"
        finally:
            out = _finish(proc)
        c = s.counters()
    print(f"{mode}: {out.strip()} dropped={c['frames_dropped']}")
    acquired = int(out.split("acquired=")[1].split()[0])
    assert "torn=0 order=0 size=0" in out
    assert acquired + c["frames_dropped"] == frames
    if mode == "fifo":
        assert acquired == frames


@pytest.mark.slow
def test_two_threads_under_thread_sanitizer(c_program):
    exe = c_program("threads", sanitize="thread")
    out = subprocess.run([str(exe), "50000", "3000"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ThreadSanitizer" not in out.stderr, out.stderr
    for part in ("audio: count=50000", "latest: count=3000", "fifo: count=3000 seen=3000"):
        assert part in out.stdout, out.stdout
    assert out.stdout.count("errors=0") == 3, out.stdout


@pytest.mark.slow
def test_thread_sanitizer_catches_a_relaxed_publish(tmp_path):
    """The TSan test has teeth: weaken the ring's release store and it must report a race."""
    broken = tmp_path / "native"
    shutil.copytree(NATIVE, broken)
    audio = broken / "audio.c"
    text = audio.read_text()
    strong = "lf_store_release(&h->audio_write_count, w + n);"
    assert strong in text
    audio.write_text(text.replace(strong, "lf_store_relaxed(&h->audio_write_count, w + n);"))
    exe = build(tmp_path, "threads", sanitize="thread",
                sources=sorted(str(p) for p in broken.glob("*.c")), include=[str(INCLUDE)])
    out = subprocess.run([str(exe), "20000", "10"], capture_output=True, text=True, timeout=300)
    assert "WARNING: ThreadSanitizer: data race" in out.stderr
