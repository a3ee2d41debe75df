"""Resume equals an uninterrupted run; two gloo processes train in step (DDP)."""

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from livefoley.models.checkpoint import load_checkpoint
from livefoley.models.training import cli
from livefoley.models.training.runstate import RunDir, load_training_state
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import CheckpointError, ConfigError

from .helpers import small_config, stage_args


def _args(data, out, init, *extra):
    return stage_args("stage1", data, out, init, "--ckpt-every", "2", "--warmup", "2", *extra)


def test_resume_matches_uninterrupted_run(dataset, tmp_path):
    data, init = dataset
    torch.use_deterministic_algorithms(True)
    try:
        assert cli.main(_args(data, tmp_path / "a", init, "--steps", "4")) == 0
        assert cli.main(_args(data, tmp_path / "b", init, "--steps", "2")) == 0
        assert cli.main(_args(data, tmp_path / "b", init, "--steps", "4", "--resume")) == 0
    finally:
        torch.use_deterministic_algorithms(False)
    a = load_training_state(tmp_path / "a" / "state.pt")
    b = load_training_state(tmp_path / "b" / "state.pt")
    assert a["step"] == b["step"] == 4
    for k, v in a["objective"].items():
        assert torch.allclose(v, b["objective"][k], atol=1e-6, rtol=0), k
    # the resumed log holds each step once, and the exported model loads
    assert [r["step"] for r in RunDir(tmp_path / "b").rows()] == [1, 2, 3, 4]
    load_checkpoint(tmp_path / "b" / "model.safetensors")
    assert (tmp_path / "b" / "loss.png").exists()
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert [s["resumed_from_step"] for s in run["starts"]] == [0, 2]
    assert run["config"]["loop"]["seed"] == 0


def test_existing_state_without_resume_is_refused(dataset, tmp_path):
    data, init = dataset
    assert cli.main(_args(data, tmp_path / "c", init, "--steps", "2")) == 0
    with pytest.raises(CheckpointError, match=r"expected an empty run folder or --resume, "
                                              r"found a training state at step 2"):
        cli.main(_args(data, tmp_path / "c", init, "--steps", "4"))


def test_prev_noise_is_recorded_and_changes_the_run(dataset, tmp_path):
    data, init = dataset
    assert cli.main(_args(data, tmp_path / "p", init, "--steps", "2", "--prev-noise", "0.5")) == 0
    assert cli.main(_args(data, tmp_path / "q", init, "--steps", "2")) == 0
    run = json.loads((tmp_path / "p" / "run.json").read_text())
    assert run["config"]["stage1"]["prev_noise"] == 0.5
    p = load_training_state(tmp_path / "p" / "state.pt")["objective"]
    q = load_training_state(tmp_path / "q" / "state.pt")["objective"]
    assert any(not torch.equal(v, q[k]) for k, v in p.items())


def test_prev_shrink_is_recorded_and_changes_the_run(dataset, tmp_path):
    data, init = dataset
    assert cli.main(_args(data, tmp_path / "s", init, "--steps", "2", "--prev-shrink", "0.5")) == 0
    assert cli.main(_args(data, tmp_path / "q", init, "--steps", "2")) == 0
    run = json.loads((tmp_path / "s" / "run.json").read_text())
    assert run["config"]["stage1"]["prev_shrink"] == 0.5 and run["config"]["stage1"]["prev_noise"] == 0.0
    s = load_training_state(tmp_path / "s" / "state.pt")["objective"]
    q = load_training_state(tmp_path / "q" / "state.pt")["objective"]
    assert any(not torch.equal(v, q[k]) for k, v in s.items())

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, data, out, init, port, result_dir):
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from livefoley.models.training import diffusion_stage

    seen = {}
    real = diffusion_stage.run_loop

    def spy(**kw):
        seen["objective"] = kw["objective"]
        return real(**kw)

    diffusion_stage.run_loop = spy
    assert cli.main(_args(data, out, init, "--steps", "3")) == 0
    state = {k: v.detach().clone() for k, v in seen["objective"].state_dict().items()}
    torch.save(state, os.path.join(result_dir, f"rank{rank}.pt"))


@pytest.mark.slow
def test_two_process_gloo_ddp_trains_in_step(dataset, tmp_path):
    data, init = dataset
    mp.spawn(_ddp_worker, args=(str(data), str(tmp_path / "run"), str(init), _free_port(),
                                str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    start = build_model(small_config()).state_dict()
    moved = 0
    for k, v in r0.items():
        assert torch.equal(v, r1[k]), k  # gradients were averaged: replicas stay identical
        moved += not torch.equal(v, start[k.removeprefix("model.")])
    assert moved > 10
    assert load_training_state(tmp_path / "run" / "state.pt")["step"] == 3
    assert json.loads((tmp_path / "run" / "run.json").read_text())[
        "starts"][0]["world_size"] == 2


def test_prefetched_batches_train_like_synchronous_ones(dataset, tmp_path):
    data, init = dataset
    torch.use_deterministic_algorithms(True)
    try:
        assert cli.main(_args(data, tmp_path / "s", init, "--steps", "4")) == 0
        assert cli.main(_args(data, tmp_path / "f", init, "--steps", "4", "--prefetch", "3")) == 0
    finally:
        torch.use_deterministic_algorithms(False)
    s = load_training_state(tmp_path / "s" / "state.pt")["objective"]
    f = load_training_state(tmp_path / "f" / "state.pt")["objective"]
    for k, v in s.items():
        assert torch.allclose(v, f[k], atol=1e-6, rtol=0), k
    assert json.loads((tmp_path / "f" / "run.json").read_text())["config"]["loop"]["prefetch"] == 3


def test_fit_steps_needs_a_time_limit(dataset, tmp_path):
    data, init = dataset
    with pytest.raises(ConfigError, match=r"fit_steps: expected a time limit \(--max-minutes\)"):
        cli.main(_args(data, tmp_path / "t", init, "--fit-steps"))
