"""The frame-budget measurement: the real per-frame step, paced at the model's latent rate.

What it is: for each run (NFE, guidance on/off, number of batched sessions) it builds real
shared-memory sessions (host-slot frames in `latest` mode, the audio ring), publishes a
frame per session, and times the sidecar's per-frame path stage by stage:

    handoff      acquire the newest frame from the session's slot pool (zero-copy view)
    upload       stack the views into one batch tensor on the device
    transformer_audio  the previous-audio transformer step (run ahead of the frame)
    preprocess / vision_encoder / aggregator   the vision front-end, split by module hooks
    vision       the whole front-end (the three above)
    transformer  the video-token step, cond and null rows batched
    head         the head's sampler, NFE evaluations
    vae          one streaming decoder step (one hop of PCM)
    download     the PCM from the device to host memory
    ring_write   PCM into each session's audio ring
    step_total   all of the above: SoundReactor's waveform-level latency
    frame_to_pcm step_total less transformer_audio: the frame's critical path

What it is not: a scheduler (the sidecar's is in sidecar/runtime) or a model. It never
changes the model; the vision split is read through forward hooks.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import time

import numpy as np
import torch

from livefoley.models import StreamingGenerator, V2AModel
from livefoley.sidecar.runtime.config import SAMPLER_OPTIONS
from livefoley.protocol import PixelFormat, SessionParams, create_session

from .stats import miss_rate, summarize_ms

log = logging.getLogger(__name__)

DEVICE_STAGES = ("vision", "transformer", "head", "vae")  # timed inside StreamingGenerator.step
VISION_PARTS = ("preprocess", "vision_encoder", "aggregator")
STAGES = ("handoff", "upload", "transformer_audio", *VISION_PARTS, "vision", "transformer",
          "head", "vae", "download", "ring_write", "step_total", "frame_to_pcm")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One measured run.

    Attributes:
        nfe: head evaluations per frame (consistency sampler), 1..4.
        guidance: classifier-free guidance on (scale 3, as SoundReactor) or off (scale 1).
        sessions: independent sessions stepped as one batch.
        seconds: measured duration, after warm-up, at the model's latent rate.
        warmup_steps: steps run and discarded before measuring.
        frame_width_px / frame_height_px: the published frames' size (RGBA8).
        paced: sleep to the latent clock between steps (False: back to back).
        sampler_options: the sampler's extras over what the checkpoint records
            (`runtime.config.SAMPLER_OPTIONS`; history guidance != 1 adds a row group).
    """

    nfe: int = 1
    guidance: bool = True
    sessions: int = 1
    seconds: float = 5.0
    warmup_steps: int = 5
    frame_width_px: int = 640
    frame_height_px: int = 480
    paced: bool = True
    sampler_options: dict[str, float] = dataclasses.field(default_factory=dict)


class _ModuleTimer:
    """Times named submodules with forward hooks (synchronising CUDA around them)."""

    def __init__(self, modules: dict[str, torch.nn.Module], device: torch.device) -> None:
        self.times_ms: dict[str, float] = {}
        self._start: dict[str, float] = {}
        self._device = device
        self._handles = []
        for name, module in modules.items():
            self._handles.append(module.register_forward_pre_hook(self._pre(name)))
            self._handles.append(module.register_forward_hook(self._post(name)))

    def _sync(self) -> None:
        if self._device.type == "cuda":
            torch.cuda.synchronize(self._device)

    def _pre(self, name):
        def hook(module, args):
            self._sync()
            self._start[name] = time.perf_counter()
        return hook

    def _post(self, name):
        def hook(module, args, output):
            self._sync()
            self.times_ms[name] = self.times_ms.get(name, 0.0) + (
                time.perf_counter() - self._start[name]) * 1e3
        return hook

    def take(self) -> dict[str, float]:
        out, self.times_ms = self.times_ms, {}
        return out

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def synthetic_frames(count: int, width_px: int, height_px: int, seed: int = 0) -> np.ndarray:
    """A deterministic clip of moving shapes, (count, H, W, 4) uint8 RGBA: real pixel work,
    not zeros (zeros can run faster than real data)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(height_px, width_px, 4), dtype=np.uint8)
    frames = np.empty((count, height_px, width_px, 4), dtype=np.uint8)
    for i in range(count):
        frames[i] = np.roll(base, shift=(i * 7) % width_px, axis=1)
        x0 = (i * 13) % max(1, width_px - 40)
        frames[i, height_px // 3: height_px // 3 + 40, x0: x0 + 40, :3] = 255
    return frames


def _peak_memory_bytes(device: torch.device) -> tuple[int, str]:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda max_memory_allocated"
    # ru_maxrss is KiB on Linux: the process's peak resident set, model included.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "process peak RSS"


def measure_run(model: V2AModel, spec: RunSpec, *, device: torch.device, seed: int = 0,
                name_prefix: str = "lf-bench") -> dict:
    """Time one run; see the module docstring for the stages.

    Args:
        model: the network (random or trained weights; timing does not care).
        spec: what to run.
        device: where the generator runs.
        seed: sampling seed.
        name_prefix: shared-memory session names are `{prefix}-{pid}-{i}`.

    Returns:
        A JSON-able dict: the spec, per-stage distributions, miss rate, real-time factor,
        time to first audio and peak memory.
    """
    import os

    hop_ms = 1e3 / model.config.latent_rate_hz
    channels = model.config.channels
    hop = model.config.hop_samples
    frame_bytes = spec.frame_width_px * spec.frame_height_px * 4
    params = SessionParams(sample_rate_hz=model.config.sample_rate_hz, channels=channels,
                           ring_capacity_frames=1 << max(12, (4 * hop - 1).bit_length()),
                           frame_mode="latest", frame_slots=3, max_frame_bytes=frame_bytes)
    sessions = [create_session(f"{name_prefix}-{os.getpid()}-{i}", params)
                for i in range(spec.sessions)]
    clip = synthetic_frames(16, spec.frame_width_px, spec.frame_height_px, seed=seed)
    drain = np.empty((hop, channels), dtype=np.float32)
    vision = model.vision
    timer = _ModuleTimer({"preprocess": vision.preprocess, "vision_encoder": vision.backbone,
                          "aggregator": vision.aggregator}, device)
    try:
        t_start = time.perf_counter()
        gen = StreamingGenerator(model, batch_size=spec.sessions, device=device, seed=seed)
        gen.set_options(nfe=spec.nfe, guidance_scale=3.0 if spec.guidance else 1.0,
                        **spec.sampler_options)
        samples: dict[str, list[float]] = {s: [] for s in STAGES}
        first_audio_ms = None
        # A patch head (LocDiT) plays silence for its first k - 1 steps: time to first audio
        # runs until the step that returns the first real block.
        first_audio_step = int(getattr(gen, "first_audio_step", 1))
        total_steps = spec.warmup_steps + max(1, int(round(spec.seconds * 1e3 / hop_ms)))
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        next_tick = time.perf_counter()
        late_steps = 0
        for step in range(total_steps):
            for i, session in enumerate(sessions):  # the host publishes (not timed)
                session.frames.publish(clip[(step + i) % len(clip)], frame_index=step,
                                       capture_ns=time.monotonic_ns(),
                                       pixel_format=PixelFormat.RGBA8)
            t0 = time.perf_counter()
            gen.prepare()  # ahead of the frame, as in the paper's sampling algorithm
            t1 = time.perf_counter()
            views = [session.frames.acquire() for session in sessions]
            t2 = time.perf_counter()
            batch = torch.from_numpy(np.stack([v.pixels for v in views])).to(device)
            for v in views:
                v.release()
            del views  # no view may outlive the mapping (the session defers unmapping otherwise)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t3 = time.perf_counter()
            timer.take()
            pcm = gen.step(batch, "RGBA8")
            pcm_host = pcm.cpu().numpy()
            t4 = time.perf_counter()
            for i, session in enumerate(sessions):
                session.audio.write(pcm_host[i])
            t5 = time.perf_counter()
            for session in sessions:  # the engine's reader (not timed)
                session.audio.read_into(drain)
            if first_audio_ms is None and step + 1 >= first_audio_step:
                first_audio_ms = (t5 - t_start) * 1e3  # the first block that carries audio
            if step >= spec.warmup_steps:
                g = gen.last_timings_ms
                parts = timer.take()
                row = {
                    "handoff": (t2 - t1) * 1e3, "upload": (t3 - t2) * 1e3,
                    "transformer_audio": (t1 - t0) * 1e3,
                    "vision": g["vision"], "transformer": g["transformer"], "head": g["head"],
                    "vae": g["vae"],
                    "download": (t4 - t3) * 1e3 - sum(g[k] for k in DEVICE_STAGES),
                    "ring_write": (t5 - t4) * 1e3,
                    "step_total": (t5 - t0) * 1e3, "frame_to_pcm": (t5 - t1) * 1e3,
                }
                row.update({k: parts.get(k, float("nan")) for k in VISION_PARTS})
                for k, v in row.items():
                    samples[k].append(v)
            next_tick += hop_ms / 1e3
            now = time.perf_counter()
            if spec.paced and now < next_tick:
                time.sleep(next_tick - now)
            elif now > next_tick:
                late_steps += 1
                next_tick = now  # do not try to catch up: a late step is a missed deadline
        peak_bytes, peak_kind = _peak_memory_bytes(device)
        e2e = samples["step_total"]
        return {
            "spec": dataclasses.asdict(spec),
            "head_kind": model.config.head_kind,
            "patch_latents": int(model.config.patch_latents),
            "output_delay_steps": int(getattr(gen, "output_delay_steps", 0)),
            "first_audio_step": first_audio_step,
            "nfe": spec.nfe, "guidance": spec.guidance, "sessions": spec.sessions,
            "sampler": {k: float(getattr(gen, k)) for k in SAMPLER_OPTIONS},  # in effect
            "budget_ms": hop_ms,
            "stages": {k: summarize_ms(v) for k, v in samples.items()},
            "samples_ms": {"step_total": [round(x, 4) for x in e2e]},
            "miss_rate": miss_rate(e2e, hop_ms),
            "steps_late": late_steps,
            "real_time_factor": float(np.mean(e2e)) / hop_ms if e2e else float("nan"),
            "time_to_first_audio_ms": first_audio_ms,
            "peak_memory_bytes": peak_bytes, "peak_memory_kind": peak_kind,
        }
    finally:
        timer.close()
        for session in sessions:
            session.close(unlink=True)
