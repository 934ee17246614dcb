"""Reading and writing images and change labels, with errors that name the file and the problem.

PNG, JPEG and BMP go through Pillow; TIFF/GeoTIFF (any number of bands) through rasterio. One
reader (``read_image``), one writer (``write_image_like``: an image in the pixel type and format
of its source) and one value-scale rule, for arrays (``pixel_scale``, ``image_to_tensor``) and
tensors (``tensor_scale``). (``hicd.inference.raster`` reads large scenes window by window.)

Pixel values. Networks take values in [0, 1]; the *value scale* of a date is the pixel value
that maps to 1.0. One rule holds in ``hicd predict``, ``hicd evaluate``, training datasets and
the Python API (``value_scale`` argument, ``--value-scale`` option):

- uint8: scale 255, always.
- Other integer types without a scale: the type's maximum (65535 for uint16), provided at least
  0.1 % of the valid pixels lie above half of it, not counting pixels at the maximum itself
  (saturated or fill values: a few of them must not make reflectance ×10000 look like full-range
  data). Data below that (uint16 reflectance ×10000, 12-bit 0–4095) or with negative values are
  refused, with the pixels counted in the message: say what 1.0 is with a scale.
- Floats without a scale must lie in [0, 1].
- With a scale, values are divided by it and clipped to [0, 1], with no range check.
- NaN or infinite values are refused (except in nodata pixels of a raster), with or without a
  scale.
- A scale is a positive number: one for both dates, or one per date (t1, t2); each date without
  a scale follows the rule on its own. Dates of different pixel types need one scale each: a
  single scale for a uint16/uint8 pair is refused (``--value-scale 10000,255``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from hicd.errors import ConfigError, DataError

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


def read_image_size(path: str | Path) -> tuple[int, int]:
    """An image's (height, width) from its header, without decoding the pixels."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.suffix.lower() in RASTERIO_SUFFIXES:
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning, RasterioError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(path) as dataset:
                    return dataset.height, dataset.width
        except RasterioError as error:
            raise DataError(f"{path}: unreadable raster ({error})") from error
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{path}: unreadable image ({error})") from error
    return height, width


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


ValueScale = float | tuple[float, float] | None
"""A value scale for both dates, one per date (t1, t2), or None (the rule's default)."""

FLOAT_TOLERANCE = 1e-6
"""How far float values may stray outside [0, 1] without a scale (rounding of saved images)."""


def check_scale(scale: float | None, option: str = "--value-scale") -> float | None:
    """``scale`` as a float (None stays None); a non-positive or non-finite scale is refused."""
    if scale is None:
        return None
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} must be a positive number, got {scale!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"{option} must be a positive number (the pixel value that maps to 1.0), got {scale}"
        )
    return value


def date_scales(
    value_scale: ValueScale | list[float], option: str = "--value-scale"
) -> tuple[float | None, float | None]:
    """The (t1, t2) scales of ``value_scale``: one value for both dates or a pair, checked."""
    if isinstance(value_scale, (tuple, list)):
        if len(value_scale) != 2:
            raise ConfigError(
                f"{option} takes one value or two (t1, t2), got {len(value_scale)}: {value_scale}"
            )
        return check_scale(value_scale[0], option), check_scale(value_scale[1], option)
    scale = check_scale(value_scale, option)
    return scale, scale


FULL_RANGE_SHARE = 0.001
"""Share of valid pixels above half the type's maximum (saturated ones not counted) from which
integer data are taken to span the type's range."""


@dataclass(frozen=True)
class IntegerStats:
    """What the value-scale rule needs of integer pixels: their extremes, how many lie above
    half the type's maximum (``above``, not counting ``saturated``: those at the maximum), and
    the largest value below the maximum."""

    low: float
    high: float
    below_top: float
    above: int
    saturated: int
    count: int

    @classmethod
    def of(cls, values: np.ndarray, top: int) -> IntegerStats:
        """The statistics of ``values`` (any shape) for a type whose maximum is ``top``."""
        values = np.asarray(values).ravel()
        if not values.size:
            return cls(0.0, 0.0, 0.0, 0, 0, 0)
        saturated = int(np.count_nonzero(values == top))
        below = values[values < top] if saturated else values
        return cls(
            low=float(values.min()),
            high=float(values.max()),
            below_top=float(below.max()) if below.size else 0.0,
            above=int(np.count_nonzero(below > top / 2)),
            saturated=saturated,
            count=int(values.size),
        )

    def __add__(self, other: IntegerStats) -> IntegerStats:
        if not self.count or not other.count:
            return other if not self.count else self
        return IntegerStats(
            min(self.low, other.low), max(self.high, other.high),
            max(self.below_top, other.below_top), self.above + other.above,
            self.saturated + other.saturated, self.count + other.count,
        )  # fmt: skip

    def spans_range(self) -> bool:
        """Whether the data fill the type's range (the rule's test; negative values never)."""
        return self.low >= 0 and self.above > 0 and self.above >= FULL_RANGE_SHARE * self.count


def check_shared_scale(
    value_scale: ValueScale | list[float],
    dtypes: tuple[np.dtype, np.dtype],
    option: str = "--value-scale",
) -> None:
    """Refuse one scale for two dates of different pixel types (uint16 and uint8 cannot share
    what 1.0 is); the message shows the per-date form."""
    if value_scale is None or isinstance(value_scale, (tuple, list)):
        return
    first, second = (np.dtype(dtype) for dtype in dtypes)
    if first == second:
        return
    value = f"{check_scale(value_scale, option):g}"
    example = ",".join("255" if d == np.uint8 else value for d in (first, second))
    form = f"{option} {example}" if option.startswith("-") else f"{option}=({example})"
    raise ConfigError(
        f"{option} {value}: t1 is {first} and t2 is {second}, so one scale cannot fit both; "
        f"give one per date (t1,t2), e.g. {form}"
    )


def integer_scale(
    dtype: np.dtype, stats: IntegerStats, where: str | Path, option: str = "--value-scale"
) -> float:
    """The default scale of integer data: the type's maximum if ``stats.spans_range()``, else
    a DataError naming ``where``, what the pixels hold and the option to give."""
    dtype = np.dtype(dtype)
    top = np.iinfo(dtype).max
    example = f"{option} 10000" if option.startswith("-") else f"{option}=10000"
    if stats.low < 0:
        raise DataError(
            f"{where}: {dtype} values go down to {stats.low:g}, below 0; say what 1.0 is with "
            f"{option} (e.g. {example}), values below 0 then count as 0"
        )
    if not stats.spans_range():
        share = stats.above / max(stats.count, 1)
        saturated = (
            f", and {stats.saturated:,} pixels at {top} (saturated or fill, not counted)"
            if stats.saturated
            else ""
        )
        raise DataError(
            f"{where}: {dtype} values reach only {stats.below_top:g} (type maximum {top}; "
            f"{share:.2%} of pixels above half of it{saturated}), so what 1.0 is stays "
            f"ambiguous; say it with {option} (e.g. {example} for reflectance ×10000, 4095 "
            "for 12-bit; one per date for dates of different types, e.g. 10000,255)"
        )
    return float(top)


def check_float_values(
    values: np.ndarray,
    where: str | Path,
    scaled: bool,
    option: str = "--value-scale",
    valid: np.ndarray | None = None,
) -> None:
    """Refuse NaN or infinite values, and (``scaled`` False) values outside [0, 1].

    ``valid`` (H×W, for C×H×W or H×W×C values, matched on the spatial axes) marks the pixels
    to check; nodata pixels may hold anything.
    """
    if valid is not None:
        if valid.all():
            valid = None
        elif not valid.any():
            return
    if valid is not None:
        values = values[:, valid] if values.shape[1:] == valid.shape else values[valid]
    if values.size == 0:
        return
    low, high = float(values.min()), float(values.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise DataError(
            f"{where}: has NaN or infinite pixel values; mark them as nodata or fill them"
        )
    if not scaled and (low < -FLOAT_TOLERANCE or high > 1.0 + FLOAT_TOLERANCE):
        example = f"{option} 255" if option.startswith("-") else f"{option}=255"
        raise DataError(
            f"{where}: float values span {low:g} to {high:g}, outside [0, 1]; say what 1.0 is "
            f"with {option} (e.g. {example} for 0–255 values)"
        )


def default_scale(
    dtype: np.dtype,
    integer_stats: Callable[[], IntegerStats],
    where: str | Path,
    value_scale: float | None = None,
    option: str = "--value-scale",
) -> float:
    """The pixel value that maps to 1.0 for data of ``dtype`` (the module's rule):
    ``value_scale`` if given, 255 for uint8, 1.0 for floats, and for other integers the type's
    maximum checked by ``integer_scale`` against ``integer_stats()`` (called only then)."""
    scale = check_scale(value_scale, option)
    if scale is not None:
        return scale
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return 255.0
    if dtype == np.bool_ or not np.issubdtype(dtype, np.number):
        raise DataError(f"{where}: unsupported pixel type {dtype}")
    if np.issubdtype(dtype, np.integer):
        return integer_scale(dtype, integer_stats(), where, option)
    if np.issubdtype(dtype, np.floating):
        return 1.0
    raise DataError(f"{where}: unsupported pixel type {dtype}")


def pixel_scale(
    array: np.ndarray,
    path: str | Path,
    value_scale: float | None = None,
    option: str = "--value-scale",
) -> float:
    """The pixel value that maps to 1.0 in ``array`` (``default_scale`` over its values)."""

    def stats() -> IntegerStats:
        return IntegerStats.of(array, np.iinfo(array.dtype).max)

    return default_scale(array.dtype, stats, path, value_scale, option)


def image_to_tensor(
    array: np.ndarray,
    path: str | Path,
    value_scale: float | None = None,
    option: str = "--value-scale",
) -> torch.Tensor:
    """Convert an H×W×C image array to a float32 C×H×W tensor in [0, 1] by the module's rule
    (errors name ``path`` and ``option``)."""
    return scaled_image(array, path, value_scale, option)[0]


def scaled_image(
    array: np.ndarray,
    path: str | Path,
    value_scale: float | None = None,
    option: str = "--value-scale",
) -> tuple[torch.Tensor, float]:
    """``image_to_tensor`` and the scale it used (``pixel_scale``)."""
    scale = pixel_scale(array, path, value_scale, option)
    if np.issubdtype(array.dtype, np.floating):
        check_float_values(array, path, value_scale is not None, option)
    channels_first = np.ascontiguousarray(array.transpose(2, 0, 1))
    if not channels_first.flags.writeable:  # e.g. a one-band image straight from Pillow
        channels_first = channels_first.copy()
    tensor = torch.from_numpy(channels_first).to(torch.float32)
    return (tensor / scale).clamp_(0.0, 1.0), scale


def pixel_dtype(image: np.ndarray | torch.Tensor) -> np.dtype:
    """The pixel type of an array or tensor, as a numpy dtype (a tensor's float types as
    float32: numpy has no bfloat16, and every float follows the same [0, 1] rule)."""
    if isinstance(image, torch.Tensor):
        if image.dtype.is_floating_point:
            return np.dtype(np.float32)
        return np.dtype(str(image.dtype).removeprefix("torch."))
    return np.asarray(image).dtype


def tensor_scale(
    image: torch.Tensor,
    name: str | Path,
    value_scale: float | None = None,
    option: str = "--value-scale",
) -> float:
    """The value that maps to 1.0 in a tensor of any pixel type (the module's rule, as
    ``pixel_scale`` for arrays)."""
    dtype = image.dtype
    if dtype == torch.bool or dtype.is_complex:
        raise DataError(f"{name}: unsupported pixel type {dtype}")
    if dtype.is_floating_point:
        if image.numel():
            extremes = torch.stack([image.min(), image.max()]).float().cpu().numpy()
            check_float_values(extremes, name, value_scale is not None, option)
        return default_scale(np.float32, lambda: IntegerStats.of([], 1), name, value_scale, option)

    numpy_type = pixel_dtype(image)

    def stats() -> IntegerStats:
        return IntegerStats.of(image.detach().cpu().numpy(), np.iinfo(numpy_type).max)

    return default_scale(numpy_type, stats, name, value_scale, option)


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


def write_image_like(
    image: torch.Tensor,
    source_array: np.ndarray,
    source: Path,
    folder: Path,
    value_scale: float | None = None,
) -> Path:
    """Write a [0, 1] C×H×W tensor with the pixel type of ``source_array`` (1.0 becoming
    ``pixel_scale(source_array, source, value_scale)``): GeoTIFF (keeping the source's
    georeference) for TIFF sources, PNG otherwise."""
    scale = pixel_scale(source_array, source, value_scale)
    array = image.permute(1, 2, 0).numpy() * scale
    if np.issubdtype(source_array.dtype, np.integer):
        array = np.round(array)
    array = array.astype(source_array.dtype)
    if source.suffix.lower() in RASTERIO_SUFFIXES:
        return _write_geotiff_like(array, source, folder / source.name)
    path = folder / f"{source.stem}.png"
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path)
    return path


def _write_geotiff_like(array: np.ndarray, source: Path, path: Path) -> Path:
    import rasterio

    with rasterio.open(source) as src:
        profile = src.profile
    profile.update(driver="GTiff", dtype=array.dtype.name, count=array.shape[2])
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.moveaxis(array, -1, 0))
    return path
