"""The sidecar's serving loop: sessions in, model steps against the audio clock, audio out.

What it is: `Sidecar`, which attaches to one or more sessions, loads and warms up the model,
and runs one loop that (1) answers the control channel, (2) beats its heartbeat and watches
the host's, (3) asks the scheduler whether a step is due, (4) takes each session's frame,
steps all sessions as one batch, writes each block to its ring, and (5) feeds the step time
to the deadline governor and the telemetry. It is also the `ControlHandler` the control
server calls (hello, configure, start, stop, reset, stats, prompt, shutdown).

Faults (README.md "Faults"): a host whose pid is gone (or that is stale for longer than
`host_gone_after_s`) is noticed within `host_check_interval_s` and, when every session's host
is gone, the loop ends cleanly; SIGTERM/SIGINT set the stop flag (installed by serve.py); a
bad frame is rejected by the intake and the stream goes on; a sidecar started against a
session whose previous sidecar died simply attaches and resumes.

What it is not: the scheduler's rules (scheduler.py), the degrade order (deadline.py), the
network (models), or the control protocol (sidecar/control).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livefoley.protocol import PeerState, SessionState, attach_session
from livefoley.protocol.errors import ConfigError, SessionError

from .config import RuntimeConfig
from .batch import convert_frame, zeros_like
from .deadline import DeadlineGovernor, QualityLevel, degrade_ladder
from .handler import ControlOps
from .reporting import ReportingOps
from .intake import FrameIntake
from .layout import SessionOutput, check_layout
from .panorama import CubemapConverter
from .prompt import PromptController
from .model import ModelChoice, ModelRunner, resolve_model
from .scheduler import AdaptiveTarget, AudioClockScheduler, FrameTracker, LockstepScheduler
from .stats import StageLatencies, StepLog

log = logging.getLogger(__name__)

HOST_CHECK_INTERVAL_S = 0.1


@dataclass
class ServedSession:
    """One attached session and everything the loop keeps per session."""

    name: str
    session: object
    intake: FrameIntake
    output: SessionOutput
    tracker: FrameTracker = field(default_factory=FrameTracker)
    host_gone: bool = False
    fresh: bool = False  # lockstep: a frame is staged that no step has used yet
    blocks_discarded: int = 0
    silence_blocks: int = 0
    steps: int = 0

    @property
    def channels(self) -> int:
        return self.output.channels


class Sidecar(ControlOps, ReportingOps):
    """Serves sessions until stopped, shut down over control, or every host is gone.

    Args:
        session_names: sessions to attach (created by their hosts); stepped as one batch.
        model: `--model` value (None/"default", a preset, or a path).
        device: torch device string.
        config: scheduling and deadline settings.
        autostart: generate at once (True) or wait for a `start` request (False).
        report_path: where to write the final stats and per-step log as JSON on exit.
        attach_timeout_s: how long to wait for a session that does not exist yet.
        gain: linear output gain.
        text_encoder_factory: builds the prompt encoder (default: models.spatial TextEncoder
            on the CPU, loaded on a worker thread when the model takes text).

    Raises:
        SessionError: a session cannot be attached, or another live sidecar serves it.
        CheckpointError, ConfigError: the model cannot be loaded.

    Thread-safety: `run` on one thread; `request_stop` from any thread or a signal handler.
    """

    def __init__(
        self,
        session_names: list[str],
        *,
        model: str | None = None,
        device: str = "cpu",
        config: RuntimeConfig = RuntimeConfig(),
        autostart: bool = True,
        report_path: str | os.PathLike | None = None,
        attach_timeout_s: float = 10.0,
        gain: float = 1.0,
        text_encoder_factory=None,
    ) -> None:
        if not session_names:
            raise ConfigError("sidecar: expected at least one --session, found none")
        self.config = config
        self.device = device
        self.report_path = Path(report_path) if report_path else None
        self.gain = float(gain)
        self.running = autostart
        self.exit_reason = ""
        self._stop = threading.Event()
        self.choice: ModelChoice = resolve_model(model)
        self.model = ModelRunner(self.choice, device=device, batch_size=len(session_names), seed=config.seed,
                                 level=QualityLevel(config.nfe, config.guidance_scale),
                                 sampler_options=config.sampler_options)
        self.gpu = self._make_gpu_importer(device)
        self.cubemap = CubemapConverter(device)
        self.prompts = PromptController(self.model.generator, device=device, model_name=self.choice.spec,
                                        encoder_factory=text_encoder_factory, sessions=session_names)
        self.sessions = [self._attach(name, attach_timeout_s) for name in session_names]
        self._build_schedulers()
        self._build_governor()
        self.latencies = StageLatencies()
        self.step_log = StepLog()
        self.steps = 0
        self.started_ns = time.monotonic_ns()
        self.warmup_ms = 0.0
        self.control = None

    # -- set-up ------------------------------------------------------------------------
    def _make_gpu_importer(self, device: str):
        if not device.startswith("cuda"):
            return None
        from .gpu import GpuFrameImporter

        index = int(device.split(":")[1]) if ":" in device else 0
        return GpuFrameImporter(index)

    def _attach(self, name: str, timeout_s: float) -> ServedSession:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                session = attach_session(name, expect_sample_rate_hz=self.model.sample_rate_hz)
                break
            except SessionError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        peer = session.peer_status("sidecar", stale_after_s=1.0)
        if peer.state is PeerState.ALIVE and peer.pid != os.getpid():
            session.close()
            raise SessionError(f"session {name}: expected no live sidecar, found pid {peer.pid} serving it")
        if self.config.lockstep and session.params.frame_mode != "fifo":
            session.close()
            raise ConfigError(f"session {name}: lockstep takes every frame, so expected frame mode 'fifo', "
                              f"found {session.params.frame_mode!r}")
        try:  # the segment's channel count picks the layout (README "Output layouts")
            layout = check_layout(None, model_channels=self.model.channels,
                                  session_channels=int(session.params.channels), where=f"session {name}")
        except ConfigError:
            session.close()
            raise
        output = SessionOutput(layout, model_channels=self.model.channels, sample_rate_hz=self.model.sample_rate_hz)
        session.beat("sidecar")
        log.info("attached session %s (%s, %d channels)", name, layout, output.channels)
        return ServedSession(name=name, session=session, output=output,
                             intake=FrameIntake(session, gpu=self.gpu, cubemap=self.cubemap))

    def _target_fill_frames(self, config: RuntimeConfig) -> int:
        """`config`'s ring target in frames, checked against every session's ring.

        Raises:
            ConfigError: the target plus one step does not fit a session's ring (named).
        """
        m = self.model
        target = config.target_fill_frames(hop_samples=m.hop_samples, sample_rate_hz=m.sample_rate_hz)
        for s in self.sessions:
            if target + m.hop_samples > int(s.session.params.ring_capacity_frames):
                raise ConfigError(
                    f"session {s.name}: target latency {target} frames plus one step "
                    f"({m.hop_samples}) expected to fit the ring, found capacity "
                    f"{s.session.params.ring_capacity_frames} frames")
        return target

    def _build_schedulers(self) -> None:
        m = self.model
        self.target_fill_frames = self._target_fill_frames(self.config)
        max_sleep_s = self.config.max_sleep_ms / 1000
        self.live = AudioClockScheduler(hop_samples=m.hop_samples, sample_rate_hz=m.sample_rate_hz,
                                        target_fill_frames=self.target_fill_frames, max_sleep_s=max_sleep_s)
        self.lockstep = LockstepScheduler(hop_samples=m.hop_samples, sample_rate_hz=m.sample_rate_hz, max_sleep_s=max_sleep_s)
        capacity = min(int(s.session.params.ring_capacity_frames) for s in self.sessions)
        extra = int(self.config.adaptive_extra_steps * m.hop_samples)
        self.adaptive = AdaptiveTarget(base_frames=self.target_fill_frames,
                                       max_frames=min(self.target_fill_frames + extra, capacity - m.hop_samples),
                                       raise_frames=m.hop_samples // 2, lower_frames=m.hop_samples // 4)
        self._primed = False

    def _build_governor(self) -> None:
        """A new ladder from the configured quality (counters carry over: telemetry is cumulative)."""
        c = self.config
        old = getattr(self, "governor", None)
        self.governor = DeadlineGovernor(
            degrade_ladder(c.nfe, c.guidance_scale), period_ns=self.model.period_ns, deadline_fraction=c.deadline_fraction,
            degrade_after_late_steps=c.degrade_after_late_steps, window_steps=c.window_steps,
            recover_headroom_fraction=c.recover_headroom_fraction, recover_after_steps=c.recover_after_steps)
        if old is not None:
            for counter in ("steps", "steps_late", "degradations", "recoveries"):
                setattr(self.governor, counter, getattr(old, counter))
        self.model.set_level(self.governor.level)

    def warm_up(self, *, height: int | None = None, width: int | None = None, pixel_format: int | None = None) -> None:
        """Pay first-call costs before the first real step (issue 5: the first real step
        must not pay for compilation or allocation).

        Without an explicit size, the warm-up uses the size and format of a frame the host
        has already published (it stays staged for the first real step), else 320x240 RGB8.
        Lockstep sessions are not peeked: their frames are taken in order by the loop.
        """
        if height is None and not self.config.lockstep:
            for s in self.sessions:
                staged = s.intake.poll()
                if staged is not None:
                    s.tracker.offer(staged.frame_index, staged.capture_ns)
                    height, width = int(staged.pixels.shape[0]), int(staged.pixels.shape[1])
                    pixel_format = staged.pixel_format
        self.warmup_ms = self.model.warm_up(self.config.warmup_steps, height=height or 240, width=width or 320,
                                            pixel_format=pixel_format or 3)

    # -- the loop ----------------------------------------------------------------------
    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask the loop to end after the current step. Safe from signal handlers."""
        if not self.exit_reason:
            self.exit_reason = reason
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, *, max_seconds: float | None = None) -> str:
        """Serve until stopped; return why the loop ended."""
        for s in self.sessions:
            if s.session.state is not SessionState.CLOSED:  # never overwrite the host's last word
                s.session.state = SessionState.RUNNING
        next_host_check = 0.0
        next_telemetry = 0.0
        end = time.monotonic() + max_seconds if max_seconds else None
        log.info("serving %d session(s), %s, target latency %.1f ms", len(self.sessions),
                 "lockstep" if self.config.lockstep else "live",
                 self.target_fill_frames * 1000 / self.model.sample_rate_hz)
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if self.control is not None:
                    self.control.poll(0)
                    if getattr(self.control, "shutdown_requested", False):
                        self.request_stop("shutdown requested over control")
                        break
                if now >= next_host_check:
                    next_host_check = now + HOST_CHECK_INTERVAL_S
                    self._beat_and_watch_hosts()
                    if self._stop.is_set():
                        break
                if self.control is not None and now >= next_telemetry:
                    next_telemetry = now + self.config.telemetry_interval_ms / 1000
                    self._publish_telemetry()
                if end is not None and now >= end:
                    self.request_stop("time limit")
                    break
                if not self.running:
                    time.sleep(self.config.max_sleep_ms / 1000)
                    continue
                wait_s = self.tick()
                if wait_s > 0:
                    time.sleep(wait_s)
        finally:
            self._finish()
        return self.exit_reason

    def _publish_telemetry(self) -> None:
        try:
            self.control.publish_telemetry(self.telemetry())
        except ConfigError as exc:  # a telemetry bug must never stop the audio
            if not getattr(self, "_telemetry_warned", False):
                self._telemetry_warned = True
                log.error("telemetry refused by its schema (not published): %s", exc)

    def tick(self) -> float:
        """Run at most one step; return how long to sleep before the next tick."""
        active = [s for s in self.sessions if not s.host_gone]
        if not active:
            return self.config.max_sleep_ms / 1000
        self.prompts.poll()  # a finished embedding takes effect from the next step on
        if self.config.lockstep:
            return self._tick_lockstep(active)
        fills = [s.session.audio.fill_frames() for s in active]
        i = int(np.argmin(fills))
        decision = self.live.decide(fills[i], active[i].session.audio.free_frames())
        if not decision.step:
            return decision.wait_s
        for s in active:
            staged = s.intake.poll()
            s.tracker.offer(staged.frame_index if staged else None, staged.capture_ns if staged else 0)
        self._step()
        return 0.0

    def _tick_lockstep(self, active: list[ServedSession]) -> float:
        # Every session must have its next frame (in order) staged before the batch steps.
        for s in active:
            if not s.fresh:
                staged = s.intake.poll()
                if staged is not None:
                    s.fresh = True
                    s.tracker.offer(staged.frame_index, staged.capture_ns)
        free = min(s.session.audio.free_frames() for s in active)
        decision = self.lockstep.decide(all(s.fresh for s in active), free)
        if not decision.step:
            return decision.wait_s
        self._step()
        for s in active:
            s.fresh = False
        return 0.0

    def _step(self) -> None:
        m = self.model
        t0 = time.perf_counter_ns()
        frames, fmt, have_frame = self._batch()
        t1 = time.perf_counter_ns()
        if any(have_frame):
            pcm = m.step(frames, fmt)
            if self.gain != 1.0:
                pcm *= self.gain
        else:
            pcm = np.zeros((len(self.sessions), m.hop_samples, m.channels), dtype=np.float32)
        t2 = time.perf_counter_ns()
        done_ns = time.monotonic_ns()
        spatial_ns = 0
        for b, s in enumerate(self.sessions):
            if s.host_gone:
                continue
            if have_frame[b]:
                r0 = time.perf_counter_ns()
                block = s.output.render(pcm[b], s.intake.staged.orientation)
                spatial_ns += time.perf_counter_ns() - r0
            else:
                block = np.zeros((m.hop_samples, s.channels), np.float32)
                s.silence_blocks += 1
            start = s.session.counters()["audio_write_count"]
            written = s.session.audio.write(block)
            if written < m.hop_samples:
                s.blocks_discarded += 1
            s.steps += 1
            staged = s.intake.staged
            self.step_log.append(step=self.steps, session=b,
                                 frame_index=staged.frame_index if (staged and have_frame[b]) else -1,
                                 capture_ns=staged.capture_ns if (staged and have_frame[b]) else 0,
                                 ring_start_frame=start, written_frames=written, done_ns=done_ns,
                                 step_ms=(t2 - t0) / 1e6, nfe=m.level.nfe,
                                 guidance_x1000=int(m.level.guidance_scale * 1000))
        t3 = time.perf_counter_ns()
        prepare_ms = m.prepare() if any(have_frame) else 0.0
        self.steps += 1
        self.prompts.on_step()
        lat = self.latencies
        lat.record("frame_in", (t1 - t0) / 1e6)
        lat.record("model", (t2 - t1) / 1e6)
        lat.record("ring_write", (t3 - t2 - spatial_ns) / 1e6)
        if any(s.output.head_tracked for s in self.sessions):
            lat.record("spatial", spatial_ns / 1e6)  # head tracking + layout render, all sessions
        lat.record("prepare", prepare_ms)
        lat.record("total", (t3 - t0) / 1e6 + prepare_ms)
        for stage, ms in m.timings_ms().items():
            if stage != "total":  # the generator's own total; ours includes frame_in and the ring
                lat.record(stage, float(ms))
        if any(have_frame) and not self.config.lockstep:
            change = self.governor.observe(int(t3 - t0 + prepare_ms * 1e6))
            if change is not None:
                m.set_level(change)

    def _batch(self):
        """Stack each session's staged frame; blank where a session has none yet."""
        staged = [s.intake.staged for s in self.sessions]
        have = [st is not None and not s.host_gone for st, s in zip(staged, self.sessions)]
        ref = next((st for st, h in zip(staged, have) if h), None)
        if ref is None:
            return None, 3, have
        fmt = ref.pixel_format
        shape = tuple(ref.pixels.shape)
        if len(self.sessions) == 1:
            return ref.pixels[None], fmt, have
        parts = []
        for st, h in zip(staged, have):
            if h and st.pixel_format == fmt and tuple(st.pixels.shape) == shape:
                parts.append(st.pixels)
            elif h:
                parts.append(convert_frame(st.pixels, st.pixel_format, fmt, shape))
            else:
                parts.append(zeros_like(ref.pixels))
        tensors = [p for p in parts if hasattr(p, "is_cuda")]  # GPU frames, converted cube maps
        if tensors:
            import torch

            dev = tensors[0].device
            parts = [p if hasattr(p, "is_cuda") else torch.from_numpy(np.ascontiguousarray(p)).to(dev) for p in parts]
            return torch.stack([p.to(dev) for p in parts]), fmt, have
        return np.stack(parts), fmt, have

    def _beat_and_watch_hosts(self) -> None:
        for s in self.sessions:
            if s.host_gone:
                continue
            s.session.beat("sidecar")
            status = s.session.peer_status("host", stale_after_s=self.config.host_stale_after_s)
            if status.state is PeerState.DEAD:
                s.host_gone = True
                log.warning("session %s: host (pid %d) is gone", s.name, status.pid)
            elif s.session.state is SessionState.CLOSED:
                s.host_gone = True
                log.info("session %s: the host closed the session", s.name)
        if all(s.host_gone for s in self.sessions):
            self.request_stop("host gone")
            return
        if not self.config.lockstep:
            self._adapt_target()

    def _adapt_target(self) -> None:
        """Raise the live target after the reader underran, lower it after calm (scheduler.py).

        Underruns count only once the ring first reached the target while generating: before
        that (start-up, a restarted sidecar, a control `stop`) the reader is expected to run dry.
        """
        active = [s for s in self.sessions if not s.host_gone]
        events = sum(int(s.session.counters()["underrun_events"]) for s in active)
        if not self.running or not self._primed:
            self._primed = self.running and min(s.session.audio.fill_frames() for s in active) >= self.live.target_fill_frames
            self.adaptive.rebase(events)
            return
        if self.adaptive.observe(events, time.monotonic()):
            self.live.target_fill_frames = self.adaptive.frames
            log.info("target latency now %.1f ms (underruns seen: raised %d, lowered %d times)",
                     self.adaptive.frames * 1000 / self.model.sample_rate_hz, self.adaptive.raises, self.adaptive.lowers)

    def _finish(self) -> None:
        for s in self.sessions:
            try:
                if not s.host_gone:
                    s.session.state = SessionState.STOPPING
            except Exception as exc:  # a segment in a bad state must not block exit
                log.debug("could not set state of %s: %s", s.name, exc)
        if self.report_path is not None:
            self.write_report(self.report_path)
        for s in self.sessions:
            s.session.close()
        if self.gpu is not None:
            self.gpu.close()
        self.prompts.close()
        log.info("sidecar stopped: %s", self.exit_reason or "stopped")
