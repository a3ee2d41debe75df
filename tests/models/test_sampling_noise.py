"""The generator's noise options: AR(1) sampling noise across steps (`noise_correlation`) and
noise on the fed-back latent (`feedback_noise`). Off, they change nothing; on, streaming still
equals offline, each step's noise keeps its N(0, I) marginal, and only the transformer's input
is noised; a checkpoint records them and refuses values out of range by name."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from livefoley.models import StreamingGenerator
from livefoley.models.noise_options import FEEDBACK_SEED_OFFSET
from livefoley.models.checkpoint import load_checkpoint, read_sampling_defaults, save_checkpoint
from livefoley.protocol.errors import CheckpointError, ConfigError
from livefoley.sidecar import cli

from .helpers import random_frames
from .test_locdit_head import K, lmodel  # noqa: F401 (lmodel: a fixture)

TOL = 1e-4  # as test_generator: float32 reduction orders differ between the two passes


def _latents(gen, frames):
    out = []
    for t in range(frames.shape[1]):
        gen.step(frames[:, t])
        out.append(gen.prev_latent.clone())
    return torch.stack(out, 1)


def test_options_off_change_nothing(model, cfg):
    frames = random_frames(2, 12)
    plain = StreamingGenerator(model, batch_size=2, seed=3)
    off = StreamingGenerator(model, batch_size=2, seed=3)
    off.set_options(noise_correlation=0.0, feedback_noise=0.0)
    assert (off.noise_correlation, off.feedback_noise) == (0.0, 0.0)
    assert torch.equal(plain.generate_latents(frames), off.generate_latents(frames))


@pytest.mark.parametrize("rho, f, nfe", [(0.7, 0.5, 2), (1.0, 1.0, 1)])
def test_streaming_equals_offline_with_noise_options(model, cfg, rho, f, nfe):
    T = 2 * cfg.transformer.window_frames + 3
    frames = random_frames(2, T, seed=4)
    gen = StreamingGenerator(model, batch_size=2, seed=7)
    gen.set_options(nfe=nfe, noise_correlation=rho, feedback_noise=f)
    streamed = _latents(gen, frames)
    offline = gen.generate_latents(frames)
    assert (streamed - offline).abs().max().item() < TOL
    again = gen.generate_latents(frames)  # the same seed, the same stream: deterministic
    assert torch.equal(offline, again)
    plain = StreamingGenerator(model, batch_size=2, seed=7)
    plain.set_options(nfe=nfe)
    assert (plain.generate_latents(frames) - offline).abs().max().item() > 1e-3  # it acts


def test_locdit_streams_like_offline_with_noise_options(lmodel):  # noqa: F811
    T = 3 * K + 1
    frames = random_frames(1, T, seed=2)
    gen = StreamingGenerator(lmodel, seed=5)
    gen.set_options(nfe=2, noise_correlation=0.9, feedback_noise=0.5)
    patches = []
    for t in range(T):
        gen.step(frames[:, t])
        if (t + 1) % K == 0:
            patches.append(gen.last_patch)
    patches = torch.cat(patches, 1)
    offline = gen.generate_latents(frames)
    assert (offline - patches).abs().max().item() < TOL * max(1.0, patches.abs().max().item())


def test_ar1_noise_keeps_the_marginal_and_sets_the_step_correlation(model, cfg):
    gen = StreamingGenerator(model, batch_size=64, seed=11)
    gen.set_options(noise_correlation=0.6)
    draws = torch.stack([gen._noise()[0].clone() for _ in range(400)])  # (steps, B, L)
    x = draws.numpy().astype(np.float64)
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1.0) < 0.02
    lag1 = (x[1:] * x[:-1]).mean() / x.var()
    lag2 = (x[2:] * x[:-2]).mean() / x.var()
    assert abs(lag1 - 0.6) < 0.02 and abs(lag2 - 0.36) < 0.02
    gen.set_options(noise_correlation=1.0)  # a change restarts the chain: one draw held
    first = gen._noise().clone()
    assert all(torch.equal(first, gen._noise()) for _ in range(5))
    gen.set_options(noise_correlation=0.0)  # independent draws again
    assert not torch.equal(gen._noise().clone(), gen._noise())


def test_feedback_noise_reaches_the_transformer_only(model, cfg):
    frames = random_frames(1, 40, seed=6)
    fed = []
    gen = StreamingGenerator(model, seed=1)
    step_audio = gen.model.step_audio

    def spy(latent, cache, *rest):
        fed.append(None if latent is None else latent.clone())
        return step_audio(latent, cache, *rest)

    gen.model.step_audio = spy
    gen.set_options(feedback_noise=0.8)
    played = _latents(gen, frames)  # (1, T, L): what the decoder gets
    del gen.model.step_audio
    assert fed[0] is None  # BOS: nothing fed back yet
    # fed at step t = played at t - 1 + 0.8 x a draw of the feedback stream (seed + offset)
    g = torch.Generator().manual_seed(1 + FEEDBACK_SEED_OFFSET)
    want = torch.stack([0.8 * torch.randn(1, cfg.latent_dim, generator=g)
                        for _ in fed[1:]], 1)
    assert (torch.stack(fed[1:], 1) - played[:, :-1] - want).abs().max().item() < 1e-5
    plain = StreamingGenerator(model, seed=1)
    clean = _latents(plain, frames)  # streamed, as `played`
    assert torch.equal(clean[:, 0], played[:, 0])  # step 1 has nothing fed back: same draw
    assert (clean[:, 1:] - played[:, 1:]).abs().max().item() > 1e-3


def test_bad_noise_options_are_refused_by_name_and_change_nothing(model):
    gen = StreamingGenerator(model)
    for kw, text in (({"noise_correlation": 1.5}, "noise_correlation: expected 0..1, found 1.5"),
                     ({"noise_correlation": -0.1}, "noise_correlation: expected 0..1"),
                     ({"feedback_noise": -1.0}, "feedback_noise: expected 0 <= f < 10, found -1"),
                     ({"feedback_noise": 10.0}, "feedback_noise: expected 0 <= f < 10")):
        with pytest.raises(ConfigError, match=text):
            gen.set_options(nfe=2, **kw)
        assert (gen.nfe, gen.noise_correlation, gen.feedback_noise) == (1, 0.0, 0.0)


def test_model_command_records_the_noise_options_and_the_generator_uses_them(model, tmp_path,
                                                                            capsys):
    src, out = tmp_path / "m.safetensors", tmp_path / "tagged.safetensors"
    save_checkpoint(model, src)
    assert cli.main(["model", str(src), "--set-noise-correlation", "1", "--set-feedback-noise",
                     "0.5", "--set-guidance", "3", "--out", str(out)]) == 0
    assert "'feedback_noise': 0.5" in capsys.readouterr().out
    want = {"noise_correlation": 1.0, "feedback_noise": 0.5, "guidance_scale": 3.0}
    assert read_sampling_defaults(out) == want
    gen = StreamingGenerator(load_checkpoint(out))
    assert (gen.noise_correlation, gen.feedback_noise) == (1.0, 0.5)
    frames = random_frames(1, 8, seed=9)
    tagged = StreamingGenerator(model, seed=0)
    tagged.set_options(noise_correlation=1.0, feedback_noise=0.5)
    assert torch.equal(StreamingGenerator(load_checkpoint(out), seed=0).generate_latents(frames),
                       tagged.generate_latents(frames))


@pytest.mark.parametrize("flag, value, message", [
    ("--set-noise-correlation", "1.2", "noise_correlation: expected a finite number in [0, 1], "
                                       "found 1.2"),
    ("--set-noise-correlation", "nan", "noise_correlation: expected a finite number in [0, 1]"),
    ("--set-feedback-noise", "-0.5", "feedback_noise: expected a finite number in [0, 10), "
                                     "found -0.5"),
    ("--set-feedback-noise", "inf", "feedback_noise: expected a finite number in [0, 10)"),
])
def test_model_command_refuses_noise_options_out_of_range(model, tmp_path, flag, value, message,
                                                          capsys):
    path = tmp_path / "m.safetensors"
    save_checkpoint(model, path)
    assert cli.main(["model", str(path), flag, value]) == 2
    assert message in capsys.readouterr().err
    assert read_sampling_defaults(path) == {}


def test_malformed_noise_defaults_in_a_file_are_named(model, tmp_path):
    path, bad = tmp_path / "m.safetensors", tmp_path / "bad.safetensors"
    save_checkpoint(model, path)
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta["sampling"] = json.dumps({"noise_correlation": "high"})
    save_file(tensors, str(bad), metadata=meta)
    with pytest.raises(CheckpointError, match="noise_correlation: expected a finite number "
                                              r"in \[0, 1\], found 'high'"):
        load_checkpoint(bad)
