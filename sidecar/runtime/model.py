"""The model as the runtime sees it: load, warm up, prepare, step, set quality, reset.

What it is: a thin adapter over `livefoley.models` (`load_model`, `StreamingGenerator`) that
adds what serving needs and the generator does not: which weights "default" means, a warm-up
that pays for allocation and first-call costs before the first real step, per-stage timings
in one place, and a quality level from the deadline governor. What it is not: any network
code; nothing here touches a tensor except to pass it through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livefoley.protocol.errors import CheckpointError, ConfigError

from .config import SAMPLER_OPTIONS
from .deadline import QualityLevel

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WEIGHTS = (  # where the training issue ships the default checkpoint, first match wins
    REPO_ROOT / "models" / "weights" / "default.safetensors",
    REPO_ROOT / "models" / "weights" / "default",
    REPO_ROOT / "checkpoints" / "default.safetensors",
)
PRESETS = ("tiny", "sr", "spatial_tiny")  # fallback; the models package's PRESET_NAMES win


def preset_names() -> tuple[str, ...]:
    """Preset names `load_model` knows (imports the models package, hence torch)."""
    try:
        from livefoley.models import PRESET_NAMES
    except ImportError:
        return PRESETS
    return tuple(PRESET_NAMES)
_FORMAT_NAMES = {1: "RGBA8", 2: "BGRA8", 3: "RGB8"}  # livefoley.protocol.PixelFormat values


@dataclass(frozen=True)
class ModelChoice:
    """What `--model` resolved to, and whether it is trained (the demo says so plainly)."""

    spec: str  # what load_model receives: a preset name or a path
    trained: bool  # False for a preset with random weights
    description: str


def resolve_model(spec: str | None) -> ModelChoice:
    """Turn `--model` into something `load_model` takes.

    `None` or "default" means the bundled default checkpoint when it exists, else the
    `tiny` preset with random weights. A preset name means random weights. Anything else is
    a path that must exist.

    Raises:
        CheckpointError: a path that does not exist.
    """
    if spec in (None, "", "default"):
        for path in DEFAULT_WEIGHTS:
            if path.exists():
                return ModelChoice(str(path), True, f"bundled default model {path.relative_to(REPO_ROOT)}")
        return ModelChoice("tiny", False, "tiny config with RANDOM weights (no trained default model "
                                          f"found at {DEFAULT_WEIGHTS[0].relative_to(REPO_ROOT)})")
    presets = preset_names()
    if spec in presets:
        return ModelChoice(spec, False, f"{spec} config with RANDOM weights")
    path = Path(spec)
    if not path.exists():
        raise CheckpointError(f"model {spec!r}: expected a preset ({', '.join(presets)}) or an existing path, found neither")
    return ModelChoice(str(path), True, f"checkpoint {path}")


def recommended_sampling(spec: str | None) -> dict:
    """How `--model spec` is best sampled: {"guidance_scale": w, "nfe": n} as its checkpoint
    records them (chosen on validation data, `livefoley model --set-guidance/--set-nfe`), else
    the generator's defaults (3.0 and 1); plus the noise options the file records, if any
    (the generator reads those from the file itself).

    Raises:
        CheckpointError: a path that does not exist or is not a readable checkpoint.
    """
    from livefoley.models.checkpoint import read_sampling_defaults
    from livefoley.models.generator import DEFAULT_GUIDANCE, DEFAULT_NFE

    choice = resolve_model(spec)
    recorded = read_sampling_defaults(choice.spec) if choice.trained else {}
    return {"guidance_scale": DEFAULT_GUIDANCE, "nfe": DEFAULT_NFE, **recorded}


def sampling_options(spec: str | None, nfe: int | None,
                     guidance_scale: float | None) -> tuple[int, float]:
    """(nfe, guidance_scale): the values the user gave, the rest from `recommended_sampling`
    (the checkpoint is read only when something is unset)."""
    if nfe is None or guidance_scale is None:
        rec = recommended_sampling(spec)
        nfe = rec["nfe"] if nfe is None else nfe
        guidance_scale = rec["guidance_scale"] if guidance_scale is None else guidance_scale
    return int(nfe), float(guidance_scale)


class ModelRunner:
    """One generator for a batch of sessions, with warm-up, timings and quality levels.

    Args:
        choice: from `resolve_model`.
        device: torch device string ("cpu", "cuda", "cuda:1").
        batch_size: sessions stepped together.
        seed: generator seed (with lockstep, output is a function of frames and seed).
        level: initial quality (NFE, guidance).
        sampler_options: overrides of the sampler's extras (`config.SAMPLER_OPTIONS`) over
            what the checkpoint records; the generator checks them (ConfigError by name).

    Thread-safety: one thread (the runtime loop). Real-time safe: no (it runs the network).
    """

    def __init__(self, choice: ModelChoice, *, device: str, batch_size: int, seed: int, level: QualityLevel,
                 sampler_options: Mapping[str, float] | None = None) -> None:
        from livefoley.models import StreamingGenerator, load_model

        self.choice = choice
        self.device = device
        self.batch_size = batch_size
        self.seed = seed
        t0 = time.perf_counter()
        self.model = load_model(choice.spec, device)
        cfg = self.model.config
        self.sample_rate_hz = int(cfg.sample_rate_hz)
        self.hop_samples = int(cfg.hop_samples)
        self.channels = int(cfg.channels)
        self.latent_rate_hz = float(cfg.latent_rate_hz)
        self.generator = StreamingGenerator(self.model, batch_size=batch_size, device=device, seed=seed)
        if sampler_options:  # one path with `configure`: names and values checked alike
            self.set_sampler_options(sampler_options)
        self.level = level
        self._apply_level()
        self.prepared = False
        log.info("model loaded in %.2f s: %s on %s (hop %d at %d Hz, %d ch, batch %d)",
                 time.perf_counter() - t0, choice.description, device, self.hop_samples,
                 self.sample_rate_hz, self.channels, batch_size)

    @property
    def period_ns(self) -> int:
        """One latent period: the real-time budget of one step."""
        return int(round(self.hop_samples * 1e9 / self.sample_rate_hz))

    def set_level(self, level: QualityLevel) -> None:
        self.level = level
        self._apply_level()

    def _apply_level(self) -> None:
        self.generator.set_options(nfe=self.level.nfe, guidance_scale=self.level.guidance_scale)

    def set_sampler_options(self, options: Mapping[str, float]) -> None:
        """Change the sampler's extras from the next step on (`config.SAMPLER_OPTIONS` keys).

        A history-guidance change between 1 and another value adds or removes a row group,
        which restarts every stream (the generator resets; the next step starts afresh).

        Raises:
            ConfigError: an unknown name or a value out of range (named); nothing changes.
        """
        self.check_sampler_options(options)
        self.generator.set_options(**{k: float(v) for k, v in options.items()})
        self.prepared = False  # a reset dropped the prepared audio step (prepare is idempotent)

    def check_sampler_options(self, options: Mapping[str, float]) -> None:
        """Raise what `set_sampler_options` would raise, and change nothing.

        Raises:
            ConfigError: an unknown name or a value out of range or unusable here (named).
        """
        unknown = sorted(set(options) - set(SAMPLER_OPTIONS))
        if unknown:
            raise ConfigError(f"sampler options: expected names from {list(SAMPLER_OPTIONS)}, "
                              f"found {unknown}")
        self.generator.check_options(**{k: float(v) for k, v in options.items()})

    def check_level(self, level: QualityLevel) -> None:
        """Raise what `set_level` would raise for `level` (ConfigError), and change nothing."""
        self.generator.check_options(nfe=level.nfe, guidance_scale=level.guidance_scale)

    def sampler_state(self) -> dict[str, float]:
        """The extras in effect: {noise_correlation, feedback_noise, history_guidance}."""
        return {key: float(getattr(self.generator, key)) for key in SAMPLER_OPTIONS}

    def reset(self) -> None:
        """Drop all streaming state (KV cache, decoder state); the next step starts a stream."""
        self.generator.reset()
        self.prepared = False

    def prepare(self) -> float:
        """Run the previous-audio step ahead of the frame; returns its wall time in ms."""
        t0 = time.perf_counter_ns()
        self.generator.prepare()
        self.prepared = True
        return (time.perf_counter_ns() - t0) / 1e6

    def step(self, frames, pixel_format) -> np.ndarray:
        """One latent for each session from its frame: (B, hop_samples, channels) float32."""
        if not self.prepared:
            self.prepare()
        pcm = self.generator.step(frames, _FORMAT_NAMES.get(int(pixel_format), str(pixel_format)))
        self.prepared = False
        pcm = pcm.detach().cpu().numpy() if hasattr(pcm, "detach") else np.asarray(pcm)
        expect = (self.batch_size, self.hop_samples, self.channels)
        if pcm.shape != expect:
            raise ConfigError(f"generator step: expected PCM of shape {expect}, found {pcm.shape}")
        return pcm.astype(np.float32, copy=False)

    def timings_ms(self) -> dict:
        """Per-stage wall times of the last step, as the generator measured them."""
        return dict(getattr(self.generator, "last_timings_ms", {}) or {})

    def warm_up(self, steps: int, *, height: int, width: int, pixel_format) -> float:
        """Run `steps` steps on blank frames at every quality level, then reset.

        Pays for first-call allocation, kernel selection and lazy initialisation before the
        first real step. Returns the wall time in ms.
        """
        t0 = time.perf_counter()
        channels = 3 if int(pixel_format) == 3 else 4
        blank = np.zeros((self.batch_size, height, width, channels), dtype=np.uint8)
        level = self.level
        for _ in range(max(steps, 0)):
            self.prepare()
            self.step(blank, pixel_format)
        self.set_level(level)
        self.reset()
        ms = (time.perf_counter() - t0) * 1e3
        log.info("warm-up: %d steps in %.0f ms", steps, ms)
        return ms
