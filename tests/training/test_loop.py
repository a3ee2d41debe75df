"""The loop's batch prefetching and its fitting of the step count to a time limit."""

import json
import threading

import pytest
import torch
from torch import nn

from livefoley.models.training.distributed import init_distributed
from livefoley.models.training.loop import (
    FIT_SKIP,
    FIT_WINDOW,
    Batches,
    LoopConfig,
    fitted_steps,
    run_loop,
)
from livefoley.models.training.runstate import RunDir


def _batch(step: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(step)
    return {"x": torch.randn(4, 3, generator=g), "step": torch.tensor(step)}


def test_prefetched_batches_are_the_synchronous_ones_in_order():
    threads = set()

    def made(step):
        threads.add(threading.current_thread().name)
        return _batch(step)

    ahead = Batches(made, torch.device("cpu"), depth=3)
    try:
        for step in range(10):
            got, want = ahead.get(step), _batch(step)
            assert int(got["step"]) == step
            assert torch.equal(got["x"], want["x"])
        assert sorted(ahead.pending) == [10, 11, 12]  # made ahead, never twice
    finally:
        ahead.close()
    assert ahead.pending == {} and all(t.startswith("batches") for t in threads)


def test_fitted_steps_fill_the_remaining_time():
    cfg = LoopConfig(steps=10**6, time_limit_s=10.0, fit_steps=True)
    # 30 steps in 1 s, 2 s gone at step 40: 8 s left at 30 steps/s
    assert fitted_steps(cfg, 40, elapsed_s=2.0, window_s=1.0, window_steps=30) == 280
    assert fitted_steps(cfg, 40, elapsed_s=12.0, window_s=1.0, window_steps=30) == 41


class _Quadratic(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.total_steps = 10**6

    def forward(self, batch, step):
        return {"loss": (batch["x"] * self.w).square().mean()}


def test_run_with_fit_steps_plans_to_its_time_limit(tmp_path):
    objective = _Quadratic()
    cfg = LoopConfig(steps=10**6, warmup_steps=5, decay_final_frac=0.1, time_limit_s=1.5,
                     fit_steps=True, log_every=50, ckpt_every=10**6)
    run = RunDir(tmp_path)
    result = run_loop(stage="toy", objective=objective, batch_fn=_batch, cfg=cfg,
                      info=init_distributed("cpu"), run=run, export=lambda: None)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["starts"][-1]["fitted_steps"] == result["steps"] == objective.total_steps
    assert record["config"]["loop"]["steps"] == result["steps"]
    assert FIT_SKIP + FIT_WINDOW < result["steps"] < 10**6
    assert result["step"] <= result["steps"]


def test_negative_prefetch_is_refused():
    with pytest.raises(Exception, match=r"LoopConfig.prefetch: expected >= 0, found -1"):
        LoopConfig(prefetch=-1)
