"""Blended tiled prediction of a scene too large for memory, one band of tiles at a time.

The windows are those :func:`hicd.inference.tiled.predict_change_probability` would use on the
whole scene (the windows of a :class:`hicd.data.Tiling`), blended by the same
:class:`~hicd.inference.tiled.BlendAccumulator`, so the result equals a whole-scene call.

Tiles are visited band by band (one row of tiles, left to right, a few tiles per read). When a
band is done, every row above the next band's first row has received all its tiles: those rows
are yielded and the rest, the overlap with the next band, is carried over. Scenes wider than
``max_width`` are cut into vertical strips of whole tile columns, processed one after the other;
neighbouring strips share the tile columns needed for every kept pixel to receive all its
tiles, so the result stays exact. Memory is therefore about 9 bytes × tile × min(scene width,
``max_width``) plus one read of ``batch_size`` tiles, whatever the scene's size.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from rasterio.windows import Window
from torch import Tensor, nn

from hicd.data.tiling import Tiling
from hicd.defaults import BATCH_SIZES, TILE, overlap_for
from hicd.errors import ConfigError
from hicd.inference.device import model_device, resolve_device
from hicd.inference.tiled import BlendAccumulator, forward_probability

Reader = Callable[[Window], tuple[np.ndarray, np.ndarray, np.ndarray | None]]
"""``read(window) -> (t1, t2, valid)``: C×h×w float32 [0, 1] arrays and an h×w bool mask (None:
all valid)."""

MAX_WIDTH = 8192
"""Widest strip processed at once, in pixels."""
ALIGN = 256
"""Strip borders fall on multiples of this where they can (the output's block size)."""


@dataclass(frozen=True)
class Rows:
    """Finished pixels: rows ``top`` .. ``top + h``, columns ``left`` .. ``left + w`` (h×w
    arrays)."""

    top: int
    left: int
    probability: np.ndarray
    valid: np.ndarray | None


@dataclass(frozen=True)
class Strip:
    """Tile columns ``lefts`` processed together, and the columns ``keep`` they finish."""

    lefts: list[int]
    keep: tuple[int, int]


def tile_grid(height: int, width: int, tile: int, overlap: int) -> tuple[list[int], list[int]]:
    """Row and column starts of the windows of ``Tiling(tile, overlap)`` over the scene."""
    windows = Tiling(tile, overlap).windows(height, width)
    return sorted({w.top for w in windows}), sorted({w.left for w in windows})


def count_tiles(
    height: int, width: int, tile: int, overlap: int, max_width: int = MAX_WIDTH
) -> int:
    """Windows ``stream_change_probability`` runs (tile columns shared by strips count twice)."""
    tops, lefts = tile_grid(height, width, tile, overlap)
    strips = column_strips(lefts, min(tile, width), width, max_width)
    return len(tops) * sum(len(strip.lefts) for strip in strips)


def column_strips(lefts: Sequence[int], tile: int, width: int, max_width: int) -> list[Strip]:
    """Cut the tile columns into strips at most ``max_width`` wide (but at least a few tiles).

    A column is finished by a strip when every tile covering it belongs to the strip. The next
    strip starts at the first tile column still needed for the columns this one cannot finish,
    so their finished ranges meet; the border is put on a multiple of ``ALIGN`` if possible.
    """
    strips: list[Strip] = []
    first, start = 0, 0
    count = len(lefts)
    while True:
        stop = first + 1
        while stop < count and lefts[stop] + tile - lefts[first] <= max_width:
            stop += 1
        while True:
            if stop == count:
                strips.append(Strip(list(lefts[first:]), (start, width)))
                return strips
            limit = lefts[stop]  # columns from here on are covered by tile `stop`
            # the next strip starts after the last tile that ends before `limit`
            ended = [i for i in range(first, stop) if lefts[i] + tile <= limit]
            following = ended[-1] + 1 if ended else first
            if following > first:
                break
            stop += 1  # too narrow to make progress: take one more tile column
        low = lefts[following - 1] + tile  # the next strip finishes columns from here
        aligned = -(-low // ALIGN) * ALIGN
        border = aligned if low <= aligned <= limit else limit
        strips.append(Strip(list(lefts[first:stop]), (start, border)))
        first, start = following, border


def stream_change_probability(
    model: nn.Module,
    read: Reader,
    height: int,
    width: int,
    tile: int = TILE,
    overlap: int = overlap_for(TILE),
    batch_size: int = BATCH_SIZES["cuda"],
    device: str | torch.device | None = None,
    on_tiles: Callable[[int], None] | None = None,
    max_width: int = MAX_WIDTH,
    prefetch: bool = True,
) -> Iterator[Rows]:
    """Change probability of a ``height``×``width`` scene, yielded as blocks of finished pixels.

    Args:
        model: change-detection network in eval mode (see ``predict_change_probability``).
        read: gives both dates over a window of the scene.
        tile, overlap: window side and minimum overlap of neighbouring windows.
        batch_size: windows per read and per forward pass.
        device: where the model runs (default: the model's device).
        on_tiles: called with the number of windows after each forward pass (progress).
        max_width: widest strip of the scene processed at once.
        prefetch: read the next windows in a background thread while the network runs.

    Yields:
        ``Rows`` that together cover the scene once: strip by strip (left to right), top to
        bottom within a strip. Probabilities are float32 in [0, 1]; ``valid`` is where ``read``
        said both dates are valid.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    tops, lefts = tile_grid(height, width, tile, overlap)
    device = model_device(model) if device is None else resolve_device(device)
    window = min(tile, height), min(tile, width)
    for strip in column_strips(lefts, window[1], width, max_width):
        yield from _stream_strip(
            model, read, tops, strip, window, batch_size, device, on_tiles, prefetch
        )


def _stream_strip(
    model: nn.Module,
    read: Reader,
    tops: list[int],
    strip: Strip,
    window: tuple[int, int],
    batch_size: int,
    device: torch.device,
    on_tiles: Callable[[int], None] | None,
    prefetch: bool,
) -> Iterator[Rows]:
    tile_h, tile_w = window
    origin = strip.lefts[0]
    span = strip.lefts[-1] + tile_w - origin
    keep = slice(strip.keep[0] - origin, strip.keep[1] - origin)
    # one band of tiles at a time: the accumulator is a band high and moves down the strip
    accumulator = BlendAccumulator((tile_h, span), window, torch.device("cpu"))
    valid = np.ones((tile_h, span), bool)
    any_mask = False
    batches = [strip.lefts[i : i + batch_size] for i in range(0, len(strip.lefts), batch_size)]
    jobs = [(top, chosen) for top in tops for chosen in batches]
    # closed on every exit (errors and interruptions included), so the reading thread has
    # finished before the caller closes the files it reads
    with contextlib.closing(_prefetched(read, jobs, tile_h, tile_w, prefetch)) as reads:
        for band, top in enumerate(tops):
            for chosen in batches:
                left, right = chosen[0], chosen[-1] + tile_w
                t1, t2, mask = next(reads)
                if mask is not None:
                    valid[:, left - origin : right - origin] = mask
                    any_mask = True
                with torch.inference_mode():
                    probability = forward_probability(model, t1, t2, device)
                    for column, values in zip(chosen, probability, strict=True):
                        accumulator.add(0, column - origin, values)
                del t1, t2, probability
                if on_tiles is not None:
                    on_tiles(len(chosen))
            done = (tops[band + 1] if band + 1 < len(tops) else top + tile_h) - top
            finished = accumulator.blended(slice(0, done), keep).clamp_(0.0, 1.0).numpy()
            mask = valid[:done, keep].copy() if any_mask else None
            yield Rows(top, strip.keep[0], finished, mask)
            accumulator.shift_up(done)
            _shift_up(done, valid)
            release_free_memory()


def _prefetched(
    read: Reader, jobs: list[tuple[int, list[int]]], tile_h: int, tile_w: int, prefetch: bool
) -> Iterator[tuple[Tensor, Tensor, np.ndarray | None]]:
    """The batches of ``jobs`` (top, lefts) in order; with ``prefetch``, each is read in a
    background thread while the caller computes the one before (reading, decoding and warping
    release the GIL), so the network never waits for the disk."""
    if not prefetch:
        yield from (_read_batch(read, lefts, top, tile_h, tile_w) for top, lefts in jobs)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hicd-read") as pool:
        pending = None
        for index, (top, lefts) in enumerate(jobs):
            current = pending or pool.submit(_read_batch, read, lefts, top, tile_h, tile_w)
            if index + 1 < len(jobs):
                following_top, following = jobs[index + 1]
                pending = pool.submit(_read_batch, read, following, following_top, tile_h, tile_w)
            yield current.result()


def _read_batch(
    read: Reader, lefts: list[int], top: int, tile_h: int, tile_w: int
) -> tuple[Tensor, Tensor, np.ndarray | None]:
    """One read covering the windows at ``lefts``, cut into B×C×h×w batches of both dates
    (the read itself is released before the network runs)."""
    left = lefts[0]
    t1, t2, mask = read(Window(left, top, lefts[-1] + tile_w - left, tile_h))
    cuts = [slice(c - left, c - left + tile_w) for c in lefts]
    return (
        torch.stack([torch.from_numpy(t1[:, :, cut]) for cut in cuts]),
        torch.stack([torch.from_numpy(t2[:, :, cut]) for cut in cuts]),
        mask,
    )


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Give freed heap memory back to the operating system (glibc only; elsewhere a no-op).

    The many large, short-lived arrays of a band of tiles would otherwise leave the C heap
    fragmented, and the process's resident memory would creep up with the scene's size.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _shift_up(rows: int, *buffers: np.ndarray) -> None:
    """Drop the first ``rows`` rows of each buffer, move the rest up and reset the freed rows."""
    for buffer in buffers:
        kept = buffer.shape[0] - rows
        buffer[:kept] = buffer[rows:].copy()
        buffer[kept:] = True if buffer.dtype == bool else 0
