"""The generator's onset terms: the decoded one-step prediction against the real audio.

`DiffusionStageConfig.onset_weight` and `onset_profile_weight` (`train stage1|stage2
--onset-weight --onset-profile-weight`): what enters the loss, which rows they see, where the
gradient goes, and how the run records them.
"""

import dataclasses
import json

import numpy as np
import pytest
import torch

from livefoley.models.checkpoint import load_model
from livefoley.models.config import PatchHeadConfig
from livefoley.models.training import cli
from livefoley.models.training.batches import LatentCache, WindowBatches, open_split
from livefoley.models.training.diffusion_stage import DiffusionObjective, DiffusionStageConfig
from livefoley.models.training.losses import onset_envelope_loss, onset_profile_loss
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import ConfigError

from .helpers import click_windows, small_config, stage_args

B, T, L, HOP = 2, 6, 64, 1600


def _batch(seed=0, drop=(False, True)):
    """A stage batch with what the onset term needs: the window's audio and its noise."""
    g = torch.Generator().manual_seed(seed)
    rows = B * T * 2
    audio = click_windows(B, T, HOP)
    return {"frames": torch.randint(0, 255, (B, T + 1, 24, 32, 3), generator=g,
                                    dtype=torch.uint8),
            "latents": 0.5 * torch.randn(B, T, L, generator=g),
            "drop": torch.tensor(drop), "noise": torch.randn(rows, L, generator=g),
            "sigma": torch.exp(-1.1 + 2.0 * torch.randn(rows, generator=g)).clamp(0.002, 80),
            "audio": audio, "onset_noise": torch.randn(B * T, L, generator=g)}


def _objective(weight, stage="stage2", profile=0.0, **kw):
    torch.manual_seed(0)
    model = build_model(small_config()).eval()
    cfg = DiffusionStageConfig(window_latents=T, head_repeats=2, onset_weight=weight,
                               onset_profile_weight=profile, **kw)
    return DiffusionObjective(model, cfg, stage, total_steps=100)


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_onset_terms_enter_the_total_with_their_weights(stage):
    batch = _batch()
    with torch.no_grad():
        off = _objective(0.0, stage)(batch, 0)
        on = _objective(0.5, stage, profile=3.0)(batch, 0)
    assert "onset" not in off and on["onset"] > 0 and on["onset_profile"] > 0
    torch.testing.assert_close(on["loss"],
                               off["loss"] + 0.5 * on["onset"] + 3.0 * on["onset_profile"])


def test_onset_term_is_the_decoded_one_step_prediction_of_the_kept_rows():
    objective = _objective(1.0)
    model = objective.model
    batch = _batch(drop=(False, True))
    with torch.no_grad():
        z = objective.conditions(batch["frames"], batch["latents"], batch["drop"])
        terms = objective.onset_terms(z, batch)
        s_max = model.config.head.sigma_max
        one_step = model.head(s_max * batch["onset_noise"], torch.full((B * T,), s_max), z)
        pcm = model.vae.decode(one_step.view(B, T, L)[:1].transpose(1, 2))
        sr = model.config.sample_rate_hz
        by_hand = {"onset": onset_envelope_loss(pcm, batch["audio"][:1], sr),
                   "onset_profile": onset_profile_loss(pcm, batch["audio"][:1], sr)}
        # the null-vision row is left out: its audio does not matter
        other = dict(batch, audio=batch["audio"].clone())
        other["audio"][1] = 0.3
        same = objective.onset_terms(z, other)
        other["audio"][0] = 0.0
        moved = objective.onset_terms(z, other)
        none = objective.onset_terms(z, dict(batch, drop=torch.tensor([True, True])))
    for name in ("onset", "onset_profile"):
        torch.testing.assert_close(terms[name], by_hand[name])
        torch.testing.assert_close(same[name], terms[name])
        assert abs(float(moved[name] - terms[name])) > 1e-3
        assert float(none[name]) == 0.0


def test_onset_gradient_reaches_the_generator_and_leaves_the_vae_frozen():
    objective = _objective(1.0)
    model = objective.model
    model.requires_grad_(True)
    model.vae.requires_grad_(False)
    batch = _batch()
    z = objective.conditions(batch["frames"], batch["latents"], batch["drop"])
    objective.onset_terms(z, batch)["onset"].backward()
    for part in (model.head, model.transformer):
        grads = [p.grad for p in part.parameters() if p.grad is not None]
        assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    assert all(p.grad is None for p in model.vae.parameters())


def test_steps_on_the_onset_term_lower_it():
    objective = _objective(1.0)
    model = objective.model.train()
    model.requires_grad_(True)
    model.vae.requires_grad_(False)
    batch = _batch(drop=(False, False))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    terms = []
    for _ in range(12):
        z = objective.conditions(batch["frames"], batch["latents"], batch["drop"])
        term = objective.onset_terms(z, batch)["onset"]
        opt.zero_grad()
        term.backward()
        opt.step()
        terms.append(term.item())
    assert min(terms[-3:]) < 0.9 * terms[0], terms


def test_missing_or_misshapen_audio_is_named():
    objective = _objective(1.0)
    batch = _batch()
    with pytest.raises(ConfigError, match=r"batch\['audio'\] of shape \(2, 2, 9600\), found None"):
        objective(dict(batch, audio=None), 0)
    with pytest.raises(ConfigError, match=r"batch\['audio'\] of shape \(2, 2, 9600\), "
                                          r"found \(2, 2, 9000\)"):
        objective(dict(batch, audio=batch["audio"][..., :9000]), 0)
    with pytest.raises(ConfigError, match=r"batch\['onset_noise'\] of shape \(12, 64\), found None"):
        objective(dict(batch, onset_noise=None), 0)


def test_patch_head_and_negative_values_are_refused_by_name():
    cfg = dataclasses.replace(small_config(), head_kind="locdit",
                              locdit=PatchHeadConfig(width=32, depth=1, heads=2, time_embed_dim=16))
    with pytest.raises(ConfigError, match=r"onset_weight: expected a model with the MLP head, "
                                          r"found head_kind 'locdit'"):
        DiffusionObjective(build_model(cfg), DiffusionStageConfig(onset_profile_weight=1.0),
                           "stage2", 10)
    with pytest.raises(ConfigError, match=r"onset_weight, onset_profile_weight and "
                                          r"ect_stage_offset >= 0, found 0.0, -1.0 and 0"):
        DiffusionStageConfig(onset_profile_weight=-1.0)


def test_ect_stage_offset_starts_the_schedule_late():
    held = _objective(0.0, ect_stages=1, ect_stage_offset=5)
    walked = _objective(0.0, ect_stages=4, ect_stage_offset=2)
    assert {held.ect_stage(s) for s in (0, 50, 99, 100)} == {5}
    assert [walked.ect_stage(s) for s in (0, 24, 25, 50, 99, 100)] == [2, 2, 3, 4, 5, 5]


def test_window_audio_is_what_the_window_latents_encode(dataset, tmp_path):
    data, _ = dataset
    model = build_model(small_config())
    cache = LatentCache(open_split(data, "train"), tmp_path / "cache", model.vae, HOP)
    batch = WindowBatches(cache, 8, audio=True).batch(np.random.default_rng(3), 4)
    assert batch["audio"].shape == (4, 2, 8 * HOP) and batch["audio"].dtype == torch.float32
    for i in range(4):
        s = int(batch["shard"][i])
        lat = cache.latents[s]
        starts = [j for j in range(lat.shape[0] - 7)
                  if np.array_equal(lat[j:j + 8], batch["latents"][i].numpy())]
        assert len(starts) == 1
        j = starts[0]
        want = np.asarray(cache.shards[s].audio[j * HOP:(j + 8) * HOP]).T
        np.testing.assert_array_equal(batch["audio"][i].numpy(), want)
    assert "audio" not in WindowBatches(cache, 8).batch(np.random.default_rng(3), 4)


def _stage2_args(data, out, init, *extra):
    return stage_args("stage2", data, out, init, "--steps", "2", "--eval-every", "2",
                      "--warmup", "1", *extra)


def test_stage2_run_records_and_reports_the_onset_term(dataset, tmp_path):
    data, init = dataset
    assert cli.main(_stage2_args(data, tmp_path / "r", init, "--onset-weight", "2",
                                 "--onset-profile-weight", "3", "--ect-stages", "1",
                                 "--ect-stage-offset", "5")) == 0
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["config"]["stage2"]["onset_weight"] == 2.0
    assert run["config"]["stage2"]["onset_profile_weight"] == 3.0
    assert run["config"]["stage2"]["ect_stage_offset"] == 5
    rows = [json.loads(line) for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "loss" in r]
    assert len(rows) == 2
    assert all(r["onset"] > 0 and r["onset_profile"] > 0 and r["ect_stage"] == 5 for r in rows)
    held = [json.loads(line) for line in (tmp_path / "r" / "eval.jsonl").read_text().splitlines()]
    assert held and held[-1]["onset_cond"] > 0 and held[-1]["onset_profile_cond"] > 0


def test_stage1_keeps_the_model_of_each_heldout_evaluation(dataset, tmp_path):
    data, init = dataset
    out = tmp_path / "r"
    assert cli.main(stage_args("stage1", data, out, init, "--steps", "3", "--warmup", "1",
                               "--eval-every", "1", "--keep-eval-models")) == 0
    held = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in held] == [1, 2, 3]
    kept = [out / r["model"] for r in held]
    assert [p.name for p in kept] == [f"step-{s:07d}.safetensors" for s in (1, 2, 3)]
    assert kept[-1].read_bytes() == (out / "model.safetensors").read_bytes()  # the end's
    assert kept[0].read_bytes() != kept[-1].read_bytes()
    assert load_model(str(kept[0])).config == load_model(str(kept[-1])).config  # whole models
