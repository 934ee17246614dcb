"""Deterministic tiling of whole images for evaluation and prediction (labels never resized).

One rule for validation, ``hicd evaluate`` and ``hicd predict``: :class:`Tiling` (window side and
overlap, defaults from :meth:`Tiling.resolve`) cut into the windows of :func:`grid_windows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from hicd.defaults import TILE as DEFAULT_TILE
from hicd.defaults import overlap_for
from hicd.errors import ConfigError


class Box(NamedTuple):
    """A pixel window: top row, left column, height and width (row first, unlike
    ``rasterio.windows.Window``, which takes column, row, width, height)."""

    top: int
    left: int
    height: int
    width: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices selecting the window."""
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)


@dataclass(frozen=True)
class Tiling:
    """Windows of ``tile``×``tile`` pixels overlapping their neighbours by at least ``overlap``.

    Raises ``ConfigError`` naming ``--tile`` / ``--overlap`` unless ``tile >= 1`` and
    ``0 <= overlap < tile``.
    """

    tile: int
    overlap: int

    def __post_init__(self) -> None:
        if self.tile < 1:
            raise ConfigError(f"--tile must be positive, got {self.tile}")
        if not 0 <= self.overlap < self.tile:
            raise ConfigError(f"--overlap must be in [0, tile={self.tile}), got {self.overlap}")

    @staticmethod
    def check_options(tile: int | None, overlap: int | None) -> None:
        """Check ``--tile``/``--overlap`` as given, before the checkpoint's tile is known: an
        overlap alone is only checked to be ≥ 0 (its upper bound needs the tile)."""
        if tile is not None:
            Tiling.resolve(tile, overlap)
        elif overlap is not None and overlap < 0:
            raise ConfigError(f"--overlap must be ≥ 0, got {overlap}")

    @classmethod
    def resolve(
        cls, tile: int | None = None, overlap: int | None = None, info_tile_size: int | None = None
    ) -> Tiling:
        """``tile`` (default: ``info_tile_size``, the checkpoint's training tile, else
        ``hicd.defaults.TILE``) and ``overlap`` (default: ``hicd.defaults.overlap_for``, an
        eighth of the tile), checked."""
        if tile is None:
            tile = int(info_tile_size) if info_tile_size else DEFAULT_TILE
        tile = int(tile)
        return cls(tile, overlap_for(tile) if overlap is None else int(overlap))

    def windows(self, height: int, width: int) -> list[Box]:
        """The windows covering a ``height``×``width`` image (see :func:`grid_windows`)."""
        return grid_windows(height, width, self.tile, self.overlap)


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return [*starts, length - tile]


def grid_windows(height: int, width: int, tile: int, overlap: int = 0) -> list[Box]:
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
        Box(top=top, left=left, height=min(tile, height), width=min(tile, width))
        for top in _starts(height, tile, stride)
        for left in _starts(width, tile, stride)
    ]
