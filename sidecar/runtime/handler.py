"""The control operations the sidecar answers: `ControlOps`, mixed into `Sidecar`.

What it is: hello, configure, start, stop, reset, prompt and shutdown, implementing
`livefoley.sidecar.control.ControlHandler` against the runtime's state (`stats` lives with the
counters in service.py). The control server has validated every argument against the schema
before a method runs; what is checked here is what only the runtime knows (a channel layout
the loaded model cannot produce, a model change that needs a restart, a start while running).

What it is not: the protocol, the server, or the loop.
"""

from __future__ import annotations

from livefoley.protocol.errors import ConfigError, SessionError

VERSION = "0.1.0"


class ControlOps:
    """ControlHandler methods over the attributes `Sidecar` defines.

    Thread-safety: called from the runtime loop's thread (it polls the server), one at a time.
    Real-time safe: no.
    """

    def hello(self) -> dict:
        m = self.model
        return {
            "model": {"description": self.choice.description, "trained": self.choice.trained, "spec": self.choice.spec,
                      "hop_samples": m.hop_samples, "latent_rate_hz": m.latent_rate_hz, "device": self.device},
            "audio": {"sample_rate_hz": m.sample_rate_hz, "channels": m.channels,
                      "channel_layout": "stereo" if m.channels == 2 else "foa", "block_frames": m.hop_samples},
            "capabilities": ["lockstep" if self.config.lockstep else "live", "batch", "deadline-degrade"]
                            + (["cuda-frames"] if self.gpu is not None else []),
            "version": VERSION,
            "sessions": [s.name for s in self.sessions],
        }

    def configure(self, settings: dict) -> dict:
        changes = {}
        for key in ("nfe", "guidance_scale", "seed", "target_latency_ms"):
            if key in settings:
                changes[key] = settings[key]
        if "gain" in settings:
            self.gain = float(settings["gain"])
        if "prompt" in settings:
            self.prompt_text = settings["prompt"]
        if "channel_layout" in settings:
            want = settings["channel_layout"]
            have = "stereo" if self.model.channels == 2 else "foa"
            if want != have:
                raise ConfigError(f"configure channel_layout: expected {have!r} (the loaded model's), found {want!r}")
        if "model" in settings and settings["model"] != self.choice.spec:
            raise ConfigError(f"configure model: expected {self.choice.spec!r} (restart the sidecar to change models), "
                              f"found {settings['model']!r}")
        previous = self.config
        if changes:
            self.config = self.config.replace(**changes)
        if "target_latency_ms" in changes:
            try:
                self._build_schedulers()
            except ConfigError:
                self.config = previous
                self._build_schedulers()
                raise
        if "nfe" in changes or "guidance_scale" in changes:
            self._build_governor()
        if "seed" in changes:
            self.model.generator.seed = int(changes["seed"])  # used from the next reset on
        return self.current_config()

    def current_config(self) -> dict:
        return {"model": self.choice.spec, "nfe": self.config.nfe, "guidance_scale": self.config.guidance_scale,
                "seed": self.config.seed, "gain": self.gain,
                "target_latency_ms": self.target_fill_frames * 1000 / self.model.sample_rate_hz,
                "channel_layout": "stereo" if self.model.channels == 2 else "foa", "prompt": self.prompt_text,
                "lockstep": self.config.lockstep}

    def start(self) -> dict:
        if self.running:
            raise SessionError("start: expected state 'idle', found 'running'")
        self.running = True
        return {"state": "running"}

    def stop(self) -> dict:
        if not self.running:
            raise SessionError("stop: expected state 'running', found 'idle'")
        self.running = False
        return {"state": "idle"}

    def reset(self) -> dict:
        self.model.reset()
        for s in self.sessions:
            s.intake.clear()
            s.tracker.reset()
        return {"state": "running" if self.running else "idle", "reset": True}

    def prompt(self, text: str) -> dict:
        self.prompt_text = text
        setter = getattr(self.model.generator, "set_prompt", None)
        if setter is not None:
            setter(text)
        return {"prompt": text, "applied": setter is not None}

    def shutdown(self) -> dict:
        self.request_stop("shutdown requested over control")
        return {"state": "stopping"}
