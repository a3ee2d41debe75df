"""`livefoley data`: generate a ViZDoom dataset, or summarise one.

    livefoley data generate --out data/doom --seed 0 --train-episodes 64 --heldout-episodes 8
    livefoley data info --data data/doom
    livefoley data scenes --out data/scenes --train 64 --heldout 16   # spatial FOA scenes

What it is: argument parsing and printing over `generate.py` and `shards.py`; nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections import Counter

from livefoley.models.data.agents import AGENT_KINDS
from livefoley.models.data.generate import DataConfig, generate_dataset, load_config
from livefoley.models.data.shards import ShardError, list_shards, read_shard

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    d = DataConfig()
    g = sub.add_parser("generate", help="record ViZDoom episodes into shards (resumable)")
    g.add_argument("--out", required=True, help="dataset folder (created; resumed if present)")
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--train-episodes", type=int, default=d.train_episodes)
    g.add_argument("--heldout-episodes", type=int, default=d.heldout_episodes)
    g.add_argument("--tics", type=int, default=d.tics_per_episode,
                   help="tics per episode (35 per second)")
    g.add_argument("--resolution", default=d.resolution, help="e.g. 160x120, 320x240")
    g.add_argument("--sample-rate", type=int, default=d.sample_rate_hz,
                   help="audio rate of the shards in Hz (the model's rate)")
    g.add_argument("--agents", default=",".join(d.agents),
                   help=f"comma-separated subset of {','.join(AGENT_KINDS)}")
    g.add_argument("--workers", type=int, default=1, help="recording processes")
    g.add_argument("--limit", type=int, default=None, help="record at most this many shards")
    sc = sub.add_parser("scenes", help="procedural 3-D scenes: equirect frames + FOA + captions")
    sc.add_argument("--out", required=True, help="dataset folder (created; completed if present)")
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--train", type=int, default=64, help="training scenes")
    sc.add_argument("--heldout", type=int, default=16, help="held-out scenes (other seeds)")
    sc.add_argument("--duration", type=float, default=4.0, help="seconds per scene")
    sc.add_argument("--size", default="128x64", help="equirect frame WxH (2:1)")
    sc.add_argument("--max-sources", type=int, default=3)
    i = sub.add_parser("info", help="summarise a dataset")
    i.add_argument("--data", required=True, help="dataset folder")


def main(args: argparse.Namespace) -> int:
    if args.data_command == "generate":
        cfg = dataclasses.replace(
            DataConfig(), seed=args.seed, train_episodes=args.train_episodes,
            heldout_episodes=args.heldout_episodes, tics_per_episode=args.tics,
            resolution=args.resolution, sample_rate_hz=args.sample_rate,
            agents=tuple(a.strip() for a in args.agents.split(",") if a.strip()))
        summary = generate_dataset(args.out, cfg, workers=args.workers, progress=print,
                                   limit=args.limit)
        print(f"made {summary['made']} shards, skipped {summary['skipped']} complete ones; "
              f"{summary['tics']} tics in {summary['wall_s']:.1f} s "
              f"({summary['tics_per_s']:.0f} tics/s)")
        return 0
    if args.data_command == "scenes":
        return _scenes(args)
    return _info(args.data)


def _scenes(args: argparse.Namespace) -> int:
    from livefoley.models.spatial.dataset import write_scene_splits
    from livefoley.models.spatial.scene import SceneConfig
    from livefoley.protocol.errors import ConfigError

    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size: expected WxH such as 128x64, found {args.size!r}") from None
    cfg = SceneConfig(duration_s=args.duration, frame_width=w, frame_height=h,
                      max_sources=args.max_sources)
    made = write_scene_splits(args.out, seed=args.seed, train=args.train, heldout=args.heldout,
                              config=cfg)
    print(f"scenes in {args.out}: made {made['train']} train, {made['heldout']} held-out, "
          f"kept {made['skipped']} complete ones")
    return 0


def _info(root: str) -> int:
    cfg = load_config(root)
    print(f"dataset {root}: seed {cfg.seed}, {cfg.resolution}, {cfg.sample_rate_hz} Hz, "
          f"{cfg.tics_per_episode} tics per episode")
    bad = 0
    for split in ("train", "heldout"):
        paths = list_shards(root, split)
        planned = cfg.train_episodes if split == "train" else cfg.heldout_episodes
        tics, silent, scen = 0, 0, Counter()
        for p in paths:
            try:
                s = read_shard(p)
            except ShardError as exc:
                print(f"  damaged: {exc}")
                bad += 1
                continue
            tics += int(s.meta["n_tics"])
            silent += bool(s.meta["silent"])
            scen[s.meta["scenario"]] += 1
        print(f"  {split}: {len(paths)}/{planned} shards, {tics} tics ({tics / 35 / 60:.1f} min), "
              f"{silent} silent; scenarios: {dict(sorted(scen.items()))}")
    return 1 if bad else 0
