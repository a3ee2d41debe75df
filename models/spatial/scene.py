"""Procedural 3-D audio-visual scenes with known ground truth (deterministic from a seed).

A scene is 1-3 sound sources moving on the sphere around the listener. Each source has a
class (sounds.SOUND_CLASSES, or caller-supplied game audio), a trajectory (constant azimuth
rate; elevation that reflects between limits), a shape and colour. From these facts the
generator derives, with no learned component:

* FOA audio at 48 kHz (AmbiX): each source signal encoded per sample at its true direction;
* equirectangular RGB uint8 frames at the video rate, each source drawn where it is
  (bright while it sounds, dim while silent);
* per-segment ground truth (directions of the sources that sound) for DoA evaluation;
* a caption written from the same facts ("a door slams behind, to the left").

This module generates data; training on it is the training pipeline's job.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math

import numpy as np

from livefoley.protocol.errors import ConfigError

from .equirect import SHAPES, background, equirect_directions, shape_mask
from .foa import encode_mono
from .sounds import CLASS_PHRASES, SOUND_CLASSES, synthesize

log = logging.getLogger(__name__)

CLASS_COLOURS: dict[str, tuple[int, int, int]] = {
    "door_slam": (200, 120, 40), "footsteps": (60, 200, 80), "gunshot": (230, 40, 40),
    "engine_hum": (240, 220, 40), "bell": (80, 120, 250),
}
CLASS_SHAPES: dict[str, str] = {
    "door_slam": "square", "footsteps": "diamond", "gunshot": "cross", "engine_hum": "disk", "bell": "ring",
}


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """Scene generator settings."""

    duration_s: float = 4.0
    sample_rate_hz: int = 48000
    fps: float = 30.0
    frame_width: int = 256
    frame_height: int = 128
    min_sources: int = 1
    max_sources: int = 3
    classes: tuple[str, ...] = SOUND_CLASSES
    max_speed_deg_s: float = 45.0  # azimuth speed limit
    elevation_range_deg: tuple[float, float] = (-40.0, 60.0)
    size_range_deg: tuple[float, float] = (9.0, 15.0)
    activity_threshold_db: float = -30.0  # a source sounds in a segment above peak - this
    segment_s: float = 0.1
    ambience_db: float | None = None  # diffuse noise bed RMS re 0.5 full scale; None = none

    def __post_init__(self) -> None:
        bad = [c for c in self.classes if c not in SOUND_CLASSES]
        if bad:
            raise ConfigError(f"SceneConfig.classes: expected labels from {SOUND_CLASSES}, found {bad}")
        if not 1 <= self.min_sources <= self.max_sources:
            raise ConfigError(f"SceneConfig: expected 1 <= min_sources <= max_sources, "
                              f"found {self.min_sources}, {self.max_sources}")

    @property
    def num_samples(self) -> int:
        """Audio length in samples."""
        return int(round(self.duration_s * self.sample_rate_hz))

    @property
    def num_frames(self) -> int:
        """Video length in frames."""
        return int(math.floor(self.duration_s * self.fps))


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """One moving source: what it is, where it starts, how it moves, how it looks."""

    label: str
    azimuth0_rad: float
    elevation0_rad: float
    azimuth_rate_rad_s: float
    elevation_rate_rad_s: float
    size_rad: float
    shape: str
    colour: tuple[int, int, int]

    def direction_at(self, t_s: np.ndarray, el_lo_rad: float, el_hi_rad: float) -> tuple[np.ndarray, np.ndarray]:
        """(azimuth_rad wrapped to (-pi, pi], elevation_rad) at times `t_s`."""
        t = np.asarray(t_s, dtype=np.float64)
        az = self.azimuth0_rad + self.azimuth_rate_rad_s * t
        az = -((-az + np.pi) % (2 * np.pi) - np.pi)
        span = el_hi_rad - el_lo_rad
        e = (self.elevation0_rad - el_lo_rad + self.elevation_rate_rad_s * t) % (2 * span)
        el = el_lo_rad + np.where(e <= span, e, 2 * span - e)  # reflect between the limits
        return az, el


@dataclasses.dataclass(frozen=True)
class Scene:
    """A generated clip and every fact it was generated from."""

    seed: int
    config: SceneConfig
    sources: tuple[SourceSpec, ...]
    signals: tuple[np.ndarray, ...]  # mono per source, (samples,)
    foa: np.ndarray  # (4, samples) float32 AmbiX
    caption: str

    def _el_limits(self) -> tuple[float, float]:
        lo, hi = self.config.elevation_range_deg
        return math.radians(lo), math.radians(hi)

    def directions_at(self, t_s: np.ndarray) -> np.ndarray:
        """(sources, len(t), 2) true (azimuth_rad, elevation_rad) at times `t_s`."""
        lo, hi = self._el_limits()
        return np.stack([np.stack(s.direction_at(t_s, lo, hi), -1) for s in self.sources])

    def segment_activity(self, segment_s: float | None = None) -> np.ndarray:
        """(sources, segments) bool: the source's segment energy is within the threshold of its peak."""
        seg = int(round((segment_s or self.config.segment_s) * self.config.sample_rate_hz))
        n_seg = int(math.ceil(self.config.num_samples / seg))
        act = np.zeros((len(self.signals), n_seg), dtype=bool)
        for k, s in enumerate(self.signals):
            p = np.pad(s.astype(np.float64) ** 2, (0, n_seg * seg - s.size)).reshape(n_seg, seg).sum(1)
            db = 10 * np.log10(np.maximum(p, 1e-20) / max(float(p.max()), 1e-20))
            act[k] = db >= self.config.activity_threshold_db
        return act

    def segment_times(self, segment_s: float | None = None) -> np.ndarray:
        """Centres (s) of the analysis segments."""
        seg = segment_s or self.config.segment_s
        n_seg = int(math.ceil(self.config.num_samples / round(seg * self.config.sample_rate_hz)))
        return (np.arange(n_seg) + 0.5) * seg

    def reference_segments(self, segment_s: float | None = None) -> list[np.ndarray]:
        """Per segment, (k, 2) directions of the sources that sound in it (for metrics.py)."""
        act = self.segment_activity(segment_s)
        dirs = self.directions_at(self.segment_times(segment_s))  # (S, segs, 2)
        return [dirs[act[:, i], i] for i in range(act.shape[1])]

    @functools.cached_property
    def _default_activity(self) -> np.ndarray:
        return self.segment_activity()

    def render_frame(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 equirectangular frame `index` (time index / fps)."""
        cfg = self.config
        if not 0 <= index < cfg.num_frames:
            raise ConfigError(f"render_frame: expected index in [0, {cfg.num_frames}), found {index}")
        t = index / cfg.fps
        img = background(cfg.frame_width, cfg.frame_height)
        dirs = equirect_directions(cfg.frame_width, cfg.frame_height)
        activity = self._default_activity  # (sources, segments)
        active = activity[:, min(int(t / cfg.segment_s), activity.shape[1] - 1)]
        # Draw far-to-near is meaningless on a sphere; draw larger shapes first so small ones stay visible.
        for k in np.argsort([-s.size_rad for s in self.sources]):
            s = self.sources[k]
            az, el = self.directions_at(np.array([t]))[k, 0]
            mask = shape_mask(dirs, az, el, s.size_rad, s.shape)
            colour = np.array(s.colour) / 255.0 * (1.0 if active[k] else 0.45)
            img[mask] = colour
        return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)

    def frames(self) -> np.ndarray:
        """(T, H, W, 3) uint8: every frame of the clip."""
        return np.stack([self.render_frame(i) for i in range(self.config.num_frames)])


def describe_direction(azimuth_rad: float, elevation_rad: float) -> str:
    """Words for a direction: 'in front', 'behind, to the left', 'to the right, above', ..."""
    a = math.degrees(azimuth_rad)
    a = (a + 180) % 360 - 180
    side = "to the left" if a > 0 else "to the right"
    if abs(a) < 30:
        words = "in front"
    elif abs(a) > 150:
        words = "behind"
    elif abs(a) < 60:
        words = f"in front, {side}"
    elif abs(a) > 120:
        words = f"behind, {side}"
    else:
        words = side
    e = math.degrees(elevation_rad)
    if e > 30:
        words += ", above"
    elif e < -25:
        words += ", below"
    return words


def _side_word(azimuth_rad: float) -> str:
    a = (math.degrees(azimuth_rad) + 180) % 360 - 180
    return "the front" if abs(a) < 45 else "the back" if abs(a) > 135 else ("the left" if a > 0 else "the right")


def write_caption(scene_sources: tuple[SourceSpec, ...], dirs_at_peak: list[tuple[float, float]],
                  onsets_s: list[float], travel: list[tuple[float, float]]) -> str:
    """Caption from scene facts, sources ordered by onset; names motion above 60 deg of travel."""
    parts = []
    for i in np.argsort(onsets_s):
        s = scene_sources[i]
        phrase = CLASS_PHRASES.get(s.label, f"a {s.label.replace('_', ' ')} sounds")
        text = f"{phrase} {describe_direction(*dirs_at_peak[i])}"
        start_az, end_az = travel[i]
        swept = abs(math.degrees(end_az - start_az))
        if swept > 60 and _side_word(start_az) != _side_word(end_az):
            text += f", moving from {_side_word(start_az)} to {_side_word(end_az)}"
        parts.append(text)
    body = parts[0] if len(parts) == 1 else ", while ".join(parts[:1] + [", then ".join(parts[1:])])
    return body[0].upper() + body[1:] + "."


def diffuse_ambience(num_samples: int, rng: np.random.Generator, *, level_db: float,
                     sample_rate_hz: int = 48000) -> np.ndarray:
    """(4, N) AmbiX diffuse bed: 12 incoherent band-passed noises from the icosahedron's vertices.

    The icosahedron is a spherical 5-design, so the 12 directions' dipole sums vanish and the
    intensity averages to ~0 (diffuseness ~1). W's RMS is 0.5 * 10^(level_db / 20).
    """
    from scipy.signal import butter, sosfilt

    g = (1 + math.sqrt(5)) / 2
    verts = np.array([(0, s1, s2 * g) for s1 in (-1, 1) for s2 in (-1, 1)]
                     + [(s1, s2 * g, 0) for s1 in (-1, 1) for s2 in (-1, 1)]
                     + [(s2 * g, 0, s1) for s1 in (-1, 1) for s2 in (-1, 1)], dtype=np.float64)
    verts /= np.linalg.norm(verts, axis=1, keepdims=True)
    sos = butter(2, [200, min(8000, 0.45 * sample_rate_hz)], btype="band", fs=sample_rate_hz, output="sos")
    bed = np.zeros((4, num_samples), np.float32)
    for v in verts:
        noise = sosfilt(sos, rng.standard_normal(num_samples)).astype(np.float32)
        bed += encode_mono(noise, math.atan2(v[1], v[0]), math.asin(v[2]))
    rms = float(np.sqrt(np.mean(bed[0].astype(np.float64) ** 2)))
    return (bed * (0.5 * 10 ** (level_db / 20) / max(rms, 1e-12))).astype(np.float32)


def generate_scene(seed: int, config: SceneConfig = SceneConfig(), *,
                   extra_sources: tuple[tuple[str, np.ndarray], ...] = ()) -> Scene:
    """Generate one scene; the same seed and config always give the same scene.

    Args:
        seed: the only source of randomness.
        config: sizes, rates and ranges.
        extra_sources: (label, mono signal at config.sample_rate_hz) pairs of caller-supplied
            game audio, placed as additional moving sources (trimmed or zero-padded).

    Returns:
        Scene with audio, trajectories and caption (frames render on demand).
    """
    rng = np.random.default_rng(seed)
    cfg = config
    n_src = int(rng.integers(cfg.min_sources, cfg.max_sources + 1))
    labels = [str(x) for x in rng.choice(cfg.classes, size=n_src, replace=n_src > len(cfg.classes))]
    labels += [lab for lab, _ in extra_sources]
    lo, hi = (math.radians(x) for x in cfg.elevation_range_deg)
    specs, signals = [], []
    for k, label in enumerate(labels):
        speed = math.radians(cfg.max_speed_deg_s) * rng.uniform(-1, 1)
        colour = CLASS_COLOURS.get(label, tuple(int(c) for c in rng.integers(40, 255, 3)))
        shape = CLASS_SHAPES.get(label, SHAPES[k % len(SHAPES)])
        specs.append(SourceSpec(label, rng.uniform(-math.pi, math.pi), rng.uniform(lo, hi), speed,
                                speed * rng.uniform(-0.3, 0.3), math.radians(rng.uniform(*cfg.size_range_deg)),
                                shape, colour))
        if k < n_src:
            sig = synthesize(label, cfg.duration_s, rng, sample_rate_hz=cfg.sample_rate_hz)
        else:
            raw = np.asarray(extra_sources[k - n_src][1], dtype=np.float32)
            sig = np.zeros(cfg.num_samples, np.float32)
            sig[: min(raw.size, sig.size)] = raw[: sig.size]
        signals.append(sig)
    t = np.arange(cfg.num_samples) / cfg.sample_rate_hz
    foa = np.zeros((4, cfg.num_samples), np.float32)
    peaks, onsets, travel = [], [], []
    for spec, sig in zip(specs, signals):
        az, el = spec.direction_at(t, lo, hi)
        foa += encode_mono(sig, az, el)
        env = np.abs(sig)
        loud = np.flatnonzero(env >= 0.1 * max(float(env.max()), 1e-12))
        first, last = (int(loud[0]), int(loud[-1])) if loud.size else (0, sig.size - 1)
        peak = int(np.argmax(env))
        peaks.append((float(az[peak]), float(el[peak])))
        onsets.append(first / cfg.sample_rate_hz)
        travel.append((spec.azimuth0_rad + spec.azimuth_rate_rad_s * t[first],
                       spec.azimuth0_rad + spec.azimuth_rate_rad_s * t[last]))
    if cfg.ambience_db is not None:
        foa += diffuse_ambience(cfg.num_samples, rng, level_db=cfg.ambience_db, sample_rate_hz=cfg.sample_rate_hz)
    caption = write_caption(tuple(specs), peaks, onsets, travel)
    return Scene(seed, cfg, tuple(specs), tuple(signals), foa, caption)


__all__ = [
    "CLASS_COLOURS",
    "CLASS_SHAPES",
    "SceneConfig",
    "SourceSpec",
    "Scene",
    "describe_direction",
    "diffuse_ambience",
    "write_caption",
    "generate_scene",
]
