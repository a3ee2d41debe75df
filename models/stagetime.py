"""Where a step's time goes: stage names, a per-stage stopwatch, and the device check.

What it is: `STAGES` (the per-frame stages `StreamingGenerator` times, in order), `Stopwatch`
(wall and process-CPU time of consecutive stages, synchronising the device first), and
`check_device`. What it is not: a profiler; one lap per stage per step.
"""

from __future__ import annotations

import time

import torch

from livefoley.protocol.errors import DeviceError


def check_device(device: str | torch.device) -> torch.device:
    """`device` as a torch.device, refusing CUDA where none is present.

    Raises:
        DeviceError: a CUDA device was asked for and CUDA is absent or has fewer devices.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = dev.index or 0
        if index >= n:
            raise DeviceError(f"device {dev}: expected a CUDA device with index {index}, "
                              f"found {n} CUDA device(s)")
    return dev


STAGES = ("transformer_audio", "vision", "transformer", "head", "vae")


class Stopwatch:
    """Wall (perf_counter) and process CPU time of consecutive stages, in ms."""

    def __init__(self, sync) -> None:
        self.sync = sync
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._w, self._c = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        self.sync()
        w, c = time.perf_counter(), time.process_time()
        self.wall[name], self.cpu[name] = (w - self._w) * 1e3, (c - self._c) * 1e3
        self._w, self._c = w, c


class ZeroWatch:
    """Timings of a step that ran no audio-transformer stage of its own."""

    wall = cpu = {"transformer_audio": 0.0}


ZERO_WATCH = ZeroWatch()
