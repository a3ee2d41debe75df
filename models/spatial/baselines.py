"""Spatial evaluation on generated scenes: DoA metrics for a candidate and the baselines.

Baselines named by issue 9, each built from the scene's own mono mix (W) so they carry the
right sounds at the right times and differ only in direction:

* omni           - W only (X = Y = Z = 0): no direction at all; every segment is invalid.
* random         - the mono mix encoded at one random direction per clip.
* stereo_upmix   - the ground truth through the stereo path (cardioids at +/-90 deg) and
                   back up to FOA with left/right as point sources at +/-90 deg, i.e. what a
                   stereo model up-mixed can at best convey.
* ground_truth   - the scene's own FOA (the metric's ceiling, not a model).

This module scores; it does not generate audio with a model (the caller passes its FOA).
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from livefoley.protocol.errors import ConfigError

from .doa import DoaConfig, analyse_doa, clip_doa_error
from .foa import encode_mono, omni_upmix, stereo_downmix, stereo_upmix
from .metrics import localisation_metrics, track_detections, track_error
from .scene import Scene

log = logging.getLogger(__name__)

BASELINES = ("ground_truth", "omni", "random", "stereo_upmix")


def baseline_foa(scene: Scene, name: str, rng: np.random.Generator) -> np.ndarray:
    """(4, samples) FOA of a named baseline for a scene."""
    mono = scene.foa[0]
    if name == "ground_truth":
        return scene.foa
    if name == "omni":
        return omni_upmix(mono)
    if name == "random":
        v = rng.standard_normal(3)
        return encode_mono(mono, math.atan2(v[1], v[0]), math.atan2(v[2], math.hypot(v[0], v[1])))
    if name == "stereo_upmix":
        return stereo_upmix(stereo_downmix(scene.foa))
    raise ConfigError(f"baseline_foa: expected one of {BASELINES}, found {name!r}")


@dataclasses.dataclass(frozen=True)
class SpatialScores:
    """DoA scores of one system over a set of scenes."""

    le_deg: float  # DCASE LE over matched segments
    lr: float  # localisation recall
    f_20: float
    recall_20: float
    mean_error_deg: float  # dominant-source frame-wise error (single-source scenes count fully)
    clip_angle_rad: float  # SwanSphere-style broadband per-clip error, mean over clips


def score_scenes(scenes: list[Scene], foas: list[np.ndarray], config: DoaConfig = DoaConfig()) -> SpatialScores:
    """Score candidate FOA clips against their scenes' ground truth."""
    preds, refs, errs, clip = [], [], [], []
    for sc, foa in zip(scenes, foas):
        track = analyse_doa(foa, config)
        preds += track_detections(track)
        refs += sc.reference_segments(config.segment_frames * config.hop_samples / config.sample_rate_hz)
        if len(sc.sources) == 1:
            truth = sc.directions_at(track.times_s)[0]
            e = track_error(track, truth[:, 0], truth[:, 1], sc.segment_activity()[0])
            if e.n_segments:
                errs.append(e.mean_deg)
        clip.append(clip_doa_error(foa, sc.foa).angle_rad)
    m = localisation_metrics(preds, refs)
    return SpatialScores(m.le_deg, m.lr, m.f_20, m.recall_20,
                         float(np.mean(errs)) if errs else float("nan"), float(np.mean(clip)))


def evaluate_baselines(scenes: list[Scene], seed: int = 0) -> dict[str, SpatialScores]:
    """Scores of every baseline over the same scenes."""
    rng = np.random.default_rng(seed)
    return {name: score_scenes(scenes, [baseline_foa(s, name, rng) for s in scenes]) for name in BASELINES}


__all__ = ["BASELINES", "baseline_foa", "SpatialScores", "score_scenes", "evaluate_baselines"]
