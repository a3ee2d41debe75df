"""Baselines the model must beat, computed in the same evaluation run.

What it is:
- `silence`: zeros of the real clip's shape (a floor for every quality metric).
- `shuffled_audio`: the real audio of a different held-out episode (real game sound, wrong
  moment), or, with one episode only, the same episode rotated by half its length.
- `NearestNeighbourRetrieval`: for each latent tick, the audio hop of the training tick whose
  vision feature is nearest (L2 after per-dimension standardisation), preferring to continue
  the previously retrieved run when that is nearly as near, with a 5 ms crossfade at seams
  (without both, the seams alone read as onsets 30 times a second). Frames go through the
  same newest-frame-at-each-tick rule as the model. The feature is a callable, so the default
  (`thumbnail_motion_features`) can be swapped for the model's own vision encoder.

What it is not: a model. These are reference points.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch

from livefoley.models.data.shards import Shard
from livefoley.models.data.timing import frame_indices_for_ticks, frame_timestamps_ns
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

FeatureFn = Callable[[np.ndarray], np.ndarray]  # (T, H, W, 3) uint8 -> (T, D) float


def silence(real: np.ndarray) -> np.ndarray:
    """Zeros shaped like `real`."""
    return np.zeros_like(np.asarray(real, dtype=np.float32))


def shuffled_audio(episodes: Sequence[np.ndarray], index: int) -> np.ndarray:
    """Real audio of another episode for episode `index`, trimmed or tiled to its length.

    Raises:
        ConfigError: no episodes.
    """
    if not episodes:
        raise ConfigError("shuffled baseline: expected at least one episode, found none")
    n = len(episodes[index])
    if len(episodes) == 1:
        return np.roll(np.asarray(episodes[index], np.float32), n // 2, axis=0)
    other = np.asarray(episodes[(index + 1) % len(episodes)], np.float32)
    reps = -(-n // len(other))
    return np.concatenate([other] * reps)[:n]


def thumbnail_motion_features(frames: np.ndarray, size: tuple[int, int] = (12, 16)) -> np.ndarray:
    """Grey 12x16 thumbnails and their change from the previous frame: (T, 2 * 192).

    Motion (the muzzle flash, a door sliding, a monster stepping in) is what sounds, so the
    difference half carries most of what retrieval can match on.
    """
    x = torch.from_numpy(np.ascontiguousarray(frames)).float()  # (T, H, W, 3)
    grey = x.mean(dim=3, keepdim=True).permute(0, 3, 1, 2) / 255.0  # (T, 1, H, W)
    thumb = torch.nn.functional.adaptive_avg_pool2d(grey, size).flatten(1)  # (T, h*w)
    diff = torch.cat([torch.zeros_like(thumb[:1]), thumb[1:] - thumb[:-1]])
    return torch.cat([thumb, 4.0 * diff], dim=1).numpy()


class NearestNeighbourRetrieval:
    """Retrieve training audio, one latent hop at a time, by nearest vision feature.

    Args:
        feature_fn: (T, H, W, 3) uint8 frames in tick order -> (T, D) features.
        hop_samples: audio samples per latent tick.
        sample_rate_hz: the shards' audio rate.

    Thread-safety: `fit` once, then `generate` from one thread.
    """

    def __init__(self, feature_fn: FeatureFn = thumbnail_motion_features, *,
                 hop_samples: int = 1600, sample_rate_hz: int = 48000,
                 continue_ratio: float = 1.5, fade_samples: int = 240) -> None:
        self.feature_fn = feature_fn
        self.continue_ratio = continue_ratio
        self.fade_samples = fade_samples
        self.hop = hop_samples
        self.sample_rate_hz = sample_rate_hz
        self.rate_hz = sample_rate_hz / hop_samples
        self._shards: list[Shard] = []
        self._feats: np.ndarray | None = None
        self._where: np.ndarray | None = None  # (N, 2): shard, tick

    def fit(self, shards: Sequence[Shard]) -> NearestNeighbourRetrieval:
        """Index every latent tick of `shards` (audio stays memory-mapped).

        Raises:
            ConfigError: no shards, or a shard at another sample rate.
        """
        if not shards:
            raise ConfigError("nearest-neighbour baseline: expected training shards, found none")
        feats, where = [], []
        for s, shard in enumerate(shards):
            if shard.sample_rate_hz != self.sample_rate_hz:
                raise ConfigError(f"nearest-neighbour baseline: expected {self.sample_rate_hz} Hz "
                                  f"shards, found {shard.sample_rate_hz} Hz in {shard.name}")
            n_ticks = shard.audio.shape[0] // self.hop
            idx = frame_indices_for_ticks(shard.timestamps_ns, n_ticks, latent_rate_hz=self.rate_hz)
            feats.append(self.feature_fn(np.asarray(shard.frames[idx])))
            where.append(np.stack([np.full(n_ticks, s), np.arange(n_ticks)], axis=1))
        f = np.concatenate(feats).astype(np.float32)
        self._mean, self._std = f.mean(0), f.std(0) + 1e-6
        self._feats = (f - self._mean) / self._std
        self._sq = np.sum(self._feats ** 2, axis=1)
        self._where = np.concatenate(where)
        self._shards = list(shards)
        log.info("nearest-neighbour baseline: %d training ticks from %d shards",
                 len(self._where), len(shards))
        return self

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Squared L2 distance (standardised) from each feature row to every fitted tick."""
        if self._feats is None:
            raise ConfigError("nearest-neighbour baseline: expected fit() before use, found none")
        q = (np.asarray(features, np.float32) - self._mean) / self._std
        d = self._sq[None, :] - 2.0 * q @ self._feats.T + np.sum(q * q, axis=1, keepdims=True)
        return np.maximum(d, 0.0)

    def nearest(self, features: np.ndarray) -> np.ndarray:
        """Fitted tick chosen for each feature row: the nearest, unless the continuation of
        the previous choice (the next tick of the same training run) is within
        `continue_ratio` of it. Without that preference every hop jumps to another recording
        and the seams alone read as onsets 30 times a second."""
        out = np.empty(len(features), np.int64)
        prev = -1
        for a in range(0, len(features), 256):
            d = self.distances(features[a:a + 256])
            for i, row in enumerate(d):
                best = int(np.argmin(row))
                nxt = prev + 1
                if (prev >= 0 and nxt < len(self._where)
                        and self._where[nxt, 0] == self._where[prev, 0]
                        and row[nxt] <= self.continue_ratio * row[best] + 1e-6):
                    best = nxt
                out[a + i] = prev = best
        return out

    def generate(self, frames: np.ndarray, fps: float) -> np.ndarray:
        """Audio for frames at `fps`: (n_ticks * hop, 2) float32, n_ticks = duration * rate.

        Where consecutive hops come from different places, the new hop fades in over
        `fade_samples` while the old source's continuation fades out (no click at the seam).
        """
        n_ticks = int(len(frames) / fps * self.rate_hz)
        ts = frame_timestamps_ns(len(frames), fps)
        idx = frame_indices_for_ticks(ts, n_ticks, latent_rate_hz=self.rate_hz)
        nn = self.nearest(self.feature_fn(np.asarray(frames)[idx]))
        hop, fade = self.hop, self.fade_samples
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)[:, None]
        out = np.zeros((n_ticks * hop, 2), np.float32)
        for j, k in enumerate(nn):
            s, t = self._where[k]
            audio = self._shards[s].audio
            block = np.array(audio[t * hop:(t + 1) * hop], np.float32)
            if j > 0 and k != nn[j - 1] + 1:
                ps, pt = self._where[nn[j - 1]]
                tail = np.asarray(self._shards[ps].audio[(pt + 1) * hop:(pt + 1) * hop + fade])
                if len(tail) == fade:
                    block[:fade] = ramp * block[:fade] + (1.0 - ramp) * tail
            out[j * hop:(j + 1) * hop] = block
        return out
