"""Generate a sharded ViZDoom dataset: plan from a seed, record, resample, write, resume.

What it is: `DataConfig` (what to generate), `plan_episodes` (a deterministic list of episodes
from the seed: split, scenario or map, game seed, agent), and `generate_dataset` (records each
planned episode that has no complete shard yet, resamples its audio to the model's rate, and
writes the shard atomically). Running it again after an interruption skips complete shards;
a different config for an existing root is refused.

Held-out episodes come from maps that training never sees (Freedoom 2 MAP21-MAP28 and
Freedoom 1 episode 2) and from odd game seeds, while training seeds are even, so the two
splits share neither maps nor seeds (tested).

What it is not: a reader (see `loader.py`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from livefoley.models.configutil import from_dict, to_dict
from livefoley.models.data import recorder
from livefoley.models.data.agents import AGENT_KINDS
from livefoley.models.data.resample import resample_audio
from livefoley.models.data.shards import list_shards, remove_stale_temps, write_shard
from livefoley.models.data.timing import frame_timestamps_ns
from livefoley.protocol.errors import ConfigError, SessionError

log = logging.getLogger(__name__)

# Built-in scenarios that make sound with the scripted agents (my_way_home has no weapon and is
# silent; measured in models/data/README.md), plus whole Freedoom maps.
TRAIN_SCENARIOS: tuple[str, ...] = (
    "basic", "defend_the_center", "defend_the_line", "deathmatch", "health_gathering",
    "deadly_corridor", "take_cover", "predict_position", "rocket_basic",
    *(f"freedoom2:MAP{i:02d}" for i in range(1, 21)),
    *(f"freedoom1:E1M{i}" for i in range(1, 10)),
)
HELDOUT_SCENARIOS: tuple[str, ...] = (
    *(f"freedoom2:MAP{i:02d}" for i in range(21, 29)),
    *(f"freedoom1:E2M{i}" for i in range(1, 5)),
)
SPLITS = ("train", "heldout")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """What `generate_dataset` makes. Stored as dataset.json; a resume must match it."""

    seed: int = 0  # everything below is drawn from this
    train_episodes: int = 64  # recordings in the training split
    heldout_episodes: int = 8  # recordings in the held-out split
    tics_per_episode: int = 700  # 35 tics per second: 700 = 20 s
    resolution: str = "160x120"  # ViZDoom screen resolution WxH
    sample_rate_hz: int = 48000  # audio is resampled from 44.1 kHz to this
    agents: tuple[str, ...] = AGENT_KINDS
    train_scenarios: tuple[str, ...] = TRAIN_SCENARIOS
    heldout_scenarios: tuple[str, ...] = HELDOUT_SCENARIOS

    def __post_init__(self) -> None:
        for name in ("train_episodes", "heldout_episodes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"DataConfig.{name}: expected >= 0, found {getattr(self, name)}")
        if self.tics_per_episode < 1 or self.sample_rate_hz < 1:
            raise ConfigError(f"DataConfig: expected positive tics_per_episode and "
                              f"sample_rate_hz, found {self.tics_per_episode} and "
                              f"{self.sample_rate_hz}")
        bad = [a for a in self.agents if a not in AGENT_KINDS]
        if bad or not self.agents:
            raise ConfigError(f"DataConfig.agents: expected a non-empty subset of {AGENT_KINDS}, "
                              f"found {self.agents}")
        shared = sorted(set(self.train_scenarios) & set(self.heldout_scenarios))
        if shared:
            raise ConfigError(f"DataConfig: expected disjoint train and held-out scenarios, "
                              f"found {shared} in both")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> DataConfig:
        return from_dict(cls, data, "DataConfig")


@dataclasses.dataclass(frozen=True)
class EpisodePlan:
    """One planned recording: its shard name, split and what to record."""

    name: str
    split: str
    spec: recorder.RecordSpec


def plan_episodes(cfg: DataConfig) -> list[EpisodePlan]:
    """Return the deterministic episode plan of `cfg` (same config, same plan).

    Train game seeds are even and held-out seeds odd, so the splits never share a seed.
    """
    plans = []
    for split_id, (split, count, pool) in enumerate((
            ("train", cfg.train_episodes, cfg.train_scenarios),
            ("heldout", cfg.heldout_episodes, cfg.heldout_scenarios))):
        rng = np.random.default_rng([cfg.seed, split_id])
        for i in range(count):
            scenario = pool[int(rng.integers(len(pool)))]
            agent = cfg.agents[int(rng.integers(len(cfg.agents)))]
            game_seed = 2 * int(rng.integers(0, 2**29)) + split_id
            spec = recorder.RecordSpec(scenario=scenario, seed=game_seed, agent=agent,
                                       n_tics=cfg.tics_per_episode, resolution=cfg.resolution)
            plans.append(EpisodePlan(f"{split}-{i:05d}", split, spec))
    return plans


def _versions() -> dict[str, str]:
    import importlib.metadata

    import scipy
    import vizdoom

    try:
        lf_version = importlib.metadata.version("livefoley")
    except importlib.metadata.PackageNotFoundError:
        lf_version = "unknown"
    return {"vizdoom": vizdoom.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version(), "livefoley": lf_version}


def make_shard(root: str | Path, plan: EpisodePlan, cfg: DataConfig) -> dict[str, Any]:
    """Record `plan`, resample its audio, write its shard; return a summary dict.

    Raises:
        SessionError: the game failed or its audio backend is silent.
        ShardError: the shard already exists.

    Thread-safety: one call per process (each owns a game); different names may run at once.
    """
    recorder.check_audio_backend()
    rec = recorder.record(plan.spec)
    if rec.peak == 0:
        # exactly zero for a whole run is the signature of a missing audio backend (a live
        # mixer dithers at +-1), not of a quiet level: fail loudly rather than write it
        raise SessionError(
            f"{plan.name} ({plan.spec.scenario} seed {plan.spec.seed}): expected game audio, "
            f"found {rec.n_tics} tics of exact zeros; fix: {recorder.OPENAL_FIX}")
    audio = resample_audio(rec.audio, recorder.GAME_SAMPLE_RATE_HZ, cfg.sample_rate_hz)
    stamps = frame_timestamps_ns(rec.n_tics, recorder.GAME_FPS)
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    if rec.silent:
        log.warning("%s (%s seed %d): nothing audible in the whole recording (peak %d)",
                    plan.name, plan.spec.scenario, plan.spec.seed, rec.peak)
    meta = {
        "split": plan.split, "scenario": plan.spec.scenario,
        "config": plan.spec.config_name, "map": plan.spec.map_name,
        "seed": plan.spec.seed, "agent": plan.spec.agent, "dataset_seed": cfg.seed,
        "fps": recorder.GAME_FPS, "sample_rate_hz": cfg.sample_rate_hz,
        "source_sample_rate_hz": recorder.GAME_SAMPLE_RATE_HZ,
        "n_tics": rec.n_tics, "resolution": plan.spec.resolution,
        "episode_starts": rec.episode_starts, "button_names": rec.button_names,
        "silent": rec.silent, "audio_peak_int16": rec.peak, "audio_rms": rms, "record_wall_s": rec.wall_s,
        "versions": _versions(),
    }
    arrays = {"frames": rec.frames, "audio": audio, "timestamps_ns": stamps,
              "actions": rec.actions}
    write_shard(root, plan.name, arrays, meta)
    return {"name": plan.name, "tics": rec.n_tics, "rms": rms, "silent": rec.silent}


def _make_shard_job(args: tuple[str, EpisodePlan, DataConfig]) -> dict[str, Any]:
    return make_shard(*args)


def _write_manifest(root: Path, cfg: DataConfig) -> None:
    path = root / "dataset.json"
    found = None
    if path.exists():
        found = DataConfig.from_dict(json.loads(path.read_text())["config"])
    if found is not None:
        if found != cfg:
            diff = {k: (getattr(found, k), getattr(cfg, k))
                    for k in cfg.to_dict() if getattr(found, k) != getattr(cfg, k)}
            raise ConfigError(f"dataset {root}: expected the config it was made with to match "
                              f"this one, found differences (stored, given): {diff}")
        return
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / ".dataset.json.tmp"
    tmp.write_text(json.dumps({"format": "livefoley-dataset/1", "config": cfg.to_dict()},
                              indent=1))
    os.replace(tmp, path)


def load_config(root: str | Path) -> DataConfig:
    """Return the DataConfig stored in `root/dataset.json`.

    Raises:
        ConfigError: no dataset.json, or one that does not parse.
    """
    path = Path(root) / "dataset.json"
    if not path.exists():
        raise ConfigError(f"dataset {root}: expected dataset.json, found none")
    return DataConfig.from_dict(json.loads(path.read_text())["config"])


def generate_dataset(root: str | Path, cfg: DataConfig, *, workers: int = 1,
                     progress: Callable[[str], None] | None = None,
                     limit: int | None = None) -> dict[str, Any]:
    """Generate (or finish) the dataset of `cfg` under `root`.

    Args:
        root: dataset folder (created).
        cfg: what to generate; must equal the stored config of an existing root.
        workers: processes that record in parallel.
        progress: called with one line per finished shard (default: the module logger).
        limit: stop after this many new shards (used to test resumption).

    Returns:
        {"made": n, "skipped": n, "tics": n, "wall_s": s, "tics_per_s": r}.

    Raises:
        ConfigError: `root` holds a dataset made with another config.
        SessionError: ViZDoom's audio is silent (missing libopenal1) or the game fails.
    """
    root = Path(root)
    _write_manifest(root, cfg)
    remove_stale_temps(root)
    done = {p.name for p in list_shards(root)}
    plans = plan_episodes(cfg)
    todo = [p for p in plans if p.name not in done]
    if limit is not None:
        todo = todo[:limit]
    say = progress or log.info
    say(f"dataset {root}: {len(plans)} planned, {len(done)} complete, {len(todo)} to record")
    recorder.check_audio_backend()
    t0 = time.perf_counter()
    tics = 0
    jobs = [(str(root), p, cfg) for p in todo]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = pool.map(_make_shard_job, jobs)
            for i, r in enumerate(results, 1):
                tics += r["tics"]
                say(_progress_line(i, len(jobs), r, tics, t0))
    else:
        for i, job in enumerate(jobs, 1):
            r = _make_shard_job(job)
            tics += r["tics"]
            say(_progress_line(i, len(jobs), r, tics, t0))
    wall = time.perf_counter() - t0
    return {"made": len(jobs), "skipped": len(done), "tics": tics, "wall_s": wall,
            "tics_per_s": tics / wall if wall > 0 else 0.0}


def _progress_line(i: int, n: int, r: dict[str, Any], tics: int, t0: float) -> str:
    dt = time.perf_counter() - t0
    rate = tics / dt if dt > 0 else 0.0
    eta = (n - i) * (dt / i)
    flag = " SILENT" if r["silent"] else ""
    return (f"[{i}/{n}] {r['name']}: {r['tics']} tics, rms {r['rms']:.4f}{flag} | "
            f"{rate:.0f} tics/s ({rate / recorder.GAME_FPS:.0f}x real time), eta {eta:.0f} s")
