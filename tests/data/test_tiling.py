import pytest
import torch

from hicd.data import DEFAULT_TILE, Box, Tiling, grid_windows
from hicd.defaults import overlap_for
from hicd.errors import ConfigError


@pytest.mark.parametrize(
    ("height", "width", "tile", "overlap"),
    [(1024, 1024, 256, 0), (1024, 1024, 256, 64), (724, 1048, 256, 32), (100, 90, 256, 0)],
)
def test_windows_cover_image_inside_bounds(height, width, tile, overlap) -> None:
    covered = torch.zeros(height, width, dtype=torch.int32)
    windows = grid_windows(height, width, tile, overlap)
    for window in windows:
        assert window.top + window.height <= height and window.left + window.width <= width
        covered[window.slices] += 1
    assert covered.min() >= 1
    assert windows == grid_windows(height, width, tile, overlap)


def test_window_count_and_overlap() -> None:
    assert len(grid_windows(1024, 1024, 256, 0)) == 16
    tops = sorted({w.top for w in grid_windows(1024, 1024, 256, 64)})
    assert tops == [0, 192, 384, 576, 768]


def test_bad_tiling_options() -> None:
    with pytest.raises(ConfigError, match="overlap must be in"):
        grid_windows(10, 10, 8, 8)
    with pytest.raises(ConfigError, match="tile must be positive"):
        grid_windows(10, 10, 0)


def test_default_overlap_is_an_eighth_but_at_least_64_px_and_at_most_a_quarter():
    assert [overlap_for(t) for t in (40, 128, 256, 512, 1024, 2048)] == [10, 32, 64, 64, 128, 256]


def test_tiling_resolves_one_rule_and_names_the_option():
    assert Tiling.resolve() == Tiling(DEFAULT_TILE, overlap_for(DEFAULT_TILE))
    assert Tiling.resolve(info_tile_size=64) == Tiling(64, 16)
    assert Tiling.resolve(40, info_tile_size=64) == Tiling(40, 10)
    assert Tiling.resolve(40, 0).windows(80, 80) == grid_windows(80, 80, 40, 0)
    with pytest.raises(ConfigError, match="--tile"):
        Tiling.resolve(0)
    with pytest.raises(ConfigError, match="--overlap"):
        Tiling.resolve(32, 32)


def test_box_is_row_first():
    box = Box(top=1, left=2, height=3, width=4)
    assert box.slices == (slice(1, 4), slice(2, 6))
