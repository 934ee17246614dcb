"""Deterministic tiling of whole images for evaluation and prediction (labels never resized)."""

from __future__ import annotations

from typing import NamedTuple

from hicd.errors import ConfigError


class Window(NamedTuple):
    """A pixel window: top row, left column, height and width."""

    top: int
    left: int
    height: int
    width: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices selecting the window."""
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return [*starts, length - tile]


def grid_windows(height: int, width: int, tile: int, overlap: int = 0) -> list[Window]:
    """Windows of at most ``tile``×``tile`` that cover the image, overlapping by >= ``overlap``.

    Windows step by ``tile - overlap``; the last row and column are aligned to the image edge, so
    every window lies inside the image and the union covers every pixel. An image smaller than
    the tile is one window of its own size.
    """
    if tile <= 0:
        raise ConfigError(f"tile must be positive, got {tile}")
    if not 0 <= overlap < tile:
        raise ConfigError(f"overlap must be in [0, tile={tile}), got {overlap}")
    stride = tile - overlap
    return [
        Window(top, left, min(tile, height), min(tile, width))
        for top in _starts(height, tile, stride)
        for left in _starts(width, tile, stride)
    ]
