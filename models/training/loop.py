"""The training loop shared by the three stages: optimise, log, checkpoint, resume.

What it is: `LoopConfig` (optimiser and bookkeeping settings) and `run_loop`, which steps an
objective module (its `forward(batch, step)` returns a dict with a scalar "loss" and other
numbers to log) with AdamW, linear warm-up, gradient clipping, DDP when a process group
exists, and every `ckpt_every` steps an atomic training state (`state.pt`: objective weights,
optimiser, step) plus the exported model (`model.safetensors`) and the loss plot.

Batches are made on the host (`batch_fn(step)` returns CPU tensors) and moved to the device
here. With `prefetch` > 0, threads make the batches of the next `prefetch` steps while the
current step runs (pinned memory and asynchronous copies on CUDA): a batch is a function of its
step alone, so prefetched batches are the very ones a synchronous run draws.

With `keep_eval_models`, the model of every evaluated step is kept as
`models/step-NNNNNNN.safetensors` (each such evaluation is also a checkpoint) and named in its
`eval.jsonl` row, so a run can be stopped
after the fact at the step its held-out numbers choose (rather than only at its end).

With `fit_steps` and a time limit, the run measures its own speed over `FIT_WINDOW` steps after
`FIT_SKIP` warm-up steps and sets `steps` to what fits the remaining time, so the cosine decay
and ECT's curriculum end when the time does (the fitted count is logged and written to
`run.json`; resume such a run with `--steps` set to it). Once a tenth of that plan has run
(`REFIT_FRACTION`) it fits again, over the steps since the first fit, evaluations and
checkpoints included: the first window is short and often slow (a cold page cache made a
60-minute CPU run end in 46), and a tenth in, the schedule has barely moved (the cosine is
flat there and ECT is in its first stage), so the new plan changes nothing already done.

Why resume is exact: every random draw of step k comes from generators seeded by
(seed, k, rank) (`batches.step_rng`), so the only state is weights, optimiser and step, all in
`state.pt`. On CPU with the same thread count, a resumed run matches an uninterrupted one
bit for bit (tested).

Stopping early: SIGINT (Ctrl-C) or SIGTERM (a scheduler's preemption, `kill`) during a run
finishes the current step, writes the checkpoint and the model, and returns with
`stopped_by` set, so `--resume` continues from that very step (`StopRequest`). A second signal
is handled as the process would have handled it without the loop (default: it dies). The time
limit and a signal are agreed across ranks (`distributed.any_rank`): every rank stops at the
same step.

With `ema_halflife_steps` > 0 (`ema.py`), checkpoints export and evaluations see an
exponential moving average of the weights; `state.pt` holds it beside the raw weights.

What it is not: a stage. Stages (`vae_stage.py`, `diffusion_stage.py`) build the objective,
the batches and the export.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from torch import nn

from livefoley.models.configutil import to_dict
from livefoley.models.training.distributed import (
    DistInfo,
    all_mean,
    any_rank,
    barrier,
    wrap_ddp,
)
from livefoley.models.training.ema import WeightEMA
from livefoley.models.training.runstate import RunDir, atomic_torch_save, load_training_state
from livefoley.protocol.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """Optimiser and bookkeeping of one run (per-stage defaults live in the stages)."""

    steps: int = 1000  # optimiser steps in total (a resumed run continues to this)
    batch_size: int = 8  # per process
    lr: float = 3e-4  # AdamW learning rate after warm-up
    warmup_steps: int = 50  # linear warm-up from 0
    decay_final_frac: float = 1.0  # cosine decay to lr * this at the last step (1: constant)
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # max global grad norm (0: off)
    seed: int = 0
    log_every: int = 10  # steps between log rows
    ckpt_every: int = 100  # steps between checkpoints (and at the end)
    eval_every: int = 0  # steps between held-out evaluations (0: only at the end)
    keep_eval_models: bool = False  # keep the model of each evaluated step (models/step-N)
    time_limit_s: float = 0.0  # stop (with a checkpoint) after this wall time (0: none)
    fit_steps: bool = False  # set `steps` from the measured speed to fill the time limit
    prefetch: int = 0  # batches made ahead by threads (0: in the loop, synchronously)
    ema_halflife_steps: float = 0.0  # export and evaluate a weight average (0: the raw weights)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"LoopConfig.{name}: expected >= 1, found {getattr(self, name)}")
        if self.lr <= 0:
            raise ConfigError(f"LoopConfig.lr: expected > 0, found {self.lr}")
        if self.prefetch < 0:
            raise ConfigError(f"LoopConfig.prefetch: expected >= 0, found {self.prefetch}")
        if not self.ema_halflife_steps >= 0:
            raise ConfigError("LoopConfig.ema_halflife_steps: expected >= 0 (0: off), found "
                              f"{self.ema_halflife_steps}")
        if self.fit_steps and self.time_limit_s <= 0:
            raise ConfigError("LoopConfig.fit_steps: expected a time limit (--max-minutes) to "
                              f"fit the steps to, found time_limit_s {self.time_limit_s}")

    def lr_at(self, step: int) -> float:
        """Learning rate of optimiser step `step` (0-based)."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.decay_final_frac >= 1.0:
            return self.lr
        frac = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        low = self.lr * self.decay_final_frac
        return low + 0.5 * (self.lr - low) * (1 + math.cos(math.pi * min(frac, 1.0)))


BatchFn = Callable[[int], dict[str, torch.Tensor]]  # step -> host batch (rank bound by the stage)

FIT_SKIP = 10  # steps before the speed is measured (allocator, kernel selection, page cache)
FIT_WINDOW = 30  # steps the speed is measured over
REFIT_FRACTION = 0.1  # share of the first plan after which the speed is measured again


class Batches:
    """`get(step)`: `batch_fn(step)` on `device`, made up to `depth` steps ahead by threads.

    Steps must be asked for in increasing order (the loop's); each is made once.
    """

    def __init__(self, batch_fn: BatchFn, device: torch.device, depth: int) -> None:
        self.batch_fn = batch_fn
        self.device = torch.device(device)
        self.depth = depth
        self.pin = depth > 0 and self.device.type == "cuda"
        self.pool = ThreadPoolExecutor(depth, "batches") if depth > 0 else None
        self.pending: dict[int, Future] = {}

    def _make(self, step: int) -> dict[str, torch.Tensor]:
        batch = self.batch_fn(step)
        return {k: v.pin_memory() for k, v in batch.items()} if self.pin else batch

    def get(self, step: int) -> dict[str, torch.Tensor]:
        if self.pool is None:
            batch = self.batch_fn(step)
        else:
            for s in range(step, step + self.depth + 1):
                if s not in self.pending:
                    self.pending[s] = self.pool.submit(self._make, s)
            batch = self.pending.pop(step).result()
        return {k: v.to(self.device, non_blocking=self.pin) for k, v in batch.items()}

    def __enter__(self) -> "Batches":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            for f in self.pending.values():
                f.cancel()
            self.pool.shutdown(wait=True)
            self.pending.clear()


def fitted_steps(cfg: LoopConfig, step: int, elapsed_s: float, window_s: float,
                 window_steps: int) -> int:
    """Total steps that end the run at its time limit, from `window_steps` in `window_s`."""
    rate = window_steps / max(window_s, 1e-9)
    return max(step + 1, step + int(rate * max(cfg.time_limit_s - elapsed_s, 0.0)))


class StopRequest:
    """While entered (main thread only; elsewhere a no-op), the first SIGINT or SIGTERM is
    recorded in `signal_name` instead of ending the process; the previous handlers are put
    back on exit and after that first signal, so a second one acts as it would have."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name
        self._restore()
        log.warning("%s received: stopping after this step with a checkpoint (again to abort)",
                    self.signal_name)

    def _restore(self) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous = {}

    def __exit__(self, *exc: object) -> None:
        self._restore()


def run_loop(*, stage: str, objective: nn.Module, batch_fn: BatchFn, cfg: LoopConfig,
             info: DistInfo, run: RunDir, export: Callable[[], None],
             evaluate: Callable[[], dict[str, float]] | None = None, resume: bool = False,
             extra_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train `objective`'s trainable parameters for `cfg.steps` steps; see module docstring.

    Args:
        stage: "vae", "stage1", "stage2" or "decoder" (recorded, and checked on resume).
        objective: module with `forward(batch, step) -> {"loss": tensor, ...}`.
        batch_fn: step -> this rank's batch as host tensors (moved to `info.device` here).
        cfg: the loop settings.
        info: from `init_distributed`.
        run: the run folder (every rank reads it on resume; only rank 0 writes).
        export: writes the deployable model (rank 0, at each checkpoint).
        evaluate: held-out numbers (rank 0, every `eval_every` and at the end).
        resume: continue from `run/state.pt`; without it an existing state is refused.

    Returns:
        {"step": last step, "loss": mean loss of the last logged window, "wall_s": ...,
        "steps": the planned total (fitted with `cfg.fit_steps`)}, and "stopped_by": the
        signal's name when SIGINT or SIGTERM stopped it early (see module docstring).

    Raises:
        CheckpointError: a state exists and resume is off, or the state is of another stage.
    """
    params = [p for p in objective.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                            weight_decay=cfg.weight_decay)
    start = 0
    state_path = run.state_path
    if info.is_main and state_path.exists() and not resume:
        raise CheckpointError(f"run {run.root}: expected an empty run folder or --resume, "
                              f"found a training state at step "
                              f"{load_training_state(state_path)['step']}")
    ema = WeightEMA(params, cfg.ema_halflife_steps) if cfg.ema_halflife_steps > 0 else None
    if resume:
        start = _load_state(objective, opt, state_path, stage, info, ema)
    if info.is_main:
        run.record_start(stage=stage, resumed_from=start, config={
            "loop": to_dict(cfg), **(extra_config or {})})
        run.truncate_logs(start)
    ddp = wrap_ddp(objective, info)
    objective.train()
    t0 = time.perf_counter()
    window: dict[str, list[float]] = {}
    last: dict[str, Any] = {"step": start, "loss": float("nan")}
    step = start
    fit_at = start + FIT_SKIP + FIT_WINDOW if cfg.fit_steps else -1
    refit_at = -1  # set by the first fit
    t_fit = t_refit = t0
    with Batches(batch_fn, info.device, cfg.prefetch) as batches, StopRequest() as stopper:
        while step < cfg.steps:
            if step == start + FIT_SKIP:
                t_fit = time.perf_counter()
            for group in opt.param_groups:
                group["lr"] = cfg.lr_at(step)
            out = ddp(batches.get(step), step)
            loss = out["loss"]
            if not torch.isfinite(loss):
                raise ConfigError(f"{stage} step {step}: expected a finite loss, "
                                  f"found {loss.item()}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = (torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                     if cfg.grad_clip > 0 else torch.zeros(()))
            opt.step()
            if ema is not None:
                ema.update()
            step += 1
            if step == fit_at:
                cfg = _fit_to_time(cfg, step, t0, t_fit, FIT_WINDOW, stage, objective, run, info)
                refit_at = max(step + FIT_WINDOW,
                               start + int(REFIT_FRACTION * (cfg.steps - start)))
                t_refit = time.perf_counter()
            elif step == refit_at and step < cfg.steps:  # the same step on every rank
                cfg = _fit_to_time(cfg, step, t0, t_refit, step - fit_at, stage, objective,
                                   run, info)
            for k, v in out.items():
                window.setdefault(k, []).append(float(v.detach()) if torch.is_tensor(v) else v)
            window.setdefault("grad_norm", []).append(float(gnorm))
            timed_out, signalled = any_rank(
                (cfg.time_limit_s > 0 and time.perf_counter() - t0 > cfg.time_limit_s,
                 stopper.signal_name is not None), info)
            stop = timed_out or signalled
            if step % cfg.log_every == 0 or step == cfg.steps or stop:
                row = {k: all_mean(sum(v) / len(v), info) for k, v in window.items()}
                row.update(step=step, lr=cfg.lr_at(step - 1),
                           wall_s=round(time.perf_counter() - t0, 2))
                window = {}
                last = dict(row)
                if info.is_main:
                    run.append(row)
                    log.info("%s step %d/%d: %s", stage, step, cfg.steps, " ".join(
                        f"{k}={v:.4g}" for k, v in row.items() if k not in ("step",)))
            want_eval = evaluate is not None and (
                (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps or stop)
            # an evaluation whose model is kept is a checkpoint too: state.pt, model.safetensors
            # and the kept model then always describe the same step
            if (step % cfg.ckpt_every == 0 or step == cfg.steps or stop
                    or (want_eval and cfg.keep_eval_models)):
                _save_state(objective, opt, step, stage, run, info, export, ema)
            if want_eval and info.is_main:
                objective.eval()
                with _averaged(ema):
                    numbers = evaluate()
                objective.train()
                if cfg.keep_eval_models:  # exported by the checkpoint of this very step
                    numbers["model"] = str(run.keep_model(step).relative_to(run.root))
                run.append({"step": step, **numbers}, kind="eval")
                run.write_plot()
                log.info("%s step %d held-out: %s", stage, step, numbers)
                last["eval"] = numbers
            if signalled and step < cfg.steps:  # a signal on the last step stops nothing
                last["stopped_by"] = stopper.signal_name or "a signal on another rank"
                log.info("%s: stopped by %s at step %d with a checkpoint (--resume continues)",
                         stage, last["stopped_by"], step)
                break
            if timed_out:
                log.info("%s: time limit %.0f s reached at step %d", stage, cfg.time_limit_s, step)
                break
    last["wall_s"] = time.perf_counter() - t0
    last["steps"] = cfg.steps
    return last


def _fit_to_time(cfg: LoopConfig, step: int, t0: float, t_fit: float, window_steps: int,
                 stage: str, objective: nn.Module, run: RunDir, info: DistInfo) -> LoopConfig:
    """`cfg` with `steps` fitted to the time left (`cfg.fit_steps`) at the speed of the
    `window_steps` since `t_fit`, recorded and logged."""
    now = time.perf_counter()
    n = int(all_mean(float(fitted_steps(cfg, step, now - t0, now - t_fit, window_steps)), info))
    before = cfg.steps
    cfg = dataclasses.replace(cfg, steps=max(n, cfg.warmup_steps + 1))
    if hasattr(objective, "total_steps"):  # ECT's curriculum follows the plan
        objective.total_steps = cfg.steps
    if info.is_main:
        run.record_fitted_steps(cfg.steps)
    log.info("%s: %.1f steps/s over %d steps, steps fitted to the time limit: %d (was %d)",
             stage, window_steps / (now - t_fit), window_steps, cfg.steps, before)
    return cfg


def _averaged(ema: WeightEMA | None) -> contextlib.AbstractContextManager:
    """The weight average in the parameters for a block (the raw weights without an EMA)."""
    return ema.swapped_in() if ema is not None else contextlib.nullcontext()


def _save_state(objective: nn.Module, opt: torch.optim.Optimizer, step: int, stage: str,
                run: RunDir, info: DistInfo, export: Callable[[], None],
                ema: WeightEMA | None) -> None:
    if info.is_main:
        state = {"stage": stage, "step": step, "objective": objective.state_dict(),
                 "optimizer": opt.state_dict()}
        if ema is not None:
            state["ema"] = ema.state_dict()
        atomic_torch_save(state, run.state_path)
        with _averaged(ema):
            export()
        run.write_plot()
    barrier(info)


def _load_state(objective: nn.Module, opt: torch.optim.Optimizer, path, stage: str,
                info: DistInfo, ema: WeightEMA | None) -> int:
    state = load_training_state(path)
    if state.get("stage") != stage:
        raise CheckpointError(f"training state {path}: expected stage {stage!r}, "
                              f"found {state.get('stage')!r}")
    if (ema is not None) != ("ema" in state):
        raise CheckpointError(
            f"training state {path}: expected "
            f"{'an EMA of half-life %g steps' % ema.halflife_steps if ema else 'no EMA'}, "
            f"found {'one' if 'ema' in state else 'none'} (resume with the run's own "
            "--ema-halflife)")
    objective.load_state_dict(state["objective"])
    opt.load_state_dict(state["optimizer"])
    if ema is not None:
        ema.load_state_dict(state["ema"], str(path))
    log.info("resumed %s from %s at step %d", stage, path, state["step"])
    return int(state["step"])
