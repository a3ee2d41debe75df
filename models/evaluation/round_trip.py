"""VAE round trip: the most of the game's audio that a model's latents can carry.

What it is: `heldout_reals`, the held-out clips as the reference-fed diagnostics read them
(whole latent ticks of the real audio, the sample rate checked against the model's), and
`vae_round_trip_scores`, which passes each clip's real audio through the model's VAE (encoder
mean, then decoder) and scores it with the evaluation's per-clip metrics (`runner.score_pair`,
onsets micro-averaged as in the report). A generator cannot sound closer to the game than its
VAE's round trip: next to the free-running `livefoley eval` numbers it splits the gap to the
real audio into the VAE's part and the generator's. With two clips or more it also reports how
predictable the real audio's latents are from their own past (`latent_stats.py`): part of what
the generator has to model. `livefoley eval --vae-round-trip` runs it.

What it is not: a model score to ship: it needs the real audio.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from livefoley.models.data.shards import Shard, list_shards, read_shard
from livefoley.models.evaluation.latent_stats import latent_predictability, step_ratio
from livefoley.models.evaluation.runner import EvalConfig, aggregate, score_pair
from livefoley.protocol.errors import ConfigError


def heldout_reals(data_root: str | Path, model, *, max_episodes: int, max_seconds: float,
                  what: str) -> Iterator[tuple[Shard, int, np.ndarray]]:
    """(shard, J latent ticks, its first J hops of real audio (J*hop, C) float32) per clip.

    Raises:
        ConfigError: no held-out shards, or a shard at another sample rate than the model's.
    """
    paths = list_shards(data_root, "heldout")[:max_episodes]
    if not paths:
        raise ConfigError(f"{what} {data_root}: expected held-out shards, found none")
    hop, rate = model.config.hop_samples, model.config.vae.latent_rate_hz
    for path in paths:
        shard = read_shard(path)
        if shard.sample_rate_hz != model.config.vae.sample_rate_hz:
            raise ConfigError(f"{path}: expected {model.config.vae.sample_rate_hz} Hz audio "
                              f"(the model's), found {shard.sample_rate_hz} Hz")
        J = min(int(max_seconds * rate), shard.audio.shape[0] // hop)
        yield shard, J, np.array(shard.audio[: J * hop], dtype=np.float32)  # a copy: read-only


def vae_round_trip_scores(data_root: str | Path, model_path: str, *, max_episodes: int = 8,
                          max_seconds: float = 20.0) -> dict:
    """Summary (as `runner.aggregate`) and per-clip scores of the VAE round trip.

    Raises:
        ConfigError: as `heldout_reals`.
    """
    import torch

    from livefoley.models.checkpoint import load_model
    from livefoley.models.evaluation.spatial import encoder_means

    model = load_model(model_path).eval()
    per, latents = [], []
    for shard, _, real in heldout_reals(data_root, model, max_episodes=max_episodes,
                                        max_seconds=max_seconds, what="VAE round trip"):
        with torch.inference_mode():
            mean = encoder_means(model, real.T)  # (1, L, J)
            rec = model.vae.decode(mean)[0].float().cpu().numpy().T  # (J*hop, C)
        latents.append(mean[0].T.float().cpu().numpy())
        per.append(score_pair(rec, real, shard.sample_rate_hz, EvalConfig()))
    out = {"summary": aggregate(per), "per_episode": per, "model": model_path}
    if len(latents) >= 2:  # leave-one-clip-out needs two
        out["latents"] = latent_report(latents)
    return out


def latent_report(latents: list[np.ndarray]) -> dict[str, float]:
    """How predictable the real audio's latents are from their past (latent_stats.py)."""
    return {"ar1_r2": latent_predictability(latents, 1),
            "ar4_r2": latent_predictability(latents, 4),
            "step_ratio": step_ratio(latents), "clips": len(latents)}
