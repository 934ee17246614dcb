"""Command-line options built from the fields of the options objects, and shared helpers.

An option's default and help come from its field (``hicd.defaults.option``) in
``PredictOptions``, ``EvaluateOptions`` or ``DegradeOptions``: :func:`add_option` adds it to
a parser, :func:`build_options` makes the options object from the parsed arguments. The groups
used by several commands are here once: tiling (``--tile``, ``--overlap``, ``--batch-size``),
the runtime (``--device``, ``--engine``, ``--threads``), the output policy (``--overwrite``,
``--quiet``, ``--seed``), the dataset (``--data``, ``--layout``, ``--split``) and
``--value-scale``.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TypeVar

from hicd.data.io import date_scales
from hicd.defaults import (
    device_option,
    engine_option,
    layout_option,
    option_field,
    split_option,
    value_scale_option,
)
from hicd.errors import ConfigError

T = TypeVar("T")

INVERTED = {"quiet": "progress", "no_inspect": "inspect", "no_quicklook": "quicklook"}
"""Flags that turn a field's True default off: flag destination → field."""


def field_help(field: dataclasses.Field, help: str | None = None) -> str:
    """The help of an option ``field`` (or ``help``) with its default appended, as an argparse
    help string."""
    text = (help or field.metadata["help"]).replace("%", "%%")
    if field.default is dataclasses.MISSING:
        return text
    if field.default is None or field.default is False:
        default = field.metadata.get("default_help")
        return f"{text} (default: {default})" if default else text
    return f"{text} (default: %(default)s)"


def add_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    name: str,
    *flags: str,
    help: str | None = None,
    **kwargs: Any,
) -> argparse.Action:
    """Add the option of field ``name`` of ``cls``, with the field's default and help.

    ``help`` replaces the field's text (the default is still appended); ``flags`` default to
    ``--NAME`` with dashes; ``kwargs`` go to ``add_argument`` (``type``, ``choices``,
    ``metavar``, ...). A boolean field with a False default becomes a ``store_true`` flag, a
    field without a default a required option.
    """
    field = option_field(cls, name)
    flags = flags or (f"--{name.replace('_', '-')}",)
    if field.default is dataclasses.MISSING:
        kwargs.setdefault("required", True)
    else:
        kwargs["default"] = field.default
        if field.default is False:
            kwargs.setdefault("action", "store_true")
    return parser.add_argument(*flags, dest=name, help=field_help(field, help), **kwargs)


def add_inverted(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    name: str,
    flag: str,
    help: str,
) -> argparse.Action:
    """Add ``flag`` (``store_true``), which sets field ``name`` of ``cls`` to False; its
    destination is listed in :data:`INVERTED`."""
    option_field(cls, name)  # KeyError when cls has no such field
    action = parser.add_argument(flag, action="store_true", help=help)
    if INVERTED.get(action.dest) != name:
        raise ValueError(f"{flag}: INVERTED must map {action.dest!r} to {name!r}")
    return action


def build_options(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """``cls`` from the parsed arguments: every field with an option of its name, the fields
    that :data:`INVERTED` flags turn off, then ``overrides``."""
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {name: getattr(args, name) for name in names if hasattr(args, name)}
    for dest, name in INVERTED.items():
        if name in names and hasattr(args, dest):
            values[name] = not getattr(args, dest)
    return cls(**{**values, **overrides})


def add_dataset(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type | None = None,
    data_help: str = "dataset folder",
    required: bool = True,
) -> None:
    """``--data``, ``--layout`` and ``--split``: the fields of ``cls``, or the shared ones
    (``hicd.defaults.layout_option``, ``split_option``)."""
    from hicd.data import LAYOUTS

    parser.add_argument("--data", required=required, help=f"{data_help} (see --layout)")
    if cls is not None:
        add_option(parser, cls, "layout", choices=tuple(LAYOUTS))
        add_option(parser, cls, "split")
        return
    layout, split = layout_option(), split_option()
    parser.add_argument(
        "--layout", choices=tuple(LAYOUTS), default=layout.default, help=field_help(layout)
    )
    parser.add_argument("--split", help=field_help(split))


def add_tiling(parser: argparse.ArgumentParser, cls: type) -> None:
    """``--tile``, ``--overlap`` and ``--batch-size`` (``Tiling.resolve``, per-device batch)."""
    add_option(parser, cls, "tile", type=int)
    add_option(parser, cls, "overlap", type=int)
    add_option(parser, cls, "batch_size", type=int)


def add_runtime(parser: argparse.ArgumentParser, device_help: str | None = None) -> None:
    """``--device``, ``--engine`` and ``--threads`` (``hicd.inference.device`` and ``engine``)."""
    from hicd.inference.engine import ENGINES

    device = device_option() if device_help is None else device_option(device_help)
    parser.add_argument("--device", default=device.default, help=field_help(device))
    engine = engine_option()
    parser.add_argument(
        "--engine", choices=ENGINES, default=engine.default, help=field_help(engine)
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        help="CPU threads of the network, either engine (default: torch's, one per core)",
    )


def add_output_policy(parser: argparse.ArgumentParser, cls: type) -> None:
    """``--overwrite`` and ``--quiet`` (and ``--seed`` where ``cls`` has a seed)."""
    names = {field.name for field in dataclasses.fields(cls)}
    if "seed" in names:
        add_option(parser, cls, "seed", type=int)
    add_option(parser, cls, "overwrite")
    add_inverted(parser, cls, "progress", "--quiet", "no progress bar")


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


def add_value_scale(parser: argparse.ArgumentParser, cls: type | None = None) -> None:
    """Add ``--value-scale`` (see ``hicd.data.io`` for the rule): the field of ``cls``, or
    the shared one (``hicd.defaults.value_scale_option``)."""
    if cls is not None:
        add_option(parser, cls, "value_scale", type=value_scale, metavar="SCALE[,SCALE]")
        return
    parser.add_argument(
        "--value-scale",
        type=value_scale,
        metavar="SCALE[,SCALE]",
        help=field_help(value_scale_option()),
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
