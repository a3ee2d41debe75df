"""`livefoley eval-compare BASE NEW`: paired bootstrap of two eval runs on the same clips.

    livefoley eval-compare runs/eval-default runs/eval-candidate
    livefoley eval-compare runs/eval-default runs/eval-candidate --fail-if-worse   # a gate

What it is: argument parsing over `compare.compare_runs`; it prints the table (or JSON) and
exits 1 with `--fail-if-worse` when NEW is worse than BASE on any metric beyond noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from livefoley.models.evaluation.compare import comparison_table, compare_runs, load_results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", help="eval folder or results.json (e.g. the shipped model)")
    parser.add_argument("new", help="eval folder or results.json on the same clips")
    parser.add_argument("--system", default="model", help="column to compare (model, ...)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="resamples of the clips")
    parser.add_argument("--fd-bootstrap", type=int, default=200,
                        help="resamples for the Frechet distance (each costs two matrix square "
                             "roots; needs embeddings.npz in both runs)")
    parser.add_argument("--level", type=float, default=0.95, help="central interval")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--fail-if-worse", action="store_true",
                        help="exit 1 when NEW is worse on any metric beyond noise")


def main(args: argparse.Namespace) -> int:
    rows = compare_runs(load_results(args.base), load_results(args.new), system=args.system,
                        n_boot=args.bootstrap, level=args.level, seed=args.seed,
                        fd_boot=args.fd_bootstrap)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
    else:
        print(comparison_table(rows, args.level))
    worse = [r.name for r in rows if r.verdict == "worse"]
    better = [r.name for r in rows if r.verdict == "better"]
    print(f"eval-compare: better on {better or 'none'}; worse on {worse or 'none'} "
          f"({args.bootstrap} paired resamples of the clips)")
    return 1 if args.fail_if_worse and worse else 0
