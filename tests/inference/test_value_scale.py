"""The pixel-value rule and read errors in ``hicd predict``, ``open_pair`` and the Python API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image

from hicd.cli.main import main
from hicd.data.io import read_image
from hicd.errors import ConfigError, DataError
from hicd.inference import raster
from hicd.inference.raster import open_pair

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def reflectance(seed: int = 0, high: int = 10000) -> np.ndarray:
    """A 3×32×32 uint16 image whose maximum is exactly ``high``."""
    array = np.random.default_rng(seed).integers(0, high + 1, (3, 32, 32), np.uint16)
    array[0, 0, 0] = high
    return array


def predict(checkpoint: Path, t1: Path, t2: Path, out: Path, *options: str) -> int:
    argv = ["predict", "--checkpoint", str(checkpoint), "--quiet", "--no-quicklook"]
    return main([*argv, "--t1", str(t1), "--t2", str(t2), "--out", str(out), *options])


def no_output(folder: Path) -> bool:
    return not any(folder.iterdir())


def test_cli_refuses_uint16_reflectance_without_a_scale(tiny_checkpoint, geotiff, tmp_path, capsys):
    t1 = geotiff(tmp_path / "t1.tif", reflectance(0))
    t2 = geotiff(tmp_path / "t2.tif", reflectance(1))
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "change.tif"
    assert predict(tiny_checkpoint, t1, t2, out) == 2
    error = capsys.readouterr().err
    assert f"{t1}: uint16 values reach only 10000" in error and "--value-scale" in error
    assert no_output(out.parent)
    assert predict(tiny_checkpoint, t1, t2, out, "--value-scale", "10000") == 0
    assert out.is_file()


def test_cli_per_date_scales_for_a_uint16_uint8_pair(tiny_checkpoint, geotiff, tmp_path, capsys):
    t1 = geotiff(tmp_path / "t1.tif", reflectance(0))
    t2 = geotiff(
        tmp_path / "t2.tif", np.random.default_rng(1).integers(0, 256, (3, 32, 32), np.uint8)
    )
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "change.tif"
    assert predict(tiny_checkpoint, t1, t2, out) == 2
    error = capsys.readouterr().err
    assert str(t1) in error and str(t2) not in error  # the uint8 date is fine on its own
    assert no_output(out.parent)
    assert predict(tiny_checkpoint, t1, t2, out, "--value-scale", "10000,255") == 0
    with open_pair(t1, t2, 3, value_scale=(10000, 255)) as pair:
        assert (pair.t1.scale, pair.t2.scale) == (10000.0, 255.0)
        a, b, _ = pair.read(pair.region)
    assert a.max() == 1.0 and b.max() <= 1.0


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "1,2,3", "ten"])
def test_cli_refuses_a_bad_value_scale(
    bad, tiny_checkpoint, random_image, geotiff, tmp_path, capsys
):
    t1 = geotiff(tmp_path / "t1.tif", random_image(32, 32, 0))
    t2 = geotiff(tmp_path / "t2.tif", random_image(32, 32, 1))
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "change.tif"
    try:
        code = predict(tiny_checkpoint, t1, t2, out, f"--value-scale={bad}")
    except SystemExit as stop:  # argparse refuses what is not a number
        code = stop.code
    assert code == 2
    assert "--value-scale" in capsys.readouterr().err
    assert no_output(out.parent)


def test_full_range_uint16_and_uint8_need_no_scale(geotiff, tmp_path):
    t1 = geotiff(tmp_path / "t1.tif", reflectance(0, high=40000))
    t2 = geotiff(tmp_path / "t2.tif", np.full((3, 32, 32), 7, np.uint8))
    with open_pair(t1, t2, 3) as pair:
        assert (pair.t1.scale, pair.t2.scale) == (65535.0, 255.0)


def test_open_pair_refuses_a_non_positive_scale(geotiff, random_image, tmp_path):
    t1 = geotiff(tmp_path / "t1.tif", random_image(32, 32, 0))
    refused = pytest.raises(ConfigError, match="--value-scale must be a positive number")
    with refused, open_pair(t1, t1, 3, value_scale=0):
        pass


def test_large_rasters_are_sampled_then_read_whole_when_in_doubt(geotiff, tmp_path, monkeypatch):
    monkeypatch.setattr(raster, "EXACT_RANGE_PIXELS", 0)
    monkeypatch.setattr(raster, "_SAMPLE_BLOCKS", 2)
    array = np.zeros((3, 32, 32), np.uint16)  # one block per row: the sample is rows 0 and 16
    array[:, 5, 5:10] = 50000  # outside the sample (0.5 % of pixels), found by the whole read
    t1 = geotiff(tmp_path / "t1.tif", array)
    with open_pair(t1, t1, 3) as pair:
        assert pair.t1.scale == 65535.0
    array[:, 5, 5:10] = 0
    array[:, 16, 0] = 9000  # in the sample and low: still read whole, then refused
    t2 = geotiff(tmp_path / "t2.tif", array)
    with pytest.raises(DataError, match="reach only 9000"), open_pair(t2, t2, 3):
        pass


def test_nodata_is_left_out_of_the_integer_range(geotiff, tmp_path):
    array = reflectance(0, high=20000).astype(np.int16)  # above half of int16's 32767
    array[:, :4] = -9999
    t1 = geotiff(tmp_path / "t1.tif", array, nodata=-9999)
    with open_pair(t1, t1, 3) as pair:
        assert pair.t1.scale == 32767.0
    t2 = geotiff(tmp_path / "t2.tif", array)
    with pytest.raises(DataError, match="go down to -9999"), open_pair(t2, t2, 3):
        pass


def float_pair(geotiff, tmp_path: Path, t2_array: np.ndarray, **options) -> tuple[Path, Path]:
    t1 = geotiff(tmp_path / "t1.tif", np.full((3, 32, 32), 0.25, np.float32))
    return t1, geotiff(tmp_path / "t2.tif", t2_array, **options)


def read_all(t1: Path, t2: Path, **options) -> np.ndarray:
    with open_pair(t1, t2, 3, **options) as pair:
        return pair.read(pair.region)[1]


def test_float_rasters_must_lie_in_unit_range(geotiff, tmp_path):
    t1, t2 = float_pair(geotiff, tmp_path, np.full((3, 32, 32), 200.0, np.float32))
    with pytest.raises(DataError, match=r"t2\.tif: float values span 200 to 200.*--value-scale"):
        read_all(t1, t2)
    assert np.allclose(read_all(t1, t2, value_scale=(1, 255)), 200 / 255)


def test_float_rasters_with_nan_are_refused_unless_nodata(geotiff, tmp_path):
    values = np.full((3, 32, 32), 0.5, np.float32)
    values[:, 3, 3] = np.nan
    t1, t2 = float_pair(geotiff, tmp_path, values)
    with pytest.raises(DataError, match=r"t2\.tif: has NaN or infinite"):
        read_all(t1, t2, value_scale=2.0)
    t1, t2 = float_pair(geotiff, tmp_path, values, nodata=float("nan"))
    assert read_all(t1, t2).shape == (3, 32, 32)


def test_warped_float_dates_are_checked_on_the_file(geotiff, tmp_path):
    t1 = geotiff(tmp_path / "t1.tif", np.full((3, 32, 32), 0.25, np.float32))
    t2 = geotiff(tmp_path / "t2.tif", np.full((3, 16, 16), 255.0, np.float32), pixel=2.0)
    with pytest.raises(DataError, match=r"t2\.tif: float values span 255 to 255"):
        read_all(t1, t2)


def test_large_warped_float_dates_are_read_whole_unless_the_sample_fails(
    geotiff, tmp_path, monkeypatch
):
    monkeypatch.setattr(raster, "EXACT_RANGE_PIXELS", 0)
    monkeypatch.setattr(raster, "_SAMPLE_BLOCKS", 2)
    t1 = geotiff(tmp_path / "t1.tif", np.full((3, 32, 32), 0.25, np.float32))
    values = np.full((3, 32, 32), 0.5, np.float32)  # one block per row: the sample is rows 0, 16
    values[:, 5, 5] = 200.0  # outside the sample
    t2 = geotiff(tmp_path / "t2.tif", values, pixel=0.5)
    with pytest.raises(DataError, match=r"t2\.tif: float values span 0.5 to 200"):
        read_all(t1, t2)


# --- corrupt files: predict fails like evaluate -----------------------------------------------


def truncated(path: Path, keep: float = 0.6) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def smooth_image() -> np.ndarray:
    rows, cols = np.mgrid[:256, :256]
    return np.stack([cols, rows, (rows + cols) // 2], -1).astype(np.uint8)


@pytest.mark.parametrize("tile", [["--tile", "256"], ["--tile", "64"]], ids=["whole", "windows"])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_truncated_rasters_fail_in_predict_as_in_evaluate(
    suffix, tile, tiny_checkpoint, tmp_path, capsys
):
    t1 = tmp_path / f"t1{suffix}"
    if suffix == ".png":
        Image.fromarray(smooth_image()).save(t1)
    else:
        profile = {"driver": "GTiff", "height": 256, "width": 256, "count": 3, "dtype": "uint8"}
        with rasterio.open(t1, "w", **profile) as dataset:
            dataset.write(smooth_image().transpose(2, 0, 1))
    t2 = tmp_path / f"t2{suffix}"
    t2.write_bytes(t1.read_bytes())
    truncated(t2)
    with pytest.raises(DataError, match=rf"{t2}: unreadable or truncated"):
        read_image(t2)  # what hicd evaluate reads
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "change.tif"
    assert predict(tiny_checkpoint, t1, t2, out, *tile) == 2
    error = capsys.readouterr().err
    assert error.startswith("hicd: error: ") and f"{t2}: unreadable or truncated" in error
    assert no_output(out.parent)  # no map and no hidden temporary file


# --- the Python API ------------------------------------------------------------------------------


def test_api_refuses_float_arrays_in_0_255(brightness_detector):
    image = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32) * 255
    with pytest.raises(DataError, match=r"^t1: float values span .* value_scale=255"):
        brightness_detector.predict(image, image / 255)
    scaled = brightness_detector.predict(image, image, value_scale=255)
    assert np.allclose(scaled, brightness_detector.predict(image / 255, image / 255))


def test_api_refuses_low_range_uint16_and_nan(brightness_detector):
    low = np.moveaxis(reflectance(0), 0, -1)
    with pytest.raises(DataError, match=r"^t2: uint16 values reach only 10000.*value_scale="):
        brightness_detector.predict(np.zeros((32, 32, 3), np.uint8), low)
    assert brightness_detector.predict(low, low, value_scale=10000).shape == (32, 32)
    mixed = brightness_detector.predict(
        low, np.zeros((32, 32, 3), np.uint8), value_scale=(10000, 255)
    )
    assert mixed.shape == (32, 32)
    nan = np.full((32, 32, 3), 0.5, np.float32)
    nan[1, 1, 1] = np.nan
    with pytest.raises(DataError, match=r"^t1: has NaN or infinite"):
        brightness_detector.predict(nan, nan)
    with pytest.raises(ConfigError, match="value_scale must be a positive number"):
        brightness_detector.predict(low, low, value_scale=0)


def test_api_tensors_follow_the_rule(brightness_detector):
    with pytest.raises(DataError, match=r"^t1: float values span"):
        brightness_detector.predict(torch.full((3, 16, 16), 2.0), torch.zeros(3, 16, 16))
    with pytest.raises(DataError, match=r"^t2: has NaN"):
        brightness_detector.predict(torch.zeros(3, 16, 16), torch.full((3, 16, 16), torch.nan))
    with pytest.raises(DataError, match=r"^t1: int16 values reach only 4095"):
        low = torch.full((3, 16, 16), 4095, dtype=torch.int16)
        brightness_detector.predict(low, low)
    full = torch.full((3, 16, 16), 255, dtype=torch.uint8)
    assert brightness_detector.predict(full, full).shape == (16, 16)
