"""Write a complete degraded copy of a dataset, in the layout of its input (--layout).

The chosen date is degraded deterministically from (seed, image name, setting); the other
date, the labels and the list files are copied unchanged; degradation.json records every
parameter. With --split, only that split is copied.
"""

from __future__ import annotations

import argparse

from hicd.cli.options import (
    add_dataset,
    add_option,
    add_output_policy,
    add_value_scale,
    build_options,
)
from hicd.data.degraded_copy import DegradeOptions
from hicd.degradations import DATES, SCALES, SEVERITIES, SINGLE_KINDS, DegradationSetting
from hicd.errors import ConfigError

FAMILIES = ("resolution", "single", "multi")
DEFAULT_SCALE = 4
DEFAULT_SEVERITY = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataset(parser, DegradeOptions, "dataset folder, copied in its own layout")
    parser.add_argument(
        "--out",
        required=True,
        help="output folder: new, empty, or a previous hicd degrade output (with --overwrite); "
        "never the --data folder, inside it or above it",
    )
    parser.add_argument(
        "--setting",
        required=True,
        metavar="SETTING",
        help="quality difference: a family (resolution, single, multi; with --scale, or --kind "
        "and --severity) or a full name (resolution-x4, single-jpeg-s3, multi-x4, "
        "resolution-x4@t1; mixed or mixed-t1p0.25: a drawn setting and date per pair)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        choices=SCALES,
        help=f"resolution/multi family: the scale (default: {DEFAULT_SCALE})",
    )
    parser.add_argument(
        "--kind", choices=SINGLE_KINDS, help="single family: the degradation kind (required)"
    )
    parser.add_argument(
        "--severity",
        type=int,
        choices=SEVERITIES,
        help=f"single family: 1 to 5 (default: {DEFAULT_SEVERITY})",
    )
    add_option(parser, DegradeOptions, "date", choices=DATES)
    add_value_scale(parser, DegradeOptions)
    add_output_policy(parser, DegradeOptions)


def setting_from_args(args: argparse.Namespace) -> DegradationSetting:
    """The degradation setting the options describe; options that do not apply are refused."""
    given = [
        option
        for option, value in (
            ("--scale", args.scale),
            ("--kind", args.kind),
            ("--severity", args.severity),
        )
        if value is not None
    ]
    if args.setting in FAMILIES:
        applies = ("--kind", "--severity") if args.setting == "single" else ("--scale",)
        for option in given:
            if option not in applies:
                raise ConfigError(
                    f"{option} does not apply to --setting {args.setting} "
                    f"(it takes {' and '.join(applies)})"
                )
        if args.setting == "single":
            if args.kind is None:
                raise ConfigError(
                    f"--setting single needs --kind (one of {', '.join(SINGLE_KINDS)})"
                )
            severity = DEFAULT_SEVERITY if args.severity is None else args.severity
            return DegradationSetting("single", kind=args.kind, severity=severity)
        scale = DEFAULT_SCALE if args.scale is None else args.scale
        return DegradationSetting(args.setting, scale=scale)
    try:
        setting = DegradationSetting.parse(args.setting)
    except ConfigError as error:
        raise ConfigError(f"--setting: {error} (or a family: {', '.join(FAMILIES)})") from None
    if setting.setting == "clean":
        raise ConfigError(
            "--setting clean: a clean copy is the dataset itself; choose resolution, single or "
            "multi (or a full name such as multi-x4)"
        )
    if given:
        raise ConfigError(
            f"{given[0]} does not apply to --setting {setting.name}, whose name already fixes it; "
            f"drop {given[0]} or give the family ({setting.setting})"
        )
    return setting


def run(args: argparse.Namespace) -> int:
    from hicd.data.degraded_copy import write_degraded_dataset

    setting = setting_from_args(args)
    options = build_options(DegradeOptions, args)
    out = write_degraded_dataset(args.data, args.out, setting, options)
    print(f"wrote {setting.name} copy of {args.data} to {out}")
    return 0
