"""`livefoley model`: what a checkpoint holds, and the sampling defaults it carries.

    livefoley model models/weights/default.safetensors                    # show
    livefoley model runs/s2/model.safetensors --set-guidance 2 --set-nfe 4 --out m.safetensors

What it is: a reader of a checkpoint's config, size and sampling defaults, and a writer of
the defaults (the CFG scale and NFE chosen on validation data, which the generator, `serve`,
`demo`, `render` and `eval` then use when given none). The weights are copied unchanged; the new
file is written beside its destination and renamed over it, so a reader never sees half a file.

What it is not: training or conversion; the tensors are never touched.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a livefoley.v2a safetensors file")
    parser.add_argument("--set-guidance", type=float, default=None, metavar="W",
                        help="record W (>= 1) as the model's CFG scale")
    parser.add_argument("--set-nfe", type=int, default=None, metavar="N",
                        help="record N (1..4) as the model's consistency NFE")
    parser.add_argument("--clear-sampling", action="store_true",
                        help="remove the recorded sampling defaults")
    parser.add_argument("--out", default=None,
                        help="where to write the changed file (default: over the checkpoint)")


def main(args: argparse.Namespace) -> int:
    from livefoley.models.checkpoint import check_sampling_defaults, load_checkpoint
    from livefoley.models.training.export import save_model_atomic
    from livefoley.protocol.errors import ConfigError

    updates = {k: v for k, v in (("guidance_scale", args.set_guidance), ("nfe", args.set_nfe))
               if v is not None}
    if updates and args.clear_sampling:
        raise ConfigError("livefoley model: expected --set-guidance/--set-nfe or "
                          "--clear-sampling, found both")
    model = load_checkpoint(args.checkpoint)
    path = Path(args.checkpoint)
    if updates or args.clear_sampling:
        model.sampling_defaults = ({} if args.clear_sampling else check_sampling_defaults(
            {**model.sampling_defaults, **updates}, where="livefoley model"))
        path = Path(args.out or args.checkpoint)
        save_model_atomic(model, path)
    cfg = model.config
    params = sum(p.numel() for p in model.parameters())
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, {params / 1e6:.2f} M parameters, "
          f"{cfg.sample_rate_hz} Hz, {cfg.channels} ch, {cfg.latent_rate_hz:g} latents/s, "
          f"text {'yes' if cfg.text_dim else 'no'}")
    print(f"sampling defaults: {model.sampling_defaults or 'none (generator defaults)'}")
    return 0
