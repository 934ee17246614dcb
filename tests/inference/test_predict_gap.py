"""hicd predict and ChangeDetector inspect each pair and warn when its gap is untrained."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from hicd.cli.main import main
from hicd.data.synthetic import generate_pair
from hicd.degradations import Degrader


def _pair(tmp_path, png_writer):
    t1, t2, _ = generate_pair(5, 0, 128)
    image = torch.from_numpy(t2.transpose(2, 0, 1).astype(np.float32) / 255)[None]
    degraded, _ = Degrader("resolution-x4", seed=0)(image, names=["p"])
    t2 = np.round(degraded[0].numpy().transpose(1, 2, 0) * 255)
    return png_writer(tmp_path / "a.png", t1), png_writer(tmp_path / "b.png", t2)


def test_predict_files_carries_the_gap(brightness_detector, png_writer, tmp_path) -> None:
    t1, t2 = _pair(tmp_path, png_writer)
    result = brightness_detector.predict_files(t1, t2, tmp_path / "m.tif")
    assert result.inspection is not None
    assert result.inspection.suggested_setting == "resolution-x4"
    assert result.gap_accepted is False  # a clean checkpoint
    assert "warning: outside what the checkpoint was trained on" in result.gap_line()
    brightness_detector.info = replace(brightness_detector.info, degradation="mixed")
    result = brightness_detector.predict_files(t1, t2, tmp_path / "m.tif", overwrite=True)
    assert result.gap_accepted is True and "warning" not in result.gap_line()
    skipped = brightness_detector.predict_files(
        t1, t2, tmp_path / "m.tif", overwrite=True, inspect=False
    )
    assert skipped.inspection is None and skipped.gap_line() is None


def test_hicd_predict_prints_the_gap(tiny_checkpoint, png_writer, tmp_path, capsys) -> None:
    t1, t2 = _pair(tmp_path, png_writer)
    common = ["predict", "--checkpoint", str(tiny_checkpoint), "--t1", str(t1), "--t2", str(t2)]
    assert main([*common, "--out", str(tmp_path / "m.tif"), "--quiet"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("inspect")]
    assert len(lines) == 1 and "resolution-x4" in lines[0] and "warning" in lines[0]
    assert main([*common, "--out", str(tmp_path / "n.tif"), "--quiet", "--no-inspect"]) == 0
    assert "inspect" not in capsys.readouterr().err
