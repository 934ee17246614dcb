"""Write a complete degraded copy of a dataset in the generic layout (A/, B/, label/, list/).

The chosen date is degraded deterministically from (seed, image name, setting); the other
date and the labels are copied unchanged; degradation.json records every parameter.
"""

from __future__ import annotations

import argparse

from hicd.degradations import SCALES, SINGLE_KINDS, DegradationSetting
from hicd.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset folder in the generic layout")
    parser.add_argument("--out", required=True, help="output folder (must be empty or absent)")
    parser.add_argument(
        "--setting",
        required=True,
        choices=("resolution", "single", "multi"),
        help="quality difference",
    )
    parser.add_argument(
        "--scale", type=int, default=4, choices=SCALES, help="resolution/multi scale"
    )
    parser.add_argument("--kind", choices=SINGLE_KINDS, help="single: the degradation kind")
    parser.add_argument(
        "--severity", type=int, default=3, choices=range(1, 6), help="single: 1 to 5"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the deterministic degradation")
    parser.add_argument("--date", choices=("t1", "t2"), default="t2", help="which date to degrade")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def setting_from_args(args: argparse.Namespace) -> DegradationSetting:
    """The degradation setting the options describe."""
    if args.setting == "single":
        if args.kind is None:
            raise ConfigError(f"--setting single needs --kind (one of {', '.join(SINGLE_KINDS)})")
        return DegradationSetting("single", kind=args.kind, severity=args.severity)
    return DegradationSetting(args.setting, scale=args.scale)


def run(args: argparse.Namespace) -> int:
    from hicd.degradations.writer import write_degraded_dataset

    setting = setting_from_args(args)
    out = write_degraded_dataset(
        args.data,
        args.out,
        setting,
        seed=args.seed,
        date=args.date,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(f"wrote {setting.name} copy of {args.data} to {out}")
    return 0
