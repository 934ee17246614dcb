"""``hicd evaluate --value-scale``: low-range 16-bit dates are refused without it, scored with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image

from hicd.cli.main import main


def _as_uint16_tiffs(folder: Path, scale: int) -> None:
    """Replace every PNG in ``folder`` by a uint16 GeoTIFF-less TIFF whose 1.0 is ``scale``."""
    for png in sorted(folder.glob("*.png")):
        array = np.asarray(Image.open(png)).astype(np.float64) / 255 * scale
        values = np.round(array).astype(np.uint16).transpose(2, 0, 1)
        profile = {"driver": "GTiff", "height": values.shape[1], "width": values.shape[2]}
        with rasterio.open(png.with_suffix(".tif"), "w", count=3, dtype="uint16", **profile) as f:
            f.write(values)
        png.unlink()


def test_evaluate_value_scale_per_date(dataset: Path, checkpoints, tmp_path, capsys) -> None:
    args = ["evaluate", "--checkpoint", str(checkpoints[0]), "--data", str(dataset)]
    args += ["--settings", "clean", "--examples", "0", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "uint8")]) == 0
    _as_uint16_tiffs(dataset / "A", 10000)
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "refused")]) == 2
    message = capsys.readouterr().err
    assert "--value-scale" in message and "A/" in message and "10000" in message
    assert main([*args, "--out", str(tmp_path / "scaled"), "--value-scale", "10000,255"]) == 0
    f1 = [
        json.loads((tmp_path / name / "results.json").read_text())[0]["f1"]
        for name in ("uint8", "scaled")
    ]
    assert abs(f1[0] - f1[1]) < 0.02
