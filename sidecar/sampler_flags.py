"""The sampler's optional extras as command-line flags: one definition for serve, render, demo.

What it is: the three sampling options a checkpoint may record besides NFE and guidance --
`noise_correlation` rho (AR(1) sampling noise across steps) and `feedback_noise` f (noise on
the fed-back latent), `models/noise_options.py`, and `history_guidance` w_h (a no-history row
group), `models/history_guidance.py` -- as flags (`add_arguments`), the overrides a parsed
command line holds (`overrides`), and the flags that pass them on to a `livefoley serve`
child (`argv`). A flag left out keeps the checkpoint's value, else the option is off.

What it is not: the ranges. The generator checks every value (`ConfigError` naming the
option, its range and the value); the control channel's `configure` takes the same three
keys (protocol/control/schema.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from livefoley.sidecar.runtime.config import SAMPLER_OPTIONS

_FLAGS = {
    "noise_correlation": ("--noise-correlation", "RHO",
                          "AR(1) correlation of the sampling noise across steps, 0..1"),
    "feedback_noise": ("--feedback-noise", "F", "std of the noise on the fed-back latent, 0 <= F < 10"),
    "history_guidance": ("--history-guidance", "WH",
                         "history guidance scale w_h, -4..4 (1: off; MLP head without text only; "
                         "!= 1 adds one row group per session: 5-10%% more step time on CPU)"),
}
assert tuple(_FLAGS) == SAMPLER_OPTIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --noise-correlation, --feedback-noise and --history-guidance (default: unset)."""
    for key, (flag, metavar, doc) in _FLAGS.items():
        parser.add_argument(flag, dest=key, type=float, default=None, metavar=metavar,
                            help=f"{doc} (default: the checkpoint's, else off)")


def overrides(args: argparse.Namespace) -> dict[str, float]:
    """The options the command line sets: {name: value} for each flag given."""
    return {key: float(getattr(args, key)) for key in _FLAGS if getattr(args, key, None) is not None}


def argv(options: Mapping[str, float]) -> list[str]:
    """The serve flags that set `options` in a child sidecar (the inverse of `overrides`)."""
    out = []
    for key, value in options.items():
        if key not in _FLAGS:
            raise KeyError(f"sampler option: expected one of {list(_FLAGS)}, found {key!r}")
        out += [_FLAGS[key][0], repr(float(value))]
    return out
