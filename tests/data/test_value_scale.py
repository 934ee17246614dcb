"""The pixel-value rule of ``hicd.data.io`` on whole images and in ``BitemporalDataset``."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from hicd.data import BitemporalDataset
from hicd.data.io import check_scale, date_scales, image_to_tensor, pixel_scale
from hicd.errors import ConfigError, DataError


def image(values, dtype) -> np.ndarray:
    return np.asarray(values, dtype).reshape(1, -1, 1)


def test_uint8_and_full_range_uint16_take_their_type_maximum() -> None:
    assert pixel_scale(image([0, 3], np.uint8), "x") == 255.0
    assert image_to_tensor(image([0, 255], np.uint8), "x").flatten().tolist() == [0.0, 1.0]
    full = image([0, 40000], np.uint16)
    assert pixel_scale(full, "x") == 65535.0
    assert image_to_tensor(full, "x").max().item() == pytest.approx(40000 / 65535)


@pytest.mark.parametrize("high", [10000, 4095, 32767])
def test_low_range_uint16_is_refused_without_a_scale(high) -> None:
    low_range = image([0, high], np.uint16)
    with pytest.raises(
        DataError, match=rf"s2\.tif: uint16 values reach only {high}.*--value-scale"
    ):
        image_to_tensor(low_range, "s2.tif")
    scaled = image_to_tensor(low_range, "s2.tif", value_scale=high)
    assert scaled.max().item() == 1.0


def test_negative_integers_are_refused_without_a_scale() -> None:
    signed = image([-5, 30000], np.int16)
    with pytest.raises(DataError, match=r"x\.tif: int16 values go down to -5.*--value-scale"):
        image_to_tensor(signed, "x.tif")
    assert image_to_tensor(signed, "x.tif", value_scale=30000).min().item() == 0.0


def test_explicit_scale_divides_and_clips() -> None:
    tensor = image_to_tensor(image([0, 5000, 20000], np.uint16), "x", value_scale=10000)
    assert tensor.flatten().tolist() == [0.0, 0.5, 1.0]


def test_floats_must_lie_in_unit_range_without_a_scale() -> None:
    assert image_to_tensor(image([0.0, 1.0 + 1e-7], np.float32), "x").max().item() == 1.0
    with pytest.raises(DataError, match=r"a\.tif: float values span 0 to 255.*--value-scale"):
        image_to_tensor(image([0.0, 255.0], np.float32), "a.tif")
    with pytest.raises(DataError, match="outside"):
        image_to_tensor(image([-0.5, 0.5], np.float64), "a.tif")
    tensor = image_to_tensor(image([0.0, 127.5, 255.0], np.float32), "a.tif", value_scale=255)
    assert tensor.flatten().tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("value_scale", [None, 255.0])
def test_nan_and_inf_are_refused_even_with_a_scale(bad, value_scale) -> None:
    with pytest.raises(DataError, match=r"b\.tif: has NaN or infinite"):
        image_to_tensor(image([0.5, bad], np.float32), "b.tif", value_scale)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "ten"])
def test_non_positive_scales_are_refused(bad) -> None:
    with pytest.raises(ConfigError, match="--value-scale must be a positive number"):
        check_scale(bad)
    with pytest.raises(ConfigError, match="value_scale must be a positive number"):
        image_to_tensor(image([1], np.uint8), "x", bad, "value_scale")


def test_date_scales() -> None:
    assert date_scales(None) == (None, None)
    assert date_scales(255) == (255.0, 255.0)
    assert date_scales((10000, 255)) == (10000.0, 255.0)
    assert date_scales([10000, None]) == (10000.0, None)
    with pytest.raises(ConfigError, match="one value or two"):
        date_scales((1, 2, 3))
    with pytest.raises(ConfigError, match="--value-scale must be a positive"):
        date_scales((10000, 0))


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(DataError, match="unsupported pixel type bool"):
        image_to_tensor(image([True], np.bool_), "x")


def test_float_input_is_not_modified() -> None:
    array = np.array([[[2.0]]], np.float32)
    image_to_tensor(array, "x", value_scale=4.0)
    assert array.item() == 2.0


@pytest.fixture
def mixed_pair(tmp_path, png_writer):
    """A dataset whose t1 is uint16 reflectance (0–10000) and t2 uint8."""
    rng = np.random.default_rng(0)
    s2 = rng.integers(0, 10001, (3, 16, 24), np.uint16)
    s2[0, 0, 0] = 10000
    profile = {"driver": "GTiff", "height": 16, "width": 24, "count": 3, "dtype": "uint16"}
    (tmp_path / "A").mkdir()
    with rasterio.open(tmp_path / "A" / "x.tif", "w", **profile) as dataset:
        dataset.write(s2)
    png_writer(tmp_path / "B" / "x.png", rng.integers(0, 256, (16, 24, 3)))
    png_writer(tmp_path / "label" / "x.png", np.zeros((16, 24)))
    return tmp_path


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_dataset_scales_each_date_by_its_own_rule(mixed_pair) -> None:
    with pytest.raises(DataError, match=r"A/x\.tif: uint16 values reach only 10000"):
        BitemporalDataset(mixed_pair)[0]
    sample = BitemporalDataset(mixed_pair, value_scale=(10000, 255))[0]
    assert sample["t1"].max().item() == 1.0 and sample["t2"].max().item() <= 1.0
    assert sample["levels"].tolist() == [10000.0, 255.0]
    # a scale for t1 only: t2 (uint8) keeps its own rule
    assert BitemporalDataset(mixed_pair, value_scale=(10000, None))[0]["levels"][1] == 255.0
    with pytest.raises(ConfigError, match="value_scale must be a positive number"):
        BitemporalDataset(mixed_pair, value_scale=0)
