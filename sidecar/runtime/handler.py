"""The control operations the sidecar answers: `ControlOps`, mixed into `Sidecar`.

What it is: hello, configure, start, stop, reset, prompt and shutdown, implementing
`livefoley.sidecar.control.ControlHandler` against the runtime's state (`stats` is in
reporting.py). The control server has validated every argument against the schema before a
method runs; what is checked here is what only the runtime knows (a channel layout the loaded
model cannot produce, a model change that needs a restart, a start while running, a sampler
option the model cannot use, such as history guidance on a text model).

What it is not: the protocol, the server, or the loop.
"""

from __future__ import annotations

from livefoley.protocol.errors import ConfigError, SessionError

from .config import SAMPLER_OPTIONS
from .deadline import degrade_ladder
from .layout import check_layout, model_format

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
            # The first session's format; `sessions_audio` has every session's (they may differ).
            "audio": {"sample_rate_hz": m.sample_rate_hz, "channels": self.sessions[0].channels,
                      "channel_layout": self.sessions[0].output.layout, "block_frames": m.hop_samples},
            "sessions_audio": [{"name": s.name, "channels": s.channels, "channel_layout": s.output.layout}
                               for s in self.sessions],
            "model_output": model_format(m.channels),
            "capabilities": ["lockstep" if self.config.lockstep else "live", "batch", "deadline-degrade"]
                            + (["cuda-frames"] if self.gpu is not None else [])
                            + (["head-tracking"] if model_format(m.channels) == "foa" else [])
                            + (["prompt"] if self.prompts.text_dim > 0 else []),
            "version": VERSION,
            "sessions": [s.name for s in self.sessions],
        }

    def configure(self, settings: dict) -> dict:
        """Check every key, then apply them all: a refused request changes nothing.

        A prompt is the exception, applied last: a refused prompt is reported in the reply
        (`prompt_state`), not raised, and the other keys stand.

        Raises:
            ConfigError: the first key the runtime refuses (a model change, a channel layout
                the model or a session cannot carry, a sampler option the model cannot use,
                a quality the generator cannot run, a target latency that does not fit a ring).
        """
        # -- check (no side effects) --
        if "model" in settings and settings["model"] != self.choice.spec:
            raise ConfigError(f"configure model: expected {self.choice.spec!r} (restart the sidecar to change models), "
                              f"found {settings['model']!r}")
        layout = settings.get("channel_layout")
        if layout is not None:
            for s in self.sessions:
                check_layout(layout, model_channels=self.model.channels, session_channels=s.session.params.channels,
                             where=f"configure channel_layout (session {s.name})")
        extras = {key: settings[key] for key in SAMPLER_OPTIONS if key in settings}
        if extras:
            self.model.check_sampler_options(extras)
        changes = {key: settings[key] for key in ("nfe", "guidance_scale", "seed", "target_latency_ms") if key in settings}
        if extras:
            changes["sampler_options"] = {**self.config.sampler_options, **extras}
        config = self.config.replace(**changes) if changes else self.config
        if "target_latency_ms" in changes:
            self._target_fill_frames(config)
        quality_changed = "nfe" in changes or "guidance_scale" in changes
        if quality_changed:
            for level in degrade_ladder(config.nfe, config.guidance_scale):
                self.model.check_level(level)
        # -- apply (nothing below refuses) --
        if "gain" in settings:
            self.gain = float(settings["gain"])
        if layout is not None:
            for s in self.sessions:
                if s.output.layout != layout:
                    s.output = s.output.with_layout(layout)
        if extras:  # may restart the streams (history guidance on or off)
            self.model.set_sampler_options(extras)
        self.config = config
        if "target_latency_ms" in changes:
            self._build_schedulers()
        if quality_changed:
            self._build_governor()
        if "seed" in changes:
            self.model.generator.seed = int(changes["seed"])  # used from the next reset on
        out = self.current_config()
        if "prompt" in settings:
            reply = self.prompts.request(settings["prompt"])
            out.update(prompt=reply["prompt"], prompt_state=reply["state"], prompt_reason=reply["reason"])
        return out

    def current_config(self) -> dict:
        return {"model": self.choice.spec, "nfe": self.config.nfe, "guidance_scale": self.config.guidance_scale,
                "seed": self.config.seed, "gain": self.gain,
                "target_latency_ms": self.target_fill_frames * 1000 / self.model.sample_rate_hz,
                "channel_layout": self.sessions[0].output.layout, "prompt": self.prompts.text,
                "lockstep": self.config.lockstep, **self.model.sampler_state()}

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
            s.output.reset()
        return {"state": "running" if self.running else "idle", "reset": True}

    def prompt(self, text: str, session: str | None = None) -> dict:
        """Reply {"prompt", "session", "applied", "state": applied|pending|refused|superseded,
        "reason", "request_id"} (prompt.py); `session` None: every session of this sidecar."""
        return self.prompts.request(text, session)

    def shutdown(self) -> dict:
        self.request_stop("shutdown requested over control")
        return {"state": "stopping"}
