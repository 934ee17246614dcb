"""``hicd degrade --value-scale``: a low-range 16-bit date is refused without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from hicd.cli.main import main


def _write_uint16(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "height": values.shape[1], "width": values.shape[2]}
    with rasterio.open(path, "w", count=values.shape[0], dtype="uint16", **profile) as dataset:
        dataset.write(values)


def test_degrade_low_range_uint16_needs_value_scale(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    for folder in ("A", "B"):
        _write_uint16(data / folder / "x.tif", rng.integers(0, 10001, (3, 32, 32), np.uint16))
    args = ["degrade", "--data", str(data), "--setting", "multi-x4", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "refused")]) == 2
    assert "--value-scale" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
    assert main([*args, "--out", str(tmp_path / "out"), "--value-scale", "10000"]) == 0
    with rasterio.open(tmp_path / "out" / "B" / "x.tif") as dataset:
        degraded = dataset.read()
    assert degraded.dtype == np.uint16 and degraded.max() <= 10000 and degraded.max() > 5000


def test_degraded_float_date_keeps_its_scale(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = tmp_path / "data"
    for folder in ("A", "B"):
        values = rng.uniform(0, 10000, (3, 32, 32)).astype(np.float32)
        path = data / folder / "x.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        profile = {"driver": "GTiff", "height": 32, "width": 32, "count": 3, "dtype": "float32"}
        with rasterio.open(path, "w", **profile) as dataset:
            dataset.write(values)
    out = tmp_path / "out"
    args = ["degrade", "--data", str(data), "--out", str(out), "--setting", "multi-x4"]
    assert main([*args, "--quiet", "--value-scale", "10000"]) == 0
    with rasterio.open(out / "B" / "x.tif") as dataset:
        degraded = dataset.read()
    assert degraded.dtype == np.float32 and 1000 < degraded.mean() < 9000
