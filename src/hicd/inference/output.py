"""The change-map GeoTIFF: t1's grid and georeference, tiled and compressed, written by rows.

Two encodings: a uint8 map (0 no change, 1 change, 255 nodata) or float32 change probabilities
(NaN nodata). Pixels outside the predicted region are nodata.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from hicd import __version__

MAP_NODATA = 255
"""Nodata value of the uint8 change map."""
PROBABILITY_NODATA = float("nan")
"""Nodata value of the float32 probability map."""
BLOCK = 256
OUTPUT_SUFFIXES = (".tif", ".tiff")


def output_profile(
    height: int, width: int, crs: CRS | None, transform: Affine | None, probabilities: bool
) -> dict:
    """rasterio creation options of the change map."""
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": "float32" if probabilities else "uint8",
        "nodata": PROBABILITY_NODATA if probabilities else MAP_NODATA,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "deflate",
        "predictor": 3 if probabilities else 2,
        "bigtiff": "if_safer",
    }
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    return profile


def encode(
    probability: np.ndarray, valid: np.ndarray | None, threshold: float, probabilities: bool
) -> np.ndarray:
    """Probabilities as stored: float32 with NaN nodata, or uint8 0/1 with 255 nodata."""
    if probabilities:
        encoded = probability.astype(np.float32, copy=True)
        nodata = PROBABILITY_NODATA
    else:
        encoded = (probability >= threshold).astype(np.uint8)
        nodata = MAP_NODATA
    if valid is not None:
        encoded[~valid] = nodata
    return encoded


def decode_changes(values: np.ndarray, threshold: float) -> np.ndarray:
    """Changed pixels of stored map values (either encoding); nodata is never change."""
    if values.dtype.kind == "f":
        return values >= threshold  # NaN compares False
    return values == 1


class ChangeMapWriter:
    """Writes rows of the change map into a new GeoTIFF at ``path`` (a context manager)."""

    def __init__(
        self,
        path: str | Path,
        height: int,
        width: int,
        crs: CRS | None,
        transform: Affine | None,
        probabilities: bool,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.profile = output_profile(height, width, crs, transform, probabilities)
        self.tags = {"hicd_version": __version__, **(tags or {})}
        self._dataset: rasterio.io.DatasetWriter | None = None

    def __enter__(self) -> ChangeMapWriter:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            self._dataset = rasterio.open(self.path, "w", **self.profile)
        self._dataset.update_tags(**self.tags)
        return self

    def write(self, top: int, left: int, values: np.ndarray) -> None:
        """Write an h×w block of encoded values at row ``top``, column ``left``."""
        height, width = values.shape
        self._dataset.write(values[None], window=Window(left, top, width, height))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._dataset is not None:
            self._dataset.close()
            self._dataset = None
