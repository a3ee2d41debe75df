"""`livefoley render VIDEO -o OUT.mp4`: give a video file its sound, offline and deterministic.

What it is: decode the video (PyAV), choose the frame for each latent tick with the rule
training uses (`models.data.timing.frame_indices_for_ticks`: the newest frame at or before
the tick), generate one hop of audio per tick in lockstep, and mux the original frames with
the generated audio. By default the generation runs in a spawned sidecar (`serve --lockstep`
over a `fifo` session: one step per published frame, in order, nothing dropped), which is the
path a pipeline uses; `--in-process` runs the same model runner in this process instead.
Either way the same video, model and seed give the same audio (tested).

What it is not: real-time. Nothing here waits for a clock; back-pressure from the fifo and
the ring paces the host to the sidecar.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from livefoley.protocol.errors import SessionError
from livefoley.sidecar import sampler_flags

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="input video file")
    parser.add_argument("-o", "--output", required=True, help="output mp4 (the video's frames with generated audio)")
    parser.add_argument("--model", default="default", help="'default', 'tiny', 'sr' or a checkpoint path")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nfe", type=int, default=None,
                        help="consistency NFE (default: the checkpoint's recorded NFE, else 1)")
    parser.add_argument("--guidance-scale", type=float, default=None,
                        help="CFG scale (default: the scale the checkpoint records, else 3)")
    sampler_flags.add_arguments(parser)
    parser.add_argument("--in-process", action="store_true", help="generate in this process (no sidecar)")
    parser.add_argument("--max-seconds", type=float, default=None, help="render only the first N seconds")
    parser.add_argument("--wav", default=None, help="also write the generated audio as a WAV file")


def model_format(spec: str) -> tuple[int, int, int, float]:
    """(sample_rate_hz, channels, hop_samples, latent_rate_hz) of a resolved model spec."""
    from livefoley.models import get_preset, read_checkpoint_config
    from livefoley.sidecar.runtime.model import preset_names

    cfg = get_preset(spec) if spec in preset_names() else read_checkpoint_config(spec)
    return int(cfg.sample_rate_hz), int(cfg.channels), int(cfg.hop_samples), float(cfg.latent_rate_hz)


def render_with_sidecar(frames: np.ndarray, picks: np.ndarray, *, spec: str, device: str, seed: int, nfe: int,
                        guidance_scale: float, timeout_s: float = 120.0, log_path: str | None = None,
                        sampler_options: dict[str, float] | None = None) -> np.ndarray:
    """Publish `frames[picks[j]]` for each tick j into a fifo session served in lockstep;
    return the audio, float32 (len(picks) * hop, channels). `sampler_options`: the sampler's
    extras for the sidecar (`sampler_flags`), else the checkpoint's."""
    from livefoley.engine_bindings.host import Host

    rate, channels, hop, _ = model_format(spec)
    h, w = frames.shape[1:3]
    total = len(picks) * hop
    audio = np.zeros((total, channels), dtype=np.float32)
    got = 0
    with Host(sample_rate_hz=rate, channels=channels, frame_mode="fifo", max_width_px=w, max_height_px=h,
              ring_seconds=2.0) as host:
        host.spawn_sidecar(model=spec, device=device, lockstep=True, seed=seed, nfe=nfe,
                           guidance_scale=guidance_scale, log_path=log_path, no_control=True,
                           extra_args=tuple(sampler_flags.argv(sampler_options or {})))
        host.await_sidecar(timeout_s=timeout_s)
        deadline = time.monotonic() + timeout_s
        j = 0
        while got < total:
            if j < len(picks) and host.publish(frames[max(int(picks[j]), 0)], frame_index=j, timeout_s=0.0):
                j += 1
            fill = host.session.audio.fill_frames()
            if fill:
                n = min(fill, total - got)
                got += host.read_audio(audio[got:got + n])
                deadline = time.monotonic() + timeout_s
            elif j >= len(picks) or fill == 0:
                time.sleep(0.0005)
            if host.sidecar.poll() is not None:
                raise SessionError(f"render: expected the sidecar to run, found it exited with code "
                                   f"{host.sidecar.returncode} after {got} of {total} frames")
            if time.monotonic() > deadline:
                raise SessionError(f"render: expected audio within {timeout_s:.0f} s, found {got} of {total} frames")
    return audio


def main(args: argparse.Namespace) -> int:
    from livefoley.models.data.timing import frame_indices_for_ticks, ticks_covering
    from livefoley.sidecar.media import decode_video, write_video
    from livefoley.sidecar.runtime.model import resolve_model, sampling_options

    choice = resolve_model(args.model)
    print(f"MODEL: {choice.description}", flush=True)
    video = decode_video(args.video)
    frames, times_s = video.frames, video.times_s
    if args.max_seconds is not None:
        keep = times_s < times_s[0] + args.max_seconds
        frames, times_s = frames[keep], times_s[keep]
    ts = np.round((times_s - times_s[0]) * 1e9).astype(np.int64)
    rate, channels, hop, latent_rate = model_format(choice.spec)
    nfe, guidance = sampling_options(choice.spec, args.nfe, args.guidance_scale)
    extras = sampler_flags.overrides(args)
    duration_ns = int(ts[-1]) + int(round(1e9 / video.fps))
    n_ticks = ticks_covering(duration_ns, latent_rate)
    picks = frame_indices_for_ticks(ts, n_ticks, latent_rate_hz=latent_rate)
    t0 = time.perf_counter()
    if args.in_process:
        import torch

        from livefoley.engine_bindings.host import InProcessPipeline

        torch.set_num_threads(1)
        pipe = InProcessPipeline(choice.spec, device=args.device, seed=args.seed, nfe=nfe,
                                 guidance_scale=guidance, sampler_options=extras)
        audio = pipe.render(frames, ts, duration_ns=duration_ns)
    else:
        audio = render_with_sidecar(frames, picks, spec=choice.spec, device=args.device, seed=args.seed,
                                    nfe=nfe, guidance_scale=guidance, sampler_options=extras)
    seconds = time.perf_counter() - t0
    write_video(args.output, frames, fps=video.fps, audio=audio, sample_rate_hz=rate)
    if args.wav:
        import soundfile

        soundfile.write(args.wav, audio, rate, subtype="FLOAT")
    print(f"rendered {len(frames)} frames ({n_ticks} latent ticks) in {seconds:.1f} s -> {args.output}", flush=True)
    return 0
