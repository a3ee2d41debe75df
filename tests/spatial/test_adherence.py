"""Text-adherence metric with the real aisfx embedder on synthesised class clips."""

import importlib.util

import numpy as np
import pytest

from livefoley.models.spatial import adherence, foa, sounds
from livefoley.protocol.errors import ConfigError

needs_aisfx = pytest.mark.skipif(importlib.util.find_spec("aisfx") is None, reason="aisfx is not installed")


@pytest.fixture(scope="module")
def embed():
    from livefoley.models.evaluation.embedding import AisfxEmbedder

    return AisfxEmbedder().embed


@needs_aisfx
@pytest.mark.slow
def test_prompted_class_scores_positive_adherence(embed):
    labels = ("bell", "engine_hum", "gunshot")
    cents = adherence.class_centroids(embed, labels, clips_per_class=2, duration_s=2.4, seed=0)
    rng = np.random.default_rng(9)
    # "prompted" outputs: bells, encoded as FOA (the metric embeds W); "unprompted": other classes
    bells = [foa.encode_mono(sounds.synthesize("bell", 2.4, rng), 1.0, 0.2) for _ in range(2)]
    others = [sounds.synthesize(lab, 2.4, rng) for lab in ("engine_hum", "gunshot")]
    score = adherence.text_adherence(embed, bells, others, cents["bell"], 48000)
    assert score.adherence > 0.1, score
    # and a bell is nearest to the bell centroid
    e = adherence.clip_embedding(embed, bells[0], 48000)
    assert max(labels, key=lambda lab: float(e @ cents[lab])) == "bell"


def test_empty_sets_are_refused():
    with pytest.raises(ConfigError, match="found 0 prompted and 1 unprompted"):
        adherence.text_adherence(lambda a, sr: np.ones(3), [], [np.zeros(10)], np.ones(3), 48000)


def test_clip_embedding_uses_w_of_foa_and_normalises():
    seen = []

    def embed(a, sr):
        seen.append(a.copy())
        return np.array([[3.0, 4.0], [3.0, 4.0]])

    x = np.arange(8, dtype=np.float32)
    e = adherence.clip_embedding(embed, foa.encode_mono(x, 1.0, 0.0), 48000)
    np.testing.assert_allclose(seen[0], x)
    np.testing.assert_allclose(e, [0.6, 0.8])
