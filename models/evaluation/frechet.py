"""Fréchet distance between two sets of embeddings (the FAD/FID formula).

What it is: FD = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of the two sets' Gaussian
fits (Heusel et al. 2017, eq. 6; Kilgour et al. 2019 for audio). The trace term is computed as the sum of square roots of
the eigenvalues of the symmetric PSD matrix S_a^(1/2) S_b S_a^(1/2), which has the same
eigenvalues as S_a S_b: stable for the rank-deficient covariances of small sets, no complex
round-off to discard. With fewer embeddings than dimensions (the usual case for held-out
clips and 512-d aisfx) the same trace is the nuclear norm of the centred cross product A B',
which is exact and much cheaper.

What it is not: comparable with published FAD numbers: the embedding model here is aisfx
(sound effects), not VGGish, and held-out sets are small, so FD is biased upwards; compare
systems within one run only.
"""

from __future__ import annotations

import logging

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between embedding sets a (n, D) and b (m, D).

    Raises:
        ConfigError: sets of different width, or fewer than 2 rows.

    Thread-safety: pure function. Real-time safe: no.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ConfigError(f"Frechet distance: expected two (n, D) sets of one D, found "
                          f"{a.shape} and {b.shape}")
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ConfigError(f"Frechet distance: expected at least 2 embeddings per set, found "
                          f"{a.shape[0]} and {b.shape[0]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    A, B = a - mu_a, b - mu_b  # centred (n, D), (m, D)
    ca, cb = a.shape[0] - 1, b.shape[0] - 1
    tr_a, tr_b = np.sum(A * A) / ca, np.sum(B * B) / cb
    if min(a.shape[0], b.shape[0]) <= a.shape[1]:
        # Few embeddings: S_a S_b = A'A B'B / (ca cb) has the nonzero eigenvalues of
        # (A B')(A B')' / (ca cb), so tr (S_a S_b)^(1/2) is the nuclear norm of A B' over
        # sqrt(ca cb): an (n, m) SVD instead of two (D, D) eigendecompositions.
        tr_covmean = np.linalg.svd(A @ B.T, compute_uv=False).sum() / np.sqrt(ca * cb)
    else:
        sa, sb = A.T @ A / ca, B.T @ B / cb
        w, v = np.linalg.eigh(sa)
        root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # S_a^(1/2)
        m = root_a @ sb @ root_a
        tr_covmean = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)))
    diff = mu_a - mu_b
    fd = diff @ diff + tr_a + tr_b - 2.0 * tr_covmean
    return float(max(fd, 0.0))
