"""Text adherence: does naming a sound class in the prompt move the output toward that class?

Issue 9 measures text control by the embedding-space similarity of generated audio to a
sound class, with the class named in the prompt against no prompt:

    adherence(class) = mean cos(e(out | prompt names class), c_class)
                     - mean cos(e(out | no prompt),          c_class)

where e is an audio embedder (e.g. models/evaluation's AisfxEmbedder, passed in as a
callable) and c_class the unit centroid of e over reference clips of the class, here
synthesised with sounds.synthesize so no data is needed. Positive = the prompt pulls the
output toward the class. FOA clips are embedded through W (the omni signal).

This module scores audio; generating it under a prompt is the model's job.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

import numpy as np

from livefoley.protocol.errors import ConfigError

from .sounds import SOUND_CLASSES, synthesize

log = logging.getLogger(__name__)

#: (audio, sample_rate_hz) -> (blocks, D) or (D,) embeddings.
Embedder = Callable[[np.ndarray, int], np.ndarray]


def clip_embedding(embed: Embedder, audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Unit (D,) embedding of a clip: mono, (2, N) stereo or (4, N) AmbiX (W is used)."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:
        a = a[0] if a.shape[0] == 4 else a.mean(axis=0)
    e = np.asarray(embed(a, sample_rate_hz), dtype=np.float64)
    e = e.mean(axis=0) if e.ndim == 2 else e
    n = float(np.linalg.norm(e))
    if not n > 0:
        raise ConfigError(f"clip_embedding: expected a non-zero embedding, found norm {n}")
    return e / n


def class_centroids(embed: Embedder, labels: Sequence[str] = SOUND_CLASSES, *, clips_per_class: int = 3,
                    duration_s: float = 3.0, seed: int = 0, sample_rate_hz: int = 48000) -> dict[str, np.ndarray]:
    """Unit centroid per class over freshly synthesised reference clips (deterministic)."""
    rng = np.random.default_rng(seed)
    out = {}
    for label in labels:
        embs = [clip_embedding(embed, synthesize(label, duration_s, rng, sample_rate_hz=sample_rate_hz),
                               sample_rate_hz) for _ in range(clips_per_class)]
        c = np.mean(embs, axis=0)
        out[label] = c / np.linalg.norm(c)
    return out


@dataclasses.dataclass(frozen=True)
class AdherenceScore:
    """Similarity to one class centroid with and without the class named in the prompt."""

    similarity_prompted: float
    similarity_unprompted: float

    @property
    def adherence(self) -> float:
        """Prompted minus unprompted similarity (> 0: the prompt works)."""
        return self.similarity_prompted - self.similarity_unprompted


def text_adherence(embed: Embedder, prompted: Sequence[np.ndarray], unprompted: Sequence[np.ndarray],
                   centroid: np.ndarray, sample_rate_hz: int) -> AdherenceScore:
    """Score clips generated with and without a prompt naming the centroid's class."""
    if not prompted or not unprompted:
        raise ConfigError(f"text_adherence: expected clips in both sets, found {len(prompted)} prompted "
                          f"and {len(unprompted)} unprompted")
    sim = lambda clips: float(np.mean([clip_embedding(embed, c, sample_rate_hz) @ centroid  # noqa: E731
                                       for c in clips]))
    return AdherenceScore(sim(prompted), sim(unprompted))


__all__ = ["Embedder", "clip_embedding", "class_centroids", "AdherenceScore", "text_adherence"]
