"""A few optimisation steps of each stage lower its loss on one fixed tiny batch."""

import numpy as np
import pytest
import torch

from livefoley.models.training.diffusion_stage import DiffusionObjective, DiffusionStageConfig
from livefoley.models.training.vae_stage import VAEObjective, VAEStageConfig
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import ConfigError

from .helpers import small_config


def _fit(objective, batch, steps, lr):
    params = [p for p in objective.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for step in range(steps):
        loss = objective(batch, step)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_vae_steps_lower_loss():
    torch.manual_seed(0)
    model = build_model(small_config())
    model.requires_grad_(False)
    model.vae.requires_grad_(True)
    g = torch.Generator().manual_seed(0)
    t = torch.arange(2 * 1600) / 48000
    audio = (0.3 * torch.sin(2 * torch.pi * 440 * t) * torch.exp(-8 * t)).expand(1, 2, -1)
    batch = {"audio": audio.contiguous(), "noise": torch.randn(1, 64, 2, generator=g)}
    # lr 1e-3 descends steadily (3e-3 oscillated and failed on one CI machine at step 8).
    losses = _fit(VAEObjective(model, VAEStageConfig(resolutions=5)), batch, 12, 1e-3)
    assert sum(losses[-3:]) / 3 < 0.8 * losses[0], losses


def _diffusion_batch(stage_rows_seed=0, B=2, T=6, L=64, repeats=2):
    g = torch.Generator().manual_seed(stage_rows_seed)
    frames = torch.randint(0, 255, (B, T + 1, 24, 32, 3), generator=g, dtype=torch.uint8)
    rows = B * T * repeats
    return {"frames": frames, "latents": 0.5 * torch.randn(B, T, L, generator=g),
            "drop": torch.tensor([False, True]), "noise": torch.randn(rows, L, generator=g),
            "sigma": torch.exp(-0.4 + 1.4 * torch.randn(rows, generator=g)).clamp(0.002, 80)}


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_diffusion_stage_steps_lower_loss(stage):
    torch.manual_seed(0)
    model = build_model(small_config())
    model.requires_grad_(True)
    model.vae.requires_grad_(False)
    if stage == "stage2":
        model.head.logvar_linear.requires_grad_(False)
    cfg = DiffusionStageConfig(window_latents=6, head_repeats=2)
    objective = DiffusionObjective(model, cfg, stage, total_steps=10**6)  # ECT stage 0
    losses = _fit(objective, _diffusion_batch(), 15, 2e-3)
    assert losses[-1] < 0.7 * losses[0], losses


def test_unknown_stage_named_in_error():
    with pytest.raises(ConfigError, match=r"\['stage1', 'stage2'\].*'stage3'"):
        DiffusionObjective(build_model(small_config()), DiffusionStageConfig(), "stage3", 10)


def test_ect_stage_advances_over_the_run():
    obj = DiffusionObjective(build_model(small_config()), DiffusionStageConfig(ect_stages=4),
                             "stage2", total_steps=100)
    assert [obj.ect_stage(s) for s in (0, 24, 25, 50, 99, 100)] == [0, 0, 1, 2, 3, 3]


def test_vae_objective_adds_the_spatial_term_of_its_channels():
    import dataclasses

    g = torch.Generator().manual_seed(0)
    stereo = build_model(small_config())
    foa = build_model(dataclasses.replace(small_config(), vae=dataclasses.replace(small_config().vae, channels=4)))
    on = VAEStageConfig(resolutions=5, mid_side_weight=1.0)  # the cardioid term is on by default
    for model, channels, term in ((stereo, 2, "mid_side"), (foa, 4, "cardioid")):
        batch = {"audio": 0.1 * torch.randn(1, channels, 3200, generator=g),
                 "noise": torch.randn(1, 64, 2, generator=g)}
        out = VAEObjective(model, on)(batch, 0)
        assert set(out) & {"cardioid", "mid_side"} == {term}
        parts = out["mrstft"] + 0.1 * out["l1"] + 1e-4 * out["kl"]
        assert torch.allclose(out["loss"], parts + out[term])  # weight 1, in the total
        off = VAEObjective(model, VAEStageConfig(resolutions=5, cardioid_weight=0.0))(batch, 0)
        assert not set(off) & {"cardioid", "mid_side"}  # mid/side is off by default
        assert torch.allclose(off["loss"], parts)


def test_vae_objective_adds_the_onset_term_when_weighted():
    g = torch.Generator().manual_seed(0)
    model = build_model(small_config())
    batch = {"audio": 0.1 * torch.randn(1, 2, 3200, generator=g),
             "noise": torch.randn(1, 64, 2, generator=g)}
    off = VAEObjective(model, VAEStageConfig(resolutions=5))(batch, 0)
    on = VAEObjective(model, VAEStageConfig(resolutions=5, onset_weight=0.5))(batch, 0)
    assert "onset" not in off and on["onset"] > 0
    assert torch.allclose(on["loss"], off["loss"] + 0.5 * on["onset"])


def test_prev_noise_perturbs_only_the_fed_back_latents():
    torch.manual_seed(0)
    objective = DiffusionObjective(build_model(small_config()).eval(),
                                   DiffusionStageConfig(window_latents=6, head_repeats=2,
                                                        prev_noise=0.5), "stage1", 10)
    batch = _diffusion_batch()
    aug = 0.3 * torch.randn(batch["latents"].shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        clean = objective.conditions(batch["frames"], batch["latents"], batch["drop"]).view(2, 6, -1)
        noisy = objective.conditions(batch["frames"], batch["latents"], batch["drop"],
                                     prev_aug=aug).view(2, 6, -1)
        zero = objective(dict(batch, prev_aug=torch.zeros_like(aug)), 0)["loss"]
        plain = objective(batch, 0)["loss"]
    torch.testing.assert_close(noisy[:, 0], clean[:, 0])  # tick 0 reads no previous latent
    assert (noisy[:, 1:] - clean[:, 1:]).abs().amax() > 1e-3  # later ticks read the noisy ones
    torch.testing.assert_close(zero, plain)  # the targets are the clean latents either way


def test_prev_noise_out_of_range_named_in_error():
    with pytest.raises(ConfigError, match=r"prev_noise: expected \[0, 10\), found -0.1"):
        DiffusionStageConfig(prev_noise=-0.1)


def test_vae_report_gives_the_stereo_image_where_it_is_defined():
    from livefoley.models.evaluation.spatial import vae_round_trip
    from livefoley.models.evaluation.stereo import ild_correlation
    from livefoley.models.training.vae_stage import reconstruction_report

    model = build_model(small_config()).eval()
    rng = np.random.default_rng(0)
    s = rng.standard_normal(9600).astype(np.float32) * 0.1
    pan = np.linspace(0.1, 1.0, 9600, dtype=np.float32)  # a source moving from right to left
    panned = np.stack([s * pan, s * (1.1 - pan)], axis=1)
    out = reconstruction_report(model, [panned])
    want = ild_correlation(vae_round_trip(model, panned.T).T, panned, model.config.sample_rate_hz)
    assert out["heldout_ild_corr"] == pytest.approx(want)
    centred = np.stack([s, s], axis=1)  # the real ILD never moves: undefined, not invented
    assert "heldout_ild_corr" not in reconstruction_report(model, [centred])
