"""Measure the quality gap between the two dates of a pair, or of every pair of a dataset.

From the pixels (and a JPEG file's quantisation tables): t2's effective ground sampling distance
relative to t1's, each date's noise, blur and JPEG quality, which date is degraded and the
nearest named setting (docs/inspection.md). Give --t1 and --t2, or --data (every pair of a
dataset in --layout: generic A/ and B/ paired by file name, levir_cd, sv_cd or bandon; --split
picks one split).
"""

from __future__ import annotations

import argparse
import json

from hicd.cli.options import add_dataset, add_value_scale
from hicd.defaults import LAYOUT
from hicd.errors import ConfigError

OPTION = "--value-scale"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--t1", help="first-date image (with --t2)")
    parser.add_argument("--t2", help="second-date image (with --t1)")
    add_dataset(parser, data_help="dataset folder: every pair (of --split)", required=False)
    add_value_scale(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON array, one object per pair, instead of the table (default: table)",
    )


def run(args: argparse.Namespace) -> int:
    from hicd.inspection import inspect_dataset, inspect_pair

    if args.data is not None:
        if args.t1 is not None or args.t2 is not None:
            raise ConfigError("--data and --t1/--t2 exclude each other: give one or the other")
        results = inspect_dataset(
            args.data, args.value_scale, option=OPTION, layout=args.layout, split=args.split
        )
    elif args.split is not None or args.layout != LAYOUT:
        raise ConfigError("--layout and --split apply to --data: give a dataset folder")
    elif args.t1 is None or args.t2 is None:
        raise ConfigError("give --t1 and --t2 (one pair) or --data (a dataset folder)")
    else:
        results = [inspect_pair(args.t1, args.t2, args.value_scale, option=OPTION)]
    if args.json:
        print(json.dumps([result.to_dict() for result in results], indent=2))
        return 0
    header = (
        f"{'pair':24} {'rel. scale':>10} {'degraded':>8}  {'nearest setting':28} "
        f"{'noise t1/t2':>12} {'blur t1/t2':>11} {'JPEG q t1/t2':>12}"
    )
    print(header)
    for r in results:
        noise = f"{r.t1.noise_sigma:.1f}/{r.t2.noise_sigma:.1f}"
        blur = f"{r.t1.blur:.1f}/{r.t2.blur:.1f}"
        jpeg = f"{r.t1.jpeg_quality or '-'}/{r.t2.jpeg_quality or '-'}"
        print(
            f"{r.name[:24]:24} {r.relative_scale:10.2f} {r.degraded_date:>8}  "
            f"{r.suggested_setting:28} {noise:>12} {blur:>11} {jpeg:>12}"
        )
    return 0
