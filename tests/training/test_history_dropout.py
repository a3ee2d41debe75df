"""History dropout (`train stage1|stage2 --history-dropout P`): a share of the windows read
BOS at every audio position, the no-history path that history guidance extrapolates against.
"""

import json

import pytest
import torch

from livefoley.models.training import cli
from livefoley.models.training.diffusion_stage import (
    DiffusionObjective,
    DiffusionStageConfig,
    heldout_report,
)
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import ConfigError

from .helpers import small_config, stage_args

B, T, L = 2, 6, 64


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = B * T * 2
    return {"frames": torch.randint(0, 255, (B, T + 1, 24, 32, 3), generator=g, dtype=torch.uint8),
            "latents": 0.5 * torch.randn(B, T, L, generator=g),
            "drop": torch.tensor([False, False]), "noise": torch.randn(rows, L, generator=g),
            "sigma": torch.exp(-0.4 + 1.4 * torch.randn(rows, generator=g)).clamp(0.002, 80)}


def _objective(p=0.5):
    torch.manual_seed(0)
    return DiffusionObjective(build_model(small_config()).eval(),
                              DiffusionStageConfig(window_latents=T, head_repeats=2,
                                                   history_dropout=p), "stage1", 10)


def test_a_dropped_row_reads_bos_at_every_audio_position():
    model = _objective().model
    batch = _batch()
    tokens = torch.randn(B, T, model.config.vision.token_dim)
    drop = torch.tensor([True, False])
    with torch.no_grad():
        e = model.embed_sequence(tokens, batch["latents"], drop_history=drop)  # (B, 2T, D)
        plain = model.embed_sequence(tokens, batch["latents"])
    bos = model.bos.expand(T, -1)
    torch.testing.assert_close(e[0, 0::2], bos)  # audio positions: BOS, x_1 .. x_{T-1} all BOS
    torch.testing.assert_close(e[0, 1::2], plain[0, 1::2])  # vision positions untouched
    torch.testing.assert_close(e[1], plain[1])  # the kept row is the plain sequence
    assert (plain[0, 2::2] - bos[1:]).abs().amax() > 1e-3  # so the check above can fail


def test_a_dropped_row_does_not_depend_on_its_history():
    objective = _objective()
    batch = _batch()
    other = batch["latents"] + torch.randn(B, T, L, generator=torch.Generator().manual_seed(5))
    drop = torch.tensor([True, False])
    with torch.no_grad():
        a = objective.conditions(batch["frames"], batch["latents"], batch["drop"],
                                 drop_history=drop).view(B, T, -1)
        b = objective.conditions(batch["frames"], other, batch["drop"],
                                 drop_history=drop).view(B, T, -1)
    torch.testing.assert_close(a[0], b[0])  # frames alone
    assert (a[1, 1:] - b[1, 1:]).abs().amax() > 1e-3  # the kept row reads its history


def test_the_loss_sees_the_drawn_rows():
    objective = _objective()
    batch = _batch()
    with torch.no_grad():
        plain = objective(batch, 0)["loss"]
        none = objective(dict(batch, drop_history=torch.tensor([False, False])), 0)["loss"]
        dropped = objective(dict(batch, drop_history=torch.tensor([True, False])), 0)["loss"]
    torch.testing.assert_close(none, plain)
    assert abs(float(dropped - plain)) > 1e-6


def test_the_heldout_report_adds_the_no_history_mse_when_on():
    on = heldout_report(_objective(0.5), _batch(), 80.0)
    off = heldout_report(_objective(0.0), _batch(), 80.0)
    assert {"mse_nohist_s0.2", "mse_nohist_s1", "mse_nohist_s80"} <= set(on)
    assert not any(k.startswith("mse_nohist") for k in off)
    assert on["mse_nohist_s0.2"] != on["mse_cond_s0.2"]
    assert on["mse_cond_s0.2"] == off["mse_cond_s0.2"]  # the option changes no other number


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_history_dropout_out_of_range_named_in_error(p):
    with pytest.raises(ConfigError, match=rf"history_dropout: expected \[0, 1\), found {p}"):
        DiffusionStageConfig(history_dropout=p)


def test_a_history_mask_of_the_wrong_shape_is_named():
    model = _objective().model
    with pytest.raises(ConfigError, match=r"drop_history: expected a bool tensor of shape "
                                          r"\(2,\), found \(3,\)"):
        model.embed_sequence(torch.randn(B, T, model.config.vision.token_dim), _batch()["latents"],
                             drop_history=torch.tensor([True, False, True]))


def test_stage1_run_records_the_option_and_the_no_history_mse(dataset, tmp_path):
    data, init = dataset
    out = tmp_path / "r"
    assert cli.main(stage_args("stage1", data, out, init, "--steps", "2", "--warmup", "1",
                               "--eval-every", "2", "--history-dropout", "0.5")) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["stage1"]["history_dropout"] == 0.5
    held = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    assert held and held[-1]["mse_nohist_s1"] > 0
