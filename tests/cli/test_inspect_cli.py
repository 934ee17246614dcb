"""``hicd inspect --json`` on a tiny generated dataset."""

from __future__ import annotations

import json

import numpy as np
import torch

from hicd.cli.main import main
from hicd.data.synthetic import generate_pair
from hicd.degradations import Degrader


def test_inspect_json_on_a_dataset(tmp_path, png_writer, capsys) -> None:
    for index in range(2):
        t1, t2, _ = generate_pair(3, index, 128)
        image = torch.from_numpy(t2.transpose(2, 0, 1).astype(np.float32) / 255)[None]
        degraded, _ = Degrader("resolution-x4", seed=0)(image, names=[str(index)])
        t2 = np.round(degraded[0].numpy().transpose(1, 2, 0) * 255)
        png_writer(tmp_path / "data" / "A" / f"p{index}.png", t1)
        png_writer(tmp_path / "data" / "B" / f"p{index}.png", t2)
    assert main(["inspect", "--data", str(tmp_path / "data"), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["p0", "p1"]
    for record in records:
        assert record["degraded_date"] == "t2"
        assert record["suggested_setting"] == "resolution-x4"
        assert record["relative_scale"] > 2.8
        assert {"noise_sigma"} <= set(record["t1"]) & set(record["t2"])
    assert main(["inspect", "--t1", str(tmp_path / "data" / "A" / "p0.png"), "--t2",
                 str(tmp_path / "data" / "B" / "p0.png")]) == 0  # fmt: skip
    table = capsys.readouterr().out
    assert "resolution-x4" in table and "p0" in table


def test_inspect_bad_input(tmp_path, capsys) -> None:
    assert main(["inspect", "--t1", str(tmp_path / "a.png"), "--t2", str(tmp_path / "b.png")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("hicd: error: ") and "a.png: file not found" in error
    assert main(["inspect", "--t1", str(tmp_path / "a.png")]) == 2
    assert "give --t1 and --t2" in capsys.readouterr().err
    assert main(["inspect", "--data", str(tmp_path / "none")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
