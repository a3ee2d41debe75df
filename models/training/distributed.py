"""Process-group setup for one process, one GPU, or several processes under `torchrun`.

What it is: `init_distributed(device)` reads torchrun's env vars (WORLD_SIZE, RANK,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT); with WORLD_SIZE > 1 it initialises the default group
(nccl on CUDA, gloo on CPU) and returns a `DistInfo`; otherwise nothing is initialised.
`wrap_ddp` wraps an objective module in DistributedDataParallel when the group exists.
`all_mean` averages a float over ranks for logging.

What it is not: a launcher; use `torchrun --nproc_per_node N -m livefoley.sidecar.cli train ...`
(or `livefoley train` under torchrun) for several processes.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import torch
import torch.distributed as dist
from torch import nn

from livefoley.protocol.errors import DeviceError

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """Where this process sits: rank of world_size, and its torch device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistInfo:
    """Initialise from the environment; see the module docstring.

    Args:
        device: "cpu", "cuda" or "auto" (CUDA if present). Under torchrun each process takes
            cuda:LOCAL_RANK.

    Raises:
        DeviceError: "cuda" asked for and absent, or fewer GPUs than local ranks.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    want_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if want_cuda:
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if local >= n:
            raise DeviceError(f"training device: expected a CUDA device for local rank {local}, "
                              f"found {n} CUDA device(s)")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo",
                                rank=rank, world_size=world)
        log.info("process group up: rank %d of %d on %s", rank, world, dev)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev)


def wrap_ddp(module: nn.Module, info: DistInfo) -> nn.Module:
    """`module` in DDP when distributed, else itself."""
    if not info.distributed:
        return module
    ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def all_mean(value: float, info: DistInfo) -> float:
    """Mean of a float over ranks (the value itself when not distributed)."""
    if not info.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def any_rank(flags: tuple[bool, ...], info: DistInfo) -> tuple[bool, ...]:
    """Each flag true on every rank when it is true on any (the flags themselves when not
    distributed), in one collective: ranks that stop must stop at the same step, or the
    others wait in a collective forever."""
    if not info.distributed:
        return tuple(flags)
    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v > 0) for v in t.tolist())


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()
