"""The held-out report scores every run on one dataset on the same windows: the run's seed
changes its training batches, never what it is judged on, so runs of different seeds compare."""

import json

import numpy as np
import pytest

from livefoley.models.training import cli
from livefoley.models.training.batches import heldout_rng, kv_window_shortfall, step_rng

from .helpers import stage_args


def _heldout(data, out, init, seed):
    # lr 1e-30: the step leaves every weight as it was (far below float32's resolution), so
    # both runs score the same model, and only the windows could differ.
    assert cli.main(stage_args("stage1", data, out, init, "--steps", "1", "--warmup", "1",
                               "--eval-every", "1", "--lr", "1e-30", "--seed", str(seed))) == 0
    rows = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    train = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return rows[-1], [r["loss"] for r in train if "loss" in r]


def test_runs_of_different_seeds_report_the_same_heldout_numbers_for_the_same_model(dataset, tmp_path):
    data, init = dataset
    a, loss_a = _heldout(data, tmp_path / "a", init, seed=1)
    b, loss_b = _heldout(data, tmp_path / "b", init, seed=2)
    assert loss_a != loss_b  # the seeds did draw different training batches
    numbers = sorted(k for k in a if k.startswith("mse"))
    assert numbers and {k: a[k] for k in numbers} == {k: b[k] for k in numbers}


def test_heldout_windows_are_those_a_seed_0_run_drew_and_unlike_a_step_draw():
    first = heldout_rng().integers(0, 2**31, 8)
    assert np.array_equal(first, heldout_rng().integers(0, 2**31, 8))
    assert np.array_equal(first, np.random.default_rng([0, 4321]).integers(0, 2**31, 8))
    assert not np.array_equal(first, step_rng(1, 0).integers(0, 2**31, 8))


def test_training_windows_not_longer_than_the_kv_window_are_warned_about(dataset, tmp_path, caplog):
    assert kv_window_shortfall(65, 64) is None
    note = kv_window_shortfall(32, 64)
    assert "--window 32" in note and "(64 frames)" in note and "--window 72" in note
    data, init = dataset  # small_config: window_frames 16; stage_args: --window 8
    with caplog.at_level("WARNING", logger="livefoley.models.training.diffusion_stage"):
        _heldout(data, tmp_path / "short", init, seed=1)
    assert any("--window 8 is not longer than the model's KV window (16 frames)" in r.getMessage()
               for r in caplog.records)


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-q"]))
