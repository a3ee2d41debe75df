"""Batches for training, drawn as a pure function of (seed, step, rank).

What it is:
- `AudioSegments`: random stereo segments of the shards' audio for the VAE.
- `LatentCache`: VAE latents (the encoder's mean) of every shard of a split, computed once and
  stored as `.npy`, with the tick -> frame table of each shard
  (`data.timing.frame_indices_for_ticks`, the live scheduler's newest-frame rule).
- `encoder_digest`, `latent_cache_dir`: where a run's latents live: `<root>/<digest>/`, the
  digest taken over the VAE encoder's weights and configuration (and this module's encoding
  format), `<root>` the dataset's `latents/` unless given. Every run on the same data with the
  same encoder (stage 1, stage 2, a decoder fine-tune, a resume) reuses the latents without
  being told, and a run with another encoder cannot read them: its digest differs.
- `latent_caches`: the train and held-out caches of a run, written by rank 0 while the other
  ranks wait, then read by all.
- `batch_tensor`: a batch entry, checked for its shape (a missing or misshapen one named).
- `WindowBatches`: windows of T latent ticks with their frames (read from the memory-mapped
  shards) for stage 1 and stage 2. Each window also carries the frame of the tick before it,
  so the vision delta of its first frame is the true one, and on request the real audio the
  window's latents encode (for losses on decoded predictions).
- `kv_window_shortfall`: why windows of T ticks miss the model's KV window (the models
  README's training condition), or None; stages 1 and 2 log it as a warning.

Drawing a batch from `numpy.random.default_rng([seed, step, rank])` makes a resumed run see
exactly the batches an uninterrupted one would, with no sampler state to save. The held-out
windows come from `heldout_rng()`, which no run's seed enters, so the held-out reports of
runs on one dataset are comparable.

What it is not: a torch DataLoader; the shards are memory-mapped and a batch is a few
fancy-indexing reads, cheap next to a training step on this project's scale.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

from livefoley.models.data.shards import Shard, list_shards, read_shard
from livefoley.models.data.timing import frame_indices_for_ticks
from livefoley.models.training.distributed import DistInfo, barrier
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


# The held-out windows (and their noise) are drawn from this seed, never from a run's: every
# run on one dataset is scored on the same windows, so runs of different seeds compare.
HELDOUT_SEED = 4321


def heldout_rng() -> np.random.Generator:
    """The numpy generator of the held-out windows: the same for every run. (These are the
    windows a run of seed 0 drew when the run's seed still entered, so seed-0 reports of
    earlier runs stay comparable too.)"""
    return np.random.default_rng([0, HELDOUT_SEED])


def step_rng(seed: int, step: int, rank: int = 0, salt: int = 0) -> np.random.Generator:
    """The numpy generator of one (seed, step, rank): the same draws on resume."""
    return np.random.default_rng([seed, step, rank, salt])


def step_torch_generator(seed: int, step: int, rank: int = 0,
                         device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator seeded from (seed, step, rank), for noise and sigma draws."""
    s = int(step_rng(seed, step, rank, salt=1).integers(0, 2**62))
    return torch.Generator(device=device).manual_seed(s)


def caption_embeddings(shards: list[Shard], text_dim: int) -> torch.Tensor:
    """(S, text_dim) MiniLM embeddings of each shard's `meta["caption"]` (text models).

    A shard without a caption gets a zero row and a warning: such a dataset (e.g. ViZDoom
    recordings) trains the text path only through its null token.

    Raises:
        ConfigError: text_dim is not the encoder's 384.
    """
    from livefoley.models.spatial.text import TEXT_EMBEDDING_DIM, TextEncoder

    if text_dim != TEXT_EMBEDDING_DIM:
        raise ConfigError(f"caption embeddings: expected a model with text_dim "
                          f"{TEXT_EMBEDDING_DIM} (the MiniLM encoder), found {text_dim}")
    captions = [s.meta.get("caption") for s in shards]
    out = torch.zeros(len(shards), text_dim)
    have = [i for i, c in enumerate(captions) if isinstance(c, str) and c]
    if len(have) < len(shards):
        log.warning("%d of %d shards have no caption: they train with the null text token",
                    len(shards) - len(have), len(shards))
    if have:
        out[have] = TextEncoder().encode_batch([captions[i] for i in have]).cpu()
    return out


def open_split(root: str | os.PathLike, split: str) -> list[Shard]:
    """All complete shards of `split`. Raises ConfigError when there are none."""
    paths = list_shards(root, split)
    if not paths:
        raise ConfigError(f"dataset {root}: expected complete shards of split {split!r}, "
                          "found none")
    return [read_shard(p) for p in paths]


class AudioSegments:
    """Random (B, C, segment) float32 audio segments of a list of shards.

    Args:
        shards: from `open_split`.
        segment_samples: samples per channel per segment (a multiple of the VAE hop).
    """

    def __init__(self, shards: list[Shard], segment_samples: int) -> None:
        self.shards = [s for s in shards if s.audio.shape[0] > segment_samples]
        if not self.shards:
            raise ConfigError(f"AudioSegments: expected shards longer than {segment_samples} "
                              f"samples, found none of {len(shards)}")
        self.segment_samples = segment_samples

    def batch(self, rng: np.random.Generator, batch_size: int) -> torch.Tensor:
        out = np.empty((batch_size, self.shards[0].audio.shape[1], self.segment_samples),
                       np.float32)
        for i in range(batch_size):
            s = self.shards[int(rng.integers(len(self.shards)))]
            start = int(rng.integers(0, s.audio.shape[0] - self.segment_samples))
            out[i] = np.asarray(s.audio[start:start + self.segment_samples]).T
        return torch.from_numpy(out)


@torch.no_grad()
def encode_audio(vae, audio: np.ndarray, hop_samples: int,
                 chunk_latents: int = 600) -> np.ndarray:
    """Encoder means of a whole (N, C) recording -> (N // hop, latent) float32.

    The encoder is causal, so chunks carry its streaming state; the result equals one
    offline pass up to summation order.
    """
    J = audio.shape[0] // hop_samples
    x = torch.from_numpy(np.ascontiguousarray(audio[: J * hop_samples].T))[None]  # (1, C, N)
    p = next(vae.parameters())
    state = vae.encoder.init_state(1, device=p.device, dtype=p.dtype)
    out = []
    for j in range(0, J, chunk_latents):
        seg = x[..., j * hop_samples:min(J, j + chunk_latents) * hop_samples].to(p.device)
        mean, _ = vae.encode_step(seg.to(p.dtype), state)  # (1, L, k)
        out.append(mean[0].T.float().cpu().numpy())
    return np.concatenate(out, axis=0) if out else np.zeros((0, vae.cfg.latent_dim), np.float32)


LATENT_CACHE_FORMAT = 1  # bump when `encode_audio` changes what it computes


def encoder_digest(vae) -> str:
    """16 hex digits that change whenever the latents `encode_audio` gives could change: the
    encoder's weights and buffers (names, dtypes, shapes, bytes), the VAE configuration (all
    but the decoder's output kind) and `LATENT_CACHE_FORMAT`. A decoder-only fine-tune keeps it.

    Thread-safety: reads the weights; call with no step running. Real-time safe: no.
    """
    h = hashlib.sha256()
    cfg = {k: v for k, v in dataclasses.asdict(vae.cfg).items() if k != "decoder_output"}
    h.update(json.dumps({"format": LATENT_CACHE_FORMAT, "vae": cfg}, sort_keys=True).encode())
    for name, t in sorted(vae.encoder.state_dict().items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def latent_cache_dir(data: str | os.PathLike, vae, root: str | os.PathLike | None = None) -> Path:
    """`<root>/<encoder_digest(vae)>`, `root` defaulting to `<data>/latents`; see the module
    docstring. Creates nothing."""
    base = Path(root) if root is not None else Path(data) / "latents"
    return base / encoder_digest(vae)


class LatentCache:
    """Latents and tick -> frame tables of every shard of one split; see the module docstring.

    Args:
        shards: from `open_split`.
        cache_dir: where `<shard>.latents.npy` files go (created), one folder per encoder
            (`latent_cache_dir`). A file is reused when its length matches the shard's.
        vae: the (frozen) AudioVAE, or None to require every file to exist.
        hop_samples: VAE hop.

    Thread-safety: build once (rank 0 first, then the others read what it wrote).
    """

    def __init__(self, shards: list[Shard], cache_dir: str | os.PathLike, vae,
                 hop_samples: int) -> None:
        self.shards = shards
        self.hop_samples = hop_samples
        cache_dir = Path(cache_dir)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"latent cache {cache_dir}: expected a folder this process can "
                              f"create and write, found {e.strerror or e} (give another root "
                              f"with --latent-cache)") from e
        self.latents: list[np.ndarray] = []
        self.frame_tables: list[np.ndarray] = []
        for s in shards:
            path = cache_dir / f"{s.name}.latents.npy"
            J = s.audio.shape[0] // hop_samples
            lat = np.load(path) if path.exists() else None
            if lat is None or lat.shape[0] != J:
                if vae is None:
                    raise ConfigError(f"latent cache {path}: expected {J} latents, found "
                                      f"{None if lat is None else lat.shape[0]}")
                lat = encode_audio(vae, s.audio, hop_samples)
                tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npy")
                try:
                    np.save(tmp, lat)
                    os.replace(tmp, path)  # a reader never sees a half-written file
                except OSError as e:
                    tmp.unlink(missing_ok=True)  # a disk that filled leaves no partial file
                    raise ConfigError(f"latent cache {path}: expected a folder this process "
                                      f"can write, found {e.strerror or e} (give another "
                                      f"root with --latent-cache)") from e
            self.latents.append(lat)
            rate = s.sample_rate_hz / hop_samples
            ts = np.asarray(s.timestamps_ns)
            self.frame_tables.append(frame_indices_for_ticks(ts, J, latent_rate_hz=rate,
                                                             start_ns=int(ts[0])))
        all_lat = np.concatenate(self.latents)
        self.latent_std = float(all_lat.std())
        log.info("latent cache: %d shards, %d latents, std %.3f", len(shards), all_lat.shape[0],
                 self.latent_std)


def latent_caches(data: str, cache_dir: Path, vae, hop_samples: int,
                  info: DistInfo) -> tuple[LatentCache, LatentCache | None]:
    """(train, held-out) latent caches of `data` under `cache_dir`: rank 0 encodes what is
    missing while the others wait at a barrier; the held-out cache is rank 0's alone (None on
    the others).

    Thread-safety: one call per rank. Real-time safe: no.
    """
    if info.is_main:
        train = LatentCache(open_split(data, "train"), cache_dir, vae, hop_samples)
        held = LatentCache(open_split(data, "heldout"), cache_dir, vae, hop_samples)
    barrier(info)
    if not info.is_main:
        return LatentCache(open_split(data, "train"), cache_dir, None, hop_samples), None
    return train, held


def batch_tensor(batch: dict[str, torch.Tensor], key: str, shape: tuple[int, ...],
                 what: str) -> torch.Tensor:
    """`batch[key]`, which must have `shape`.

    Raises:
        ConfigError: missing or of another shape (the message starts with `what`).
    """
    found = batch.get(key)
    if found is None or tuple(found.shape) != tuple(shape):
        raise ConfigError(f"{what}: expected batch[{key!r}] of shape {tuple(shape)}, found "
                          f"{None if found is None else tuple(found.shape)}")
    return found


class WindowBatches:
    """Windows of `window_latents` ticks: frames (B, T+1, H, W, 3) uint8, latents (B, T, L),
    and `shard` (B,) int64, the index of each window's shard (captions of scene shards); with
    `audio=True` also `audio` (B, C, T * hop) float32, the samples latents j..j+T-1 encode.

    Frame 0 of a window is the frame of the tick before it (or its own first frame at the
    start of a recording, so the first delta is 0 as in a fresh live session).
    """

    def __init__(self, cache: LatentCache, window_latents: int, *, audio: bool = False) -> None:
        self.cache = cache
        self.window_latents = window_latents
        self.with_audio = audio
        self.usable = [i for i, lat in enumerate(cache.latents) if lat.shape[0] > window_latents]
        if not self.usable:
            raise ConfigError(f"WindowBatches: expected recordings longer than {window_latents} "
                              f"latents, found none of {len(cache.latents)}")

    def batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        T = self.window_latents
        hop = self.cache.hop_samples
        frames, latents, shards, audio = [], [], [], []
        for _ in range(batch_size):
            s = self.usable[int(rng.integers(len(self.usable)))]
            shards.append(s)
            lat = self.cache.latents[s]
            start = int(rng.integers(0, lat.shape[0] - T + 1))
            table = self.cache.frame_tables[s]
            idx = np.concatenate([[table[max(start - 1, 0)]], table[start:start + T]])
            frames.append(np.asarray(self.cache.shards[s].frames[idx]))
            latents.append(lat[start:start + T])
            if self.with_audio:  # latent j encodes samples [j hop, (j + 1) hop) (encode_audio)
                pcm = self.cache.shards[s].audio[start * hop:(start + T) * hop]
                audio.append(np.asarray(pcm, np.float32).T)
        out = {"frames": torch.from_numpy(np.stack(frames)),
               "latents": torch.from_numpy(np.stack(latents).astype(np.float32)),
               "shard": torch.tensor(shards, dtype=torch.int64)}  # index into cache.shards
        if self.with_audio:
            out["audio"] = torch.from_numpy(np.ascontiguousarray(np.stack(audio)))
        return out


def kv_window_shortfall(window_latents: int, window_frames: int) -> str | None:
    """Why training windows of `window_latents` ticks miss the KV window of `window_frames`, or None.

    models/README.md ("Bounded KV cache and positions"): the steady state of a long stream, every
    query attending a full window of 2 * window_frames tokens with BOS long gone, is in the
    training distribution only if a window is longer than the KV window. Shorter windows still
    train (every recorded CPU recipe used 32 ticks against `tiny`'s 64 frames), so this is a
    warning, not an error.

    Thread-safety: pure function. Real-time safe: no.
    """
    if window_latents > window_frames:
        return None
    return (f"--window {window_latents} is not longer than the model's KV window "
            f"({window_frames} frames): no training query attends a full window, and BOS is in "
            f"view of every one; a stream past {window_frames} frames runs outside the training "
            f"distribution (models/README.md; --window {window_frames + 8} meets it)")
