"""Train a teacher on clean synthetic pairs and a `none` and a `hicd` student on degraded ones,
then evaluate all three on held-out pairs (clean, resolution ×4, multi ×4) and print the table.

Everything (checkpoints, results.json/.csv/.md, robustness.png, examples.png) goes to --out.
The backbone starts from the ImageNet MobileNetV2 file (mobilenet_v2-b0353104.pth) found in
$HICD_SHARED_WEIGHTS, ../shared/weights beside a checkout or torch's hub cache; hicd never
downloads it, and refuses to start without it unless --pretrained none asks for random weights.
"""

from __future__ import annotations

import argparse

from hicd.cli.options import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", help="output folder (default: demo-output)")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of tiny sizes (< 2 minutes)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of data, training and degradations"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write over a non-empty --out (default: refuse)",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="training steps of the teacher and of each student (default 200)",
    )
    parser.add_argument(
        "--pretrained",
        default="shared",
        metavar="FILE|shared|none",
        help="backbone weights: a file, 'shared' (the ImageNet MobileNetV2 file from "
        "$HICD_SHARED_WEIGHTS, ../shared/weights beside a checkout or torch's hub cache; "
        "refused when absent) or 'none' (random weights) (default: shared)",
    )


def run(args: argparse.Namespace) -> int:
    from hicd.evaluation.results import side_by_side_table
    from hicd.training.demo import DemoConfig, run_demo

    config = DemoConfig.quick() if args.quick else DemoConfig()
    config.seed = args.seed
    config.pretrained = None if args.pretrained.lower() == "none" else args.pretrained
    if args.steps is not None:
        config.teacher_steps = config.student_steps = args.steps
    rows = run_demo(args.out, config, overwrite=args.overwrite)
    print()
    print(side_by_side_table(rows))
    return 0
