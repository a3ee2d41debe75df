"""`livefoley model`: what a checkpoint holds, and the sampling defaults it carries.

    livefoley model models/weights/default.safetensors                    # show
    livefoley model runs/s2/model.safetensors --set-guidance 2 --set-nfe 4 --out m.safetensors
    livefoley model m.safetensors --set-noise-correlation 1 --set-feedback-noise 0.5
    livefoley model m.safetensors --set-history-guidance 0.5
    livefoley model base.safetensors --blend tuned.safetensors --alpha 0.5 --out mid.safetensors

What it is: a reader of a checkpoint's config, size and sampling defaults, and a writer of
the defaults (the CFG scale, NFE, noise options and history guidance chosen on validation
data, which the generator, `serve`, `demo`, `render` and `eval` then use when given none). The
weights are copied unchanged, except with `--blend OTHER --alpha A`, which writes (1 - A) x
CHECKPOINT + A x OTHER tensor by tensor: weight-space interpolation between a model and a
fine-tune of it (WiSE-FT, Wortsman et al. 2022), for two files of one config. The new file is
written beside its destination and renamed over it, so a reader never sees half a file.

What it is not: training or conversion between configs.
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
    parser.add_argument("--set-noise-correlation", type=float, default=None, metavar="RHO",
                        help="record RHO (0..1): AR(1) correlation of the sampling noise "
                             "across steps")
    parser.add_argument("--set-feedback-noise", type=float, default=None, metavar="F",
                        help="record F (0 <= F < 10): std of the noise on the fed-back latent")
    parser.add_argument("--set-history-guidance", type=float, default=None, metavar="WH",
                        help="record WH (-4..4, 1: off) as the model's history guidance scale "
                             "(MLP head, no text)")
    parser.add_argument("--clear-sampling", action="store_true",
                        help="remove the recorded sampling defaults")
    parser.add_argument("--blend", default=None, metavar="OTHER",
                        help="interpolate the weights towards OTHER (same config)")
    parser.add_argument("--alpha", type=float, default=None, metavar="A",
                        help="--blend: OTHER's share of each weight, 0 < A < 1")
    parser.add_argument("--out", default=None,
                        help="where to write the changed file (default: over the checkpoint)")


def main(args: argparse.Namespace) -> int:
    from livefoley.models.checkpoint import check_sampling_defaults, load_checkpoint
    from livefoley.models.history_guidance import check_history_guidance
    from livefoley.models.training.export import save_model_atomic
    from livefoley.protocol.errors import ConfigError

    updates = {k: v for k, v in (("guidance_scale", args.set_guidance), ("nfe", args.set_nfe),
                                 ("noise_correlation", args.set_noise_correlation),
                                 ("feedback_noise", args.set_feedback_noise),
                                 ("history_guidance", args.set_history_guidance))
               if v is not None}
    if updates and args.clear_sampling:
        raise ConfigError("livefoley model: expected --set-* or --clear-sampling, found both")
    if (args.blend is None) != (args.alpha is None):
        raise ConfigError("livefoley model: expected --blend OTHER and --alpha A together, "
                          f"found only {'--blend' if args.blend else '--alpha'}")
    model = load_checkpoint(args.checkpoint)
    path = Path(args.checkpoint)
    if args.blend is not None:
        blend_into(model, load_checkpoint(args.blend), args.alpha, where=args.blend)
    if updates or args.clear_sampling or args.blend is not None:
        model.sampling_defaults = ({} if args.clear_sampling else check_sampling_defaults(
            {**model.sampling_defaults, **updates}, where="livefoley model"))
        check_history_guidance(model.sampling_defaults.get("history_guidance"), model.config)
        path = Path(args.out or args.checkpoint)
        save_model_atomic(model, path)
    cfg = model.config
    params = sum(p.numel() for p in model.parameters())
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, {params / 1e6:.2f} M parameters, "
          f"{cfg.sample_rate_hz} Hz, {cfg.channels} ch, {cfg.latent_rate_hz:g} latents/s, "
          f"text {'yes' if cfg.text_dim else 'no'}")
    print(f"sampling defaults: {model.sampling_defaults or 'none (generator defaults)'}")
    return 0


def blend_into(model, other, alpha: float, *, where: str) -> None:
    """model's weights <- (1 - alpha) x model's + alpha x other's, in place.

    Raises:
        ConfigError: alpha outside (0, 1), another config, or a non-float tensor that differs.
    """
    import torch

    from livefoley.protocol.errors import ConfigError

    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"livefoley model --alpha: expected 0 < A < 1, found {alpha}")
    mine, other_cfg = model.config.to_dict(), other.config.to_dict()
    if mine != other_cfg:
        keys = sorted(k for k in mine.keys() | other_cfg.keys()
                      if mine.get(k) != other_cfg.get(k))
        raise ConfigError(f"livefoley model --blend {where}: expected the checkpoint's config, "
                          f"found other values of {keys}")
    with torch.no_grad():
        theirs = other.state_dict()
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.lerp_(theirs[name].to(t.dtype), alpha)
            elif not torch.equal(t, theirs[name]):
                raise ConfigError(f"livefoley model --blend {where}: expected {name} "
                                  f"(not a float tensor) equal in both files, found it differs")
