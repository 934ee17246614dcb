"""Exporting a change-detection model to ONNX (inputs ``t1``, ``t2``; output ``logits``)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.export import Dim

from hicd.models.base import ChangeDetectionModel

INPUT_NAMES = ("t1", "t2")
OUTPUT_NAME = "logits"


class LogitsOnly(nn.Module):
    """Wraps a model so that ``forward(t1, t2)`` returns only the B×2×H×W logits tensor."""

    def __init__(self, model: ChangeDetectionModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, t1: Tensor, t2: Tensor) -> Tensor:
        return self.model(t1, t2).logits


def _dynamic_options(dynamo: bool) -> dict:
    if dynamo:
        dims = {0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC}
        return {
            "dynamic_shapes": {name: dims for name in INPUT_NAMES},
            "external_data": False,  # one self-contained file
        }
    axes = {0: "batch", 2: "height", 3: "width"}
    return {"dynamic_axes": {name: axes for name in (*INPUT_NAMES, OUTPUT_NAME)}}


def export_onnx(
    model: ChangeDetectionModel, path: str | Path, opset_version: int = 18, dynamo: bool = False
) -> Path:
    """Write ``model`` (in eval mode) to ``path`` as ONNX with dynamic batch, height and width.

    ``dynamo=False`` uses the TorchScript exporter (seconds); ``dynamo=True`` the torch.export
    based one (about a minute on a CPU). The graph pads by reflection, so it needs
    H, W ≥ ``model.output_stride``.
    """
    path = Path(path)
    stride = model.output_stride
    # a size that is not a multiple of the stride, so that the padding is traced
    sample = torch.zeros(1, model.in_channels, 2 * stride + 1, 2 * stride + 3)
    was_training = model.training
    wrapper = LogitsOnly(model).eval()
    try:
        torch.onnx.export(
            wrapper,
            (sample, sample.clone()),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            opset_version=opset_version,
            dynamo=dynamo,
            **_dynamic_options(dynamo),
        )
    finally:
        model.train(was_training)
    return path
