"""Reading images and change labels from disk, with errors that name the file and the problem.

PNG, JPEG and BMP go through Pillow; TIFF/GeoTIFF (any number of bands) through rasterio.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from hicd.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
RASTERIO_SUFFIXES = (".tif", ".tiff")
IGNORE_INDEX = 255
"""Value of ignored pixels in every mask tensor hicd produces."""


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as an H×W×C array in its stored dtype (C = number of bands)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    reader = _read_with_rasterio if path.suffix.lower() in RASTERIO_SUFFIXES else _read_with_pillow
    array = reader(path)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.size == 0:
        raise DataError(f"{path}: image is empty ({array.shape[1]}×{array.shape[0]} pixels)")
    return array


def _read_with_pillow(path: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                if image.mode == "P":
                    image = image.convert("RGBA" if "transparency" in image.info else "RGB")
                return np.asarray(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{path}: unreadable or truncated image ({error})") from error


def _read_with_rasterio(path: Path) -> np.ndarray:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            dataset = rasterio.open(path)
        with dataset:
            return np.moveaxis(dataset.read(), 0, -1)
    except RasterioError as error:
        raise DataError(f"{path}: unreadable or truncated raster ({error})") from error


def pixel_scale(array: np.ndarray, path: str | Path, value_scale: float | None = None) -> float:
    """The pixel value that maps to 1.0: ``value_scale`` if given, else the integer dtype's
    maximum (255 for uint8, 65535 for uint16) or 1.0 for float images."""
    if value_scale is not None:
        return float(value_scale)
    if np.issubdtype(array.dtype, np.integer):
        return float(np.iinfo(array.dtype).max)
    if np.issubdtype(array.dtype, np.floating):
        return 1.0
    raise DataError(f"{path}: unsupported pixel type {array.dtype}")


def image_to_tensor(
    array: np.ndarray, path: str | Path, value_scale: float | None = None
) -> torch.Tensor:
    """Convert an H×W×C image array to a float32 C×H×W tensor in [0, 1] (see ``pixel_scale``);
    values are clipped to [0, 1]."""
    scale = pixel_scale(array, path, value_scale)
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))).to(torch.float32)
    return (tensor / scale).clamp_(0.0, 1.0)


def read_label(
    path: str | Path, ignore_value: int | None = None, threshold: int | None = None
) -> torch.Tensor:
    """Read a change label as an int64 H×W tensor with 0 = no change, 1 = change, 255 = ignore.

    Accepted encodings are 0/1 and 0/255 (255 meaning change unless it is the ``ignore_value``).
    Pixels equal to ``ignore_value`` become 255. ``threshold`` binarises lossy labels (such as
    SV-CD's JPEG labels): values >= threshold become change. Anything else is an error.
    """
    array = read_image(path)
    bands = array.shape[2]
    same_bands = all(np.array_equal(array[:, :, 0], array[:, :, c]) for c in range(1, bands))
    if not same_bands and threshold is None:
        raise DataError(f"{path}: a label must have one band, found {bands} different bands")
    array = array[:, :, :1]
    values = array[:, :, 0].astype(np.int64)
    ignored = values == ignore_value if ignore_value is not None else np.zeros_like(values, bool)
    if threshold is not None:
        mask = (values >= threshold).astype(np.int64)
    else:
        present = set(np.unique(values[~ignored]).tolist())
        if present <= {0, 1}:
            mask = values
        elif present <= {0, 255}:
            mask = (values == 255).astype(np.int64)
        else:
            shown = sorted(present)[:8]
            raise DataError(
                f"{path}: label is not binary; found values {shown}"
                f"{' …' if len(present) > 8 else ''} (expected 0/1 or 0/255"
                f"{f' plus ignore value {ignore_value}' if ignore_value is not None else ''})"
            )
    mask[ignored] = IGNORE_INDEX
    return torch.from_numpy(np.ascontiguousarray(mask))
