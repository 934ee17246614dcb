"""Opening an image pair as two aligned rasters read window by window.

t1 defines the output grid. A georeferenced t2 on another grid (ground resolution, size, CRS or
extent) is resampled on the fly onto t1's grid through a GDAL warped VRT; only the window of t1
that t2's footprint overlaps is predicted. Images without georeference (PNG, JPEG, plain TIFF)
are pixel grids and must have the same size.

Pixel values follow the rule of ``hicd.data.io``. The integer range check needs the data's
extremes: files up to ``EXACT_RANGE_PIXELS`` are read whole at open; larger ones are sampled
(a spread of blocks) and read whole only when the sample does not settle it. Float values are
checked window by window, nodata pixels ignored. Read errors (truncated or corrupt files) are
``DataError`` naming the file.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform as transform_points
from rasterio.windows import Window

from hicd.data.io import (
    FLOAT_TOLERANCE,
    IntegerStats,
    ValueScale,
    check_float_values,
    check_shared_scale,
    date_scales,
    default_scale,
)
from hicd.data.pairing import check_georeference
from hicd.errors import ConfigError, DataError, check_choice

RESAMPLING: dict[str, Resampling] = {
    "nearest": Resampling.nearest,
    "bilinear": Resampling.bilinear,
    "cubic": Resampling.cubic,
    "lanczos": Resampling.lanczos,
    "average": Resampling.average,
}
"""Resampling methods accepted for t2 (``bilinear`` by default)."""

_EDGE_POINTS = 21  # points per footprint edge when projecting it into t1's CRS
EXACT_RANGE_PIXELS = 2**22
"""Rasters up to this many pixels have their integer value range read exactly at open."""
_SAMPLE_BLOCKS = 64  # blocks read to estimate the value range of a larger raster
T = TypeVar("T")
_PILLOW_CHECKED = {"PNG": "PNG", "GIF": "GIF"}  # GDAL drivers that may return a truncated
# file's pixels without an error: the file is checked through Pillow first


@contextmanager
def open_raster(path: str | Path) -> Iterator[rasterio.io.DatasetReader]:
    """Open a raster with rasterio (GeoTIFF, PNG, JPEG, ...); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            dataset = rasterio.open(path)
    except RasterioError as error:
        raise DataError(f"{path}: unreadable raster ({error})") from error
    with dataset:
        if dataset.driver in _PILLOW_CHECKED:
            _verify_with_pillow(path)
        yield dataset


def _verify_with_pillow(path: Path) -> None:
    """Check a PNG or GIF file's structure and checksums without decoding its pixels."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()
    except Exception as error:  # Pillow raises many types for corrupt files
        raise read_error(path, error) from error


def read_error(path: Path, error: Exception) -> DataError:
    """The DataError of a failed read of ``path``."""
    return DataError(f"{path}: unreadable or truncated image ({error})")


def is_georeferenced(dataset: rasterio.io.DatasetReaderBase) -> bool:
    """True when the raster has a CRS (pixel grids such as PNG files have none)."""
    return dataset.crs is not None


def data_bands(
    dataset: rasterio.io.DatasetReaderBase, path: Path, bands: Sequence[int] | None
) -> list[int]:
    """1-based indexes of the bands to read: ``bands`` if given, else every non-alpha band."""
    if bands is None:
        return [i for i, c in enumerate(dataset.colorinterp, 1) if c != ColorInterp.alpha]
    wrong = [b for b in bands if not 1 <= b <= dataset.count]
    if wrong:
        raise ConfigError(f"{path}: has {dataset.count} bands, --bands asks for {wrong}")
    return list(bands)


@dataclass
class RasterSource:
    """One date on the output grid: a dataset (or warped VRT) and the bands to read."""

    dataset: rasterio.io.DatasetReaderBase
    indexes: list[int]
    scale: float
    mask_indexes: list[int]
    """Bands whose masks say where the date is valid (none: valid everywhere)."""
    path: Path
    check_floats: bool = False
    """Float data: refuse NaN/Inf in valid pixels, and (``check_range``) values outside [0, 1]."""
    check_range: bool = False

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray | None]:
        """C×h×w float32 values in [0, 1] and the h×w validity mask (None: all valid).

        As in GDAL's dataset mask, a pixel is nodata only where every band says so (an RGB
        pixel with one channel equal to the nodata value is still data).
        """
        try:
            raw = self.dataset.read(self.indexes, window=window)
            valid = None
            if self.mask_indexes:
                valid = self.dataset.read_masks(self.mask_indexes, window=window).any(axis=0)
        except RasterioError as error:
            raise read_error(self.path, error) from error
        if self.check_floats:
            check_float_values(raw, self.path, not self.check_range, valid=valid)
        values = raw.astype(np.float32)
        values /= self.scale
        np.clip(values, 0.0, 1.0, out=values)
        return values, valid


def _source(
    dataset: rasterio.io.DatasetReaderBase,
    indexes: list[int],
    path: Path,
    value_scale: float | None,
    original: rasterio.io.DatasetReaderBase | None = None,
) -> RasterSource:
    """The date read from ``dataset`` (``original``: the file under a warped ``dataset``)."""
    flags = {i: dataset.mask_flag_enums[i - 1] for i in indexes}
    masked = [i for i in indexes if MaskFlags.all_valid not in flags[i]]
    if masked and all(MaskFlags.per_dataset in flags[i] for i in indexes):
        masked = masked[:1]  # one mask (alpha band or dataset mask) serves every band
    dtype = np.dtype(dataset.dtypes[indexes[0] - 1])
    source = RasterSource(dataset, indexes, 1.0, masked, path)
    stats_from = dataset if original is None else original
    if np.issubdtype(dtype, np.floating):
        source.check_floats = True
        source.check_range = value_scale is None
        if source.check_range and original is not None:
            # resampling may overshoot [0, 1] slightly: check the file itself (a sample of a
            # large one, read whole unless the sample already fails), then clip
            low, high = value_range(original, indexes, path, settle=_outside_unit)
            check_float_values(np.array([low, high]), path, scaled=False)
            source.check_range = False

    def stats() -> IntegerStats:
        return integer_stats(stats_from, indexes, path, int(np.iinfo(dtype).max))

    source.scale = default_scale(dtype, stats, path, value_scale)
    return source


def _outside_unit(low: float, high: float) -> bool:
    return low < -FLOAT_TOLERANCE or high > 1.0 + FLOAT_TOLERANCE


def sample_or_whole(
    dataset: rasterio.io.DatasetReaderBase,
    indexes: list[int],
    over: Callable[[Sequence[Window]], T],
    settle: Callable[[T], bool],
) -> T:
    """``over(windows)``, a summary of the blocks of ``indexes``: small rasters read whole;
    larger ones sampled first (``_SAMPLE_BLOCKS`` blocks), the sample's summary the answer when
    ``settle`` accepts it, else the whole raster read block by block."""
    windows = [window for _, window in dataset.block_windows(indexes[0])]
    if dataset.width * dataset.height > EXACT_RANGE_PIXELS:
        step = max(1, len(windows) // _SAMPLE_BLOCKS)
        sample = over(windows[::step])
        if settle(sample):
            return sample
    return over(windows)


def value_range(
    dataset: rasterio.io.DatasetReaderBase,
    indexes: list[int],
    path: Path,
    settle: Callable[[float, float], bool],
) -> tuple[float, float]:
    """The minimum and maximum of the valid pixels of ``indexes`` (``sample_or_whole``: the
    sample's range is the answer when ``settle(low, high)`` accepts it)."""
    return sample_or_whole(
        dataset,
        indexes,
        lambda windows: _range_over(dataset, indexes, path, windows),
        lambda extremes: settle(*extremes),
    )


def integer_stats(
    dataset: rasterio.io.DatasetReaderBase, indexes: list[int], path: Path, top: int
) -> IntegerStats:
    """The value-scale statistics (``hicd.data.io.IntegerStats``) of the valid pixels of
    ``indexes``: of a sample of blocks when that already settles the rule (negative values, or
    data spanning the type's range), else of the whole raster, block by block."""
    return sample_or_whole(
        dataset,
        indexes,
        lambda windows: _stats_over(dataset, indexes, path, windows, top),
        lambda sample: sample.low < 0 or sample.spans_range(),
    )


def _stats_over(
    dataset: rasterio.io.DatasetReaderBase,
    indexes: list[int],
    path: Path,
    windows: Sequence[Window],
    top: int,
) -> IntegerStats:
    total = IntegerStats.of(np.empty(0), top)
    try:
        for window in windows:
            values = dataset.read(indexes, window=window, masked=True).compressed()
            total = total + IntegerStats.of(values, top)
    except RasterioError as error:
        raise read_error(path, error) from error
    return total


def _range_over(
    dataset: rasterio.io.DatasetReaderBase,
    indexes: list[int],
    path: Path,
    windows: Sequence[Window],
) -> tuple[float, float]:
    low, high = math.inf, -math.inf
    try:
        for window in windows:
            values = dataset.read(indexes, window=window, masked=True).compressed()
            if values.size:
                low, high = min(low, float(values.min())), max(high, float(values.max()))
    except RasterioError as error:
        raise read_error(path, error) from error
    return (0.0, 0.0) if low > high else (low, high)


@dataclass
class ScenePair:
    """Both dates on t1's grid.

    Attributes:
        t1, t2: the two dates (t2 warped onto t1's grid where needed).
        height, width: t1's size in pixels (the output size).
        crs, transform: t1's georeference (None for pixel grids).
        region: the window of t1 that t2's footprint overlaps; only it is predicted.
        warped: whether t2 is resampled.
    """

    t1: RasterSource
    t2: RasterSource
    height: int
    width: int
    crs: CRS | None
    transform: Affine | None
    region: Window
    warped: bool

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Both dates over ``window`` (relative to ``region``) and where both are valid.

        Pixels valid in only one date take that date's values in the other, so a footprint
        edge or a nodata hole does not look like change to the network.
        """
        absolute = Window(
            self.region.col_off + window.col_off,
            self.region.row_off + window.row_off,
            window.width,
            window.height,
        )
        a, valid_a = self.t1.read(absolute)
        b, valid_b = self.t2.read(absolute)
        if valid_a is None and valid_b is None:
            return a, b, None
        if valid_b is not None:
            np.copyto(b, a, where=~valid_b)
        if valid_a is not None:
            np.copyto(a, b, where=~valid_a)
        valid = valid_a if valid_b is None else valid_b if valid_a is None else valid_a & valid_b
        return a, b, valid


def overlap_window(
    t1: rasterio.io.DatasetReaderBase, t2: rasterio.io.DatasetReaderBase
) -> Window | None:
    """The window of t1's pixels that t2's footprint covers (None: they do not overlap)."""
    steps = np.linspace(0.0, 1.0, _EDGE_POINTS)
    rows = np.concatenate([steps, np.ones_like(steps), steps, np.zeros_like(steps)])
    cols = np.concatenate([np.zeros_like(steps), steps, np.ones_like(steps), steps])
    xs, ys = t2.transform * (cols * t2.width, rows * t2.height)
    if t2.crs != t1.crs:
        xs, ys = transform_points(t2.crs, t1.crs, xs, ys)
    col, row = ~t1.transform * (np.asarray(xs), np.asarray(ys))
    finite = np.isfinite(col) & np.isfinite(row)
    if not finite.any():
        return None
    # a hair of tolerance so that footprints meeting exactly on a pixel edge stay exact
    left = max(0, math.floor(col[finite].min() + 1e-6))
    top = max(0, math.floor(row[finite].min() + 1e-6))
    right = min(t1.width, math.ceil(col[finite].max() - 1e-6))
    bottom = min(t1.height, math.ceil(row[finite].max() - 1e-6))
    if right <= left or bottom <= top:
        return None
    return Window(left, top, right - left, bottom - top)


def warp_onto(
    source: rasterio.io.DatasetReaderBase,
    grid: rasterio.io.DatasetReaderBase,
    resampling: Resampling,
) -> WarpedVRT:
    """``source`` resampled onto ``grid``'s CRS, transform and size, with an alpha band that
    marks where it has valid data (inside its footprint and not nodata)."""
    alpha = [i for i, c in enumerate(source.colorinterp, 1) if c == ColorInterp.alpha]
    options = {"src_alpha": alpha[0], "dst_alpha": alpha[0]} if alpha else {"add_alpha": True}
    return WarpedVRT(
        source,
        crs=grid.crs,
        transform=grid.transform,
        width=grid.width,
        height=grid.height,
        resampling=resampling,
        **options,
    )


def _same_grid(a: rasterio.io.DatasetReaderBase, b: rasterio.io.DatasetReaderBase) -> bool:
    return (a.crs, a.transform, a.width, a.height) == (b.crs, b.transform, b.width, b.height)


@contextmanager
def open_pair(
    t1_path: str | Path,
    t2_path: str | Path,
    bands: int,
    band_indexes: Sequence[int] | None = None,
    resampling: str = "bilinear",
    value_scale: ValueScale = None,
) -> Iterator[ScenePair]:
    """Open t1 and t2 (t2 on t1's grid) for window-by-window reading.

    Args:
        bands: bands per date the model takes; another count is an error.
        band_indexes: 1-based bands to read from both files (default: every non-alpha band).
        resampling: how t2 is resampled onto t1's grid (a key of ``RESAMPLING``).
        value_scale: pixel value that maps to 1.0, for both dates or per date (t1, t2);
            default: the rule of ``hicd.data.io`` (a date's values are checked at open).
    """
    check_choice(resampling, RESAMPLING, "--resampling")
    scales = date_scales(value_scale)
    t1_path, t2_path = Path(t1_path), Path(t2_path)
    with ExitStack() as stack:
        first = stack.enter_context(open_raster(t1_path))
        second = stack.enter_context(open_raster(t2_path))
        indexes = {
            path: data_bands(dataset, path, band_indexes)
            for path, dataset in ((t1_path, first), (t2_path, second))
        }
        for path, chosen in indexes.items():
            if len(chosen) != bands:
                raise DataError(
                    f"{path}: has {len(chosen)} image bands but the model takes {bands} "
                    "(pick bands with --bands)"
                )
        check_shared_scale(
            value_scale,
            tuple(ds.dtypes[indexes[p][0] - 1] for p, ds in ((t1_path, first), (t2_path, second))),
        )
        georeferenced = (is_georeferenced(first), is_georeferenced(second))
        check_georeference(t1_path, first.crs, t2_path, second.crs)
        warped = False
        if not georeferenced[0]:
            if (first.height, first.width) != (second.height, second.width):
                raise DataError(
                    f"{t1_path} ({first.width}×{first.height}) and {t2_path} "
                    f"({second.width}×{second.height}) have no georeference and different sizes"
                )
            region, reader = Window(0, 0, first.width, first.height), second
        else:
            region = overlap_window(first, second)
            if region is None:
                raise DataError(f"{t1_path} and {t2_path}: the footprints do not overlap")
            warped = not _same_grid(first, second)
            reader = second
            if warped:
                reader = stack.enter_context(warp_onto(second, first, RESAMPLING[resampling]))
        yield ScenePair(
            t1=_source(first, indexes[t1_path], t1_path, scales[0]),
            t2=_source(reader, indexes[t2_path], t2_path, scales[1], second if warped else None),
            height=first.height,
            width=first.width,
            crs=first.crs if georeferenced[0] else None,
            transform=first.transform if georeferenced[0] else None,
            region=region,
            warped=warped,
        )
