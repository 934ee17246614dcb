"""hicd.inspection on known degradations made in code, and its bad-input errors."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from hicd.data.synthetic import generate_pair
from hicd.degradations import Degrader
from hicd.errors import DataError
from hicd.inspection import accepts, inspect_arrays, inspect_pair, nearest_scale, parse_trained
from hicd.inspection.estimators import jpeg_quality_from_file, jpeg_quality_from_pixels, luminance

SIZE = 256


@pytest.fixture(scope="module")
def scenes() -> list[tuple[np.ndarray, np.ndarray]]:
    """Synthetic pairs as C×H×W float arrays in [0, 1]."""
    pairs = []
    for index in range(3):
        t1, t2, _ = generate_pair(7, index, SIZE)
        pairs.append(tuple(a.transpose(2, 0, 1).astype(np.float32) / 255 for a in (t1, t2)))
    return pairs


def degrade(image: np.ndarray, setting: str, name: str = "x") -> np.ndarray:
    degraded, _ = Degrader(setting, seed=0)(torch.from_numpy(image)[None], names=[name])
    return (torch.round(degraded[0] * 255) / 255).numpy()


@pytest.mark.parametrize(
    ("setting", "date", "truth"),
    [
        ("clean", "t2", 1),
        ("resolution-x2", "t2", 2),
        ("resolution-x4", "t2", 4),
        ("resolution-x8", "t2", 8),
        ("resolution-x2", "t1", 0.5),
        ("resolution-x4", "t1", 0.25),
        ("resolution-x8", "t1", 0.125),
    ],
)
def test_relative_scale_and_date(scenes, setting, date, truth) -> None:
    right = 0
    for t1, t2 in scenes:
        if setting != "clean":
            t1, t2 = (degrade(t1, setting), t2) if date == "t1" else (t1, degrade(t2, setting))
        result = inspect_arrays(t1, t2)
        signed = nearest_scale(result.relative_scale)
        signed = signed if result.relative_scale >= 1 else 1 / signed
        expected_date = "none" if setting == "clean" else date
        name = setting if date == "t2" else f"{setting}@t1"
        right += (
            math.isclose(signed, truth)
            and result.degraded_date == expected_date
            and result.suggested_setting == name
        )
    assert right >= len(scenes) - 1  # at most one miss in three scenes


@pytest.mark.parametrize("severity", [2, 3, 4])
def test_noise_sigma(scenes, severity) -> None:
    sigma_255 = {2: 30.6, 3: 45.9, 4: 66.3}[severity]
    for index, (t1, t2) in enumerate(scenes):
        result = inspect_arrays(t1, degrade(t2, f"single-gaussian_noise-s{severity}", str(index)))
        assert abs(result.t2.noise_sigma / sigma_255 - 1) <= 0.3
        assert result.degraded_date == "t2"
        assert result.suggested_setting.startswith("single-gaussian_noise-s")
        assert result.t1.noise_sigma < 14


def test_noise_on_t1_is_named_with_at_t1(scenes) -> None:
    t1, t2 = scenes[0]
    result = inspect_arrays(degrade(t1, "single-gaussian_noise-s3"), t2)
    assert result.degraded_date == "t1"
    assert result.suggested_setting == "single-gaussian_noise-s3@t1"


@pytest.mark.parametrize(("severity", "quality"), [(1, 25), (3, 15), (5, 7)])
def test_jpeg_quality_from_pixels(scenes, severity, quality) -> None:
    t1, t2 = scenes[1]
    result = inspect_arrays(t1, degrade(t2, f"single-jpeg-s{severity}"))
    assert result.t2.jpeg_quality == quality
    assert result.t1.jpeg_quality is None
    assert result.suggested_setting == f"single-jpeg-s{severity}"
    assert result.t2.blockiness > result.t1.blockiness


def test_jpeg_quality_from_file_and_pixels(tmp_path, scenes) -> None:
    t1, _ = scenes[2]
    array = np.round(t1.transpose(1, 2, 0) * 255).astype(np.uint8)
    for quality in (10, 50, 80):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
        assert jpeg_quality_from_file(buffer.getvalue()) == quality
        decoded = np.asarray(Image.open(buffer)).astype(np.float64).transpose(2, 0, 1)
        found, _ = jpeg_quality_from_pixels(luminance(decoded))
        assert found is not None and abs(found - quality) <= 2
    path = tmp_path / "a.jpg"
    Image.fromarray(array).save(path, quality=30)
    png = tmp_path / "b.png"
    Image.fromarray(array).save(png)
    result = inspect_pair(path, png)
    assert result.t1.jpeg_quality == 30
    assert result.t2.jpeg_quality is None
    assert result.name == "a"


def test_files_json_ready(tmp_path, scenes) -> None:
    t1, t2 = scenes[0]
    for name, image in (("a.png", t1), ("b.png", degrade(t2, "resolution-x4"))):
        Image.fromarray(np.round(image.transpose(1, 2, 0) * 255).astype(np.uint8)).save(
            tmp_path / name
        )
    result = inspect_pair(tmp_path / "a.png", tmp_path / "b.png")
    record = result.to_dict()
    for key in ("name", "relative_scale", "degraded_date", "suggested_setting", "t1", "t2"):
        assert key in record
    assert "noise_sigma" in record["t1"] and "noise_sigma" in record["t2"]
    assert record["suggested_setting"] == "resolution-x4"


def test_georeferenced_pixel_sizes_enter_the_scale(tmp_path, scenes) -> None:
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    t1, _ = scenes[0]
    fine = np.round(t1 * 255).astype(np.uint8)
    coarse = fine.reshape(3, SIZE // 4, 4, SIZE // 4, 4).mean(axis=(2, 4)).astype(np.uint8)
    for name, array, pixel in (("t1.tif", fine, 0.5), ("t2.tif", coarse, 2.0)):
        profile = {
            "driver": "GTiff", "width": array.shape[2], "height": array.shape[1], "count": 3,
            "dtype": "uint8", "crs": "EPSG:32631", "transform": from_origin(500000, 0, pixel, pixel),
        }  # fmt: skip
        with rasterio.open(tmp_path / name, "w", **profile) as dst:
            dst.write(array)
    result = inspect_pair(tmp_path / "t1.tif", tmp_path / "t2.tif")
    assert result.pixel_size_ratio == pytest.approx(4.0)
    assert nearest_scale(result.relative_scale) == 4 and result.relative_scale > 1
    assert result.degraded_date == "t2"


# ---- bad input: one line naming the file and the fix


def test_missing_file(tmp_path, png_writer) -> None:
    png_writer(tmp_path / "a.png", np.zeros((16, 16, 3)))
    with pytest.raises(DataError, match=r"missing\.png: file not found"):
        inspect_pair(tmp_path / "a.png", tmp_path / "missing.png")


def test_mismatched_sizes(tmp_path, png_writer) -> None:
    png_writer(tmp_path / "a.png", np.zeros((16, 16, 3)))
    png_writer(tmp_path / "b.png", np.zeros((16, 24, 3)))
    with pytest.raises(DataError, match=r"a\.png \(16×16\) and .*b\.png \(24×16\).*same size"):
        inspect_pair(tmp_path / "a.png", tmp_path / "b.png")


def test_mismatched_bands(tmp_path, png_writer) -> None:
    png_writer(tmp_path / "a.png", np.zeros((16, 16, 3)))
    png_writer(tmp_path / "b.png", np.zeros((16, 16)))
    with pytest.raises(DataError, match=r"a\.png has 3 bands and .*b\.png 1.*same bands"):
        inspect_pair(tmp_path / "a.png", tmp_path / "b.png")


def test_unreadable_file(tmp_path, png_writer) -> None:
    png_writer(tmp_path / "a.png", np.zeros((16, 16, 3)))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DataError, match=r"b\.png: unreadable"):
        inspect_pair(tmp_path / "a.png", tmp_path / "b.png")


def test_ambiguous_value_scale(tmp_path) -> None:
    low = np.random.default_rng(0).integers(0, 4001, (64, 64)).astype(np.uint16)
    with pytest.raises(DataError, match=r"t1: uint16 values reach only 4000.*value_scale"):
        inspect_pair(low, low)
    assert inspect_pair(low, low, value_scale=4095).name == "pair"  # measured, not refused


def test_one_line_errors(tmp_path, png_writer) -> None:
    png_writer(tmp_path / "a.png", np.zeros((16, 16, 3)))
    png_writer(tmp_path / "b.png", np.zeros((16, 24, 3)))
    with pytest.raises(DataError) as error:
        inspect_pair(tmp_path / "a.png", tmp_path / "b.png")
    assert "\n" not in str(error.value)


# ---- the checkpoint rule


@pytest.mark.parametrize(
    ("trained", "date", "gap", "scale", "ok"),
    [
        ("mixed", "t2", "resolution-x8@t1", 0.125, True),
        (None, "t2", "clean", 1.0, True),
        (None, "t2", "resolution-x4", 4.0, False),
        ("multi-x4", "t2", "resolution-x4", 4.0, True),
        ("multi-x4", "t2", "resolution-x2", 2.0, True),
        ("multi-x4", "t2", "resolution-x8", 8.0, False),
        ("multi-x4", "t2", "resolution-x4@t1", 0.25, False),
        ("resolution-x4@t1", "t2", "resolution-x4@t1", 0.25, True),
        ("resolution-x4", "t2", "multi-x4", 4.0, False),
        ("single-jpeg-s3", "t2", "single-jpeg-s2", 1.0, True),
        ("single-jpeg-s3", "t2", "single-jpeg-s5", 1.0, False),
        ("single-jpeg-s3", "t2", "single-gaussian_noise-s1", 1.0, False),
    ],
)
def test_accepts(trained, date, gap, scale, ok) -> None:
    accepted, reason = accepts(trained, date, gap, scale)
    assert accepted is ok, reason
    assert reason


def test_gap_names_settings_through_the_parser() -> None:
    from hicd.degradations import DegradationSetting
    from hicd.inspection.gap import classify

    quiet = {"noise_sigma": 3.0, "jpeg_quality": None, "mean": 120.0, "contrast": 40.0}
    noisy = {**quiet, "noise_sigma": 60.0}
    for scale, dates, expected in (
        (4.0, {"t1": quiet, "t2": quiet}, ("t2", "resolution-x4")),
        (0.25, {"t1": noisy, "t2": quiet}, ("t1", "multi-x4@t1")),
        (1.0, {"t1": noisy, "t2": quiet}, ("t1", "single-gaussian_noise-s4@t1")),
    ):
        date, name = classify(scale, dates)
        assert (date, name) == expected
        assert DegradationSetting.parse(name).name == name
    assert parse_trained("resolution-x4@t1") == ("resolution-x4", "t1")
    assert parse_trained("mixed-t1p0.25", "either") == ("mixed-t1p0.25", "either")
    assert parse_trained("not-a-setting@t1") == ("not-a-setting@t1", "t2")
