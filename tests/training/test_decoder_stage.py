"""`livefoley train decoder`: the VAE decoder learns from the frozen generator's own samples.

What the decoder is given (the sampler's guided latents, teacher-forced), what it is charged
with, where the gradient goes, what stays bit-equal, the refusals, and what a run records.
"""

import argparse
import dataclasses
import json

import pytest
import torch

from livefoley.models.checkpoint import load_checkpoint
from livefoley.models.config import PatchHeadConfig
from livefoley.models.generator import DEFAULT_GUIDANCE
from livefoley.models.training import cli
from livefoley.models.training.decoder_stage import (
    DecoderObjective,
    DecoderStageConfig,
    draw_sample_inputs,
)
from livefoley.models.training.conditions import teacher_forced_conditions
from livefoley.models.training.losses import (
    RESOLUTIONS_7,
    MultiResolutionSTFTLoss,
    onset_envelope_loss,
)
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import ConfigError

from .helpers import click_windows, small_config

B, T, L, HOP = 2, 6, 64, 1600


def _model(**sampling):
    torch.manual_seed(0)
    model = build_model(small_config()).eval()
    model.sampling_defaults = dict(sampling)
    return model


def _batch(nfe=1, prev_noise=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    audio = click_windows(B, T, HOP)
    batch = {"frames": torch.randint(0, 255, (B, T + 1, 24, 32, 3), generator=g,
                                     dtype=torch.uint8),
             "latents": 0.5 * torch.randn(B, T, L, generator=g), "audio": audio}
    batch.update(draw_sample_inputs(seed, 0, 0, nfe=nfe, B=B, T=T, L=L, prev_noise=prev_noise))
    return batch


def _by_hand(model, batch, scale, nfe_sigmas):
    """The guided conditions and the consistency sampler written out, step by step."""
    fed = batch["latents"] + batch.get("prev_aug", 0.0)
    real = torch.zeros(B, dtype=torch.bool)
    cond = teacher_forced_conditions(model, batch["frames"], fed, real)
    null = teacher_forced_conditions(model, batch["frames"], fed, ~real)
    D = cond.shape[-1] // 2
    z = torch.cat([cond[:, :D], null[:, D:] + scale * (cond[:, D:] - null[:, D:])], -1)
    head, noise = model.head, batch["sample_noise"]
    x = head(nfe_sigmas[0] * noise[0], torch.full((B * T,), nfe_sigmas[0]), z)
    for k, s in enumerate(nfe_sigmas[1:], start=1):
        x = head(x + s * noise[k], torch.full((B * T,), s), z)
    return x.view(B, T, L)


def test_samples_are_the_guided_sampler_output_at_nfe_1():
    model = _model(guidance_scale=2.0, nfe=1)
    objective = DecoderObjective(model, DecoderStageConfig(window_latents=T))
    batch = _batch(prev_noise=0.5)
    assert (objective.guidance_scale, objective.nfe) == (2.0, 1)
    with torch.no_grad():
        want = _by_hand(model, batch, 2.0, [model.config.head.sigma_max])
        torch.testing.assert_close(objective.samples(batch), want)
        # the fed-back noise matters: without it the samples differ
        clean = objective.samples(dict(batch, prev_aug=torch.zeros_like(batch["prev_aug"])))
    assert not torch.allclose(clean, want)


def test_samples_at_nfe_2_renoise_at_the_live_sampler_levels():
    from livefoley.models.sampling import consistency_sigmas

    model = _model(guidance_scale=3.0, nfe=2)
    objective = DecoderObjective(model, DecoderStageConfig(window_latents=T))
    batch = _batch(nfe=2)
    h = model.config.head
    sigmas = consistency_sigmas(2, h.sigma_min, h.sigma_max, h.rho).tolist()
    assert sigmas[0] == pytest.approx(h.sigma_max) and sigmas[1] < h.sigma_max
    with torch.no_grad():
        torch.testing.assert_close(objective.samples(batch), _by_hand(model, batch, 3.0, sigmas))


def test_sampler_settings_come_from_config_then_checkpoint_then_live_defaults():
    cfg = DecoderStageConfig(window_latents=T)
    assert DecoderObjective(_model(), cfg).guidance_scale == DEFAULT_GUIDANCE
    assert DecoderObjective(_model(), cfg).nfe == 1
    found = DecoderObjective(_model(guidance_scale=2.0, nfe=4), cfg)
    assert (found.guidance_scale, found.nfe) == (2.0, 4)
    over = DecoderObjective(_model(guidance_scale=2.0, nfe=4),
                            dataclasses.replace(cfg, guidance_scale=1.0, nfe=2))
    assert (over.guidance_scale, over.nfe) == (1.0, 2)


def test_loss_is_the_vae_losses_plus_the_onset_term_on_the_decoded_samples():
    model = _model(guidance_scale=2.0)
    cfg = DecoderStageConfig(window_latents=T, l1_weight=0.3, onset_weight=2.0)
    objective = DecoderObjective(model, cfg)
    batch = _batch()
    with torch.no_grad():
        out = objective(batch, 0)
        pcm = model.vae.decode(objective.samples(batch).transpose(1, 2))
        mr = MultiResolutionSTFTLoss(RESOLUTIONS_7)(pcm, batch["audio"])
        l1 = (pcm - batch["audio"]).abs().mean()
        onset = onset_envelope_loss(pcm, batch["audio"], model.config.sample_rate_hz)
    torch.testing.assert_close(out["mrstft"], mr)
    torch.testing.assert_close(out["onset"], onset)
    torch.testing.assert_close(out["loss"], mr + 0.3 * l1 + 2.0 * onset)
    assert out["onset"] > 0


def test_gradient_reaches_the_decoder_only_and_the_generator_samples_in_eval_mode():
    model = _model(guidance_scale=2.0)
    model.requires_grad_(False)
    model.vae.decoder.requires_grad_(True)
    objective = DecoderObjective(model, DecoderStageConfig(window_latents=T)).train()
    assert model.vae.decoder.training and not model.transformer.training
    assert not model.head.training and not model.vision.training
    objective(_batch(), 0)["loss"].backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(grads[n] is not None for n in grads if n.startswith("vae.decoder."))
    assert all(grads[n] is None for n in grads if not n.startswith("vae.decoder."))


def test_steps_on_a_fixed_batch_lower_the_loss():
    model = _model(guidance_scale=2.0)
    model.requires_grad_(False)
    model.vae.decoder.requires_grad_(True)
    objective = DecoderObjective(model, DecoderStageConfig(window_latents=T)).train()
    opt = torch.optim.Adam(model.vae.decoder.parameters(), lr=1e-3)
    batch = _batch()
    losses = []
    for _ in range(8):
        loss = objective(batch, 0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0], losses


def test_unsupported_models_settings_and_batches_are_refused_by_name():
    locdit = dataclasses.replace(small_config(), head_kind="locdit",
                                 locdit=PatchHeadConfig(width=32, depth=1, heads=2,
                                                        time_embed_dim=16))
    cfg = DecoderStageConfig(window_latents=T)
    with pytest.raises(ConfigError, match=r"MLP head, found head_kind 'locdit'"):
        DecoderObjective(build_model(locdit), cfg)
    with pytest.raises(ConfigError, match=r"without text conditioning, found a text model"):
        DecoderObjective(build_model(dataclasses.replace(small_config(), text_dim=8)), cfg)
    with pytest.raises(ConfigError, match=r"--guidance: expected a scale >= 1, found 0.5"):
        DecoderObjective(_model(), dataclasses.replace(cfg, guidance_scale=0.5))
    with pytest.raises(ConfigError, match=r"expected nfe in 1..4, found 9"):
        DecoderObjective(_model(), dataclasses.replace(cfg, nfe=9))
    with pytest.raises(ConfigError, match=r"l1_weight and onset_weight >= 0, found 0.1 and -1"):
        DecoderStageConfig(onset_weight=-1.0)
    objective = DecoderObjective(_model(nfe=2), cfg)
    batch = _batch(nfe=1)
    with pytest.raises(ConfigError, match=r"batch\['sample_noise'\] of shape \(2, 12, 64\), "
                                          r"found \(1, 12, 64\)"):
        objective(batch, 0)
    batch = _batch(nfe=2)
    with pytest.raises(ConfigError, match=r"batch\['audio'\] of shape \(2, 2, 9600\), "
                                          r"found \(2, 2, 9000\)"):
        objective(dict(batch, audio=batch["audio"][..., :9000]), 0)


def _parse(*argv):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(["decoder", *map(str, argv)])


def _decoder_args(data, out, init, *extra):
    """A tiny CPU run: batch 2, windows of 8, two steps, one held-out report."""
    return _parse("--data", data, "--out", out, "--init", init, "--batch", 2, "--window", 8,
                  "--log-every", 1, "--device", "cpu", "--threads", 1, "--steps", 2,
                  "--warmup", 1, "--eval-every", 2, *extra)


def test_decoder_run_changes_the_decoder_alone_and_records_the_sampler(dataset, tmp_path):
    data, init = dataset
    out = tmp_path / "dec"
    assert cli.main(_decoder_args(data, out, init, "--guidance", "2", "--onset-weight",
                                  "0.5")) == 0
    before = load_checkpoint(init).state_dict()
    after = load_checkpoint(out / "model.safetensors").state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    # the encoder, the latent scale and the generator are untouched: its samples mean what
    # they meant, and only how they sound moved
    assert changed and all(k.startswith("vae.decoder.") for k in changed), changed
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["decoder"]["onset_weight"] == 0.5
    assert run["config"]["sampler"] == {"guidance_scale": 2.0, "nfe": 1}
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r for r in rows if "loss" in r and r["onset"] > 0 and r["mrstft"] > 0]
    held = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    assert held[-1]["sample_onset"] > 0 and held[-1]["heldout_mrstft"] > 0


def test_decoder_run_without_init_is_refused_by_name(dataset, tmp_path):
    data, _ = dataset
    args = _parse("--data", data, "--out", tmp_path / "x")
    with pytest.raises(ConfigError, match=r"train decoder: expected --init CHECKPOINT"):
        cli.main(args)
