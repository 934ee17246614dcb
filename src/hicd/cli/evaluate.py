"""Score checkpoints on a dataset under several quality-difference settings.

Each pair is read at native resolution and, per setting, one date is degraded exactly as
`hicd degrade --seed` would write it; every checkpoint predicts the whole image in blended tiles
and its metrics come from one confusion matrix over the whole set. Writes results.json,
results.csv, results.md, confusion.json, robustness.png and examples.png into --out and prints
the F1/IoU table. The results (and progress.json) are rewritten after every setting: an
interrupted run keeps what it finished, and --resume computes only the rest.
"""

from __future__ import annotations

import argparse

from hicd.cli.options import (
    add_dataset,
    add_option,
    add_output_policy,
    add_runtime,
    add_tiling,
    add_value_scale,
    apply_threads,
    build_options,
)
from hicd.degradations import DATES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hicd.evaluation.runner import EvaluateOptions as Options

    parser.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="CKPT",
        help="checkpoint to score (repeat for several)",
    )
    add_dataset(parser, Options, "the labelled dataset folder")
    add_option(parser, Options, "settings")
    parser.add_argument("--out", required=True, help="folder for the results")
    add_option(parser, Options, "resume")
    add_tiling(parser, Options)
    add_runtime(parser)
    add_option(parser, Options, "names", "--name", action="append", metavar="NAME")
    add_option(parser, Options, "degraded_t2_dir", "--degraded-t2", metavar="DIR")
    add_option(parser, Options, "degraded_name")
    add_option(parser, Options, "date", choices=DATES)
    add_option(parser, Options, "examples", type=int)
    add_option(parser, Options, "ignore_value", type=int)
    add_value_scale(parser, Options)
    add_option(parser, Options, "workers", type=int)
    add_output_policy(parser, Options)


def run(args: argparse.Namespace) -> int:
    from hicd.evaluation.results import side_by_side_table
    from hicd.evaluation.runner import EvaluateOptions, evaluate_checkpoints

    options = build_options(EvaluateOptions, args)
    apply_threads(args.threads)
    rows = evaluate_checkpoints(args.checkpoint, args.data, options, out=args.out)
    print(side_by_side_table(rows))
    print(f"\nwrote results.json, results.csv, results.md and figures to {args.out}")
    return 0
