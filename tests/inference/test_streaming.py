"""Band-by-band streaming prediction reproduces the whole-image blended tiling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from rasterio.windows import Window

from hicd.errors import ConfigError
from hicd.inference.streaming import (
    Strip,
    column_strips,
    count_tiles,
    stream_change_probability,
    tile_grid,
)
from hicd.inference.tiled import predict_change_probability


def reader(t1: torch.Tensor, t2: torch.Tensor, valid: np.ndarray | None = None):
    """A ``read(window)`` over in-memory images that records the windows it was asked for."""
    asked = []

    def read(window: Window):
        asked.append(window)
        rows, cols = window.toslices()
        mask = None if valid is None else valid[rows, cols]
        return t1[:, rows, cols].numpy(), t2[:, rows, cols].numpy(), mask

    read.asked = asked
    return read


def pair(height: int, width: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.rand(3, height, width, generator=generator),
        torch.rand(3, height, width, generator=generator),
    )


def assemble(chunks, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Put yielded blocks together, checking that they cover every pixel exactly once."""
    probability = np.zeros((height, width), np.float32)
    valid = np.ones((height, width), bool)
    covered = np.zeros((height, width), np.int64)
    for rows in chunks:
        h, w = rows.probability.shape
        where = (slice(rows.top, rows.top + h), slice(rows.left, rows.left + w))
        probability[where] = rows.probability
        covered[where] += 1
        if rows.valid is not None:
            valid[where] = rows.valid
    assert (covered == 1).all()
    return probability, valid


@pytest.mark.parametrize(("height", "width", "tile", "overlap", "batch", "max_width"), [
    (100, 130, 32, 12, 3, 8192),
    (70, 45, 32, 8, 1, 8192),
    (40, 50, 64, 16, 4, 8192),  # one window covers the scene
    (60, 300, 32, 12, 3, 70),  # vertical strips
    (50, 301, 32, 20, 2, 40),  # strips sharing several tile columns
    (50, 200, 32, 0, 2, 64),  # no overlap
])  # fmt: skip
def test_streaming_equals_whole_image_blending(
    local_net, height, width, tile, overlap, batch, max_width
):
    t1, t2 = pair(height, width)
    expected = predict_change_probability(local_net, t1, t2, tile, overlap, batch)
    chunks = stream_change_probability(
        local_net, reader(t1, t2), height, width, tile, overlap, batch, max_width=max_width
    )
    probability, _ = assemble(chunks, height, width)
    # the same windows and weights; only batches may group windows differently, which moves
    # convolution results by float rounding
    np.testing.assert_allclose(probability, expected.numpy(), atol=2e-5)


def test_streaming_equals_blending_with_a_real_network(tiny):
    """The same windows as the in-memory tiling, so even a network whose output depends on
    the whole window's content gives the same map."""
    t1, t2 = pair(150, 170, seed=3)
    expected = predict_change_probability(tiny, t1, t2, tile=64, overlap=16, batch_size=4)
    assert expected.std() > 0.01
    probability, _ = assemble(
        stream_change_probability(tiny, reader(t1, t2), 150, 170, 64, 16, 4), 150, 170
    )
    np.testing.assert_allclose(probability, expected.numpy(), atol=1e-5)


def test_reads_stay_small_and_validity_is_carried(local_net):
    t1, t2 = pair(120, 200)
    valid = np.ones((120, 200), bool)
    valid[50:70, 10:30] = valid[100:, 90:110] = False
    read = reader(t1, t2, valid)
    ticks = []
    chunks = stream_change_probability(local_net, read, 120, 200, 32, 8, 2, on_tiles=ticks.append)
    _, got = assemble(chunks, 120, 200)
    np.testing.assert_array_equal(got, valid)
    tops, lefts = tile_grid(120, 200, 32, 8)
    assert sum(ticks) == len(tops) * len(lefts) == count_tiles(120, 200, 32, 8)
    assert max(w.height for w in read.asked) == 32
    assert max(w.width for w in read.asked) == 32 + 24  # two tiles per read

    read, ticks = reader(t1, t2, valid), []
    chunks = stream_change_probability(
        local_net, read, 120, 200, 32, 8, 2, on_tiles=ticks.append, max_width=100
    )
    _, got = assemble(chunks, 120, 200)
    np.testing.assert_array_equal(got, valid)
    assert max(w.col_off + w.width for w in read.asked[:4]) <= 100  # the first strip
    assert sum(ticks) == count_tiles(120, 200, 32, 8, max_width=100) > len(tops) * len(lefts)


def test_column_strips_meet_on_block_borders():
    _, lefts = tile_grid(512, 20000, 512, 128)
    strips = column_strips(lefts, 512, 20000, 8192)
    assert len(strips) == 3
    assert strips[0].keep[0] == 0 and strips[-1].keep[1] == 20000
    for strip, following in itertools.pairwise(strips):
        assert strip.lefts[-1] + 512 - strip.lefts[0] <= 8192
        assert strip.keep[1] == following.keep[0] and strip.keep[1] % 256 == 0
        shared = set(strip.lefts) & set(following.lefts)
        assert len(shared) == 1  # overlap <= tile / 2: one tile column computed twice
    assert column_strips([0], 100, 100, 64) == [Strip([0], (0, 100))]


def test_rejects_a_bad_batch_size(local_net):
    t1, t2 = pair(32, 32)
    with pytest.raises(ConfigError, match="batch_size"):
        next(stream_change_probability(local_net, reader(t1, t2), 32, 32, batch_size=0))
