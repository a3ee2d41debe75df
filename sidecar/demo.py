"""`livefoley demo` (`make demo`): ViZDoom plays; the sidecar gives it sound, live.

What happens, in real time (35 tics/s): a headless ViZDoom scenario runs with a simple agent
in this process, which is the host: it creates the session, spawns `livefoley serve` as a
child, publishes every game frame into the session's `latest` mailbox, and reads the audio
ring from a thread at a sound card's cadence (48 kHz, 256-frame callbacks) through the C
reader `lf_audio_read`, as an engine's audio thread would. Afterwards it writes

- out/demo.mp4: the game's frames with the generated audio, placed as it was heard (the
  audio lags the picture by the measured glass-to-ear latency);
- out/demo-reference.mp4: the same frames with the game's own audio (44.1 -> 48 kHz);
- out/demo-report.md and out/demo-report.json: per-stage step latency percentiles,
  underruns after start-up, frame drops, and glass-to-ear latency (a frame's capture time
  to the moment the first sample of the audio it produced reached the reader).

The model is the bundled default checkpoint when one exists, else the `tiny` config with
RANDOM weights; the demo says which, plainly, on the terminal and in the report.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from livefoley.sidecar import sampler_flags

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 48000
BLOCK_FRAMES = 256


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the game plays (default 20)")
    parser.add_argument("--scenario", default="defend_the_center", help="ViZDoom scenario")
    parser.add_argument("--model", default="default", help="'default', 'tiny', 'sr' or a checkpoint path")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="out", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nfe", type=int, default=None,
                        help="consistency NFE (default: the checkpoint's recorded NFE, else 1)")
    parser.add_argument("--guidance-scale", type=float, default=None,
                        help="CFG scale (default: the scale the checkpoint records, else 3)")
    sampler_flags.add_arguments(parser)
    parser.add_argument("--target-latency-ms", type=float, default=None,
                        help="ring fill the sidecar keeps (default: two model steps)")
    parser.add_argument("--block-frames", type=int, default=BLOCK_FRAMES, help="audio callback size")
    parser.add_argument("--no-video", action="store_true", help="skip writing the mp4 files")
    parser.add_argument("--sidecar-nice", type=int, default=0,
                        help="niceness change for the sidecar (e.g. -10: above other work, as an audio producer runs)")


def main(args: argparse.Namespace) -> int:
    from livefoley.engine_bindings.host import Host
    from livefoley.sidecar.game import TICS_PER_SECOND, DoomConfig, DoomRun
    from livefoley.sidecar.runtime.model import resolve_model

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    choice = resolve_model(args.model)
    banner = f"MODEL: {choice.description}"
    if not choice.trained:
        banner += "\n       The generated sound is NOT meaningful: this run demonstrates the live pipeline only."
    print(banner, flush=True)
    n_tics = int(round(args.seconds * TICS_PER_SECOND))
    report_path = out / "demo-sidecar.json"
    report_path.unlink(missing_ok=True)
    frames: list[np.ndarray] = []
    game_audio: list[np.ndarray] = []
    capture_ns = np.zeros(n_tics, dtype=np.int64)
    late_tics = 0
    with Host(sample_rate_hz=SAMPLE_RATE_HZ, channels=2, frame_mode="latest", max_width_px=640,
              max_height_px=480) as host, DoomRun(DoomConfig(scenario=args.scenario, seed=args.seed)) as game:
        host.spawn_sidecar(model=choice.spec, device=args.device, seed=args.seed, nfe=args.nfe,
                           guidance_scale=args.guidance_scale, target_latency_ms=args.target_latency_ms,
                           report_path=report_path, log_path=out / "demo-sidecar.log",
                           extra_args=(*sampler_flags.argv(sampler_flags.overrides(args)),
                                       *(("--nice", str(args.sidecar_nice)) if args.sidecar_nice else ())))
        print(f"sidecar pid {host.sidecar.pid} starting (log: {out / 'demo-sidecar.log'}) ...", flush=True)
        frame, audio = game.step()
        host.publish(frame, frame_index=0)
        t_spawn = time.monotonic()
        host.await_sidecar(timeout_s=180.0, primed_frames=1)
        target = (int(args.target_latency_ms * SAMPLE_RATE_HZ / 1000) if args.target_latency_ms
                  else 2 * 1600)  # two steps of a 48 kHz / hop-1600 model: the sidecar's default
        primed = _wait_primed(host, frames=target, timeout_s=60.0)
        startup_s = time.monotonic() - t_spawn
        reader = host.start_reader(block_frames=args.block_frames, capture_seconds=args.seconds + 10)
        at_start = host.counters()
        print(f"sidecar ready after {startup_s:.1f} s (ring primed with {primed} frames); playing {args.seconds:.0f} s",
              flush=True)
        t0 = time.monotonic_ns()
        period_ns = 1_000_000_000 // TICS_PER_SECOND
        for k in range(n_tics):
            due = t0 + k * period_ns
            now = time.monotonic_ns()
            if now < due:
                time.sleep((due - now) / 1e9)
            elif now - due > period_ns:
                late_tics += 1
            frame, audio = game.step()
            capture_ns[k] = time.monotonic_ns()
            host.publish(frame, frame_index=k + 1, capture_ns=int(capture_ns[k]))
            frames.append(frame)
            game_audio.append(audio)
        time.sleep(0.5)  # let the audio of the last frames reach the "speaker"
        reader.stop()
        at_end = host.counters()
        exit_code = host.stop_sidecar()
    sidecar = json.loads(report_path.read_text()) if report_path.exists() else {}
    report = build_report(args=args, choice=choice, reader=reader, at_start=at_start, at_end=at_end,
                          sidecar=sidecar, capture_ns=capture_ns, late_tics=late_tics, startup_s=startup_s,
                          sidecar_exit=exit_code)
    (out / "demo-report.json").write_text(json.dumps(report, indent=2))
    (out / "demo-report.md").write_text(render_markdown(report))
    if not args.no_video:
        write_videos(out, frames=frames, game_audio=game_audio, generated=reader.audio(),
                     reader_start_ns=reader.start_ns, first_capture_ns=int(capture_ns[0]))
    print(render_markdown(report), flush=True)
    print(f"wrote {out / 'demo.mp4'}, {out / 'demo-reference.mp4'}, {out / 'demo-report.md'}", flush=True)
    return 0


def _wait_primed(host, *, frames: int, timeout_s: float) -> int:
    """Wait until the sidecar has filled the ring to its target once: start-up ends there."""
    deadline = time.monotonic() + timeout_s
    fill = 0
    while time.monotonic() < deadline:
        fill = host.session.audio.fill_frames()
        if fill >= frames or (host.sidecar is not None and host.sidecar.poll() is not None):
            break
        time.sleep(0.005)
    return fill


def glass_to_ear_ms(steps: list[dict], reader, capture_ns: np.ndarray) -> np.ndarray:
    """For each step that used a new frame: capture -> its first sample read by the reader."""
    seen = set()
    pos, cap = [], []
    for row in steps:
        k = row["frame_index"]
        if k <= 0 or k in seen or row["written_frames"] == 0:  # frame 0 was published before start-up
            continue
        seen.add(k)
        pos.append(row["ring_start_frame"])
        cap.append(row["capture_ns"])
    if not pos:
        return np.zeros(0)
    heard = reader.time_of_ring_position(np.asarray(pos))
    ok = heard >= 0
    return (heard[ok] - np.asarray(cap)[ok]) / 1e6


def _pct(values: np.ndarray) -> dict:
    from livefoley.sidecar.runtime.stats import summarize_ms

    return summarize_ms(np.asarray(values, dtype=np.float64))


def build_report(*, args, choice, reader, at_start, at_end, sidecar, capture_ns, late_tics, startup_s,
                 sidecar_exit) -> dict:
    import platform

    stats = sidecar.get("stats", {})
    steps = sidecar.get("steps", [])
    g2e = glass_to_ear_ms(steps, reader, capture_ns)
    delta = {k: int(at_end[k]) - int(at_start[k]) for k in at_end}
    rows = stats.get("sessions", [{}])
    period_ms = stats.get("period_ms", 1600 / 48)
    totals = np.asarray([r["step_ms"] for r in steps], dtype=np.float64)
    return {
        "model": choice.description,
        "model_trained": choice.trained,
        "device": args.device,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPU cores",
        "seconds": args.seconds,
        "scenario": args.scenario,
        "startup_s": round(startup_s, 2),
        "audio": {"sample_rate_hz": SAMPLE_RATE_HZ, "callback_frames": args.block_frames,
                  "callbacks": int(reader.callbacks), "late_callbacks": int(reader.late_callbacks)},
        "underruns_after_startup": {"events": delta["underrun_events"], "frames": delta["underrun_frames"]},
        "frames": {"published": delta["frames_published"], "acquired": delta["frames_acquired"],
                   "dropped_by_mailbox": delta["frames_dropped"], "rejected": delta["frames_rejected"],
                   "steps_repeating_last_frame": rows[0].get("steps_repeated", 0) if rows else 0,
                   "game_tics_late": late_tics},
        "steps": {"count": int(stats.get("steps", 0)), "period_ms": period_ms,
                  "within_budget_fraction": float((totals <= period_ms).mean()) if totals.size else 0.0,
                  "deadline": stats.get("deadline", {})},
        "latency_ms": {"glass_to_ear": _pct(g2e), "target_ring_latency_ms": stats.get("target_latency_ms"),
                       "target_ring_latency_at_end_ms": stats.get("target_latency_now_ms"),
                       "target_raises_after_underruns": stats.get("latency_raises", 0),
                       "per_stage": stats.get("latency_ms", {})},
        "warmup_ms": stats.get("warmup_ms"),
        "sidecar_exit_code": sidecar_exit,
        "command": command_line(args),
    }


def command_line(args: argparse.Namespace) -> str:
    """The `livefoley demo` command that reproduces this run: every option that shapes the
    sound or the timing, the sampler's included (sampling defaults left unset stay unset:
    they come from the checkpoint)."""
    words = ["livefoley demo", f"--seconds {args.seconds:g}", f"--scenario {args.scenario}",
             f"--model {args.model}", f"--device {args.device}", f"--seed {args.seed}"]
    for flag, value in (("--nfe", args.nfe), ("--guidance-scale", args.guidance_scale),
                        ("--target-latency-ms", args.target_latency_ms)):
        if value is not None:
            words.append(f"{flag} {value:g}")
    words += sampler_flags.argv(sampler_flags.overrides(args))
    if args.block_frames != BLOCK_FRAMES:
        words.append(f"--block-frames {args.block_frames}")
    if args.sidecar_nice:
        words.append(f"--sidecar-nice {args.sidecar_nice}")
    return " ".join(words)


def render_markdown(r: dict) -> str:
    lines = [
        "# LiveFoley demo report", "",
        f"- model: **{r['model']}**" + ("" if r["model_trained"] else " — the sound is not meaningful (random weights)"),
        f"- device: {r['device']} ({r['machine']}); scenario `{r['scenario']}` for {r['seconds']:g} s; "
        f"sidecar start-up {r['startup_s']} s (warm-up {r['warmup_ms'] or 0:.0f} ms)",
        f"- command: `{r['command']}`", "",
        "## Audio path",
        f"- reader: {r['audio']['callbacks']} callbacks of {r['audio']['callback_frames']} frames at "
        f"{r['audio']['sample_rate_hz']} Hz through `lf_audio_read` ({r['audio']['late_callbacks']} ran late)",
        f"- underruns after start-up: **{r['underruns_after_startup']['events']} events, "
        f"{r['underruns_after_startup']['frames']} frames**",
        f"- steps: {r['steps']['count']}; {100 * r['steps']['within_budget_fraction']:.1f}% had their critical path "
        f"(frame in -> PCM in the ring) within the {r['steps']['period_ms']:.1f} ms budget; `total` below adds the "
        f"ahead-of-time `prepare`; deadline state {r['steps']['deadline']}",
        "",
        "## Frames",
        "- " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in r["frames"].items()),
        "",
        "## Latency (ms)",
        "| stage | n | p50 | p90 | p99 | max |", "|---|---|---|---|---|---|",
    ]
    g = r["latency_ms"]["glass_to_ear"]
    lines.append(f"| **glass-to-ear** | {g['n']} | {g['p50']} | {g['p90']} | {g['p99']} | {g['max']} |")
    for stage, s in r["latency_ms"]["per_stage"].items():
        lines.append(f"| {stage} | {s['n']} | {s['p50']} | {s['p90']} | {s['p99']} | {s['max']} |")
    lat = r["latency_ms"]
    lines += ["", f"Target ring latency: configured {lat['target_ring_latency_ms']:.1f} ms, at the end "
              f"{lat['target_ring_latency_at_end_ms'] or 0:.1f} ms ({lat['target_raises_after_underruns']} raise(s) after "
              "underruns: the adaptive jitter buffer). Glass-to-ear is a frame's "
              "capture time to the reader's callback that read the first sample of the audio that frame produced.", ""]
    return "\n".join(lines)


def write_videos(out: Path, *, frames, game_audio, generated: np.ndarray, reader_start_ns: int,
                 first_capture_ns: int) -> None:
    from livefoley.sidecar.game import GAME_SAMPLE_RATE_HZ, TICS_PER_SECOND
    from livefoley.sidecar.media import resample_int16, write_video

    # Place the generated audio as it was heard: sample 0 of the capture played at
    # reader_start_ns; video time 0 is the first frame's capture.
    offset = int(round((reader_start_ns - first_capture_ns) * SAMPLE_RATE_HZ / 1e9))
    if offset >= 0:
        aligned = np.concatenate([np.zeros((offset, generated.shape[1]), np.float32), generated])
    else:
        aligned = generated[-offset:]
    write_video(out / "demo.mp4", frames, fps=TICS_PER_SECOND, audio=aligned, sample_rate_hz=SAMPLE_RATE_HZ)
    reference = resample_int16(np.concatenate(game_audio), from_hz=GAME_SAMPLE_RATE_HZ, to_hz=SAMPLE_RATE_HZ)
    write_video(out / "demo-reference.mp4", frames, fps=TICS_PER_SECOND, audio=reference,
                sample_rate_hz=SAMPLE_RATE_HZ)
