"""How predictable a VAE's latent stream is from its own past.

What it is: `latent_predictability`, the held-out R^2 of a linear autoregressive predictor of
each latent vector from the `order` before it (ridge least squares with an intercept, fitted
leave-one-clip-out: every clip is predicted by a fit on the others, and the squared errors of
all clips are pooled against the pooled variance), and `step_ratio`, the mean squared step
between neighbouring latents over twice their variance (0 for a constant stream, 1 for white
noise, 1 - a for an AR(1) process with coefficient a). `livefoley eval --vae-round-trip`
reports both for the real audio's latents next to the round trip's scores.

Why: a generator feeds its own samples back, so the latent space it models is part of its
difficulty. Two VAEs can differ in how much of the next latent their past explains. That the
more predictable stream makes the better generator is a natural guess, and it was tested: on
this project's data it did not hold (the shipped VAE's stream is the more predictable, and a
fresh generator trained in it came out worse; `models/weights/MODEL_CARD.md`, "Is it the
latent space?"). The numbers describe a latent space; they do not rank VAEs.

What it is not: a quality score of the VAE (a VAE that encodes nothing is perfectly
predictable); read it beside the round trip.
"""

from __future__ import annotations

import numpy as np

from livefoley.protocol.errors import ConfigError


def _check(clips: list[np.ndarray], order: int) -> None:
    if order < 1:
        raise ConfigError(f"latent_predictability: expected order >= 1, found {order}")
    if len(clips) < 2:
        raise ConfigError("latent_predictability: expected at least 2 clips (leave-one-out), "
                          f"found {len(clips)}")
    dims = {c.shape[1] if c.ndim == 2 else None for c in clips}
    if len(dims) != 1 or None in dims:
        raise ConfigError("latent_predictability: expected (T, L) arrays of one L, found shapes "
                          f"{sorted({tuple(c.shape) for c in clips})}")
    short = [i for i, c in enumerate(clips) if c.shape[0] <= order]
    if short:
        raise ConfigError(f"latent_predictability: expected clips longer than order {order}, "
                          f"found {len(short)} not (first: clip {short[0]}, "
                          f"{clips[short[0]].shape[0]} latents)")


def _lagged(z: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows (T - order, order * L + 1): the `order` previous latents and 1; targets)."""
    T = z.shape[0]
    past = [z[order - j - 1:T - j - 1] for j in range(order)]
    return np.concatenate(past + [np.ones((T - order, 1))], axis=1), z[order:]


def latent_predictability(clips: list[np.ndarray], order: int = 1,
                          ridge: float = 1e-3) -> float:
    """Leave-one-clip-out R^2 of the AR(`order`) predictor over `clips` [(T, L)] (see above).

    Raises:
        ConfigError: order < 1, fewer than 2 clips, clips of unlike or non-2-D shapes, or a
            clip no longer than `order`.
    """
    _check(clips, order)
    parts = [_lagged(np.asarray(c, np.float64), order) for c in clips]
    gram = [x.T @ x for x, _ in parts]
    cross = [x.T @ y for x, y in parts]
    gram_all, cross_all = sum(gram), sum(cross)
    reg = ridge * np.eye(gram_all.shape[0])
    sse = 0.0
    for (x, y), g, c in zip(parts, gram, cross):
        w = np.linalg.solve(gram_all - g + reg, cross_all - c)
        sse += float(np.square(x @ w - y).sum())
    targets = np.concatenate([y for _, y in parts])
    return 1.0 - sse / float(np.square(targets - targets.mean(0)).sum())


def step_ratio(clips: list[np.ndarray]) -> float:
    """Mean |z_t - z_(t-1)|^2 over 2 x the summed per-dimension variance of all latents.

    Raises:
        ConfigError: as `latent_predictability` with order 1.
    """
    _check(clips, 1)
    steps = np.concatenate([np.diff(np.asarray(c, np.float64), axis=0) for c in clips])
    var = float(np.concatenate(clips).astype(np.float64).var(0).sum())
    if var == 0.0:
        raise ConfigError("step_ratio: expected latents that vary, found a constant stream")
    return float(np.square(steps).sum(1).mean() / (2.0 * var))
