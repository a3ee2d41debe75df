"""DCASE-style localisation metrics for class-agnostic direction detections.

After sharathadavanne/seld-dcase2022:SELD_evaluation_metrics.py (Mesaros et al. WASPAA 2019;
Politis et al. TASLP 2020), reduced to one class: per segment, predictions and references
(sets of directions) are matched by the Hungarian algorithm on great-circle distance.

* LE   - mean great-circle error (deg) over matched pairs (DCASE LE_CD).
* LR   - localisation recall: matched references / all references (DCASE LR_CD).
* recall_20, precision_20, F_20 - a match counts as a true positive only within 20 deg.
* ER_20 - segment-based error rate (S + D + I) / N with the same 20 deg rule.

Directions are (azimuth_rad, elevation_rad) pairs. This module does not estimate directions
(doa.py does); it scores them.

Contract of every function here unless its docstring says otherwise: Thread-safety: pure
function. Real-time safe: no (allocates).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from livefoley.protocol.errors import ConfigError

from .doa import DoaTrack, great_circle_deg

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LocalisationMetrics:
    """Class-agnostic SELD-style scores over a set of segments."""

    le_deg: float  # mean error of matched pairs (nan when nothing matched)
    lr: float  # localisation recall
    recall_20: float
    precision_20: float
    f_20: float
    er_20: float
    n_reference: int
    n_predicted: int
    n_matched: int

    def to_dict(self) -> dict:
        """Plain dict for JSON reports."""
        return dataclasses.asdict(self)


def _as_dirs(x, where: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1, 2) if np.size(x) else np.zeros((0, 2))
    if a.ndim != 2 or a.shape[1] != 2:
        raise ConfigError(f"{where}: expected (k, 2) (azimuth_rad, elevation_rad), found {np.shape(x)}")
    return a


def localisation_metrics(predicted: Sequence, reference: Sequence, *,
                         threshold_deg: float = 20.0) -> LocalisationMetrics:
    """Score per-segment direction sets.

    Args:
        predicted: per segment, an array (k, 2) of (azimuth_rad, elevation_rad); k may be 0.
        reference: per segment, the ground-truth directions in the same form.
        threshold_deg: the spatial threshold of a true positive.

    Returns:
        LocalisationMetrics.

    Raises:
        ConfigError: the two sequences have different lengths.
    """
    if len(predicted) != len(reference):
        raise ConfigError(f"localisation_metrics: expected as many predicted as reference segments, "
                          f"found {len(predicted)} predicted and {len(reference)} reference")
    errors: list[float] = []
    n_ref = n_pred = tp = 0
    subs = dels = ins = 0
    for i, (p, r) in enumerate(zip(predicted, reference)):
        p = _as_dirs(p, f"predicted[{i}]")
        r = _as_dirs(r, f"reference[{i}]")
        n_ref += len(r)
        n_pred += len(p)
        seg_tp = 0
        if len(p) and len(r):
            d = great_circle_deg(p[:, None, 0], p[:, None, 1], r[None, :, 0], r[None, :, 1])
            rows, cols = linear_sum_assignment(d)
            matched = d[rows, cols]
            errors.extend(matched.tolist())
            seg_tp = int((matched <= threshold_deg).sum())
        tp += seg_tp
        fn, fp = len(r) - seg_tp, len(p) - seg_tp
        subs += min(fn, fp)
        dels += max(0, fn - fp)
        ins += max(0, fp - fn)
    recall = tp / n_ref if n_ref else float("nan")
    precision = tp / n_pred if n_pred else float("nan")
    f = 2 * precision * recall / (precision + recall) if n_ref and n_pred and tp else 0.0
    return LocalisationMetrics(
        le_deg=float(np.mean(errors)) if errors else float("nan"),
        lr=len(errors) / n_ref if n_ref else float("nan"),
        recall_20=recall,
        precision_20=precision,
        f_20=float(f),
        er_20=(subs + dels + ins) / n_ref if n_ref else float("nan"),
        n_reference=n_ref,
        n_predicted=n_pred,
        n_matched=len(errors),
    )


def track_detections(track: DoaTrack) -> list[np.ndarray]:
    """One detection per valid segment of a DoA track, none for diffuse or silent segments."""
    return [np.array([[a, e]]) if v else np.zeros((0, 2))
            for a, e, v in zip(track.azimuth_rad, track.elevation_rad, track.valid)]


@dataclasses.dataclass(frozen=True)
class TrackError:
    """Error statistics of a DoA track against a single reference direction per segment."""

    mean_deg: float
    median_deg: float
    p90_deg: float
    within_20: float  # fraction of compared segments within 20 deg
    n_segments: int  # segments compared (valid in both)


def track_error(track: DoaTrack, ref_azimuth_rad: np.ndarray, ref_elevation_rad: np.ndarray,
                ref_active: np.ndarray | None = None) -> TrackError:
    """Great-circle error of a track's valid segments against per-segment reference directions."""
    ref_az = np.asarray(ref_azimuth_rad, dtype=np.float64)
    if ref_az.shape != track.azimuth_rad.shape:
        raise ConfigError(f"track_error: expected {track.azimuth_rad.shape[0]} reference segments, "
                          f"found {ref_az.shape}")
    mask = track.valid.copy()
    if ref_active is not None:
        mask &= np.asarray(ref_active, dtype=bool)
    if not mask.any():
        return TrackError(float("nan"), float("nan"), float("nan"), 0.0, 0)
    err = great_circle_deg(track.azimuth_rad[mask], track.elevation_rad[mask], ref_az[mask],
                           np.asarray(ref_elevation_rad, dtype=np.float64)[mask])
    return TrackError(float(err.mean()), float(np.median(err)), float(np.percentile(err, 90)),
                      float((err <= 20.0).mean()), int(mask.sum()))


__all__ = ["LocalisationMetrics", "localisation_metrics", "track_detections", "TrackError", "track_error"]
