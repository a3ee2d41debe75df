"""Atomic checkpoint writes: a writer killed mid-save leaves the previous checkpoint loadable."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from livefoley.models.training.runstate import (
    RunDir,
    atomic_torch_save,
    atomic_write_bytes,
    load_training_state,
)
from livefoley.protocol.errors import CheckpointError

# The child saves a ~64 MB state over and over (step 1, 2, ...) to the same path.
_WRITER = r"""
import sys, torch
from livefoley.models.training.runstate import atomic_torch_save
big = torch.ones(16 * 2**20)
step = 1
while True:
    atomic_torch_save({"step": step, "big": big * step}, sys.argv[1])
    step += 1
"""


def test_kill_during_save_leaves_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "state.pt"
    atomic_torch_save({"step": 0, "big": torch.zeros(4)}, path)
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)])
        try:
            deadline = time.monotonic() + 60
            # Kill as soon as a temporary file exists: the writer is inside a save.
            while not any(p.name.startswith(".state.pt.tmp-") for p in tmp_path.iterdir()):
                assert time.monotonic() < deadline, "writer never started a save"
                time.sleep(0.002)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        state = load_training_state(path)  # the last complete one, old or new
        step = state["step"]
        expected = torch.zeros(4) if step == 0 else torch.full((16 * 2**20,), float(step))
        assert torch.equal(state["big"], expected)


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_bytes(b"first", path)
    atomic_write_bytes(b"second", path)
    assert path.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_load_missing_state_names_path(tmp_path):
    with pytest.raises(CheckpointError, match=r"expected a file, found none"):
        load_training_state(tmp_path / "nope.pt")


def test_load_truncated_state_is_refused(tmp_path):
    path = tmp_path / "state.pt"
    atomic_torch_save({"step": 3, "w": torch.ones(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="expected a torch archive, found an unreadable"):
        load_training_state(path)


def test_run_dir_logs_csv_and_plot(tmp_path):
    run = RunDir(tmp_path / "run")
    for step in (1, 2, 3):
        run.append({"step": step, "loss": 1.0 / step, "lr": 1e-3})
    run.append({"step": 3, "mse": 0.5}, kind="eval")
    run.truncate_logs(2)
    assert [r["step"] for r in run.rows()] == [1, 2]
    assert run.rows("eval") == []
    run.write_plot()
    assert run.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.csv_path.read_text().splitlines()[0] == "loss,lr,step"
