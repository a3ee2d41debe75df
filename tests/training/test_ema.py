"""The weight average a run exports: its arithmetic, what export and evaluation see, and a
resume that continues it exactly."""

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from livefoley.models.training.distributed import init_distributed
from livefoley.models.training.ema import WeightEMA
from livefoley.models.training.loop import LoopConfig, run_loop
from livefoley.models.training.runstate import RunDir
from livefoley.protocol.errors import CheckpointError, ConfigError


def _batch(step: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(step)
    return {"x": torch.randn(4, 3, generator=g)}


class _Quadratic(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, batch, step):
        return {"loss": (batch["x"] * self.w).square().mean()}


def test_the_average_halves_its_distance_to_fixed_weights_every_halflife():
    w = nn.Parameter(torch.zeros(2))
    ema = WeightEMA([w], halflife_steps=4)
    with torch.no_grad():
        w.fill_(1.0)
    for _ in range(8):
        ema.update()
    assert torch.allclose(ema.average[0], torch.full((2,), 0.75), atol=1e-6)  # 1 - 0.5 ** 2


def test_swapped_in_shows_the_average_and_restores_the_raw_weights_even_on_error():
    w = nn.Parameter(torch.tensor([1.0, 2.0]))
    ema = WeightEMA([w], halflife_steps=1)
    ema.average = [torch.tensor([5.0, 6.0])]
    with pytest.raises(RuntimeError):
        with ema.swapped_in():
            assert torch.equal(w.detach(), torch.tensor([5.0, 6.0]))
            raise RuntimeError("in the block")
    assert torch.equal(w.detach(), torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize("halflife", [0, -3, float("nan")])
def test_a_halflife_that_is_not_positive_is_refused(halflife):
    with pytest.raises(ConfigError, match="EMA half-life: expected > 0 steps"):
        WeightEMA([nn.Parameter(torch.zeros(1))], halflife)
    if halflife != 0:  # 0 is the loop's "off"
        with pytest.raises(ConfigError, match="ema_halflife_steps: expected >= 0"):
            LoopConfig(ema_halflife_steps=halflife)


def _run(tmp_path, objective, steps, *, halflife=3.0, resume=False, seen=None):
    run = RunDir(tmp_path)

    def export():
        save_file({"w": objective.w.detach().clone()}, run.model_path)

    def evaluate():
        if seen is not None:
            seen.append(objective.w.detach().clone())
        return {"w0": float(objective.w[0].detach())}

    cfg = LoopConfig(steps=steps, warmup_steps=1, lr=0.1, log_every=100, ckpt_every=100,
                     ema_halflife_steps=halflife)
    return run_loop(stage="toy", objective=objective, batch_fn=_batch, cfg=cfg,
                    info=init_distributed("cpu"), run=run, export=export, evaluate=evaluate,
                    resume=resume)


def test_the_exported_and_evaluated_model_is_the_average_and_training_steps_the_raw(tmp_path):
    with_ema, without = _Quadratic(), _Quadratic()
    seen = []
    _run(tmp_path / "ema", with_ema, 12, seen=seen)
    _run(tmp_path / "raw", without, 12, halflife=0.0)
    assert torch.equal(with_ema.w, without.w)  # the optimiser never sees the average
    # the same average, recomputed from the raw trajectory
    replay, beta = _Quadratic(), 0.5 ** (1 / 3.0)
    average = replay.w.detach().clone()
    opt = torch.optim.AdamW([replay.w], lr=0.1, betas=(0.9, 0.99), weight_decay=0.0)
    for step in range(12):
        opt.zero_grad()
        replay(_batch(step), step)["loss"].backward()
        torch.nn.utils.clip_grad_norm_([replay.w], 1.0)
        opt.step()
        average = beta * average + (1 - beta) * replay.w.detach()
    exported = load_file(tmp_path / "ema" / "model.safetensors")["w"]
    assert torch.allclose(exported, average, atol=1e-6)
    assert torch.equal(seen[-1], exported)
    assert not torch.allclose(exported, with_ema.w.detach(), atol=1e-3)


def test_a_resumed_run_continues_the_same_average(tmp_path):
    _run(tmp_path / "a", _Quadratic(), 5)
    _run(tmp_path / "a", _Quadratic(), 12, resume=True)
    _run(tmp_path / "b", _Quadratic(), 12)
    a = torch.load(tmp_path / "a" / "state.pt", weights_only=False)["ema"]["average"]
    b = torch.load(tmp_path / "b" / "state.pt", weights_only=False)["ema"]["average"]
    assert torch.equal(a[0], b[0])
    assert torch.equal(load_file(tmp_path / "a" / "model.safetensors")["w"],
                       load_file(tmp_path / "b" / "model.safetensors")["w"])


def test_resuming_with_another_ema_setting_names_both(tmp_path):
    _run(tmp_path, _Quadratic(), 3)
    with pytest.raises(CheckpointError, match="expected no EMA, found one"):
        _run(tmp_path, _Quadratic(), 6, halflife=0.0, resume=True)
    with pytest.raises(CheckpointError, match="expected an EMA half-life of 5 steps, found 3"):
        _run(tmp_path, _Quadratic(), 6, halflife=5.0, resume=True)
    _run(tmp_path / "raw", _Quadratic(), 3, halflife=0.0)
    with pytest.raises(CheckpointError, match="expected an EMA of half-life 3 steps, found none"):
        _run(tmp_path / "raw", _Quadratic(), 6, resume=True)
