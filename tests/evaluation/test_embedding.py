"""The aisfx embedder loads its bundled weights and separates different sounds."""

import numpy as np
import pytest

from livefoley.models.evaluation.embedding import EMBEDDING_DIM, AisfxEmbedder, aisfx_log_mel
from livefoley.models.evaluation.frechet import frechet_distance

from .signals import SR, click_train, irregular_times


@pytest.fixture(scope="module")
def embedder():
    return AisfxEmbedder()


def test_front_end_shape_and_range():
    spec = aisfx_log_mel(click_train([0.5], 1.0), SR)
    assert spec.shape == (1 + 44100 // 1024, 96)
    assert 0.0 <= spec.min() and spec.max() <= 1.5


def test_embeddings_are_deterministic_and_separate_sounds(embedder):
    rng = np.random.default_rng(0)
    clicks = click_train(irregular_times(20, 4.0), 4.0)
    tone = np.repeat(np.sin(2 * np.pi * 220 * np.arange(4 * SR) / SR)[:, None], 2, 1) * 0.5
    tone = tone * (1 + 0.1 * rng.standard_normal(tone.shape))
    e1 = embedder.embed(clicks, SR)
    assert e1.shape[1] == EMBEDDING_DIM and e1.shape[0] == 3  # 173 frames: blocks at 0, 25, 50
    np.testing.assert_array_equal(e1, embedder.embed(clicks, SR))
    e2 = embedder.embed(tone, SR)
    d_same = np.linalg.norm(e1.mean(0) - embedder.embed(click_train(irregular_times(
        20, 4.0, seed=5), 4.0, seed=3), SR).mean(0))
    d_diff = np.linalg.norm(e1.mean(0) - e2.mean(0))
    assert d_diff > 2 * d_same
    assert frechet_distance(e1, e1) == pytest.approx(0.0, abs=1e-6)
