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

from hicd.cli.options import add_engine, add_value_scale, apply_threads
from hicd.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="CKPT",
        help="checkpoint to score (repeat for several)",
    )
    parser.add_argument("--data", required=True, help="dataset folder in the generic layout")
    parser.add_argument("--split", help="evaluate the names in DATA/list/SPLIT.txt (default: all)")
    parser.add_argument(
        "--settings",
        help="comma-separated settings: clean, resolution-xS, single (every kind and severity), "
        "single-KIND, single-KIND-sN, multi-xS, any of these with @t1/@t2 (that date instead of "
        "--date), mixed, and grid (the 26 settings of the robustness grid) (default: "
        "clean,resolution-x4,resolution-x8,single,multi-x4; only the --degraded-t2 folder "
        "when that is given)",
    )
    parser.add_argument("--out", required=True, help="folder for the results")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of an earlier evaluation in --out (default: refuse)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="finish the interrupted evaluation in --out: skip the settings it finished",
    )
    parser.add_argument(
        "--tile", type=int, help="prediction window (default: checkpoint's tile size, else 512)"
    )
    parser.add_argument("--overlap", type=int, help="window overlap (default: tile / 4)")
    parser.add_argument("--batch-size", type=int, default=4, help="windows per forward pass")
    parser.add_argument("--seed", type=int, default=0, help="seed of the deterministic degradation")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    add_engine(parser)
    parser.add_argument(
        "--name",
        action="append",
        dest="names",
        metavar="NAME",
        help="display name of each checkpoint, in order (default: file stems)",
    )
    parser.add_argument(
        "--degraded-t2", metavar="DIR", help="folder of already degraded t2 images (released sets)"
    )
    parser.add_argument(
        "--degraded-name", default="released", help="setting name reported for --degraded-t2"
    )
    parser.add_argument(
        "--date",
        choices=("t1", "t2"),
        default="t2",
        help="which date to degrade where a setting names none (@t1/@t2; mixed draws its own)",
    )
    parser.add_argument("--examples", type=int, default=4, help="pairs in examples.png (0: none)")
    parser.add_argument(
        "--ignore-value", type=int, help="label value to ignore (e.g. 255 for 0/1/255 labels)"
    )
    add_value_scale(parser)
    parser.add_argument(
        "--workers", type=int, default=0, help="processes that read and degrade ahead (0: inline)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from hicd.evaluation.results import side_by_side_table
    from hicd.evaluation.runner import evaluate_checkpoints

    if args.examples < 0 or args.workers < 0 or args.batch_size < 1:
        raise ConfigError("--examples and --workers must be >= 0 and --batch-size >= 1")
    apply_threads(args.threads)
    rows = evaluate_checkpoints(
        args.checkpoint,
        args.data,
        split=args.split,
        settings=args.settings,
        out=args.out,
        tile=args.tile,
        overlap=args.overlap,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
        engine=args.engine,
        degraded_t2_dir=args.degraded_t2,
        degraded_name=args.degraded_name,
        date=args.date,
        names=args.names,
        examples=args.examples,
        ignore_value=args.ignore_value,
        value_scale=args.value_scale,
        workers=args.workers,
        progress=not args.quiet,
        overwrite=args.overwrite,
        resume=args.resume,
    )
    print(side_by_side_table(rows))
    print(f"\nwrote results.json, results.csv, results.md and figures to {args.out}")
    return 0
