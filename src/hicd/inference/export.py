"""Exporting a checkpoint's network for deployment without hicd: ONNX or TorchScript.

Both take two inputs ``t1`` and ``t2`` (B×C×H×W float32 in [0, 1]; the normalisation is inside
the graph) of dynamic batch, height and width (H, W ≥ the network's output stride, 32 for
``siam_fpn``) and return the B×2×H×W ``logits`` (softmax over dim 1, class 1 is change). The
checkpoint's metadata travels with the file as JSON: ONNX metadata ``hicd``, TorchScript extra
file ``hicd.json``. Files are written atomically.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from hicd.atomic import atomic_path, refuse_existing, refuse_input_clobbering
from hicd.errors import ConfigError, check_choice
from hicd.models import ChangeDetectionModel, LogitsOnly, export_onnx
from hicd.models.checkpoint import CheckpointInfo, load_model

METADATA_NAME = "hicd"
TORCHSCRIPT_METADATA = "hicd.json"


def metadata_json(info: CheckpointInfo) -> str:
    """The checkpoint metadata stored in exported files."""
    return json.dumps(info.to_dict(), default=str)


def write_onnx(model: ChangeDetectionModel, info: CheckpointInfo, path: Path, opset: int) -> None:
    """ONNX graph (inputs ``t1``, ``t2``, output ``logits``) with the metadata attached."""
    import onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning))
        export_onnx(model, path, opset_version=opset)
    graph = onnx.load(str(path))
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_NAME, metadata_json(info)
    onnx.save(graph, str(path))


def write_torchscript(
    model: ChangeDetectionModel, info: CheckpointInfo, path: Path, opset: int
) -> None:
    """A traced TorchScript module ``forward(t1, t2) -> logits``; load with ``torch.jit.load``."""
    stride = model.output_stride
    # a size that is not a multiple of the stride, so that the padding is traced
    sample = torch.zeros(1, model.in_channels, 2 * stride + 1, 2 * stride + 3)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning))
        traced = torch.jit.trace(LogitsOnly(model).eval(), (sample, sample.clone()))
        torch.jit.save(traced, str(path), _extra_files={TORCHSCRIPT_METADATA: metadata_json(info)})


WRITERS: dict[str, Callable[[ChangeDetectionModel, CheckpointInfo, Path, int], None]] = {
    "onnx": write_onnx,
    "torchscript": write_torchscript,
}

OPSETS = range(11, 24)
"""ONNX opsets the graph exports at: 11 is the first with dynamic padding sizes, 23 the last
torch's TorchScript exporter writes (both ends tested)."""

SUFFIXES: dict[str, tuple[str, ...]] = {"onnx": (".onnx",), "torchscript": (".pt", ".pth")}
"""The file name suffixes each format is written under."""


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    format: str = "onnx",
    opset: int = 18,
    overwrite: bool = False,
) -> Path:
    """Export the network of ``checkpoint`` to ``out`` as ``format`` (``onnx`` or ``torchscript``).

    ``out`` must end in the format's suffix (:data:`SUFFIXES`); an existing ``out`` is refused
    unless ``overwrite``.
    """
    check_choice(format, WRITERS, "--format")
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES[format]:
        raise ConfigError(
            f"--out {out}: a {format} file must end in {' or '.join(SUFFIXES[format])}"
        )
    if format == "onnx" and opset not in OPSETS:
        raise ConfigError(
            f"--opset {opset}: the graph exports at opsets {OPSETS.start}–{OPSETS.stop - 1} "
            "(default 18)"
        )
    refuse_input_clobbering([("--out", out)], [checkpoint])
    refuse_existing(out, overwrite)
    model, info = load_model(checkpoint, "cpu")
    with atomic_path(out) as tmp:
        WRITERS[format](model, info, tmp, opset)
    return out
