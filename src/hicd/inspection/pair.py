"""Inspecting a bi-temporal pair: the quality gap between its dates, measured from the pixels."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hicd.data.io import RASTERIO_SUFFIXES, ValueScale, date_scales, image_to_tensor, read_image
from hicd.data.layouts import layout_pairs
from hicd.data.pairing import check_file_pair
from hicd.defaults import LAYOUT
from hicd.errors import DataError
from hicd.inspection import estimators
from hicd.inspection.gap import classify, is_noisy

WINDOW = 1024
"""Side of the central window inspected (larger images are cropped to it)."""

ImageInput = str | Path | np.ndarray


@dataclass(frozen=True)
class DateQuality:
    """What the pixels say about one date.

    Attributes:
        noise_sigma: white-noise standard deviation in 8-bit grey levels (Immerkær).
        blur: effective ground sampling distance relative to the other date's content, in
            pixels (1.0: as sharp as the other date or sharper; 4.0: four times coarser).
        jpeg_quality: JPEG quality from the file's quantisation table (JPEG files) or from the
            periodicity of the block DCT coefficients (None: no JPEG trace found).
        blockiness: strength of pixel steps on an 8-pixel grid relative to elsewhere (1: none).
        mean, contrast: mean and standard deviation of the grey levels (0–255).
    """

    noise_sigma: float
    blur: float
    jpeg_quality: int | None
    blockiness: float
    mean: float
    contrast: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairInspection:
    """The measured quality gap of a pair (see docs/inspection.md).

    Attributes:
        name: the pair's name (file stem of t1, or the name given).
        relative_scale: t2's effective GSD divided by t1's (4.0: t2 four times coarser).
        degraded_date: ``"t1"``, ``"t2"`` or ``"none"``.
        suggested_setting: the nearest named setting (``@t1`` when t1 is the degraded date).
        t1, t2: per-date measurements.
        pixel_size_ratio: t2's pixel size over t1's from the georeference (None: not both
            georeferenced); already included in ``relative_scale``.
        seconds: time the inspection took.
    """

    name: str
    relative_scale: float
    degraded_date: str
    suggested_setting: str
    t1: DateQuality
    t2: DateQuality
    pixel_size_ratio: float | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line for people: the gap and the main measurements."""
        jpeg = "/".join(str(d.jpeg_quality or "-") for d in (self.t1, self.t2))
        return (
            f"{self.name}: relative scale {self.relative_scale:.2f}, degraded {self.degraded_date}"
            f", nearest setting {self.suggested_setting} (noise σ {self.t1.noise_sigma:.1f}/"
            f"{self.t2.noise_sigma:.1f}, JPEG quality {jpeg})"
        )


MIN_SIDE = 32
"""Smallest image side the quality gap is measured on (below it, blur and noise estimates are
noise themselves)."""


def inspect_pair(
    t1: ImageInput,
    t2: ImageInput,
    value_scale: ValueScale = None,
    name: str | None = None,
    *,
    option: str = "value_scale",
) -> PairInspection:
    """Measure the quality gap of a pair from its pixels.

    Args:
        t1, t2: image files (PNG, JPEG, BMP, TIFF/GeoTIFF) or arrays (H×W×C or H×W).
        value_scale: pixel value that maps to 1.0, for both dates or (t1, t2) (default: the
            rule of ``hicd.data.io``).
        name: the pair's name (default: t1's file stem, or ``"pair"``).
        option: how pixel-value errors name the scale (``"--value-scale"`` in the CLI).

    Files without georeference, and arrays, must have the same size. Georeferenced files with
    different pixel sizes are compared at t1's pixel size (t2 resampled), so their ratio is
    part of ``relative_scale``.
    """
    started = time.perf_counter()
    scales = date_scales(value_scale, option)
    images = [
        _load(image, date, scale, option)
        for image, date, scale in zip((t1, t2), ("t1", "t2"), scales, strict=True)
    ]
    if all(isinstance(image, str | Path) for image in (t1, t2)):
        check_file_pair(t1, t2)  # the pairing rules of hicd predict
    (a, path_a), (b, path_b) = images
    if a.shape[0] != b.shape[0]:
        raise DataError(
            f"{path_a} has {a.shape[0]} bands and {path_b} {b.shape[0]}: give two images with "
            "the same bands"
        )
    ratio = _pixel_size_ratio(path_a, path_b)
    if ratio is None and a.shape[1:] != b.shape[1:]:
        raise DataError(
            f"{path_a} ({a.shape[2]}×{a.shape[1]}) and {path_b} ({b.shape[2]}×{b.shape[1]}) have "
            "no georeference and different sizes: give two images of the same size (or "
            "georeferenced GeoTIFFs)"
        )
    qualities = [_file_quality(path) for path in (path_a, path_b)]
    result = inspect_arrays(a, b, ratio, qualities, _name(name, t1))
    return _timed(result, started)


def inspect_arrays(
    t1: np.ndarray,
    t2: np.ndarray,
    pixel_size_ratio: float | None = None,
    jpeg_qualities: tuple[int | None, int | None] | list[int | None] = (None, None),
    name: str = "pair",
) -> PairInspection:
    """``inspect_pair`` of two C×H×W float arrays in [0, 1] (the core, without reading).

    ``pixel_size_ratio``: t2's pixel size over t1's (None or 1: the same pixel grid);
    ``jpeg_qualities``: qualities read from the files' quantisation tables, if any.
    """
    started = time.perf_counter()
    for date, image in (("t1", t1), ("t2", t2)):
        height, width = np.shape(image)[-2:]
        if min(height, width) < MIN_SIDE:
            raise DataError(
                f"{name}: {date} is {width}×{height}, too small to measure the quality gap "
                f"(at least {MIN_SIDE} px a side)"
            )
    a = _central(np.asarray(t1, dtype=np.float32) * 255)
    b = np.asarray(t2, dtype=np.float32) * 255
    band_noise = [estimators.band_noise_sigmas(x) for x in (a, _central(b))]
    jpeg = [estimators.jpeg_quality_from_pixels(estimators.luminance(x)) for x in (a, _central(b))]
    if pixel_size_ratio is not None and abs(pixel_size_ratio - 1) > 1e-3:
        b = _resample(b, pixel_size_ratio)
    b = _central(b)
    height, width = min(a.shape[1], b.shape[1]), min(a.shape[2], b.shape[2])
    a, b = _crop(a, height, width), _crop(b, height, width)
    grey_a, grey_b = estimators.luminance(a), estimators.luminance(b)
    # only strong noise is evened out (Immerkær's reading of clean dates is mostly texture)
    levels = [estimators.noise_sigma(sigmas) for sigmas in band_noise]
    noisy = is_noisy(levels[0], levels[1]) or is_noisy(levels[1], levels[0])
    grey_noise = [estimators.luminance_noise(s) if noisy else 0.0 for s in band_noise]
    if pixel_size_ratio is not None and abs(pixel_size_ratio - 1) > 1e-3:
        grey_noise[1] /= max(pixel_size_ratio, 1.0)  # upsampling smooths t2's noise
    blur_a, blur_b = estimators.effective_scales(grey_a, grey_b, *grey_noise)
    relative_scale = blur_b / blur_a
    dates = {}
    for date, grey, sigmas, (quality, blocks), blur, from_file in zip(
        ("t1", "t2"),
        (grey_a, grey_b),
        band_noise,
        jpeg,
        (blur_a, blur_b),
        jpeg_qualities,
        strict=True,
    ):
        dates[date] = DateQuality(
            noise_sigma=round(estimators.noise_sigma(sigmas), 3),
            blur=round(blur, 3),
            jpeg_quality=from_file if from_file is not None else quality,
            blockiness=round(blocks, 3),
            mean=round(float(grey.mean()), 3),
            contrast=round(float(grey.std()), 3),
        )
    degraded, setting = classify(relative_scale, {k: v.to_dict() for k, v in dates.items()})
    result = PairInspection(
        name=name,
        relative_scale=round(relative_scale, 4),
        degraded_date=degraded,
        suggested_setting=setting,
        t1=dates["t1"],
        t2=dates["t2"],
        pixel_size_ratio=None if pixel_size_ratio is None else round(pixel_size_ratio, 6),
    )
    return _timed(result, started)


def inspect_dataset(
    data: str | Path,
    value_scale: ValueScale = None,
    *,
    option: str = "value_scale",
    layout: str = LAYOUT,
    split: str | None = None,
) -> list[PairInspection]:
    """``inspect_pair`` of every pair of a dataset (``split``: of that split) in ``layout``
    (generic: ``data/A``, ``data/B`` paired by file name; see ``hicd.data.LAYOUTS``)."""
    data = Path(data)
    if not data.is_dir():
        raise DataError(f"{data}: dataset folder not found (give a folder with A/ and B/)")
    pairs = layout_pairs(data, layout, split, labels=False)
    return [inspect_pair(p.t1, p.t2, value_scale, p.name, option=option) for p in pairs]


def _timed(result: PairInspection, started: float) -> PairInspection:
    return replace(result, seconds=round(time.perf_counter() - started, 4))


def _name(name: str | None, t1: ImageInput) -> str:
    if name is not None:
        return name
    return Path(t1).stem if isinstance(t1, str | Path) else "pair"


def _load(
    image: ImageInput, date: str, scale: float | None, option: str
) -> tuple[np.ndarray, str | Path]:
    """A C×H×W float32 array in [0, 1] and what errors call it (the path, or the date)."""
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3:
            raise DataError(f"{date}: an array must be H×W×C or H×W, got shape {image.shape}")
        return image_to_tensor(image, date, scale, option).numpy(), date
    if not isinstance(image, str | Path):
        raise DataError(f"{date}: expected a file path or a numpy array, got {type(image)}")
    path = Path(image)
    return image_to_tensor(read_image(path), path, scale, option).numpy(), path


def _file_quality(path: str | Path) -> int | None:
    if isinstance(path, Path) and path.suffix.lower() in (".jpg", ".jpeg"):
        return estimators.jpeg_quality_from_file(path)
    return None


def _pixel_size_ratio(a: str | Path, b: str | Path) -> float | None:
    """t2's pixel size over t1's when both files are georeferenced (in t1's CRS units)."""
    sizes = []
    for path in (a, b):
        if not isinstance(path, Path) or path.suffix.lower() not in RASTERIO_SUFFIXES:
            return None
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as dataset:
                if dataset.crs is None:
                    return None
                sizes.append(
                    (dataset.crs, dataset.transform, dataset.width, dataset.height, dataset.bounds)
                )
    (crs1, transform1, *_), (crs2, transform2, width2, height2, bounds2) = sizes
    if crs2 != crs1:
        from rasterio.warp import calculate_default_transform

        transform2, _, _ = calculate_default_transform(crs2, crs1, width2, height2, *bounds2)
    return math.sqrt(abs(transform2.determinant) / abs(transform1.determinant))


def _resample(image: np.ndarray, ratio: float) -> np.ndarray:
    """``image`` (on pixels ``ratio`` times t1's) resampled to t1's pixel size (bicubic)."""
    size = [max(1, round(n * ratio)) for n in image.shape[1:]]
    if size[0] * size[1] > 4 * WINDOW * WINDOW:  # only the central part is inspected anyway
        keep = [min(n, math.ceil(2 * WINDOW / ratio)) for n in image.shape[1:]]
        image = _crop(image, *keep)
        size = [max(1, round(n * ratio)) for n in image.shape[1:]]
    tensor = torch.from_numpy(np.ascontiguousarray(image))[None]
    out = F.interpolate(tensor, size=size, mode="bicubic", antialias=ratio < 1, align_corners=False)
    return out[0].clamp_(0, 255).numpy()


def _central(image: np.ndarray) -> np.ndarray:
    return _crop(image, min(image.shape[1], WINDOW), min(image.shape[2], WINDOW))


def _crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    top, left = (image.shape[1] - height) // 2, (image.shape[2] - width) // 2
    return image[:, top : top + height, left : left + width]
