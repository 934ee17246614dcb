"""Exporting a change-detection model to ONNX (inputs ``t1``, ``t2``; output ``logits``)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

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


def export_onnx(model: ChangeDetectionModel, path: str | Path, opset_version: int = 17) -> Path:
    """Write ``model`` (in eval mode) as ONNX with dynamic batch, height and width.

    The graph pads by reflection, so it needs H and W ≥ ``model.output_stride``.
    """
    path = Path(path)
    stride = model.output_stride
    # a size that is not a multiple of the stride, so the padding is traced
    sample = torch.zeros(1, model.in_channels, 2 * stride + 1, 2 * stride + 3)
    axes = {0: "batch", 2: "height", 3: "width"}
    was_training = model.training
    model.eval()
    try:
        torch.onnx.export(
            LogitsOnly(model),
            (sample, sample.clone()),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={name: axes for name in (*INPUT_NAMES, OUTPUT_NAME)},
            opset_version=opset_version,
            dynamo=False,
        )
    finally:
        model.train(was_training)
    return path
