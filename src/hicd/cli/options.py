"""Option types shared by several subcommands."""

from __future__ import annotations

import argparse

from hicd.data.io import date_scales
from hicd.errors import ConfigError

VALUE_SCALE_HELP = (
    "pixel value that maps to 1.0, for both dates or per date (t1,t2), e.g. 10000 or "
    "10000,255 (default: 255 for uint8, the type's maximum for other integers if the data "
    "reach above half of it, else an error; floats must lie in [0, 1])"
)


def value_scale(text: str) -> float | tuple[float, float]:
    """``--value-scale SCALE[,SCALE]``: one scale for both dates, or (t1, t2)."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number or two comma-separated numbers (t1,t2), got {text!r}"
        ) from None
    value = values[0] if len(values) == 1 else values
    try:
        date_scales(value)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--value-scale ")) from None
    return value


def add_value_scale(parser: argparse.ArgumentParser) -> None:
    """Add ``--value-scale`` (see ``hicd.data.io`` for the rule)."""
    parser.add_argument(
        "--value-scale", type=value_scale, metavar="SCALE[,SCALE]", help=VALUE_SCALE_HELP
    )


def add_engine(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine`` (see ``hicd.inference.engine``)."""
    from hicd.inference.engine import DEFAULT_ENGINE, ENGINES

    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=DEFAULT_ENGINE,
        help="what runs the network: torch, onnx (ONNX Runtime; exported on first use and "
        "cached) or auto (onnx on the CPU, torch on a GPU unless ONNX Runtime has CUDA) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        help="CPU threads of the network, either engine (default: torch's, one per core)",
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def apply_threads(threads: int | None) -> None:
    """``--threads``: set torch's thread count, which ONNX Runtime sessions follow too."""
    if threads:
        import torch

        torch.set_num_threads(threads)
