"""Latent predictability (latent_stats.py) on streams whose answers are known, and in
`livefoley eval --vae-round-trip`."""

import json

import numpy as np
import pytest

from livefoley.models.evaluation.latent_stats import latent_predictability, step_ratio
from livefoley.protocol.errors import ConfigError


def ar1_clips(a: float, n_clips: int = 6, T: int = 3000, L: int = 4, seed: int = 0):
    """Stationary AR(1) streams z_t = a z_(t-1) + e_t: the one-step R^2 is a^2."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n_clips):
        z = np.empty((T, L))
        z[0] = rng.standard_normal(L) / np.sqrt(1 - a * a)
        for t in range(1, T):
            z[t] = a * z[t - 1] + rng.standard_normal(L)
        clips.append(z)
    return clips


@pytest.mark.parametrize("a", [0.0, 0.5, 0.9])
def test_ar1_stream_r2_is_a_squared_and_step_ratio_one_minus_a(a):
    clips = ar1_clips(a)
    assert latent_predictability(clips, 1) == pytest.approx(a * a, abs=0.02)
    assert latent_predictability(clips, 4) == pytest.approx(a * a, abs=0.02)  # no more to find
    assert step_ratio(clips) == pytest.approx(1 - a, abs=0.03)


def test_a_deterministic_recurrence_needs_its_order():
    """A sampled sinusoid obeys z_t = 2 cos(w) z_(t-1) - z_(t-2): AR(2) explains it, AR(1) not."""
    t = np.arange(2000)[:, None]
    clips = [np.sin(0.3 * t + ph) for ph in (0.0, 1.0, 2.0)]
    assert latent_predictability(clips, 4) > 0.9999
    assert latent_predictability(clips, 1) < 0.96  # only cos(w)^2 = 0.913 of it


@pytest.mark.parametrize("clips, order, match", [
    ([np.zeros((10, 2))], 1, "expected at least 2 clips"),
    ([np.zeros((10, 2)), np.zeros((10, 3))], 1, "expected \\(T, L\\) arrays of one L"),
    ([np.zeros((10, 2)), np.zeros(10)], 1, "expected \\(T, L\\) arrays of one L"),
    ([np.zeros((10, 2)), np.zeros((3, 2))], 4, "expected clips longer than order 4, found 1"),
    ([np.zeros((10, 2)), np.zeros((10, 2))], 0, "expected order >= 1, found 0"),
])
def test_bad_input_is_named(clips, order, match):
    with pytest.raises(ConfigError, match=match):
        latent_predictability(clips, order)


def test_step_ratio_refuses_a_constant_stream():
    with pytest.raises(ConfigError, match="found a constant stream"):
        step_ratio([np.ones((5, 2)), np.ones((5, 2))])


@pytest.fixture(scope="module")
def two_clip_dataset(tmp_path_factory):
    from livefoley.models.data.generate import DataConfig, generate_dataset

    root = tmp_path_factory.mktemp("two_clips")
    generate_dataset(root, DataConfig(seed=3, train_episodes=1, heldout_episodes=2,
                                      tics_per_episode=40,
                                      train_scenarios=("defend_the_center",),
                                      heldout_scenarios=("freedoom2:MAP22",)))
    return root


def test_vae_round_trip_reports_the_real_latents_predictability(two_clip_dataset, tmp_path,
                                                                 capsys):
    pytest.importorskip("livefoley.models.generator", reason="the models part provides it")
    from livefoley.models.evaluation.latent_stats import latent_predictability as lp
    from livefoley.models.evaluation.round_trip import heldout_reals
    from livefoley.models.evaluation.spatial import encoder_means
    from livefoley.models.checkpoint import load_model
    from livefoley.sidecar.cli import main

    out = tmp_path / "eval"
    assert main(["eval", "--data", str(two_clip_dataset), "--out", str(out), "--model", "tiny",
                 "--vae-round-trip", "--no-fd", "--no-plots", "--examples", "0",
                 "--seconds", "1"]) == 0
    assert "the real audio's latents: AR(1) R2" in capsys.readouterr().out
    rep = json.loads((out / "vae_round_trip.json").read_text())["latents"]
    assert rep["clips"] == 2 and 0 < rep["step_ratio"]
    # the numbers are those of the encoder's means of the held-out clips
    model = load_model("tiny").eval()
    lat = [encoder_means(model, real.T)[0].T.detach().numpy()
           for _, _, real in heldout_reals(two_clip_dataset, model, max_episodes=8,
                                           max_seconds=1.0, what="test")]
    assert rep["ar1_r2"] == pytest.approx(lp(lat, 1), abs=1e-6)
