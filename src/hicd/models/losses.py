"""The supervised change-detection loss L_CD and its options, shared by teacher and student."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from hicd.data.io import IGNORE_INDEX
from hicd.errors import ConfigError, DataError


@dataclass
class TaskLossConfig:
    """The change-detection loss L_CD = CE + ``dice_weight``·Dice (``model.init_args.loss``).

    Attributes:
        dice_weight: weight of a soft Dice loss added to the cross-entropy (0 = CE only).
        ignore_index: label value ignored by the loss.
    """

    dice_weight: float = 0.0
    ignore_index: int = IGNORE_INDEX

    def __post_init__(self) -> None:
        if self.dice_weight < 0:
            raise ConfigError(f"loss.dice_weight: must be ≥ 0, got {self.dice_weight}")

    def __call__(self, logits: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """:func:`change_detection_loss` with these options."""
        return change_detection_loss(logits, mask, self.ignore_index, self.dice_weight)


def _labels(mask: Tensor, logits: Tensor) -> Tensor:
    labels = mask[:, 0] if mask.dim() == 4 and mask.shape[1] == 1 else mask
    if (
        labels.dim() != 3
        or labels.shape[0] != logits.shape[0]
        or labels.shape[1:] != logits.shape[2:]
    ):
        raise DataError(
            f"change mask shape {tuple(mask.shape)} does not match logits shape "
            f"{tuple(logits.shape)} (expected B×H×W or B×1×H×W)"
        )
    return labels.long()


def change_detection_loss(
    logits: Tensor, mask: Tensor, ignore_index: int = IGNORE_INDEX, dice_weight: float = 0.0
) -> dict[str, Tensor]:
    """Cross-entropy (+ optional soft Dice on the change class) ignoring ``ignore_index`` pixels.

    Args:
        logits: B×2×H×W change logits.
        mask: B×H×W (or B×1×H×W) labels in {0, 1, ignore_index}.
        ignore_index: label of pixels that contribute nothing.
        dice_weight: weight of the Dice term; 0 leaves it out.

    Returns:
        ``{"cd": total}`` and, when Dice is on, also ``"cd/ce"`` and ``"cd/dice"``. A batch with
        no valid pixel gives 0 rather than NaN.
    """
    labels = _labels(mask, logits)
    logits = logits.float()
    valid = labels != ignore_index
    count = valid.sum().clamp_min(1)
    per_pixel = F.cross_entropy(logits, labels.masked_fill(~valid, 0), reduction="none")
    ce = (per_pixel * valid).sum() / count
    if dice_weight == 0:
        return {"cd": ce}
    prob = torch.softmax(logits, dim=1)[:, 1] * valid
    target = (labels == 1).float() * valid
    dice = 1.0 - (2.0 * (prob * target).sum() + 1.0) / (prob.sum() + target.sum() + 1.0)
    return {"cd/ce": ce, "cd/dice": dice, "cd": ce + dice_weight * dice}
