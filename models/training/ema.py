"""An exponential moving average of the trained weights, the model that a run exports.

What it is: `WeightEMA` keeps, beside each trainable parameter, the average
    ema <- beta * ema + (1 - beta) * param,   beta = 0.5 ** (1 / halflife_steps),
updated after every optimiser step, starting from the weights the run starts with. With the
loop's `ema_halflife_steps` > 0, the exported model and the held-out evaluation see the average
(`swapped_in`), the optimiser keeps stepping the raw weights, and `state.pt` holds both, so a
resumed run continues the same average.

Why: diffusion and consistency models are usually shipped as a weight average (EDM2's post-hoc
EMA; SoundReactor's VAE config lists EMA), which smooths the last steps' noise at a constant
learning rate. The half-life is in optimiser steps, so it reads the same for any run length.

What it is not: a post-hoc EMA (EDM2 keeps two power-function averages and reconstructs any
width afterwards); one width is chosen before the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from livefoley.protocol.errors import CheckpointError, ConfigError


class WeightEMA:
    """The running average of `params`; see module docstring.

    Thread-safety: none (the training loop's thread). Real-time safe: no.
    """

    def __init__(self, params: Sequence[torch.nn.Parameter], halflife_steps: float) -> None:
        if not halflife_steps > 0:
            raise ConfigError(f"EMA half-life: expected > 0 steps, found {halflife_steps}")
        self.params = list(params)
        self.halflife_steps = float(halflife_steps)
        self.beta = 0.5 ** (1.0 / self.halflife_steps)
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        """Move the average toward the current weights (after an optimiser step)."""
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - self.beta)

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The average in the parameters for the block's duration, the raw weights after."""
        raw = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, a in zip(self.params, self.average):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, r in zip(self.params, raw):
                    p.copy_(r)

    def state_dict(self) -> dict:
        """For `state.pt` (serialised at once, so the tensors are not copied)."""
        return {"halflife_steps": self.halflife_steps, "average": list(self.average)}

    def load_state_dict(self, state: dict, source: str) -> None:
        """Continue the average saved in `state` (from `source`, named in errors)."""
        if state["halflife_steps"] != self.halflife_steps:
            raise CheckpointError(f"training state {source}: expected an EMA half-life of "
                                  f"{self.halflife_steps:g} steps, found "
                                  f"{state['halflife_steps']:g} (resume with the run's own)")
        average = state["average"]
        shapes = [tuple(p.shape) for p in self.params]
        found = [tuple(a.shape) for a in average]
        if found != shapes:
            raise CheckpointError(f"training state {source}: expected EMA tensors of shapes "
                                  f"{shapes[:4]}... ({len(shapes)}), found {found[:4]}... "
                                  f"({len(found)})")
        self.average = [a.to(p.device, p.dtype) for a, p in zip(average, self.params)]
