"""A training run's folder: atomic checkpoints, the loss log, the loss plot, the run record.

What it is:
- `atomic_torch_save(obj, path)` / `atomic_write_bytes`: write to a temporary file in the same
  folder, flush, fsync, rename over the target, fsync the folder. A process killed at any
  point leaves either the previous file or the new one, never a torn one (tested by killing a
  writer mid-save).
- `load_training_state(path)`: `torch.load(weights_only=True)` (no pickle code runs).
- `RunDir`: `run.json` (command line, seeds, configs, host, per-start history), `log.jsonl`
  and `log.csv` (one row per logged step), `loss.png` (matplotlib, written on every
  checkpoint), `eval.jsonl` (held-out numbers).

What it is not: the training loop; only rank 0 writes here (the loop decides).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from livefoley.protocol.errors import CheckpointError

log = logging.getLogger(__name__)

STATE_NAME = "state.pt"
MODEL_NAME = "model.safetensors"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write `data` to `path` so that a crash leaves the old file or the new one.

    Thread-safety: one writer per path. Real-time safe: no.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """`torch.save` through a temporary file + fsync + rename (see `atomic_write_bytes`)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def load_training_state(path: str | os.PathLike) -> dict[str, Any]:
    """Load a state written by `atomic_torch_save` (tensors, dicts, numbers only).

    Raises:
        CheckpointError: missing or unreadable file; the message names the path.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training state {path}: expected a file, found none")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged archives
        raise CheckpointError(f"training state {path}: expected a torch archive, "
                              f"found an unreadable file ({exc})") from exc


class RunDir:
    """The folder of one run; see the module docstring. Rank 0 only.

    Thread-safety: one process writes a run folder.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_path = self.root / STATE_NAME
        self.model_path = self.root / MODEL_NAME
        self.log_path = self.root / "log.jsonl"
        self.csv_path = self.root / "log.csv"
        self.eval_path = self.root / "eval.jsonl"
        self.plot_path = self.root / "loss.png"

    def keep_model(self, step: int) -> Path:
        """Copy the exported model to `models/step-NNNNNNN.safetensors` (atomically); its path."""
        if not self.model_path.is_file():
            raise CheckpointError(f"run {self.root}: expected an exported {MODEL_NAME} to keep "
                                  f"for step {step}, found none")
        kept = self.root / "models" / f"step-{step:07d}.safetensors"
        kept.parent.mkdir(exist_ok=True)
        atomic_write_bytes(self.model_path.read_bytes(), kept)
        return kept

    def record_start(self, *, stage: str, config: dict[str, Any], resumed_from: int) -> None:
        """Append this start (command, seeds, config, host) to run.json."""
        record = self._read_record()
        record["stage"] = stage
        record["config"] = config
        record["starts"].append({
            "utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": sys.argv, "resumed_from_step": resumed_from,
            "host": platform.node(), "python": platform.python_version(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "world_size": int(os.environ.get("WORLD_SIZE", "1")),
            "cuda": torch.cuda.is_available()})
        self._write_record(record)

    def record_fitted_steps(self, steps: int) -> None:
        """Write the total steps fitted to the time limit into this start of run.json
        (`fitted_steps`: the plan in force; `fits`: every plan in order)."""
        record = self._read_record()
        record["starts"][-1]["fitted_steps"] = steps
        record["starts"][-1].setdefault("fits", []).append(steps)
        record["config"]["loop"]["steps"] = steps
        self._write_record(record)

    def _read_record(self) -> dict[str, Any]:
        path = self.root / "run.json"
        return json.loads(path.read_text()) if path.exists() else {"starts": []}

    def _write_record(self, record: dict[str, Any]) -> None:
        atomic_write_bytes(json.dumps(record, indent=1).encode(), self.root / "run.json")

    def truncate_logs(self, step: int) -> None:
        """Drop log rows after `step` (a resumed run re-does them)."""
        for path in (self.log_path, self.eval_path):
            if path.exists():
                rows = [ln for ln in path.read_text().splitlines()
                        if ln and json.loads(ln)["step"] <= step]
                atomic_write_bytes(("\n".join(rows) + ("\n" if rows else "")).encode(), path)
        self._write_csv()

    def append(self, row: dict[str, Any], *, kind: str = "train") -> None:
        path = self.log_path if kind == "train" else self.eval_path
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def rows(self, kind: str = "train") -> list[dict[str, Any]]:
        path = self.log_path if kind == "train" else self.eval_path
        if not path.exists():
            return []
        return [json.loads(ln) for ln in path.read_text().splitlines() if ln]

    def _write_csv(self) -> None:
        rows = self.rows()
        if not rows:
            return
        keys = sorted({k for r in rows for k in r})
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
        atomic_write_bytes(buf.getvalue().encode(), self.csv_path)

    def write_plot(self) -> None:
        """loss.png: every numeric training column against step, plus held-out numbers."""
        self._write_csv()
        rows, evals = self.rows(), self.rows("eval")
        if not rows:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        keys = [k for k in rows[-1] if k not in ("step", "lr", "wall_s", "stage")
                and isinstance(rows[-1][k], (int, float))]
        ekeys = [k for k in (evals[-1] if evals else {}) if k != "step"
                 and isinstance(evals[-1][k], (int, float))]
        n = len(keys) + len(ekeys)
        fig, axes = plt.subplots(n, 1, figsize=(7, 2.2 * n), squeeze=False)
        for ax, k in zip(axes[:, 0], keys + ekeys):
            src = rows if k in keys else evals
            pts = [(r["step"], r[k]) for r in src if k in r]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1)
            ax.set_ylabel(k, fontsize=8)
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("step")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        plt.close(fig)
        atomic_write_bytes(buf.getvalue(), self.plot_path)
