"""Choosing and rendering example pairs for the change-map sheet (``examples.png``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from hicd.data.io import IGNORE_INDEX
from hicd.defaults import THRESHOLD

MAX_SIDE = 384
# Prediction colours: true negative, true positive, false positive, false negative, ignored.
TN, TP, FP, FN, IGNORED = (0, 0, 0), (255, 255, 255), (230, 40, 40), (40, 200, 60), (128, 128, 128)


@dataclass
class Example:
    """One rendered pair: H×W×3 uint8 panels, ``predictions`` keyed by model name."""

    name: str
    changed: int
    t1: np.ndarray
    t2: np.ndarray
    truth: np.ndarray
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


def _fit(image: Tensor, max_side: int, mode: str) -> Tensor:
    """Shrink a C×H×W tensor so its longer side is at most ``max_side`` (display only)."""
    height, width = image.shape[-2:]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if mode == "nearest":
        return F.interpolate(image[None].float(), size=size, mode="nearest")[0].to(image.dtype)
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True)[0]


def image_panel(image: Tensor, max_side: int = MAX_SIDE) -> np.ndarray:
    """RGB view of a C×H×W [0, 1] image: its first three bands, or its first band in grey."""
    bands = image[:3] if image.shape[0] >= 3 else image[:1].expand(3, -1, -1)
    bands = _fit(bands.float(), max_side, "bilinear").clamp(0, 1)
    return (bands * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _paint(classes: Tensor, palette: Mapping[int, tuple[int, int, int]]) -> np.ndarray:
    array = classes.numpy()
    out = np.zeros((*array.shape, 3), dtype=np.uint8)
    for value, colour in palette.items():
        out[array == value] = colour
    return out


def truth_panel(mask: Tensor, max_side: int = MAX_SIDE) -> np.ndarray:
    """Label colours: change white, no change black, ignored grey."""
    mask = _fit(mask[None], max_side, "nearest")[0]
    return _paint(mask, {0: TN, 1: TP, IGNORE_INDEX: IGNORED})


def prediction_panel(change: Tensor, mask: Tensor, max_side: int = MAX_SIDE) -> np.ndarray:
    """Predicted change against the label: TP white, FP red, FN green, TN black, ignored grey."""
    change = _fit(change[None].to(torch.uint8), max_side, "nearest")[0].long()
    mask = _fit(mask[None], max_side, "nearest")[0]
    classes = torch.where(mask == IGNORE_INDEX, 4, mask * 2 + change)  # 0 TN, 1 FP, 2 FN, 3 TP
    return _paint(classes, {0: TN, 1: FP, 2: FN, 3: TP, 4: IGNORED})


class ExampleCollector:
    """Keeps the ``count`` pairs with the most change pixels (ties: the earlier pair wins)."""

    def __init__(self, count: int, max_side: int = MAX_SIDE) -> None:
        self.count = count
        self.max_side = max_side
        self._kept: list[tuple[tuple[int, int], Example]] = []

    def offer(self, index: int, sample: Mapping, predictions: Mapping[str, Tensor]) -> None:
        """Consider pair ``index`` (a dataset sample) and its change probability per model."""
        mask = sample["mask"]
        changed = int((mask == 1).sum())
        key = (-changed, index)
        if self.count <= 0 or (len(self._kept) == self.count and key > self._kept[-1][0]):
            return
        example = Example(
            name=sample["name"],
            changed=changed,
            t1=image_panel(sample["t1"], self.max_side),
            t2=image_panel(sample["t2"], self.max_side),
            truth=truth_panel(mask, self.max_side),
            predictions={
                model: prediction_panel(probability.cpu() > THRESHOLD, mask, self.max_side)
                for model, probability in predictions.items()
            },
        )
        self._kept = sorted([*self._kept, (key, example)], key=lambda item: item[0])[: self.count]

    @property
    def examples(self) -> list[Example]:
        """The kept examples, most change first."""
        return [example for _, example in self._kept]
