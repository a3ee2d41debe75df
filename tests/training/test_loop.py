"""The loop's batch prefetching, its fitting of the step count to a time limit, its stop on
SIGINT/SIGTERM with a checkpoint, and the models it keeps at held-out evaluations."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from safetensors.torch import load_file, save_file
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


class _SlowStart(_Quadratic):
    """20 ms a step until `until`, then no wait: a cold page cache, then a warm one."""

    def __init__(self, until: int):
        super().__init__()
        self.until = until

    def forward(self, batch, step):
        if step < self.until:
            time.sleep(0.02)
        return super().forward(batch, step)


def test_a_second_fit_a_tenth_in_corrects_a_slow_first_window(tmp_path):
    objective = _SlowStart(until=FIT_SKIP + FIT_WINDOW)
    cfg = LoopConfig(steps=10**6, warmup_steps=5, time_limit_s=2.0, fit_steps=True,
                     log_every=10**6, ckpt_every=10**6)
    result = run_loop(stage="toy", objective=objective, batch_fn=_batch, cfg=cfg,
                      info=init_distributed("cpu"), run=RunDir(tmp_path), export=lambda: None)
    start = json.loads((tmp_path / "run.json").read_text())["starts"][-1]
    first, second = start["fits"]  # at step 40 (20 ms steps), then at step 70 (fast ones)
    assert first < 2.0 / 0.02 + FIT_SKIP + FIT_WINDOW  # what the slow window promised
    assert second > 2 * first  # the warm steps since raised the plan
    assert start["fitted_steps"] == second == result["steps"] == objective.total_steps
    # the first plan alone would have ended the run at about half its time (the lost
    # minutes this second fit exists for); a machine slower than this test expects only
    # makes the steps slower, and the time limit still ends the run
    assert result["wall_s"] > 0.75 * cfg.time_limit_s


def test_negative_prefetch_is_refused():
    with pytest.raises(Exception, match=r"LoopConfig.prefetch: expected >= 0, found -1"):
        LoopConfig(prefetch=-1)


class _SignalsItself(_Quadratic):
    """Sends its own process `signum` during step `at`, and notes the handler in place after."""

    def __init__(self, at: int, signum: int):
        super().__init__()
        self.at, self.signum, self.handler_after = at, signum, None

    def forward(self, batch, step):
        if step == self.at:
            os.kill(os.getpid(), self.signum)
            self.handler_after = signal.getsignal(self.signum)
        return super().forward(batch, step)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_at_the_next_step_with_a_checkpoint_that_resumes_exactly(tmp_path, signum):
    cfg = LoopConfig(steps=30, warmup_steps=2, log_every=100, ckpt_every=100)
    info = init_distributed("cpu")
    before = signal.getsignal(signum)
    stopped = _SignalsItself(at=6, signum=signum)
    result = run_loop(stage="toy", objective=stopped, batch_fn=_batch, cfg=cfg, info=info,
                      run=RunDir(tmp_path / "a"), export=lambda: None)
    assert result["stopped_by"] == signal.Signals(signum).name and result["step"] == 7
    assert torch.load(tmp_path / "a" / "state.pt", weights_only=False)["step"] == 7
    # the first signal was taken; the handler in place for a second is the one before the run
    assert stopped.handler_after == before and signal.getsignal(signum) == before
    resumed = _Quadratic()
    done = run_loop(stage="toy", objective=resumed, batch_fn=_batch, cfg=cfg, info=info,
                    run=RunDir(tmp_path / "a"), export=lambda: None, resume=True)
    whole = _Quadratic()
    run_loop(stage="toy", objective=whole, batch_fn=_batch, cfg=cfg, info=info,
             run=RunDir(tmp_path / "b"), export=lambda: None)
    assert done["step"] == 30 and "stopped_by" not in done
    assert torch.equal(resumed.w, whole.w)  # as if never stopped


def test_train_cli_stopped_by_sigterm_exits_143_and_says_how_to_resume(dataset, tmp_path):
    data, init = dataset
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "livefoley.sidecar.cli", "train", "vae", "--data", str(data),
           "--out", str(out), "--init", str(init), "--batch", "1", "--steps", "100000",
           "--resolutions", "5", "--device", "cpu", "--threads", "1", "--log-every", "1",
           "--ckpt-every", "100000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:  # wait for a logged step, then stop it as a scheduler would
        lines.append(line)
        if "vae step 2/" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest, _ = proc.communicate(timeout=120)
    text = "".join(lines) + rest
    assert proc.returncode == 143, text[-2000:]
    assert "the same command with --resume continues" in text
    state = torch.load(out / "state.pt", weights_only=False)
    assert 2 <= state["step"] < 100000 and (out / "model.safetensors").exists()


def test_a_signal_on_the_last_step_leaves_the_run_finished(tmp_path):
    cfg = LoopConfig(steps=5, warmup_steps=1, log_every=100, ckpt_every=100)
    result = run_loop(stage="toy", objective=_SignalsItself(at=4, signum=signal.SIGTERM),
                      batch_fn=_batch, cfg=cfg, info=init_distributed("cpu"),
                      run=RunDir(tmp_path), export=lambda: None)
    assert result["step"] == 5 and "stopped_by" not in result


def test_kept_eval_models_are_the_weights_each_evaluation_saw(tmp_path):
    objective = _Quadratic()
    run = RunDir(tmp_path)
    seen = {}

    def export():
        save_file({"w": objective.w.detach().clone()}, run.model_path)

    def evaluate():
        seen[len(seen)] = objective.w.detach().clone()
        return {"w0": float(objective.w[0].detach())}

    cfg = LoopConfig(steps=7, warmup_steps=1, lr=0.1, eval_every=2, ckpt_every=3,
                     log_every=100, keep_eval_models=True)
    run_loop(stage="toy", objective=objective, batch_fn=_batch, cfg=cfg,
             info=init_distributed("cpu"), run=run, export=export, evaluate=evaluate)
    rows = run.rows("eval")
    assert [r["step"] for r in rows] == [2, 4, 6, 7]  # every 2 and the end; ckpt_every 3 in between
    assert [r["model"] for r in rows] == [f"models/step-{s:07d}.safetensors" for s in (2, 4, 6, 7)]
    for i, r in enumerate(rows):
        kept = load_file(tmp_path / r["model"])["w"]
        assert torch.equal(kept, seen[i])  # the weights at that very step
    assert not torch.equal(seen[0], seen[3])


def test_without_keep_eval_models_no_models_are_kept(tmp_path):
    cfg = LoopConfig(steps=4, warmup_steps=1, eval_every=2, log_every=100, ckpt_every=100)
    run = RunDir(tmp_path)
    run_loop(stage="toy", objective=_Quadratic(), batch_fn=_batch, cfg=cfg,
             info=init_distributed("cpu"), run=run, export=lambda: None,
             evaluate=lambda: {"x": 1.0})
    assert not (tmp_path / "models").exists() and "model" not in run.rows("eval")[0]


def test_keeping_a_model_that_was_never_exported_names_the_missing_file(tmp_path):
    with pytest.raises(Exception, match=r"expected an exported model.safetensors to keep for "
                                        r"step 5, found none"):
        RunDir(tmp_path).keep_model(5)
