"""Training windows from shards: L latent ticks of frames and the audio they voice.

What it is: `WindowDataset`, a map-style torch Dataset over the complete shards of one split.
Item i is a window of `window_latents` consecutive latent ticks of one shard: for each tick the
newest frame at that tick (`timing.frame_indices_for_ticks`, the same rule the live scheduler
follows) and the `window_latents * hop_samples` audio samples that start at the window's first
tick. With `frame_keep_prob < 1` frames are dropped at random before the rule is applied, which
turns Doom's steady 35 fps into the irregular and stalled streams a live game produces, at the
cost of nothing but a different index table. `episode_arrays` gives a whole shard the same way
(for evaluation).

What it is not: a shard writer, and it never decodes video: frames are memory-mapped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from livefoley.models.data.shards import Shard, list_shards, read_shard
from livefoley.models.data.timing import frame_indices_for_ticks
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


def episode_arrays(shard: Shard, *, hop_samples: int = 1600,
                   frame_keep_prob: float = 1.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Return a whole shard on the latent grid.

    Returns:
        {"frame_indices": (J,) int64, "frames": (J, H, W, 3) uint8 (the newest frame per tick),
         "audio": (J * hop_samples, 2) float32}, where J is the number of whole ticks the
         audio holds.

    Thread-safety: pure function of the shard.
    """
    rate = shard.sample_rate_hz / hop_samples
    n_ticks = shard.audio.shape[0] // hop_samples
    idx = _indices(shard.timestamps_ns, 0, n_ticks, rate, frame_keep_prob,
                   np.random.default_rng(seed))
    return {"frame_indices": idx, "frames": np.asarray(shard.frames[idx]),
            "audio": np.asarray(shard.audio[: n_ticks * hop_samples], dtype=np.float32)}


def _indices(ts: np.ndarray, first_tick: int, n_ticks: int, rate: float, keep_prob: float,
             rng: np.random.Generator) -> np.ndarray:
    ts = np.asarray(ts)
    if keep_prob >= 1.0:
        return frame_indices_for_ticks(ts, n_ticks, latent_rate_hz=rate, start_ns=int(ts[0]),
                                       first_tick=first_tick)
    keep = rng.random(ts.shape[0]) < keep_prob
    keep[0] = True  # the first frame always exists, so every tick has a frame
    kept = np.flatnonzero(keep)
    sub = frame_indices_for_ticks(ts[kept], n_ticks, latent_rate_hz=rate, start_ns=int(ts[0]),
                                  first_tick=first_tick)
    return kept[sub]


class WindowDataset(Dataset):
    """Windows of `window_latents` ticks over the complete shards of `split` under `root`.

    Args:
        root: dataset root (holds `shards/`).
        split: "train" or "heldout" (any shard-name prefix).
        window_latents: ticks per window (L).
        hop_samples: audio samples per tick (1600 at 48 kHz gives 30 Hz).
        stride_latents: distance between window starts (default L: no overlap).
        frame_keep_prob: probability that each game frame was published (1.0: all).
        seed: seeds the frame dropping; item i drops the same frames within an epoch
            (`set_epoch` changes the draw).

    Items: {"frames": uint8 (L, H, W, 3), "audio": float32 (2, L * hop), "frame_indices":
    int64 (L,), "shard": int, "start_tick": int}.

    Raises:
        ConfigError: no complete shard of `split`, or shards of a different sample rate.
        ShardError: a damaged shard.

    Thread-safety: each DataLoader worker reopens the memory maps lazily.
    """

    def __init__(self, root: str | Path, split: str = "train", *, window_latents: int = 32,
                 hop_samples: int = 1600, stride_latents: int | None = None,
                 frame_keep_prob: float = 1.0, seed: int = 0) -> None:
        if window_latents < 1 or hop_samples < 1:
            raise ConfigError(f"WindowDataset: expected window_latents and hop_samples >= 1, "
                              f"found {window_latents} and {hop_samples}")
        if not 0.0 < frame_keep_prob <= 1.0:
            raise ConfigError(f"WindowDataset.frame_keep_prob: expected (0, 1], "
                              f"found {frame_keep_prob}")
        self.paths = list_shards(root, split)
        if not self.paths:
            raise ConfigError(f"dataset {root}: expected complete shards of split {split!r}, "
                              "found none")
        self.window_latents = window_latents
        self.hop_samples = hop_samples
        self.stride = stride_latents or window_latents
        self.frame_keep_prob = frame_keep_prob
        self.seed = seed
        self.epoch = 0
        self._open: dict[int, Shard] = {}
        self.index: list[tuple[int, int]] = []  # (shard, start tick)
        rates = set()
        for s, p in enumerate(self.paths):
            shard = read_shard(p)
            rates.add(shard.sample_rate_hz)
            n_ticks = shard.audio.shape[0] // hop_samples
            for start in range(0, n_ticks - window_latents + 1, self.stride):
                self.index.append((s, start))
        if len(rates) != 1:
            raise ConfigError(f"dataset {root}: expected one sample rate, found {sorted(rates)}")
        self.sample_rate_hz = rates.pop()
        self.latent_rate_hz = self.sample_rate_hz / hop_samples
        log.info("WindowDataset %s/%s: %d shards, %d windows of %d ticks at %.2f Hz", root,
                 split, len(self.paths), len(self.index), window_latents, self.latent_rate_hz)

    def set_epoch(self, epoch: int) -> None:
        """Draw other frame drops from now on (call once per epoch, like DistributedSampler)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.index)

    def shard(self, s: int) -> Shard:
        if s not in self._open:
            self._open[s] = read_shard(self.paths[s])
        return self._open[s]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_open"] = {}  # memory maps are reopened in each worker
        return state

    def __getitem__(self, i: int) -> dict[str, Any]:
        s, start = self.index[i]
        shard = self.shard(s)
        L, hop = self.window_latents, self.hop_samples
        rng = np.random.default_rng([self.seed, self.epoch, i])
        idx = _indices(shard.timestamps_ns, start, L, self.latent_rate_hz,
                       self.frame_keep_prob, rng)
        frames = np.asarray(shard.frames[idx])  # (L, H, W, 3)
        audio = np.asarray(shard.audio[start * hop:(start + L) * hop], dtype=np.float32)
        return {"frames": torch.from_numpy(frames),
                "audio": torch.from_numpy(np.ascontiguousarray(audio.T)),  # (2, L * hop)
                "frame_indices": torch.from_numpy(idx), "shard": s, "start_tick": start}
