"""The `livefoley` command: one dispatcher over subcommands that live in their own modules.

Each subcommand module exposes `add_arguments(parser)` and `main(args) -> int`, and is
imported only when its command runs, so `livefoley ctl` never pays for importing torch.
"""

import argparse
import importlib
import logging
import sys

COMMANDS = {
    "serve": ("livefoley.sidecar.serve", "run the sidecar against a session"),
    "ctl": ("livefoley.sidecar.ctl", "steer and watch a running sidecar"),
    "demo": ("livefoley.sidecar.demo", "ViZDoom plays; the sidecar gives it sound live"),
    "render": ("livefoley.sidecar.render", "give a video file its sound (lockstep)"),
    "bench": ("livefoley.sidecar.bench", "frame-budget benchmark"),
    "data": ("livefoley.models.data.cli", "generate and inspect datasets"),
    "train": ("livefoley.models.training.cli", "train the VAE and the generator"),
    "eval": ("livefoley.models.evaluation.cli", "evaluate a model against baselines"),
    "model": ("livefoley.models.model_cli", "show a checkpoint; record its sampling defaults"),
    "eval-compare": ("livefoley.models.evaluation.compare_cli",
                     "is one eval run better than another beyond clip-to-clip noise"),
}


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, object | None]:
    parser = argparse.ArgumentParser(prog="livefoley", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.startswith("livefoley"):
                    parser.error(f"command {name!r} is not available in this build ({exc.name} missing)")
                raise
            module.add_arguments(p)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, module = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    from livefoley.protocol.errors import LiveFoleyError

    try:
        return int(module.main(args) or 0)
    except LiveFoleyError as exc:
        print(f"livefoley {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
