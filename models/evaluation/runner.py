"""The evaluation run: model and baselines on held-out episodes, one set of metrics.

What it is: `evaluate(data_root, out_dir, generate=...)`. For each held-out shard (up to
`max_episodes`, the first `max_seconds`), it gets audio from every system:

- `model` (the `generate(frames, fps) -> audio` callable, when one is given),
- `silence`, `shuffled` (real audio of another held-out episode), `nn_retrieval` (training
  audio retrieved by vision features, fitted on training shards only),
- `real` itself, as a sanity reference (it scores the metrics' ideal values),

and scores each against the real audio: onset F-measure (50 ms, micro-averaged over episodes:
summed matches over summed counts), onset-envelope lag and its peak correlation, MR-STFT
distance, log-mel L1, ILD correlation, and the Fréchet distance between pooled aisfx
embeddings of the system and of the real audio. It writes results.json, report.md with plots
(`report.py`), and listening examples (`media.py`).

What it is not: the model loader. `model_generate_fn` in `modelfn.py` adapts a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from livefoley.models.data.shards import list_shards, read_shard
from livefoley.models.evaluation.baselines import (
    FeatureFn,
    NearestNeighbourRetrieval,
    shuffled_audio,
    silence,
    thumbnail_motion_features,
)
from livefoley.models.evaluation.baseline_cache import SYSTEMS as CACHED_SYSTEMS
from livefoley.models.evaluation.baseline_cache import BaselineCache, CachedScores, cache_key, feature_name
from livefoley.models.evaluation.frechet import frechet_distance
from livefoley.models.evaluation.onsets import audio_onsets, match_onsets
from livefoley.models.evaluation.spectral import log_mel_l1, mr_stft_distance
from livefoley.models.evaluation.stereo import ild_correlation
from livefoley.models.evaluation.sync import onset_lag_ms
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

EMBEDDINGS_FILE = "embeddings.npz"  # "<system>/<clip index>": (n, 512) aisfx embeddings

GenerateFn = Callable[[np.ndarray, float], np.ndarray]  # (T,H,W,3) uint8, fps -> (N, 2) float


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """What the evaluation run covers."""

    max_episodes: int = 8  # held-out shards evaluated
    max_seconds: float = 20.0  # evaluated length of each
    hop_samples: int = 1600  # the model's hop: clip lengths are whole latent ticks
    tolerance_ms: float = 50.0  # onset matching window
    max_lag_ms: float = 500.0  # cross-correlation search range
    nn_train_shards: int = 64  # training shards indexed by the retrieval baseline
    embeddings: bool = True  # aisfx Fréchet distance (the slowest metric)
    examples: int = 2  # listening examples (mp4) written
    example_seconds: float = 10.0
    plots: bool = True  # matplotlib figures in the report
    seed: int = 0


def _fit(audio: Any, n: int) -> np.ndarray:
    """A system's output as (n, 2) float32: torch -> numpy, mono -> stereo, trim or pad."""
    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().numpy()
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ConfigError(f"generated audio: expected (N, 2), found shape {a.shape}")
    if a.shape[1] == 1:
        a = np.repeat(a, 2, axis=1)
    if a.shape[0] < n:
        a = np.concatenate([a, np.zeros((n - a.shape[0], a.shape[1]), np.float32)])
    return a[:n, :2]


def score_pair(generated: np.ndarray, real: np.ndarray, sample_rate_hz: int,
               cfg: EvalConfig, real_onsets: np.ndarray | None = None) -> dict[str, float]:
    """Every per-clip metric of `generated` against `real` (both (N, 2) at `sample_rate_hz`)."""
    ref = audio_onsets(real, sample_rate_hz) if real_onsets is None else real_onsets
    est = audio_onsets(generated, sample_rate_hz)
    matches = len(match_onsets(ref, est, cfg.tolerance_ms / 1000))
    lag = onset_lag_ms(generated, real, sample_rate_hz, cfg.max_lag_ms)
    return {"onset_matches": matches, "onset_n_ref": len(ref), "onset_n_est": len(est),
            "lag_ms": lag.lag_ms, "lag_peak_corr": lag.peak_correlation,
            "mr_stft": mr_stft_distance(generated, real),
            "log_mel_l1": log_mel_l1(generated, real, sample_rate_hz),
            "ild_corr": ild_correlation(generated, real, sample_rate_hz)}


def _nanmean(values: list[float]) -> float:
    v = [x for x in values if not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(v)) if v else float("nan")


def aggregate(per_episode: list[dict[str, float]]) -> dict[str, float]:
    """Summary of one system over episodes (onset scores micro-averaged)."""
    m = sum(e["onset_matches"] for e in per_episode)
    nr = sum(e["onset_n_ref"] for e in per_episode)
    ne = sum(e["onset_n_est"] for e in per_episode)
    p = m / ne if ne else 0.0
    r = m / nr if nr else 0.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    lags = [abs(e["lag_ms"]) for e in per_episode]
    return {"onset_f": f, "onset_precision": p, "onset_recall": r,
            "abs_lag_ms": _nanmean(lags),
            "lag_defined": sum(not math.isnan(x) for x in lags),
            "lag_peak_corr": _nanmean([e["lag_peak_corr"] for e in per_episode]),
            "mr_stft": _nanmean([e["mr_stft"] for e in per_episode]),
            "log_mel_l1": _nanmean([e["log_mel_l1"] for e in per_episode]),
            "ild_corr": _nanmean([e["ild_corr"] for e in per_episode]),
            "ild_defined": sum(not math.isnan(e["ild_corr"]) for e in per_episode),
            "onsets_emitted": ne, "onsets_real": nr}


def evaluate(data_root: str | Path, out_dir: str | Path, *, generate: GenerateFn | None = None,
             model_name: str = "model", config: EvalConfig = EvalConfig(),
             feature_fn: FeatureFn = thumbnail_motion_features,
             model_info: dict[str, Any] | None = None,
             baseline_cache: str | Path | None = None) -> dict[str, Any]:
    """Run model and baselines on held-out episodes; write results.json, report.md, examples.

    Args:
        data_root: a dataset made by `livefoley data generate` (train and heldout shards).
        out_dir: where results go (created).
        generate: the model as `generate(frames (T,H,W,3) uint8, fps) -> (N, 2) float audio`
            at the dataset's sample rate; None evaluates the baselines only.
        model_name: the model's column name in the report.
        config: what to evaluate.
        feature_fn: vision features of the retrieval baseline.
        model_info: free-form facts about the model recorded in results.json.
        baseline_cache: a folder of `baseline_cache.BaselineCache` entries: the scores and
            embeddings of silence, shuffled, nn_retrieval and real are read from it when these
            clips and settings were scored before, and written to it when not. None: no cache.

    Returns:
        The results dict written to results.json.

    Raises:
        ConfigError: no held-out or no training shards.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    held_paths = list_shards(data_root, "heldout")
    if len(held_paths) > config.max_episodes:
        log.warning("evaluating the first %d of %d held-out episodes (--max-episodes)",
                    config.max_episodes, len(held_paths))
    held = [read_shard(p) for p in held_paths[: config.max_episodes]]
    train_paths = list_shards(data_root, "train")[: config.nn_train_shards]
    train = [read_shard(p) for p in train_paths]
    if not held or not train:
        raise ConfigError(f"evaluate {data_root}: expected train and heldout shards, found "
                          f"{len(train)} train and {len(held)} heldout")
    sr = held[0].sample_rate_hz
    t0 = time.perf_counter()
    nn = NearestNeighbourRetrieval(feature_fn, hop_samples=config.hop_samples,
                                   sample_rate_hz=sr).fit(train)
    clips = []
    for shard in held:
        n_ticks = int(min(config.max_seconds, shard.audio.shape[0] / sr) * sr) // config.hop_samples
        n = n_ticks * config.hop_samples
        n_frames = min(len(shard.frames), int(math.ceil(n / sr * shard.fps)) + 1)
        clips.append({"name": shard.name, "scenario": shard.meta.get("scenario"),
                      "frames": np.asarray(shard.frames[:n_frames]), "fps": shard.fps,
                      "real": np.asarray(shard.audio[:n], np.float32)})
    systems: dict[str, list[np.ndarray]] = {}
    timings: dict[str, float] = {}
    reals = [c["real"] for c in clips]
    if generate is not None:
        t = time.perf_counter()
        systems[model_name] = [_fit(generate(c["frames"], c["fps"]), len(c["real"]))
                               for c in clips]
        timings[model_name] = time.perf_counter() - t
    systems["silence"] = [silence(r) for r in reals]
    systems["shuffled"] = [shuffled_audio(reals, i) for i in range(len(reals))]
    t = time.perf_counter()
    systems["nn_retrieval"] = [_fit(nn.generate(c["frames"], c["fps"]), len(c["real"]))
                               for c in clips]
    timings["nn_retrieval"] = time.perf_counter() - t
    systems["real"] = reals
    cache, key, cached = _open_cache(baseline_cache, clips, train_paths, config, feature_fn)
    real_onsets = [audio_onsets(r, sr) for r in reals]
    per: dict[str, list[dict[str, float]]] = dict(cached.per_episode) if cached else {}
    t = time.perf_counter()
    for name, audios in systems.items():
        if name not in per:
            per[name] = [score_pair(a, r, sr, config, ro)
                         for a, r, ro in zip(audios, reals, real_onsets, strict=True)]
    per = {name: per[name] for name in systems}  # the report's column order
    stages = {"scoring": time.perf_counter() - t}
    summary = {name: aggregate(v) for name, v in per.items()}
    if config.embeddings:
        t = time.perf_counter()
        per_clip = _add_frechet(summary, systems, reals, sr, cached.embeddings if cached else {})
        stages["embeddings"] = time.perf_counter() - t
        # Per-clip embeddings of the model and the real audio, for eval-compare's FD interval.
        np.savez_compressed(out / EMBEDDINGS_FILE, **{
            f"{name}/{i}": e for name in (model_name, "real") if name in per_clip
            for i, e in enumerate(per_clip[name])})
    if cache is not None and cached is None:
        cache.save(key, CachedScores({n: per[n] for n in CACHED_SYSTEMS},
                                     {n: per_clip[n] for n in CACHED_SYSTEMS} if config.embeddings else {}))
    results = {
        "data_root": str(data_root), "sample_rate_hz": sr, "config": dataclasses.asdict(config),
        "episodes": [{"name": c["name"], "scenario": c["scenario"],
                      "seconds": len(c["real"]) / sr} for c in clips],
        "heldout_available": len(held_paths), "train_shards": len(train),
        "systems": list(systems), "model_name": model_name if generate is not None else None,
        "model_info": model_info or {},
        "summary": summary, "per_episode": per, "generate_seconds": timings, "stage_seconds": stages,
        "baseline_cache": {"path": str(cache.path(key)), "hit": cached is not None} if cache else None,
        "wall_s": time.perf_counter() - t0,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    from livefoley.models.evaluation.report import write_examples, write_report

    write_examples(out, clips, systems, sr, config)
    write_report(out, results, clips, systems, sr)
    log.info("evaluation written to %s (%.1f s)", out, results["wall_s"])
    return results


def _open_cache(root: str | Path | None, clips: list[dict[str, Any]], train_paths: list[Path],
                config: EvalConfig, feature_fn: FeatureFn):
    """(cache, key, entry or None); (None, None, None) without a root or a nameable feature."""
    if root is None:
        return None, None, None
    feature = feature_name(feature_fn)
    if feature is None:
        log.info("baseline cache: off (the retrieval feature %r has no stable name)", feature_fn)
        return None, None, None
    cache = BaselineCache(root)
    key = cache_key(clips, train_paths, config, feature)
    entry = cache.load(key)
    if entry is not None and config.embeddings and set(entry.embeddings) != set(CACHED_SYSTEMS):
        entry = None  # scores without embeddings cannot serve an FD run (the key differs anyway)
    log.info("baseline cache %s: %s", cache.path(key), "hit" if entry else "miss")
    return cache, key, entry


def _add_frechet(summary: dict[str, dict[str, float]], systems: dict[str, list[np.ndarray]],
                 reals: list[np.ndarray], sr: int,
                 known: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """Adds each system's pooled FD to `summary`; returns the embeddings per system and clip
    (those in `known` are taken from it, not computed)."""
    from livefoley.models.evaluation.embedding import AisfxEmbedder

    emb = AisfxEmbedder()
    per_clip = {"real": known["real"] if "real" in known else [emb.embed(r, sr) for r in reals]}
    real_e = np.concatenate(per_clip["real"])
    for name, audios in systems.items():
        if name != "real":
            per_clip[name] = known[name] if name in known else [emb.embed(a, sr) for a in audios]
        e = np.concatenate(per_clip[name])
        summary[name]["fd_aisfx"] = frechet_distance(e, real_e) if len(e) > 1 else float("nan")
    return per_clip
