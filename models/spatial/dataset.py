"""Write generated spatial scenes as dataset shards the training loader reads.

Each scene becomes one shard in the format of `models/data/shards.py` ("livefoley-shard/1"):
frames (T, H, W, 3) uint8 equirectangular; audio (N, 4) float32 **AmbiX (W, Y, Z, X)**;
timestamps_ns (T,) at the scene's fps; actions (T, 0) (a scene has no player). meta.json
carries the layout, the caption, the seed, the SceneConfig and every SourceSpec, so the
ground-truth trajectories can be rebuilt from the shard alone (`scene_from_meta`).

This module writes and reads metadata; it does not define the shard format (models/data does).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from livefoley.models.data.shards import Shard, write_shard
from livefoley.protocol.errors import ConfigError

from .scene import Scene, SceneConfig, SourceSpec, generate_scene

log = logging.getLogger(__name__)

AUDIO_LAYOUT = "ambix-foa"  # meta["audio_layout"]: channel order W, Y, Z, X; SN3D


def scene_meta(scene: Scene) -> dict[str, Any]:
    """JSON-ready facts of a scene (everything but the arrays)."""
    cfg = dataclasses.asdict(scene.config)
    return {
        "scenario": "spatial-scene",
        "audio_layout": AUDIO_LAYOUT,
        "audio_channels": ["W", "Y", "Z", "X"],
        "sample_rate_hz": scene.config.sample_rate_hz,
        "fps": scene.config.fps,
        "seed": scene.seed,
        "caption": scene.caption,
        "scene_config": cfg,
        "sources": [dataclasses.asdict(s) for s in scene.sources],
    }


def write_scene_shard(root: str | Path, name: str, scene: Scene) -> Path:
    """Write one scene as shard `name` ("<split>-<5 digits>") under `root`; returns its path."""
    t = scene.config.num_frames
    arrays = {
        "frames": scene.frames(),
        "audio": np.ascontiguousarray(scene.foa.T.astype(np.float32)),  # (N, 4)
        "timestamps_ns": np.round(np.arange(t) * 1e9 / scene.config.fps).astype(np.int64),
        "actions": np.zeros((t, 0), np.float32),
    }
    return write_shard(root, name, arrays, scene_meta(scene))


def write_scene_dataset(root: str | Path, seeds: list[int], config: SceneConfig = SceneConfig(), *,
                        split: str = "train", first_index: int = 0) -> list[Path]:
    """Generate and write one shard per seed (names split-first_index, split-first_index+1, ...)."""
    paths = []
    for i, seed in enumerate(seeds):
        paths.append(write_scene_shard(root, f"{split}-{first_index + i:05d}", generate_scene(seed, config)))
    log.info("wrote %d spatial scene shards to %s", len(paths), root)
    return paths


TRAIN_SEED_OFFSET = 0
HELDOUT_SEED_OFFSET = 1_000_000  # held-out scenes never share a seed with training scenes


def scene_seeds(seed: int, split: str, n: int) -> list[int]:
    """Seeds of the `n` scenes of `split` ("train" or "heldout") of a dataset made with `seed`.

    Disjoint between splits and between dataset seeds below 1000.
    """
    if split not in ("train", "heldout"):
        raise ConfigError(f"scene split: expected 'train' or 'heldout', found {split!r}")
    off = TRAIN_SEED_OFFSET if split == "train" else HELDOUT_SEED_OFFSET
    return [off + seed * 1000 + i for i in range(n)]


def write_scene_splits(root: str | Path, *, seed: int, train: int, heldout: int,
                       config: SceneConfig = SceneConfig(), progress=None) -> dict[str, int]:
    """Write (or complete) a train + heldout scene dataset under `root`; returns counts.

    Shards that already exist are kept (a rerun completes an interrupted dataset); the
    dataset's SceneConfig goes to `root/scenes.json` and must match on a rerun.

    Raises:
        ConfigError: `root` holds a dataset made with another seed or SceneConfig.
    """
    import json

    from livefoley.models.data.shards import list_shards, remove_stale_temps

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    record = {"format": "livefoley-scenes/1", "seed": seed,
              "scene_config": dataclasses.asdict(config)}
    record = json.loads(json.dumps(record))  # tuples -> lists, as read back
    path = root / "scenes.json"
    if path.exists():
        found = json.loads(path.read_text())
        if found != record:
            raise ConfigError(f"scene dataset {root}: expected {record}, found {found}")
    else:
        path.write_text(json.dumps(record, indent=1, sort_keys=True))
    remove_stale_temps(root)
    made = {"train": 0, "heldout": 0, "skipped": 0}
    for split, n in (("train", train), ("heldout", heldout)):
        done = {p.name for p in list_shards(root, split)}
        for i, s in enumerate(scene_seeds(seed, split, n)):
            name = f"{split}-{i:05d}"
            if name in done:
                made["skipped"] += 1
                continue
            write_scene_shard(root, name, generate_scene(s, config))
            made[split] += 1
            if progress is not None:
                progress(f"{name} (scene seed {s})")
    return made


def sources_from_meta(meta: dict[str, Any]) -> tuple[SceneConfig, tuple[SourceSpec, ...]]:
    """Rebuild the SceneConfig and SourceSpecs a shard was written from.

    Raises:
        ConfigError: the shard is not a spatial scene.
    """
    if meta.get("audio_layout") != AUDIO_LAYOUT or "sources" not in meta:
        raise ConfigError(f"shard meta: expected audio_layout {AUDIO_LAYOUT!r} with sources, "
                          f"found {meta.get('audio_layout')!r}")
    cfg = dict(meta["scene_config"])
    for key in ("classes", "elevation_range_deg", "size_range_deg"):
        cfg[key] = tuple(cfg[key])
    specs = tuple(SourceSpec(**dict(s, colour=tuple(s["colour"]))) for s in meta["sources"])
    return SceneConfig(**cfg), specs


def scene_from_shard(shard: Shard) -> Scene:
    """A Scene view of a shard (FOA and facts; per-source signals are not stored, so the
    activity-based ground truth needs `generate_scene(meta['seed'], config)` instead)."""
    cfg, specs = sources_from_meta(shard.meta)
    return Scene(int(shard.meta["seed"]), cfg, specs, (), np.ascontiguousarray(np.asarray(shard.audio).T),
                 str(shard.meta["caption"]))


__all__ = ["AUDIO_LAYOUT", "scene_meta", "scene_seeds", "write_scene_splits", "write_scene_shard", "write_scene_dataset", "sources_from_meta",
           "scene_from_shard"]
