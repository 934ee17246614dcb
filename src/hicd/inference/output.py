"""The change-map GeoTIFF: t1's grid and georeference, a Cloud-Optimized GeoTIFF (COG).

Two encodings: a uint8 map (0 no change, 1 change, 255 nodata) or float32 change probabilities
(NaN nodata). Pixels outside the predicted region are nodata. Rows are written as they come
into a tiled scratch GeoTIFF, which GDAL's COG driver then copies (streaming) into the output
with internal overviews: nearest-neighbour for the uint8 map, average for probabilities.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from hicd._version import __version__

MAP_NODATA = 255
"""Nodata value of the uint8 change map."""
PROBABILITY_NODATA = float("nan")
"""Nodata value of the float32 probability map."""
BLOCK = 256
OUTPUT_SUFFIXES = (".tif", ".tiff")
COG_CACHE_MB = 64
"""GDAL block cache while converting the scratch map to a COG (bounds its memory)."""


def output_profile(
    height: int, width: int, crs: CRS | None, transform: Affine | None, probabilities: bool
) -> dict:
    """rasterio creation options of the tiled scratch GeoTIFF that ``ChangeMapWriter`` converts."""
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


def cog_options(probabilities: bool) -> dict[str, str]:
    """Creation options of GDAL's COG driver for the change map."""
    return {
        "BLOCKSIZE": str(BLOCK),
        "COMPRESS": "DEFLATE",
        "PREDICTOR": "YES",
        "OVERVIEWS": "AUTO",
        "RESAMPLING": "AVERAGE" if probabilities else "NEAREST",
        "BIGTIFF": "IF_SAFER",
    }


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
    """Writes rows of the change map, then (on success) the COG at ``path`` (a context manager).

    The rows go to a hidden scratch GeoTIFF beside ``path``, removed in every case.
    ``alongside``: functions called with the finished scratch map (same values as the COG) in
    a background thread while the COG is written, e.g. the quick-look (the COG's compression
    and overviews release the GIL, so both proceed at once); their errors fail the write.
    """

    def __init__(
        self,
        path: str | Path,
        height: int,
        width: int,
        crs: CRS | None,
        transform: Affine | None,
        probabilities: bool,
        tags: dict[str, str] | None = None,
        alongside: Sequence[Callable[[Path], object]] = (),
    ) -> None:
        self.path = Path(path)
        self.alongside = list(alongside)
        self.profile = output_profile(height, width, crs, transform, probabilities)
        self.probabilities = probabilities
        self.tags = {"hicd_version": __version__, **(tags or {})}
        self._dataset: rasterio.io.DatasetWriter | None = None
        self._scratch: Path | None = None

    def __enter__(self) -> ChangeMapWriter:
        handle, name = tempfile.mkstemp(
            prefix=f".{self.path.name.lstrip('.')}.", suffix=".scratch.tif", dir=self.path.parent
        )
        os.close(handle)
        self._scratch = Path(name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._dataset = rasterio.open(self._scratch, "w", **self.profile)
            self._dataset.update_tags(**self.tags)
        except BaseException:
            self._close(success=False)
            raise
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
        self._close(success=kind is None)

    def _close(self, success: bool) -> None:
        try:
            if self._dataset is not None:
                self._dataset.close()
                self._dataset = None
            if success:
                try:
                    with ThreadPoolExecutor(1, thread_name_prefix="hicd-alongside") as pool:
                        tasks = [pool.submit(task, self._scratch) for task in self.alongside]
                        with rasterio.Env(GDAL_CACHEMAX=COG_CACHE_MB * 2**20):
                            rasterio.shutil.copy(
                                self._scratch,
                                self.path,
                                driver="COG",
                                **cog_options(self.probabilities),
                            )
                        for task in tasks:
                            task.result()
                except BaseException:
                    self.path.unlink(missing_ok=True)
                    raise
        finally:
            if self._scratch is not None:
                self._scratch.unlink(missing_ok=True)
                self._scratch = None
