"""History guidance (`history_guidance` w_h): at 1 it changes nothing and adds no rows; else a
group of no-history rows (BOS at every audio position) runs beside cond and null, streaming
still equals offline, w_h 0 gives exactly the frames-alone condition, and a checkpoint
records w_h and refuses it out of range or on a model that cannot use it, by name."""

import argparse
import dataclasses

import pytest
import torch

from livefoley.models import StreamingGenerator, build_model
from livefoley.models.checkpoint import load_checkpoint, read_sampling_defaults, save_checkpoint
from livefoley.models.evaluation import cli as eval_cli
from livefoley.models.evaluation.modelfn import model_generate_fn
from livefoley.protocol.errors import ConfigError
from livefoley.sidecar import cli

from .helpers import random_frames
from .test_locdit_head import lmodel  # noqa: F401 (a fixture)
from .test_sampling_noise import TOL, _latents


def _conditions(gen, frames):
    out = []
    for t in range(frames.shape[1]):
        gen.step(frames[:, t])
        out.append(gen.last_condition.clone())
    return torch.stack(out, 1)


def test_scale_one_changes_nothing_and_adds_no_rows(model):
    frames = random_frames(2, 12)
    plain = StreamingGenerator(model, batch_size=2, seed=3)
    one = StreamingGenerator(model, batch_size=2, seed=3)
    one.set_options(history_guidance=1.0)
    assert one.cache.batch_size == plain.cache.batch_size == 4  # cond + null
    assert torch.equal(plain.generate_latents(frames), one.generate_latents(frames))


def test_other_scales_add_one_row_group_and_remove_it_again(model):
    gen = StreamingGenerator(model, batch_size=2)
    gen.set_options(history_guidance=0.5)
    assert gen.cache.batch_size == 6  # cond, null, no history
    gen.set_options(history_guidance=-0.5)
    assert gen.cache.batch_size == 6
    gen.set_options(history_guidance=1.0)
    assert gen.cache.batch_size == 4
    lone = StreamingGenerator(model, batch_size=2, guidance=False)
    lone.set_options(history_guidance=0.0)
    assert lone.cache.batch_size == 4  # cond + no history


@pytest.mark.parametrize("w_h, nfe", [(0.5, 1), (-0.5, 2)])
def test_streaming_equals_offline_with_history_guidance(model, cfg, w_h, nfe):
    T = 2 * cfg.transformer.window_frames + 3
    frames = random_frames(2, T, seed=4)
    gen = StreamingGenerator(model, batch_size=2, seed=7)
    gen.set_options(nfe=nfe, history_guidance=w_h, feedback_noise=0.3)
    streamed = _latents(gen, frames)
    offline = gen.generate_latents(frames)
    assert (streamed - offline).abs().max().item() < TOL
    plain = StreamingGenerator(model, batch_size=2, seed=7)
    plain.set_options(nfe=nfe, feedback_noise=0.3)
    assert (plain.generate_latents(frames) - offline).abs().max().item() > 1e-3  # it acts


def test_streaming_conditions_equal_the_guided_teacher_forced_pass(model, cfg):
    T = 2 * cfg.transformer.window_frames + 2
    frames = random_frames(1, T, seed=2)
    gen = StreamingGenerator(model, seed=1)
    gen.set_options(guidance_scale=2.5, history_guidance=0.25)
    conds = _conditions(gen, frames)
    latents = gen.generate_latents(frames)
    with torch.no_grad():
        tokens = model.vision(frames, "RGBA8")
        offline = gen.forward_train(tokens, latents)
        no_history = model.guided_conditions(tokens, latents, 2.5)
    assert (conds - offline).abs().max().item() < TOL
    assert (offline - no_history).abs().max().item() > 1e-3


def test_scale_zero_without_guidance_is_the_frames_alone_condition(model, cfg):
    """w_h 0, CFG 1: z is exactly what the no-history rows give, BOS at every audio position."""
    T = cfg.transformer.window_frames + 4
    frames = random_frames(1, T, seed=5)
    gen = StreamingGenerator(model, seed=2, guidance=False)
    gen.set_options(history_guidance=0.0)
    conds = _conditions(gen, frames)
    latents = gen.generate_latents(frames)
    with torch.no_grad():
        tokens = model.vision(frames, "RGBA8")
        alone = model.forward_train(tokens, latents, drop_history=torch.tensor([True]))
        other = model.forward_train(tokens, latents.flip(1), drop_history=torch.tensor([True]))
        fed = model.forward_train(tokens, latents)
    assert (conds - alone).abs().max().item() < TOL
    torch.testing.assert_close(alone, other)  # the latents fed back do not matter
    assert (conds - fed).abs().max().item() > 1e-3


@pytest.mark.parametrize("w_h", [4.5, -4.01, float("nan")])
def test_out_of_range_scales_are_refused_by_name_and_change_nothing(model, w_h):
    gen = StreamingGenerator(model)
    with pytest.raises(ConfigError, match=r"history_guidance: expected -4\.\.4, found"):
        gen.set_options(nfe=2, history_guidance=w_h)
    assert (gen.nfe, gen.history_guidance, gen.cache.batch_size) == (1, 1.0, 2)


def test_text_models_and_the_patch_head_refuse_it_by_name(cfg, lmodel):  # noqa: F811
    text = build_model(dataclasses.replace(cfg, text_dim=16))
    with pytest.raises(ConfigError, match="history_guidance: expected 1.0 for a text model"):
        StreamingGenerator(text).set_options(history_guidance=0.5)
    with pytest.raises(ConfigError, match="history_guidance: expected 1.0 for head_kind "
                                          "'locdit'"):
        StreamingGenerator(lmodel).set_options(history_guidance=0.5)
    StreamingGenerator(lmodel).set_options(history_guidance=1.0)  # 1 is always fine


def test_model_command_records_it_and_the_generator_uses_it(model, tmp_path, capsys):
    src, out = tmp_path / "m.safetensors", tmp_path / "tagged.safetensors"
    save_checkpoint(model, src)
    assert cli.main(["model", str(src), "--set-history-guidance", "0.5", "--out", str(out)]) == 0
    assert "'history_guidance': 0.5" in capsys.readouterr().out
    assert read_sampling_defaults(out) == {"history_guidance": 0.5}
    gen = StreamingGenerator(load_checkpoint(out), seed=0)
    assert gen.history_guidance == 0.5 and gen.cache.batch_size == 3
    frames = random_frames(1, 8, seed=9)
    tagged = StreamingGenerator(model, seed=0)
    tagged.set_options(history_guidance=0.5)
    assert torch.equal(gen.generate_latents(frames), tagged.generate_latents(frames))


@pytest.mark.parametrize("value, message", [
    ("5", "history_guidance: expected a finite number in [-4, 4], found 5.0"),
    ("nan", "history_guidance: expected a finite number in [-4, 4]"),
])
def test_model_command_refuses_it_out_of_range(model, tmp_path, value, message, capsys):
    path = tmp_path / "m.safetensors"
    save_checkpoint(model, path)
    assert cli.main(["model", str(path), "--set-history-guidance", value]) == 2
    assert message in capsys.readouterr().err
    assert read_sampling_defaults(path) == {}


def test_model_command_refuses_it_for_a_patch_head_model(lmodel, tmp_path, capsys):  # noqa: F811
    path = tmp_path / "l.safetensors"
    save_checkpoint(lmodel, path)
    assert cli.main(["model", str(path), "--set-history-guidance", "0.5"]) == 2
    assert "history_guidance: expected 1.0 for head_kind 'locdit'" in capsys.readouterr().err
    assert read_sampling_defaults(path) == {}


def test_eval_model_function_passes_it_to_the_generator(model, cfg, tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(model, path)
    frames = random_frames(1, 12, seed=3)[0, ..., :3].numpy()  # (T, H, W, 3) uint8
    rate = cfg.vae.latent_rate_hz
    plain, info = model_generate_fn(str(path), seed=1)
    guided, ginfo = model_generate_fn(str(path), seed=1, history_guidance=0.5)
    assert (info["history_guidance"], ginfo["history_guidance"]) == (1.0, 0.5)
    a, b = plain(frames, rate), guided(frames, rate)
    assert a.shape == b.shape and abs(a - b).max() > 1e-4
    parser = argparse.ArgumentParser()
    eval_cli.add_arguments(parser)
    args = parser.parse_args(["--data", "d", "--model", "m", "--out", "o",
                              "--history-guidance", "0.5"])
    assert args.history_guidance == 0.5
