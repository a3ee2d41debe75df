"""The baselines' and the real audio's scores, kept per dataset for the next evaluation.

What it is: `BaselineCache(root)`, which stores what `runner.evaluate` computes for the systems
that do not depend on the model (silence, shuffled, nn_retrieval and real): their per-clip
scores and, with the Fréchet distance on, their per-clip aisfx embeddings. A model's evaluation
on clips already seen then scores only the model: about 60 % of an 8-clip run on 2 CPU cores
is these systems' metrics and embeddings (`models/evaluation/README.md`).

An entry is found by a key that digests everything its numbers depend on: the evaluated clips
themselves (audio and frames as cut, fps, names), the training shards the retrieval baseline
indexes (names and file sizes; shards are written whole and never changed in place), the
evaluation settings that change a score, the retrieval feature's name, the source of this
package (a change to any metric's code is a new key) and the versions of numpy, scipy, torch
and (with the Fréchet distance) aisfx. So a stale entry is
never read: it is simply not found. Entries are written to a temporary name and renamed, so
two evaluations side by side never read a half-written one; an unreadable entry is reported
and recomputed.

What it is not: a cache of the baselines' audio (cheap to recompute, and large), or of the model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livefoley.models.training.runstate import atomic_write_bytes

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SYSTEMS = ("silence", "shuffled", "nn_retrieval", "real")
# EvalConfig fields that do not change a baseline's numbers (what is written, not what is scored).
_UNSCORED_FIELDS = ("examples", "example_seconds", "plots", "seed", "max_episodes")


@dataclass
class CachedScores:
    """One entry: per-clip scores per system, and per-clip embeddings when the key had them."""

    per_episode: dict[str, list[dict[str, float]]]
    embeddings: dict[str, list[np.ndarray]]


def _package_digest() -> str:
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _versions(embeddings: bool) -> dict[str, str]:
    """The versions of the libraries the scores are computed with (aisfx only with FD)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("numpy", "scipy", "torch", *(("aisfx",) if embeddings else ())):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def feature_name(feature_fn: Any) -> str | None:
    """A stable name for the retrieval feature, or None (a lambda or local function: no cache)."""
    qualname = getattr(feature_fn, "__qualname__", "")
    module = getattr(feature_fn, "__module__", None)
    if not module or not qualname or "<" in qualname:
        return None
    return f"{module}.{qualname}"


def cache_key(clips: list[dict[str, Any]], train_paths: list[Path], config: Any,
              feature: str) -> str:
    """Digest of everything the baselines' numbers depend on (module docstring).

    Args:
        clips: the evaluated clips as `runner.evaluate` cuts them ({"name", "fps", "frames",
            "real"}).
        train_paths: the training shards the retrieval baseline indexes.
        config: the run's `EvalConfig`.
        feature: `feature_name` of the retrieval feature.
    """
    h = hashlib.blake2b(digest_size=16)
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in _UNSCORED_FIELDS}
    h.update(json.dumps({"format": FORMAT_VERSION, "settings": settings, "feature": feature,
                         "code": _package_digest(), "versions": _versions(config.embeddings),
                         "train": [[p.name, _size(p)] for p in train_paths]},
                        sort_keys=True).encode())
    for c in clips:
        h.update(json.dumps([c["name"], float(c["fps"]), list(c["frames"].shape),
                             list(c["real"].shape)]).encode())
        h.update(np.ascontiguousarray(c["real"]).tobytes())
        h.update(np.ascontiguousarray(c["frames"]).tobytes())
    return h.hexdigest()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in sorted(path.rglob("*")) if f.is_file())
    return path.stat().st_size


class BaselineCache:
    """Entries under `root` (one `<key>.npz` each).

    Thread-safety: any number of processes may read and write one root at once (whole-file
    renames). Real-time safe: no.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npz"

    def load(self, key: str) -> CachedScores | None:
        """The entry for `key`, or None when there is none or it cannot be read (logged)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                embeddings = {name: [z[f"emb/{name}/{i}"] for i in range(n)]
                              for name, n in meta["embeddings"].items()}
            if meta["format"] != FORMAT_VERSION or set(meta["per_episode"]) != set(SYSTEMS):
                raise ValueError(f"expected format {FORMAT_VERSION} with systems {list(SYSTEMS)}, "
                                 f"found format {meta['format']} with {sorted(meta['per_episode'])}")
        except Exception as e:  # a truncated or foreign file: recompute, never fail the run
            log.warning("baseline cache %s: unreadable (%s: %s); recomputing", path, type(e).__name__, e)
            return None
        return CachedScores(meta["per_episode"], embeddings)

    def save(self, key: str, entry: CachedScores) -> Path | None:
        """Write the entry (whole, then renamed); None with a warning when the root is not writable."""
        path = self.path(key)
        meta = {"format": FORMAT_VERSION, "per_episode": entry.per_episode,
                "embeddings": {name: len(v) for name, v in entry.embeddings.items()}}
        arrays = {f"emb/{name}/{i}": e for name, v in entry.embeddings.items() for i, e in enumerate(v)}
        buf = io.BytesIO()
        np.savez(buf, meta=np.array(json.dumps(meta, default=float)), **arrays)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(buf.getvalue(), path)
        except OSError as e:
            log.warning("baseline cache %s: not written (%s)", path, e)
            return None
        return path
