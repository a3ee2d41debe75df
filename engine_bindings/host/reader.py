"""An audio-device stand-in: a thread that reads the ring at a sound card's cadence.

What it is: `AudioCadenceReader`, which calls protocol's C reader `lf_audio_read` through
cffi every `block_frames / sample_rate_hz` seconds (256 frames at 48 kHz: 5.33 ms), exactly
as an engine's audio callback would: into one preallocated buffer, never blocking, and
letting the C code count underruns. It keeps what it read (optionally) and, per callback,
the time and the number of real frames, so a host can later say when each ring position
reached the "speaker" (glass-to-ear latency).

What it is not: a real audio device. Python cannot promise a real-time thread; when the
interpreter stalls this thread (GIL, scheduler), the callbacks that are due run back to back
and the stall is counted in `late_callbacks`, so the consumed audio still tracks wall time,
as a device's DMA would.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from livefoley.protocol.errors import ConfigError


class AudioCadenceReader:
    """Reads a session's ring every block period on its own thread.

    Args:
        session: a `livefoley.protocol.Session` (either side may own it).
        block_frames: frames per callback (256 by default).
        sample_rate_hz: the device rate; must equal the session's.
        capture_seconds: keep up to this much of what was read (None: keep nothing).
        max_callbacks: size of the per-callback timing log.

    Thread-safety: `start`/`stop` from one thread; the callback runs on the reader thread.
    Real-time safe: the callback itself (one C call, two array stores) allocates nothing.
    """

    def __init__(self, session, *, block_frames: int = 256, sample_rate_hz: int | None = None,
                 capture_seconds: float | None = None, max_callbacks: int = 1 << 20) -> None:
        from livefoley.protocol.native import ffi, lib

        rate = int(session.params.sample_rate_hz)
        if sample_rate_hz is not None and int(sample_rate_hz) != rate:
            raise ConfigError(f"audio reader: expected the session's rate {rate} Hz, found {sample_rate_hz} Hz")
        if not 16 <= block_frames <= 8192:
            raise ConfigError(f"audio reader block_frames: expected in [16, 8192], found {block_frames}")
        self.session = session
        self.sample_rate_hz = rate
        self.channels = int(session.params.channels)
        self.block_frames = int(block_frames)
        self.period_ns = int(round(self.block_frames * 1e9 / rate))
        self._lib = lib
        self._base = session._base()  # the segment's base pointer, for the C reader
        self._buf = np.zeros((self.block_frames, self.channels), dtype=np.float32)
        self._buf_ptr = ffi.cast("float *", ffi.from_buffer(self._buf))
        cap = int(capture_seconds * rate) if capture_seconds else 0
        self.captured = np.zeros((cap, self.channels), dtype=np.float32)
        self.callback_ns = np.zeros(max_callbacks, dtype=np.int64)
        self.callback_real_frames = np.zeros(max_callbacks, dtype=np.int32)
        self.callbacks = 0
        self.late_callbacks = 0
        self.start_ns = 0
        self.start_read_count = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "AudioCadenceReader":
        if self._thread is not None:
            return self
        self.start_read_count = int(self.session.counters()["audio_read_count"])
        self._thread = threading.Thread(target=self._run, name="livefoley-audio-reader", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        lib, base, buf, ptr, n = self._lib, self._base, self._buf, self._buf_ptr, self.block_frames
        cap = self.captured
        self.start_ns = next_ns = time.monotonic_ns()
        k = 0
        while not self._stop.is_set():
            now = time.monotonic_ns()
            if now < next_ns:
                time.sleep((next_ns - now) / 1e9)
                continue
            if now - next_ns > self.period_ns:
                self.late_callbacks += 1
            real = lib.lf_audio_read(base, ptr, n)
            if k < self.callback_ns.shape[0]:
                self.callback_ns[k] = time.monotonic_ns()
                self.callback_real_frames[k] = real
            start = k * n
            if start + n <= cap.shape[0]:
                cap[start : start + n] = buf
            k += 1
            self.callbacks = k
            next_ns += self.period_ns

    @property
    def frames_consumed(self) -> int:
        """Frames the "device" has played so far (real audio plus silence)."""
        return self.callbacks * self.block_frames

    def audio(self) -> np.ndarray:
        """What was read so far (silence where the ring ran dry), float32 (S, C)."""
        return self.captured[: min(self.frames_consumed, self.captured.shape[0])]

    def time_of_ring_position(self, positions: np.ndarray) -> np.ndarray:
        """Monotonic ns at which each ring position (frame counter) was read; -1 if not yet.

        The ring's read counter advances by the real frames of each callback, starting from
        its value when the reader started.
        """
        n = min(self.callbacks, self.callback_ns.shape[0])
        ends = self.start_read_count + np.cumsum(self.callback_real_frames[:n].astype(np.int64))
        idx = np.searchsorted(ends, np.asarray(positions, dtype=np.int64), side="right")
        out = np.full(len(idx), -1, dtype=np.int64)
        ok = idx < n
        out[ok] = self.callback_ns[idx[ok]]
        return out
