"""Evaluation of whole images by deterministic tiles (labels are never resized)."""

from __future__ import annotations

from torch import Tensor, nn

from hicd.data.tiling import grid_windows


def tiled_logits(model: nn.Module, t1: Tensor, t2: Tensor, tile: int | None) -> Tensor:
    """B×2×H×W logits of a batch of whole images, run in ``tile``×``tile`` windows.

    The windows are :func:`hicd.data.grid_windows` (the last row and column aligned to the image
    edge); where two overlap their logits are averaged. ``tile`` None, or an image no larger than
    the tile, is a single pass.
    """
    height, width = t1.shape[-2:]
    if tile is None or (height <= tile and width <= tile):
        return model(t1, t2).logits
    total = count = None
    for window in grid_windows(height, width, tile):
        rows, cols = window.slices
        logits = model(t1[..., rows, cols], t2[..., rows, cols]).logits
        if total is None:
            total = logits.new_zeros((*logits.shape[:2], height, width))
            count = logits.new_zeros((1, 1, height, width))
        total[..., rows, cols] += logits
        count[..., rows, cols] += 1
    return total / count
