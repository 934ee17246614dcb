"""Every default of hicd's options, written once, and the dataclass field that carries one.

The options objects (``hicd.inference.scene.PredictOptions``,
``hicd.evaluation.runner.EvaluateOptions``, ``hicd.data.degraded_copy.DegradeOptions``), the
commands built from them (``hicd predict``, ``evaluate``, ``degrade``), training and the docs
read their defaults here. An option's field (:func:`option`) holds its default and its help,
the text of both ``--help`` and the class's docstring (:func:`document`).

This module imports nothing of hicd: it is the bottom layer (docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

SETTING = "multi-x4"
"""The degradation setting when none is given: a student's, the demo's, and the setting
``hicd evaluate`` draws its examples under (the paper's LEVIR-CD setting)."""
THRESHOLD = 0.5
"""Change probability from which a pixel counts as changed (maps, metrics, figures)."""
TILE = 512
"""Window side when neither the caller nor the checkpoint gives one."""
OVERLAP_DIVISOR = 8
"""Default window overlap: an eighth of the tile, but at least ``MIN_OVERLAP`` pixels and at
most a quarter of the tile (:func:`overlap_for`)."""
MIN_OVERLAP = 64
"""Pixels of overlap below which the default stays a quarter of the tile: narrower seams cost
evaluation F1 (0.6–0.9 points at 128-px tiles with 16 px; within 0.15 at 512 px with 64 px,
docs/benchmarks.md). Until 0.2.0 the overlap was always a quarter, which computes every pixel
1.78 times at 512-px tiles instead of 1.31 times."""
BATCH_SIZES = {"cuda": 8, "cpu": 1}
"""Windows per forward pass by device type: on a CPU, larger batches are slower per pixel (the
activations leave the cache) and cost about 140 MB each (512-px tiles, ``siam_fpn``)."""
DEVICE = "auto"
"""``auto``: CUDA when available, else the CPU."""
ENGINE = "auto"
"""What runs the network: ``auto`` is ONNX Runtime on the CPU (docs/benchmarks.md has the
measurements behind it)."""
SEED = 0
"""Seed of the deterministic degradation."""
DATE = "t2"
"""The date degraded where a setting names none."""
LAYOUT = "generic"
"""Dataset layout read by the commands (``hicd.data.LAYOUTS``)."""

T = TypeVar("T")


def overlap_for(tile: int) -> int:
    """The default overlap of ``tile``-pixel windows: an eighth of the tile, at least
    ``MIN_OVERLAP`` and at most a quarter of the tile (128 → 32, 256 → 64, 512 → 64, 1024 → 128)."""
    return min(tile // 4, max(MIN_OVERLAP, tile // OVERLAP_DIVISOR))


def batch_size_for(device_type: str) -> int:
    """Windows per forward pass on a device of ``device_type`` (``cuda``, ``cpu``, ...)."""
    return BATCH_SIZES.get(device_type, BATCH_SIZES["cuda"])


BATCH_SIZE_HELP = f"{BATCH_SIZES['cuda']} on a GPU, {BATCH_SIZES['cpu']} on the CPU"


def option(
    default: Any = dataclasses.MISSING, *, help: str, default_help: str | None = None
) -> Any:
    """A dataclass field for an option: its ``default`` and ``help`` (one line, no default).

    ``default_help`` says what a None (or False) default means, e.g. "the checkpoint's tile
    size, else 512"; other defaults are shown as they are.
    """
    metadata = {"help": help, **({"default_help": default_help} if default_help else {})}
    return dataclasses.field(default=default, metadata=metadata)


def option_field(cls: type, name: str) -> dataclasses.Field:
    """The field ``name`` of the options dataclass ``cls`` (KeyError if it has none)."""
    return {field.name: field for field in dataclasses.fields(cls)}[name]


def default_text(field: dataclasses.Field) -> str | None:
    """What a field's default is, in words (None: a required field)."""
    if field.default is dataclasses.MISSING:
        return None
    if "default_help" in field.metadata:
        return field.metadata["default_help"]
    if field.default is None:
        return "none"
    if isinstance(field.default, bool):
        return "on" if field.default else "off"
    return str(field.default)


def document(cls: type[T]) -> type[T]:
    """Append an ``Attributes:`` section, built from the fields' help, to ``cls.__doc__``."""
    lines = []
    for field in dataclasses.fields(cls):
        if "help" not in field.metadata:
            continue
        default = default_text(field)
        suffix = f" (default: {default})" if default is not None else " (required)"
        lines.append(f"        {field.name}: {field.metadata['help']}{suffix}.")
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n\n    Attributes:\n" + "\n".join(lines) + "\n"
    return cls


def tile_option() -> Any:
    """The ``tile`` field shared by prediction and evaluation."""
    return option(
        None,
        help="prediction window side in pixels",
        default_help=f"the checkpoint's training tile size, else {TILE}",
    )


def overlap_option() -> Any:
    """The ``overlap`` field shared by prediction and evaluation."""
    return option(
        None,
        help="overlap of neighbouring windows in pixels",
        default_help=f"tile / {OVERLAP_DIVISOR}",
    )


def batch_size_option() -> Any:
    """The ``batch_size`` field shared by prediction and evaluation."""
    return option(None, help="windows per forward pass", default_help=BATCH_SIZE_HELP)


def threshold_option() -> Any:
    """The ``threshold`` field: the change probability counted as change."""
    return option(THRESHOLD, help="change probability counted as change")


def seed_option() -> Any:
    """The ``seed`` field of the deterministic degradation."""
    return option(SEED, help="seed of the deterministic degradation")


def value_scale_option() -> Any:
    """The ``value_scale`` field: how pixel values map to [0, 1] (``hicd.data.io``)."""
    return option(
        None,
        help="pixel value that maps to 1.0, for both dates or per date (t1,t2), e.g. 10000 or "
        "10000,255",
        default_help="255 for uint8, the type's maximum for other integers if the data reach "
        "above half of it, else an error; floats must lie in [0, 1]",
    )


def device_option(help: str = "auto, cpu, cuda, cuda:1, ...") -> Any:
    """The ``device`` field."""
    return option(DEVICE, help=help)


def engine_option() -> Any:
    """The ``engine`` field (``hicd.inference.engine``)."""
    return option(
        ENGINE,
        help="what runs the network: torch, onnx (ONNX Runtime; exported on first use and "
        "cached) or auto (onnx on the CPU, torch on a GPU unless ONNX Runtime has CUDA)",
    )


def progress_option(default: bool = True) -> Any:
    """The ``progress`` field (``--quiet`` turns it off)."""
    return option(default, help="show a progress bar")


def layout_option() -> Any:
    """The ``layout`` field: how a dataset folder is laid out (``hicd.data.LAYOUTS``)."""
    return option(
        LAYOUT,
        help="dataset layout: generic (A/, B/, label/, list/SPLIT.txt), levir_cd "
        "(SPLIT/{A,B,label}/), sv_cd (SPLIT/{A,B,OUT}/) or bandon (list_BANDON_SPLIT.txt)",
    )


def split_option(help: str | None = None) -> Any:
    """The ``split`` field: which pairs of a dataset."""
    return option(
        None,
        help=help
        or "the pairs of one split: generic, the names in list/SPLIT.txt; levir_cd and sv_cd: "
        "train, val or test; bandon: train, val, test or test_ood",
        default_help="every pair, of every split",
    )


def replace_fields(options: T, keywords: dict[str, Any], what: str) -> T:
    """``options`` with the fields in ``keywords`` replaced; an unknown keyword is a TypeError
    naming ``what`` (the function that took it)."""
    names = {field.name for field in dataclasses.fields(options)}
    unknown = sorted(set(keywords) - names)
    if unknown:
        raise TypeError(f"{what}() got unexpected keyword argument(s) {', '.join(unknown)}")
    return dataclasses.replace(options, **keywords) if keywords else options


def build(cls: Callable[..., T], options: T | None, keywords: dict[str, Any], what: str) -> T:
    """``options`` (default: ``cls()``) with ``keywords`` replacing fields (see
    :func:`replace_fields`)."""
    if options is not None and not isinstance(options, cls):  # type: ignore[arg-type]
        raise TypeError(
            f"{what}(): options must be a {cls.__name__}, got {type(options).__name__} "
            "(give other options by keyword)"
        )
    return replace_fields(options if options is not None else cls(), keywords, what)
