"""A quick-look PNG: the changes in red over t1, downsampled so its longer side fits a limit.

A quick-look pixel covers f×f scene pixels; it is red where any of them changed and dimmed
where all of them are nodata. The change map is read in strips, so memory stays small.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling
from rasterio.windows import Window

from hicd.defaults import THRESHOLD
from hicd.inference.output import decode_changes
from hicd.inference.raster import RasterSource, open_raster

MAX_SIDE = 1024
CHANGE_COLOUR = np.array([255.0, 40.0, 40.0], np.float32)
CHANGE_OPACITY = 0.6
NODATA_DIM = 0.35


def write_quicklook(
    t1: RasterSource,
    change_map: str | Path,
    path: str | Path,
    threshold: float = THRESHOLD,
    max_side: int = MAX_SIDE,
) -> Path:
    """Write ``path`` (PNG) from t1 and a change map written by ``hicd predict``."""
    height, width = t1.dataset.height, t1.dataset.width
    factor = max(1, math.ceil(max(height, width) / max_side))
    shape = (math.ceil(height / factor), math.ceil(width / factor))
    rgb = _background(t1, shape)
    changed, nodata = _pooled_changes(change_map, factor, shape, threshold)
    rgb[nodata] *= NODATA_DIM
    rgb[changed] = (1 - CHANGE_OPACITY) * rgb[changed] + CHANGE_OPACITY * CHANGE_COLOUR
    Image.fromarray(rgb.round().astype(np.uint8)).save(path, format="PNG")
    return Path(path)


def _background(t1: RasterSource, shape: tuple[int, int]) -> np.ndarray:
    """t1's first three bands (or its first band as grey), stretched to 0–255 per band."""
    indexes = t1.indexes[:3] if len(t1.indexes) >= 3 else t1.indexes[:1] * 3
    bands = t1.dataset.read(
        indexes, out_shape=(len(indexes), *shape), resampling=Resampling.average
    )
    bands = bands.astype(np.float32)
    for band in bands:
        low, high = np.percentile(band, (2, 98))
        band -= low
        band *= 255.0 / max(float(high - low), 1e-6)
    return np.clip(bands.transpose(1, 2, 0), 0, 255)


def _pooled_changes(
    change_map: str | Path, factor: int, shape: tuple[int, int], threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per quick-look pixel: any change, and all nodata."""
    changed = np.zeros(shape, bool)
    nodata = np.zeros(shape, bool)
    with open_raster(change_map) as dataset:
        step = factor * max(1, 2048 // factor)
        for top in range(0, dataset.height, step):
            rows = min(step, dataset.height - top)
            values = dataset.read(1, window=Window(0, top, dataset.width, rows))
            is_nodata = _is_nodata(values, dataset)
            is_changed = decode_changes(values, threshold)
            out = slice(top // factor, top // factor + math.ceil(rows / factor))
            changed[out] = _pool(is_changed, factor, np.any)
            nodata[out] = _pool(is_nodata, factor, np.all)
    return changed, nodata


def _is_nodata(values: np.ndarray, dataset: rasterio.io.DatasetReaderBase) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    return values == dataset.nodata


def _pool(mask: np.ndarray, factor: int, reduce) -> np.ndarray:
    """Reduce f×f cells of a boolean mask (edge cells padded with their own values)."""
    height, width = mask.shape
    pad = (-height % factor, -width % factor)
    mask = np.pad(mask, ((0, pad[0]), (0, pad[1])), mode="edge")
    cells = mask.reshape(mask.shape[0] // factor, factor, mask.shape[1] // factor, factor)
    return reduce(cells, axis=(1, 3))
