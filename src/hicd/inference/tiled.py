"""Whole-image change probability by overlapping tiles blended with smooth weights.

The one tiling engine of hicd (validation, ``hicd evaluate``, ``hicd predict`` and the Python
API). Images of any size are cut into the windows of a :class:`hicd.data.Tiling`, run through a
forward callable in batches, and each window's prediction is accumulated by a
:class:`BlendAccumulator` with a separable raised-cosine weight that is highest in the window
centre and never zero at its edges. The sum is divided by the summed weights, so tile borders
(where the network sees the least context) count least and no seams show. An image no larger
than the tile is one pass.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from hicd.data.tiling import Tiling
from hicd.defaults import BATCH_SIZES, TILE, overlap_for
from hicd.errors import ConfigError, DataError
from hicd.inference.device import model_device, resolve_device

WEIGHT_FLOOR = 0.05
BATCH_SIZE = BATCH_SIZES["cpu"]
"""Windows per forward pass unless the caller says otherwise (``hicd.defaults.BATCH_SIZES``:
the CPU's, which validation during training uses)."""

Forward = Callable[[Tensor, Tensor], Tensor]
"""``forward(t1, t2)``: B×C×h×w windows of both dates to B×h×w (or B×K×h×w) predictions."""


def blend_weights(
    height: int, width: int, floor: float = WEIGHT_FLOOR, device: torch.device | None = None
) -> Tensor:
    """H×W separable raised-cosine (Hann-like) weights in [``floor``, 1], symmetric, peak at centre."""

    def profile(length: int) -> Tensor:
        position = (torch.arange(length, device=device, dtype=torch.float32) + 0.5) / length
        return floor + (1 - floor) * torch.sin(math.pi * position) ** 2

    return profile(height)[:, None] * profile(width)[None, :]


class BlendAccumulator:
    """Running ``blend_weights``-weighted sum of equal-size window predictions over an area.

    Args:
        shape: (..., H, W) of the blended result (leading axes as the predictions have them).
        window: (h, w) of every window.
        device: where the sums are kept (the values added may live elsewhere; each is weighted
            on its own device, then moved here).
    """

    def __init__(
        self, shape: tuple[int, ...], window: tuple[int, int], device: torch.device | None = None
    ) -> None:
        self.window = window
        self.total = torch.zeros(shape, dtype=torch.float32, device=device)
        self.weights = torch.zeros(shape[-2:], dtype=torch.float32, device=device)
        self._weight = {}  # device -> weights; grid windows share a size, so one map serves all

    def weight(self, device: torch.device) -> Tensor:
        """The window's blend weights on ``device``."""
        if device not in self._weight:
            self._weight[device] = blend_weights(*self.window, device=device)
        return self._weight[device]

    def add(self, top: int, left: int, values: Tensor) -> None:
        """Add one window's (..., h, w) prediction whose top-left pixel is at (top, left)."""
        height, width = self.window
        rows, cols = slice(top, top + height), slice(left, left + width)
        self.total[..., rows, cols] += (values * self.weight(values.device)).to(self.total.device)
        self.weights[rows, cols] += self.weight(self.total.device)

    def blended(self, rows: slice = slice(None), cols: slice = slice(None)) -> Tensor:
        """The weighted mean of what was added (over ``rows`` and ``cols``)."""
        return self.total[..., rows, cols] / self.weights[rows, cols]

    def shift_up(self, rows: int) -> None:
        """Drop the first ``rows`` rows, move the rest up and clear the freed rows."""
        for buffer in (self.total, self.weights):
            kept = buffer.shape[-2] - rows
            buffer[..., :kept, :] = buffer[..., rows:, :].clone()
            buffer[..., kept:, :] = 0


def blend_tiles(
    forward: Forward, t1: Tensor, t2: Tensor, tiling: Tiling, batch_size: int = BATCH_SIZE
) -> Tensor:
    """``forward`` over the windows of ``tiling``, blended: B×(K×)H×W on the device of ``t1``.

    ``t1`` and ``t2`` are B×C×H×W. An image no larger than the tile is one call on the whole
    batch; otherwise each image's windows go ``batch_size`` at a time.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    height, width = t1.shape[-2:]
    windows = tiling.windows(height, width)
    if len(windows) == 1:
        return forward(t1, t2).to(t1.device)
    results = []
    for a, b in zip(t1, t2, strict=True):
        accumulator = None
        for start in range(0, len(windows), batch_size):
            batch = windows[start : start + batch_size]
            values = forward(
                torch.stack([a[(..., *w.slices)] for w in batch]),
                torch.stack([b[(..., *w.slices)] for w in batch]),
            )
            if accumulator is None:
                window = (batch[0].height, batch[0].width)
                accumulator = BlendAccumulator(
                    (*values.shape[1:-2], height, width), window, a.device
                )
            for box, value in zip(batch, values, strict=True):
                accumulator.add(box.top, box.left, value)
        results.append(accumulator.blended())
    return torch.stack(results)


def forward_probability(model: nn.Module, t1: Tensor, t2: Tensor, device: torch.device) -> Tensor:
    """B×h×w change probabilities (softmax, class 1) of a B×C×h×w batch, computed on ``device``."""
    dtype = next(model.parameters(), t1).dtype
    output = model(t1.to(device, dtype), t2.to(device, dtype))
    logits = output.logits if hasattr(output, "logits") else output
    return logits.float().softmax(dim=1)[:, 1]


def predict_change_probability(
    model: nn.Module,
    t1: Tensor,
    t2: Tensor,
    tile: int = TILE,
    overlap: int = overlap_for(TILE),
    batch_size: int = BATCH_SIZE,
    device: str | torch.device | None = None,
) -> Tensor:
    """Change probability (softmax of the logits, class 1) of one image pair of any size.

    Args:
        model: a change-detection network in eval mode taking [0, 1] inputs of any window size
            and returning a ``ChangeOutput`` (or the B×2×h×w logits themselves).
        t1, t2: C×H×W float images in [0, 1] (or B×C×H×W batches of equal-size pairs).
        tile: window side in pixels; an image no larger than ``tile`` is a single pass.
        overlap: minimum overlap of neighbouring windows, in [0, tile).
        batch_size: windows per forward pass.
        device: where the model runs (default: the model's device); the input stays where it is
            and only batches of windows are moved.

    Returns:
        Float32 H×W probabilities (B×H×W for batched input) on the device of ``t1``.
    """
    if t1.shape != t2.shape or t1.ndim not in (3, 4):
        raise DataError(
            "t1 and t2 must be C×H×W (or B×C×H×W) tensors of the same shape, "
            f"got {tuple(t1.shape)} and {tuple(t2.shape)}"
        )
    tiling = Tiling(tile, overlap)
    device = model_device(model) if device is None else resolve_device(device)
    forward = functools.partial(forward_probability, model, device=device)
    with torch.inference_mode():
        if t1.ndim == 3:
            return blend_tiles(forward, t1[None], t2[None], tiling, batch_size)[0].clamp_(0, 1)
        return blend_tiles(forward, t1, t2, tiling, batch_size).clamp_(0, 1)
