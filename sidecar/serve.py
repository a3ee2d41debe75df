"""`livefoley serve`: run the sidecar against one or more sessions until the host goes away.

What it is: argument parsing, logging of what was chosen (the model, and plainly whether it
has random weights), signal handling (SIGTERM/SIGINT end the loop cleanly), the control
server, warm-up, and the exit code. The loop itself is `runtime.service.Sidecar`.

Exit codes: 0 after a clean stop (signal, `shutdown`, host gone, time limit); 2 for a
LiveFoley error at start-up (the CLI prints it: bad session, bad model, no GPU).
"""

from __future__ import annotations

import argparse
import logging
import signal
import time

from livefoley.sidecar import sampler_flags
from livefoley.sidecar.runtime.config import RuntimeConfig
from livefoley.sidecar.runtime.model import sampling_options

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", action="append", required=True, metavar="NAME",
                        help="session to serve (repeat for several; they are stepped as one batch)")
    parser.add_argument("--model", default="default",
                        help="'default' (bundled weights, else tiny with random weights), 'tiny', 'sr', or a checkpoint path")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--lockstep", action="store_true",
                        help="one step per frame, in order, nothing dropped (fifo sessions; rendering, pipelines)")
    parser.add_argument("--target-latency-ms", type=float, default=None,
                        help="ring fill to keep (default: two model steps)")
    parser.add_argument("--target-latency-steps", type=float, default=2.0)
    parser.add_argument("--adaptive-extra-steps", type=float, default=1.0,
                        help="how far (in steps) the live target may rise after the reader underruns; 0 = fixed")
    parser.add_argument("--nfe", type=int, default=None,
                        help="head evaluations per step at full quality (default: the checkpoint's "
                             "recorded NFE, else 1)")
    parser.add_argument("--guidance-scale", type=float, default=None,
                        help="classifier-free guidance (1 = off; default: the scale the checkpoint "
                             "records, else 3, SoundReactor's)")
    sampler_flags.add_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gain", type=float, default=1.0)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--idle", action="store_true", help="wait for a control 'start' before generating")
    parser.add_argument("--attach-timeout", type=float, default=10.0, help="seconds to wait for the session to exist")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop after this long (tests, benchmarks)")
    parser.add_argument("--report", default=None, metavar="PATH", help="write final stats and the step log as JSON")
    parser.add_argument("--no-control", action="store_true", help="do not open the ZeroMQ control channel")
    parser.add_argument("--nice", type=int, default=0,
                        help="change this process's scheduling niceness by N (negative = higher priority, as "
                             "audio software runs its producer; needs the privilege, else a warning)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: one step per core is faster than two "
                             "threads fighting the game for a small CPU; 0 keeps torch's default)")


def _config(args: argparse.Namespace) -> RuntimeConfig:
    """The runtime config; sampling options the user left unset come from the checkpoint."""
    nfe, guidance = sampling_options(args.model, args.nfe, args.guidance_scale)
    return RuntimeConfig(target_latency_steps=args.target_latency_steps, target_latency_ms=args.target_latency_ms,
                         lockstep=args.lockstep, adaptive_extra_steps=args.adaptive_extra_steps, nfe=nfe,
                         guidance_scale=guidance, seed=args.seed, warmup_steps=args.warmup_steps,
                         sampler_options=sampler_flags.overrides(args))


def _open_control(sidecar, session_name: str):
    try:
        from livefoley.sidecar.control import ControlServer
    except ImportError as exc:
        log.warning("control channel unavailable (%s); serving without it", exc)
        return None
    server = ControlServer(sidecar, session_name=session_name)
    for s in sidecar.sessions:
        s.session.control_endpoint = server.endpoint
    return server


def main(args: argparse.Namespace) -> int:
    if args.nice:
        import os

        try:
            log.info("niceness now %d", os.nice(args.nice))
        except OSError as exc:
            log.warning("--nice %d refused (%s); running at normal priority", args.nice, exc)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from livefoley.sidecar.runtime.service import Sidecar

    sidecar = Sidecar(args.session, model=args.model, device=args.device, config=_config(args),
                      autostart=not args.idle, report_path=args.report, attach_timeout_s=args.attach_timeout,
                      gain=args.gain)
    if not sidecar.choice.trained:
        log.warning("MODEL: %s -- the sound is not meaningful until a trained model is used", sidecar.choice.description)
    else:
        log.info("model: %s", sidecar.choice.description)

    extras = ", ".join(f"{k} {v:g}" for k, v in sidecar.model.sampler_state().items())
    log.info("sampling: nfe %d, guidance %g, %s", sidecar.config.nfe, sidecar.config.guidance_scale, extras)
    sidecar.prompts.preload()  # a model with text: load the encoder off the loop, now

    def on_signal(signum, _frame):
        sidecar.request_stop(f"signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    control = None
    try:
        if not args.no_control:
            control = _open_control(sidecar, args.session[0])
            sidecar.control = control
        sidecar.warm_up()
        # The prompt encoder loads on its worker during warm-up; wait for it before serving,
        # so its load (GIL and CPU heavy) never overlaps the first real steps.
        t0 = time.monotonic()
        if not sidecar.prompts.wait_ready(60.0):
            log.warning("text encoder still loading after 60 s; serving anyway (first steps may be slow)")
        elif sidecar.prompts.text_dim:
            log.info("text encoder ready before serving (waited %.2f s after warm-up)", time.monotonic() - t0)
        reason = sidecar.run(max_seconds=args.max_seconds)
    finally:
        if control is not None:
            # LINGER is 0, so a reply still queued (e.g. to `shutdown`) would be dropped by an
            # immediate close: give the I/O thread a moment, answering anything in flight.
            end = time.monotonic() + 0.2
            while time.monotonic() < end:
                control.poll(20)
            control.close()
    log.info("exit: %s", reason)
    return 0
