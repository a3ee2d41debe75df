"""Stage 2 with the model's own samples fed back (`--rollout-passes`).

What a rollout is (exactly the free-running sampler on its first K positions), which windows
read it and which stay teacher-forced, where the gradient goes, the refusals, and what a run
records.
"""

import dataclasses
import json

import pytest
import torch

from livefoley.models.config import PatchHeadConfig
from livefoley.models.training import cli
from livefoley.models.training.conditions import (
    conditions_from_tokens,
    teacher_forced_conditions,
    window_vision_tokens,
)
from livefoley.models.training.diffusion_stage import DiffusionObjective, DiffusionStageConfig
from livefoley.models.training.own_samples import guided_samples, rollout_latents
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import ConfigError

from .helpers import small_config, stage_args

B, T, L = 3, 6, 64


def _model(**sampling):
    torch.manual_seed(0)
    model = build_model(small_config())
    model.sampling_defaults = dict(sampling)
    return model


def _window(seed=0):
    g = torch.Generator().manual_seed(seed)
    frames = torch.randint(0, 255, (B, T + 1, 24, 32, 3), generator=g, dtype=torch.uint8)
    return frames, 0.5 * torch.randn(B, T, L, generator=g)


def _free_running(model, tokens, noise, scale):
    """The sampler run one position at a time, each sample fed back before the next."""
    own = torch.zeros(B, T, L)
    for i in range(T):
        own[:, i] = guided_samples(model, tokens, own, noise, scale)[:, i]
    return own


@pytest.mark.parametrize("nfe, scale", [(1, 2.0), (2, 3.0), (1, 1.0)])
def test_a_rollout_equals_the_free_running_sampler_on_its_first_k_positions(nfe, scale):
    model = _model()
    frames, latents = _window()
    tokens = window_vision_tokens(model, frames)
    noise = torch.randn(nfe, B * T, L, generator=torch.Generator().manual_seed(1))
    free = _free_running(model, tokens, noise, scale)
    full = rollout_latents(model, tokens, latents, noise, scale, passes=T)
    torch.testing.assert_close(full, free, rtol=1e-5, atol=1e-5)
    two = rollout_latents(model, tokens, latents, noise, scale, passes=2)
    torch.testing.assert_close(two[:, :2], free[:, :2], rtol=1e-5, atol=1e-5)
    # later positions start from teacher-forced history: not the free-running samples
    assert (two[:, 3:] - free[:, 3:]).abs().max() > 1e-4
    # and one pass is the sampler on the real history (what `train decoder` decodes)
    one = rollout_latents(model, tokens, latents, noise, scale, passes=1)
    torch.testing.assert_close(one, guided_samples(model, tokens, latents, noise, scale))


def _batch(objective, rows, prev_noise=0.0, seed=0):
    frames, latents = _window(seed)
    g = torch.Generator().manual_seed(seed + 7)
    n = B * T * objective.cfg.head_repeats
    batch = {"frames": frames, "latents": latents, "drop": torch.zeros(B, dtype=torch.bool),
             "noise": torch.randn(n, L, generator=g), "sigma": torch.rand(n, generator=g) + 0.1,
             "rollout": torch.tensor(rows),
             "rollout_noise": torch.randn(objective.rollout_nfe, B * T, L, generator=g)}
    if prev_noise:
        batch["prev_aug"] = prev_noise * torch.randn(B, T, L, generator=g)
    return batch


def _objective(passes=2, model=None, **cfg):
    model = model if model is not None else _model(guidance_scale=2.0, nfe=1)
    cfg = DiffusionStageConfig(window_latents=T, head_repeats=2, rollout_passes=passes, **cfg)
    return DiffusionObjective(model, cfg, "stage2", total_steps=10)


def test_marked_windows_read_their_rollout_and_the_others_stay_teacher_forced():
    objective = _objective()
    assert (objective.rollout_scale, objective.rollout_nfe) == (2.0, 1)
    batch = _batch(objective, [True, False, True], prev_noise=0.3)
    model = objective.model
    tokens = window_vision_tokens(model, batch["frames"])
    fed = objective.fed_back(tokens, batch)
    kept = [1]
    torch.testing.assert_close(fed[kept], (batch["latents"] + batch["prev_aug"])[kept])
    rows = batch["rollout"]
    noise = batch["rollout_noise"].view(1, B, T, L)[:, rows].reshape(1, -1, L)
    own = rollout_latents(model, tokens[rows], batch["latents"][rows], noise, 2.0, passes=2)
    torch.testing.assert_close(fed[rows], own)
    # the conditions of a teacher-forced window are what they were without rollouts
    plain = teacher_forced_conditions(model, batch["frames"], batch["latents"], batch["drop"],
                                      prev_aug=batch["prev_aug"]).view(B, T, -1)
    z = conditions_from_tokens(model, tokens, fed, batch["drop"]).view(B, T, -1)
    torch.testing.assert_close(z[kept], plain[kept])
    assert (z[rows] - plain[rows]).abs().max() > 1e-4
    # no window marked: the batch is teacher forcing exactly
    none = _batch(objective, [False] * B)
    torch.testing.assert_close(objective.fed_back(tokens, none), none["latents"])


def test_the_rollout_is_an_input_and_the_loss_trains_the_generator():
    objective = _objective()
    objective.train()
    batch = _batch(objective, [True, True, False])
    tokens = window_vision_tokens(objective.model, batch["frames"])
    assert not objective.fed_back(tokens, batch).requires_grad
    loss = objective(batch, step=0)["loss"]
    loss.backward()
    grads = {k: p.grad for k, p in objective.model.named_parameters()}
    moved = [k for k, g in grads.items() if g is not None and g.abs().sum() > 0]
    assert any(k.startswith("transformer.") for k in moved)
    assert any(k.startswith("vision.") for k in moved)
    assert any(k.startswith("head.") for k in moved)
    assert not any(k.startswith("vae.") for k in moved)


def test_steps_with_rollouts_on_a_fixed_batch_lower_the_loss():
    objective = _objective(passes=2, rollout_prob=1.0)
    batch = _batch(objective, [True, True, True])
    params = [p for p in objective.model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        loss = objective(batch, step=9)["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) / 3 < 0.8 * losses[0], losses


def test_rollout_settings_and_batches_are_refused_by_name():
    with pytest.raises(ConfigError, match=r"rollout_passes >= 0 and rollout_prob in \[0, 1\], "
                                          r"found -1 and 0.5"):
        DiffusionStageConfig(rollout_passes=-1)
    with pytest.raises(ConfigError, match=r"found 2 and 1.5"):
        DiffusionStageConfig(rollout_passes=2, rollout_prob=1.5)
    cfg = DiffusionStageConfig(window_latents=T, rollout_passes=2)
    with pytest.raises(ConfigError, match=r"--rollout-passes: expected stage2 .*found stage1"):
        DiffusionObjective(_model(), cfg, "stage1", total_steps=10)
    locdit = dataclasses.replace(small_config(), head_kind="locdit",
                                 locdit=PatchHeadConfig(width=32, depth=1, heads=2,
                                                        time_embed_dim=16))
    with pytest.raises(ConfigError, match=r"MLP head and no text, found head_kind 'locdit'"):
        DiffusionObjective(build_model(locdit), cfg, "stage2", total_steps=10)
    text = build_model(dataclasses.replace(small_config(), text_dim=8))
    with pytest.raises(ConfigError, match=r"found head_kind 'mlp' with text"):
        DiffusionObjective(text, cfg, "stage2", total_steps=10)
    with pytest.raises(ConfigError, match=r"--rollout-guidance: expected a scale >= 1, "
                                          r"found 0.5"):
        _objective(rollout_guidance=0.5)
    with pytest.raises(ConfigError, match=r"--rollout-nfe: .*expected nfe in 1..4, found 9"):
        _objective(rollout_nfe=9)
    over = _objective(rollout_guidance=1.0, rollout_nfe=3)
    assert (over.rollout_scale, over.rollout_nfe) == (1.0, 3)
    objective = _objective()
    batch = _batch(objective, [True, False, True])
    tokens = window_vision_tokens(objective.model, batch["frames"])
    with pytest.raises(ConfigError, match=r"batch\['rollout_noise'\] of shape \(1, 18, 64\), "
                                          r"found \(1, 12, 64\)"):
        objective.fed_back(tokens, dict(batch, rollout_noise=batch["rollout_noise"][:, :12]))
    with pytest.raises(ConfigError, match=r"batch\['rollout'\] of shape \(3,\), found \(2,\)"):
        objective.fed_back(tokens, dict(batch, rollout=batch["rollout"][:2]))


def test_stage2_run_with_rollouts_records_them_and_reports_the_rollout_error(dataset,
                                                                            tmp_path):
    data, init = dataset
    out = tmp_path / "s2"
    args = stage_args("stage2", data, out, init, "--steps", "2", "--warmup", "1",
                      "--eval-every", "2", "--rollout-passes", "2", "--rollout-prob", "1",
                      "--rollout-guidance", "2")
    assert cli.main(args) == 0
    run = json.loads((out / "run.json").read_text())
    got = run["config"]["stage2"]
    assert (got["rollout_passes"], got["rollout_prob"], got["rollout_guidance"]) == (2, 1.0, 2.0)
    held = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    assert held[-1]["mse_rollout_s80"] > 0 and held[-1]["mse_cond_s80"] > 0
    with pytest.raises(SystemExit):  # stage 1 has no rollout options
        stage_args("stage1", data, tmp_path / "s1", init, "--rollout-passes", "2")
