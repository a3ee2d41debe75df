"""One shard = one recorded run, stored as a directory of .npy arrays plus meta.json.

Layout of a dataset root:

    dataset.json                 the DataConfig that made it (written first, checked on resume)
    shards/train-00000/          one complete shard
        frames.npy               (T, H, W, 3) uint8, one frame per game tic
        audio.npy                (N, 2) float32 at the model's sample rate, N ~ T * rate / fps
        timestamps_ns.npy        (T,) int64, game time of each frame (tic k at k / 35 s)
        actions.npy              (T, n_buttons) float32
        meta.json                written last: format, the arrays' dtypes and shapes, scenario...
    shards/.tmp-train-00001-123/ a shard being written (never read)

Atomicity: a shard is written under a dot-prefixed temporary name, every file and the folder
are fsync'ed, then the folder is renamed to its final name (rename of a directory within one
filesystem is atomic on POSIX) and the parent is fsync'ed. A reader lists only final names,
and `read_shard` still checks meta.json's format and every array's dtype and shape, so a
folder that was copied half-way or truncated is refused rather than read as whole.

What it is not: a training window sampler (`loader.py`) or the generator (`generate.py`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from livefoley.protocol.errors import CheckpointError

log = logging.getLogger(__name__)

SHARD_FORMAT = "livefoley-shard/1"
ARRAY_NAMES = ("frames", "audio", "timestamps_ns", "actions")
_NAME_RE = re.compile(r"^[a-z]+-\d{5}$")
TMP_PREFIX = ".tmp-"


class ShardError(CheckpointError):
    """A dataset shard is missing, truncated, or of another format.

    A `CheckpointError` because a shard is a stored artifact read back across runs, like
    weights: the reader must refuse a damaged one with a message, never guess.
    """


def shard_dir(root: str | Path) -> Path:
    return Path(root) / "shards"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_shard(root: str | Path, name: str, arrays: dict[str, np.ndarray],
                meta: dict[str, Any]) -> Path:
    """Write one shard atomically and return its final path.

    Args:
        root: dataset root (the shard goes to `root/shards/name`).
        name: "<split>-<5 digits>", e.g. "train-00003".
        arrays: exactly `ARRAY_NAMES`.
        meta: JSON-ready metadata; the format and array specs are added here.

    Raises:
        ShardError: a bad name, missing arrays, or the final name already exists.

    Thread-safety: one writer per shard name (a pid-suffixed temp folder keeps concurrent
    writers of different shards apart).
    """
    if not _NAME_RE.match(name):
        raise ShardError(f"shard name: expected '<split>-<5 digits>', found {name!r}")
    if set(arrays) != set(ARRAY_NAMES):
        raise ShardError(f"shard {name}: expected arrays {sorted(ARRAY_NAMES)}, "
                         f"found {sorted(arrays)}")
    parent = shard_dir(root)
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / name
    if final.exists():
        raise ShardError(f"shard {final}: expected no shard of that name, found one")
    tmp = parent / f"{TMP_PREFIX}{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    specs = {}
    for key in ARRAY_NAMES:
        arr = np.ascontiguousarray(arrays[key])
        with open(tmp / f"{key}.npy", "wb") as f:
            np.save(f, arr, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        specs[key] = {"dtype": arr.dtype.str, "shape": list(arr.shape)}
    full = dict(meta, format=SHARD_FORMAT, name=name, arrays=specs)
    with open(tmp / "meta.json", "w") as f:
        json.dump(full, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    _fsync_path(tmp)
    os.rename(tmp, final)
    _fsync_path(parent)
    return final


class Shard:
    """A read-only, memory-mapped view of one complete shard.

    Attributes: `meta` (dict), and the arrays `frames`, `audio`, `timestamps_ns`, `actions`.

    Thread-safety: read-only; safe to share between threads, reopen in each DataLoader worker.
    """

    def __init__(self, path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
        self.path = path
        self.meta = meta
        self.frames: np.ndarray = arrays["frames"]
        self.audio: np.ndarray = arrays["audio"]
        self.timestamps_ns: np.ndarray = arrays["timestamps_ns"]
        self.actions: np.ndarray = arrays["actions"]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sample_rate_hz(self) -> int:
        return int(self.meta["sample_rate_hz"])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    def __repr__(self) -> str:
        return (f"Shard({self.name}, {self.meta.get('scenario')}, {self.frames.shape[0]} frames, "
                f"{self.audio.shape[0]} samples @ {self.sample_rate_hz} Hz)")


def read_shard(path: str | Path, *, mmap: bool = True) -> Shard:
    """Open a complete shard, checking its format and every array against meta.json.

    Raises:
        ShardError: a temporary folder, missing or unparsable meta.json, another format, or an
            array missing, truncated, or of a dtype/shape other than meta.json records.
    """
    path = Path(path)
    if path.name.startswith(TMP_PREFIX):
        raise ShardError(f"shard {path}: expected a complete shard, found a temporary folder "
                         "(a writer died or is still writing)")
    try:
        meta = json.loads((path / "meta.json").read_text())
    except FileNotFoundError:
        raise ShardError(f"shard {path}: expected meta.json, found none") from None
    except json.JSONDecodeError as exc:
        raise ShardError(f"shard {path}: expected JSON in meta.json, found {exc}") from None
    if meta.get("format") != SHARD_FORMAT:
        raise ShardError(f"shard {path}: expected format {SHARD_FORMAT!r}, "
                         f"found {meta.get('format')!r}")
    arrays = {}
    for key in ARRAY_NAMES:
        spec = meta["arrays"][key]
        file = path / f"{key}.npy"
        try:
            arr = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
        except FileNotFoundError:
            raise ShardError(f"shard {path}: expected {key}.npy, found none") from None
        except (ValueError, EOFError, OSError) as exc:  # truncated data: numpy cannot map the declared shape
            raise ShardError(f"shard {path}/{key}.npy: expected {spec['dtype']} "
                             f"{tuple(spec['shape'])}, found a damaged file ({exc})") from None
        if arr.dtype.str != spec["dtype"] or list(arr.shape) != spec["shape"]:
            raise ShardError(f"shard {path}/{key}.npy: expected {spec['dtype']} "
                             f"{tuple(spec['shape'])}, found {arr.dtype.str} {arr.shape}")
        arrays[key] = arr
    return Shard(path, meta, arrays)


def list_shards(root: str | Path, split: str | None = None) -> list[Path]:
    """Return the final-named shard folders under `root` (sorted), optionally of one split.

    Temporary folders (a writer died or is writing) are never listed.
    """
    parent = shard_dir(root)
    if not parent.is_dir():
        return []
    out = []
    for p in sorted(parent.iterdir()):
        if not p.is_dir() or not _NAME_RE.match(p.name):
            continue
        if split is not None and not p.name.startswith(split + "-"):
            continue
        out.append(p)
    return out


def remove_stale_temps(root: str | Path) -> int:
    """Delete temporary shard folders left by dead writers; return how many were removed.

    Thread-safety: call only when no writer runs on `root` (the generator calls it on start).
    """
    parent = shard_dir(root)
    if not parent.is_dir():
        return 0
    n = 0
    for p in parent.iterdir():
        if p.name.startswith(TMP_PREFIX):
            shutil.rmtree(p, ignore_errors=True)
            n += 1
    if n:
        log.info("removed %d stale temporary shard folder(s) under %s", n, parent)
    return n
