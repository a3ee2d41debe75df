"""The Python host API: be the engine side of a LiveFoley session from a Python program.

What it is: `Host`, for a game written in Python or a world-model pipeline: it creates the
session (the host owns the segment), spawns a sidecar (`livefoley serve`, its lifetime tied
to the host: it exits within a second of the host's death) or waits for one started by hand,
publishes frames (numpy arrays into host slots; torch CUDA tensors into CUDA IPC slots, see
gpu.py), reads audio blocks (directly, or with `AudioCadenceReader` at a device's cadence),
and reads counters and the sidecar's stats.

What it is not: the sidecar (nothing here imports torch or runs a model) or a control
client of its own (it hands out protocol's `ControlClient`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from livefoley.protocol.errors import ConfigError, SessionError

from .reader import AudioCadenceReader

log = logging.getLogger(__name__)

_FORMATS = {"rgba8": 1, "bgra8": 2, "rgb8": 3}


def _pixel_format(pixels: np.ndarray, pixel_format) -> int:
    from livefoley.protocol import PixelFormat

    if pixel_format is not None:
        if isinstance(pixel_format, str):
            if pixel_format.lower() not in _FORMATS:
                raise ConfigError(f"pixel_format: expected one of {sorted(_FORMATS)}, found {pixel_format!r}")
            return PixelFormat(_FORMATS[pixel_format.lower()])
        return PixelFormat(int(pixel_format))
    channels = pixels.shape[-1] if pixels.ndim == 3 else 0
    if channels == 3:
        return PixelFormat.RGB8
    if channels == 4:
        return PixelFormat.RGBA8
    raise ConfigError(f"frame: expected (H, W, 3) or (H, W, 4) uint8, found shape {pixels.shape}")


class Host:
    """The engine side of one session.

    Args:
        name: session name (default: a fresh unique one).
        sample_rate_hz, channels: the audio format the ring carries.
        frame_mode: "latest" (live games: newest frame wins) or "fifo" (pipelines: every
            frame, back-pressure).
        max_width_px, max_height_px: largest frame (sizes the host slots, 4 bytes a pixel).
        ring_seconds: audio ring capacity (rounded up to a power of two in frames).
        heartbeat_interval_s: how often the host's heartbeat is written (a thread).

    Raises:
        SessionError, ConfigError: the session cannot be created.

    Thread-safety: publish from one thread (the game loop); read from one (the audio
    thread); the rest from the owning thread.
    """

    def __init__(self, name: str | None = None, *, sample_rate_hz: int = 48000, channels: int = 2,
                 frame_mode: str = "latest", max_width_px: int = 640, max_height_px: int = 480,
                 ring_seconds: float = 1.0, heartbeat_interval_s: float = 0.1, slot_count: int | None = None) -> None:
        from livefoley.protocol import SessionParams, create_session

        if frame_mode not in ("latest", "fifo"):
            raise ConfigError(f"frame_mode: expected 'latest' or 'fifo', found {frame_mode!r}")
        self.name = name or f"lf-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        ring = 1 << max(4, int(np.ceil(np.log2(max(16, ring_seconds * sample_rate_hz)))))
        params = SessionParams(sample_rate_hz=sample_rate_hz, channels=channels, ring_capacity_frames=ring,
                               frame_mode=frame_mode, frame_slots=slot_count or (3 if frame_mode == "latest" else 8),
                               max_frame_bytes=max_width_px * max_height_px * 4)
        self.session = create_session(self.name, params)
        self.sample_rate_hz = sample_rate_hz
        self.channels = channels
        self.frame_mode = frame_mode
        self.sidecar: subprocess.Popen | None = None
        self.frames_published = 0
        self.frames_refused = 0
        self._gpu = None
        self._client = None
        self._beat_stop = threading.Event()
        self.session.beat("host")
        self._beat_thread = threading.Thread(target=self._beat_loop, args=(heartbeat_interval_s,),
                                             name="livefoley-host-heartbeat", daemon=True)
        self._beat_thread.start()
        log.info("session %s created (%d Hz, %d ch, ring %d frames, %s frames)", self.name, sample_rate_hz,
                 channels, ring, frame_mode)

    def _beat_loop(self, interval_s: float) -> None:
        while not self._beat_stop.wait(interval_s):
            self.session.beat("host")

    # -- the sidecar -------------------------------------------------------------------
    def spawn_sidecar(self, *, model: str = "default", device: str = "cpu", lockstep: bool = False,
                      seed: int = 0, nfe: int | None = None, guidance_scale: float | None = None, target_latency_ms: float | None = None,
                      report_path: str | os.PathLike | None = None, log_path: str | os.PathLike | None = None,
                      extra_args: tuple[str, ...] = (), no_control: bool = False) -> subprocess.Popen:
        """Start `livefoley serve` for this session as a child process.

        The child exits within a second of this process's death (it watches the host's pid
        and heartbeat in the segment); `close()` stops it with SIGTERM.
        """
        if self.sidecar is not None and self.sidecar.poll() is None:
            raise SessionError(f"session {self.name}: expected no running sidecar, found pid {self.sidecar.pid}")
        cmd = [sys.executable, "-m", "livefoley.sidecar.cli", "serve", "--session", self.name,
               "--model", model, "--device", device, "--seed", str(seed)]
        # Unset: the checkpoint's recorded sampling defaults (serve resolves them).
        if nfe is not None:
            cmd += ["--nfe", str(nfe)]
        if guidance_scale is not None:
            cmd += ["--guidance-scale", str(guidance_scale)]
        if lockstep:
            cmd.append("--lockstep")
        if target_latency_ms is not None:
            cmd += ["--target-latency-ms", str(target_latency_ms)]
        if report_path is not None:
            cmd += ["--report", str(report_path)]
        if no_control:
            cmd.append("--no-control")
        cmd += list(extra_args)
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            self.sidecar = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if log_path else None,
                                            start_new_session=True)
        finally:
            if log_path:
                out.close()
        log.info("spawned sidecar pid %d for %s", self.sidecar.pid, self.name)
        return self.sidecar

    def await_sidecar(self, timeout_s: float = 60.0, *, primed_frames: int | None = None) -> None:
        """Wait until a sidecar beats for this session (and, optionally, the ring holds
        `primed_frames`).

        Raises:
            SessionError: the spawned sidecar exited, or none came within `timeout_s`.
        """
        from livefoley.protocol import PeerState

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.sidecar is not None and self.sidecar.poll() is not None:
                raise SessionError(f"session {self.name}: expected the sidecar to run, found it exited with code "
                                   f"{self.sidecar.returncode}")
            alive = self.session.peer_status("sidecar", stale_after_s=2.0).state == PeerState.ALIVE
            if alive and (primed_frames is None or self.session.audio.fill_frames() >= primed_frames):
                return
            time.sleep(0.01)
        raise SessionError(f"session {self.name}: expected a sidecar within {timeout_s:.1f} s, found none")

    def sidecar_alive(self) -> bool:
        from livefoley.protocol import PeerState

        return self.session.peer_status("sidecar", stale_after_s=1.0).state == PeerState.ALIVE

    def stop_sidecar(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM the spawned sidecar and wait; SIGKILL after `timeout_s`. Returns its exit code."""
        p = self.sidecar
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("sidecar pid %d ignored SIGTERM for %.0f s: killing it", p.pid, timeout_s)
                p.kill()
                p.wait()
        return p.returncode

    # -- frames ------------------------------------------------------------------------
    def publish(self, frame, *, frame_index: int | None = None, capture_ns: int | None = None,
                pixel_format=None, orientation: tuple[float, float, float] = (0.0, 0.0, 0.0),
                timeout_s: float = 0.0) -> bool:
        """Publish one frame: a numpy uint8 (H, W, 3|4) array, or a torch CUDA tensor.

        Args:
            frame_index: defaults to a running count.
            capture_ns: monotonic ns when the frame was rendered (defaults to now).
            pixel_format: "rgb8" | "rgba8" | "bgra8" or a PixelFormat (default from channels).
            orientation: camera (yaw, pitch, roll) in radians.
            timeout_s: fifo only: how long to wait for a free slot.

        Returns:
            False when a fifo session had no free slot within `timeout_s`; True otherwise.
        """
        index = self.frames_published if frame_index is None else int(frame_index)
        when = time.monotonic_ns() if capture_ns is None else int(capture_ns)
        if hasattr(frame, "is_cuda") and frame.is_cuda:
            from .gpu import CudaSlotExporter

            if self._gpu is None:
                self._gpu = CudaSlotExporter(self.session, device_index=frame.device.index or 0)
            fmt = _pixel_format(frame, pixel_format)
            ok = self._gpu.publish(frame, frame_index=index, capture_ns=when, pixel_format=fmt,
                                   orientation=orientation, timeout_s=timeout_s)
        else:
            pixels = np.asarray(frame)
            if pixels.dtype != np.uint8:
                raise ConfigError(f"frame: expected dtype uint8, found {pixels.dtype}")
            fmt = _pixel_format(pixels, pixel_format)
            ok = self.session.frames.publish(pixels, frame_index=index, capture_ns=when, pixel_format=fmt,
                                             orientation=orientation, timeout_s=timeout_s)
        if ok:
            self.frames_published += 1
        else:
            self.frames_refused += 1
        return bool(ok)

    # -- audio -------------------------------------------------------------------------
    def read_audio(self, out: np.ndarray) -> int:
        """Fill `out` (float32 (n, channels)) from the ring: real audio, then silence.

        Returns the real frames. Real-time safe: yes (one C call).
        """
        return self.session.audio.read_into(out)

    def start_reader(self, *, block_frames: int = 256, capture_seconds: float | None = None) -> AudioCadenceReader:
        """Start a thread that reads the ring as a sound card would (see reader.py)."""
        return AudioCadenceReader(self.session, block_frames=block_frames, sample_rate_hz=self.sample_rate_hz,
                                  capture_seconds=capture_seconds).start()

    # -- stats and control -------------------------------------------------------------
    def counters(self) -> dict:
        """The segment's counters (underruns, frames published/dropped/rejected, ...)."""
        return dict(self.session.counters())

    def control(self, timeout_s: float = 5.0):
        """A `ControlClient` connected to this session's sidecar (waits for its endpoint)."""
        if self._client is None:
            from livefoley.protocol.control import ControlClient

            self._client = ControlClient(session_name=self.name, timeout_s=timeout_s, wait_s=timeout_s)
        return self._client

    def stats(self, timeout_s: float = 2.0) -> dict:
        """Segment counters plus the sidecar's `stats` reply (empty when it cannot be reached)."""
        out = {"counters": self.counters(), "sidecar": {}}
        try:
            out["sidecar"] = self.control(timeout_s=timeout_s).stats()
        except Exception as exc:  # stats are best effort: the counters above are authoritative
            log.debug("sidecar stats unavailable: %s", exc)
        return out

    def close(self) -> None:
        """Stop the sidecar we spawned, stop beating, close and remove the session."""
        self.stop_sidecar()
        self._beat_stop.set()
        self._beat_thread.join(timeout=1.0)
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._gpu is not None:
            self._gpu.close()
            self._gpu = None
        from livefoley.protocol import SessionState

        self.session.state = SessionState.CLOSED  # a sidecar started by hand sees it and exits
        self.session.close()

    def __enter__(self) -> "Host":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def default_log_dir() -> Path:
    return Path(os.environ.get("LIVEFOLEY_LOG_DIR", "out"))
