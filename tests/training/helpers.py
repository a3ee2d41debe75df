"""Small synthetic datasets and models for the training tests (no ViZDoom: milliseconds).

A "flash-and-click" recording: a frame turns bright at random tics and the audio holds a
decaying click starting at the same instant, so vision predicts audio, as in the game.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from livefoley.models.config import HeadConfig, TransformerConfig, get_preset
from livefoley.models.data.shards import write_shard
from livefoley.models.data.timing import frame_timestamps_ns

SAMPLE_RATE_HZ = 48000
FPS = 35


def small_config(seed: int = 0):
    """The tiny preset with a narrower transformer and head (fast CPU tests)."""
    cfg = get_preset("tiny")
    return dataclasses.replace(
        cfg, seed=seed,
        transformer=TransformerConfig(d_model=64, n_layers=2, n_heads=2, window_frames=16),
        head=HeadConfig(width=64, n_blocks=1, time_embed_dim=32, logvar_channels=16))


def click_windows(batch: int, ticks: int, hop: int = 1600):
    """(batch, 2, ticks * hop) float32 audio: two decaying clicks at different places in each
    window (a known onset pattern for the onset terms)."""
    import torch

    audio = torch.zeros(batch, 2, ticks * hop)
    for b in range(batch):
        for start in (1200 + 2000 * b, 5000 + 1500 * b):
            audio[b, :, start:start + 800] = 0.4 * torch.exp(-torch.arange(800) / 120.0)
    return audio


def write_flash_click_dataset(root, *, train: int = 2, heldout: int = 1, seconds: float = 3.0,
                              seed: int = 0) -> None:
    """Write `train` + `heldout` synthetic shards under `root` (the shard format of models/data)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", train), ("heldout", heldout)):
        for i in range(n):
            tics = int(seconds * FPS)
            frames = np.full((tics, 24, 32, 3), 30, np.uint8)
            audio = np.zeros((int(seconds * SAMPLE_RATE_HZ), 2), np.float32)
            decay = np.exp(-np.arange(2400) / 300.0).astype(np.float32)
            for tic in np.flatnonzero(rng.random(tics) < 0.15):
                frames[tic] = 220
                s = int(tic * SAMPLE_RATE_HZ / FPS)
                seg = decay[: audio.shape[0] - s] * rng.uniform(0.2, 0.6)
                audio[s:s + seg.shape[0], 0] += seg * np.sin(np.arange(seg.shape[0]) * 0.3)
                audio[s:s + seg.shape[0], 1] += 0.5 * seg * np.sin(np.arange(seg.shape[0]) * 0.3)
            arrays = {"frames": frames, "audio": audio,
                      "timestamps_ns": frame_timestamps_ns(tics, FPS),
                      "actions": np.zeros((tics, 1), np.float32)}
            meta = {"sample_rate_hz": SAMPLE_RATE_HZ, "fps": FPS, "n_tics": tics,
                    "silent": False, "scenario": "synthetic", "seed": seed}
            write_shard(root, f"{split}-{i:05d}", arrays, meta)


def stage_args(stage: str, data, out, init, *extra) -> argparse.Namespace:
    """`livefoley train STAGE` arguments for a tiny CPU run of `small_config` on `data`
    (batch 2, windows of 8, 2 head repeats, log every step, 1 thread), then `extra`."""
    from livefoley.models.training import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args([stage, "--data", str(data), "--out", str(out), "--init",
                              str(init), "--batch", "2", "--window", "8", "--head-repeats", "2",
                              "--log-every", "1", "--device", "cpu", "--threads", "1", *extra])
