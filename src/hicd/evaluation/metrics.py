"""Change-detection metrics from one confusion matrix accumulated over the whole evaluation set.

Built on torchmetrics' ``BinaryStatScores`` (global reduction, ``ignore_index=255``), so the
counts are summed across batches and synced across processes under DDP before any ratio is
taken. Per-batch averaging never happens.

Zero-division rule: every ratio whose denominator is zero is 0 (precision with no predicted
change, recall with no true change, F1/IoU with neither, kappa when chance agreement is 1).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics.classification import BinaryStatScores

from hicd.data.io import IGNORE_INDEX
from hicd.defaults import THRESHOLD

METRIC_NAMES = ("precision", "recall", "f1", "iou", "oa", "kappa")


def _ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1e-300), 0.0)


def scores_from_counts(tp: Tensor, fp: Tensor, tn: Tensor, fn: Tensor) -> dict[str, Tensor]:
    """Change-class precision, recall, F1, IoU, overall accuracy and Cohen's kappa."""
    tp, fp, tn, fn = (value.to(torch.float64).sum() for value in (tp, fp, tn, fn))
    total = tp + fp + tn + fn
    observed = _ratio(tp + tn, total)
    expected = _ratio((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp), total * total)
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "iou": _ratio(tp, tp + fp + fn),
        "oa": observed,
        "kappa": _ratio(observed - expected, 1 - expected),
    }


class ChangeMetrics(BinaryStatScores):
    """Accumulates the change-class confusion matrix; ``compute()`` returns the named scores.

    ``update(preds, target)`` takes predictions as B×2×H×W logits (argmax over classes),
    B×H×W change probabilities (thresholded) or B×H×W 0/1 labels, and targets as B×H×W
    with 0 = no change, 1 = change, 255 = ignored.
    """

    def __init__(self, threshold: float = THRESHOLD, **kwargs: Any) -> None:
        super().__init__(
            threshold=threshold, multidim_average="global", ignore_index=IGNORE_INDEX, **kwargs
        )

    def update(self, preds: Tensor, target: Tensor) -> None:
        if preds.ndim == target.ndim + 1:
            preds = preds.argmax(dim=1)
        super().update(preds, target)

    def compute(self) -> dict[str, Tensor]:
        return scores_from_counts(self.tp, self.fp, self.tn, self.fn)

    def counts(self) -> dict[str, int]:
        """The accumulated confusion matrix (synced in DDP only through ``compute``)."""
        return {name: int(getattr(self, name).sum()) for name in ("tp", "fp", "tn", "fn")}


def cell_counts(change: Tensor, target: Tensor, cell: int) -> Tensor:
    """Confusion counts of the change class in square ``cell``×``cell`` windows of one image
    (the last row and column of cells may be smaller): a K×4 int64 tensor of (tp, fp, tn, fn),
    cells in row-major order, pixels labelled 255 ignored. Sums of cells give the image's
    counts; resampling cells gives bootstrap intervals (``hicd.evaluation.statistics``)."""
    if change.shape != target.shape or change.ndim != 2:
        raise ValueError(
            f"cell_counts: change {tuple(change.shape)} and target {tuple(target.shape)} must be "
            "equal H×W maps"
        )
    if cell <= 0:
        raise ValueError(f"cell_counts: cell must be > 0, got {cell}")
    valid = target != IGNORE_INDEX
    pred, true = (change > 0) & valid, (target == 1) & valid
    kinds = torch.stack([pred & true, pred & ~true, ~pred & ~true & valid, ~pred & true])
    height, width = target.shape
    return torch.stack(
        [
            kinds[:, top : top + cell, left : left + cell].sum(dim=(1, 2))
            for top in range(0, height, cell)
            for left in range(0, width, cell)
        ]
    ).to(torch.int64)
